/* The retry policy (pure, table-driven), the rate limiter (injected clock)
 * and retrying calls against a local server that throttles, fails, drops
 * connections and stalls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "http_test_server.h"
#include "kiln/aws_error.h"
#include "kiln/aws_retry.h"
#include "kiln/error.h"
#include "kiln/http.h"

/* ---- pure policy ---- */

static void test_classify_table(void **state)
{
  static const struct {
    int err;
    long status;
    const char *code;
    enum kiln_retry_kind want;
  } cases[] = {
      {0, 200, NULL, KILN_RETRY_NOT_RETRYABLE},
      {0, 400, "RequestLimitExceeded", KILN_RETRY_THROTTLING},
      {0, 400, "Throttling", KILN_RETRY_THROTTLING},
      {0, 400, "ThrottlingException", KILN_RETRY_THROTTLING},
      {0, 429, "CallRateLimitExceededException", KILN_RETRY_THROTTLING},
      {0, 400, "EC2ThrottledException", KILN_RETRY_THROTTLING},
      {0, 400, "TooManyRequestsException", KILN_RETRY_THROTTLING},
      {0, 503, "SlowDown", KILN_RETRY_THROTTLING},
      {0, 400, "PriorRequestNotComplete", KILN_RETRY_THROTTLING},
      {0, 429, NULL, KILN_RETRY_THROTTLING},
      {0, 400, "RequestTimeout", KILN_RETRY_TRANSIENT},
      {0, 408, "RequestTimeoutException", KILN_RETRY_TRANSIENT},
      {0, 500, NULL, KILN_RETRY_TRANSIENT},
      {0, 502, NULL, KILN_RETRY_TRANSIENT},
      {0, 503, "", KILN_RETRY_TRANSIENT},
      {0, 504, "Whatever", KILN_RETRY_TRANSIENT},
      {0, 501, NULL, KILN_RETRY_NOT_RETRYABLE},
      {0, 400, "InvalidParameterValue", KILN_RETRY_NOT_RETRYABLE},
      {0, 403, "UnauthorizedOperation", KILN_RETRY_NOT_RETRYABLE},
      {0, 400, "ValidationError", KILN_RETRY_NOT_RETRYABLE},
      {0, 404, "ResourceNotFoundException", KILN_RETRY_NOT_RETRYABLE},
      {0, 400, "throttling", KILN_RETRY_NOT_RETRYABLE}, /* codes are exact */
      {KILN_ECONN, 0, NULL, KILN_RETRY_TRANSIENT},
      {KILN_ETIMEDOUT, 0, NULL, KILN_RETRY_TIMEOUT},
      {KILN_ETLS, 0, NULL, KILN_RETRY_NOT_RETRYABLE},
      {KILN_ETOOBIG, 200, NULL, KILN_RETRY_NOT_RETRYABLE},
      {KILN_ECANCELED, 0, NULL, KILN_RETRY_NOT_RETRYABLE},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    print_message("case %zu\n", i);
    assert_int_equal(
        kiln_retry_classify(cases[i].err, cases[i].status, cases[i].code),
        cases[i].want);
  }
}

