/* Events from pass to pass (controller/notify_events.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kiln/arena.h"
#include "kiln/pass.h"
#include "notify_events.h"

static struct kiln_app_spec spec = {.name = "hello", .app = "hello",
                                    .drift = KILN_DRIFT_CORRECT, .valid = true};

static struct kiln_pass_app pass_app(enum kiln_app_status st)
{
  struct kiln_pass_app a;
  memset(&a, 0, sizeof(a));
  a.spec = &spec;
  a.plan.app = "hello";
  a.plan.app_name = "hello";
  a.plan.version = "1.0.0";
  a.plan.status = st;
  a.plan.message = "rolling out";
  return a;
}

static size_t events(struct kiln_events *e, const char *commit,
                     struct kiln_pass_app *a, struct kiln_arena *ar,
                     struct kiln_event **out)
{
  size_t n;
  assert_int_equal(kiln_events_from_pass(e, commit, a, 1, ar, out, &n), 0);
  return n;
}

static void test_a_release_starts_once_and_ends_once(void **state)
{
  struct kiln_events e;
  struct kiln_arena ar;
  struct kiln_event *ev;
  struct kiln_pass_app a = pass_app(KILN_STATUS_IN_SYNC);
  (void)state;
  kiln_events_init(&e);
  kiln_arena_init(&ar, 0);
  assert_int_equal(events(&e, "c1", &a, &ar, &ev), 0);
  a.plan.status = KILN_STATUS_ROLLING_OUT;
  assert_int_equal(events(&e, "c2", &a, &ar, &ev), 1);
  assert_int_equal(ev[0].kind, KILN_EVENT_RELEASE_STARTED);
  assert_string_equal(ev[0].commit, "c2");
  assert_int_equal(events(&e, "c2", &a, &ar, &ev), 0); /* said once */
  a.plan.status = KILN_STATUS_IN_SYNC;
  assert_int_equal(events(&e, "c2", &a, &ar, &ev), 1);
  assert_int_equal(ev[0].kind, KILN_EVENT_RELEASE_HEALTHY);
  assert_int_equal(events(&e, "c2", &a, &ar, &ev), 0);
  /* The next commit fails, rolled back by an alarm. */
  a.plan.status = KILN_STATUS_PENDING;
  assert_int_equal(events(&e, "c3", &a, &ar, &ev), 1);
  a.plan.status = KILN_STATUS_FAILED;
  a.plan.release.state = KILN_RELEASE_FAILED;
  a.plan.release.cause_kind = KILN_RELEASE_CAUSE_ALARM;
  a.plan.release.cause = "alarm x in ALARM; AWS rolled back to version 2";
  assert_int_equal(events(&e, "c3", &a, &ar, &ev), 1);
  assert_int_equal(ev[0].kind, KILN_EVENT_RELEASE_ROLLED_BACK);
  assert_string_equal(ev[0].message, a.plan.release.cause);
  assert_int_equal(events(&e, "c3", &a, &ar, &ev), 0);
  kiln_arena_cleanup(&ar);
  kiln_events_cleanup(&e);
}

static void test_drift_fetch_and_invalid_commits(void **state)
{
  struct kiln_events e;
  struct kiln_arena ar;
  struct kiln_event *ev;
  struct kiln_pass_app a = pass_app(KILN_STATUS_DRIFTED);
  struct kiln_drift d = {"autoscaling.max", "3", "7", KILN_CAUSE_OUT_OF_BAND};
  (void)state;
  kiln_events_init(&e);
  kiln_arena_init(&ar, 0);
  a.plan.drift = &d;
  a.plan.n_drift = 1;
  assert_int_equal(events(&e, "c1", &a, &ar, &ev), 1);
  assert_int_equal(ev[0].kind, KILN_EVENT_DRIFT_DETECTED);
  assert_string_equal(ev[0].message, "autoscaling.max is 7, git says 3");
  assert_int_equal(events(&e, "c1", &a, &ar, &ev), 0);
  a.plan.n_drift = 0;
  a.plan.status = KILN_STATUS_IN_SYNC;
  assert_int_equal(events(&e, "c1", &a, &ar, &ev), 1);
  assert_int_equal(ev[0].kind, KILN_EVENT_DRIFT_CORRECTED);

  assert_null(kiln_events_fetch(&e, false, NULL, &ar));
  assert_int_equal(kiln_events_fetch(&e, true, "refused", &ar)->kind,
                   KILN_EVENT_FETCH_FAILING);
  assert_null(kiln_events_fetch(&e, true, "refused", &ar));
  assert_int_equal(kiln_events_fetch(&e, false, NULL, &ar)->kind,
                   KILN_EVENT_FETCH_RECOVERED);
  assert_non_null(kiln_events_invalid(&e, "c9", "kiln.yaml:3:1: x", 2, &ar));
  assert_null(kiln_events_invalid(&e, "c9", "kiln.yaml:3:1: x", 2, &ar));
  assert_null(kiln_events_invalid(&e, "c10", "", 0, &ar));
  kiln_arena_cleanup(&ar);
  kiln_events_cleanup(&e);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_release_starts_once_and_ends_once),
      cmocka_unit_test(test_drift_fetch_and_invalid_commits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
