/* The first-parent history of the branch Kiln follows, read with libgit2:
 * what garbage collection orders releases by, and when an app left it. */
#ifndef KILN_CONTROLLER_GIT_HISTORY_H
#define KILN_CONTROLLER_GIT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kiln_arena;

/* The commits of commit's first-parent history, newest first, at most
 * limit (arena). Returns 0 or a KILN_E... code. */
int kiln_git_first_parents(const char *repo_path, const char *commit,
                           size_t limit, struct kiln_arena *a,
                           const char ***out, size_t *n);

/* Was apps/<app>/app.yaml in the history (newest first), and when did it
 * leave: the commit time of the newest commit without it whose parent had
 * it. *seen false: it never was (another repository's app). Returns 0 or
 * a KILN_E... code. */
int kiln_git_app_removed_at(const char *repo_path, const char *const *history,
                            size_t n, const char *app, bool *seen,
                            int64_t *removed_at_s);

#endif
