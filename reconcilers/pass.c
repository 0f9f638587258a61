#include "kiln/pass.h"
#include "kiln/arena.h"
#include "kiln/aws_client.h"
#include "kiln/error.h"
#include "kiln/execute.h"

#include <string.h>

struct pass {
  struct kiln_pass_options opts;
  struct kiln_arena *a;
  kiln_pass_cb *cb;
  void *data;
  struct kiln_observation *obs;
  struct kiln_pass_result result;
  size_t *obs_index; /* result app -> observation index */
  int pending;
};

struct step {
  struct pass *p;
  size_t i;
};

static void step_done(int err, const struct kiln_execute_result *r, void *data)
{
  struct step *s = data;
  struct kiln_pass_app *app = &s->p->result.apps[s->i];
  app->exec_err = err;
  app->outcome = r->message;
  app->made_lt_version = r->lt_version;
  app->started_refresh_id = r->refresh_id;
  if (--s->p->pending == 0)
    s->p->cb(0, &s->p->result, s->p->data);
}

static const struct kiln_app_spec *prev_of(struct pass *p,
                                           const struct kiln_app_spec *spec,
                                           const struct kiln_observed_app *o)
{
  if (o->asg_commit == NULL || p->opts.commit == NULL)
    return NULL;
  if (strcmp(o->asg_commit, p->opts.commit) == 0)
    return spec;
  return p->opts.prev != NULL
             ? p->opts.prev(p->opts.prev_arg, o->asg_commit, spec->name)
             : NULL;
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

static void observed(int err, struct kiln_observation *obs, void *data)
{
  struct pass *p = data;
  p->obs = obs;
  if (err != 0) {
    /* Without an observation nothing can be planned: every app reports the
     * reason, and nothing is changed. */
    p->result.error = obs->error != NULL ? obs->error : kiln_strerror(err);
    for (size_t i = 0; i < p->result.n; i++) {
      struct kiln_plan *plan = &p->result.apps[i].plan;
      memset(plan, 0, sizeof(*plan));
      plan->app = p->result.apps[i].spec->name;
      plan->status = KILN_STATUS_ERROR;
      plan->message = p->result.error;
    }
    p->cb(err, &p->result, p->data);
    return;
  }
  /* Held until every step has started, so none can finish the pass early. */
  p->pending = 1;
  for (size_t i = 0; i < p->result.n; i++) {
    struct kiln_pass_app *app = &p->result.apps[i];
    const struct kiln_observed_app *o = &obs->apps[p->obs_index[i]];
    struct step *s;
    int e = kiln_plan_app(app->spec, p->opts.commit, o,
                          prev_of(p, app->spec, o), p->a, &app->plan);
    if (e != 0) {
      app->exec_err = e;
      app->outcome = "out of memory while planning";
      continue;
    }
    if (!p->opts.apply || !app->plan.mutates)
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
    s->p = p;
    s->i = i;
    app->executed = true;
    p->pending++;
    e = kiln_execute_start(p->opts.client, app->spec, p->opts.commit,
                           &app->plan, o, p->opts.bakes, p->a, step_done, s);
    if (e != 0) {
      p->pending--;
      app->exec_err = e;
      app->outcome = kiln_arena_printf(
          p->a, "could not start %s: %s",
          kiln_plan_action_name(app->plan.action.type), kiln_strerror(e));
    }
  }
  /* We are in the observation's callback, so this is asynchronous too. */
  if (--p->pending == 0)
    p->cb(0, &p->result, p->data);
}

int kiln_pass_start(const struct kiln_pass_options *opts,
                    struct kiln_arena *arena, kiln_pass_cb *cb, void *data)
{
  struct pass *p = kiln_arena_alloc(arena, sizeof(*p));
  const struct kiln_spec_repo *r = opts->repo;
  const char *region = kiln_aws_client_region(opts->client);

  if (p == NULL)
    return KILN_ENOMEM;
  p->opts = *opts;
  p->a = arena;
  p->cb = cb;
  p->data = data;
  p->result.apps =
      kiln_arena_alloc(arena, (r->n_apps + 1) * sizeof(*p->result.apps));
  p->obs_index = kiln_arena_alloc(arena, (r->n_apps + 1) * sizeof(size_t));
  if (p->result.apps == NULL || p->obs_index == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < r->n_apps; i++) {
    const struct kiln_app_spec *s = &r->apps[i];
    if (opts->only_app != NULL && strcmp(s->name, opts->only_app) != 0)
      continue;
    /* An invalid app has no trustworthy region: it is reported by the
     * caller, once, not per region. */
    if (!s->valid || s->region == NULL || strcmp(s->region, region) != 0)
      continue;
    p->obs_index[p->result.n] = i;
    p->result.apps[p->result.n++].spec = s;
  }
  return kiln_observe_start(opts->client, r, opts->bakes, arena, observed, p);
}
