#include "kiln/pass.h"
#include "kiln/promote.h"
#include "kiln/arena.h"
#include "kiln/aws_client.h"
#include "kiln/error.h"
#include "kiln/execute.h"
#include "kiln/str.h"

#include <string.h>
#include <time.h>

/* One location's observation. */
struct look {
  struct pass *p;
  size_t loc;
  int err;
  struct kiln_observation *obs;
  const char *why; /* err: the location's failure, for its apps */
};

struct pass {
  struct kiln_pass_options opts;
  struct kiln_arena *a;
  kiln_pass_cb *cb;
  void *data;
  struct look *looks;   /* per location */
  size_t looking;       /* observations still out */
  size_t *loc_of;       /* repo app -> location; SIZE_MAX: none */
  size_t *home_of;      /* repo app -> the target baking its image */
  struct kiln_pass_result result;
  size_t *obs_index; /* result app -> repo index */
  int pending;
};

/* The observation of repo app i, or NULL when its location was not
 * observed. */
static struct kiln_observed_app *obs_of(const struct pass *p, size_t i)
{
  size_t l = p->loc_of[i];
  if (l == SIZE_MAX || p->looks[l].err != 0 || p->looks[l].obs == NULL)
    return NULL;
  return &p->looks[l].obs->apps[i];
}

static struct kiln_aws_client *client_of(const struct pass *p, size_t i)
{
  size_t l = p->loc_of[i];
  return l != SIZE_MAX ? p->opts.locations[l].client : NULL;
}

struct step {
  struct pass *p;
  size_t i;
  const struct kiln_observed_app *obs; /* what the step was planned on */
  /* The follow-on: the app as AWS's answer to the step left it, and the
   * step planned on that. */
  struct kiln_observed_app *after;
  struct kiln_plan next;
  bool following;
};

static const struct kiln_app_spec *prev_of(struct pass *p,
                                           const struct kiln_app_spec *spec,
                                           const struct kiln_observed_app *o);

static void step_end(struct step *s)
{
  if (--s->p->pending == 0)
    s->p->cb(0, &s->p->result, s->p->data);
}

/* A launch template step that landed is followed at once by its group's
 * step (create, update, refresh, tag), planned on what AWS answered instead of
 * on the next pass's observation. A release thus moves each group as soon
 * as its template is ready, not after every template of the fleet. Only
 * this pair is chained: every other step waits for a fresh look. */
static bool leads_to_group_step(const struct kiln_plan *done,
                                const struct kiln_execute_result *r)
{
  return (done->action.type == KILN_ACTION_LT_CREATE ||
          done->action.type == KILN_ACTION_LT_SET_DEFAULT) &&
         r->lt_id != NULL && r->lt_version > 0;
}

static bool is_group_step(const struct kiln_plan *next)
{
  switch (next->action.type) {
  case KILN_ACTION_ASG_CREATE:
  case KILN_ACTION_ASG_UPDATE:
  case KILN_ACTION_REFRESH_START:
  case KILN_ACTION_REFRESH_CANCEL:
  case KILN_ACTION_TAG_GROUP:
    return next->mutates;
  default:
    return false;
  }
}

static void step_done(int err, const struct kiln_execute_result *r, void *data);

/* The follow-on did not run: the outcome says why, and the next pass
 * takes the group's step. */
static void follow_dropped(struct step *s, const char *why)
{
  struct kiln_pass_app *app = &s->p->result.apps[s->i];
  const char *said = kiln_arena_printf(
      s->p->a, "%s; the group's step waits for the next pass: %s", app->outcome,
      why != NULL ? why : "out of memory");
  if (said != NULL)
    app->outcome = said;
  step_end(s);
}

