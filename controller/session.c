#include "session.h"

#include "kiln/arena.h"
#include "kiln/aws_client.h"
#include "kiln/aws_credentials.h"
#include "kiln/http.h"
#include "kiln/observe.h"
#include "kiln/proofs.h"
#include "kiln/str.h"
#include "kiln/error.h"
#include "kiln/tree_git.h"

#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load_commit(const struct kiln_git_source *src, const char *commit,
                       struct kiln_diags *diags, struct kiln_spec_repo **out)
{
  struct kiln_tree tree;
  char resolved[41], why[512];
  int err = kiln_tree_git_open(&tree, src->repo_path, commit, resolved, why,
                               sizeof(why));
  if (err != 0)
    return err;
  err = kiln_spec_load(&tree, diags, out);
  kiln_tree_git_close(&tree);
  return err == KILN_ENOENT ? 0 : err;
}

/* KILN_AWS_RATE_LIMIT: unset for the default share of AWS's published
 * API buckets, a share in [0.01, 1] (e.g. 0.5 where other tools share the
 * account), or "off" for accounts whose limits AWS raised and emulators. */
static int pacing_from_env(struct kiln_session *s)
{
  const char *v = getenv("KILN_AWS_RATE_LIMIT");
  char *end;
  double share;

  if (v == NULL || v[0] == '\0')
    return 0;
  if (strcmp(v, "off") == 0) {
    s->pacing_off = true;
    return 0;
  }
  share = strtod(v, &end);
  if (end == v || *end != '\0' || !(share >= 0.01 && share <= 1)) {
    fprintf(stderr,
            "kiln %s: KILN_AWS_RATE_LIMIT must be \"off\" or a share of "
            "AWS's API rates from 0.01 to 1 (e.g. 0.5), not \"%.40s\"\n",
            s->cmd, v);
    return KILN_EINVAL;
  }
  s->pacing_share = share;
  return 0;
}

/* "kiln-<app>-<env>" as STS takes a session name: 2-64 of [\w+=,.@-]. */
static void session_name(const struct kiln_app_spec *t, char out[65])
{
  snprintf(out, 65, "kiln-%s-%s", kiln_spec_app_name(t),
           t->env != NULL ? t->env : "app");
  for (char *c = out; *c != '\0'; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
          (*c >= '0' && *c <= '9') || strchr("_+=,.@-", *c) != NULL))
      *c = '-';
}

/* The credentials of t's role: one cached AssumeRole per role, made on
 * first use from Kiln's own credentials. */
static int role_credentials(struct kiln_session *s,
                            const struct kiln_app_spec *t,
                            const struct kiln_aws_config *config,
                            struct kiln_aws_credentials_provider **out)
{
  struct kiln_aws_credentials_provider *own = NULL, *assume = NULL;
  struct kiln_aws_credentials_options o;
  struct kiln_session_role *r;
  char name[65];
  int err;

  for (size_t i = 0; i < s->n_roles; i++)
    if (strcmp(s->roles[i].role_arn, t->role_arn) == 0) {
      *out = s->roles[i].credentials;
      return 0;
    }
  if (s->n_roles == KILN_SESSION_MAX_ROLES) {
    fprintf(stderr, "kiln %s: environments use more than %d roles\n", s->cmd,
            KILN_SESSION_MAX_ROLES);
    return KILN_EUNSUPPORTED;
  }
  if (s->sts_http == NULL &&
      (err = kiln_http_client_new(&s->loop,
                                  &(struct kiln_http_client_options){
                                      .ca_bundle = config->ca_bundle},
                                  &s->sts_http)) != 0)
    return err;
  memset(&o, 0, sizeof(o));
  o.loop = &s->loop;
  o.config = config;
  o.http = s->sts_http;
  session_name(t, name);
  r = &s->roles[s->n_roles];
  r->role_arn = strdup(t->role_arn);
  if (r->role_arn == NULL)
    return KILN_ENOMEM;
  err = kiln_aws_credentials_provider_new_default(&o, &own);
  if (err == 0)
    err = kiln_aws_credentials_provider_new_assume_role(
        &o, own, t->role_arn, name, t->external_id, 0, &assume);
  if (err == 0)
    err = kiln_aws_credentials_provider_new_cached(&o, assume, &r->credentials);
  kiln_aws_credentials_provider_unref(assume);
  kiln_aws_credentials_provider_unref(own);
  if (err != 0) {
    free(r->role_arn);
    return err;
  }
  s->n_roles++;
  *out = r->credentials;
  return 0;
}

