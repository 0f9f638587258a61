/* The AWS client: one object that ties configuration, endpoints,
 * credentials, SigV4, the HTTP client, the rate limiter and the retry
 * policy together, and one entry point, kiln_aws_call(), that the typed
 * service operations (kiln/ec2.h, kiln/autoscaling.h, kiln/ssm.h,
 * kiln/imagebuilder.h) are built on.
 *
 * A call: wait for the client-side rate limiter of (service, region, read or
 * write), get credentials (asynchronously, from the provider), sign, send;
 * on a retryable failure wait as the standard retry policy says and go
 * again (with a fresh signature). The callback gets the parsed body (XML or
 * JSON) on success, or the parsed AWS error.
 *
 * Threading: everything runs on the loop's thread.
 *
 * Callbacks: a call's callback runs exactly once, from the loop, never
 * before kiln_aws_call() has returned. If kiln_aws_call() fails, the
 * callback never runs. kiln_aws_client_close() cancels every call (their
 * callbacks run with KILN_ECANCELED).
 *
 * Secrets: credentials, signatures and bodies are never logged.
 */
#ifndef KILN_AWS_CLIENT_H
#define KILN_AWS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/aws_config.h"
#include "kiln/aws_error.h"

struct uv_loop_s;
struct kiln_xml_node;
struct json_object;
struct kiln_arena;
struct kiln_aws_config;
struct kiln_aws_credentials_provider;
struct kiln_aws_client;
struct kiln_aws_call;

struct kiln_aws_client_options {
  struct uv_loop_s *loop;               /* required */
  const struct kiln_aws_config *config; /* required; only read here */
  /* NULL: the client makes the default chain (kiln/aws_credentials.h) on
   * its own HTTP client. Otherwise a reference is taken. */
  struct kiln_aws_credentials_provider *credentials;
  long timeout_ms;         /* per attempt; 0: the HTTP client's default */
  long connect_timeout_ms; /* 0: the HTTP client's default */
  /* Retry policy overrides; 0 leaves the standard value (max_attempts
   * comes from the config: AWS_MAX_ATTEMPTS). */
  uint32_t retry_base_ms;
  uint32_t retry_max_backoff_ms;
  int disable_rate_limit; /* no client-side rate limiting at all */
  /* Kiln's share of each published API bucket, in (0, 1]; 0: the default
   * (KILN_RATELIMIT_DEFAULT_SHARE, kiln/aws_retry.h). */
  double rate_limit_share;
  /* Uniform [0, 1) for retry jitter; NULL: OpenSSL's RAND_bytes. */
  double (*random01)(void *random_data);
  void *random_data;
};

/* Makes a client. Endpoints are resolved here for the config's region (an
 * unresolvable endpoint fails only the calls to that service). Returns 0,
 * KILN_EINVAL (no loop, config or region), KILN_ENOMEM or KILN_EINTERNAL.
 * The client owns uv handles: close it before uv_loop_close(). */
int kiln_aws_client_new(const struct kiln_aws_client_options *opts,
                        struct kiln_aws_client **out);

typedef void kiln_aws_client_close_cb(void *data);

/* Cancels every call, closes every handle, frees the client; cb (may be
 * NULL) runs from the loop once everything is released. */
void kiln_aws_client_close(struct kiln_aws_client *client,
                           kiln_aws_client_close_cb *cb, void *data);

/* The region the client signs for and sends to. */
const char *kiln_aws_client_region(const struct kiln_aws_client *client);

/* The resolved endpoint URL of service, or NULL when it did not resolve. */
const char *kiln_aws_client_endpoint(const struct kiln_aws_client *client,
                                     enum kiln_aws_service service);

/* The wire protocol a service speaks. */
enum kiln_aws_protocol kiln_aws_service_protocol(enum kiln_aws_service service);

/* One request, already serialised for its protocol: a form body
 * ("Action=...&Version=...") for the query protocols, a JSON object for
 * JSON 1.1 and REST-JSON. The typed operations build these; kiln_aws_call()
 * is for anything they do not cover. Everything is copied. */
struct kiln_aws_request {
  enum kiln_aws_service service;
  const char *action; /* "DescribeImages"; JSON 1.1: the X-Amz-Target op */
  /* REST-JSON only: method and path ("PUT", "/CreateImage") and the
   * encoded query string without '?' (may be NULL). Query and JSON 1.1
   * always POST to "/". */
  const char *method;
  const char *path;
  const char *query;
  const char *body; /* form body (query) or JSON text; may be NULL */
  size_t body_len;
};

