/* environments: one app, several deployment targets.
 *
 *   environments:
 *     staging: {autoscaling: {...}}
 *     prod: {region: eu-west-1, version: "1.3.2",
 *            promote: {from: staging, soakSeconds: 3600}, ...}
 *
 * Each environment is parsed as the app would be with the environment's
 * region, version, launchTemplate, autoscaling, rollout, drift and suspend
 * merged over the app's (maps key by key; lists and scalars replaced), so
 * every check of an app holds for each environment, and every error points
 * at the line it came from. The target is named "<app>/<env>"; its
 * launch template and group default to "<app>-<env>".
 */
#include "spec_check.h"
#include "spec_parse.h"

#include "kiln/diag.h"
#include "kiln/error.h"
#include "kiln/str.h"

#include <stdio.h>
#include <string.h>

#define MAX_ENVIRONMENTS 16
#define MAX_SOAK_SECONDS (30LL * 24 * 3600)

static const char *const env_keys[] = {
    "region",      "account", "version", "promote", "launchTemplate",
    "autoscaling", "rollout", "drift",   "suspend", "retention",
    NULL};
/* The keys of an environment that override the app's. */
static const char *const merged_keys[] = {
    "region",  "version", "launchTemplate", "autoscaling", "rollout",
    "drift",   "suspend", "retention",      NULL};
static const char *const promote_keys[] = {"from", "soakSeconds", NULL};
static const char *const account_keys[] = {"roleArn", "externalId", NULL};
static const char *const home_keys[] = {"region", "account", NULL};

static bool listed(const char *key, const char *const *list)
{
  for (; *list != NULL; list++)
    if (strcmp(key, *list) == 0)
      return true;
  return false;
}

/* base with over merged in: two maps key by key (base's keys in their
 * order, then over's new ones), anything else replaced by over. */
static const struct kiln_ynode *merge(struct kiln_arena *a,
                                      const struct kiln_ynode *base,
                                      const struct kiln_ynode *over)
{
  struct kiln_ynode *m;
  if (over == NULL)
    return base;
  if (base == NULL || base->kind != KILN_YNODE_MAP ||
      over->kind != KILN_YNODE_MAP)
    return over;
  m = kiln_arena_alloc(a, sizeof(*m));
  if (m == NULL)
    return NULL;
  *m = *base;
  m->keys = kiln_arena_alloc(a, (base->n + over->n + 1) * sizeof(*m->keys));
  m->vals = kiln_arena_alloc(a, (base->n + over->n + 1) * sizeof(*m->vals));
  if (m->keys == NULL || m->vals == NULL)
    return NULL;
  m->n = 0;
  for (size_t i = 0; i < base->n; i++) {
    const struct kiln_ynode *v =
        merge(a, base->vals[i], kiln_ynode_get(over, base->keys[i]->str));
    if (v == NULL)
      return NULL;
    m->keys[m->n] = base->keys[i];
    m->vals[m->n++] = (struct kiln_ynode *)v;
  }
  for (size_t i = 0; i < over->n; i++)
    if (kiln_ynode_get(base, over->keys[i]->str) == NULL) {
      m->keys[m->n] = over->keys[i];
      m->vals[m->n++] = over->vals[i];
    }
  return m;
}

/* The app's root as environment env sees it: without `environments`, with
 * env's overriding keys merged in. */
