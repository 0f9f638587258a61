/* A call with retries on the loop: the glue between the pure retry policy,
 * the rate limiter, the HTTP client and the error parser. */
#include "kiln/aws_error.h"
#include "kiln/aws_retry.h"
#include "kiln/error.h"
#include "kiln/http.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct kiln_retry_call {
  struct kiln_retry_call_options o;
  struct kiln_retry_state state;
  uv_timer_t timer;
};

static void on_closed(uv_handle_t *h)
{
  free(h->data);
}

static void finish(struct kiln_retry_call *c, int err,
                   const struct kiln_http_response *res,
                   const struct kiln_aws_error *aerr)
{
  c->o.done(err, res, aerr, c->state.attempts, c->o.data);
  uv_close((uv_handle_t *)&c->timer, on_closed);
}

static double default_random01(void *unused)
{
  uint64_t r = 0;

  if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
    return 0.5;
  return (double)(r >> 11) / 9007199254740992.0; /* 2^53 */
}

static void attempt(uv_timer_t *t);

static void on_response(struct kiln_http_response *res, void *data)
{
  struct kiln_retry_call *c = data;
  struct kiln_aws_error aerr;
  struct kiln_retry_outcome o;
  struct kiln_retry_decision d;
  int have_aerr = 0, err;

  memset(&o, 0, sizeof(o));
  o.transport_err = res->err;
  o.status = res->status;
  if (res->err == 0 && res->status >= 200 && res->status < 300) {
    kiln_retry_on_success(c->o.quota, &c->state);
    finish(c, 0, res, NULL);
    return;
  }
  if (res->err == 0) {
    kiln_aws_error_from_response((enum kiln_aws_protocol)c->o.protocol, res,
                                 &aerr);
    have_aerr = 1;
    o.code = aerr.code[0] != '\0' ? aerr.code : NULL;
    o.retry_after = kiln_http_response_header(res, "retry-after");
    o.amz_retry_after = kiln_http_response_header(res, "x-amz-retry-after");
  }
  err = kiln_retry_decide(c->o.config, c->o.quota, &c->state, &o,
                          c->o.random01(c->o.random_data), &d);
  if (err == 0 && d.retry) {
    uv_timer_start(&c->timer, attempt, d.delay_ms, 0);
    return;
  }
  if (err == 0)
    err = res->err != 0                     ? res->err
          : d.kind == KILN_RETRY_THROTTLING ? KILN_ETHROTTLED
                                            : KILN_EAWS;
  finish(c, err, res, have_aerr ? &aerr : NULL);
}

static void attempt(uv_timer_t *t)
{
  struct kiln_retry_call *c = t->data;
  struct kiln_http_request req;
  uint64_t wait_ms;
  int err;

  if (c->o.bucket != NULL &&
      kiln_ratelimit_bucket_take(c->o.bucket, uv_now(c->o.loop), &wait_ms) ==
          KILN_EAGAIN) {
    uv_timer_start(&c->timer, attempt, wait_ms, 0);
    return;
  }
  memset(&req, 0, sizeof(req));
  err = c->o.prepare(c->o.data, c->state.attempts + 1, &req);
  if (err == 0)
    err = kiln_http_request_start(c->o.http, &req, on_response, c, NULL);
  if (err != 0)
    finish(c, err, NULL, NULL);
}

int kiln_retry_call_start(const struct kiln_retry_call_options *opts)
{
  struct kiln_retry_call *c;

  if (opts == NULL || opts->loop == NULL || opts->http == NULL ||
      opts->config == NULL || opts->quota == NULL || opts->prepare == NULL ||
      opts->done == NULL)
    return KILN_EINVAL;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return KILN_ENOMEM;
  c->o = *opts;
  if (c->o.random01 == NULL)
    c->o.random01 = default_random01;
  kiln_retry_state_init(&c->state);
  uv_timer_init(opts->loop, &c->timer);
  c->timer.data = c;
  /* The first attempt starts from the loop, so done can never run before
   * this function returns. */
  uv_timer_start(&c->timer, attempt, 0, 0);
  return 0;
}