static void test_backoff_table(void **state)
{
  /* Each row: the failure number, random01, hints, and the delay wanted
   * with the defaults (base 1 s, cap 20 s, hint stretch 5 s). */
  static const struct {
    int failures;
    double rnd;
    const char *retry_after, *amz_retry_after;
    uint64_t want_ms;
  } cases[] = {
      {1, 0.0, NULL, NULL, 0},
      {1, 0.5, NULL, NULL, 500},
      {1, 0.999, NULL, NULL, 999},
      {2, 0.5, NULL, NULL, 1000},
      {3, 0.5, NULL, NULL, 2000},
      {5, 0.5, NULL, NULL, 8000},
      {6, 0.5, NULL, NULL, 10000}, /* 32 s capped to 20 s */
      {30, 0.5, NULL, NULL, 10000},
      {1, 0.5, "2", NULL, 2000},    /* hint above the backoff: honoured */
      {1, 0.5, "60", NULL, 5500},   /* bounded: backoff + 5 s */
      {1, 0.5, "0", NULL, 500},     /* below the backoff: ignored */
      {1, 0.1, NULL, "1500", 1500}, /* x-amz-retry-after is in ms */
      {1, 0.1, "9", "300", 300},    /* and wins over Retry-After */
      {1, 0.5, "-3", NULL, 500},    /* malformed hints are ignored */
      {1, 0.5, "Wed, 21 Oct 2015 07:28:00 GMT", NULL, 500},
      {1, 0.5, "3x", NULL, 500},
  };
  struct kiln_retry_config cfg = {100, 0, 0, 0};
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct kiln_retry_quota q;
    struct kiln_retry_state st;
    struct kiln_retry_outcome o = {0, 503, "Throttling", NULL, NULL};
    struct kiln_retry_decision d;

    print_message("case %zu\n", i);
    kiln_retry_quota_init(&q, 100000);
    kiln_retry_state_init(&st);
    st.attempts = cases[i].failures - 1;
    o.retry_after = cases[i].retry_after;
    o.amz_retry_after = cases[i].amz_retry_after;
    assert_int_equal(kiln_retry_decide(&cfg, &q, &st, &o, cases[i].rnd, &d), 0);
    assert_int_equal(d.retry, 1);
    assert_int_equal(d.delay_ms, cases[i].want_ms);
  }
}

static void test_attempts_and_quota(void **state)
{
  struct kiln_retry_config cfg = {0}; /* defaults: 3 attempts */
  struct kiln_retry_quota q;
  struct kiln_retry_state st;
  struct kiln_retry_outcome thr = {0, 400, "RequestLimitExceeded", NULL, NULL};
  struct kiln_retry_outcome tmo = {KILN_ETIMEDOUT, 0, NULL, NULL, NULL};
  struct kiln_retry_outcome bad = {0, 400, "InvalidParameterValue", NULL, NULL};
  struct kiln_retry_decision d;
  int i;

  kiln_retry_quota_init(&q, 0);
  assert_int_equal(q.available, 500);

  /* Three attempts at most: two retries, then stop. */
  kiln_retry_state_init(&st);
  assert_int_equal(kiln_retry_decide(&cfg, &q, &st, &thr, 0.5, &d), 0);
  assert_true(d.retry);
  assert_int_equal(q.available, 495);
  assert_int_equal(kiln_retry_decide(&cfg, &q, &st, &tmo, 0.5, &d), 0);
  assert_true(d.retry);
  assert_int_equal(d.kind, KILN_RETRY_TIMEOUT);
  assert_int_equal(q.available, 485); /* a timeout costs 10 */
  assert_int_equal(kiln_retry_decide(&cfg, &q, &st, &thr, 0.5, &d), 0);
  assert_false(d.retry);
  assert_int_equal(d.stop_reason, KILN_EAGAIN);
  assert_int_equal(st.attempts, 3);
  assert_int_equal(q.available, 485);

  /* Success after a retry refunds the last cost. */
  kiln_retry_state_init(&st);
  assert_int_equal(kiln_retry_decide(&cfg, &q, &st, &thr, 0.5, &d), 0);
  assert_int_equal(q.available, 480);
  kiln_retry_on_success(&q, &st);
  assert_int_equal(q.available, 485);
  /* Success at the first attempt gives back 1, never above capacity. */
  kiln_retry_state_init(&st);
  kiln_retry_on_success(&q, &st);
  assert_int_equal(q.available, 486);
  q.available = 500;
  kiln_retry_state_init(&st);
  kiln_retry_on_success(&q, &st);
  assert_int_equal(q.available, 500);

  /* Never retried: not retryable, whatever the quota. */
  kiln_retry_state_init(&st);
  assert_int_equal(kiln_retry_decide(&cfg, &q, &st, &bad, 0.5, &d), 0);
  assert_false(d.retry);
  assert_int_equal(d.stop_reason, 0);
  assert_int_equal(q.available, 500);

  /* An empty quota stops retries. */
  cfg.max_attempts = 1000;
  kiln_retry_state_init(&st);
  for (i = 0; i < 100; i++) {
    assert_int_equal(kiln_retry_decide(&cfg, &q, &st, &thr, 0.5, &d), 0);
    assert_true(d.retry);
  }
  assert_int_equal(q.available, 0);
  assert_int_equal(kiln_retry_decide(&cfg, &q, &st, &thr, 0.5, &d), 0);
  assert_false(d.retry);
  assert_int_equal(d.stop_reason, KILN_ETHROTTLED);

  /* max_attempts 1 disables retries. */
  cfg.max_attempts = 1;
  kiln_retry_quota_init(&q, 0);
  kiln_retry_state_init(&st);
  assert_int_equal(kiln_retry_decide(&cfg, &q, &st, &thr, 0.5, &d), 0);
  assert_false(d.retry);
  assert_int_equal(kiln_retry_decide(&cfg, &q, &st, &thr, 1.0, &d),
                   KILN_EINVAL);
}

