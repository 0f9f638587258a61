/* The AWS client: rate limit, credentials, SigV4, HTTP, retries, parsing.
 *
 * A call is a small state machine driven from the loop:
 *
 *   WAIT --timer--> (rate limiter) --> CREDS --credentials--> HTTP
 *    ^                                                          |
 *    +---------- retryable failure (policy delay) <-------------+
 *                                            success / final --> DONE
 *
 * At most KILN_AWS_MAX_IN_FLIGHT calls of a client are past the rate
 * limiter at once (waiting for credentials or for their answer); the rest
 * wait their turn, first come first served, without a request in curl's
 * queue whose timeout would run meanwhile.
 *
 * Every transition happens in a loop callback, so the user's callback is
 * never called before kiln_aws_call() returns. The retry driver is ours
 * rather than kiln_retry_call_start()'s because credentials arrive
 * asynchronously before every attempt and a call must be cancellable at
 * any point; the policy itself (kiln_retry_decide, the quota, the rate
 * limiter buckets) is the shared one.
 */
#include "aws_client_private.h"

#include "kiln/aws_client.h"
#include "kiln/aws_credentials.h"
#include "kiln/aws_endpoint.h"
#include "kiln/aws_error.h"
#include "kiln/aws_retry.h"
#include "kiln/error.h"
#include "kiln/http.h"
#include "kiln/sigv4.h"

#include <json-c/json.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

enum call_state { ST_WAIT, ST_CREDS, ST_HTTP, ST_DONE };

struct kiln_aws_call {
  struct kiln_aws_client *client;
  struct kiln_aws_call *prev, *next;
  uv_timer_t timer;
  enum call_state state;
  int canceled;
  enum kiln_aws_service service;
  enum kiln_aws_protocol protocol;
  char *action;
  char *method;
  char *path; /* the request's path below the endpoint's */
  char *query;
  char *body;
  size_t body_len;
  struct kiln_retry_state retry;
  int sent; /* attempts sent */
  struct kiln_http_op *op;
  size_t stats_index;
  int lost;         /* a once-only call whose answer was lost: not sent again */
  int has_token;    /* the rate limiter let this attempt go */
  int has_slot;     /* counted in the client's in_flight */
  int parked;       /* waiting for a slot, in the client's parked list */
  struct kiln_aws_call *parked_next;
  char detail[512]; /* why credentials or the endpoint failed */
  kiln_aws_call_cb *cb;
  void *data;
};

struct kiln_aws_client {
  uv_loop_t *loop;
  struct kiln_http_client *http;
  struct kiln_aws_credentials_provider *creds;
  struct kiln_ratelimiter *limiter;
  struct kiln_retry_config retry_config;
  struct kiln_retry_quota quota;
  double (*random01)(void *);
  void *random_data;
  char region[64];
  struct kiln_aws_endpoint endpoints[KILN_AWS_SERVICE_COUNT];
  int endpoint_ok[KILN_AWS_SERVICE_COUNT];
  struct kiln_aws_call *calls;
  size_t call_count;
  size_t in_flight; /* calls holding a slot */
  struct kiln_aws_call *parked_head, *parked_tail;
  struct kiln_aws_action_stats *stats;
  size_t stats_count, stats_cap;
  int closing, http_closed;
  kiln_aws_client_close_cb *close_cb;
  void *close_data;
};

static double default_random01(void *unused)
{
  uint64_t r = 0;

  (void)unused;
  if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
    return 0.5;
  return (double)(r >> 11) / 9007199254740992.0; /* 2^53 */
}

enum kiln_aws_protocol kiln_aws_service_protocol(enum kiln_aws_service service)
{
  switch (service) {
  case KILN_AWS_EC2:
    return KILN_AWS_PROTOCOL_EC2_QUERY;
  case KILN_AWS_SSM:
    return KILN_AWS_PROTOCOL_JSON;
  case KILN_AWS_IMAGEBUILDER:
    return KILN_AWS_PROTOCOL_REST_JSON;
  default:
    return KILN_AWS_PROTOCOL_QUERY;
  }
}

