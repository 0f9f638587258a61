/* EC2 instance metadata credentials, IMDSv2 only.
 *
 *   TOKEN  PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds)
 *   ROLE   GET /latest/meta-data/iam/security-credentials/       (+ token)
 *   CREDS  GET /latest/meta-data/iam/security-credentials/<role> (+ token)
 *
 * Every transition goes through step(). If the token cannot be had the
 * fetch fails: a GET without a token (IMDSv1) is never sent, because an
 * instance that requires IMDSv2 is exactly where a v1 fallback would hide
 * a misconfiguration, and where SSRF protection matters. The token is
 * cached until shortly before its TTL; a 401 drops it and starts over
 * once.
 */
#include "credentials_private.h"

#include "kiln/error.h"
#include "kiln/http.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMDS_TOKEN_TTL_S 21600
#define IMDS_TOKEN_MAX   4096
#define IMDS_MAX_BODY    (64u * 1024)
#define IMDS_CREDS_PATH  "/latest/meta-data/iam/security-credentials/"

#define IMDS_REGION_PATH "/latest/meta-data/placement/region"

enum imds_state { IMDS_TOKEN, IMDS_ROLE, IMDS_CREDS, IMDS_REGION };

struct imds_provider {
  struct kiln_aws_credentials_provider base;
  int disabled;
  char endpoint[KILN_AWS_ENDPOINT_URL_MAX]; /* no trailing '/' */
  long request_timeout_ms;
  char *token; /* secret; NULL when none cached */
  int64_t token_expires_ms;
};

struct imds_req {
  struct imds_provider *p; /* holds a reference */
  enum imds_state state;
  int retried; /* a 401 already restarted the flow */
  char role[256];
  kiln_aws_credentials_cb *cb;   /* a credentials request, or */
  kiln_aws_region_cb *region_cb; /* a region request */
  void *data;
};

static void imds_finish(struct imds_req *r, int status,
                        struct kiln_aws_credentials *creds, const char *message)
{
  if (r->region_cb != NULL)
    r->region_cb(status, NULL, message, r->data);
  else
    r->cb(status, creds, message, r->data);
  kiln_aws_credentials_provider_unref(&r->p->base);
  free(r);
}

static void drop_token(struct imds_provider *p)
{
  kiln__secret_free(p->token);
  p->token = NULL;
}

static void on_response(struct kiln_http_response *res, void *data);

/* Enters state and sends its request. Returns 0 or an error (the request
 * was not sent). */
static int step(struct imds_req *r, enum imds_state state)
{
  struct imds_provider *p = r->p;
  struct kiln_http_header h[1];
  struct kiln_http_request req;
  char url[KILN_AWS_ENDPOINT_URL_MAX + 512], ttl[16];

  if (state != IMDS_TOKEN &&
      (p->token == NULL ||
       kiln__provider_now_ms(&p->base) >= p->token_expires_ms)) {
    drop_token(p);
    state = IMDS_TOKEN;
  }
  r->state = state;
  memset(&req, 0, sizeof(req));
  switch (state) {
  case IMDS_TOKEN:
    snprintf(url, sizeof(url), "%s/latest/api/token", p->endpoint);
    snprintf(ttl, sizeof(ttl), "%d", IMDS_TOKEN_TTL_S);
    h[0] =
        (struct kiln_http_header){"X-aws-ec2-metadata-token-ttl-seconds", ttl};
    req.method = "PUT";
    break;
  case IMDS_ROLE:
    snprintf(url, sizeof(url), "%s" IMDS_CREDS_PATH, p->endpoint);
    h[0] = (struct kiln_http_header){"X-aws-ec2-metadata-token", p->token};
    req.method = "GET";
    break;
  case IMDS_CREDS:
    snprintf(url, sizeof(url), "%s" IMDS_CREDS_PATH "%s", p->endpoint, r->role);
    h[0] = (struct kiln_http_header){"X-aws-ec2-metadata-token", p->token};
    req.method = "GET";
    break;
  case IMDS_REGION:
    snprintf(url, sizeof(url), "%s" IMDS_REGION_PATH, p->endpoint);
    h[0] = (struct kiln_http_header){"X-aws-ec2-metadata-token", p->token};
    req.method = "GET";
    break;
  }
  req.url = url;
  req.headers = h;
  req.header_count = 1;
  req.connect_timeout_ms = p->request_timeout_ms;
  req.timeout_ms = p->request_timeout_ms;
  req.max_body_bytes = IMDS_MAX_BODY;
  return kiln_http_request_start(p->base.http, &req, on_response, r, NULL);
}

