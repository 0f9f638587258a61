#include "kiln/release.h"

#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/observed.h"
#include "kiln/spec.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* AWS's CheckpointDelay when CheckpointPercentages has none. */
#define DEFAULT_CHECKPOINT_DELAY_S 3600

/* Every instance of the group runs version (and there is one). */
static bool group_on(const struct kiln_observed_app *o, int64_t version)
{
  return o->asg_exists && o->asg_instances > 0 && o->asg_instances_stale == 0 &&
         o->lt_default_version == version;
}

static bool contains_nocase(const char *hay, const char *needle)
{
  size_t n = strlen(needle);
  for (; hay != NULL && *hay != '\0'; hay++)
    if (strncasecmp(hay, needle, n) == 0)
      return true;
  return false;
}

/* When the refresh's last replacement finished warming up: AWS counts a
 * checkpoint's delay and the bake time from there. 0: not known. */
static int64_t warm_since(const struct kiln_observed_app *o)
{
  int64_t warmup =
      o->refresh_warmup_s >= 0 ? o->refresh_warmup_s : o->asg_grace_seconds;
  return o->last_launch_s > 0 ? o->last_launch_s + warmup : 0;
}

/* The checkpoint a refresh waits at or heads for, and until when it waits.
 * AWS replaces no more than a checkpoint needs and then waits, so a
 * refresh waits at checkpoint cp while its percentage is within one
 * instance of cp (cp <= percent < cp + 100/N, N the group's instances);
 * once the delay is over the next batch moves it past that. */
static void place_checkpoint(const struct kiln_observed_app *o,
                             struct kiln_release *out)
{
  int64_t n = o->asg_instances > 0 ? (int64_t)o->asg_instances : o->asg_desired;
  int64_t pct = o->refresh_percent;
  for (size_t i = 0; i < o->refresh_n_checkpoints && pct > 0; i++) {
    int64_t cp = o->refresh_checkpoints[i];
    if (cp < 100 && cp <= pct && (pct - cp) * (n > 0 ? n : 1) < 100) {
      out->checkpoint = cp;
      out->at_checkpoint = true;
      if (warm_since(o) > 0)
        out->checkpoint_until_s =
            warm_since(o) + (o->refresh_checkpoint_delay_s >= 0
                                 ? o->refresh_checkpoint_delay_s
                                 : DEFAULT_CHECKPOINT_DELAY_S);
      return;
    }
  }
  out->checkpoint = kiln_release_checkpoint(
      o->refresh_checkpoints, o->refresh_n_checkpoints, pct + (pct > 0));
}

static enum kiln_release_cause classify(const struct kiln_observed_app *o,
                                        const struct kiln_strs *alarms,
                                        const char **alarm)
{
  const char *why = o->refresh_reason;
  *alarm = NULL;
  if (kiln_observed_refresh_is(o, "Cancelled"))
    return KILN_RELEASE_CAUSE_CANCELLED;
  if (kiln_observed_refresh_is(o, "RollbackFailed"))
    return KILN_RELEASE_CAUSE_ROLLBACK;
  for (size_t i = 0; alarms != NULL && i < alarms->n; i++)
    if (why != NULL && strstr(why, alarms->items[i]) != NULL) {
      *alarm = alarms->items[i];
      return KILN_RELEASE_CAUSE_ALARM;
    }
  if (contains_nocase(why, "alarm"))
    return KILN_RELEASE_CAUSE_ALARM;
  if (o->failed_launches > 0 || contains_nocase(why, "launch"))
    return KILN_RELEASE_CAUSE_LAUNCH;
  if (contains_nocase(why, "health"))
    return KILN_RELEASE_CAUSE_HEALTH;
  return KILN_RELEASE_CAUSE_OTHER;
}

/* prefix + "13:58:02 UTC"; "" when t is not known. */
static const char *clock_of(const char *prefix, int64_t t, struct kiln_arena *a)
{
  struct tm tm;
  time_t tt = (time_t)t;
  char buf[32];
  if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
      strftime(buf, sizeof(buf), "%H:%M:%S UTC", &tm) == 0)
    return "";
  return kiln_arena_printf(a, "%s%s", prefix, buf);
}