static const struct kiln_ynode *env_root(struct kiln_arena *a,
                                         const struct kiln_ynode *root,
                                         const struct kiln_ynode *env)
{
  struct kiln_ynode *over = kiln_arena_alloc(a, sizeof(*over));
  struct kiln_ynode *base = kiln_arena_alloc(a, sizeof(*base));
  if (over == NULL || base == NULL)
    return NULL;
  /* env restricted to the keys that override. */
  *over = *env;
  over->keys = kiln_arena_alloc(a, (env->n + 1) * sizeof(*over->keys));
  over->vals = kiln_arena_alloc(a, (env->n + 1) * sizeof(*over->vals));
  *base = *root;
  base->keys = kiln_arena_alloc(a, (root->n + 1) * sizeof(*base->keys));
  base->vals = kiln_arena_alloc(a, (root->n + 1) * sizeof(*base->vals));
  if (over->keys == NULL || over->vals == NULL || base->keys == NULL ||
      base->vals == NULL)
    return NULL;
  over->n = base->n = 0;
  for (size_t i = 0; i < env->n; i++)
    if (listed(env->keys[i]->str, merged_keys)) {
      over->keys[over->n] = env->keys[i];
      over->vals[over->n++] = env->vals[i];
    }
  for (size_t i = 0; i < root->n; i++)
    if (strcmp(root->keys[i]->str, "environments") != 0) {
      base->keys[base->n] = root->keys[i];
      base->vals[base->n++] = root->vals[i];
    }
  return merge(a, base, over);
}

static const char *check_env_name(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 32 || s[0] < 'a' || s[0] > 'z' || s[n - 1] == '-')
    return "must be 1-32 lowercase letters, digits and '-', starting with a "
           "letter and not ending with '-'";
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
          s[i] == '-'))
      return "must be 1-32 lowercase letters, digits and '-', starting with "
             "a letter and not ending with '-'";
  return NULL;
}

/* An IAM role ARN: arn:<partition>:iam::<12 digits>:role/<path/name>. */
static const char *check_role_arn(const char *s)
{
  static const char *const why =
      "must be an IAM role ARN such as arn:aws:iam::123456789012:role/kiln";
  const char *p = strncmp(s, "arn:", 4) == 0 ? s + 4 : NULL;
  const char *q;
  if (p == NULL || (q = strchr(p, ':')) == NULL || q == p ||
      strncmp(q, ":iam::", 6) != 0)
    return why;
  q += 6;
  for (int i = 0; i < 12; i++, q++)
    if (*q < '0' || *q > '9')
      return why;
  if (strncmp(q, ":role/", 6) != 0 || q[6] == '\0' || strlen(s) > 2048)
    return why;
  return NULL;
}

/* STS's ExternalId: 2-1224 characters of [\w+=,.@:/-]. */
static const char *check_external_id(const char *s)
{
  size_t n = strlen(s);
  if (n < 2 || n > 1224)
    return "must be 2-1224 characters";
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
          (s[i] >= '0' && s[i] <= '9') || strchr("_+=,.@:/-", s[i]) != NULL))
      return "may hold only letters, digits and _+=,.@:/-";
  return NULL;
}

static const char *checked_str(struct pctx *c, const struct kiln_ynode *map,
                               const char *key, const char *path,
                               bool required, const char *(*check)(const char *))
{
  const char *v = kiln__get_str(c, map, key, path, required);
  const char *why;
  if (v != NULL && (why = check(v)) != NULL) {
    kiln__perr(c, kiln_ynode_get(map, key), "%s.%s: '%.80s' %s", path, key, v,
               why);
    return NULL;
  }
  return v;
}

static void parse_account(struct pctx *c, const struct kiln_ynode *env,
                          const char *path, struct kiln_app_spec *t)
{
  const struct kiln_ynode *acct = kiln_ynode_get(env, "account");
  char p[96];
  if (kiln__is_null(acct))
    return;
  snprintf(p, sizeof(p), "%s.account", path);
  if (!kiln__expect_map(c, acct, p))
    return;
  kiln__check_keys(c, acct, p, account_keys);
  t->role_arn = checked_str(c, acct, "roleArn", p, true, check_role_arn);
  t->external_id =
      checked_str(c, acct, "externalId", p, false, check_external_id);
}