static void fail(struct imds_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct imds_req *r, int status, const char *fmt, ...)
{
  char msg[700];
  va_list ap;
  int n = snprintf(msg, sizeof(msg), "imds %s: ", r->p->endpoint);
  va_start(ap, fmt);
  vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
  va_end(ap);
  imds_finish(r, status, NULL, msg);
}

/* Starts the next state, or fails the request if that cannot be done. */
static void go(struct imds_req *r, enum imds_state state)
{
  int err = step(r, state);
  if (err != 0)
    fail(r, err, "cannot send a request: %s", kiln_strerror(err));
}

static int valid_role(const char *s, size_t n)
{
  if (n == 0 || n >= 256)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    /* IAM role names: alphanumerics and +=,.@_- */
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || strchr("+=,.@_-", c) != NULL))
      return 0;
  }
  return 1;
}

static void handle_on_response(struct kiln_http_response *res, void *data)
{
  struct imds_req *r = data;
  struct imds_provider *p = r->p;
  const char *body = res->body.data != NULL ? res->body.data : "";
  struct kiln_aws_credentials *creds = NULL;
  char source[KILN_AWS_SOURCE_MAX], why[300];
  size_t n;
  int err;

  if (res->err != 0) {
    /* No metadata service (not on EC2, or blocked): not configured here.
     * Later failures mean it answered once, so they are real errors, and
     * a cancellation is always reported as one. */
    int unreachable = res->err == KILN_ECONN || res->err == KILN_ETIMEDOUT;
    fail(r, r->state == IMDS_TOKEN && unreachable ? KILN_ENOENT : res->err,
         "%s%s%s", kiln_strerror(res->err),
         res->error_msg[0] != '\0' ? ": " : "", res->error_msg);
    return;
  }
  if (res->status == 401 && r->state != IMDS_TOKEN && !r->retried) {
    r->retried = 1;
    drop_token(p);
    go(r, IMDS_TOKEN);
    return;
  }

  switch (r->state) {
  case IMDS_TOKEN:
    if (res->status != 200 || res->body.len == 0 ||
        res->body.len > IMDS_TOKEN_MAX ||
        strcspn(body, "\r\n") != res->body.len) {
      fail(r, KILN_ECREDENTIALS,
           "the IMDSv2 token request (PUT /latest/api/token) got HTTP %ld; "
           "Kiln never falls back to IMDSv1: check that the instance's "
           "metadata options allow tokens (and the hop limit in containers)",
           res->status);
      return;
    }
    drop_token(p);
    p->token = strdup(body);
    if (p->token == NULL) {
      fail(r, KILN_ENOMEM, "out of memory");
      return;
    }
    /* Refresh a minute early so a token never expires in flight. */
    p->token_expires_ms =
        kiln__provider_now_ms(&p->base) + (IMDS_TOKEN_TTL_S - 60) * 1000LL;
    go(r, r->region_cb != NULL ? IMDS_REGION
          : r->role[0] != '\0' ? IMDS_CREDS
                               : IMDS_ROLE);
    return;

  case IMDS_ROLE:
    if (res->status == 404) {
      fail(r, KILN_ENOENT, "no IAM instance profile is attached");
      return;
    }
    n = strcspn(body, "\r\n");
    if (res->status != 200 || !valid_role(body, n)) {
      fail(r, KILN_EHTTP, "GET " IMDS_CREDS_PATH " got HTTP %ld", res->status);
      return;
    }
    snprintf(r->role, sizeof(r->role), "%.*s", (int)n, body);
    go(r, IMDS_CREDS);
    return;

  case IMDS_CREDS:
    if (res->status != 200) {
      fail(r, KILN_EHTTP, "GET " IMDS_CREDS_PATH "%s got HTTP %ld", r->role,
           res->status);
      return;
    }
    kiln__msgf(source, sizeof(source), "imds %s", r->role);
    err = kiln__creds_from_json(body, res->body.len, source, &creds, why,
                                sizeof(why));
    if (err != 0) {
      fail(r, err, "role %s: %s", r->role, why);
      return;
    }
    imds_finish(r, 0, creds, "");
    kiln_aws_credentials_unref(creds);
    return;

  case IMDS_REGION: {
    const char *partition, *suffix;
    if (res->status != 200 ||
        kiln_aws_partition_for_region(body, &partition, &suffix) != 0) {
      fail(r, KILN_EHTTP, "GET " IMDS_REGION_PATH " got HTTP %ld", res->status);
      return;
    }
    r->region_cb(0, body, "", r->data);
    kiln_aws_credentials_provider_unref(&p->base);
    free(r);
    return;
  }
  }
}

