/* When the daemon passes next: a pure function of the last pass.
 *
 * A pass right after a step (to take the next one), at the bake or refresh
 * poll while one is followed, when an app's backoff ends, and at least
 * every resync. Many refreshes in flight stretch the refresh poll: each
 * costs one DescribeInstanceRefreshes a pass, and Auto Scaling meters all
 * of an account's calls together.
 */
#ifndef KILN_SCHEDULE_H
#define KILN_SCHEDULE_H

#include "kiln/pass.h"

#include <stddef.h>
#include <stdint.h>

/* Refresh lookups a second the poll is stretched to stay under. */
#define KILN_SCHEDULE_REFRESH_LOOKS_PER_S 4

struct kiln_schedule {
  uint64_t resync_ms;
  uint64_t bake_poll_ms;
  uint64_t refresh_poll_ms;
  uint64_t after_step_ms;
};

/* How long app still backs off, in ms (0: it may act now). */
typedef uint64_t kiln_schedule_backoff_fn(void *arg, const char *app);

/* The wait before the pass that follows one over apps[0..n). */
uint64_t kiln_schedule_next_pass_ms(const struct kiln_schedule *s,
                                    const struct kiln_pass_app *apps, size_t n,
                                    kiln_schedule_backoff_fn *backoff_left,
                                    void *arg);

/* The refresh poll with `refreshing` refreshes in flight: the configured
 * one, or longer so that their lookups stay under
 * KILN_SCHEDULE_REFRESH_LOOKS_PER_S. */
uint64_t kiln_schedule_refresh_poll_ms(uint64_t refresh_poll_ms,
                                       size_t refreshing);

#endif
