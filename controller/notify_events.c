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
  free(e->index);
  memset(e, 0, sizeof(*e));
}

static size_t name_hash(const char *s)
{
  size_t h = (size_t)14695981039346656037ULL;
  for (; *s != '\0'; s++)
    h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
  return h;
}

/* The index slot of name: its target's, or the empty one it would take. */
static size_t slot_of(const struct kiln_events *e, const char *name)
{
  size_t i = name_hash(name) & (e->index_cap - 1);
  while (e->index[i] != 0 && strcmp(e->targets[e->index[i] - 1].name, name) != 0)
    i = (i + 1) & (e->index_cap - 1);
  return i;
}

/* Room in the index for one more target. Returns 0 or KILN_ENOMEM. */
static int index_grow(struct kiln_events *e)
{
  size_t cap = e->index_cap != 0 ? e->index_cap : 32;
  size_t *old = e->index;
  while (cap < 2 * (e->n + 1))
    cap *= 2;
  if (cap == e->index_cap)
    return 0;
  if ((e->index = calloc(cap, sizeof(*e->index))) == NULL) {
    e->index = old;
    return KILN_ENOMEM;
  }
  e->index_cap = cap;
  for (size_t t = 0; t < e->n; t++)
    e->index[slot_of(e, e->targets[t].name)] = t + 1;
  free(old);
  return 0;
}

static struct kiln_event_target *target(struct kiln_events *e,
                                        const char *name)
{
  size_t slot;
  if (index_grow(e) != 0)
    return NULL;
  slot = slot_of(e, name);
  if (e->index[slot] != 0)
    return &e->targets[e->index[slot] - 1];
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
  e->index[slot] = e->n + 1;
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