static void follow_plan(struct step *s)
{
  struct pass *p = s->p;
  struct kiln_pass_app *app = &p->result.apps[s->i];
  int err = kiln_plan_app(app->spec, p->opts.commit, s->after,
                          prev_of(p, app->spec, s->after), p->a, &s->next);

  if (err != 0)
    return follow_dropped(s, kiln_strerror(err));
  if (!is_group_step(&s->next))
    return step_end(s); /* nothing to do, or nothing this pass may do */
  s->following = true;
  err = kiln_execute_start(client_of(p, p->obs_index[s->i]), NULL, app->spec,
                           p->opts.commit, &s->next, s->after, p->opts.bakes,
                           p->a, step_done, s);
  if (err != 0)
    follow_dropped(s, kiln_strerror(err));
}

static void on_follow_look(int err, const char *why, void *data)
{
  struct step *s = data;
  /* Without the group's refresh the step is not safe to plan. */
  if (err != 0)
    return follow_dropped(
        s, kiln_arena_printf(s->p->a, "cannot look up its instance refresh: %s",
                             why));
  follow_plan(s);
}

/* Returns 0 when the follow-on is under way (it ends the step), else
 * nonzero. */
static int follow_start(struct step *s, const struct kiln_execute_result *r)
{
  struct pass *p = s->p;
  const struct kiln_pass_app *app = &p->result.apps[s->i];

  s->after = kiln_arena_alloc(p->a, sizeof(*s->after));
  if (s->after == NULL)
    return KILN_ENOMEM;
  *s->after = *s->obs;
  kiln_observed_lt_made_default(s->after, r->lt_id, r->lt_version,
                                app->plan.action.lt_data, p->opts.commit,
                                app->plan.digest);
  /* The default just moved, so a refresh rolling out the one before may
   * run even where no instance shows it yet: look whenever there is a
   * group. */
  if (!s->after->asg_exists) {
    follow_plan(s);
    return 0;
  }
  return kiln_observe_refresh_start(client_of(p, p->obs_index[s->i]),
                                    app->spec->autoscaling.name, p->a,
                                    s->after, on_follow_look, s);
}

static void step_done(int err, const struct kiln_execute_result *r, void *data)
{
  struct step *s = data;
  struct kiln_pass_app *app = &s->p->result.apps[s->i];

  if (r->refresh_id != NULL)
    app->started_refresh_id = r->refresh_id;
  if (s->following) {
    const char *both =
        kiln_arena_printf(s->p->a, "%s; %s", app->outcome, r->message);
    app->followed_by = s->next.action.type;
    app->follow_err = err;
    app->outcome = both != NULL ? both : r->message;
    return step_end(s);
  }
  app->exec_err = err;
  app->outcome = r->message;
  app->made_lt_version = r->lt_version;
  if (err != 0 || !leads_to_group_step(&app->plan, r))
    return step_end(s);
  err = follow_start(s, r);
  if (err != 0)
    follow_dropped(s, kiln_strerror(err));
}

static const struct kiln_app_spec *prev_of(struct pass *p,
                                           const struct kiln_app_spec *spec,
                                           const struct kiln_observed_app *o)
{
  if (o->asg_commit == NULL || p->opts.commit == NULL)
    return NULL;
  bool known;
  if (strcmp(o->asg_commit, p->opts.commit) == 0)
    return spec;
  return p->opts.prev != NULL
             ? p->opts.prev(p->opts.prev_arg, o->asg_commit, spec->name, &known)
             : NULL;
}

/* Apps whose group names an older commit that prev has not at hand:
 * their (commit, app) pairs into commits[] and apps[] (arena). */
static size_t prev_missing(struct pass *p, const char ***commits,
                           const char ***apps)
{
  size_t n = 0;
  *commits = kiln_arena_alloc(p->a, (p->result.n + 1) * sizeof(char *));
  *apps = kiln_arena_alloc(p->a, (p->result.n + 1) * sizeof(char *));
  if (*commits == NULL || *apps == NULL || p->opts.prev == NULL)
    return 0;
  for (size_t i = 0; i < p->result.n; i++) {
    const struct kiln_app_spec *spec = p->result.apps[i].spec;
    const struct kiln_observed_app *o = obs_of(p, p->obs_index[i]);
    bool known = false;
    if (o == NULL || o->asg_commit == NULL || strcmp(o->asg_commit, p->opts.commit) == 0)
      continue;
    p->opts.prev(p->opts.prev_arg, o->asg_commit, spec->name, &known);
    if (known)
      continue;
    (*commits)[n] = o->asg_commit;
    (*apps)[n++] = spec->name;
  }
  return n;
}