static void test_bucket_with_injected_clock(void **state)
{
  struct kiln_ratelimit_bucket b;
  uint64_t wait;
  int i;

  kiln_ratelimit_bucket_init(&b, 3, 2, 1000); /* 3 tokens, 2 per second */
  for (i = 0; i < 3; i++)
    assert_int_equal(kiln_ratelimit_bucket_take(&b, 1000, &wait), 0);
  assert_int_equal(kiln_ratelimit_bucket_take(&b, 1000, &wait), KILN_EAGAIN);
  assert_int_equal(wait, 500);
  assert_int_equal(kiln_ratelimit_bucket_take(&b, 1250, &wait), KILN_EAGAIN);
  assert_int_equal(wait, 250);
  assert_int_equal(kiln_ratelimit_bucket_take(&b, 1500, &wait), 0);
  /* A long pause refills only up to capacity. */
  for (i = 0; i < 3; i++)
    assert_int_equal(kiln_ratelimit_bucket_take(&b, 100000, &wait), 0);
  assert_int_equal(kiln_ratelimit_bucket_take(&b, 100000, &wait), KILN_EAGAIN);
  /* A clock going backwards refills nothing. */
  assert_int_equal(kiln_ratelimit_bucket_take(&b, 50, &wait), KILN_EAGAIN);
  /* However slow a bucket, the wait is bounded (an hour). */
  kiln_ratelimit_bucket_init(&b, 1, 1e-300, 0);
  assert_int_equal(kiln_ratelimit_bucket_take(&b, 0, &wait), 0);
  assert_int_equal(kiln_ratelimit_bucket_take(&b, 0, &wait), KILN_EAGAIN);
  assert_int_equal(wait, 3600000);
}

static void test_defaults_stay_under_ec2_buckets(void **state)
{
  double cap, refill;

  (void)state;
  /* EC2 publishes, per action: 100 at 20/s for Describe*, 100 at 5/s for
   * CreateLaunchTemplateVersion, 200 at 5/s for other mutating actions. */
  kiln_ratelimit_published("ec2", "DescribeImages", &cap, &refill);
  assert_true(cap == 100 && refill == 20);
  kiln_ratelimit_published("ec2", "CreateLaunchTemplateVersion", &cap, &refill);
  assert_true(cap == 100 && refill == 5);
  kiln_ratelimit_published("ec2", "ModifyLaunchTemplate", &cap, &refill);
  assert_true(cap == 200 && refill == 5);
  kiln_ratelimit_defaults("ec2", "DescribeImages", &cap, &refill);
  assert_true(cap > 0 && cap < 100 && refill > 0 && refill < 20);
  kiln_ratelimit_defaults("ec2", "CreateLaunchTemplateVersion", &cap, &refill);
  assert_true(cap > 0 && cap < 100 && refill > 0 && refill < 5);
  kiln_ratelimit_defaults("imagebuilder", "GetImage", &cap, &refill);
  assert_true(cap > 0 && refill > 0);
  kiln_ratelimit_defaults("nonesuch", "Frob", &cap, &refill);
  assert_true(cap > 0 && refill > 0);
}

/* Takes n tokens of one bucket at time 0, each granted, then one more,
 * refused; *wait says when the next would be granted. */
static void drain(struct kiln_ratelimiter *rl, const char *service,
                  const char *region, const char *action, int n, uint64_t *wait)
{
  for (int i = 0; i < n; i++)
    assert_int_equal(
        kiln_ratelimiter_take(rl, service, region, action, 0, wait), 0);
  assert_int_equal(kiln_ratelimiter_take(rl, service, region, action, 0, wait),
                   KILN_EAGAIN);
}

