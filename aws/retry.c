/* The AWS SDK "standard" retry policy as a pure function. See
 * include/kiln/aws_retry.h. */
#include "kiln/aws_retry.h"
#include "kiln/error.h"
#include "kiln/num.h"

#include <stdlib.h>
#include <string.h>

static const char *const throttling_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "CallRateLimitExceededException",
};

static const char *const transient_codes[] = {
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
};

static int in_list(const char *code, const char *const *list, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (strcmp(code, list[i]) == 0)
      return 1;
  return 0;
}

int kiln_retry_is_throttling_code(const char *code)
{
  return code != NULL &&
         in_list(code, throttling_codes,
                 sizeof(throttling_codes) / sizeof(throttling_codes[0]));
}

enum kiln_retry_kind kiln_retry_classify(int transport_err, long status,
                                         const char *code)
{
  if (transport_err == KILN_ETIMEDOUT)
    return KILN_RETRY_TIMEOUT;
  if (transport_err == KILN_ECONN)
    return KILN_RETRY_TRANSIENT;
  if (transport_err != 0)
    return KILN_RETRY_NOT_RETRYABLE; /* TLS, size limits, cancel: final */
  if (code != NULL && code[0] != '\0') {
    if (kiln_retry_is_throttling_code(code))
      return KILN_RETRY_THROTTLING;
    if (in_list(code, transient_codes,
                sizeof(transient_codes) / sizeof(transient_codes[0])))
      return KILN_RETRY_TRANSIENT;
  }
  if (status == 429)
    return KILN_RETRY_THROTTLING;
  if (status == 500 || status == 502 || status == 503 || status == 504)
    return KILN_RETRY_TRANSIENT;
  return KILN_RETRY_NOT_RETRYABLE;
}

void kiln_retry_quota_init(struct kiln_retry_quota *q, int capacity)
{
  q->capacity = capacity > 0 ? capacity : KILN_RETRY_QUOTA_CAPACITY;
  q->available = q->capacity;
}

void kiln_retry_state_init(struct kiln_retry_state *s)
{
  s->attempts = 0;
  s->last_cost = 0;
}

/* A server hint in milliseconds, or -1 when absent or malformed. */
static int64_t hint_ms(const struct kiln_retry_outcome *o)
{
  const char *v = o->amz_retry_after;
  int64_t scale = 1, n;

  if (v == NULL || v[0] == '\0') {
    v = o->retry_after;
    scale = 1000;
  }
  /* Also refuses HTTP-dates and negative numbers. */
  if (kiln_num_parse_i64(v, 0, 86400000LL, &n) != 0)
    return -1;
  return n * scale;
}

int kiln_retry_decide(const struct kiln_retry_config *cfg,
                      struct kiln_retry_quota *quota,
                      struct kiln_retry_state *st,
                      const struct kiln_retry_outcome *o, double random01,
                      struct kiln_retry_decision *out)
{
  int max_attempts, cost;
  uint32_t base, cap, extra;
  double ceiling, delay;
  int64_t hint;

  if (cfg == NULL || quota == NULL || st == NULL || o == NULL || out == NULL ||
      random01 < 0 || random01 >= 1)
    return KILN_EINVAL;
  memset(out, 0, sizeof(*out));
  max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts
                                       : KILN_RETRY_DEFAULT_MAX_ATTEMPTS;
  base = cfg->base_ms ? cfg->base_ms : KILN_RETRY_DEFAULT_BASE_MS;
  cap = cfg->max_backoff_ms ? cfg->max_backoff_ms
                            : KILN_RETRY_DEFAULT_MAX_BACKOFF_MS;
  extra = cfg->hint_extra_ms ? cfg->hint_extra_ms
                             : KILN_RETRY_DEFAULT_HINT_EXTRA_MS;
  st->attempts++;
  out->kind = kiln_retry_classify(o->transport_err, o->status, o->code);
  if (out->kind == KILN_RETRY_NOT_RETRYABLE)
    return 0;
  if (st->attempts >= max_attempts) {
    out->stop_reason = KILN_EAGAIN;
    return 0;
  }
  cost = out->kind == KILN_RETRY_TIMEOUT ? KILN_RETRY_TIMEOUT_COST
                                         : KILN_RETRY_COST;
  if (quota->available < cost) {
    out->stop_reason = KILN_ETHROTTLED;
    return 0;
  }
  quota->available -= cost;
  st->last_cost = cost;

  /* Full jitter over a capped exponential; attempts is 1 after the first
   * failure, so the first delay is random01 * base. */
  ceiling = (double)base;
  for (int i = 1; i < st->attempts && ceiling < cap; i++)
    ceiling *= 2;
  if (ceiling > cap)
    ceiling = cap;
  delay = random01 * ceiling;
  hint = hint_ms(o);
  if (hint >= 0 && (double)hint > delay)
    delay = (double)hint < delay + extra ? (double)hint : delay + extra;
  out->retry = 1;
  out->delay_ms = (uint64_t)delay;
  return 0;
}

void kiln_retry_on_success(struct kiln_retry_quota *quota,
                           struct kiln_retry_state *st)
{
  int refund = st->last_cost > 0 ? st->last_cost : KILN_RETRY_NO_RETRY_REFUND;

  st->attempts++;
  quota->available += refund;
  if (quota->available > quota->capacity)
    quota->available = quota->capacity;
}