size_t kiln_session_location_of(const struct kiln_session *s,
                                const struct kiln_app_spec *t)
{
  for (size_t l = 0; l < s->n_locations; l++)
    if (kiln_spec_runs_in(t, s->locations[l].config.region,
                          s->locations[l].role_arn))
      return l;
  return SIZE_MAX;
}

/* A client for the location of target t (its region, in its account),
 * unless there is one. */
static int add_location(struct kiln_session *s, const struct kiln_app_spec *t)
{
  struct kiln_session_location *l;
  struct kiln_aws_credentials_provider *creds = NULL;
  struct kiln_aws_config_options co = {kiln_aws_config_real_getenv, NULL,
                                       kiln_aws_config_real_read_file, NULL};
  int err;

  if (kiln_session_location_of(s, t) != SIZE_MAX)
    return 0;
  if (s->n_locations == KILN_SESSION_MAX_LOCATIONS) {
    fprintf(stderr, "kiln %s: apps span more than %d regions and accounts\n",
            s->cmd, KILN_SESSION_MAX_LOCATIONS);
    return KILN_EUNSUPPORTED;
  }
  l = &s->locations[s->n_locations];
  memset(l, 0, sizeof(*l));
  err = kiln_aws_config_resolve(&l->config, &co);
  if (err == 0)
    err = kiln_aws_config_set_region(&l->config, t->region, "spec");
  if (err != 0) {
    fprintf(stderr, "kiln %s: AWS configuration: %s\n", s->cmd,
            kiln_aws_config_error(&l->config));
    kiln_aws_config_cleanup(&l->config);
    return err;
  }
  if (t->role_arn != NULL &&
      ((err = role_credentials(s, t, &l->config, &creds)) != 0 ||
       (l->role_arn = strdup(t->role_arn)) == NULL)) {
    fprintf(stderr, "kiln %s: cannot set up the credentials of %s: %s\n",
            s->cmd, t->role_arn, kiln_strerror(err != 0 ? err : KILN_ENOMEM));
    kiln_aws_config_cleanup(&l->config);
    return err != 0 ? err : KILN_ENOMEM;
  }
  err = kiln_aws_client_new(
      &(struct kiln_aws_client_options){.loop = &s->loop,
                                        .config = &l->config,
                                        .credentials = creds,
                                        .disable_rate_limit = s->pacing_off,
                                        .rate_limit_share = s->pacing_share},
      &l->client);
  if (err != 0) {
    fprintf(stderr, "kiln %s: cannot make an AWS client for %s: %s\n", s->cmd,
            t->region, kiln_strerror(err));
    free((char *)l->role_arn);
    kiln_aws_config_cleanup(&l->config);
    return err;
  }
  /* Without a cache every pass reads every default version: slower, and
   * as right. */
  l->memory = kiln_observe_memory_new();
  s->n_locations++;
  return 0;
}

/* The locations target t needs: its own, its image's home's and its
 * promotion source's. */
static int add_target_locations(struct kiln_session *s,
                                const struct kiln_app_spec *t)
{
  const struct kiln_app_spec *home =
      t->image.home_target != NULL
          ? kiln_spec_repo_find(s->repo, t->image.home_target)
          : NULL;
  const struct kiln_app_spec *from = NULL;
  int err = add_location(s, t);

  if (t->promote.from != NULL) {
    char name[256];
    snprintf(name, sizeof(name), "%s/%s", kiln_spec_app_name(t),
             t->promote.from);
    from = kiln_spec_repo_find(s->repo, name);
  }
  if (err == 0 && home != NULL && home->valid)
    err = add_location(s, home);
  if (err == 0 && from != NULL && from->valid)
    err = add_location(s, from);
  return err;
}

/* Does commit descend from since (or is it since)? A commit that cannot be
 * read counts as descending: nothing to warn about that we can tell. */
static bool descends(const char *repo_path, const char *since,
                     const char *commit)
{
  git_repository *repo = NULL;
  git_oid old_id, new_id;
  bool result = true;

  if (git_oid_fromstr(&old_id, since) != 0 ||
      git_oid_fromstr(&new_id, commit) != 0 ||
      git_repository_open(&repo, repo_path) != 0)
    return true;
  result = git_oid_equal(&old_id, &new_id) ||
           git_graph_descendant_of(repo, &new_id, &old_id) == 1;
  git_repository_free(repo);
  return result;
}