/* What happened, in the kind's words. */
static const char *what_failed(const struct kiln_observed_app *o,
                               enum kiln_release_cause kind,
                               const char *alarm, int64_t at,
                               struct kiln_arena *a)
{
  const char *why = o->refresh_reason != NULL ? o->refresh_reason
                                              : "AWS gave no reason";
  const char *when = clock_of(" at ", at, a);
  if (when == NULL)
    return NULL;
  switch (kind) {
  case KILN_RELEASE_CAUSE_ALARM:
    return alarm != NULL
               ? kiln_arena_printf(a, "alarm %s in ALARM%s", alarm, when)
               : kiln_arena_printf(a, "an alarm went into ALARM%s (AWS: %s)",
                                   when, why);
  case KILN_RELEASE_CAUSE_LAUNCH:
    return kiln_arena_printf(
        a, "replacement instances could not be launched%s: %s", when,
        o->failed_launch_message != NULL ? o->failed_launch_message : why);
  case KILN_RELEASE_CAUSE_HEALTH:
    return kiln_arena_printf(
        a, "replacement instances failed their health checks%s (AWS: %s)",
        when, why);
  case KILN_RELEASE_CAUSE_CANCELLED:
    return kiln_arena_printf(
        a, "the instance refresh was cancelled outside Kiln%s", when);
  case KILN_RELEASE_CAUSE_ROLLBACK:
    return kiln_arena_printf(a, "AWS's rollback failed%s: %s", when, why);
  default:
    return kiln_arena_printf(a, "the instance refresh failed%s: %s", when,
                             why);
  }
}

/* What AWS did about it, and what to do. */
static const char *what_followed(const struct kiln_observed_app *o,
                                 struct kiln_arena *a)
{
  if (kiln_observed_refresh_is(o, "RollbackSuccessful"))
    return o->asg_lt_version != NULL && o->asg_lt_version[0] != '$'
               ? kiln_arena_printf(a, "; AWS rolled back to version %s",
                                   o->asg_lt_version)
               : "; AWS rolled back to the previous version";
  if (kiln_observed_refresh_is(o, "RollbackInProgress"))
    return "; AWS is rolling back to the previous version";
  if (kiln_observed_refresh_is(o, "RollbackFailed"))
    return "; the group is between releases and Kiln will not retry: fix "
           "the cause (the group's scaling activities say more), then "
           "commit a fixed version or revert";
  return kiln_arena_printf(
      a,
      "; AWS stopped at %lld%% with no rollback: instances already replaced "
      "keep the new version until git changes",
      (long long)o->refresh_percent);
}

static int explain_failure(const struct kiln_observed_app *o,
                           const struct kiln_strs *alarms,
                           struct kiln_arena *a, struct kiln_release *out)
{
  const char *alarm, *what, *then;
  out->cause_kind = classify(o, alarms, &alarm);
  out->failed_at_s = o->refresh_rollback_start_s > 0
                         ? o->refresh_rollback_start_s
                         : o->refresh_end_s;
  what = what_failed(o, out->cause_kind, alarm, out->failed_at_s, a);
  then = what_followed(o, a);
  if (what == NULL || then == NULL ||
      (out->cause = kiln_arena_printf(a, "%s%s", what, then)) == NULL)
    return KILN_ENOMEM;
  return 0;
}

int kiln_release_derive(const struct kiln_observed_app *o, int64_t version,
                        const struct kiln_strs *alarms, struct kiln_arena *a,
                        struct kiln_release *out)
{
  memset(out, 0, sizeof(*out));
  out->version = version;
  out->alarms = alarms != NULL ? alarms->n : 0;
  if (version == 0)
    return 0;
  if (o->refresh_id == NULL || o->refresh_version != version) {
    /* No refresh carries this version: it is healthy once every instance
     * runs it (say, a group that was empty, or a revert already done). */
    if (group_on(o, version)) {
      out->state = KILN_RELEASE_HEALTHY;
      out->percent = 100;
      out->healthy_since_s =
          version == o->lt_default_version ? o->lt_default_created_s : 0;
    }
    return 0;
  }
  out->refresh_id = o->refresh_id;
  out->percent = o->refresh_percent;
  out->status_reason = o->refresh_reason;
  if (kiln_observed_refresh_is(o, "Pending") || kiln_observed_refresh_is(o, "InProgress") ||
      kiln_observed_refresh_is(o, "Cancelling")) {
    out->state = KILN_RELEASE_ROLLING_OUT;
    place_checkpoint(o, out);
  } else if (kiln_observed_refresh_is(o, "Baking")) {
    out->state = KILN_RELEASE_BAKING;
    out->percent = 100;
    out->bake_time_s = o->refresh_bake_time_s > 0 ? o->refresh_bake_time_s : 0;
    if (warm_since(o) > 0)
      out->bake_until_s = warm_since(o) + out->bake_time_s;
  } else if (kiln_observed_refresh_is(o, "Successful")) {
    out->state = KILN_RELEASE_HEALTHY;
    out->percent = 100;
    out->healthy_since_s = o->refresh_end_s;
  } else if (kiln_observed_refresh_is(o, "RollbackInProgress")) {
    out->state = KILN_RELEASE_ROLLING_BACK;
    return explain_failure(o, alarms, a, out);
  } else if (kiln_observed_refresh_is(o, "RollbackFailed")) {
    out->state = KILN_RELEASE_DEGRADED;
    return explain_failure(o, alarms, a, out);
  } else if (kiln_observed_refresh_is(o, "Failed") || kiln_observed_refresh_is(o, "Cancelled") ||
             kiln_observed_refresh_is(o, "RollbackSuccessful")) {
    out->state = KILN_RELEASE_FAILED;
    return explain_failure(o, alarms, a, out);
  }
  return 0;
}