static void test_ratelimiter_keys(void **state)
{
  struct kiln_ratelimiter *rl;
  uint64_t wait;
  double cap, refill;

  (void)state;
  assert_int_equal(kiln_ratelimiter_new(&rl, 0), 0);
  /* Auto Scaling meters all of an account's calls together. */
  kiln_ratelimit_defaults("autoscaling", "UpdateAutoScalingGroup", &cap,
                          &refill);
  drain(rl, "autoscaling", "us-east-1", "UpdateAutoScalingGroup", (int)cap,
        &wait);
  assert_int_equal(kiln_ratelimiter_take(rl, "autoscaling", "us-east-1",
                                         "StartInstanceRefresh", 0, &wait),
                   KILN_EAGAIN);
  assert_true(wait > 0);
  /* Other region: other buckets. */
  assert_int_equal(kiln_ratelimiter_take(rl, "autoscaling", "eu-west-1",
                                         "StartInstanceRefresh", 0, &wait),
                   0);
  /* EC2 meters each action on its own. */
  kiln_ratelimit_defaults("ec2", "CreateLaunchTemplateVersion", &cap, &refill);
  drain(rl, "ec2", "us-east-1", "CreateLaunchTemplateVersion", (int)cap, &wait);
  assert_int_equal(kiln_ratelimiter_take(rl, "ec2", "us-east-1",
                                         "ModifyLaunchTemplate", 0, &wait),
                   0);
  assert_int_equal(kiln_ratelimiter_take(rl, NULL, "r", "a", 0, &wait),
                   KILN_EINVAL);
  kiln_ratelimiter_free(rl);
  assert_int_equal(kiln_ratelimiter_new(&rl, 1.5), KILN_EINVAL);
  assert_int_equal(kiln_ratelimiter_new(&rl, -0.1), KILN_EINVAL);
}

static void test_ratelimiter_share(void **state)
{
  struct kiln_ratelimiter *rl;
  uint64_t wait;

  (void)state;
  /* A share of 0.5: 50 of EC2's 100 CreateLaunchTemplateVersion tokens,
   * then one every 400 ms (2.5 per second). */
  assert_int_equal(kiln_ratelimiter_new(&rl, 0.5), 0);
  drain(rl, "ec2", "us-east-1", "CreateLaunchTemplateVersion", 50, &wait);
  assert_int_equal(wait, 400);
  kiln_ratelimiter_free(rl);
}

static void test_ratelimiter_slows_down_when_throttled(void **state)
{
  struct kiln_ratelimiter *rl;
  const char *s = "ec2", *r = "us-east-1", *a = "DescribeImages";
  uint64_t wait;
  double full;
  int i;

  (void)state;
  assert_int_equal(kiln_ratelimiter_new(&rl, 1), 0);
  /* Feedback on a bucket never used is ignored. */
  kiln_ratelimiter_feedback(rl, s, r, a, 1, 0);
  assert_true(kiln_ratelimiter_rate(rl, s, r, a) == 0);
  assert_int_equal(kiln_ratelimiter_take(rl, s, r, a, 0, &wait), 0);
  full = kiln_ratelimiter_rate(rl, s, r, a);
  assert_true(full == 20);
  /* A throttled answer halves the rate and empties the bucket... */
  kiln_ratelimiter_feedback(rl, s, r, a, 1, 10);
  assert_true(kiln_ratelimiter_rate(rl, s, r, a) == 10);
  assert_int_equal(kiln_ratelimiter_take(rl, s, r, a, 10, &wait), KILN_EAGAIN);
  assert_int_equal(wait, 100);
  /* ...once a second: the rest of a burst answered together does not. */
  kiln_ratelimiter_feedback(rl, s, r, a, 1, 20);
  kiln_ratelimiter_feedback(rl, s, r, a, 1, 500);
  assert_true(kiln_ratelimiter_rate(rl, s, r, a) == 10);
  kiln_ratelimiter_feedback(rl, s, r, a, 1, 1010);
  assert_true(kiln_ratelimiter_rate(rl, s, r, a) == 5);
  /* It never falls under 25 % of the default: work still gets done when
   * something else keeps the account's bucket drained. */
  for (i = 0; i < 20; i++)
    kiln_ratelimiter_feedback(rl, s, r, a, 1, 2000 + 1000 * (uint64_t)i);
  assert_true(kiln_ratelimiter_rate(rl, s, r, a) == 5);
  /* Answers within a second of the last halving win nothing back... */
  kiln_ratelimiter_feedback(rl, s, r, a, 0, 21500);
  assert_true(kiln_ratelimiter_rate(rl, s, r, a) == 5);
  /* ...later successes win it back, 2 % of the default each, up to the
   * default. */
  kiln_ratelimiter_feedback(rl, s, r, a, 0, 30000);
  assert_true(kiln_ratelimiter_rate(rl, s, r, a) > 5.39 &&
              kiln_ratelimiter_rate(rl, s, r, a) < 5.41);
  for (i = 0; i < 100; i++)
    kiln_ratelimiter_feedback(rl, s, r, a, 0, 30000);
  assert_true(kiln_ratelimiter_rate(rl, s, r, a) == full);
  kiln_ratelimiter_free(rl);
}

