#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "step_retry.h"

/* The doubling, its cap and the jitter's range, as a table. */
static void delays(void **state)
{
  static const struct {
    unsigned failures;
    unsigned char jitter;
    uint64_t want;
  } rows[] = {
      {1, 255, 5000},   {1, 0, 2500},      {2, 255, 10000}, {3, 255, 20000},
      {8, 255, 600000}, {30, 255, 600000}, {30, 0, 300000}, {1000, 255, 600000},
  };
  struct kiln_step_retry_policy p = KILN_STEP_RETRY_DAEMON;
  (void)state;
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
    assert_int_equal(
        kiln_step_retry_delay_ms(&p, rows[i].failures, rows[i].jitter),
        rows[i].want);
}

static void failures_wait_and_success_clears(void **state)
{
  struct kiln_step_retry r;
  struct kiln_step_retry_policy p = KILN_STEP_RETRY_DAEMON;
  (void)state;
  kiln_step_retry_init(&r, &p);
  assert_int_equal(kiln_step_retry_wait_ms(&r, "web", 0), 0);
  assert_int_equal(kiln_step_retry_record(&r, "web", true, 1000, 255), 0);
  assert_int_equal(kiln_step_retry_wait_ms(&r, "web", 1000), 5000);
  assert_int_equal(kiln_step_retry_wait_ms(&r, "web", 6000), 0);
  assert_int_equal(kiln_step_retry_wait_ms(&r, "api", 1000), 0);
  assert_int_equal(kiln_step_retry_record(&r, "web", true, 6000, 255), 0);
  assert_int_equal(kiln_step_retry_wait_ms(&r, "web", 6000), 10000);
  assert_int_equal(kiln_step_retry_record(&r, "web", false, 16000, 0), 0);
  assert_int_equal(kiln_step_retry_wait_ms(&r, "web", 16000), 0);
  assert_int_equal(kiln_step_retry_record(&r, "web", true, 20000, 255), 0);
  kiln_step_retry_forget_all(&r);
  assert_int_equal(kiln_step_retry_wait_ms(&r, "web", 20000), 0);
  kiln_step_retry_cleanup(&r);
}

/* Many apps, inserted out of order, each found again. */
static void many_apps(void **state)
{
  struct kiln_step_retry r;
  struct kiln_step_retry_policy p = KILN_STEP_RETRY_DAEMON;
  char name[16];
  (void)state;
  kiln_step_retry_init(&r, &p);
  for (int i = 0; i < 500; i++) {
    snprintf(name, sizeof(name), "app-%03d", (i * 7919) % 500);
    assert_int_equal(kiln_step_retry_record(&r, name, true, 0, 255), 0);
  }
  assert_int_equal(r.n, 500);
  for (int i = 0; i < 500; i++) {
    snprintf(name, sizeof(name), "app-%03d", i);
    assert_int_equal(kiln_step_retry_wait_ms(&r, name, 0), 5000);
  }
  kiln_step_retry_cleanup(&r);
}

static void apply_gives_up_daemon_never(void **state)
{
  struct kiln_step_retry a, d;
  struct kiln_step_retry_policy pa = KILN_STEP_RETRY_APPLY;
  struct kiln_step_retry_policy pd = KILN_STEP_RETRY_DAEMON;
  (void)state;
  kiln_step_retry_init(&a, &pa);
  kiln_step_retry_init(&d, &pd);
  for (int i = 0; i < 5; i++) {
    assert_false(kiln_step_retry_gave_up(&a, "web"));
    kiln_step_retry_record(&a, "web", true, 0, 0);
    kiln_step_retry_record(&d, "web", true, 0, 0);
  }
  assert_true(kiln_step_retry_gave_up(&a, "web"));
  assert_false(kiln_step_retry_gave_up(&d, "web"));
  kiln_step_retry_record(&a, "web", false, 0, 0);
  assert_false(kiln_step_retry_gave_up(&a, "web"));
  kiln_step_retry_cleanup(&a);
  kiln_step_retry_cleanup(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(delays),
      cmocka_unit_test(failures_wait_and_success_clears),
      cmocka_unit_test(many_apps),
      cmocka_unit_test(apply_gives_up_daemon_never),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