const char *kiln_aws_outcome_name(enum kiln_aws_outcome o)
{
  static const char *const names[] = {"ok", "aws_error", "throttled", "failed",
                                      "canceled"};
  return (unsigned)o < KILN_AWS_OUTCOME_COUNT ? names[o] : "unknown";
}

int kiln_aws_client_new(const struct kiln_aws_client_options *opts,
                        struct kiln_aws_client **out)
{
  struct kiln_aws_client *c = NULL;
  struct kiln_http_client_options ho;
  int err;

  if (opts == NULL || out == NULL || opts->loop == NULL ||
      opts->config == NULL || opts->config->region == NULL ||
      strlen(opts->config->region) >= sizeof(c->region))
    return KILN_EINVAL;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return KILN_ENOMEM;
  c->loop = opts->loop;
  snprintf(c->region, sizeof(c->region), "%s", opts->config->region);
  for (int s = 0; s < KILN_AWS_SERVICE_COUNT; s++)
    c->endpoint_ok[s] =
        kiln_aws_endpoint_resolve(opts->config, (enum kiln_aws_service)s, NULL,
                                  &c->endpoints[s]) == 0;
  c->retry_config.max_attempts =
      opts->config->max_attempts > 0 ? opts->config->max_attempts : 0;
  c->retry_config.base_ms = opts->retry_base_ms;
  c->retry_config.max_backoff_ms = opts->retry_max_backoff_ms;
  kiln_retry_quota_init(&c->quota, KILN_RETRY_QUOTA_CAPACITY);
  c->random01 = opts->random01 != NULL ? opts->random01 : default_random01;
  c->random_data = opts->random_data;
  if (!opts->disable_rate_limit) {
    err = kiln_ratelimiter_new(&c->limiter, opts->rate_limit_share);
    if (err != 0)
      goto fail;
  }
  memset(&ho, 0, sizeof(ho));
  ho.ca_bundle = opts->config->ca_bundle;
  ho.timeout_ms = opts->timeout_ms;
  ho.connect_timeout_ms = opts->connect_timeout_ms;
  err = kiln_http_client_new(opts->loop, &ho, &c->http);
  if (err != 0)
    goto fail;
  if (opts->credentials != NULL) {
    c->creds = kiln_aws_credentials_provider_ref(opts->credentials);
  } else {
    struct kiln_aws_credentials_options co;

    memset(&co, 0, sizeof(co));
    co.loop = opts->loop;
    co.config = opts->config;
    co.http = c->http;
    err = kiln_aws_credentials_provider_new_default(&co, &c->creds);
    if (err != 0) {
      /* The HTTP client holds handles: close it and free the rest later. */
      kiln_ratelimiter_free(c->limiter);
      c->limiter = NULL;
      kiln_http_client_close(c->http, NULL, NULL);
      free(c);
      return err;
    }
  }
  *out = c;
  return 0;

fail:
  kiln_ratelimiter_free(c->limiter);
  free(c);
  return err;
}

const char *kiln_aws_client_region(const struct kiln_aws_client *client)
{
  return client->region;
}

const char *kiln_aws_client_endpoint(const struct kiln_aws_client *client,
                                     enum kiln_aws_service service)
{
  if ((unsigned)service >= KILN_AWS_SERVICE_COUNT ||
      !client->endpoint_ok[service])
    return NULL;
  return client->endpoints[service].url;
}

size_t kiln_aws_client_stats(const struct kiln_aws_client *client,
                             const struct kiln_aws_action_stats **out)
{
  *out = client->stats;
  return client->stats_count;
}

