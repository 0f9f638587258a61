#include "prev_specs.h"

#include "kiln/diag.h"
#include "kiln/error.h"
#include "kiln/spec.h"
#include "kiln/tree.h"
#include "kiln/tree_git.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One load: handed to the thread pool whole, handed back whole. */
struct load {
  uv_work_t work;
  struct kiln_prev_specs *ps;
  char *repo_path;
  struct kiln_prev_want *wants; /* strings owned below */
  size_t n;
  /* Results, per want (filled on the pool). */
  struct kiln_spec_repo **repos;
  kiln_prev_specs_cb *cb;
  void *data;
};

void kiln_prev_specs_init(struct kiln_prev_specs *ps, uv_loop_t *loop,
                          size_t max_entries)
{
  memset(ps, 0, sizeof(*ps));
  ps->loop = loop;
  ps->max_entries = max_entries > 0 ? max_entries : KILN_PREV_SPECS_DEFAULT_MAX;
}

int kiln_prev_specs_set_repo(struct kiln_prev_specs *ps, const char *repo_path)
{
  char *p = strdup(repo_path);
  if (p == NULL)
    return KILN_ENOMEM;
  free(ps->repo_path);
  ps->repo_path = p;
  return 0;
}

static void entry_cleanup(struct kiln_prev_entry *e)
{
  kiln_spec_repo_free(e->repo);
  free(e->app);
}

void kiln_prev_specs_cleanup(struct kiln_prev_specs *ps)
{
  for (size_t i = 0; i < ps->n; i++)
    entry_cleanup(&ps->entries[i]);
  free(ps->entries);
  free(ps->repo_path);
  ps->entries = NULL;
  ps->repo_path = NULL;
  ps->n = ps->cap = 0;
}

void kiln_prev_specs_new_pass(struct kiln_prev_specs *ps)
{
  ps->pass++;
}

static struct kiln_prev_entry *lookup(struct kiln_prev_specs *ps,
                                      const char *commit, const char *app)
{
  for (size_t i = 0; i < ps->n; i++)
    if (strcmp(ps->entries[i].app, app) == 0 &&
        strcmp(ps->entries[i].commit, commit) == 0)
      return &ps->entries[i];
  return NULL;
}

const struct kiln_app_spec *kiln_prev_specs_find(struct kiln_prev_specs *ps,
                                                 const char *commit,
                                                 const char *app, bool *known)
{
  struct kiln_prev_entry *e = lookup(ps, commit, app);

  *known = e != NULL;
  if (e == NULL) {
    ps->misses++;
    return NULL;
  }
  ps->hits++;
  e->last_used = ++ps->clock;
  e->pass = ps->pass;
  return e->spec;
}

/* Evicts the least recently used entries past max_entries, sparing those
 * the pass in flight looked up. */
static void evict(struct kiln_prev_specs *ps)
{
  while (ps->n > ps->max_entries) {
    size_t victim = ps->n;
    for (size_t i = 0; i < ps->n; i++)
      if (ps->entries[i].pass != ps->pass &&
          (victim == ps->n ||
           ps->entries[i].last_used < ps->entries[victim].last_used))
        victim = i;
    if (victim == ps->n)
      return; /* all in use by this pass: over the bound until it ends */
    entry_cleanup(&ps->entries[victim]);
    ps->entries[victim] = ps->entries[--ps->n];
    ps->evictions++;
  }
}

static int insert(struct kiln_prev_specs *ps, const char *commit,
                  const char *app, struct kiln_spec_repo *repo)
{
  struct kiln_prev_entry *e;

  if (lookup(ps, commit, app) != NULL)
    return 0; /* another region's load got there first */
  if (ps->n == ps->cap) {
    size_t cap = ps->cap != 0 ? ps->cap * 2 : 32;
    e = realloc(ps->entries, cap * sizeof(*e));
    if (e == NULL)
      return KILN_ENOMEM;
    ps->entries = e;
    ps->cap = cap;
  }
  e = &ps->entries[ps->n];
  memset(e, 0, sizeof(*e));
  e->app = strdup(app);
  if (e->app == NULL)
    return KILN_ENOMEM;
  snprintf(e->commit, sizeof(e->commit), "%s", commit);
  e->repo = kiln_spec_repo_ref(repo);
  /* Only a valid spec can tell causes apart. */
  e->spec = repo != NULL ? kiln_spec_repo_find(repo, app) : NULL;
  if (e->spec != NULL && !e->spec->valid)
    e->spec = NULL;
  e->last_used = ++ps->clock;
  e->pass = ps->pass;
  ps->n++;
  return 0;
}

/* ---- on the thread pool ---- */

/* Did reading by directory find every app wanted at commit, valid? (An
 * app whose name is not its directory's shows as an invalid placeholder.) */