/* The earlier app of this pass already taking the same image step for the
 * same digest, or NULL. */
static const char *image_step_owner(const struct pass *p, size_t i)
{
  const struct kiln_plan *me = &p->result.apps[i].plan;
  if (me->action.type != KILN_ACTION_BAKE &&
      me->action.type != KILN_ACTION_TAG_IMAGE)
    return NULL;
  for (size_t j = 0; j < i; j++) {
    const struct kiln_plan *other = &p->result.apps[j].plan;
    if (other->action.type == me->action.type && other->mutates &&
        strcmp(other->digest, me->digest) == 0)
      return p->result.apps[j].spec->name;
  }
  return NULL;
}

static void plan_all(void *data);
static void observed_all(struct pass *p);

/* The plan of a target whose location could not be observed: an error
 * with the location's reason, and no step. */
static void plan_unobserved(struct kiln_pass_app *app, const char *why)
{
  struct kiln_plan *plan = &app->plan;
  memset(plan, 0, sizeof(*plan));
  plan->app = app->spec->name;
  plan->app_name = kiln_spec_app_name(app->spec);
  plan->environment = app->spec->env;
  plan->status = KILN_STATUS_ERROR;
  plan->message = why;
}

/* The target that bakes t's image (its app's first environment at the
 * image's home), or SIZE_MAX. */
static size_t home_target(const struct pass *p, size_t t)
{
  const struct kiln_spec_repo *r = p->opts.repo;
  const struct kiln_app_spec *h =
      r->apps[t].image.home_target != NULL
          ? kiln_spec_repo_find(r, r->apps[t].image.home_target)
          : NULL;
  return h != NULL && h->valid ? (size_t)(h - r->apps) : SIZE_MAX;
}

/* A target whose image is baked elsewhere takes its parent and digest
 * from its home's observation, finds the copy among its own location's
 * AMIs, and learns where the home's AMI stands. */
static int link_home(struct pass *p, size_t t)
{
  const struct kiln_app_spec *s = &p->opts.repo->apps[t];
  struct kiln_observed_app *o = obs_of(p, t);
  size_t h = p->home_of[t] = home_target(p, t);
  const struct kiln_observed_app *ho = h != SIZE_MAX ? obs_of(p, h) : NULL;
  char digest[65];

  o->home_region = s->image.home_region;
  o->home_baker = h != SIZE_MAX ? p->opts.repo->apps[h].name : NULL;
  if (ho == NULL) {
    size_t l = h != SIZE_MAX ? p->loc_of[h] : SIZE_MAX;
    o->home_error =
        l != SIZE_MAX && p->looks[l].why != NULL ? p->looks[l].why
        : h == SIZE_MAX ? "no valid environment of the app runs there"
                        : "it was not observed";
    o->parent_error = kiln_arena_printf(p->a, "cannot see the image's home "
                                              "in %s: %s",
                                        o->home_region, o->home_error);
    if (s->image.parent_kind == KILN_PARENT_SSM)
      return o->parent_error != NULL ? 0 : KILN_ENOMEM;
  } else {
    o->parent_ami = ho->parent_ami;
    o->parent_error = ho->parent_error;
    o->home_ami = ho->image_ami;
    o->home_pending = ho->image_pending;
    o->home_snapshots = ho->image_snapshots;
    o->home_n_snapshots = ho->image_n_snapshots;
    o->home_bake = ho->bake;
    o->home_bake_reason = ho->bake_reason;
    if (ho->image_ami == NULL && ho->bake == KILN_BAKE_DONE)
      o->home_bake = KILN_BAKE_RUNNING; /* baked, not yet tagged */
  }
  if (s->image.parent_kind == KILN_PARENT_SSM && o->parent_ami == NULL)
    return 0;
  if (kiln_spec_image_digest(s, o->parent_ami, digest, NULL) != 0)
    return KILN_ENOMEM;
  kiln_observation_find_image(p->looks[p->loc_of[t]].obs, digest, o);
  return 0;
}