static int stats_index(struct kiln_aws_client *c, enum kiln_aws_service s,
                       const char *action, size_t *index)
{
  struct kiln_aws_action_stats *st;

  for (size_t i = 0; i < c->stats_count; i++)
    if (c->stats[i].service == s && strcmp(c->stats[i].action, action) == 0) {
      *index = i;
      return 0;
    }
  if (c->stats_count == c->stats_cap) {
    size_t cap = c->stats_cap ? c->stats_cap * 2 : 16;

    st = realloc(c->stats, cap * sizeof(*st));
    if (st == NULL)
      return KILN_ENOMEM;
    c->stats = st;
    c->stats_cap = cap;
  }
  st = &c->stats[c->stats_count];
  memset(st, 0, sizeof(*st));
  st->service = s;
  snprintf(st->action, sizeof(st->action), "%s", action);
  *index = c->stats_count++;
  return 0;
}

static void maybe_closed(struct kiln_aws_client *c)
{
  kiln_aws_client_close_cb *cb;
  void *data;

  if (!c->closing || !c->http_closed || c->call_count != 0)
    return;
  cb = c->close_cb;
  data = c->close_data;
  kiln_aws_credentials_provider_unref(c->creds);
  kiln_ratelimiter_free(c->limiter);
  free(c->stats);
  free(c);
  if (cb != NULL)
    cb(data);
}

static void call_free(struct kiln_aws_call *call)
{
  free(call->action);
  free(call->method);
  free(call->path);
  free(call->query);
  if (call->body != NULL)
    memset(call->body, 0, call->body_len);
  free(call->body);
  free(call);
}

static void on_call_closed(uv_handle_t *h)
{
  struct kiln_aws_call *call = h->data;
  struct kiln_aws_client *c = call->client;

  if (call->prev != NULL)
    call->prev->next = call->next;
  else
    c->calls = call->next;
  if (call->next != NULL)
    call->next->prev = call->prev;
  c->call_count--;
  call_free(call);
  maybe_closed(c);
}

static enum kiln_aws_outcome outcome_of(int err)
{
  switch (err) {
  case 0:
    return KILN_AWS_OUTCOME_OK;
  case KILN_EAWS:
    return KILN_AWS_OUTCOME_AWS_ERROR;
  case KILN_ETHROTTLED:
    return KILN_AWS_OUTCOME_THROTTLED;
  case KILN_ECANCELED:
    return KILN_AWS_OUTCOME_CANCELED;
  default:
    return KILN_AWS_OUTCOME_FAILED;
  }
}

static const char *service_name(enum kiln_aws_service s)
{
  const struct kiln_aws_service_info *info = kiln_aws_service_info(s);

  return info != NULL ? info->prefix : "aws";
}

double kiln_aws_client_pace(const struct kiln_aws_client *client,
                            enum kiln_aws_service service, const char *action)
{
  return kiln_ratelimiter_rate(client->limiter, service_name(service),
                               client->region, action);
}

/* Mutations that carry no client token and are not idempotent: sent again
 * after AWS did them, they make a second refresh, or fail with an error
 * that blames the first (InstanceRefreshInProgress, AlreadyExists). */
static int once_only(const char *action)
{
  static const char *const actions[] = {
      "StartInstanceRefresh",
      "CancelInstanceRefresh",
      "RollbackInstanceRefresh",
      "CreateAutoScalingGroup",
  };

  for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
    if (strcmp(action, actions[i]) == 0)
      return 1;
  return 0;
}

/* An answer that does not say whether the service did the request: the
 * connection failed or timed out once the request may have been sent, or a
 * 5xx came from a load balancer or proxy (no AWS error in it), which also
 * answers 502/504 after the service did the work. A throttle or an AWS
 * error code is the service's own refusal. */
static int answer_lost(const struct kiln_http_response *hres,
                       const struct kiln_aws_error *aerr)
{
  if (hres->err == KILN_ECONN || hres->err == KILN_ETIMEDOUT)
    return 1;
  return hres->err == 0 && hres->status >= 500 &&
         (aerr == NULL || aerr->code[0] == '\0');
}

/* "HTTP 502 from a load balancer or proxy, not from AWS" for a 5xx with no
 * AWS error in it; NULL otherwise. */