int64_t kiln_release_checkpoint(const int64_t *checkpoints, size_t n,
                                int64_t percent)
{
  for (size_t i = 0; i < n; i++)
    if (checkpoints[i] >= percent && checkpoints[i] < 100)
      return checkpoints[i];
  return 0;
}

const char *kiln_release_state_name(enum kiln_release_state s)
{
  static const char *const names[] = {"none",    "rolling-out",  "baking",
                                      "healthy", "rolling-back", "failed",
                                      "degraded"};
  return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *kiln_release_cause_name(enum kiln_release_cause c)
{
  static const char *const names[] = {
      "none",      "alarm",           "health", "launch",
      "cancelled", "rollback-failed", "bake",   "other"};
  return (size_t)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

const char *kiln_release_span(int64_t s, struct kiln_arena *a)
{
  if (s < 0)
    s = 0;
  if (s < 60)
    return kiln_arena_printf(a, "%llds", (long long)s);
  if (s < 3600)
    return kiln_arena_printf(a, "%lldm", (long long)(s / 60));
  return s % 3600 >= 60 ? kiln_arena_printf(a, "%lldh%lldm",
                                            (long long)(s / 3600),
                                            (long long)(s % 3600 / 60))
                        : kiln_arena_printf(a, "%lldh", (long long)(s / 3600));
}

static const char *describe_rollout(const struct kiln_release *r, int64_t now,
                                    struct kiln_arena *a)
{
  long long pct = (long long)r->percent, cp = (long long)r->checkpoint;
  if (r->at_checkpoint && r->checkpoint_until_s > now) {
    const char *until = clock_of(" until ", r->checkpoint_until_s, a);
    return until == NULL ? NULL
                         : kiln_arena_printf(a,
                                             "rolling out %lld%% — waiting at "
                                             "checkpoint %lld%%%s",
                                             pct, cp, until);
  }
  if (r->at_checkpoint && r->checkpoint_until_s > 0)
    return kiln_arena_printf(
        a, "rolling out %lld%% — checkpoint %lld%% delay over, continuing",
        pct, cp);
  if (r->at_checkpoint)
    return kiln_arena_printf(a, "rolling out %lld%% — at checkpoint %lld%%",
                             pct, cp);
  if (r->status_reason != NULL)
    return kiln_arena_printf(a, "rolling out %lld%% — AWS: %s", pct,
                             r->status_reason);
  if (cp > 0)
    return kiln_arena_printf(a, "rolling out %lld%%, next checkpoint %lld%%",
                             pct, cp);
  return kiln_arena_printf(a, "rolling out %lld%%", pct);
}

static const char *describe_bake(const struct kiln_release *r, int64_t now,
                                 struct kiln_arena *a)
{
  const char *alarms = r->alarms > 0 ? ", alarms OK" : "";
  if (r->bake_until_s > 0) {
    int64_t left = r->bake_until_s - now;
    int64_t done = r->bake_time_s - (left > 0 ? left : 0);
    const char *d = kiln_release_span(done, a),
               *t = kiln_release_span(r->bake_time_s, a);
    return d == NULL || t == NULL
               ? NULL
               : kiln_arena_printf(a, "baking %s of %s%s", d, t, alarms);
  }
  if (r->bake_time_s > 0) {
    const char *t = kiln_release_span(r->bake_time_s, a);
    return t == NULL ? NULL
                     : kiln_arena_printf(a, "baking (bake time %s)%s", t,
                                         alarms);
  }
  return kiln_arena_printf(a, "baking%s", alarms);
}

const char *kiln_release_describe(const struct kiln_release *r, int64_t now,
                                  struct kiln_arena *a)
{
  switch (r->state) {
  case KILN_RELEASE_ROLLING_OUT:
    return describe_rollout(r, now, a);
  case KILN_RELEASE_BAKING:
    return describe_bake(r, now, a);
  case KILN_RELEASE_HEALTHY:
    return "healthy";
  case KILN_RELEASE_ROLLING_BACK:
    return kiln_arena_printf(a, "rolling back: %s", r->cause);
  case KILN_RELEASE_FAILED:
    return kiln_arena_printf(a, "failed: %s", r->cause);
  case KILN_RELEASE_DEGRADED:
    return kiln_arena_printf(a, "degraded: %s", r->cause);
  default:
    return NULL;
  }
}
