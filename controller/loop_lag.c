#include "loop_lag.h"

#include <string.h>

void kiln_loop_lag_reset(struct kiln_loop_lag *l)
{
  memset(l, 0, sizeof(*l));
}

void kiln_loop_lag_add(struct kiln_loop_lag *l, uint64_t due_ns,
                       uint64_t fired_ns)
{
  uint64_t us = fired_ns > due_ns ? (fired_ns - due_ns) / 1000 : 0;
  uint64_t b = us / KILN_LOOP_LAG_BUCKET_US;

  if (b >= KILN_LOOP_LAG_BUCKETS)
    b = KILN_LOOP_LAG_BUCKETS - 1;
  l->buckets[b]++;
  l->samples++;
  if (us > l->max_us)
    l->max_us = us;
}

void kiln_loop_lag_busy(struct kiln_loop_lag *l, uint64_t *next_due_ns,
                        uint64_t from_ns, uint64_t to_ns)
{
  const uint64_t tick = KILN_LOOP_LAG_TICK_MS * 1000000ull;

  /* Due while the loop waited: on time. */
  if (*next_due_ns < from_ns) {
    uint64_t on_time = (from_ns - *next_due_ns - 1) / tick + 1;
    l->buckets[0] += (uint32_t)on_time;
    l->samples += on_time;
    *next_due_ns += on_time * tick;
  }
  /* Due while it was busy: run when it is no longer, then armed again. */
  if (*next_due_ns < to_ns) {
    kiln_loop_lag_add(l, *next_due_ns, to_ns);
    *next_due_ns = to_ns + tick;
  }
}

uint64_t kiln_loop_lag_percentile_us(const struct kiln_loop_lag *l, double p)
{
  /* The rank of the sample the percentile names, counted from 1. */
  uint64_t rank, seen = 0;

  if (l->samples == 0 || !(p > 0))
    return 0;
  rank =
      (uint64_t)((double)l->samples * (p > 100 ? 100 : p) / 100.0 + 0.999999);
  if (rank == 0)
    rank = 1;
  for (size_t b = 0; b < KILN_LOOP_LAG_BUCKETS; b++) {
    seen += l->buckets[b];
    if (seen >= rank) {
      uint64_t edge = (uint64_t)(b + 1) * KILN_LOOP_LAG_BUCKET_US;
      /* The last bucket holds every longer lag: only the maximum bounds it. */
      if (b == KILN_LOOP_LAG_BUCKETS - 1)
        return l->max_us;
      return edge < l->max_us ? edge : l->max_us;
    }
  }
  return l->max_us;
}