static const char *gateway_text(const struct kiln_http_response *hres,
                                const struct kiln_aws_error *aerr, char *buf,
                                size_t cap)
{
  if (hres == NULL || hres->err != 0 || hres->status < 500 ||
      (aerr != NULL && aerr->code[0] != '\0'))
    return NULL;
  snprintf(buf, cap,
           "HTTP %ld from a load balancer or proxy in front of AWS, with "
           "no AWS error in it (%s)",
           hres->status, hres->body.len > 0 ? "an HTML page or text" : "empty");
  return buf;
}

static void step(uv_timer_t *t);

static void park(struct kiln_aws_call *call)
{
  struct kiln_aws_client *c = call->client;

  call->parked = 1;
  call->parked_next = NULL;
  if (c->parked_tail != NULL)
    c->parked_tail->parked_next = call;
  else
    c->parked_head = call;
  c->parked_tail = call;
}

static void unpark(struct kiln_aws_call *call)
{
  struct kiln_aws_client *c = call->client;
  struct kiln_aws_call **pp = &c->parked_head, *prev = NULL;

  while (*pp != NULL && *pp != call) {
    prev = *pp;
    pp = &(*pp)->parked_next;
  }
  if (*pp == NULL)
    return;
  *pp = call->parked_next;
  if (c->parked_tail == call)
    c->parked_tail = prev;
  call->parked = 0;
  call->parked_next = NULL;
}

/* The call's answer is in (or it ended): its slot goes to the call that
 * has waited longest, which is started at once. */
static void release_slot(struct kiln_aws_call *call)
{
  struct kiln_aws_client *c = call->client;
  struct kiln_aws_call *next = c->parked_head;

  if (!call->has_slot)
    return;
  call->has_slot = 0;
  c->in_flight--;
  if (next == NULL)
    return;
  unpark(next);
  next->has_slot = 1;
  c->in_flight++;
  uv_timer_start(&next->timer, step, 0, 0);
}