static void parse_promote(struct pctx *c, const struct kiln_ynode *env,
                          const char *path, struct kiln_app_spec *t)
{
  const struct kiln_ynode *pr = kiln_ynode_get(env, "promote");
  char p[96];
  if (kiln__is_null(pr))
    return;
  snprintf(p, sizeof(p), "%s.promote", path);
  if (!kiln__expect_map(c, pr, p))
    return;
  kiln__check_keys(c, pr, p, promote_keys);
  t->promote.from = kiln__get_str(c, pr, "from", p, true);
  kiln__get_int(c, pr, "soakSeconds", p, 0, MAX_SOAK_SECONDS, false,
                &t->promote.soak_seconds);
}

static const char *scalar_at(const struct kiln_ynode *map, const char *key)
{
  const struct kiln_ynode *n =
      map != NULL && map->kind == KILN_YNODE_MAP ? kiln_ynode_get(map, key)
                                                 : NULL;
  return n != NULL && n->kind == KILN_YNODE_SCALAR ? n->str : NULL;
}

/* The image's home into c: image.home's region and account (Kiln's own
 * when it names none), else the first environment's region (its own, the
 * app's or kiln.yaml's) and account. */
static void find_home(struct pctx *c, const struct kiln_spec_repo *repo,
                      const struct kiln_ynode *root,
                      const struct kiln_ynode *envs)
{
  const struct kiln_ynode *first = envs->vals[0];
  const struct kiln_ynode *home = kiln_ynode_get(kiln_ynode_get(root, "image"),
                                                 "home");
  const char *region = scalar_at(first, "region");
  const char *role = scalar_at(kiln_ynode_get(first, "account"), "roleArn");

  if (region == NULL)
    region = scalar_at(root, "region");
  if (!kiln__is_null(home) && kiln__expect_map(c, home, "image.home")) {
    const struct kiln_ynode *acct = kiln_ynode_get(home, "account");
    kiln__check_keys(c, home, "image.home", home_keys);
    if (kiln_ynode_get(home, "region") != NULL)
      region = checked_str(c, home, "region", "image.home", false,
                           kiln__check_region);
    role = NULL;
    if (!kiln__is_null(acct) &&
        kiln__expect_map(c, acct, "image.home.account")) {
      kiln__check_keys(c, acct, "image.home.account", account_keys);
      role = checked_str(c, acct, "roleArn", "image.home.account", true,
                         check_role_arn);
    }
  }
  c->home_region = region != NULL ? kiln_arena_strdup(c->arena, region)
                                  : repo->defaults.region;
  c->home_role_arn = role != NULL ? kiln_arena_strdup(c->arena, role) : NULL;
}

/* Some environment must run where the image is baked, and one in Kiln's
 * own account cannot take the image from another account's home (Kiln
 * shares an AMI with an account it knows by its role's ARN). */
static void check_home(struct pctx *c, struct kiln_spec_repo *repo,
                       const struct kiln_ynode *root, size_t first, size_t n)
{
  const struct kiln_ynode *home = kiln_ynode_get(kiln_ynode_get(root, "image"),
                                                 "home");
  const char *region = c->home_region, *role = c->home_role_arn;
  bool found = false;
  size_t slots[MAX_ENVIRONMENTS];

  if (region == NULL)
    return; /* no region at all: reported as such */
  slots[0] = first;
  for (size_t i = 1; i < n; i++)
    slots[i] = repo->n_apps - n + i;
  for (size_t i = 0; i < n && !found; i++) {
    const struct kiln_app_spec *t = &repo->apps[slots[i]];
    found = kiln_spec_runs_in(t, region, role);
    for (size_t j = 0; found && j < n; j++)
      repo->apps[slots[j]].image.home_target = t->name;
  }
  if (!found)
    kiln__perr(c, home != NULL ? home : root,
               "image.home: no environment runs in %s%s%s; the image is "
               "baked where one of the app's environments runs",
               region, role != NULL ? " in the account of " : "",
               role != NULL ? role : "");
  for (size_t i = 0; i < n; i++) {
    struct kiln_app_spec *t = &repo->apps[slots[i]];
    if (role != NULL && t->role_arn == NULL) {
      kiln__perr(c, home != NULL ? home : root,
                 "environments.%s: runs in Kiln's own account but the "
                 "image's home is in the account of %s; make the home an "
                 "environment in Kiln's own account (image.home)",
                 t->env, role);
      t->valid = false;
    }
    if (!found)
      t->valid = false;
  }
}

