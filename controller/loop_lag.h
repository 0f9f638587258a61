/* How late the loop runs a timer: the measure of blocking work on the
 * loop's thread.
 *
 * While a pass runs, the figure is that of a KILN_LOOP_LAG_TICK_MS timer
 * armed again each time it fires, recording how much later than due it
 * did. The daemon does not arm one (a hundred wakeups a second through a
 * 22 s pass at 10,000 apps were some 2,100 of its ~3,000 context
 * switches): it reports each stretch the loop was busy, from libuv's idle
 * time, and kiln_loop_lag_busy() records what such a timer would have: a
 * tick due while the loop waited runs on time, the first due in a busy
 * stretch runs when the stretch ends, and the next is due a tick later.
 * A histogram of 0.25 ms buckets (up to 250 ms, later ones counted in the
 * last) gives the p99 in fixed memory however long the pass; the maximum
 * is kept exactly. Pure: the caller passes every time in.
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

/* The loop was busy over [from_ns, to_ns) and waited before it, since
 * the tick due at *next_due_ns: the ticks of that time, *next_due_ns moved
 * on to the first one after them. */
void kiln_loop_lag_busy(struct kiln_loop_lag *l, uint64_t *next_due_ns,
                        uint64_t from_ns, uint64_t to_ns);

/* The p-th percentile (0 < p <= 100) of the lag in microseconds: the upper
 * edge of its bucket, never above the maximum; 0 with no sample. */
uint64_t kiln_loop_lag_percentile_us(const struct kiln_loop_lag *l, double p);

#endif
