/* Walks a desired-state repository: kiln.yaml, then apps/<dir>/app.yaml. */
#include "spec_parse.h"

#include "kiln/buf.h"
#include "kiln/diag.h"
#include "kiln/error.h"
#include "kiln/intern.h"
#include "kiln/spec.h"
#include "kiln/str.h"
#include "kiln/tree.h"
#include "kiln/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A snapshot of 5000 apps with their documents stays well under this. */
#define SNAPSHOT_LIMIT_BYTES (512u * 1024 * 1024)

struct app_dirs {
  char **names;
  enum kiln_tree_entry_kind *kinds;
  size_t n;
  size_t cap;
  int err;
};

static int collect_dir(void *arg, const char *name,
                       enum kiln_tree_entry_kind kind)
{
  struct app_dirs *d = arg;
  /* Files beside the apps (a README) are not apps; anything else that is
   * not a directory (a submodule, a link) is refused by load_entry. */
  if (kind == KILN_TREE_FILE || name[0] == '.')
    return 0;
  if (d->n == KILN_SPEC_MAX_APPS)
    return KILN_ETOOBIG;
  if (d->n == d->cap) {
    size_t cap = d->cap != 0 ? d->cap * 2 : 16;
    char **p = realloc(d->names, cap * sizeof(*p));
    enum kiln_tree_entry_kind *k;
    if (p == NULL)
      return KILN_ENOMEM;
    d->names = p;
    k = realloc(d->kinds, cap * sizeof(*k));
    if (k == NULL)
      return KILN_ENOMEM;
    d->kinds = k;
    d->cap = cap;
  }
  d->names[d->n] = strdup(name);
  if (d->names[d->n] == NULL)
    return KILN_ENOMEM;
  d->kinds[d->n] = kind;
  d->n++;
  return 0;
}

static int read_text(const struct kiln_tree *tree, const char *path,
                     struct kiln_buf *b)
{
  /* One byte over the cap lets the parser say "too large" itself. */
  kiln_buf_init(b, KILN_SPEC_MAX_YAML_BYTES + 1);
  return tree->ops->read_file(tree->self, path, b);
}

/* Why a spec file that exists cannot be read, after the file's name. */
static const char *unreadable(int err)
{
  switch (err) {
  case KILN_ELINK:
    return KILN__LINK_REFUSED;
  case KILN_EINVAL:
    return "is not a regular file (a directory, git submodule or device)";
  case KILN_EPERM:
    return "cannot be read: permission denied";
  default:
    return "cannot be read";
  }
}

static int load_defaults(const struct kiln_tree *tree,
                         struct kiln_spec_repo *repo, struct kiln_diags *diags)
{
  struct kiln_buf b;
  int err = read_text(tree, "kiln.yaml", &b);

  repo->defaults_valid = true;
  repo->defaults.retention = (struct kiln_retention_spec){
      KILN_RETENTION_RELEASES, KILN_RETENTION_MIN_AGE_DAYS};
  if (err == KILN_ENOENT) {
    err = 0;
  } else if (err == KILN_ETOOBIG) {
    repo->defaults_valid = false;
    err = kiln_diags_add(diags, "kiln.yaml", 0, 0, NULL,
                         "file is larger than %d bytes",
                         KILN_SPEC_MAX_YAML_BYTES);
  } else if (err != 0) {
    repo->defaults_valid = false;
    err = kiln_diags_add(diags, "kiln.yaml", 0, 0, NULL, "kiln.yaml %s",
                         unreadable(err));
  } else {
    err = kiln_spec_parse_defaults(repo, b.data != NULL ? b.data : "", b.len,
                                   diags);
  }
  kiln_buf_cleanup(&b);
  return err;
}

/* An app directory that yields no spec is still an app: listed as an
 * error (never applied) beside the valid ones, with its reason. */