/* ---- retrying calls against a local server ---- */

#define MAX_STEPS 16

enum step {
  OK,
  THROTTLE,      /* 400 EC2 RequestLimitExceeded */
  THROTTLE_HINT, /* 400 Throttling with x-amz-retry-after: 150 */
  FAIL500,       /* 500 InternalError */
  BADPARAM,      /* 400 InvalidParameterValue */
  DROP,          /* connection closed without a response */
  STALL          /* no response at all */
};

struct script {
  enum step steps[MAX_STEPS];
  size_t n;
  uint64_t at_ms[MAX_STEPS]; /* when each request arrived */
  uv_loop_t *loop;
};

static void script_handler(struct ts_server *s, const struct ts_request *req,
                           struct ts_response *res)
{
  struct script *sc = s->data;
  size_t i = s->requests - 1;
  enum step st = i < sc->n ? sc->steps[i] : OK;

  uv_update_time(sc->loop);
  if (i < MAX_STEPS)
    sc->at_ms[i] = uv_now(sc->loop);
  switch (st) {
  case OK:
    res->body = "<DescribeImagesResponse><requestId>ok</requestId>"
                "</DescribeImagesResponse>";
    break;
  case THROTTLE:
    res->status = 503;
    res->body = "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
                "<Message>Request limit exceeded.</Message></Error></Errors>"
                "<RequestID>t-1</RequestID></Response>";
    break;
  case THROTTLE_HINT:
    res->status = 400;
    res->extra_headers = "x-amz-retry-after: 150\r\n";
    res->body = "<Response><Errors><Error><Code>Throttling</Code></Error>"
                "</Errors></Response>";
    break;
  case FAIL500:
    res->status = 500;
    res->body = "<Response><Errors><Error><Code>InternalError</Code></Error>"
                "</Errors><RequestID>i-1</RequestID></Response>";
    break;
  case BADPARAM:
    res->status = 400;
    res->body = "<Response><Errors><Error><Code>InvalidParameterValue</Code>"
                "<Message>nope</Message></Error></Errors>"
                "<RequestID>b-1</RequestID></Response>";
    break;
  case DROP:
    res->action = TS_DROP;
    break;
  case STALL:
    res->action = TS_STALL;
    break;
  }
}

struct call {
  uv_loop_t loop;
  struct ts_server server;
  struct kiln_http_client *http;
  struct script script;
  char url[64];
  int prepared;
  int done, err, attempts, closed;
  char code[128];
  char request_id[128];
};

static int prepare(void *data, int attempt, struct kiln_http_request *req)
{
  struct call *c = data;

  c->prepared++;
  assert_int_equal(attempt, c->prepared);
  req->method = "POST";
  req->url = c->url;
  req->body = "Action=DescribeImages&Version=2016-11-15";
  req->body_len = strlen(req->body);
  req->timeout_ms = 250;
  return 0;
}

static void on_done(int err, const struct kiln_http_response *res,
                    const struct kiln_aws_error *aerr, int attempts, void *data)
{
  struct call *c = data;

  c->done++;
  c->err = err;
  c->attempts = attempts;
  snprintf(c->code, sizeof(c->code), "%s", aerr ? aerr->code : "");
  snprintf(c->request_id, sizeof(c->request_id), "%s",
           aerr ? aerr->request_id : "");
}

