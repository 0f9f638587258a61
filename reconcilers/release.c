#include "kiln/release.h"

#include "kiln/observed.h"

#include <stdbool.h>
#include <string.h>

static bool status_is(const struct kiln_observed_app *o, const char *s)
{
  return o->refresh_status != NULL && strcmp(o->refresh_status, s) == 0;
}

/* Every instance of the group runs version (and there is one). */
static bool group_on(const struct kiln_observed_app *o, int64_t version)
{
  return o->asg_exists && o->asg_instances > 0 && o->asg_instances_stale == 0 &&
         o->lt_default_version == version;
}

void kiln_release_derive(const struct kiln_observed_app *o, int64_t version,
                         struct kiln_release *out)
{
  memset(out, 0, sizeof(*out));
  out->version = version;
  if (version == 0)
    return;
  if (o->refresh_id == NULL || o->refresh_version != version) {
    /* No refresh carries this version: it is healthy once every instance
     * runs it (say, a group that was empty, or a revert already done). */
    if (group_on(o, version)) {
      out->state = KILN_RELEASE_HEALTHY;
      out->percent = 100;
    }
    return;
  }
  out->refresh_id = o->refresh_id;
  out->percent = o->refresh_percent;
  out->status_reason = o->refresh_reason;
  if (status_is(o, "Pending") || status_is(o, "InProgress") ||
      status_is(o, "Cancelling")) {
    out->state = KILN_RELEASE_ROLLING_OUT;
  } else if (status_is(o, "Baking")) {
    out->state = KILN_RELEASE_BAKING;
    out->percent = 100;
  } else if (status_is(o, "Successful")) {
    out->state = KILN_RELEASE_HEALTHY;
    out->percent = 100;
  } else if (status_is(o, "RollbackInProgress")) {
    out->state = KILN_RELEASE_ROLLING_BACK;
    out->cause = o->refresh_reason;
  } else if (status_is(o, "RollbackFailed")) {
    out->state = KILN_RELEASE_DEGRADED;
    out->cause = o->refresh_reason;
  } else if (status_is(o, "Failed") || status_is(o, "Cancelled") ||
             status_is(o, "RollbackSuccessful")) {
    out->state = KILN_RELEASE_FAILED;
    out->cause = o->refresh_reason != NULL ? o->refresh_reason
                 : status_is(o, "Cancelled")
                     ? "the instance refresh was cancelled"
                     : "the instance refresh failed";
  }
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
