/* The log rate limiter, a pure function of its events and the time
 * passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "log_limit.h"

struct summaries {
  size_t n;
  uint64_t total;
  char last[128];
};

static void on_summary(const char *kind, const char *peer, uint64_t suppressed,
                       uint64_t window_ms, void *data)
{
  struct summaries *s = data;
  s->n++;
  s->total += suppressed;
  snprintf(s->last, sizeof(s->last), "%s %s %llu %llu", kind, peer,
           (unsigned long long)suppressed, (unsigned long long)window_ms);
}

/* The first burst of a window per (kind, peer) is logged, the rest
 * counted; the next event after the window ends brings the summary and
 * opens a new window. */
static void test_burst_then_summary(void **state)
{
  struct kiln_log_limit l;
  struct summaries s = {0};
  int logged = 0;

  (void)state;
  kiln_log_limit_init(&l, 10000, 3, 100);
  for (int i = 0; i < 10; i++)
    logged += kiln_log_limit_take(&l, "hook", "10.0.0.1", 1000 + (uint64_t)i,
                                  on_summary, &s);
  assert_int_equal(logged, 3);
  assert_int_equal(s.n, 0);
  /* Still inside the window (it started at 1000). */
  assert_false(
      kiln_log_limit_take(&l, "hook", "10.0.0.1", 10999, on_summary, &s));
  assert_int_equal(s.n, 0);
  assert_true(
      kiln_log_limit_take(&l, "hook", "10.0.0.1", 11000, on_summary, &s));
  assert_int_equal(s.n, 1);
  assert_string_equal(s.last, "hook 10.0.0.1 8 10000");
}

/* Kinds and peers have their own budgets. */
static void test_keys_are_independent(void **state)
{
  struct kiln_log_limit l;

  (void)state;
  kiln_log_limit_init(&l, 10000, 1, 100);
  assert_true(kiln_log_limit_take(&l, "hook", "a", 0, NULL, NULL));
  assert_false(kiln_log_limit_take(&l, "hook", "a", 1, NULL, NULL));
  assert_true(kiln_log_limit_take(&l, "hook", "b", 2, NULL, NULL));
  assert_true(kiln_log_limit_take(&l, "malformed", "a", 3, NULL, NULL));
  assert_false(kiln_log_limit_take(&l, "malformed", "a", 4, NULL, NULL));
}

/* Many peers in one window: at most max_lines lines, at most one summary
 * per slot, and every event accounted for (logged or summarised). */
static void test_many_peers_stay_bounded(void **state)
{
  struct kiln_log_limit l;
  struct summaries s = {0};
  char peer[32];
  uint64_t logged = 0;

  (void)state;
  kiln_log_limit_init(&l, 10000, 5, 40);
  for (unsigned i = 0; i < 100000; i++) {
    snprintf(peer, sizeof(peer), "10.%u.%u.%u", i >> 16, (i >> 8) & 255,
             i & 255);
    logged +=
        kiln_log_limit_take(&l, "per_client", peer, i / 100, on_summary, &s);
  }
  kiln_log_limit_flush(&l, 1000, true, on_summary, &s);
  assert_int_equal(logged, 40);
  assert_true(s.n <= KILN_LOG_LIMIT_SLOTS);
  assert_int_equal(logged + s.total, 100000);
}

/* flush ends only a window that is over, unless forced; an empty or
 * never-opened limiter says nothing. */
static void test_flush(void **state)
{
  struct kiln_log_limit l;
  struct summaries s = {0};

  (void)state;
  kiln_log_limit_init(&l, 10000, 1, 100);
  kiln_log_limit_flush(&l, 50000, true, on_summary, &s);
  assert_int_equal(s.n, 0);
  kiln_log_limit_take(&l, "timeout", "::1", 100, on_summary, &s);
  kiln_log_limit_take(&l, "timeout", "::1", 200, on_summary, &s);
  kiln_log_limit_flush(&l, 10099, false, on_summary, &s);
  assert_int_equal(s.n, 0);
  kiln_log_limit_flush(&l, 10100, false, on_summary, &s);
  assert_int_equal(s.n, 1);
  assert_string_equal(s.last, "timeout ::1 1 10000");
  /* A window with nothing suppressed ends without a summary. */
  kiln_log_limit_take(&l, "timeout", "::1", 20000, on_summary, &s);
  kiln_log_limit_flush(&l, 20001, true, on_summary, &s);
  assert_int_equal(s.n, 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_burst_then_summary),
      cmocka_unit_test(test_keys_are_independent),
      cmocka_unit_test(test_many_peers_stay_bounded),
      cmocka_unit_test(test_flush),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
