#include "status.h"
#include "kiln/str.h"

#include "kiln/json_text.h"
#include "kiln/error.h"
#include "kiln/pass.h"
#include "kiln/report.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void kiln_status_init(struct kiln_status *st)
{
  memset(st, 0, sizeof(*st));
  kiln_arena_init(&st->arena, 0);
}

void kiln_status_cleanup(struct kiln_status *st)
{
  for (size_t i = 0; i < st->n_failures; i++) {
    free(st->failures[i].app);
    free(st->failures[i].last_key);
  }
  free(st->failures);
  kiln_arena_cleanup(&st->arena);
  memset(st, 0, sizeof(*st));
}

/* A copy of s in a, NULL for NULL; *ok turns false when out of memory. */
static const char *dup(struct kiln_arena *a, const char *s, bool *ok)
{
  char *d;
  if (s == NULL)
    return NULL;
  d = kiln_arena_strdup(a, s);
  *ok &= d != NULL;
  return d;
}

/* Copies what reports read of a plan; the launch template data an action
 * carries is the executor's, not the report's, and is left out. */
static bool copy_plan(struct kiln_arena *a, struct kiln_plan *to,
                      const struct kiln_plan *from)
{
  bool ok = true;

  *to = *from;
  to->app = dup(a, from->app, &ok);
  to->app_name = dup(a, from->app_name, &ok);
  to->environment = dup(a, from->environment, &ok);
  to->version = dup(a, from->version, &ok);
  to->ami = dup(a, from->ami, &ok);
  to->running_ami = dup(a, from->running_ami, &ok);
  to->message = dup(a, from->message, &ok);
  to->action.digest = dup(a, from->action.digest, &ok);
  to->action.ami_id = dup(a, from->action.ami_id, &ok);
  to->action.lt_data = NULL;
  /* A copy's source is the executor's too. */
  to->action.source_ami = dup(a, from->action.source_ami, &ok);
  to->action.source_region = dup(a, from->action.source_region, &ok);
  to->action.source_snapshots = NULL;
  to->action.n_source_snapshots = 0;
  to->action.share_with = dup(a, from->action.share_with, &ok);
  /* The executor's tag plan, like the template data, is not reported. */
  memset(&to->group_tags, 0, sizeof(to->group_tags));
  memset(&to->lt_tags, 0, sizeof(to->lt_tags));
  to->action.refresh_id = dup(a, from->action.refresh_id, &ok);
  to->action.rebake_of = dup(a, from->action.rebake_of, &ok);
  to->action.reason = dup(a, from->action.reason, &ok);
  to->release.refresh_id = dup(a, from->release.refresh_id, &ok);
  to->release.cause = dup(a, from->release.cause, &ok);
  to->release.status_reason = dup(a, from->release.status_reason, &ok);
  to->drift = NULL;
  if (from->n_drift > 0) {
    to->drift = kiln_arena_alloc(a, from->n_drift * sizeof(*to->drift));
    if (to->drift == NULL)
      return false;
    for (size_t i = 0; i < from->n_drift; i++) {
      to->drift[i] = from->drift[i];
      to->drift[i].field = dup(a, from->drift[i].field, &ok);
      to->drift[i].desired = dup(a, from->drift[i].desired, &ok);
      to->drift[i].actual = dup(a, from->drift[i].actual, &ok);
    }
  }
  return ok;
}

static bool in_flight_bake(const struct kiln_pass_app *a)
{
  return a->plan.action.type == KILN_ACTION_WAIT_BAKE ||
         a->plan.action.type == KILN_ACTION_BAKE;
}

static bool in_flight_refresh(const struct kiln_pass_app *a)
{
  return a->plan.action.type == KILN_ACTION_WAIT_REFRESH ||
         a->plan.action.type == KILN_ACTION_REFRESH_START ||
         a->started_refresh_id != NULL;
}

static bool release_failed(const struct kiln_release *r)
{
  return r->state == KILN_RELEASE_FAILED || r->state == KILN_RELEASE_DEGRADED;
}