/* The index of environment name in envs, or SIZE_MAX. */
static size_t env_index(const struct kiln_ynode *envs, const char *name)
{
  for (size_t i = 0; i < envs->n; i++)
    if (strcmp(envs->keys[i]->str, name) == 0)
      return i;
  return (size_t)-1;
}

static const char *promote_from(const struct kiln_ynode *env)
{
  const struct kiln_ynode *pr = kiln_ynode_get(env, "promote");
  const struct kiln_ynode *from =
      pr != NULL && pr->kind == KILN_YNODE_MAP ? kiln_ynode_get(pr, "from")
                                               : NULL;
  return from != NULL && from->kind == KILN_YNODE_SCALAR ? from->str : NULL;
}

/* Promotion gates name environments of this app, never their own, and
 * never in a cycle (dev -> staging -> prod chains; prod -> staging ->
 * prod does not). */
static void check_promotions(struct pctx *c, const struct kiln_ynode *envs)
{
  for (size_t i = 0; i < envs->n; i++) {
    const char *from = promote_from(envs->vals[i]);
    const struct kiln_ynode *at = kiln_ynode_get(
        kiln_ynode_get(envs->vals[i], "promote"), "from");
    size_t j, steps = 0;
    if (from == NULL)
      continue;
    j = env_index(envs, from);
    if (j == (size_t)-1) {
      kiln__perr(c, at,
                 "environments.%s.promote.from: '%.40s' is not an environment "
                 "of this app",
                 envs->keys[i]->str, from);
      continue;
    }
    while (j != i && steps++ < envs->n) {
      const char *next = promote_from(envs->vals[j]);
      j = next != NULL ? env_index(envs, next) : (size_t)-1;
      if (j == (size_t)-1)
        break;
    }
    if (j == i)
      kiln__perr(c, at,
                 "environments.%s.promote.from: '%.40s' leads back to %s: "
                 "promotions may not form a cycle",
                 envs->keys[i]->str, from, envs->keys[i]->str);
  }
}

/* Names, counts and gates of the environments map: errors of the app. */
static bool check_environments(struct pctx *c, const struct kiln_ynode *envs)
{
  const char *why;
  if (!kiln__expect_map(c, envs, "environments"))
    return false;
  if (envs->n == 0 || envs->n > MAX_ENVIRONMENTS) {
    kiln__perr(c, envs, "environments: %zu environments; give 1 to %d",
               envs->n, MAX_ENVIRONMENTS);
    return false;
  }
  for (size_t i = 0; i < envs->n; i++) {
    char path[64];
    if ((why = check_env_name(envs->keys[i]->str)) != NULL)
      kiln__perr(c, envs->keys[i], "environments: '%.40s' %s",
                 envs->keys[i]->str, why);
    if (kiln__is_null(envs->vals[i]))
      continue; /* an environment that overrides nothing */
    snprintf(path, sizeof(path), "environments.%.40s", envs->keys[i]->str);
    if (kiln__expect_map(c, envs->vals[i], path))
      kiln__check_keys(c, envs->vals[i], path, env_keys);
  }
  check_promotions(c, envs);
  return true;
}