/* Ends the call: parses a successful body, reports, and closes the timer. */
static void finish(struct kiln_aws_call *call, int err,
                   const struct kiln_http_response *hres,
                   const struct kiln_aws_error *aerr)
{
  struct kiln_aws_client *c = call->client;
  struct kiln_aws_response res;
  struct kiln_xml_doc *doc = NULL;
  struct json_object *json = NULL;
  const char *rid = NULL;
  char message[1536], gw[160];
  int perr;

  memset(&res, 0, sizeof(res));
  res.service = call->service;
  res.action = call->action;
  res.attempts = call->sent;
  res.request_id = "";
  message[0] = '\0';
  if (hres != NULL) {
    res.http_status = hres->status;
    rid = kiln_http_response_request_id(hres);
  }
  if (aerr != NULL && aerr->request_id[0] != '\0')
    rid = aerr->request_id;
  if (rid != NULL)
    res.request_id = rid;
  if (err == 0 && hres != NULL && hres->body.len > 0) {
    res.body = hres->body.data;
    res.body_len = hres->body.len;
    if (call->protocol == KILN_AWS_PROTOCOL_EC2_QUERY ||
        call->protocol == KILN_AWS_PROTOCOL_QUERY) {
      perr = kiln__xml_parse(res.body, res.body_len, &doc);
      if (perr == 0)
        res.xml = kiln__xml_root(doc);
    } else {
      perr = kiln__json_parse(res.body, res.body_len, &json);
      res.json = json;
    }
    if (perr != 0) {
      err = perr;
      snprintf(message, sizeof(message),
               "%s %s: the response body is not valid %s (request id %s)",
               service_name(call->service), call->action,
               res.json == NULL && json == NULL &&
                       call->protocol != KILN_AWS_PROTOCOL_JSON &&
                       call->protocol != KILN_AWS_PROTOCOL_REST_JSON
                   ? "XML"
                   : "JSON",
               res.request_id[0] ? res.request_id : "unknown");
    }
  } else if (err != 0 && call->lost) {
    res.error = aerr;
    snprintf(
        message, sizeof(message),
        "%s %s: the answer was lost (%s%s%s); AWS may have done it, so "
        "it is not sent again: the next pass looks at what AWS has",
        service_name(call->service), call->action,
        gateway_text(hres, aerr, gw, sizeof(gw)) != NULL ? gw
                                                         : kiln_strerror(err),
        hres && hres->err && hres->error_msg && hres->error_msg[0] ? ": " : "",
        hres && hres->err && hres->error_msg ? hres->error_msg : "");
  } else if ((err == KILN_EAWS || err == KILN_ETHROTTLED) &&
             gateway_text(hres, aerr, gw, sizeof(gw)) != NULL) {
    res.error = aerr;
    snprintf(message, sizeof(message), "%s %s: %s, after %d attempts",
             service_name(call->service), call->action, gw, call->sent);
  } else if (err == KILN_EAWS || err == KILN_ETHROTTLED) {
    res.error = aerr;
    snprintf(message, sizeof(message),
             "%s %s: %s%s%s (HTTP %ld, request id %s%s)",
             service_name(call->service), call->action,
             aerr && aerr->code[0] ? aerr->code : "error",
             aerr && aerr->message[0] ? ": " : "", aerr ? aerr->message : "",
             res.http_status, res.request_id[0] ? res.request_id : "unknown",
             err == KILN_ETHROTTLED ? ", still throttled after retries" : "");
  } else if (err == KILN_ECREDENTIALS) {
    snprintf(message, sizeof(message), "%s %s: no usable credentials: %s",
             service_name(call->service), call->action, call->detail);
  } else if (err != 0 && call->detail[0] != '\0') {
    snprintf(message, sizeof(message), "%s %s: %s", service_name(call->service),
             call->action, call->detail);
  } else if (err != 0) {
    snprintf(message, sizeof(message), "%s %s: %s%s%s",
             service_name(call->service), call->action, kiln_strerror(err),
             hres && hres->error_msg && hres->error_msg[0] ? ": " : "",
             hres && hres->error_msg ? hres->error_msg : "");
  }
  res.message = message;
  if (call->stats_index < c->stats_count) {
    struct kiln_aws_action_stats *st = &c->stats[call->stats_index];

    st->calls[outcome_of(err)]++;
  }
  call->state = ST_DONE;
  release_slot(call);
  call->cb(err, &res, call->data);
  if (doc != NULL)
    kiln__xml_free(doc);
  if (json != NULL)
    json_object_put(json);
  uv_close((uv_handle_t *)&call->timer, on_call_closed);
}

static void on_http(struct kiln_http_response *hres, void *data)
{
  struct kiln_aws_call *call = data;
  struct kiln_aws_client *c = call->client;
  struct kiln_aws_error aerr;
  struct kiln_retry_outcome o;
  struct kiln_retry_decision d;
  int have_aerr = 0, err;

  call->op = NULL;
  release_slot(call);
  if (call->canceled) {
    finish(call, KILN_ECANCELED, NULL, NULL);
    return;
  }
  memset(&o, 0, sizeof(o));
  o.transport_err = hres->err;
  o.status = hres->status;
  if (hres->err == 0 && hres->status >= 200 && hres->status < 300) {
    kiln_retry_on_success(&c->quota, &call->retry);
    kiln_ratelimiter_feedback(c->limiter, service_name(call->service),
                              c->region, call->action, 0, uv_now(c->loop));
    finish(call, 0, hres, NULL);
    return;
  }
  if (hres->err == 0) {
    kiln_aws_error_from_response(call->protocol, hres, &aerr);
    have_aerr = 1;
    o.code = aerr.code[0] != '\0' ? aerr.code : NULL;
    o.retry_after = kiln_http_response_header(hres, "retry-after");
    o.amz_retry_after = kiln_http_response_header(hres, "x-amz-retry-after");
  }
  if (once_only(call->action) && answer_lost(hres, have_aerr ? &aerr : NULL)) {
    call->lost = 1;
    finish(call, hres->err != 0 ? hres->err : KILN_EAWS, hres,
           have_aerr ? &aerr : NULL);
    return;
  }
  err = kiln_retry_decide(&c->retry_config, &c->quota, &call->retry, &o,
                          c->random01(c->random_data), &d);
  if (err == 0 && d.kind == KILN_RETRY_THROTTLING)
    kiln_ratelimiter_feedback(c->limiter, service_name(call->service),
                              c->region, call->action, 1, uv_now(c->loop));
  if (err == 0 && d.retry && !c->closing) {
    call->state = ST_WAIT;
    uv_timer_start(&call->timer, step, d.delay_ms, 0);
    return;
  }
  if (err == 0)
    err = hres->err != 0                    ? hres->err
          : d.kind == KILN_RETRY_THROTTLING ? KILN_ETHROTTLED
                                            : KILN_EAWS;
  finish(call, err, hres, have_aerr ? &aerr : NULL);
}

