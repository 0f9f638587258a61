/* Instance refreshes seen in flight, by group: what lets a pass skip
 * DescribeInstanceRefreshes (one call per group: AWS has no batched form)
 * for a refresh that cannot have moved since it was last looked at.
 *
 * A refresh moves its group: it launches and terminates instances, and
 * their states and health change as it goes. So a refresh seen running,
 * towards the version the template still names as its default, with
 * instances still to replace, whose group is as it was then (the same
 * fingerprint), is where it was: waiting out a checkpoint or a warmup.
 * What a group does not show — a refresh cancelled by someone else, waiting
 * on protected instances, its launches failing — is why a pass still asks
 * again KILN_REFRESH_SEEN_RECHECKS of the refreshes the memory holds, the
 * longest unasked first, and every one whose memory is older than
 * KILN_REFRESH_SEEN_MAX_AGE_S and up to as much again (spread by group, so
 * that refreshes paused together do not all expire in one pass).
 */
#ifndef KILN_REFRESH_SEEN_H
#define KILN_REFRESH_SEEN_H

#include <stdbool.h>
#include <stdint.h>

#include "kiln/autoscaling.h"

struct kiln_arena;
struct kiln_observed_app;

#define KILN_REFRESH_SEEN_MAX_AGE_S 600
/* Held refreshes asked again every pass: a fleet with no more refreshes
 * than that in flight always sees them fresh. */
#define KILN_REFRESH_SEEN_RECHECKS 4

struct kiln_refresh_seen {
  uint64_t group_fingerprint;
  int64_t seen_s; /* when AWS described it */
  struct kiln_asg_instance_refresh refresh;
  /* What the group's scaling activities said then (a group that has not
   * moved has launched nothing since), when they were looked at. */
  bool activities_seen;
  int64_t last_launch_s;
  size_t failed_launches;
  const char *failed_launch_message;
};

/* What of g a refresh changes: its template version, sizes and every
 * instance's id, lifecycle state, health and version (in any order). */
uint64_t kiln_refresh_seen_fingerprint(const struct kiln_asg_group *g);

/* Whether seen still stands for app a's refresh at now_s (a is observed
 * but for its refresh). */
bool kiln_refresh_seen_holds(const struct kiln_refresh_seen *seen,
                             uint64_t fingerprint,
                             const struct kiln_observed_app *a, int64_t now_s);

/* A deep copy into arena. Returns 0 or KILN_ENOMEM. */
int kiln_refresh_seen_copy(struct kiln_arena *arena,
                           const struct kiln_refresh_seen *from,
                           struct kiln_refresh_seen *to);

#endif