int kiln_session_fetch_snapshot(struct kiln_git_source *src, const char *ref,
                                const char *since, struct kiln_snapshot *out)
{
  memset(out, 0, sizeof(*out));
  kiln_diags_init(&out->diags, 0);
  if ((out->err = kiln_git_source_fetch(src, out->why, sizeof(out->why))) !=
          0 ||
      (out->err = kiln_git_source_resolve(src, ref, out->commit, out->why,
                                          sizeof(out->why))) != 0)
    return out->err;
  if (since != NULL && since[0] != '\0' &&
      !descends(src->repo_path, since, out->commit))
    out->rewritten = true;
  out->err = load_commit(src, out->commit, &out->diags, &out->repo);
  /* A repository too large to read says so in its diagnostic. */
  if (out->err != 0)
    snprintf(out->why, sizeof(out->why), "cannot read commit %.12s of %s: %s",
             out->commit, src->display,
             out->err == KILN_ETOOBIG && out->diags.n > 0
                 ? out->diags.items[out->diags.n - 1].message
                 : kiln_strerror(out->err));
  return out->err;
}

void kiln_snapshot_cleanup(struct kiln_snapshot *snap)
{
  kiln_spec_repo_free(snap->repo);
  snap->repo = NULL;
  kiln_diags_cleanup(&snap->diags);
}

int kiln_session_start(struct kiln_session *s, const char *cmd, const char *src,
                       const char *cache_dir)
{
  char why[1024];
  int err;

  memset(s, 0, sizeof(*s));
  s->cmd = cmd;
  kiln_diags_init(&s->diags, 0);
  if ((err = pacing_from_env(s)) != 0)
    return err;
  err = kiln_git_source_open(&s->source, src, cache_dir, why, sizeof(why));
  if (err != 0) {
    fprintf(stderr, "kiln %s: %s\n", cmd, why);
    return err;
  }
  if (uv_loop_init(&s->loop) != 0)
    return KILN_EINTERNAL;
  s->loop_open = true;
  /* The time the loop waits, for the daemon's measure of its lag. */
  if (uv_loop_configure(&s->loop, UV_METRICS_IDLE_TIME) != 0)
    return KILN_EINTERNAL;
  uv_timer_init(&s->loop, &s->answer_timer);
  kiln_prev_specs_init(&s->prevs, &s->loop, 0);
  if (kiln_prev_specs_set_repo(&s->prevs, s->source.repo_path) != 0)
    return KILN_ENOMEM;
  return 0;
}

int kiln_session_adopt(struct kiln_session *s, struct kiln_snapshot *snap)
{
  int err;

  kiln_spec_repo_free(s->repo);
  kiln_diags_cleanup(&s->diags);
  s->repo = snap->repo;
  s->diags = snap->diags;
  snap->repo = NULL;
  kiln_diags_init(&snap->diags, 0);
  memcpy(s->commit, snap->commit, sizeof(s->commit));
  for (size_t i = 0; i < s->repo->n_apps; i++) {
    const struct kiln_app_spec *a = &s->repo->apps[i];
    if (!a->valid || !kiln_spec_selects(a, s->only_app, s->only_env))
      continue;
    if ((err = add_target_locations(s, a)) != 0)
      return err;
  }
  return 0;
}

static bool any_selected(const struct kiln_spec_repo *r, const char *only_app,
                         const char *only_env)
{
  for (size_t i = 0; i < r->n_apps; i++)
    if (kiln_spec_selects(&r->apps[i], only_app, only_env))
      return true;
  return false;
}

int kiln_session_open(struct kiln_session *s, const char *cmd, const char *src,
                      const char *ref, const char *only_app,
                      const char *only_env)
{
  struct kiln_snapshot snap;
  char cache[1024];
  int err;

  kiln_git_source_default_cache(cache, sizeof(cache));
  if ((err = kiln_session_start(s, cmd, src, cache)) != 0)
    return err;
  s->only_app = only_app;
  s->only_env = only_env;
  if (kiln_session_fetch_snapshot(&s->source, ref, NULL, &snap) != 0) {
    fprintf(stderr, "kiln %s: %s\n", cmd, snap.why);
    err = snap.err;
    kiln_snapshot_cleanup(&snap);
    return err;
  }
  if ((only_app != NULL || only_env != NULL) &&
      !any_selected(snap.repo, only_app, only_env)) {
    if (only_env != NULL)
      fprintf(stderr, "kiln %s: no %s%s%senvironment named '%s' at commit "
              "%.12s\n", cmd, only_app != NULL ? "app '" : "",
              only_app != NULL ? only_app : "", only_app != NULL ? "' with an " : "",
              only_env, snap.commit);
    else
      fprintf(stderr, "kiln %s: no app named '%s' at commit %.12s\n", cmd,
              only_app, snap.commit);
    kiln_snapshot_cleanup(&snap);
    return KILN_ENOENT;
  }
  return kiln_session_adopt(s, &snap);
}