/* Signs and sends one attempt with creds. */
static int send_attempt(struct kiln_aws_call *call,
                        struct kiln_aws_credentials *creds)
{
  struct kiln_aws_client *c = call->client;
  const struct kiln_aws_endpoint *ep = &c->endpoints[call->service];
  struct kiln_sigv4_credentials sc;
  struct kiln_sigv4_result sig;
  struct kiln_sigv4_header sh[3];
  struct kiln_http_header h[7];
  struct kiln_http_request req;
  struct kiln_buf path, url;
  char scheme[8], host[256], target[160];
  const char *base_path = "", *content_type = NULL;
  size_t nsh = 0, nh = 0;
  int err;

  kiln_sigv4_result_init(&sig);
  kiln_buf_init(&path, 8192);
  kiln_buf_init(&url, 16384);
  err = kiln_aws_url_split(ep->url, scheme, sizeof(scheme), host, sizeof(host),
                           &base_path);
  if (err != 0)
    goto fail;
  if ((err = kiln_buf_puts(&path, base_path)) != 0 ||
      (err = kiln_buf_puts(&path, call->path)) != 0)
    goto fail;
  err = kiln_buf_printf(&url, "%s://%s%s%s%s", scheme, ep->host, path.data,
                        call->query != NULL && call->query[0] ? "?" : "",
                        call->query != NULL ? call->query : "");
  if (err != 0)
    goto fail;
  switch (call->protocol) {
  case KILN_AWS_PROTOCOL_EC2_QUERY:
  case KILN_AWS_PROTOCOL_QUERY:
    content_type = "application/x-www-form-urlencoded; charset=utf-8";
    break;
  case KILN_AWS_PROTOCOL_JSON:
    content_type = "application/x-amz-json-1.1";
    snprintf(target, sizeof(target), "AmazonSSM.%s", call->action);
    break;
  case KILN_AWS_PROTOCOL_REST_JSON:
    if (call->body_len > 0)
      content_type = "application/json";
    break;
  }
  sh[nsh++] = (struct kiln_sigv4_header){"Host", ep->host};
  if (content_type != NULL)
    sh[nsh++] = (struct kiln_sigv4_header){"Content-Type", content_type};
  if (call->protocol == KILN_AWS_PROTOCOL_JSON)
    sh[nsh++] = (struct kiln_sigv4_header){"X-Amz-Target", target};
  kiln_aws_credentials_sigv4(creds, &sc);
  {
    struct kiln_sigv4_request sreq = {
        .method = call->method,
        .host = ep->host,
        .path = path.data,
        .query = call->query,
        .headers = sh,
        .header_count = nsh,
        .body = call->body,
        .body_len = call->body_len,
    };

    err = kiln_sigv4_sign(&sreq, &sc, ep->signing_region, ep->signing_name,
                          (int64_t)time(NULL), &sig);
    if (err != 0)
      goto fail;
  }
  for (size_t i = 0; i < nsh; i++)
    h[nh++] = (struct kiln_http_header){sh[i].name, sh[i].value};
  h[nh++] = (struct kiln_http_header){"X-Amz-Date", sig.amz_date};
  if (sc.session_token != NULL && sc.session_token[0] != '\0')
    h[nh++] =
        (struct kiln_http_header){"X-Amz-Security-Token", sc.session_token};
  h[nh++] = (struct kiln_http_header){"Authorization", sig.authorization.data};
  memset(&req, 0, sizeof(req));
  req.method = call->method;
  req.url = url.data;
  req.headers = h;
  req.header_count = nh;
  req.body = call->body;
  req.body_len = call->body_len;
  req.max_body_bytes = KILN__MAX_DOC_BYTES;
  /* The APIs' answers are descriptions, not credentials (STS's aside). */
  req.plain_response = call->service != KILN_AWS_STS;
  err = kiln_http_request_start(c->http, &req, on_http, call, &call->op);
  if (err == 0) {
    call->state = ST_HTTP;
    c->stats[call->stats_index].attempts++;
    if (call->sent++ > 0)
      c->stats[call->stats_index].retries++;
  }

fail:
  kiln_buf_cleanup(&path);
  kiln_buf_cleanup(&url);
  kiln_sigv4_result_cleanup(&sig);
  return err;
}