/* What a call ends with. Valid only during the callback. */
struct kiln_aws_response {
  enum kiln_aws_service service;
  const char *action;
  long http_status;       /* of the last attempt; 0 when none was received */
  const char *request_id; /* "" when unknown */
  int attempts;
  /* On success: the body and, parsed, its XML root element (query
   * protocols; NULL for an empty body) or its JSON value (JSON 1.1 and
   * REST-JSON; NULL for an empty body). */
  const char *body;
  size_t body_len;
  const struct kiln_xml_node *xml;
  struct json_object *json;
  /* For KILN_EAWS and KILN_ETHROTTLED: the AWS error (code, message,
   * request id, status); else NULL. */
  const struct kiln_aws_error *error;
  /* A one-line description of a failure, safe to log: what, which action,
   * code, message, request id. "" on success. */
  const char *message;
};

/* err: 0, KILN_EAWS (error filled), KILN_ETHROTTLED (still throttled
 * after the retries allowed; error filled), KILN_ECREDENTIALS,
 * KILN_ECANCELED, KILN_EPARSE (a 2xx body that does not parse), or the
 * last transport error (KILN_ETIMEDOUT, KILN_ECONN, KILN_ETLS, ...). */
typedef void kiln_aws_call_cb(int err, const struct kiln_aws_response *res,
                              void *data);

/* Starts a call. *call_out (may be NULL) identifies it until its callback
 * starts. Returns 0, KILN_EINVAL, KILN_ENOMEM or KILN_ECANCELED (client
 * closing). */
int kiln_aws_call(struct kiln_aws_client *client,
                  const struct kiln_aws_request *req, kiln_aws_call_cb *cb,
                  void *data, struct kiln_aws_call **call_out);

/* Cancels a call whose callback has not run: it runs later with
 * KILN_ECANCELED. */
void kiln_aws_call_cancel(struct kiln_aws_call *call);

/* ---- request accounting, for metrics ---- */

enum kiln_aws_outcome {
  KILN_AWS_OUTCOME_OK = 0,
  KILN_AWS_OUTCOME_AWS_ERROR, /* AWS answered with an error */
  KILN_AWS_OUTCOME_THROTTLED, /* still throttled after retries */
  KILN_AWS_OUTCOME_FAILED,    /* transport, credentials, parse */
  KILN_AWS_OUTCOME_CANCELED,
  KILN_AWS_OUTCOME_COUNT
};

/* "ok", "aws_error", "throttled", "failed", "canceled". */
const char *kiln_aws_outcome_name(enum kiln_aws_outcome o);

struct kiln_aws_action_stats {
  enum kiln_aws_service service;
  char action[64];
  uint64_t calls[KILN_AWS_OUTCOME_COUNT]; /* finished calls by outcome */
  uint64_t attempts;                      /* HTTP requests sent */
  uint64_t retries;                       /* attempts after the first */
};

/* The counters of every (service, action) seen so far, in first-use order.
 * Valid until the next call or close. */
size_t kiln_aws_client_stats(const struct kiln_aws_client *client,
                             const struct kiln_aws_action_stats **out);

/* The pace Kiln keeps for an action now, in requests per second: its share
 * of the published bucket, lowered while AWS throttles. 0 when pacing is
 * off or the action was never called. */
double kiln_aws_client_pace(const struct kiln_aws_client *client,
                            enum kiln_aws_service service, const char *action);

/* ---- typed operations ---- */

/* What every typed operation's callback gets. err as for kiln_aws_call_cb
 * (KILN_EPARSE also when a page is not the document the operation
 * expects, KILN_ETOOBIG when pagination passed its page cap). The typed
 * result the caller passed is filled only when err is 0; its strings and
 * arrays live in the caller's arena. res is the last page's response
 * (valid only during the callback). */
typedef void kiln_aws_done_cb(int err, const struct kiln_aws_response *res,
                              void *data);

/* Calls of one client past the rate limiter at once (waiting for
 * credentials or for an answer); the others wait their turn. Bounds the
 * connections a pass opens to a service and the answers it holds at once
 * (a page of 100 Auto Scaling groups is some 140 KB). */
#define KILN_AWS_MAX_IN_FLIGHT 16

/* Safety cap on pages followed by one paginated operation. */
#define KILN_AWS_MAX_PAGES 1000

/* A key/value tag (EC2, Auto Scaling, Image Builder maps). */
struct kiln_aws_tag {
  const char *key;
  const char *value;
};

/* The value of tag key among tags[0..n), or NULL. */
const char *kiln_aws_tag_value(const struct kiln_aws_tag *tags, size_t n,
                               const char *key);

/* Seconds since the epoch of an ISO 8601 time AWS sent; 0 when absent or
 * not a time. */
int64_t kiln_aws_time_s(const char *iso);

/* An optional number: set 0 means absent. */
struct kiln_aws_opt_int {
  int set;
  int64_t value;
};

/* An optional boolean. */
struct kiln_aws_opt_bool {
  int set;
  int value;
};

#endif
