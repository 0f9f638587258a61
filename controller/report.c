#include "kiln/json_text.h"
#include "kiln/report.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/arena.h"
#include "kiln/release.h"

#include <json-c/json.h>
#include <string.h>
#include <time.h>

static json_object *str_or_null(const char *s)
{
  return s != NULL ? kiln_json_string(s) : NULL;
}

/* A drift value: a tag map is a JSON object (its keys and values may hold
 * "," and "="), anything else a string. */
static json_object *drift_value(const struct kiln_drift *d, const char *text)
{
  json_object *o = NULL;
  if (kiln_plan_drift_is_tags(d))
    o = json_tokener_parse(text);
  if (o != NULL && json_object_is_type(o, json_type_object))
    return o;
  json_object_put(o);
  return kiln_json_string(text);
}

static json_object *action_json(const struct kiln_plan *p)
{
  const struct kiln_action *a = &p->action;
  json_object *o = json_object_new_object();

  json_object_object_add(o, "type",
                         kiln_json_string(kiln_plan_action_name(a->type)));
  if (a->digest != NULL)
    json_object_object_add(o, "digest", kiln_json_string(a->digest));
  if (a->ami_id != NULL)
    json_object_object_add(o, "ami", kiln_json_string(a->ami_id));
  if (a->lt_version != 0)
    json_object_object_add(o, "launch_template_version",
                           json_object_new_int64(a->lt_version));
  if (a->type == KILN_ACTION_ASG_UPDATE) {
    json_object_object_add(o, "set_capacity",
                           json_object_new_boolean(a->set_capacity));
    json_object_object_add(o, "set_launch_template_version",
                           json_object_new_boolean(a->set_lt_version));
    json_object_object_add(o, "set_subnets",
                           json_object_new_boolean(a->set_subnets));
  }
  if (a->refresh_id != NULL)
    json_object_object_add(o, "refresh_id", kiln_json_string(a->refresh_id));
  json_object_object_add(o, "mutates", json_object_new_boolean(p->mutates));
  json_object_object_add(o, "reason", str_or_null(a->reason));
  return o;
}

/* "2026-12-04T13:58:02Z"; null when t is not known. */
static json_object *iso_time(int64_t t)
{
  struct tm tm;
  time_t tt = (time_t)t;
  char buf[32];
  if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
      strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    return NULL;
  return json_object_new_string(buf);
}

/* {"state", "summary", "launch_template_version", "refresh_id", "percent",
 *  "checkpoint", "checkpoint_until", "bake_remaining_s", "cause",
 *  "cause_kind", "failed_at", "status_reason"}, or null before the version
 * git wants is known. */
static json_object *release_json(const struct kiln_release *r, int64_t now)
{
  json_object *o;
  struct kiln_arena a;
  const char *summary;
  if (r->version == 0 && r->state == KILN_RELEASE_NONE)
    return NULL;
  kiln_arena_init(&a, 0);
  o = json_object_new_object();
  json_object_object_add(
      o, "state", json_object_new_string(kiln_release_state_name(r->state)));
  summary = kiln_release_describe(r, now, &a);
  json_object_object_add(o, "summary", str_or_null(summary));
  kiln_arena_cleanup(&a);
  json_object_object_add(o, "launch_template_version",
                         r->version > 0 ? json_object_new_int64(r->version)
                                        : NULL);
  json_object_object_add(o, "refresh_id", kiln_json_string(r->refresh_id));
  json_object_object_add(o, "percent", json_object_new_int64(r->percent));
  json_object_object_add(o, "checkpoint",
                         r->checkpoint > 0
                             ? json_object_new_int64(r->checkpoint)
                             : NULL);
  json_object_object_add(o, "checkpoint_until",
                         r->at_checkpoint ? iso_time(r->checkpoint_until_s)
                                          : NULL);
  json_object_object_add(
      o, "bake_remaining_s",
      r->state == KILN_RELEASE_BAKING && r->bake_until_s > 0
          ? json_object_new_int64(r->bake_until_s > now ? r->bake_until_s - now
                                                        : 0)
          : NULL);
  json_object_object_add(o, "cause", kiln_json_string(r->cause));
  json_object_object_add(
      o, "cause_kind",
      r->cause_kind != KILN_RELEASE_CAUSE_NONE
          ? json_object_new_string(kiln_release_cause_name(r->cause_kind))
          : NULL);
  json_object_object_add(o, "failed_at", iso_time(r->failed_at_s));
  json_object_object_add(o, "status_reason", kiln_json_string(r->status_reason));
  return o;
}

