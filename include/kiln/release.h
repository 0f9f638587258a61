/* A release: one app at one commit, with one image digest and one launch
 * template version, on its way into the group. Its state is derived here,
 * in one place, from the marks AWS keeps (the group's latest instance
 * refresh: its desired version, status, progress and reason; the group's
 * instances), so every reader (plan, apply, the API, metrics) tells the same
 * story, and a restarted Kiln derives the same state from AWS alone.
 *
 *   rolling-out   a refresh to this version is Pending or InProgress
 *   baking        it replaced every instance; AWS watches the alarms for
 *                 the bake time (Baking)
 *   healthy       the refresh ended Successful, or every instance runs the
 *                 version with no refresh needed
 *   rolling-back  AWS is putting the previous release back
 *                 (RollbackInProgress)
 *   failed        the refresh Failed, was Cancelled, or AWS rolled it back
 *                 (RollbackSuccessful): the previous release serves
 *   degraded      AWS's rollback itself failed (RollbackFailed): the group
 *                 is between releases and needs a person
 *
 * A group whose instances all run the version its template defaults to
 * costs no refresh lookup (observe saves that request), so a healthy
 * release in steady state names no refresh.
 *
 * Pure.
 */
#ifndef KILN_RELEASE_H
#define KILN_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kiln_arena;
struct kiln_observed_app;
struct kiln_strs;

enum kiln_release_state {
  KILN_RELEASE_NONE, /* nothing known for this version yet */
  KILN_RELEASE_ROLLING_OUT,
  KILN_RELEASE_BAKING,
  KILN_RELEASE_HEALTHY,
  KILN_RELEASE_ROLLING_BACK,
  KILN_RELEASE_FAILED,
  KILN_RELEASE_DEGRADED,
};

/* Why a release failed, in the kinds an operator acts on differently (and
 * /metrics counts: kiln_release_failures_total{cause}). */
enum kiln_release_cause {
  KILN_RELEASE_CAUSE_NONE,
  KILN_RELEASE_CAUSE_ALARM,    /* a CloudWatch alarm went into ALARM */
  KILN_RELEASE_CAUSE_HEALTH,   /* replacements failed their health checks */
  KILN_RELEASE_CAUSE_LAUNCH,   /* replacements could not be launched */
  KILN_RELEASE_CAUSE_CANCELLED, /* someone cancelled the refresh */
  KILN_RELEASE_CAUSE_ROLLBACK,  /* AWS's rollback itself failed */
  KILN_RELEASE_CAUSE_BAKE,      /* the image bake failed */
  KILN_RELEASE_CAUSE_OTHER,
};
#define KILN_RELEASE_CAUSE_COUNT (KILN_RELEASE_CAUSE_OTHER + 1)

struct kiln_release {
  enum kiln_release_state state;
  int64_t version;        /* the launch template version; 0: not known */
  const char *refresh_id; /* the refresh that carries it, or NULL */
  int64_t percent;        /* of the instances replaced */
  /* rolling-out: the checkpoint (percent) of the refresh it waits at
   * (at_checkpoint) or heads for; 0: none left. While it waits, until
   * when (seconds since the epoch; 0: not known). */
  int64_t checkpoint;
  bool at_checkpoint;
  int64_t checkpoint_until_s;
  /* baking: the bake time and when it ends (0: not known). */
  int64_t bake_time_s;
  int64_t bake_until_s;
  size_t alarms; /* how many CloudWatch alarms AWS watches */
  /* failed, degraded: why, in words an operator can act on, and when. */
  enum kiln_release_cause cause_kind;
  const char *cause;
  int64_t failed_at_s;
  const char *status_reason; /* AWS's StatusReason of the refresh, or NULL */
  /* healthy: since when, as AWS tells it: the end of the refresh that
   * rolled it out, else when its version was made; 0: not known. */
  int64_t healthy_since_s;
};

/* The release of launch template version (0: not settled yet) as the
 * group, its latest refresh and that refresh's scaling activities show it.
 * alarms are the spec's (to name the one that fired; may be NULL). Strings
 * are borrowed from o or made in a. Returns 0 or KILN_ENOMEM. */
int kiln_release_derive(const struct kiln_observed_app *o, int64_t version,
                        const struct kiln_strs *alarms, struct kiln_arena *a,
                        struct kiln_release *out);

/* The checkpoint of checkpoints[0..n) (ascending) a refresh percent% done
 * is heading for or waits at: the first at or above percent, below 100;
 * 0 when none is left. */
int64_t kiln_release_checkpoint(const int64_t *checkpoints, size_t n,
                                int64_t percent);

/* "rolling-out", "baking", "healthy", "rolling-back", "failed",
 * "degraded"; "none". */
const char *kiln_release_state_name(enum kiln_release_state s);

/* "45s", "6m", "1h30m": a span of seconds as an operator reads it (in a). */
const char *kiln_release_span(int64_t seconds, struct kiln_arena *a);

/* "alarm", "health", "launch", "cancelled", "rollback-failed", "bake",
 * "other"; "none". */
const char *kiln_release_cause_name(enum kiln_release_cause c);

/* One line of where a release stands, for plan, apply and the API:
 * "rolling out 40% — waiting at checkpoint 50% until 14:05 UTC",
 * "baking 6m of 15m, alarms OK", "failed: alarm hello-5xx in ALARM at
 * 13:58 UTC; AWS rolled back to version 7". now: seconds since the epoch.
 * NULL when there is nothing to say (or no memory). */
const char *kiln_release_describe(const struct kiln_release *r, int64_t now,
                                  struct kiln_arena *a);

#endif