/* The body holds secrets (keys, tokens): wipe it once it is parsed. */
static void on_response(struct kiln_http_response *res, void *data)
{
  handle_on_response(res, data);
  kiln__wipe_response(res);
}

static int imds_get(struct kiln_aws_credentials_provider *base,
                    kiln_aws_credentials_cb *cb, void *data)
{
  struct imds_provider *p = container_of(base, struct imds_provider, base);
  struct imds_req *r;
  int err;

  if (p->disabled)
    return KILN_ENOENT;
  if (base->http == NULL)
    return kiln__creds_defer(base->loop, cb, data, KILN_EINVAL, NULL,
                             "imds: no HTTP client");
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return KILN_ENOMEM;
  r->p = p;
  r->cb = cb;
  r->data = data;
  err = step(r, IMDS_ROLE); /* becomes IMDS_TOKEN without a cached token */
  if (err != 0) {
    free(r);
    return err;
  }
  kiln_aws_credentials_provider_ref(base);
  return 0;
}

static void imds_destroy(struct kiln_aws_credentials_provider *base)
{
  struct imds_provider *p = container_of(base, struct imds_provider, base);
  drop_token(p);
  free(p);
}

static const struct kiln__provider_vtable imds_vt = {"imds", imds_get,
                                                     imds_destroy};

int kiln_aws_credentials_provider_new_imds(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider **out)
{
  const struct kiln_aws_config *cfg;
  struct imds_provider *p;
  size_t n;

  *out = NULL;
  if (o == NULL || o->loop == NULL || o->config == NULL)
    return KILN_EINVAL;
  cfg = o->config;
  p = calloc(1, sizeof(*p));
  if (p == NULL)
    return KILN_ENOMEM;
  kiln__provider_init(&p->base, &imds_vt, o);
  p->disabled = cfg->imds_disabled;
  snprintf(p->endpoint, sizeof(p->endpoint), "%s",
           cfg->imds_endpoint != NULL ? cfg->imds_endpoint
                                      : "http://169.254.169.254");
  n = strlen(p->endpoint);
  while (n > 0 && p->endpoint[n - 1] == '/')
    p->endpoint[--n] = '\0';
  p->request_timeout_ms =
      cfg->imds_timeout_ms > 0 ? cfg->imds_timeout_ms : 1000;
  *out = &p->base;
  return 0;
}

int kiln_aws_imds_region(const struct kiln_aws_credentials_options *o,
                         kiln_aws_region_cb *cb, void *data)
{
  struct kiln_aws_credentials_provider *base;
  struct imds_provider *p;
  struct imds_req *r;
  int err;

  if (cb == NULL || o == NULL || o->http == NULL)
    return KILN_EINVAL;
  if ((err = kiln_aws_credentials_provider_new_imds(o, &base)) != 0)
    return err;
  p = container_of(base, struct imds_provider, base);
  if (p->disabled) {
    kiln_aws_credentials_provider_unref(base);
    return KILN_ENOENT;
  }
  r = calloc(1, sizeof(*r));
  if (r == NULL) {
    kiln_aws_credentials_provider_unref(base);
    return KILN_ENOMEM;
  }
  /* The request owns the only reference to its one-off provider. */
  r->p = p;
  r->region_cb = cb;
  r->data = data;
  err = step(r, IMDS_REGION);
  if (err != 0) {
    free(r);
    kiln_aws_credentials_provider_unref(base);
  }
  return err;
}
