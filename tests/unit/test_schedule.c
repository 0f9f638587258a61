/* The daemon's schedule: when the next pass runs after one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kiln/spec.h"
#include "schedule.h"

#define N_APPS 300

static const struct kiln_schedule sched = {.resync_ms = 300000,
                                           .bake_poll_ms = 30000,
                                           .refresh_poll_ms = 10000,
                                           .after_step_ms = 1000};

static struct kiln_app_spec specs[N_APPS];
static struct kiln_pass_app apps[N_APPS];

/* n apps in sync. */
static void fleet(size_t n)
{
  memset(specs, 0, sizeof(specs));
  memset(apps, 0, sizeof(apps));
  for (size_t i = 0; i < n; i++) {
    specs[i].name = i == 0 ? "failing" : "app";
    apps[i].spec = &specs[i];
    apps[i].plan.status = KILN_STATUS_IN_SYNC;
  }
}

/* Only "failing" backs off, for 7 s. */
static uint64_t backoff_left(void *arg, const char *app)
{
  (void)arg;
  return strcmp(app, "failing") == 0 ? 7000 : 0;
}

static uint64_t next(size_t n)
{
  return kiln_schedule_next_pass_ms(&sched, apps, n, backoff_left, NULL);
}

static void test_in_sync_waits_for_the_resync(void **state)
{
  (void)state;
  fleet(3);
  assert_int_equal(next(3), 300000);
  assert_int_equal(next(0), 300000);
}

static void test_the_soonest_app_decides(void **state)
{
  (void)state;
  fleet(4);
  apps[1].plan.action.type = KILN_ACTION_WAIT_BAKE;
  assert_int_equal(next(4), 30000);
  apps[2].plan.action.type = KILN_ACTION_WAIT_REFRESH;
  assert_int_equal(next(4), 10000);
  /* A failed step backs off: the pass comes when the backoff ends. */
  apps[0].executed = true;
  apps[0].exec_err = 1;
  assert_int_equal(next(4), 7000);
  /* A step that went through: the next step follows soon. */
  apps[3].executed = true;
  assert_int_equal(next(4), 1000);
}

static void test_a_held_back_step_waits_for_its_backoff(void **state)
{
  (void)state;
  fleet(2);
  apps[0].plan.mutates = true; /* not executed: its backoff held it */
  assert_int_equal(next(2), 7000);
  /* An app whose backoff is over asks for nothing sooner. */
  apps[0].plan.mutates = false;
  apps[1].plan.mutates = true;
  assert_int_equal(next(2), 300000);
}

static void test_many_refreshes_stretch_the_poll(void **state)
{
  (void)state;
  assert_int_equal(kiln_schedule_refresh_poll_ms(10000, 0), 10000);
  assert_int_equal(kiln_schedule_refresh_poll_ms(10000, 40), 10000);
  assert_int_equal(kiln_schedule_refresh_poll_ms(10000, 41), 10250);
  assert_int_equal(kiln_schedule_refresh_poll_ms(10000, 200), 50000);
  fleet(N_APPS);
  for (size_t i = 1; i <= 200; i++)
    apps[i].plan.action.type = KILN_ACTION_WAIT_REFRESH;
  assert_int_equal(next(N_APPS), 50000);
  /* A step elsewhere still brings the next pass soon. */
  apps[250].executed = true;
  assert_int_equal(next(N_APPS), 1000);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_in_sync_waits_for_the_resync),
      cmocka_unit_test(test_the_soonest_app_decides),
      cmocka_unit_test(test_a_held_back_step_waits_for_its_backoff),
      cmocka_unit_test(test_many_refreshes_stretch_the_poll),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
