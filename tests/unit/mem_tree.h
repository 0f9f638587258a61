/* An in-memory kiln_tree for tests and the fuzzer: a fixed list of files. */
#ifndef KILN_TEST_MEM_TREE_H
#define KILN_TEST_MEM_TREE_H

#include <stddef.h>

#include "kiln/tree.h"

struct mem_file {
  const char *path;
  const char *data; /* NULL marks a directory entry made explicit */
  size_t len;       /* 0: strlen(data) */
};

struct mem_tree {
  struct kiln_tree tree;
  const struct mem_file *files;
  size_t n;
};

void mem_tree_init(struct mem_tree *t, const struct mem_file *files, size_t n);

#endif