static void observed_all(struct pass *p)
{
  size_t failed = 0;
  const char *first_why = NULL;

  for (size_t l = 0; l < p->opts.n_locations; l++)
    if (p->looks[l].err != 0) {
      failed++;
      if (first_why == NULL)
        first_why = p->looks[l].why;
    }
  if (failed == p->opts.n_locations) {
    /* Without an observation nothing can be planned: every app reports the
     * reason, and nothing is changed. */
    p->result.error = first_why != NULL ? first_why : "cannot observe AWS";
    for (size_t i = 0; i < p->result.n; i++)
      plan_unobserved(&p->result.apps[i], p->result.error);
    p->cb(KILN_EAWS, &p->result, p->data);
    return;
  }
  for (size_t i = 0; i < p->opts.repo->n_apps; i++) {
    struct kiln_observed_app *o = obs_of(p, i);
    if (o != NULL && o->image_elsewhere && link_home(p, i) != 0)
      o->home_error = "out of memory";
  }
  if (p->opts.prev_load != NULL) {
    const char **commits, **apps;
    size_t n = prev_missing(p, &commits, &apps);
    /* Older commits are read off the loop first; without them (the read
     * could not start) drift is blamed on git, as for a commit that is
     * gone. */
    if (n > 0 &&
        p->opts.prev_load(p->opts.prev_arg, commits, apps, n, plan_all, p) == 0)
      return;
  }
  plan_all(p);
}

static void observed(int err, struct kiln_observation *obs, void *data)
{
  struct look *l = data;
  const struct kiln_pass_location *at = &l->p->opts.locations[l->loc];
  l->obs = obs;
  l->err = err;
  if (err != 0) {
    const char *why = obs != NULL && obs->error != NULL ? obs->error
                                                        : kiln_strerror(err);
    l->why = at->role_arn == NULL
                 ? kiln_arena_printf(l->p->a, "%s (%s)", why, at->region)
                 : kiln_arena_printf(l->p->a, "%s (%s, account of %s)", why,
                                     at->region, at->role_arn);
    if (l->why == NULL)
      l->why = why;
  }
  if (--l->p->looking == 0)
    observed_all(l->p);
}

/* The promotion gate of app i (an environment with promote.from): the
 * source environment is planned on this pass's observation (every app of
 * the region is observed, selected or not) and judged; a closed gate holds
 * the app's plan. */
static int gate_promotion(struct pass *p, size_t i, int64_t now)
{
  struct kiln_pass_app *app = &p->result.apps[i];
  const struct kiln_app_spec *t = app->spec, *from;
  const struct kiln_observed_app *o = obs_of(p, p->obs_index[i]), *fo = NULL;
  struct kiln_plan *fplan = NULL;
  struct kiln_promotion g;
  const char *name =
      kiln_arena_printf(p->a, "%s/%s", kiln_spec_app_name(t), t->promote.from);
  int err;

  if (name == NULL)
    return KILN_ENOMEM;
  from = kiln_spec_repo_find(p->opts.repo, name);
  if (from != NULL && from->valid &&
      (fo = obs_of(p, (size_t)(from - p->opts.repo->apps))) != NULL) {
    fplan = kiln_arena_alloc(p->a, sizeof(*fplan));
    if (fplan == NULL ||
        (err = kiln_plan_app(from, p->opts.commit, fo, prev_of(p, from, fo),
                             p->a, fplan)) != 0)
      return KILN_ENOMEM;
  }
  err = kiln_promote_judge(
      t, &app->plan, o, from, fplan, fo,
      p->opts.proof != NULL ? p->opts.proof(p->opts.proof_arg, name,
                                             app->plan.digest)
                            : NULL,
      now, p->a, &g);
  if (err == 0)
    kiln_promote_hold(&app->plan, &g, p->a);
  return err;
}