/* The target of environment i of the app, in repo->apps[slot]. */
static int parse_environment(struct pctx *app_ctx, struct kiln_spec_repo *repo,
                             const struct kiln_ynode *root,
                             const struct kiln_ynode *envs, size_t i,
                             size_t slot, struct kiln_arena *scratch)
{
  struct kiln_app_spec *t = &repo->apps[slot];
  const struct kiln_ynode *env = envs->vals[i];
  const struct kiln_ynode *merged;
  struct pctx c = *app_ctx;
  struct kiln_ynode empty;
  char path[64];
  const char *app = app_ctx->app;

  t->app = app;
  t->env = envs->keys[i]->str != NULL
               ? kiln_arena_strdup(app_ctx->arena, envs->keys[i]->str)
               : NULL;
  t->name = kiln_arena_printf(app_ctx->arena, "%s/%s", app, t->env);
  t->dir = app_ctx->dir;
  t->file = app_ctx->file;
  if (t->env == NULL || t->name == NULL)
    return KILN_ENOMEM;
  c.errors = 0;
  c.app = t->name;
  snprintf(path, sizeof(path), "environments.%.40s", t->env);
  if (kiln__is_null(env)) {
    empty = (struct kiln_ynode){.kind = KILN_YNODE_MAP,
                                .line = envs->keys[i]->line,
                                .col = envs->keys[i]->col};
    env = &empty;
  }
  if (env->kind != KILN_YNODE_MAP) {
    t->valid = false; /* reported by check_environments */
    return 0;
  }
  merged = env_root(scratch, root, env);
  if (merged == NULL)
    return KILN_ENOMEM;
  kiln__spec_parse_target(&c, repo, merged, &repo->apps[slot]);
  t = &repo->apps[slot];
  parse_promote(&c, env, path, t);
  parse_account(&c, env, path, t);
  app_ctx->oom |= c.oom;
  t->valid = c.errors == 0 && app_ctx->errors == 0 && !c.oom &&
             repo->defaults_valid;
  return c.oom ? KILN_ENOMEM : 0;
}

int kiln__spec_parse_environments(struct pctx *c, struct kiln_spec_repo *repo,
                                  const struct kiln_ynode *root, size_t index,
                                  struct kiln_arena *scratch)
{
  const struct kiln_ynode *envs = kiln_ynode_get(root, "environments");
  int err = 0;

  if (!check_environments(c, envs)) {
    repo->apps[index].valid = false;
    return c->oom ? KILN_ENOMEM : 0;
  }
  if (repo->n_apps - 1 + envs->n > KILN_SPEC_MAX_TARGETS) {
    /* Memory is bounded by the repository, not by what it multiplies. */
    kiln__perr(c, envs,
               "environments: the repository would hold more than %d "
               "deployment targets",
               KILN_SPEC_MAX_TARGETS);
    repo->apps[index].valid = false;
    return c->oom ? KILN_ENOMEM : 0;
  }
  find_home(c, repo, root, envs);
  for (size_t i = 0; i < envs->n && err == 0; i++) {
    size_t slot = index;
    if (i > 0) {
      if (kiln__spec_new_app(repo) == NULL)
        return KILN_ENOMEM;
      slot = repo->n_apps - 1;
    }
    err = parse_environment(c, repo, root, envs, i, slot, scratch);
  }
  if (err == 0)
    check_home(c, repo, root, index, envs->n);
  return c->oom ? KILN_ENOMEM : err;
}

bool kiln_spec_runs_in(const struct kiln_app_spec *s, const char *region,
                       const char *role_arn)
{
  return s->region != NULL && region != NULL && strcmp(s->region, region) == 0 &&
         kiln_str_eq(s->role_arn, role_arn);
}

bool kiln_spec_image_at_home(const struct kiln_app_spec *s)
{
  return s->image.home_region == NULL ||
         kiln_spec_runs_in(s, s->image.home_region, s->image.home_role_arn);
}

bool kiln_spec_selects(const struct kiln_app_spec *s, const char *only_app,
                       const char *only_env)
{
  if (only_app != NULL && strcmp(kiln_spec_app_name(s), only_app) != 0 &&
      strcmp(s->name, only_app) != 0)
    return false;
  return only_env == NULL || (s->env != NULL && strcmp(s->env, only_env) == 0);
}