static void on_client_closed(void *data)
{
  (void)data;
}

static void on_sts_http_closed(struct kiln_http_client *http, void *data)
{
  (void)http;
  (void)data;
}

void kiln_session_close(struct kiln_session *s)
{
  for (size_t i = 0; i < s->n_locations; i++)
    kiln_aws_client_close(s->locations[i].client, on_client_closed, NULL);
  for (size_t i = 0; i < s->n_roles; i++) {
    kiln_aws_credentials_provider_unref(s->roles[i].credentials);
    free(s->roles[i].role_arn);
  }
  if (s->sts_http != NULL)
    kiln_http_client_close(s->sts_http, on_sts_http_closed, NULL);
  if (s->loop_open) {
    uv_close((uv_handle_t *)&s->answer_timer, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&s->loop) != 0)
      fprintf(stderr, "kiln %s: internal: handles left open at exit\n", s->cmd);
  }
  for (size_t i = 0; i < s->n_locations; i++) {
    kiln_aws_config_cleanup(&s->locations[i].config);
    free((char *)s->locations[i].role_arn);
    kiln_observe_memory_free(s->locations[i].memory);
  }
  kiln_prev_specs_cleanup(&s->prevs);
  kiln_bakes_cleanup(&s->bakes);
  kiln_spec_repo_free(s->repo);
  kiln_diags_cleanup(&s->diags);
  kiln_git_source_close(&s->source);
}

/* The app's spec at an older commit, from the cache (pass.h's prev). */
static const struct kiln_app_spec *prev_spec(void *arg, const char *commit,
                                             const char *app, bool *known)
{
  struct kiln_session *s = arg;
  return kiln_prev_specs_find(&s->prevs, commit, app, known);
}

/* History's proof for a gate (pass.h's proof): the session's current
 * proofs, read at the moment the gate is judged. */
static const struct kiln_proof *proof_of(void *arg, const char *target,
                                         const char *digest)
{
  const struct kiln_session *s = arg;
  return kiln_proofs_find(s->proofs, target, digest);
}

/* Reads the older commits a region's pass misses, on the thread pool. */
static int prev_load(void *arg, const char *const *commits,
                     const char *const *apps, size_t n,
                     kiln_pass_prev_loaded_fn *done, void *done_data)
{
  struct kiln_session *s = arg;
  struct kiln_prev_want *wants = calloc(n + 1, sizeof(*wants));
  int err;

  if (wants == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < n; i++)
    wants[i] = (struct kiln_prev_want){commits[i], apps[i]};
  err = kiln_prev_specs_load(&s->prevs, wants, n, done, done_data);
  free(wants);
  return err;
}

/* ---- a pass over every location --------------------------------------- */

struct multi {
  struct kiln_session *s;
  struct kiln_spec_repo *repo; /* the pass's own reference */
  const char *commit;          /* its own copy */
  kiln_session_cb *cb;
  void *data;
  /* Invalid apps, planned without AWS, in the snapshot's order; room for
   * every app when there are any (NULL: none). */
  struct kiln_pass_app *invalid;
  size_t n_invalid;
  struct kiln_session_result result;
};

static int cmp_app(const void *a, const void *b)
{
  return strcmp(((const struct kiln_pass_app *)a)->spec->name,
                ((const struct kiln_pass_app *)b)->spec->name);
}

static void sort_by_name(struct kiln_pass_app *apps, size_t n)
{
  for (size_t i = 1; i < n; i++)
    if (cmp_app(&apps[i - 1], &apps[i]) > 0) {
      qsort(apps, n, sizeof(*apps), cmp_app);
      return;
    }
}

/* The pass's apps and the invalid ones, each in the snapshot's order (by
 * name when it was loaded from a tree), merged in that order. Without an
 * invalid app, the pass's own array: at 10,000 apps a copy is 6 MB. */
