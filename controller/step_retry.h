/* One retry policy for an app whose step failed, for `kiln run` and
 * `kiln apply` alike.
 *
 * After the n-th failure in a row an app waits min_ms * 2^(n-1), at most
 * max_ms, with up to half of it taken off at random so that apps failing
 * together do not retry together; a success (or a change in git, through
 * kiln_step_retry_forget_all) starts it over. With give_up_after set, an
 * app that failed that many times in a row has given up: apply reports it
 * failed, the daemon never gives up (0). Pure: time and randomness are
 * passed in.
 */
#ifndef KILN_CONTROLLER_STEP_RETRY_H
#define KILN_CONTROLLER_STEP_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kiln_step_retry_policy {
  uint64_t min_ms;
  uint64_t max_ms;
  unsigned give_up_after; /* 0: never */
};

/* The daemon's: 5 s doubling to 10 min, never giving up. */
#define KILN_STEP_RETRY_DAEMON                                                 \
  {                                                                            \
    5000, 600000, 0                                                            \
  }
/* kiln apply's: 1 s doubling to 30 s, giving up after 5 failures. */
#define KILN_STEP_RETRY_APPLY                                                  \
  {                                                                            \
    1000, 30000, 5                                                             \
  }

struct kiln_step_retry_app {
  char *app;
  unsigned failures;
  uint64_t next_ms; /* no step before this time */
};

struct kiln_step_retry {
  struct kiln_step_retry_policy policy;
  struct kiln_step_retry_app *apps; /* sorted by name */
  size_t n, cap;
};

void kiln_step_retry_init(struct kiln_step_retry *r,
                          const struct kiln_step_retry_policy *policy);
void kiln_step_retry_cleanup(struct kiln_step_retry *r);

/* The wait after the failures-th failure in a row, jitter in [0, 255]. */
uint64_t kiln_step_retry_delay_ms(const struct kiln_step_retry_policy *p,
                                  unsigned failures, unsigned char jitter);

/* Records the outcome of app's step at now_ms. Returns 0 or KILN_ENOMEM
 * (the outcome is then not held against the app). */
int kiln_step_retry_record(struct kiln_step_retry *r, const char *app,
                           bool failed, uint64_t now_ms, unsigned char jitter);

/* How long app must still wait at now_ms (0: it may take a step). */
uint64_t kiln_step_retry_wait_ms(const struct kiln_step_retry *r,
                                 const char *app, uint64_t now_ms);

/* Has app failed give_up_after times in a row? */
bool kiln_step_retry_gave_up(const struct kiln_step_retry *r, const char *app);

/* A random jitter for kiln_step_retry_record() (the only impure piece). */
unsigned char kiln_step_retry_jitter(void);

/* Git changed: every app starts over. */
void kiln_step_retry_forget_all(struct kiln_step_retry *r);

#endif