static int cmp_failures(const void *a, const void *b)
{
  const struct kiln_status_failures *x = a, *y = b;
  return strcmp(x->app, y->app);
}

/* The tally of app in st, made when missing; NULL when out of memory. */
static struct kiln_status_failures *tally_of(struct kiln_status *st,
                                            const char *app)
{
  struct kiln_status_failures key = {.app = (char *)app}, *f = NULL, *grown;
  if (st->n_failures > 0)
    f = bsearch(&key, st->failures, st->n_failures, sizeof(key), cmp_failures);
  if (f != NULL)
    return f;
  grown = realloc(st->failures, (st->n_failures + 1) * sizeof(*grown));
  if (grown == NULL)
    return NULL;
  st->failures = grown;
  if ((key.app = strdup(app)) == NULL)
    return NULL;
  st->failures[st->n_failures++] = key;
  qsort(st->failures, st->n_failures, sizeof(key), cmp_failures);
  return bsearch(&key, st->failures, st->n_failures, sizeof(key),
                 cmp_failures);
}

/* Counts the release of p if it failed and was not counted yet. A release
 * is told by its version and refresh, or, for a bake that failed (no
 * version yet), by its image digest. */
static int count_failure(struct kiln_status *st, const struct kiln_plan *p)
{
  const struct kiln_release *r = &p->release;
  const char *key = r->refresh_id != NULL ? r->refresh_id : p->digest;
  struct kiln_status_failures *f;
  char *copy;
  if (!release_failed(r))
    return 0;
  if ((f = tally_of(st, p->app)) == NULL)
    return KILN_ENOMEM;
  if (f->last_version == r->version && kiln_str_eq(f->last_key, key))
    return 0;
  if ((copy = strdup(key)) == NULL)
    return KILN_ENOMEM;
  free(f->last_key);
  f->last_key = copy;
  f->last_version = r->version;
  f->count[r->cause_kind]++;
  return 0;
}

int kiln_status_set(struct kiln_status *out, const char *commit,
                    const struct kiln_pass_app *apps, size_t n,
                    const char *error)
{
  struct kiln_status st;
  bool ok = true;

  kiln_status_init(&st);
  st.commit = dup(&st.arena, commit, &ok);
  st.error = dup(&st.arena, error, &ok);
  st.plans = kiln_arena_alloc(&st.arena, (n + 1) * sizeof(*st.plans));
  ok &= st.plans != NULL;
  for (size_t i = 0; ok && i < n; i++) {
    ok = copy_plan(&st.arena, &st.plans[i], &apps[i].plan);
    if ((unsigned)apps[i].plan.status < KILN_STATUS_COUNT)
      st.by_status[apps[i].plan.status]++;
    st.bakes_in_flight += in_flight_bake(&apps[i]);
    st.refreshes_in_flight += in_flight_refresh(&apps[i]);
  }
  if (!ok) {
    kiln_status_cleanup(&st);
    return KILN_ENOMEM;
  }
  st.n = n;
  /* The tally moves to the new status, counting what failed since. */
  st.failures = out->failures;
  st.n_failures = out->n_failures;
  out->failures = NULL;
  out->n_failures = 0;
  for (size_t i = 0; i < n; i++)
    if (count_failure(&st, &st.plans[i]) != 0)
      break; /* out of memory: the count is short, nothing else is lost */
  kiln_status_cleanup(out);
  *out = st;
  return 0;
}

const struct kiln_plan *kiln_status_find(const struct kiln_status *st,
                                         const char *app)
{
  size_t lo = 0, hi = st->n;
  /* Plans are sorted by app (the pass sorts them). */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(st->plans[mid].app, app);
    if (c == 0)
      return &st->plans[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

json_object *kiln_status_json(const struct kiln_status *st, bool drifting_only)
{
  json_object *o = kiln_report_plans_json(st->commit, st->plans, st->n,
                                          time(NULL), drifting_only);
  if (o != NULL && st->error != NULL)
    json_object_object_add(o, "error", kiln_json_string(st->error));
  return o;
}
