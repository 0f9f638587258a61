/* The repository view over a git commit's tree. */
#include "kiln/tree_git.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/tree.h"

#include <git2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINK_HOPS   8
#define MAX_PATH_BYTES  4096
#define MAX_DIR_ENTRIES 100000

struct git_view {
  git_repository *repo;
  git_tree *root;
};

/* Normalises "dir/target" in place into a tree path: resolves "." and "..",
 * drops empty components. Returns false when ".." would leave the root. */
static bool normalise(char *path)
{
  const char *seg[MAX_PATH_BYTES / 2];
  size_t len[MAX_PATH_BYTES / 2];
  size_t depth = 0, off = 0;
  char copy[MAX_PATH_BYTES];
  const char *p = copy;

  snprintf(copy, sizeof(copy), "%s", path);
  while (*p != '\0') {
    const char *end = strchr(p, '/');
    size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.') {
      if (depth == 0)
        return false;
      depth--;
    } else if (n > 0 && !(n == 1 && p[0] == '.')) {
      seg[depth] = p;
      len[depth++] = n;
    }
    p += n;
    if (*p == '/')
      p++;
  }
  for (size_t i = 0; i < depth; i++) {
    if (i > 0)
      path[off++] = '/';
    memcpy(path + off, seg[i], len[i]);
    off += len[i];
  }
  path[off] = '\0';
  return true;
}

static int read_blob(struct git_view *v, const git_oid *oid,
                     struct kiln_buf *out)
{
  git_odb *odb = NULL;
  git_blob *blob = NULL;
  git_object_t type;
  size_t len;
  int err = KILN_EIO;

  /* Check the size from the header before loading the object. */
  if (git_repository_odb(&odb, v->repo) != 0 ||
      git_odb_read_header(&len, &type, odb, oid) != 0)
    goto done;
  if (type != GIT_OBJECT_BLOB) {
    err = KILN_EINVAL;
    goto done;
  }
  if (len > out->max_bytes) {
    err = KILN_ETOOBIG;
    goto done;
  }
  if (git_blob_lookup(&blob, v->repo, oid) != 0)
    goto done;
  err = kiln_buf_append(out, git_blob_rawcontent(blob),
                        (size_t)git_blob_rawsize(blob));
done:
  git_blob_free(blob);
  git_odb_free(odb);
  return err;
}

static int git_read_file(void *self, const char *path, struct kiln_buf *out)
{
  struct git_view *v = self;
  char cur[MAX_PATH_BYTES];
  int hops = 0;

  if (strlen(path) >= sizeof(cur))
    return KILN_EINVAL;
  strcpy(cur, path);
  for (;;) {
    git_tree_entry *e = NULL;
    git_filemode_t mode;
    int err;

    if (cur[0] == '\0' || git_tree_entry_bypath(&e, v->root, cur) != 0)
      return KILN_ENOENT;
    mode = git_tree_entry_filemode(e);
    if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
      err = read_blob(v, git_tree_entry_id(e), out);
      git_tree_entry_free(e);
      return err;
    }
    if (mode != GIT_FILEMODE_LINK) {
      git_tree_entry_free(e);
      return KILN_EINVAL;
    }
    /* A symbolic link: its blob holds the target, relative to the link's
     * directory. Absolute targets always leave the repository. */
    struct kiln_buf target;
    char next[MAX_PATH_BYTES];
    const char *slash = strrchr(cur, '/');
    size_t dir_len = slash != NULL ? (size_t)(slash - cur) : 0;

    kiln_buf_init(&target, 1024);
    err = read_blob(v, git_tree_entry_id(e), &target);
    git_tree_entry_free(e);
    if (err != 0 || target.len == 0 || memchr(target.data, '\0', target.len)) {
      kiln_buf_cleanup(&target);
      return err != 0 ? err : KILN_EINVAL;
    }
    if (target.data[0] == '/' || ++hops > MAX_LINK_HOPS ||
        (size_t)snprintf(next, sizeof(next), "%.*s%s%s", (int)dir_len, cur,
                         dir_len > 0 ? "/" : "", target.data) >= sizeof(next) ||
        !normalise(next)) {
      kiln_buf_cleanup(&target);
      return KILN_ELINK;
    }
    kiln_buf_cleanup(&target);
    strcpy(cur, next);
  }
}