static void on_creds(int status, struct kiln_aws_credentials *creds,
                     const char *message, void *data)
{
  struct kiln_aws_call *call = data;
  int err;

  if (call->canceled) {
    finish(call, KILN_ECANCELED, NULL, NULL);
    return;
  }
  if (status != 0) {
    snprintf(call->detail, sizeof(call->detail), "%s",
             message != NULL && message[0] ? message : kiln_strerror(status));
    finish(call, status == KILN_ECANCELED ? KILN_ECANCELED : KILN_ECREDENTIALS,
           NULL, NULL);
    return;
  }
  err = send_attempt(call, creds);
  if (err != 0)
    finish(call, err, NULL, NULL);
}

/* The timer: a new attempt (or the first), after the rate limiter. */
static void step(uv_timer_t *t)
{
  struct kiln_aws_call *call = t->data;
  struct kiln_aws_client *c = call->client;
  uint64_t wait_ms = 0;
  int err;

  if (call->canceled || c->closing) {
    finish(call, KILN_ECANCELED, NULL, NULL);
    return;
  }
  if (!c->endpoint_ok[call->service]) {
    snprintf(call->detail, sizeof(call->detail),
             "no endpoint for this service in region %s: check AWS_REGION "
             "and AWS_ENDPOINT_URL_*",
             c->region);
    finish(call, KILN_EINVAL, NULL, NULL);
    return;
  }
  if (c->limiter != NULL && !call->has_token) {
    err = kiln_ratelimiter_take(c->limiter, service_name(call->service),
                                c->region, call->action, uv_now(c->loop),
                                &wait_ms);
    if (err == KILN_EAGAIN) {
      uv_timer_start(&call->timer, step, wait_ms, 0);
      return;
    }
    if (err != 0) {
      finish(call, err, NULL, NULL);
      return;
    }
    call->has_token = 1;
  }
  if (!call->has_slot) {
    if (c->in_flight >= KILN_AWS_MAX_IN_FLIGHT) {
      park(call); /* release_slot() starts it again */
      return;
    }
    call->has_slot = 1;
    c->in_flight++;
  }
  call->has_token = 0; /* spent on this attempt */
  call->state = ST_CREDS;
  err = kiln_aws_credentials_get(c->creds, on_creds, call);
  if (err == KILN_ENOENT) {
    snprintf(call->detail, sizeof(call->detail),
             "no credentials provider is configured");
    finish(call, KILN_ECREDENTIALS, NULL, NULL);
  } else if (err != 0) {
    finish(call, err, NULL, NULL);
  }
}

static char *dup_or_null(const char *s, int *err)
{
  char *d;

  if (s == NULL)
    return NULL;
  d = strdup(s);
  if (d == NULL)
    *err = KILN_ENOMEM;
  return d;
}

int kiln_aws_call(struct kiln_aws_client *c, const struct kiln_aws_request *req,
                  kiln_aws_call_cb *cb, void *data,
                  struct kiln_aws_call **call_out)
{
  struct kiln_aws_call *call;
  enum kiln_aws_protocol proto;
  int err = 0;

