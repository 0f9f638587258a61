/* A kiln_tree over the tree of one git commit (libgit2).
 *
 * Only committed state counts: files are read from blobs, never from a
 * working tree. Symbolic links stored in the commit are followed while they
 * stay inside the tree; submodules and other non-blob entries are not files.
 * Blocking (object database reads): call from the thread pool in the daemon.
 */
#ifndef KILN_TREE_GIT_H
#define KILN_TREE_GIT_H

#include <stddef.h>

struct kiln_tree;

/* Opens the repository at repo_path (a work tree or a bare repository),
 * resolves ref (a branch, tag, commit id or any rev-parse expression; NULL
 * means HEAD) to a commit, and makes tree a view of that commit's tree.
 * commit_hex receives the 40-hex commit id. On failure, err (may be NULL)
 * receives a sentence naming what failed. Returns 0, KILN_ENOENT (no such
 * repository or ref), KILN_EGIT or KILN_ENOMEM. */
int kiln_tree_git_open(struct kiln_tree *tree, const char *repo_path,
                       const char *ref, char commit_hex[41], char *err,
                       size_t err_size);

void kiln_tree_git_close(struct kiln_tree *tree);

#endif
