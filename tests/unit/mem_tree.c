#include "mem_tree.h"

#include "kiln/buf.h"
#include "kiln/error.h"

#include <string.h>

static int mem_read(void *self, const char *path, struct kiln_buf *out)
{
  struct mem_tree *t = self;
  for (size_t i = 0; i < t->n; i++) {
    const struct mem_file *f = &t->files[i];
    if (strcmp(f->path, path) != 0 || f->data == NULL)
      continue;
    return kiln_buf_append(out, f->data,
                           f->len != 0 ? f->len : strlen(f->data));
  }
  return KILN_ENOENT;
}

/* Lists the distinct first components below path, in the order given. */
static int mem_list(void *self, const char *path, kiln_tree_entry_cb *cb,
                    void *arg)
{
  struct mem_tree *t = self;
  size_t plen = strlen(path);
  char seen[64][128];
  size_t n_seen = 0;
  int found = 0;

  for (size_t i = 0; i < t->n; i++) {
    const char *p = t->files[i].path;
    if (strncmp(p, path, plen) != 0 || p[plen] != '/')
      continue;
    found = 1;
    const char *name = p + plen + 1;
    const char *slash = strchr(name, '/');
    size_t len = slash != NULL ? (size_t)(slash - name) : strlen(name);
    size_t j;
    for (j = 0; j < n_seen; j++)
      if (strlen(seen[j]) == len && strncmp(seen[j], name, len) == 0)
        break;
    if (j < n_seen || n_seen == 64 || len >= sizeof(seen[0]))
      continue;
    memcpy(seen[n_seen], name, len);
    seen[n_seen][len] = '\0';
    int err =
        cb(arg, seen[n_seen], slash != NULL ? KILN_TREE_DIR : KILN_TREE_FILE);
    n_seen++;
    if (err != 0)
      return err;
  }
  return found ? 0 : KILN_ENOENT;
}

static const struct kiln_tree_ops mem_ops = {
    .read_file = mem_read,
    .list_dir = mem_list,
};

void mem_tree_init(struct mem_tree *t, const struct mem_file *files, size_t n)
{
  t->tree.ops = &mem_ops;
  t->tree.self = t;
  t->files = files;
  t->n = n;
}
