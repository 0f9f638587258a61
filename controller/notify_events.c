#include "notify_events.h"

#include "kiln/error.h"
#include "kiln/pass.h"
#include "kiln/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kiln_event_target {
  char *name;
  char commit[41];    /* the commit whose release was last started */
  bool resolved;      /* ...and has ended (healthy or failed) */
  bool oob_drift;     /* drift made outside git was reported */
};

const char *kiln_event_kind_name(enum kiln_event_kind k)
{
  static const char *const names[] = {
      "release.started",  "release.healthy",   "release.failed",
      "release.rolled-back", "drift.detected", "drift.corrected",
      "fetch.failing",    "fetch.recovered",   "commit.invalid"};
  return (size_t)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

bool kiln_event_is_release(enum kiln_event_kind k)
{
  return k <= KILN_EVENT_RELEASE_ROLLED_BACK;
}

void kiln_events_init(struct kiln_events *e)
{
  memset(e, 0, sizeof(*e));
}

void kiln_events_cleanup(struct kiln_events *e)
{
  for (size_t i = 0; i < e->n; i++)
    free(e->targets[i].name);
  free(e->targets);
  memset(e, 0, sizeof(*e));
}

static struct kiln_event_target *target(struct kiln_events *e,
                                        const char *name)
{
  for (size_t i = 0; i < e->n; i++)
    if (strcmp(e->targets[i].name, name) == 0)
      return &e->targets[i];
  if (e->n == e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 16;
    struct kiln_event_target *t = realloc(e->targets, cap * sizeof(*t));
    if (t == NULL)
      return NULL;
    e->targets = t;
    e->cap = cap;
  }
  memset(&e->targets[e->n], 0, sizeof(e->targets[0]));
  if ((e->targets[e->n].name = strdup(name)) == NULL)
    return NULL;
  return &e->targets[e->n++];
}

static bool under_way(enum kiln_app_status s)
{
  return s == KILN_STATUS_PENDING || s == KILN_STATUS_PROGRESSING ||
         s == KILN_STATUS_ROLLING_OUT || s == KILN_STATUS_BAKING;
}

static bool has_oob_drift(const struct kiln_plan *p)
{
  for (size_t i = 0; i < p->n_drift; i++)
    if (p->drift[i].cause == KILN_CAUSE_OUT_OF_BAND)
      return true;
  return false;
}

static const char *first_oob(const struct kiln_plan *p, struct kiln_arena *a)
{
  for (size_t i = 0; i < p->n_drift; i++)
    if (p->drift[i].cause == KILN_CAUSE_OUT_OF_BAND)
      return kiln_arena_printf(a, "%s is %s, git says %s%s", p->drift[i].field,
                               p->drift[i].actual, p->drift[i].desired,
                               p->n_drift > 1 ? " (and more)" : "");
  return NULL;
}

/* Did AWS put the previous release back (an alarm or failed health)? */
static bool rolled_back(const struct kiln_release *r)
{
  return r->state == KILN_RELEASE_FAILED &&
         (r->cause_kind == KILN_RELEASE_CAUSE_ALARM ||
          r->cause_kind == KILN_RELEASE_CAUSE_HEALTH) &&
         r->cause != NULL && strstr(r->cause, "rolled back") != NULL;
}

static void add(struct kiln_event *out, size_t *n, enum kiln_event_kind k,
                const struct kiln_pass_app *app, const char *commit,
                const char *message)
{
  out[(*n)++] = (struct kiln_event){
      .kind = k,
      .target = app->plan.app,
      .app = app->plan.app_name,
      .environment = app->plan.environment,
      .commit = commit,
      .version = app->plan.version,
      .message = message};
}

int kiln_events_from_pass(struct kiln_events *e, const char *commit,
                          const struct kiln_pass_app *apps, size_t n,
                          struct kiln_arena *a, struct kiln_event **out,
                          size_t *n_out)
{
  *n_out = 0;
  *out = kiln_arena_alloc(a, (3 * n + 1) * sizeof(**out));
  if (*out == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const struct kiln_pass_app *app = &apps[i];
    const struct kiln_plan *p = &app->plan;
    struct kiln_event_target *t = target(e, p->app);
    bool mine = strcmp(t != NULL ? t->commit : "", commit) == 0;
    bool oob = has_oob_drift(p);

    if (t == NULL)
      return KILN_ENOMEM;
    /* Report-only or suspended apps release nothing. */
    if (app->spec->drift == KILN_DRIFT_CORRECT && !app->spec->suspend) {
      if (under_way(p->status) && !mine && !oob) {
        snprintf(t->commit, sizeof(t->commit), "%s", commit);
        t->resolved = false;
        add(*out, n_out, KILN_EVENT_RELEASE_STARTED, app, commit, p->message);
      } else if (mine && !t->resolved && p->status == KILN_STATUS_IN_SYNC) {
        t->resolved = true;
        add(*out, n_out, KILN_EVENT_RELEASE_HEALTHY, app, commit, "healthy");
      } else if (!t->resolved &&
                 (p->status == KILN_STATUS_FAILED ||
                  p->status == KILN_STATUS_DEGRADED)) {
        snprintf(t->commit, sizeof(t->commit), "%s", commit);
        t->resolved = true;
        add(*out, n_out,
            rolled_back(&p->release) ? KILN_EVENT_RELEASE_ROLLED_BACK
                                     : KILN_EVENT_RELEASE_FAILED,
            app, commit,
            p->release.cause != NULL ? p->release.cause : p->message);
      }
    }
    if (oob && !t->oob_drift)
      add(*out, n_out, KILN_EVENT_DRIFT_DETECTED, app, commit, first_oob(p, a));
    else if (!oob && t->oob_drift)
      add(*out, n_out, KILN_EVENT_DRIFT_CORRECTED, app, commit,
          p->status == KILN_STATUS_IN_SYNC ? "in sync with git again"
                                           : p->message);
    t->oob_drift = oob;
  }
  return 0;
}

const struct kiln_event *kiln_events_fetch(struct kiln_events *e, bool failing,
                                           const char *why,
                                           struct kiln_arena *a)
{
  struct kiln_event *ev;
  if (failing == e->fetch_failing)
    return NULL;
  e->fetch_failing = failing;
  ev = kiln_arena_alloc(a, sizeof(*ev));
  if (ev != NULL)
    *ev = (struct kiln_event){
        .kind = failing ? KILN_EVENT_FETCH_FAILING : KILN_EVENT_FETCH_RECOVERED,
        .message = failing ? kiln_arena_strdup(a, why) : "fetching works again"};
  return ev;
}

const struct kiln_event *kiln_events_invalid(struct kiln_events *e,
                                             const char *commit,
                                             const char *first, size_t count,
                                             struct kiln_arena *a)
{
  struct kiln_event *ev;
  if (count == 0 || strcmp(e->invalid_commit, commit) == 0)
    return NULL;
  snprintf(e->invalid_commit, sizeof(e->invalid_commit), "%s", commit);
  ev = kiln_arena_alloc(a, sizeof(*ev));
  if (ev != NULL)
    *ev = (struct kiln_event){
        .kind = KILN_EVENT_INVALID_COMMIT,
        .commit = kiln_arena_strdup(a, commit),
        .message = kiln_arena_printf(a, "%s%s", first,
                                     count > 1 ? " (and more: kiln validate "
                                                 "lists them all)"
                                               : "")};
  return ev;
}