/* Plans every app on the observation, holds the promotions not yet
 * proved, and starts each app's step. */
static void plan_all(void *data)
{
  struct pass *p = data;
  int64_t now = (int64_t)time(NULL);

  for (size_t i = 0; i < p->result.n; i++) {
    struct kiln_pass_app *app = &p->result.apps[i];
    const struct kiln_observed_app *o = obs_of(p, p->obs_index[i]);
    int e;
    if (o == NULL) {
      size_t l = p->loc_of[p->obs_index[i]];
      plan_unobserved(app, l != SIZE_MAX ? p->looks[l].why
                                         : "no AWS client for its location");
      continue;
    }
    e = kiln_plan_app(app->spec, p->opts.commit, o, prev_of(p, app->spec, o),
                      p->a, &app->plan);
    if (e == 0 && app->spec->promote.from != NULL)
      e = gate_promotion(p, i, now);
    if (e != 0) {
      app->exec_err = e;
      app->outcome = "out of memory while planning";
      app->plan.mutates = false;
    }
  }
  /* Held until every step has started, so none can finish the pass early. */
  p->pending = 1;
  for (size_t i = 0; i < p->result.n; i++) {
    struct kiln_pass_app *app = &p->result.apps[i];
    size_t r = p->obs_index[i];
    const struct kiln_observed_app *o = obs_of(p, r);
    struct step *s;
    int e;
    if (!p->opts.apply || !app->plan.mutates || o == NULL)
      continue;
    if (p->opts.gate != NULL &&
        !p->opts.gate(p->opts.gate_arg, app->spec->name)) {
      app->outcome = "backing off after failures; the step waits";
      continue;
    }
    /* Images are content-addressed: apps with the same image inputs share
     * one bake (and one tagging), taken by the first of them. */
    const char *owner = image_step_owner(p, i);
    if (owner != NULL) {
      app->outcome = kiln_arena_printf(
          p->a, "waiting: app %s %s image %.12s", owner,
          app->plan.action.type == KILN_ACTION_BAKE ? "bakes" : "tags",
          app->plan.digest);
      continue;
    }
    s = kiln_arena_alloc(p->a, sizeof(*s));
    if (s == NULL) {
      app->exec_err = KILN_ENOMEM;
      app->outcome = "out of memory";
      continue;
    }
    memset(s, 0, sizeof(*s));
    s->p = p;
    s->i = i;
    s->obs = o;
    app->executed = true;
    p->pending++;
    e = kiln_execute_start(client_of(p, r),
                           p->home_of[r] != SIZE_MAX ? client_of(p, p->home_of[r])
                                                     : NULL,
                           app->spec, p->opts.commit, &app->plan, o,
                           p->opts.bakes, p->a, step_done, s);
    if (e != 0) {
      p->pending--;
      app->exec_err = e;
      app->outcome = kiln_arena_printf(
          p->a, "could not start %s: %s",
          kiln_plan_action_name(app->plan.action.type), kiln_strerror(e));
    }
  }
  /* We are in the observation's (or the older commits') callback, so this
   * is asynchronous too. */
  if (--p->pending == 0)
    p->cb(0, &p->result, p->data);
}

/* The location of target s among the pass's, or SIZE_MAX. */
static size_t location_of(const struct kiln_pass_options *o,
                          const struct kiln_app_spec *s)
{
  for (size_t l = 0; l < o->n_locations; l++)
    if (kiln_spec_runs_in(s, o->locations[l].region, o->locations[l].role_arn))
      return l;
  return SIZE_MAX;
}

static void want(const struct kiln_spec_repo *r, bool *wanted,
                 const char *target)
{
  const struct kiln_app_spec *t =
      target != NULL ? kiln_spec_repo_find(r, target) : NULL;
  if (t != NULL)
    wanted[t - r->apps] = true;
}

