/* Retries the AWS SDK "standard" way, and client-side rate limiting.
 *
 * Policy (pure; randomness and time are passed in):
 *   - at most max_attempts attempts (AWS_MAX_ATTEMPTS, default 3);
 *   - retry throttling errors (Throttling, RequestLimitExceeded,
 *     CallRateLimitExceededException, ..., HTTP 429) and transient ones
 *     (RequestTimeout, PriorRequestNotComplete, HTTP 500/502/503/504,
 *     connection errors, timeouts); nothing else;
 *   - delay = random01 * min(base * 2^(attempt-1), max_backoff) (full
 *     jitter; base 1 s, max 20 s); a server hint (x-amz-retry-after in ms,
 *     or Retry-After in seconds) raises it to at most delay + 5 s;
 *   - a retry quota shared by a client: 500 tokens, a retry costs 5 (10
 *     after a timeout), a success refunds the last cost (1 when the call
 *     needed no retry). No tokens, no retry.
 *
 * Rate limiter: token buckets per region, service and (EC2) action, at a share
 * of EC2's published request-rate buckets (moderate guesses for the
 * services that publish none) and slowed by throttled answers, so that
 * Kiln does not cause the throttling it would then have to absorb.
 *
 * Nothing here is thread-safe: use it from the loop's thread.
 */
#ifndef KILN_AWS_RETRY_H
#define KILN_AWS_RETRY_H

#include <stddef.h>
#include <stdint.h>

#define KILN_RETRY_DEFAULT_MAX_ATTEMPTS   3
#define KILN_RETRY_DEFAULT_BASE_MS        1000u
#define KILN_RETRY_DEFAULT_MAX_BACKOFF_MS 20000u
#define KILN_RETRY_DEFAULT_HINT_EXTRA_MS  5000u
#define KILN_RETRY_QUOTA_CAPACITY         500
#define KILN_RETRY_COST                   5
#define KILN_RETRY_TIMEOUT_COST           10
#define KILN_RETRY_NO_RETRY_REFUND        1

struct kiln_retry_config {
  int max_attempts;        /* 0: 3; 1 disables retries */
  uint32_t base_ms;        /* 0: 1000 */
  uint32_t max_backoff_ms; /* 0: 20000 */
  uint32_t hint_extra_ms;  /* 0: 5000; how far a server hint may stretch */
};

/* The retry quota: one per client, shared by all its calls. */
struct kiln_retry_quota {
  int capacity;
  int available;
};

void kiln_retry_quota_init(struct kiln_retry_quota *q, int capacity);

enum kiln_retry_kind {
  KILN_RETRY_NOT_RETRYABLE = 0,
  KILN_RETRY_THROTTLING,
  KILN_RETRY_TRANSIENT,
  KILN_RETRY_TIMEOUT /* transient, but costs more quota */
};

/* Classifies one attempt's outcome. transport_err is 0 or the err of a
 * kiln_http_response; status is the HTTP status (0 when none); code is the
 * parsed AWS error code or NULL. A 2xx with no error is NOT_RETRYABLE. */
enum kiln_retry_kind kiln_retry_classify(int transport_err, long status,
                                         const char *code);

/* True for the error codes AWS SDKs treat as throttling. */
int kiln_retry_is_throttling_code(const char *code);

/* Per-call state: attempts made and the quota taken for the last retry. */
struct kiln_retry_state {
  int attempts;
  int last_cost;
};

void kiln_retry_state_init(struct kiln_retry_state *s);

struct kiln_retry_outcome {
  int transport_err;
  long status;
  const char *code;            /* NULL when none */
  const char *retry_after;     /* Retry-After header (seconds) or NULL */
  const char *amz_retry_after; /* x-amz-retry-after header (ms) or NULL */
};

struct kiln_retry_decision {
  int retry; /* 1: wait delay_ms and try again */
  uint64_t delay_ms;
  enum kiln_retry_kind kind;
  /* When retry is 0 for a retryable outcome: KILN_EAGAIN (attempts
   * exhausted) or KILN_ETHROTTLED (retry quota empty); else 0. */
  int stop_reason;
};

/* Records an attempt that failed with outcome o and decides whether to
 * retry. random01 is uniform in [0, 1). Takes quota when it says retry.
 * Returns 0 or KILN_EINVAL. */
int kiln_retry_decide(const struct kiln_retry_config *cfg,
                      struct kiln_retry_quota *quota,
                      struct kiln_retry_state *st,
                      const struct kiln_retry_outcome *o, double random01,
                      struct kiln_retry_decision *out);

/* Records a successful attempt: refunds quota. */
void kiln_retry_on_success(struct kiln_retry_quota *quota,
                           struct kiln_retry_state *st);

/* ---- client-side rate limiting ---- */

struct kiln_ratelimit_bucket {
  double tokens;
  double capacity;
  double refill_per_s;
  uint64_t last_ms;
};