static int cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum kiln_tree_entry_kind kind_of(const git_tree_entry *e)
{
  switch (git_tree_entry_filemode(e)) {
  case GIT_FILEMODE_TREE:
    return KILN_TREE_DIR;
  case GIT_FILEMODE_BLOB:
  case GIT_FILEMODE_BLOB_EXECUTABLE:
  case GIT_FILEMODE_LINK: /* read_file decides whether it may be followed */
    return KILN_TREE_FILE;
  case GIT_FILEMODE_COMMIT:
    return KILN_TREE_SUBMODULE;
  default:
    return KILN_TREE_OTHER;
  }
}

static int git_list_dir(void *self, const char *path, kiln_tree_entry_cb *cb,
                        void *arg)
{
  struct git_view *v = self;
  git_tree *dir = NULL;
  git_tree_entry *e = NULL;
  const char **names = NULL;
  enum kiln_tree_entry_kind *kinds = NULL;
  size_t n;
  int err = 0;

  if (path[0] == '\0') {
    dir = v->root;
  } else {
    if (git_tree_entry_bypath(&e, v->root, path) != 0 ||
        git_tree_entry_type(e) != GIT_OBJECT_TREE) {
      git_tree_entry_free(e);
      return KILN_ENOENT;
    }
    err = git_tree_lookup(&dir, v->repo, git_tree_entry_id(e));
    git_tree_entry_free(e);
    if (err != 0)
      return KILN_EIO;
  }
  n = git_tree_entrycount(dir);
  if (n > MAX_DIR_ENTRIES) {
    err = KILN_ETOOBIG;
    goto done;
  }
  names = calloc(n + 1, sizeof(*names));
  kinds = calloc(n + 1, sizeof(*kinds));
  if (names == NULL || kinds == NULL) {
    err = KILN_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < n; i++)
    names[i] = git_tree_entry_name(git_tree_entry_byindex(dir, i));
  qsort(names, n, sizeof(*names), cmp_names);
  for (size_t i = 0; i < n && err == 0; i++)
    err = cb(arg, names[i], kind_of(git_tree_entry_byname(dir, names[i])));
done:
  free(names);
  free(kinds);
  if (dir != v->root)
    git_tree_free(dir);
  return err;
}

static const struct kiln_tree_ops git_ops = {
    .read_file = git_read_file,
    .list_dir = git_list_dir,
};

static int fail(int code, char *err, size_t err_size, const char *what,
                const char *arg)
{
  const git_error *ge = git_error_last();
  if (err != NULL && err_size > 0)
    snprintf(err, err_size, "%s '%s'%s%s", what, arg,
             ge != NULL && ge->message != NULL ? ": " : "",
             ge != NULL && ge->message != NULL ? ge->message : "");
  return code;
}

int kiln_tree_git_open(struct kiln_tree *tree, const char *repo_path,
                       const char *ref, char commit_hex[41], char *err,
                       size_t err_size)
{
  struct git_view *v = calloc(1, sizeof(*v));
  git_object *obj = NULL;
  git_commit *commit = NULL;
  int rc;

  if (v == NULL)
    return KILN_ENOMEM;
  git_libgit2_init();
  /* libgit2 caches trees only up to 4 KiB by default; the apps/ tree of a
   * large fleet is bigger, and every file lookup walks it. Let it stay. */
  git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE,
                   (size_t)4 * 1024 * 1024);
  if (git_repository_open_ext(&v->repo, repo_path,
                              GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0) {
    rc = fail(KILN_ENOENT, err, err_size, "cannot open git repository",
              repo_path);
    goto fail;
  }
  if (git_revparse_single(&obj, v->repo, ref != NULL ? ref : "HEAD") != 0) {
    rc = fail(KILN_ENOENT, err, err_size, "cannot resolve ref",
              ref != NULL ? ref : "HEAD");
    goto fail;
  }
  if (git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) != 0 ||
      git_commit_tree(&v->root, commit) != 0) {
    rc = fail(KILN_EGIT, err, err_size, "ref does not name a commit",
              ref != NULL ? ref : "HEAD");
    goto fail;
  }
  git_oid_tostr(commit_hex, 41, git_commit_id(commit));
  git_commit_free(commit);
  git_object_free(obj);
  tree->ops = &git_ops;
  tree->self = v;
  return 0;
fail:
  git_commit_free(commit);
  git_object_free(obj);
  git_repository_free(v->repo);
  free(v);
  git_libgit2_shutdown();
  return rc;
}

void kiln_tree_git_close(struct kiln_tree *tree)
{
  struct git_view *v = tree->self;
  if (v == NULL)
    return;
  git_tree_free(v->root);
  git_repository_free(v->repo);
  free(v);
  tree->self = NULL;
  tree->ops = NULL;
  git_libgit2_shutdown();
}
