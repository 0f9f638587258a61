/* A read-only view of a desired-state repository's files.
 *
 * The spec loader reads through this interface only, so the same code reads
 * a directory on disk (kiln validate DIR) or the tree of a git commit. Paths
 * are repository-relative, '/'-separated, already normalised (no "." or ".."
 * components, no leading '/'); "" is the root.
 */
#ifndef KILN_TREE_H
#define KILN_TREE_H

#include <stddef.h>

struct kiln_buf;

enum kiln_tree_entry_kind {
  KILN_TREE_FILE,
  KILN_TREE_DIR,
  KILN_TREE_SUBMODULE, /* a git submodule (a commit of another repository) */
  KILN_TREE_OTHER,     /* symlink to a directory, socket, FIFO, ... */
};

typedef int kiln_tree_entry_cb(void *arg, const char *name,
                               enum kiln_tree_entry_kind kind);

struct kiln_tree_ops {
  /* Reads the regular file at path into out (whose max_bytes bounds it).
   * Symbolic links are followed only while they stay inside the repository.
   * Returns 0, KILN_ENOENT (missing), KILN_ELINK (a link leads outside the
   * repository, or in a loop), KILN_EPERM (access denied), KILN_EINVAL (not
   * a regular file: a directory, submodule, device...), KILN_ETOOBIG,
   * KILN_EIO. */
  int (*read_file)(void *self, const char *path, struct kiln_buf *out);
  /* Calls cb for each entry of the directory at path, in byte order of the
   * names. A non-zero return from cb stops the walk and is returned.
   * Returns 0, KILN_ENOENT, KILN_EIO. */
  int (*list_dir)(void *self, const char *path, kiln_tree_entry_cb *cb,
                  void *arg);
};

struct kiln_tree {
  const struct kiln_tree_ops *ops;
  void *self;
};

/* A tree over a directory on disk. root must outlive the tree.
 * Returns 0, KILN_ENOENT or KILN_ENOMEM. */
int kiln_tree_fs_open(struct kiln_tree *tree, const char *root);
void kiln_tree_fs_close(struct kiln_tree *tree);

/* Joins a reference found in a file of directory base (both repository-
 * relative) into a normalised repository path written to out. Rejects
 * absolute paths, ".." components, empty or over-long references, control
 * characters and backslashes. Returns 0 or KILN_EINVAL with *why set to a
 * static explanation. */
int kiln_tree_join(const char *base, const char *ref, char *out,
                   size_t out_size, const char **why);

#endif
