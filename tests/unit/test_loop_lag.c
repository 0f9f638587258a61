#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "loop_lag.h"

#define MS 1000000ull

static void empty_is_zero(void **state)
{
  struct kiln_loop_lag l;
  (void)state;
  kiln_loop_lag_reset(&l);
  assert_int_equal(kiln_loop_lag_percentile_us(&l, 99), 0);
  assert_int_equal(l.max_us, 0);
}

static void early_ticks_count_as_no_lag(void **state)
{
  struct kiln_loop_lag l;
  (void)state;
  kiln_loop_lag_reset(&l);
  kiln_loop_lag_add(&l, 10 * MS, 9 * MS);
  assert_int_equal(l.samples, 1);
  assert_int_equal(l.max_us, 0);
  assert_int_equal(kiln_loop_lag_percentile_us(&l, 99), 0);
}

/* 99 ticks on time and one 40 ms late: p99 is on time (the upper edge of
 * the first 0.25 ms bucket), p100 and the maximum are the late one; with
 * two late ticks p99 sees the smaller (within its bucket). */
static void p99_and_max(void **state)
{
  struct kiln_loop_lag l;
  (void)state;
  kiln_loop_lag_reset(&l);
  for (int i = 0; i < 99; i++)
    kiln_loop_lag_add(&l, 0, 100000); /* 0.1 ms */
  kiln_loop_lag_add(&l, 0, 40 * MS);
  assert_int_equal(l.max_us, 40000);
  assert_int_equal(kiln_loop_lag_percentile_us(&l, 99), 250);
  assert_int_equal(kiln_loop_lag_percentile_us(&l, 100), 40000);
  kiln_loop_lag_add(&l, 0, 30 * MS);
  assert_int_equal(kiln_loop_lag_percentile_us(&l, 99), 30250);
}

/* Past the last bucket the lag still counts, capped at the maximum. */
static void huge_lag_lands_in_last_bucket(void **state)
{
  struct kiln_loop_lag l;
  (void)state;
  kiln_loop_lag_reset(&l);
  kiln_loop_lag_add(&l, 0, 5000 * MS);
  assert_int_equal(l.buckets[KILN_LOOP_LAG_BUCKETS - 1], 1);
  assert_int_equal(l.max_us, 5000000);
  assert_int_equal(kiln_loop_lag_percentile_us(&l, 99), 5000000);
}

/* Busy stretches give what a timer re-armed each time it fires would
 * have recorded: ticks due while the loop waited on time, the first due
 * in a stretch late by what was left of it, the next a tick after. */
static void busy_stretches_as_a_timer_sees_them(void **state)
{
  struct kiln_loop_lag l;
  uint64_t due = 10 * MS;
  (void)state;

  kiln_loop_lag_reset(&l);
  /* Waited 0-35 ms (ticks at 10, 20, 30 on time), busy 35-38: none due. */
  kiln_loop_lag_busy(&l, &due, 35 * MS, 38 * MS);
  assert_int_equal(l.samples, 3);
  assert_int_equal(due, 40 * MS);
  /* Waited to 39, busy 39-72: the tick due at 40 runs at 72, 32 ms late;
   * the next is due at 82. */
  kiln_loop_lag_busy(&l, &due, 39 * MS, 72 * MS);
  assert_int_equal(l.samples, 4);
  assert_int_equal(l.max_us, 32000);
  assert_int_equal(due, 82 * MS);
  /* A stretch between two ticks records nothing. */
  kiln_loop_lag_busy(&l, &due, 73 * MS, 80 * MS);
  assert_int_equal(l.samples, 4);
  /* Busy from the tick's due time on: late by the whole stretch. */
  kiln_loop_lag_busy(&l, &due, 82 * MS, 83 * MS);
  assert_int_equal(l.samples, 5);
  assert_int_equal(kiln_loop_lag_percentile_us(&l, 100), 32000);
  assert_int_equal(kiln_loop_lag_percentile_us(&l, 50), 250); /* bucket 0 */
  assert_int_equal(due, 93 * MS);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(empty_is_zero),
      cmocka_unit_test(early_ticks_count_as_no_lag),
      cmocka_unit_test(p99_and_max),
      cmocka_unit_test(huge_lag_lands_in_last_bucket),
      cmocka_unit_test(busy_stretches_as_a_timer_sees_them),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