static double fixed_half(void *data)
{
  return 0.5;
}

static double fixed_zero(void *data)
{
  return 0.0;
}

static void on_http_closed(struct kiln_http_client *h, void *data)
{
  ((struct call *)data)->closed = 1;
}

static void on_guard(uv_timer_t *t)
{
}

static void run_until(uv_loop_t *loop, const int *flag, uint64_t ms)
{
  uv_timer_t guard;
  uint64_t end;

  uv_update_time(loop);
  end = uv_now(loop) + ms;
  uv_timer_init(loop, &guard);
  uv_timer_start(&guard, on_guard, 5, 5);
  while (!*flag && uv_now(loop) < end)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

/* Runs one call against a server following steps; base backoff 40 ms. */
static void run_call(struct call *c, const enum step *steps, size_t n,
                     struct kiln_retry_quota *q, int max_attempts,
                     double (*rnd)(void *))
{
  struct kiln_retry_config cfg = {max_attempts, 40, 1000, 0};
  struct kiln_retry_call_options o;

  memset(c, 0, sizeof(*c));
  assert_int_equal(uv_loop_init(&c->loop), 0);
  memcpy(c->script.steps, steps, n * sizeof(*steps));
  c->script.n = n;
  c->script.loop = &c->loop;
  assert_int_equal(ts_start(&c->server, &c->loop, script_handler, &c->script),
                   0);
  assert_int_equal(kiln_http_client_new(&c->loop, NULL, &c->http), 0);
  snprintf(c->url, sizeof(c->url), "http://127.0.0.1:%d/", c->server.port);
  memset(&o, 0, sizeof(o));
  o.loop = &c->loop;
  o.http = c->http;
  o.config = &cfg;
  o.quota = q;
  o.protocol = KILN_AWS_PROTOCOL_EC2_QUERY;
  o.random01 = rnd;
  o.prepare = prepare;
  o.done = on_done;
  o.data = c;
  assert_int_equal(kiln_retry_call_start(&o), 0);
  assert_int_equal(c->done, 0);
  run_until(&c->loop, &c->done, 20000);
  assert_int_equal(c->done, 1);
  kiln_http_client_close(c->http, on_http_closed, c);
  ts_stop(&c->server);
  run_until(&c->loop, &c->closed, 5000);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&c->loop), 0);
}

static uint64_t gap(const struct call *c, size_t i)
{
  return c->script.at_ms[i] - c->script.at_ms[i - 1];
}

static void test_call_throttled_then_ok(void **state)
{
  static const enum step steps[] = {THROTTLE, THROTTLE, OK};
  struct kiln_retry_quota q;
  struct call c;

  kiln_retry_quota_init(&q, 0);
  run_call(&c, steps, 3, &q, 3, fixed_half);
  assert_int_equal(c.err, 0);
  assert_int_equal(c.attempts, 3);
  assert_int_equal(c.server.requests, 3);
  /* Backoff: 0.5 * 40 ms, then 0.5 * 80 ms. */
  assert_true(gap(&c, 1) >= 20);
  assert_true(gap(&c, 2) >= 40);
  assert_true(gap(&c, 2) < 1000);
  assert_int_equal(q.available, 500 - 5 - 5 + 5);
}

static void test_call_500s_exhaust_attempts(void **state)
{
  static const enum step steps[] = {FAIL500, FAIL500, FAIL500, OK};
  struct kiln_retry_quota q;
  struct call c;

  kiln_retry_quota_init(&q, 0);
  run_call(&c, steps, 4, &q, 3, fixed_half);
  assert_int_equal(c.err, KILN_EAWS);
  assert_int_equal(c.attempts, 3);
  assert_int_equal(c.server.requests, 3);
  assert_string_equal(c.code, "InternalError");
  assert_string_equal(c.request_id, "i-1");
}

