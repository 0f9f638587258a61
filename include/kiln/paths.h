/* Where Kiln keeps its files when the command line does not say: the
 * state directory (the history store) and the cache directory (mirrors of
 * remote repositories), each resolved the same way from the environment.
 *
 * Reads environment variables only; never touches the file system.
 */
#ifndef KILN_PATHS_H
#define KILN_PATHS_H

#include <stddef.h>

enum kiln_paths_kind {
  KILN_PATHS_STATE, /* $KILN_STATE_DIR, $XDG_STATE_HOME/kiln,
                       $HOME/.local/state/kiln */
  KILN_PATHS_CACHE, /* $KILN_CACHE_DIR, $XDG_CACHE_HOME/kiln,
                       $HOME/.cache/kiln */
};

/* The default directory of kind into buf (size bytes): Kiln's own variable
 * as given, else the XDG base directory's kiln, else the one under $HOME.
 * An empty variable counts as unset; $XDG_... and $HOME count only when
 * absolute (the XDG Base Directory specification says to ignore relative
 * ones). Returns 0, KILN_ENOENT (none of them is set; buf is ""),
 * KILN_ETOOBIG (the path does not fit; buf is "") or KILN_EINVAL (no such
 * kind). */
int kiln_paths_default_dir(enum kiln_paths_kind kind, char *buf, size_t size);

#endif
