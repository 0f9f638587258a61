/* The repository view over a directory on disk (kiln validate DIR). */
#include "kiln/tree.h"
#include "kiln/buf.h"
#include "kiln/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DIR_ENTRIES 100000

struct fs_tree {
  char root[PATH_MAX]; /* realpath of the repository root */
  size_t root_len;
};

static int full_path(const struct fs_tree *t, const char *path, char *out)
{
  size_t n = (size_t)snprintf(out, PATH_MAX, "%s%s%s", t->root,
                              path[0] != '\0' ? "/" : "", path);
  return n < PATH_MAX ? 0 : KILN_EINVAL;
}

static int errno_to_kiln(int e)
{
  switch (e) {
  case ENOENT:
  case ENOTDIR:
    return KILN_ENOENT;
  case EACCES:
  case EPERM:
    return KILN_EPERM;
  case ELOOP:
    return KILN_ELINK;
  default:
    return KILN_EIO;
  }
}

/* The real location of path must be the root or below it. */
static int resolve_inside(const struct fs_tree *t, const char *path, char *real)
{
  char full[PATH_MAX];
  int err = full_path(t, path, full);
  if (err != 0)
    return err;
  if (realpath(full, real) == NULL)
    return errno_to_kiln(errno);
  if (strncmp(real, t->root, t->root_len) != 0 ||
      (real[t->root_len] != '/' && real[t->root_len] != '\0'))
    return KILN_ELINK;
  return 0;
}

static int fs_read_file(void *self, const char *path, struct kiln_buf *out)
{
  struct fs_tree *t = self;
  char real[PATH_MAX];
  char chunk[8192];
  struct stat st;
  int fd, err;

  err = resolve_inside(t, path, real);
  if (err != 0)
    return err;
  /* O_NONBLOCK: a FIFO planted in the repository must not hang us. */
  fd = open(real, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return errno_to_kiln(errno);
  if (fstat(fd, &st) != 0) {
    err = KILN_EIO;
    goto done;
  }
  if (!S_ISREG(st.st_mode)) {
    err = KILN_EINVAL;
    goto done;
  }
  if ((unsigned long long)st.st_size > out->max_bytes) {
    err = KILN_ETOOBIG;
    goto done;
  }
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      err = KILN_EIO;
      goto done;
    }
    if (n == 0)
      break;
    err = kiln_buf_append(out, chunk, (size_t)n);
    if (err != 0)
      goto done;
  }
  err = 0;
done:
  close(fd);
  return err;
}

static int cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum kiln_tree_entry_kind entry_kind(const char *dir, const char *name)
{
  char p[PATH_MAX];
  struct stat st;
  if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, name) >= sizeof(p))
    return KILN_TREE_OTHER;
  if (lstat(p, &st) != 0)
    return KILN_TREE_OTHER;
  if (S_ISDIR(st.st_mode))
    return KILN_TREE_DIR;
  if (S_ISREG(st.st_mode))
    return KILN_TREE_FILE;
  /* A link is reported as a file when it points at one; read_file then
   * checks that it stays inside the repository. */
  if (S_ISLNK(st.st_mode) && stat(p, &st) == 0 && S_ISREG(st.st_mode))
    return KILN_TREE_FILE;
  return KILN_TREE_OTHER;
}

static int fs_list_dir(void *self, const char *path, kiln_tree_entry_cb *cb,
                       void *arg)
{
  struct fs_tree *t = self;
  char real[PATH_MAX];
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  DIR *d;
  int err;

  err = resolve_inside(t, path, real);
  if (err != 0)
    return err;
  d = opendir(real);
  if (d == NULL)
    return errno_to_kiln(errno);
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (n == MAX_DIR_ENTRIES) {
      err = KILN_ETOOBIG;
      goto done;
    }
    if (n == cap) {
      size_t ncap = cap != 0 ? cap * 2 : 32;
      char **p = realloc(names, ncap * sizeof(*names));
      if (p == NULL) {
        err = KILN_ENOMEM;
        goto done;
      }
      names = p;
      cap = ncap;
    }
    names[n] = strdup(de->d_name);
    if (names[n] == NULL) {
      err = KILN_ENOMEM;
      goto done;
    }
    n++;
  }
  if (n > 0)
    qsort(names, n, sizeof(*names), cmp_names);
  err = 0;
  for (size_t i = 0; i < n && err == 0; i++)
    err = cb(arg, names[i], entry_kind(real, names[i]));
done:
  closedir(d);
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  return err;
}

static const struct kiln_tree_ops fs_ops = {
    .read_file = fs_read_file,
    .list_dir = fs_list_dir,
};

int kiln_tree_fs_open(struct kiln_tree *tree, const char *root)
{
  struct fs_tree *t = calloc(1, sizeof(*t));
  struct stat st;
  if (t == NULL)
    return KILN_ENOMEM;
  if (realpath(root, t->root) == NULL || stat(t->root, &st) != 0 ||
      !S_ISDIR(st.st_mode)) {
    free(t);
    return KILN_ENOENT;
  }
  t->root_len = strlen(t->root);
  /* The root "/" would make every path "inside"; normalise to "". */
  if (t->root_len == 1)
    t->root_len = 0, t->root[0] = '\0';
  tree->ops = &fs_ops;
  tree->self = t;
  return 0;
}

void kiln_tree_fs_close(struct kiln_tree *tree)
{
  free(tree->self);
  tree->self = NULL;
  tree->ops = NULL;
}