static bool has_all(const struct kiln_spec_repo *r, const struct load *l,
                    const char *commit)
{
  for (size_t i = 0; i < l->n; i++) {
    const struct kiln_app_spec *a;
    if (strcmp(l->wants[i].commit, commit) != 0)
      continue;
    a = kiln_spec_repo_find(r, l->wants[i].app);
    if (a == NULL || !a->valid)
      return false;
  }
  return true;
}

/* Reads the apps wanted at one commit into one snapshot: by directory,
 * or the whole tree when some app is not in the directory of its name. */
static struct kiln_spec_repo *read_commit(const struct load *l,
                                          const char *commit)
{
  struct kiln_tree tree;
  struct kiln_diags ignored;
  struct kiln_spec_repo *repo = NULL;
  const char **names = calloc(l->n + 1, sizeof(*names));
  char resolved[41], why[256];
  size_t n = 0;

  if (names == NULL || strspn(commit, "0123456789abcdef") != 40 ||
      commit[40] != '\0' ||
      kiln_tree_git_open(&tree, l->repo_path, commit, resolved, why,
                         sizeof(why)) != 0) {
    free(names);
    return NULL;
  }
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->wants[i].commit, commit) == 0)
      names[n++] = l->wants[i].app;
  kiln_diags_init(&ignored, 1);
  if (kiln_spec_load_apps(&tree, names, n, &ignored, &repo) != 0 ||
      !has_all(repo, l, commit)) {
    kiln_spec_repo_free(repo);
    repo = NULL;
    kiln_diags_cleanup(&ignored);
    kiln_diags_init(&ignored, 1);
    if (kiln_spec_load(&tree, &ignored, &repo) != 0 && repo != NULL &&
        repo->n_apps == 0) {
      kiln_spec_repo_free(repo);
      repo = NULL;
    }
  }
  kiln_diags_cleanup(&ignored);
  kiln_tree_git_close(&tree);
  free(names);
  return repo;
}

static void load_work(uv_work_t *w)
{
  struct load *l = w->data;
  for (size_t i = 0; i < l->n; i++) {
    /* Wants of the same commit share the snapshot read for the first. */
    size_t first = i;
    for (size_t j = 0; j < i; j++)
      if (strcmp(l->wants[j].commit, l->wants[i].commit) == 0) {
        first = j;
        break;
      }
    l->repos[i] = first == i ? read_commit(l, l->wants[i].commit) : NULL;
  }
}

/* ---- back on the loop ---- */

static void load_free(struct load *l)
{
  for (size_t i = 0; i < l->n; i++) {
    kiln_spec_repo_free(l->repos[i]);
    free((char *)l->wants[i].commit);
    free((char *)l->wants[i].app);
  }
  free(l->repos);
  free(l->wants);
  free(l->repo_path);
  free(l);
}

static void load_done(uv_work_t *w, int status)
{
  struct load *l = w->data;
  struct kiln_prev_specs *ps = l->ps;

  ps->loads_in_flight--;
  ps->loads++;
  for (size_t i = 0; i < l->n; i++) {
    struct kiln_spec_repo *repo = l->repos[i];
    for (size_t j = 0; repo == NULL && j < i; j++)
      if (strcmp(l->wants[j].commit, l->wants[i].commit) == 0)
        repo = l->repos[j];
    /* A load that was cancelled reads nothing: cache nothing either. */
    if (status == 0)
      insert(ps, l->wants[i].commit, l->wants[i].app, repo);
  }
  evict(ps);
  l->cb(l->data);
  load_free(l);
}

int kiln_prev_specs_load(struct kiln_prev_specs *ps,
                         const struct kiln_prev_want *wants, size_t n,
                         kiln_prev_specs_cb *cb, void *data)
{
  struct load *l = calloc(1, sizeof(*l));

  if (l == NULL)
    return KILN_ENOMEM;
  l->ps = ps;
  l->cb = cb;
  l->data = data;
  l->wants = calloc(n + 1, sizeof(*l->wants));
  l->repos = calloc(n + 1, sizeof(*l->repos));
  l->repo_path = ps->repo_path != NULL ? strdup(ps->repo_path) : NULL;
  if (l->wants == NULL || l->repos == NULL || l->repo_path == NULL)
    goto fail;
  for (size_t i = 0; i < n; i++) {
    l->wants[i].commit = strdup(wants[i].commit);
    l->wants[i].app = strdup(wants[i].app);
    l->n++;
    if (l->wants[i].commit == NULL || l->wants[i].app == NULL)
      goto fail;
  }
  l->work.data = l;
  if (uv_queue_work(ps->loop, &l->work, load_work, load_done) != 0) {
    load_free(l);
    return KILN_EINTERNAL;
  }
  ps->loads_in_flight++;
  return 0;
fail:
  load_free(l);
  return KILN_ENOMEM;
}