  if (c == NULL || req == NULL || cb == NULL || req->action == NULL ||
      req->action[0] == '\0' ||
      (unsigned)req->service >= KILN_AWS_SERVICE_COUNT ||
      (req->body == NULL && req->body_len > 0))
    return KILN_EINVAL;
  if (c->closing)
    return KILN_ECANCELED;
  proto = kiln_aws_service_protocol(req->service);
  if (proto == KILN_AWS_PROTOCOL_REST_JSON &&
      (req->method == NULL || req->path == NULL || req->path[0] != '/'))
    return KILN_EINVAL;
  call = calloc(1, sizeof(*call));
  if (call == NULL)
    return KILN_ENOMEM;
  call->client = c;
  call->service = req->service;
  call->protocol = proto;
  call->cb = cb;
  call->data = data;
  call->action = dup_or_null(req->action, &err);
  if (proto == KILN_AWS_PROTOCOL_REST_JSON) {
    call->method = dup_or_null(req->method, &err);
    call->path = dup_or_null(req->path, &err);
    call->query = dup_or_null(req->query, &err);
  } else {
    call->method = dup_or_null("POST", &err);
    call->path = dup_or_null("/", &err);
  }
  if (req->body_len > 0) {
    call->body = malloc(req->body_len + 1);
    if (call->body == NULL) {
      err = KILN_ENOMEM;
    } else {
      memcpy(call->body, req->body, req->body_len);
      call->body[req->body_len] = '\0';
      call->body_len = req->body_len;
    }
  }
  if (err == 0)
    err = stats_index(c, req->service, req->action, &call->stats_index);
  if (err != 0) {
    call_free(call);
    return err;
  }
  kiln_retry_state_init(&call->retry);
  uv_timer_init(c->loop, &call->timer);
  call->timer.data = call;
  call->state = ST_WAIT;
  call->next = c->calls;
  if (c->calls != NULL)
    c->calls->prev = call;
  c->calls = call;
  c->call_count++;
  /* The first step runs from the loop: the callback can never run before
   * this function returns. */
  uv_timer_start(&call->timer, step, 0, 0);
  if (call_out != NULL)
    *call_out = call;
  return 0;
}

void kiln_aws_call_cancel(struct kiln_aws_call *call)
{
  if (call == NULL || call->state == ST_DONE || call->canceled)
    return;
  call->canceled = 1;
  if (call->parked)
    unpark(call);
  if (call->state == ST_HTTP && call->op != NULL)
    kiln_http_cancel(call->op);
  else if (call->state == ST_WAIT)
    uv_timer_start(&call->timer, step, 0, 0);
  /* ST_CREDS: the credentials callback sees the flag. */
}

static void on_http_closed(struct kiln_http_client *http, void *data)
{
  struct kiln_aws_client *c = data;

  (void)http;
  c->http_closed = 1;
  maybe_closed(c);
}

void kiln_aws_client_close(struct kiln_aws_client *c,
                           kiln_aws_client_close_cb *cb, void *data)
{
  if (c == NULL || c->closing)
    return;
  c->closing = 1;
  c->close_cb = cb;
  c->close_data = data;
  for (struct kiln_aws_call *call = c->calls; call != NULL; call = call->next)
    kiln_aws_call_cancel(call);
  /* Closing the HTTP client also cancels the credential providers'
   * requests, so calls waiting for credentials end too. */
  kiln_http_client_close(c->http, on_http_closed, c);
}

const char *kiln_aws_tag_value(const struct kiln_aws_tag *tags, size_t n,
                               const char *key)
{
  for (size_t i = 0; i < n; i++)
    if (tags[i].key != NULL && strcmp(tags[i].key, key) == 0)
      return tags[i].value;
  return NULL;
}

int64_t kiln_aws_time_s(const char *iso)
{
  int64_t ms;
  return iso != NULL && kiln_aws_parse_time(iso, &ms) == 0 ? ms / 1000 : 0;
}
