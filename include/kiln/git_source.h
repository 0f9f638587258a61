/* Where desired state comes from: a git repository named by the operator
 * (--repo SRC): a local path (work tree or bare), file://, https://,
 * ssh:// or git@host:path.
 *
 * Local paths are read in place. Anything else is mirrored into a bare
 * repository under the cache directory and fetched on demand; the remote's
 * default branch (its HEAD) is the default ref. Force-pushes are followed:
 * the mirror's refs are overwritten and the new tip is the desired state.
 *
 * Every function here blocks on disk and network I/O: the daemon calls them
 * from the uv thread pool, never from the loop.
 */
#ifndef KILN_GIT_SOURCE_H
#define KILN_GIT_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

struct kiln_git_source {
  char *src;       /* as given; may hold credentials: never print it */
  char *display;   /* src without any user:password, for messages */
  char *repo_path; /* the repository Kiln reads: SRC itself, or the mirror */
  bool mirrored;   /* repo_path is Kiln's mirror of a remote */
  bool git_initialized;
};

/* The directory for mirrors when none is given: kiln_paths_default_dir()'s
 * cache directory ($KILN_CACHE_DIR, $XDG_CACHE_HOME/kiln, $HOME/.cache/kiln),
 * or /tmp/kiln-cache-UID when none is set or it does not fit in size bytes.
 * Writes it to out. */
void kiln_git_source_default_cache(char *out, size_t size);

/* True when src is a URL or scp-like address rather than a local path. */
bool kiln_git_source_is_remote(const char *src);

/* Prepares src. For a remote, cache_dir holds the mirror
 * (cache_dir/<hash of src>.git), created on first use. No network I/O:
 * call kiln_git_source_fetch() to bring the mirror up to date. Returns 0,
 * KILN_EINVAL (unsupported address), KILN_EIO or KILN_ENOMEM, with a
 * sentence in err. */
int kiln_git_source_open(struct kiln_git_source *s, const char *src,
                         const char *cache_dir, char *err, size_t err_size);

void kiln_git_source_close(struct kiln_git_source *s);

/* Fetches every branch and tag of a remote into the mirror, pruning what
 * the remote deleted and following force-pushes, and records the remote's
 * default branch. A no-op for local paths. Returns 0, KILN_EGIT (the
 * message names the remote and libgit2's reason; never credentials) or
 * KILN_ENOMEM. */
int kiln_git_source_fetch(struct kiln_git_source *s, char *err,
                          size_t err_size);

/* Resolves ref (NULL: the default branch) to a 40-hex commit id. Returns
 * 0, KILN_ENOENT or KILN_EGIT with a sentence in err. */
int kiln_git_source_resolve(const struct kiln_git_source *s, const char *ref,
                            char commit_hex[41], char *err, size_t err_size);

#endif