static void merge_apps(struct multi *m, const struct kiln_pass_result *r)
{
  size_t i = 0, j = 0;
  if (m->n_invalid == 0) {
    m->result.apps = r->apps;
    m->result.n = r->n;
    sort_by_name(m->result.apps, m->result.n);
    return;
  }
  /* The invalid apps move to the end first: the merge fills from the
   * front of the same array, never past what it has read. */
  memmove(m->invalid + r->n, m->invalid, m->n_invalid * sizeof(*m->invalid));
  m->result.apps = m->invalid;
  m->result.n = 0;
  while (i < r->n || j < m->n_invalid) {
    const struct kiln_pass_app *inv = &m->invalid[r->n + j];
    if (j == m->n_invalid ||
        (i < r->n && strcmp(r->apps[i].spec->name, inv->spec->name) <= 0))
      m->result.apps[m->result.n++] = r->apps[i++];
    else
      m->result.apps[m->result.n++] = m->invalid[r->n + j++];
  }
  sort_by_name(m->result.apps, m->result.n);
}

static void pass_done(int err, struct kiln_pass_result *r, void *data)
{
  struct multi *m = data;
  (void)err;
  merge_apps(m, r);
  m->result.error = r->error;
  m->result.commit = m->commit;
  m->result.repo = m->repo;
  m->cb(m->s, &m->result, m->data);
}

static void answer_without_locations(uv_timer_t *t)
{
  pass_done(0, &(struct kiln_pass_result){0}, t->data);
}

void kiln_session_result_release(struct kiln_session_result *r)
{
  kiln_spec_repo_free(r->repo);
  r->repo = NULL;
}

int kiln_session_pass(struct kiln_session *s, bool apply,
                      struct kiln_arena *arena, kiln_session_cb *cb, void *data)
{
  struct multi *m = kiln_arena_alloc(arena, sizeof(*m));
  struct kiln_pass_location *locs;
  const struct kiln_spec_repo *r = s->repo;
  int err;

  if (m == NULL)
    return KILN_ENOMEM;
  memset(m, 0, sizeof(*m));
  m->commit = kiln_arena_strdup(arena, s->commit);
  locs = kiln_arena_alloc(arena, (s->n_locations + 1) * sizeof(*locs));
  if (m->commit == NULL || locs == NULL)
    return KILN_ENOMEM;
  m->s = s;
  m->cb = cb;
  m->data = data;
  /* Invalid apps are planned without AWS: they are errors, never applied. */
  for (size_t i = 0; i < r->n_apps; i++) {
    struct kiln_pass_app *app;
    if (r->apps[i].valid ||
        !kiln_spec_selects(&r->apps[i], s->only_app, s->only_env))
      continue;
    if (m->invalid == NULL &&
        (m->invalid = kiln_arena_alloc(arena, (r->n_apps + 1) *
                                                  sizeof(*m->invalid))) == NULL)
      return KILN_ENOMEM;
    app = &m->invalid[m->n_invalid++];
    app->spec = &r->apps[i];
    err = kiln_plan_app(&r->apps[i], m->commit, &(struct kiln_observed_app){0},
                        NULL, arena, &app->plan);
    if (err != 0)
      return err;
  }
  for (size_t i = 0; i < s->n_locations; i++)
    locs[i] = (struct kiln_pass_location){
        s->locations[i].client, s->locations[i].config.region,
        s->locations[i].role_arn, s->locations[i].memory};
  /* From here on the pass runs: it holds its snapshot to its end. */
  m->repo = kiln_spec_repo_ref(s->repo);
  kiln_prev_specs_new_pass(&s->prevs);
  if (s->n_locations == 0) {
    /* Nothing to ask AWS; still answer from the loop, later: a callback
     * never runs before the call that registered it returns. */
    s->answer_timer.data = m;
    uv_timer_start(&s->answer_timer, answer_without_locations, 0, 0);
    return 0;
  }
  err = kiln_pass_start(
      &(struct kiln_pass_options){
          .locations = locs,
          .n_locations = s->n_locations,
          .repo = r,
          .commit = m->commit,
          .only_app = s->only_app,
          .only_env = s->only_env,
          .apply = apply,
          .prev = prev_spec,
          .prev_load = prev_load,
          .prev_arg = s,
          .bakes = &s->bakes,
          .gate = s->gate,
          .gate_arg = s->gate_arg,
          .proof = proof_of,
          .proof_arg = s,
      },
      arena, pass_done, m);
  if (err != 0)
    kiln_spec_repo_free(m->repo);
  return err;
}

struct kiln_plan *kiln_session_plans(const struct kiln_session_result *r)
{
  struct kiln_plan *plans = calloc(r->n + 1, sizeof(*plans));

  for (size_t i = 0; plans != NULL && i < r->n; i++)
    plans[i] = r->apps[i].plan;
  return plans;
}
