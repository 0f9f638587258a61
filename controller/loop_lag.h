/* How late the loop runs a timer: the measure of blocking work on the
 * loop's thread.
 *
 * While a pass runs, the daemon arms a KILN_LOOP_LAG_TICK_MS timer again
 * and again and records, each time it fires, how much later than due it
 * did. A histogram of 0.25 ms buckets (up to 250 ms, later ones counted in
 * the last) gives the p99 in fixed memory however long the pass; the
 * maximum is kept exactly. Pure: the caller passes every time in.
 */
#ifndef KILN_CONTROLLER_LOOP_LAG_H
#define KILN_CONTROLLER_LOOP_LAG_H

#include <stddef.h>
#include <stdint.h>

#define KILN_LOOP_LAG_TICK_MS   10
#define KILN_LOOP_LAG_BUCKET_US 250
#define KILN_LOOP_LAG_BUCKETS   1000

struct kiln_loop_lag {
  uint32_t buckets[KILN_LOOP_LAG_BUCKETS];
  uint64_t samples;
  uint64_t max_us;
};

void kiln_loop_lag_reset(struct kiln_loop_lag *l);

/* One tick that was due at due_ns and ran at fired_ns (monotonic ns). */
void kiln_loop_lag_add(struct kiln_loop_lag *l, uint64_t due_ns,
                       uint64_t fired_ns);

/* The p-th percentile (0 < p <= 100) of the lag in microseconds: the upper
 * edge of its bucket, never above the maximum; 0 with no sample. */
uint64_t kiln_loop_lag_percentile_us(const struct kiln_loop_lag *l, double p);

#endif