/* The apps a pass of some targets observes: those targets, the targets
 * that bake their images and those their promotions come from. NULL: all
 * (no selection), or out of memory (then all, which is only slower). */
static const bool *wanted_apps(const struct kiln_pass_options *o,
                               struct kiln_arena *arena)
{
  const struct kiln_spec_repo *r = o->repo;
  bool *wanted;
  if (o->only_app == NULL && o->only_env == NULL)
    return NULL;
  if ((wanted = kiln_arena_alloc(arena, r->n_apps + 1)) == NULL)
    return NULL;
  for (size_t i = 0; i < r->n_apps; i++) {
    const struct kiln_app_spec *s = &r->apps[i];
    if (!s->valid || !kiln_spec_selects(s, o->only_app, o->only_env))
      continue;
    wanted[i] = true;
    want(r, wanted, s->image.home_target);
    if (s->promote.from != NULL)
      want(r, wanted,
           kiln_arena_printf(arena, "%s/%s", kiln_spec_app_name(s),
                             s->promote.from));
  }
  return wanted;
}

int kiln_pass_start(const struct kiln_pass_options *opts,
                    struct kiln_arena *arena, kiln_pass_cb *cb, void *data)
{
  const bool *wanted;
  struct pass *p = kiln_arena_alloc(arena, sizeof(*p));
  const struct kiln_spec_repo *r = opts->repo;
  size_t started = 0;

  if (p == NULL)
    return KILN_ENOMEM;
  memset(p, 0, sizeof(*p));
  p->opts = *opts;
  p->a = arena;
  p->cb = cb;
  p->data = data;
  p->result.apps =
      kiln_arena_alloc(arena, (r->n_apps + 1) * sizeof(*p->result.apps));
  p->obs_index = kiln_arena_alloc(arena, (r->n_apps + 1) * sizeof(size_t));
  p->loc_of = kiln_arena_alloc(arena, (r->n_apps + 1) * sizeof(size_t));
  p->home_of = kiln_arena_alloc(arena, (r->n_apps + 1) * sizeof(size_t));
  p->looks = kiln_arena_alloc(arena, (opts->n_locations + 1) * sizeof(*p->looks));
  if (p->result.apps == NULL || p->obs_index == NULL || p->loc_of == NULL ||
      p->home_of == NULL || p->looks == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < r->n_apps; i++) {
    const struct kiln_app_spec *s = &r->apps[i];
    p->home_of[i] = SIZE_MAX;
    p->loc_of[i] = s->valid && s->region != NULL ? location_of(opts, s)
                                                  : SIZE_MAX;
    /* An invalid app has no trustworthy location: it is reported by the
     * caller, without AWS. */
    if (!s->valid || !kiln_spec_selects(s, opts->only_app, opts->only_env))
      continue;
    p->obs_index[p->result.n] = i;
    p->result.apps[p->result.n++].spec = s;
  }
  wanted = wanted_apps(opts, arena);
  p->looking = opts->n_locations;
  for (size_t l = 0; l < opts->n_locations; l++) {
    const struct kiln_pass_location *at = &opts->locations[l];
    int err;
    p->looks[l] = (struct look){.p = p, .loc = l};
    err = kiln_observe_start(
        at->client, at->role_arn, r,
        &(struct kiln_observe_options){.bakes = opts->bakes,
                                       .memory = at->memory,
                                       .now_s = (int64_t)time(NULL),
                                       .wanted = wanted},
        arena, observed, &p->looks[l]);
    if (err != 0 && started == 0 && l + 1 == opts->n_locations)
      return err; /* nothing started: out of memory */
    if (err != 0) {
      /* The observations under way answer for this one. */
      p->looks[l].err = err;
      p->looks[l].why = "cannot observe AWS: out of memory";
      if (--p->looking == 0)
        observed_all(p); /* from a start: only when others ran already */
    } else {
      started++;
    }
  }
  return 0;
}