static void test_call_throttling_exhausted_is_ethrottled(void **state)
{
  static const enum step steps[] = {THROTTLE, THROTTLE, THROTTLE, THROTTLE};
  struct kiln_retry_quota q;
  struct call c;

  kiln_retry_quota_init(&q, 0);
  run_call(&c, steps, 4, &q, 2, fixed_zero);
  assert_int_equal(c.err, KILN_ETHROTTLED);
  assert_int_equal(c.attempts, 2);
  assert_int_equal(c.server.requests, 2);
  assert_string_equal(c.code, "RequestLimitExceeded");
}

static void test_call_drop_and_stall_are_retried(void **state)
{
  static const enum step steps[] = {DROP, STALL, OK};
  struct kiln_retry_quota q;
  struct call c;

  kiln_retry_quota_init(&q, 0);
  run_call(&c, steps, 3, &q, 3, fixed_half);
  assert_int_equal(c.err, 0);
  assert_int_equal(c.attempts, 3);
  assert_int_equal(c.server.requests, 3);
  /* The stalled attempt took its 250 ms timeout before the backoff. */
  assert_true(gap(&c, 2) >= 250 + 40);
  /* Costs 5 (drop) + 10 (timeout), the last refunded. */
  assert_int_equal(q.available, 500 - 5 - 10 + 10);
}

static void test_call_stall_until_attempts_run_out(void **state)
{
  static const enum step steps[] = {STALL, STALL};
  struct kiln_retry_quota q;
  struct call c;

  kiln_retry_quota_init(&q, 0);
  run_call(&c, steps, 2, &q, 2, fixed_zero);
  assert_int_equal(c.err, KILN_ETIMEDOUT);
  assert_int_equal(c.attempts, 2);
}

static void test_call_non_retryable_is_not_retried(void **state)
{
  static const enum step steps[] = {BADPARAM, OK};
  struct kiln_retry_quota q;
  struct call c;

  kiln_retry_quota_init(&q, 0);
  run_call(&c, steps, 2, &q, 5, fixed_half);
  assert_int_equal(c.err, KILN_EAWS);
  assert_int_equal(c.attempts, 1);
  assert_int_equal(c.server.requests, 1);
  assert_string_equal(c.code, "InvalidParameterValue");
  assert_int_equal(q.available, 500);
}

static void test_call_quota_exhaustion(void **state)
{
  static const enum step steps[] = {THROTTLE, THROTTLE, THROTTLE,
                                    THROTTLE, THROTTLE, OK};
  struct kiln_retry_quota q;
  struct call c;

  /* Room for two retries only. */
  kiln_retry_quota_init(&q, 12);
  run_call(&c, steps, 6, &q, 10, fixed_zero);
  assert_int_equal(c.err, KILN_ETHROTTLED);
  assert_int_equal(c.attempts, 3);
  assert_int_equal(c.server.requests, 3);
  assert_int_equal(q.available, 2);
}

static void test_call_honours_retry_after(void **state)
{
  static const enum step steps[] = {THROTTLE_HINT, OK};
  struct kiln_retry_quota q;
  struct call c;

  kiln_retry_quota_init(&q, 0);
  run_call(&c, steps, 2, &q, 3, fixed_zero);
  assert_int_equal(c.err, 0);
  assert_int_equal(c.attempts, 2);
  /* The jittered backoff is 0 ms; the server asked for 150. */
  assert_true(gap(&c, 1) >= 150);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classify_table),
      cmocka_unit_test(test_backoff_table),
      cmocka_unit_test(test_attempts_and_quota),
      cmocka_unit_test(test_bucket_with_injected_clock),
      cmocka_unit_test(test_ratelimiter_share),
      cmocka_unit_test(test_ratelimiter_slows_down_when_throttled),
      cmocka_unit_test(test_defaults_stay_under_ec2_buckets),
      cmocka_unit_test(test_ratelimiter_keys),
      cmocka_unit_test(test_call_throttled_then_ok),
      cmocka_unit_test(test_call_500s_exhaust_attempts),
      cmocka_unit_test(test_call_throttling_exhausted_is_ethrottled),
      cmocka_unit_test(test_call_drop_and_stall_are_retried),
      cmocka_unit_test(test_call_stall_until_attempts_run_out),
      cmocka_unit_test(test_call_non_retryable_is_not_retried),
      cmocka_unit_test(test_call_quota_exhaustion),
      cmocka_unit_test(test_call_honours_retry_after),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
