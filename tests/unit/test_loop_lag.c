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

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(empty_is_zero),
      cmocka_unit_test(early_ticks_count_as_no_lag),
      cmocka_unit_test(p99_and_max),
      cmocka_unit_test(huge_lag_lands_in_last_bucket),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