json_object *kiln_report_plan_json(const struct kiln_plan *p, int64_t now)
{
  json_object *o = json_object_new_object();
  json_object *drift = json_object_new_array();
  json_object *actions = json_object_new_array();

  json_object_object_add(o, "name", kiln_json_string(p->app));
  json_object_object_add(o, "app", str_or_null(p->app_name != NULL ? p->app_name
                                                                  : p->app));
  json_object_object_add(o, "environment", str_or_null(p->environment));
  json_object_object_add(o, "status",
                         kiln_json_string(kiln_plan_status_name(p->status)));
  json_object_object_add(o, "version", kiln_json_string(p->version));
  json_object_object_add(o, "ami", kiln_json_string(p->ami));
  json_object_object_add(o, "running_ami", kiln_json_string(p->running_ami));
  json_object_object_add(
      o, "digest", p->digest[0] != '\0' ? kiln_json_string(p->digest) : NULL);
  json_object_object_add(o, "bake_needed",
                         json_object_new_boolean(p->bake_needed));
  for (size_t i = 0; i < p->n_drift; i++) {
    json_object *d = json_object_new_object();
    json_object_object_add(d, "field", kiln_json_string(p->drift[i].field));
    json_object_object_add(d, "desired",
                           drift_value(&p->drift[i], p->drift[i].desired));
    json_object_object_add(d, "actual",
                           drift_value(&p->drift[i], p->drift[i].actual));
    json_object_object_add(
        d, "cause", kiln_json_string(kiln_plan_cause_name(p->drift[i].cause)));
    json_object_array_add(drift, d);
  }
  if (p->action.type != KILN_ACTION_NONE)
    json_object_array_add(actions, action_json(p));
  json_object_object_add(o, "release", release_json(&p->release, now));
  json_object_object_add(o, "drift", drift);
  json_object_object_add(o, "actions", actions);
  json_object_object_add(o, "message", str_or_null(p->message));
  json_object_object_add(
      o, "error",
      p->status == KILN_STATUS_ERROR || p->status == KILN_STATUS_FAILED ||
              p->status == KILN_STATUS_DEGRADED
          ? str_or_null(p->message)
          : NULL);
  return o;
}

json_object *kiln_report_plans_json(const char *commit,
                                    const struct kiln_plan *plans, size_t n,
                                    int64_t now, bool drifting_only)
{
  json_object *root = json_object_new_object();
  json_object *apps = json_object_new_array();
  json_object_object_add(root, "commit", str_or_null(commit));
  for (size_t i = 0; i < n; i++)
    if (!drifting_only || plans[i].n_drift > 0)
      json_object_array_add(apps, kiln_report_plan_json(&plans[i], now));
  json_object_object_add(root, "apps", apps);
  return root;
}

static size_t width_of(const struct kiln_plan *plans, size_t n)
{
  size_t w = 3;
  for (size_t i = 0; i < n; i++)
    if (strlen(plans[i].app) > w)
      w = strlen(plans[i].app);
  return w < 40 ? w : 40;
}

/* "    release of version 4: rolling out 40% — waiting at checkpoint 50%
 * until 14:05:00 UTC" */
static int release_line(const struct kiln_release *r, int64_t now, int w,
                        struct kiln_buf *out)
{
  struct kiln_arena a;
  const char *what;
  int err;
  kiln_arena_init(&a, 0);
  what = kiln_release_describe(r, now, &a);
  err = r->version > 0
                ? kiln_buf_printf(out, "%-*s    release of version %lld: %s\n",
                                  w, "", (long long)r->version,
                                  what != NULL ? what : "?")
                : kiln_buf_printf(out, "%-*s    release: %s\n", w, "",
                                  what != NULL ? what : "?");
  kiln_arena_cleanup(&a);
  return err;
}

int kiln_report_plans_text(const char *commit, const struct kiln_plan *plans,
                           size_t n, int64_t now, struct kiln_buf *out)
{
  size_t counts[KILN_STATUS_COUNT] = {0};
  size_t bakes = 0, hits = 0;
  int w = (int)width_of(plans, n);
  int err = 0;

  err |= kiln_buf_printf(out, "commit %s\n\n", commit != NULL ? commit : "?");
  err |= kiln_buf_printf(out, "%-*s  %-11s  %s\n", w, "APP", "STATUS",
                         "NEXT STEP");
  for (size_t i = 0; i < n && err == 0; i++) {
    const struct kiln_plan *p = &plans[i];
    counts[p->status]++;
    if (p->digest[0] != '\0')
      p->bake_needed ? bakes++ : hits++;
    err |= kiln_buf_printf(
        out, "%-*s  %-11s  %s\n", w, p->app, kiln_plan_status_name(p->status),
        p->message != NULL && p->message[0] != '\0' ? p->message : "-");
    if (p->release.state != KILN_RELEASE_NONE &&
        p->release.state != KILN_RELEASE_HEALTHY)
      err |= release_line(&p->release, now, w, out);
    for (size_t j = 0; j < p->n_drift && err == 0; j++)
      err |= kiln_buf_printf(out, "%-*s    %-36s %s -> %s  [%s]\n", w, "",
                             p->drift[j].field, p->drift[j].actual,
                             p->drift[j].desired,
                             kiln_plan_cause_name(p->drift[j].cause));
  }
  if (err != 0)
    return KILN_ENOMEM;
  err = kiln_buf_printf(out, "\n%zu app%s:", n, n == 1 ? "" : "s");
  for (int s = 0; s < KILN_STATUS_COUNT && err == 0; s++)
    if (counts[s] > 0)
      err = kiln_buf_printf(out, " %zu %s", counts[s],
                            kiln_plan_status_name((enum kiln_app_status)s));
  if (err == 0)
    err = kiln_buf_printf(out, ". Images: %zu to bake, %zu already baked.\n",
                          bakes, hits);
  return err != 0 ? KILN_ENOMEM : 0;
}