/* A full bucket at now_ms. */
void kiln_ratelimit_bucket_init(struct kiln_ratelimit_bucket *b,
                                double capacity, double refill_per_s,
                                uint64_t now_ms);

/* Takes one token at now_ms: returns 0, or KILN_EAGAIN with *wait_ms set
 * to how long until one is available (nothing taken). */
int kiln_ratelimit_bucket_take(struct kiln_ratelimit_bucket *b, uint64_t now_ms,
                               uint64_t *wait_ms);

/* Kiln's share of a published bucket, unless told otherwise: close to
 * what the buckets allow, leaving a tenth to the account's other tools
 * (a throttled answer lowers it further, see above). */
#define KILN_RATELIMIT_DEFAULT_SHARE 0.9

/* The bucket AWS publishes (EC2), or Kiln's guess (the services that
 * publish none), for one action of a service ("ec2", "autoscaling",
 * "imagebuilder", "ssm", "sts"; others get a conservative guess). */
void kiln_ratelimit_published(const char *service, const char *action,
                              double *capacity, double *refill_per_s);

/* The published bucket at KILN_RATELIMIT_DEFAULT_SHARE. */
void kiln_ratelimit_defaults(const char *service, const char *action,
                             double *capacity, double *refill_per_s);

/* Buckets per region and service, and per action where the service meters
 * each action on its own (EC2), made on first use at share (0: the default
 * share; at most 1) of the published bucket, and slowed by throttled
 * answers. */
struct kiln_ratelimiter;

/* Returns 0, KILN_EINVAL (share outside [0, 1]) or KILN_ENOMEM. */
int kiln_ratelimiter_new(struct kiln_ratelimiter **out, double share);
void kiln_ratelimiter_free(struct kiln_ratelimiter *rl);

/* Like kiln_ratelimit_bucket_take() on the bucket of (service, region,
 * action). Returns 0, KILN_EAGAIN (with *wait_ms), KILN_ENOMEM or
 * KILN_EINVAL. */
int kiln_ratelimiter_take(struct kiln_ratelimiter *rl, const char *service,
                          const char *region, const char *action,
                          uint64_t now_ms, uint64_t *wait_ms);

/* What AWS answered a call taken from that bucket: throttled halves its
 * refill rate (at most once a second, down to 25 % of the default) and
 * empties it; anything else wins back 2 % of the default rate, from a
 * second after the last halving on. */
void kiln_ratelimiter_feedback(struct kiln_ratelimiter *rl, const char *service,
                               const char *region, const char *action,
                               int throttled, uint64_t now_ms);

/* The current refill rate of that bucket (tokens per second); 0 when it
 * was never used. */
double kiln_ratelimiter_rate(struct kiln_ratelimiter *rl, const char *service,
                             const char *region, const char *action);

/* ---- running a call with retries on the loop ---- */

struct uv_loop_s;
struct kiln_http_client;
struct kiln_http_request;
struct kiln_http_response;
struct kiln_aws_error;
struct kiln_retry_call;

/* Fills req for attempt (1-based): sign it here, so that every attempt
 * carries a fresh date and current credentials. What req points to must
 * stay valid until kiln_http_request_start() returns (it copies). Return 0
 * or an error, which ends the call with that error. */
typedef int kiln_retry_prepare_cb(void *data, int attempt,
                                  struct kiln_http_request *req);

/* The call's end. err: 0 (2xx), KILN_EAWS (AWS error, aerr filled),
 * KILN_ETHROTTLED (still throttled after the retries allowed), or the
 * transport error of the last attempt (KILN_ETIMEDOUT, KILN_ECONN, ...),
 * or the prepare callback's error. res is the last response (NULL when
 * none); valid only during the callback. */
typedef void kiln_retry_done_cb(int err, const struct kiln_http_response *res,
                                const struct kiln_aws_error *aerr, int attempts,
                                void *data);

struct kiln_retry_call_options {
  struct uv_loop_s *loop;
  struct kiln_http_client *http;
  const struct kiln_retry_config *config;
  struct kiln_retry_quota *quota;       /* shared by the client's calls */
  struct kiln_ratelimit_bucket *bucket; /* NULL: no client-side limit */
  int protocol;                         /* enum kiln_aws_protocol */
  /* Uniform [0, 1); NULL: OpenSSL's RAND_bytes. */
  double (*random01)(void *random_data);
  void *random_data;
  kiln_retry_prepare_cb *prepare;
  kiln_retry_done_cb *done;
  void *data;
};

/* Starts a call: prepare, send, classify, wait, and again, until success
 * or the policy says stop. done runs exactly once, never before this
 * returns. Returns 0, KILN_EINVAL or KILN_ENOMEM (then done never runs). */
int kiln_retry_call_start(const struct kiln_retry_call_options *opts);

#endif
