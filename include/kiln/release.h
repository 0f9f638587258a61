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

#include <stddef.h>
#include <stdint.h>

struct kiln_observed_app;

enum kiln_release_state {
  KILN_RELEASE_NONE, /* nothing known for this version yet */
  KILN_RELEASE_ROLLING_OUT,
  KILN_RELEASE_BAKING,
  KILN_RELEASE_HEALTHY,
  KILN_RELEASE_ROLLING_BACK,
  KILN_RELEASE_FAILED,
  KILN_RELEASE_DEGRADED,
};

struct kiln_release {
  enum kiln_release_state state;
  int64_t version;        /* the launch template version; 0: not known */
  const char *refresh_id; /* the refresh that carries it, or NULL */
  int64_t percent;        /* of the instances replaced */
  const char *cause;      /* AWS's reason for failed, degraded, or NULL */
  /* rolling-out: the checkpoint (percent) of the spec's rollout the
   * refresh is heading for or waits at; 0: none. */
  int64_t checkpoint;
  const char *status_reason; /* AWS's StatusReason of the refresh, or NULL */
};

/* The release of launch template version (0: not settled yet) as the
 * group and its latest refresh show it. Strings are borrowed from o. */
void kiln_release_derive(const struct kiln_observed_app *o, int64_t version,
                         struct kiln_release *out);

/* The checkpoint of checkpoints[0..n) (ascending) a refresh percent% done
 * is heading for or waits at: the first at or above percent, below 100;
 * 0 when none is left. */
int64_t kiln_release_checkpoint(const int64_t *checkpoints, size_t n,
                                int64_t percent);

/* "rolling-out", "baking", "healthy", "rolling-back", "failed",
 * "degraded"; "none". */
const char *kiln_release_state_name(enum kiln_release_state s);

#endif