static int refuse_app(struct kiln_spec_repo *repo, const char *dir,
                      const char *dirname, struct kiln_diags *diags,
                      const char *file, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int refuse_app(struct kiln_spec_repo *repo, const char *dir,
                      const char *dirname, struct kiln_diags *diags,
                      const char *file, const char *fmt, ...)
{
  va_list ap;
  int err;

  va_start(ap, fmt);
  err = kiln_diags_addv(diags, file, 0, 0, dirname, fmt, ap);
  va_end(ap);
  if (err == 0 && kiln__spec_add_invalid_app(repo, dir) == NULL)
    err = KILN_ENOMEM;
  return err;
}

static int load_app(const struct kiln_tree *tree, struct kiln_spec_repo *repo,
                    const char *dirname, struct kiln_diags *diags)
{
  char dir[512], file[600];
  struct kiln_buf b;
  int err;

  if (!kiln_utf8_valid(dirname, strlen(dirname))) {
    /* Names reach JSON, logs and AWS as text: refuse it, and name it with
     * its bad bytes escaped so that the error itself is text. */
    char shown[256];
    kiln_utf8_escape(dirname, shown, sizeof(shown));
    snprintf(dir, sizeof(dir), "apps/%s", shown);
    return refuse_app(repo, dir, shown, diags, dir,
                      "app directory name is not valid UTF-8 (shown with "
                      "each invalid byte as \\xHH): rename the directory");
  }
  snprintf(dir, sizeof(dir), "apps/%s", dirname);
  snprintf(file, sizeof(file), "%s/app.yaml", dir);
  err = read_text(tree, file, &b);
  if (err == 0) {
    err = kiln_spec_parse_app(repo, tree, dir, b.data != NULL ? b.data : "",
                              b.len, diags);
  } else if (err == KILN_ETOOBIG) {
    err = refuse_app(repo, dir, dirname, diags, file,
                     "file is larger than %d bytes", KILN_SPEC_MAX_YAML_BYTES);
  } else if (err == KILN_ENOENT) {
    err = refuse_app(repo, dir, dirname, diags, file,
                     "app directory %s has no app.yaml", dir);
  } else if (err == KILN_ENOMEM) {
    /* Not the app's fault: the whole load fails. */
  } else {
    err = refuse_app(repo, dir, dirname, diags, file, "app.yaml %s",
                     unreadable(err));
  }
  kiln_buf_cleanup(&b);
  return err;
}

/* An entry of apps/ other than a plain file: an app directory, or
 * something that must not pass for one silently. */
static int load_entry(const struct kiln_tree *tree, struct kiln_spec_repo *repo,
                      const char *name, enum kiln_tree_entry_kind kind,
                      struct kiln_diags *diags)
{
  char dir[512], shown[256];

  if (kind == KILN_TREE_DIR)
    return load_app(tree, repo, name, diags);
  name = kiln_utf8_escape(name, shown, sizeof(shown));
  snprintf(dir, sizeof(dir), "apps/%s", name);
  if (kind == KILN_TREE_SUBMODULE)
    return refuse_app(repo, dir, name, diags, dir,
                      "%s is a git submodule: Kiln reads only this "
                      "repository's tree; make the app a directory",
                      dir);
  return refuse_app(repo, dir, name, diags, dir,
                    "%s is not a directory (a symbolic link or special file): "
                    "each app is a directory apps/<name>/ and links are not "
                    "followed",
                    dir);
}

static int cmp_app(const void *a, const void *b)
{
  const struct kiln_app_spec *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c != 0 ? c : strcmp(x->dir, y->dir);
}

/* Two apps may not claim the same name, nor two targets the same launch
 * template or group in one region of one account: they would fight over
 * it. Both are marked invalid.
 * Sorted, so a fleet of thousands of apps costs n log n, not n^2. */
enum conflict_kind { BY_NAME, BY_TEMPLATE, BY_GROUP };

static const char *conflict_key(const struct kiln_app_spec *a,
                                enum conflict_kind k)
{
  switch (k) {
  case BY_TEMPLATE:
    return a->launch_template.name;
  case BY_GROUP:
    return a->autoscaling.name;
  default:
    return kiln_spec_app_name(a); /* an app's environments share it */
  }
}

static int cmp_by(const void *x, const void *y, enum conflict_kind k)
{
  const struct kiln_app_spec *a = *(const struct kiln_app_spec *const *)x;
  const struct kiln_app_spec *b = *(const struct kiln_app_spec *const *)y;
  const char *ka = conflict_key(a, k), *kb = conflict_key(b, k);
  int c = 0;
  if (k != BY_NAME)
    c = strcmp(a->region != NULL ? a->region : "",
               b->region != NULL ? b->region : "");
  if (k != BY_NAME && c == 0)
    c = strcmp(a->role_arn != NULL ? a->role_arn : "",
               b->role_arn != NULL ? b->role_arn : "");
  if (c == 0)
    c = strcmp(ka != NULL ? ka : "", kb != NULL ? kb : "");
  return c != 0 ? c : strcmp(a->dir, b->dir);
}

static int cmp_by_name(const void *x, const void *y)
{
  return cmp_by(x, y, BY_NAME);
}

static int cmp_by_template(const void *x, const void *y)
{
  return cmp_by(x, y, BY_TEMPLATE);
}

static int cmp_by_group(const void *x, const void *y)
{
  return cmp_by(x, y, BY_GROUP);
}

static int report_conflict(struct kiln_diags *diags, struct kiln_app_spec *a,
                           struct kiln_app_spec *b, const char *what,
                           const char *value)
{
  int err;
  a->valid = b->valid = false;
  err = kiln_diags_add(diags, b->file, 0, 0, b->name,
                       "%s '%s' is also used by %s", what, value, a->file);
  if (err == 0)
    err = kiln_diags_add(diags, a->file, 0, 0, a->name,
                         "%s '%s' is also used by %s", what, value, b->file);
  return err;
}

static int check_conflicts(struct kiln_spec_repo *repo,
                           struct kiln_diags *diags)
{
  static const char *const what[] = {"app name", "launch template name",
                                     "auto scaling group name"};
  struct kiln_app_spec **order;
  int err = 0;

  if (repo->n_apps < 2)
    return 0;
  order = malloc(repo->n_apps * sizeof(*order));
  if (order == NULL)
    return KILN_ENOMEM;
  static int (*const cmp[])(const void *, const void *) = {
      cmp_by_name, cmp_by_template, cmp_by_group};
  for (int k = BY_NAME; k <= BY_GROUP && err == 0; k++) {
    for (size_t i = 0; i < repo->n_apps; i++)
      order[i] = &repo->apps[i];
    qsort(order, repo->n_apps, sizeof(*order), cmp[k]);
    for (size_t i = 1; i < repo->n_apps && err == 0; i++) {
      struct kiln_app_spec *a = order[i - 1], *b = order[i];
      const char *ka = conflict_key(a, (enum conflict_kind)k);
      const char *kb = conflict_key(b, (enum conflict_kind)k);
      if (ka == NULL || kb == NULL || strcmp(ka, kb) != 0)
        continue;
      if (k == BY_NAME && strcmp(a->dir, b->dir) == 0)
        continue; /* environments of one app */
      if (k != BY_NAME && (a->region == NULL || b->region == NULL ||
                           strcmp(a->region, b->region) != 0 ||
                           !kiln_str_eq(a->role_arn, b->role_arn)))
        continue;
      err = report_conflict(diags, a, b, what[k], ka);
    }
  }
  free(order);
  return err;
}

/* Sorted by name, the array no larger than the apps (it grew by doubling:
 * at 10,000 apps that is 5 MB of slack). */
static void sort_apps(struct kiln_spec_repo *repo)
{
  if (repo->n_apps > 0 && repo->n_apps < repo->apps_cap) {
    struct kiln_app_spec *fit =
        realloc(repo->apps, repo->n_apps * sizeof(*repo->apps));
    if (fit != NULL) {
      repo->apps = fit;
      repo->apps_cap = repo->n_apps;
    }
  }
  if (repo->n_apps > 1)
    qsort(repo->apps, repo->n_apps, sizeof(*repo->apps), cmp_app);
}

int kiln_spec_load(const struct kiln_tree *tree, struct kiln_diags *diags,
                   struct kiln_spec_repo **out)
{
  struct kiln_spec_repo *repo = calloc(1, sizeof(*repo));
  struct app_dirs dirs = {0};
  int err;

  *out = NULL;
  if (repo == NULL)
    return KILN_ENOMEM;
  repo->refs = 1;
  kiln_arena_init(&repo->arena, SNAPSHOT_LIMIT_BYTES);
  kiln_diags_init(&repo->warnings, 0);

  err = load_defaults(tree, repo, diags);
  if (err != 0)
    goto fail;

  err = tree->ops->list_dir(tree->self, "apps", collect_dir, &dirs);
  if (err == KILN_ENOENT) {
    err = kiln_diags_add(diags, "apps", 0, 0, NULL,
                         "the repository has no apps/ directory; each app "
                         "lives in apps/<name>/app.yaml");
    if (err == 0)
      err = KILN_ENOENT;
    goto done;
  }
  if (err == KILN_ETOOBIG) {
    /* An error, like a repository without apps/: a snapshot of some apps
     * would plan the others as gone. */
    err = kiln_diags_add(diags, "apps", 0, 0, NULL,
                         "more than %d app directories", KILN_SPEC_MAX_APPS);
    if (err == 0)
      err = KILN_ETOOBIG;
    goto done;
  }
  if (err != 0)
    goto fail;
  for (size_t i = 0; i < dirs.n; i++) {
    err = load_entry(tree, repo, dirs.names[i], dirs.kinds[i], diags);
    if (err != 0)
      goto fail;
  }
  err = check_conflicts(repo, diags);
  if (err != 0)
    goto fail;
  sort_apps(repo);
done:
  for (size_t i = 0; i < dirs.n; i++)
    free(dirs.names[i]);
  free(dirs.names);
  free(dirs.kinds);
  *out = repo;
  return err;
fail:
  for (size_t i = 0; i < dirs.n; i++)
    free(dirs.names[i]);
  free(dirs.names);
  free(dirs.kinds);
  kiln_spec_repo_free(repo);
  return err;
}

int kiln_spec_load_apps(const struct kiln_tree *tree, const char *const *names,
                        size_t n_names, struct kiln_diags *diags,
                        struct kiln_spec_repo **out)
{
  struct kiln_spec_repo *repo = calloc(1, sizeof(*repo));
  int err;

  *out = NULL;
  if (repo == NULL)
    return KILN_ENOMEM;
  repo->refs = 1;
  kiln_arena_init(&repo->arena, SNAPSHOT_LIMIT_BYTES);
  kiln_diags_init(&repo->warnings, 0);
  err = load_defaults(tree, repo, diags);
  for (size_t i = 0; i < n_names && err == 0; i++)
    if (strchr(names[i], '/') == NULL && names[i][0] != '.')
      err = load_app(tree, repo, names[i], diags);
  if (err != 0) {
    kiln_spec_repo_free(repo);
    return err;
  }
  sort_apps(repo);
  *out = repo;
  return 0;
}

struct kiln_spec_repo *kiln_spec_repo_ref(struct kiln_spec_repo *repo)
{
  if (repo != NULL)
    repo->refs++;
  return repo;
}

void kiln_spec_repo_free(struct kiln_spec_repo *repo)
{
  if (repo == NULL || --repo->refs > 0)
    return;
  kiln_intern_free(repo->contents);
  kiln_arena_cleanup(&repo->arena);
  kiln_diags_cleanup(&repo->warnings);
  free(repo->apps);
  free(repo);
}

size_t kiln_spec_repo_valid_apps(const struct kiln_spec_repo *repo)
{
  size_t n = 0;
  for (size_t i = 0; i < repo->n_apps; i++)
    n += repo->apps[i].valid;
  return n;
}

const struct kiln_app_spec *kiln_spec_repo_find(const struct kiln_spec_repo *r,
                                                const char *name)
{
  for (size_t i = 0; i < r->n_apps; i++)
    if (strcmp(r->apps[i].name, name) == 0)
      return &r->apps[i];
  return NULL;
}
