/* STS over the Query protocol: AssumeRole (signed), AssumeRoleWithWebIdentity
 * (unsigned) and GetCallerIdentity (signed), the XML response parser, and
 * the assume-role provider.
 */
#include "credentials_private.h"

#include "kiln/str.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/aws_retry.h"
#include "kiln/http.h"
#include "kiln/sigv4.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STS_MAX_BODY_BYTES (64u * 1024)
#define STS_VERSION        "2011-06-15"

/* ---- XML -------------------------------------------------------------- */

static int is_elem(const xmlNode *n, const char *name)
{
  return n->type == XML_ELEMENT_NODE &&
         strcmp((const char *)n->name, name) == 0;
}

/* Depth-first search for the first element named name under n. */
static xmlNode *find(xmlNode *n, const char *name, int depth)
{
  if (n == NULL || depth > 16)
    return NULL;
  for (xmlNode *c = n->children; c != NULL; c = c->next) {
    xmlNode *f;
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (is_elem(c, name))
      return c;
    if ((f = find(c, name, depth + 1)) != NULL)
      return f;
  }
  return NULL;
}

/* Copies the text of the child element name of n into out ("" when
 * absent); returns 1 when present. */
static int child_text(xmlNode *n, const char *name, char *out, size_t size)
{
  xmlNode *c = n != NULL ? find(n, name, 15) : NULL;
  xmlChar *t;

  out[0] = '\0';
  if (c == NULL)
    return 0;
  t = xmlNodeGetContent(c);
  if (t == NULL)
    return 0;
  snprintf(out, size, "%s", (const char *)t);
  OPENSSL_cleanse(t, strlen((const char *)t));
  xmlFree(t);
  return 1;
}


/* libxml2 frees text without wiping it: wipe every text node first. */
static void wipe_text(xmlNode *n)
{
  for (; n != NULL; n = n->next) {
    if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) &&
        n->content != NULL)
      OPENSSL_cleanse(n->content, strlen((const char *)n->content));
    /* Only elements: entity references point back into the DTD. */
    if (n->type == XML_ELEMENT_NODE)
      wipe_text(n->children);
  }
}

int kiln__sts_parse(const char *body, size_t len, const char *action,
                    const char *source, struct kiln__sts_result *out)
{
  char want[96], akid[256], secret[256], account[32], expiration[64];
  char *token = NULL;
  xmlDoc *doc = NULL;
  xmlNode *root, *creds, *user;
  int64_t exp_ms;
  int err;

  memset(out, 0, sizeof(*out));
  if (len > STS_MAX_BODY_BYTES)
    return KILN_ETOOBIG;
  if (len > INT32_MAX)
    return KILN_ETOOBIG;
  /* No network, no entity substitution, no DTD loading; errors are ours to
   * report, not libxml2's to print. */
  doc =
      xmlReadMemory(body, (int)len, "sts.xml", NULL,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                        XML_PARSE_NOCDATA | XML_PARSE_NODICT);
  if (doc == NULL)
    return KILN_EPARSE;
  if (doc->intSubset != NULL || doc->extSubset != NULL) {
    err = KILN_EPARSE;
    goto done;
  }
  root = xmlDocGetRootElement(doc);
  if (root == NULL) {
    err = KILN_EPARSE;
    goto done;
  }
  if (is_elem(root, "ErrorResponse") || is_elem(root, "Error")) {
    xmlNode *e = is_elem(root, "Error") ? root : find(root, "Error", 0);
    xmlNode *holder = e != NULL ? e : root;
    child_text(holder, "Code", out->error_code, sizeof(out->error_code));
    child_text(holder, "Message", out->error_message,
               sizeof(out->error_message));
    child_text(root, "RequestId", out->request_id, sizeof(out->request_id));
    err = KILN_EAWS;
    goto done;
  }
  snprintf(want, sizeof(want), "%sResponse", action);
  if (!is_elem(root, want)) {
    err = KILN_EPARSE;
    goto done;
  }
  child_text(root, "RequestId", out->request_id, sizeof(out->request_id));

  if (strcmp(action, "GetCallerIdentity") == 0) {
    struct kiln_aws_caller_identity *id = &out->identity;
    if (!child_text(root, "Arn", id->arn, sizeof(id->arn)) ||
        !child_text(root, "Account", id->account, sizeof(id->account))) {
      err = KILN_EPARSE;
      goto done;
    }
    child_text(root, "UserId", id->user_id, sizeof(id->user_id));
    err = 0;
    goto done;
  }

  creds = find(root, "Credentials", 0);
  if (creds == NULL) {
    err = KILN_EPARSE;
    goto done;
  }
  {
    xmlNode *tn = find(creds, "SessionToken", 15);
    xmlChar *t = tn != NULL ? xmlNodeGetContent(tn) : NULL;
    if (t != NULL) {
      token = strdup((const char *)t);
      OPENSSL_cleanse(t, strlen((const char *)t));
      xmlFree(t);
      if (token == NULL) {
        err = KILN_ENOMEM;
        goto done;
      }
    }
  }
  child_text(creds, "AccessKeyId", akid, sizeof(akid));
  child_text(creds, "SecretAccessKey", secret, sizeof(secret));
  child_text(creds, "Expiration", expiration, sizeof(expiration));
  user = find(root, "AssumedRoleUser", 0);
  if (user != NULL)
    child_text(user, "Arn", out->assumed_arn, sizeof(out->assumed_arn));
  kiln_arn_account(out->assumed_arn, account, sizeof(account));
  if (akid[0] == '\0' || secret[0] == '\0' || token == NULL ||
      kiln_aws_parse_time(expiration, &exp_ms) != 0) {
    err = KILN_EPARSE;
    goto done;
  }
  err = kiln_aws_credentials_new(akid, secret, token, account, exp_ms, source,
                                 &out->creds);
done:
  OPENSSL_cleanse(secret, sizeof(secret));
  kiln__secret_free(token);
  if (doc != NULL) {
    wipe_text(doc->children);
    xmlFreeDoc(doc);
  }
  return err;
}

void kiln__sts_result_cleanup(struct kiln__sts_result *out)
{
  kiln_aws_credentials_unref(out->creds);
  out->creds = NULL;
}

/* ---- The call --------------------------------------------------------- */

int kiln__sts_target_init(struct kiln__sts_target *t,
                          const struct kiln_aws_config *cfg, char *msg,
                          size_t msg_size)
{
  /* Without a region the SDKs send STS calls to us-east-1. */
  const char *region = cfg->region != NULL ? cfg->region : "us-east-1";
  int err = kiln_aws_endpoint_resolve(cfg, KILN_AWS_STS, region, &t->endpoint);
  if (err != 0)
    snprintf(msg, msg_size,
             "STS endpoint for region %s is invalid: check "
             "AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL and endpoint_url",
             region);
  return err;
}

/* One STS call across its attempts. Each attempt is signed afresh (the
 * date moves); between attempts the standard retry policy decides, and a
 * timer waits. */
struct sts_req {
  struct kiln_aws_credentials_provider *base; /* holds a reference */
  struct kiln__sts_target target;
  struct kiln_aws_credentials *creds; /* NULL: unsigned */
  char *params;                       /* may hold a web identity token */
  kiln__sts_cb *cb;
  void *data;
  char action[64];
  char source[KILN_AWS_SOURCE_MAX];
  struct kiln_retry_quota quota;
  struct kiln_retry_state retry;
  uv_timer_t timer;
  int timer_inited;
};

static void sts_req_closed(uv_handle_t *h)
{
  free(container_of(h, struct sts_req, timer));
}

static void sts_req_free(struct sts_req *r)
{
  kiln_aws_credentials_unref(r->creds);
  kiln__secret_free(r->params);
  kiln_aws_credentials_provider_unref(r->base);
  if (r->timer_inited)
    uv_close((uv_handle_t *)&r->timer, sts_req_closed);
  else
    free(r);
}

static void sts_done(struct kiln_http_response *res, void *data);

/* Signs and sends one attempt. Returns 0 or an error (nothing sent). */
static int sts_attempt(struct sts_req *r)
{
  static const char content_type[] =
      "application/x-www-form-urlencoded; charset=utf-8";
  const struct kiln_aws_endpoint *ep = &r->target.endpoint;
  struct kiln_sigv4_result sig;
  struct kiln_http_header h[5];
  struct kiln_http_request req;
  char url[KILN_AWS_ENDPOINT_URL_MAX + 2];
  size_t nh = 0, body_len = strlen(r->params);
  int err = 0;

  snprintf(url, sizeof(url), "%s/", ep->url);
  kiln_sigv4_result_init(&sig);
  h[nh++] = (struct kiln_http_header){"Host", ep->host};
  h[nh++] = (struct kiln_http_header){"Content-Type", content_type};
  if (r->creds != NULL) {
    struct kiln_sigv4_header sh[] = {{"Host", ep->host},
                                     {"Content-Type", content_type}};
    struct kiln_sigv4_request sreq = {
        .method = "POST",
        .host = ep->host,
        .path = "/",
        .headers = sh,
        .header_count = 2,
        .body = r->params,
        .body_len = body_len,
    };
    struct kiln_sigv4_credentials sc;

    kiln_aws_credentials_sigv4(r->creds, &sc);
    err = kiln_sigv4_sign(&sreq, &sc, ep->signing_region, ep->signing_name,
                          kiln__provider_now_ms(r->base) / 1000, &sig);
    if (err != 0)
      goto done;
    h[nh++] = (struct kiln_http_header){"X-Amz-Date", sig.amz_date};
    h[nh++] =
        (struct kiln_http_header){"Authorization", sig.authorization.data};
    if (r->creds->session_token != NULL)
      h[nh++] = (struct kiln_http_header){"X-Amz-Security-Token",
                                          r->creds->session_token};
  }
  req = (struct kiln_http_request){
      .method = "POST",
      .url = url,
      .headers = h,
      .header_count = nh,
      .body = r->params,
      .body_len = body_len,
      .timeout_ms = r->base->timeout_ms,
      .max_body_bytes = STS_MAX_BODY_BYTES,
  };
  err = kiln_http_request_start(r->base->http, &req, sts_done, r, NULL);
done:
  kiln_sigv4_result_cleanup(&sig);
  return err;
}

static void sts_retry_fire(uv_timer_t *t)
{
  struct sts_req *r = container_of(t, struct sts_req, timer);
  char msg[600];
  int err = sts_attempt(r);

  if (err != 0) {
    snprintf(msg, sizeof(msg), "STS %s at %s: cannot retry: %s", r->action,
             r->target.endpoint.url, kiln_strerror(err));
    r->cb(err, NULL, msg, r->data);
    sts_req_free(r);
  }
}

static double random01(void)
{
  uint32_t v;
  if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
    return 0.5;
  return (double)v / 4294967296.0;
}

/* Decides whether the attempt that ended with res (and, for an AWS error,
 * code) is retried; if so, arms the timer and returns 1. */
static int sts_maybe_retry(struct sts_req *r, struct kiln_http_response *res,
                           const char *code)
{
  struct kiln_retry_config cfg = {.max_attempts = r->base->max_attempts,
                                  .base_ms = r->base->retry_base_ms};
  struct kiln_retry_outcome o = {
      .transport_err = res->err,
      .status = res->status,
      .code = code != NULL && code[0] != '\0' ? code : NULL,
      .retry_after = kiln_http_response_header(res, "retry-after"),
      .amz_retry_after = kiln_http_response_header(res, "x-amz-retry-after"),
  };
  struct kiln_retry_decision d;

  if (res->err == KILN_ECANCELED ||
      kiln_retry_decide(&cfg, &r->quota, &r->retry, &o, random01(), &d) != 0 ||
      !d.retry)
    return 0;
  if (!r->timer_inited) {
    uv_timer_init(r->base->loop, &r->timer);
    r->timer_inited = 1;
  }
  uv_timer_start(&r->timer, sts_retry_fire, d.delay_ms, 0);
  return 1;
}

static void handle_sts_done(struct kiln_http_response *res, void *data)
{
  struct sts_req *r = data;
  struct kiln__sts_result result;
  const char *url = r->target.endpoint.url;
  char msg[900];
  int err;

  memset(&result, 0, sizeof(result));
  if (res->err != 0) {
    if (sts_maybe_retry(r, res, NULL))
      return;
    snprintf(msg, sizeof(msg), "STS %s at %s: %s%s%s (after %d attempts)",
             r->action, url, kiln_strerror(res->err),
             res->error_msg[0] != '\0' ? ": " : "", res->error_msg,
             r->retry.attempts);
    r->cb(res->err, NULL, msg, r->data);
    goto done;
  }
  err = kiln__sts_parse(res->body.data != NULL ? res->body.data : "",
                        res->body.len, r->action, r->source, &result);
  if (err == 0 && res->status == 200) {
    r->cb(0, &result, "", r->data);
  } else if (err == KILN_EAWS) {
    const char *rid = result.request_id[0] != '\0'
                          ? result.request_id
                          : kiln_http_response_request_id(res);
    if (sts_maybe_retry(r, res, result.error_code))
      goto keep;
    snprintf(msg, sizeof(msg), "STS %s: %s: %s (HTTP %ld, request id %s)",
             r->action, result.error_code, result.error_message, res->status,
             rid != NULL && rid[0] != '\0' ? rid : "none");
    r->cb(kiln_retry_is_throttling_code(result.error_code) ? KILN_ETHROTTLED
                                                           : KILN_EAWS,
          &result, msg, r->data);
  } else {
    if (res->status != 200 && sts_maybe_retry(r, res, NULL))
      goto keep;
    snprintf(msg, sizeof(msg),
             "STS %s at %s: unexpected response (HTTP %ld, %zu bytes)",
             r->action, url, res->status, res->body.len);
    r->cb(res->status == 200 ? KILN_EPARSE : KILN_EHTTP, NULL, msg, r->data);
  }
done:
  kiln__sts_result_cleanup(&result);
  sts_req_free(r);
  return;
keep:
  kiln__sts_result_cleanup(&result);
}

/* The body holds secrets (keys, tokens): wipe it once it is parsed. */
static void sts_done(struct kiln_http_response *res, void *data)
{
  handle_sts_done(res, data);
  kiln__wipe_response(res);
}

int kiln__sts_call(struct kiln_aws_credentials_provider *base,
                   const struct kiln__sts_target *t, const char *action,
                   const char *params, struct kiln_aws_credentials *creds,
                   const char *source, kiln__sts_cb *cb, void *data)
{
  struct sts_req *r;
  int err = 0;

  if (base->http == NULL)
    return KILN_EINVAL;
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return KILN_ENOMEM;
  r->params = kiln__strdup_opt(params, &err);
  if (err != 0) {
    free(r);
    return err;
  }
  r->base = kiln_aws_credentials_provider_ref(base);
  r->target = *t;
  r->creds = creds != NULL ? kiln_aws_credentials_ref(creds) : NULL;
  r->cb = cb;
  r->data = data;
  snprintf(r->action, sizeof(r->action), "%s", action);
  snprintf(r->source, sizeof(r->source), "%s", source != NULL ? source : "");
  kiln_retry_quota_init(&r->quota, KILN_RETRY_QUOTA_CAPACITY);
  kiln_retry_state_init(&r->retry);
  err = sts_attempt(r);
  if (err != 0) {
    r->cb = NULL;
    sts_req_free(r);
  }
  return err;
}

/* ---- AssumeRole provider ---------------------------------------------- */

struct assume_role_provider {
  struct kiln_aws_credentials_provider base;
  struct kiln_aws_credentials_provider *source;
  struct kiln__sts_target target;
  char *role_arn, *session_name, *external_id;
  int duration_s;
  char target_error[256]; /* non-empty: the endpoint is misconfigured */
};

struct assume_req {
  struct assume_role_provider *p; /* holds a reference */
  kiln_aws_credentials_cb *cb;
  void *data;
};

static void assume_finish(struct assume_req *r, int status,
                          struct kiln_aws_credentials *creds,
                          const char *message)
{
  r->cb(status, creds, message, r->data);
  kiln_aws_credentials_provider_unref(&r->p->base);
  free(r);
}

static void assume_sts_done(int status, struct kiln__sts_result *res,
                            const char *message, void *data)
{
  struct assume_req *r = data;
  char msg[1200];

  if (status == 0) {
    assume_finish(r, 0, res->creds, "");
    return;
  }
  snprintf(msg, sizeof(msg), "assume-role %s: %s", r->p->role_arn, message);
  assume_finish(r, status == KILN_ENOENT ? KILN_ECREDENTIALS : status, NULL,
                msg);
}

static void assume_source_done(int status, struct kiln_aws_credentials *creds,
                               const char *message, void *data)
{
  struct assume_req *r = data;
  struct assume_role_provider *p = r->p;
  struct kiln_buf params;
  char source[KILN_AWS_SOURCE_MAX], msg[1200], dur[16];
  int err;

  if (status != 0) {
    snprintf(msg, sizeof(msg),
             "assume-role %s: the source credentials failed: %s", p->role_arn,
             message[0] != '\0' ? message : kiln_strerror(status));
    assume_finish(r, status == KILN_ENOENT ? KILN_ECREDENTIALS : status, NULL,
                  msg);
    return;
  }
  kiln__msgf(source, sizeof(source), "assume-role %s via %s", p->role_arn,
             creds->source);
  kiln_buf_init(&params, 16 * 1024);
  err = kiln_sigv4_query_add(&params, "Action", "AssumeRole");
  if (err == 0)
    err = kiln_sigv4_query_add(&params, "Version", STS_VERSION);
  if (err == 0)
    err = kiln_sigv4_query_add(&params, "RoleArn", p->role_arn);
  if (err == 0)
    err = kiln_sigv4_query_add(&params, "RoleSessionName", p->session_name);
  if (err == 0 && p->external_id != NULL)
    err = kiln_sigv4_query_add(&params, "ExternalId", p->external_id);
  if (err == 0 && p->duration_s > 0) {
    snprintf(dur, sizeof(dur), "%d", p->duration_s);
    err = kiln_sigv4_query_add(&params, "DurationSeconds", dur);
  }
  if (err == 0)
    err = kiln__sts_call(&p->base, &p->target, "AssumeRole", params.data, creds,
                         source, assume_sts_done, r);
  kiln_buf_cleanup(&params);
  if (err != 0) {
    snprintf(msg, sizeof(msg), "assume-role %s: cannot call STS: %s",
             p->role_arn, kiln_strerror(err));
    assume_finish(r, err, NULL, msg);
  }
}

static int assume_get(struct kiln_aws_credentials_provider *base,
                      kiln_aws_credentials_cb *cb, void *data)
{
  struct assume_role_provider *p =
      container_of(base, struct assume_role_provider, base);
  struct assume_req *r;
  int err;

  if (p->target_error[0] != '\0')
    return kiln__creds_defer(base->loop, cb, data, KILN_EINVAL, NULL,
                             p->target_error);
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return KILN_ENOMEM;
  r->p = p;
  r->cb = cb;
  r->data = data;
  err = kiln_aws_credentials_get(p->source, assume_source_done, r);
  if (err == KILN_ENOENT) {
    char msg[600];
    free(r);
    snprintf(msg, sizeof(msg),
             "assume-role %s: its source (%s) has no credentials configured",
             p->role_arn, kiln_aws_credentials_provider_kind(p->source));
    return kiln__creds_defer(base->loop, cb, data, KILN_ECREDENTIALS, NULL,
                             msg);
  }
  if (err != 0) {
    free(r);
    return err;
  }
  kiln_aws_credentials_provider_ref(base);
  return 0;
}

static void assume_destroy(struct kiln_aws_credentials_provider *base)
{
  struct assume_role_provider *p =
      container_of(base, struct assume_role_provider, base);
  kiln_aws_credentials_provider_unref(p->source);
  free(p->role_arn);
  free(p->session_name);
  kiln__secret_free(p->external_id);
  free(p);
}

static const struct kiln__provider_vtable assume_vt = {
    "assume-role", assume_get, assume_destroy};

int kiln_aws_credentials_provider_new_assume_role(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider *source, const char *role_arn,
    const char *session_name, const char *external_id, int duration_s,
    struct kiln_aws_credentials_provider **out)
{
  struct assume_role_provider *p;
  char default_name[64];
  int err = 0;

  *out = NULL;
  if (o == NULL || o->loop == NULL || o->config == NULL || o->http == NULL ||
      source == NULL || role_arn == NULL)
    return KILN_EINVAL;
  p = calloc(1, sizeof(*p));
  if (p == NULL)
    return KILN_ENOMEM;
  kiln__provider_init(&p->base, &assume_vt, o);
  if (session_name == NULL || session_name[0] == '\0') {
    snprintf(default_name, sizeof(default_name), "kiln-session-%lld",
             (long long)(kiln__provider_now_ms(&p->base) / 1000));
    session_name = default_name;
  }
  p->role_arn = kiln__strdup_opt(role_arn, &err);
  p->session_name = kiln__strdup_opt(session_name, &err);
  p->external_id = kiln__strdup_opt(external_id, &err);
  p->duration_s = duration_s;
  if (err != 0) {
    assume_destroy(&p->base);
    return err;
  }
  p->source = kiln_aws_credentials_provider_ref(source);
  kiln__sts_target_init(&p->target, o->config, p->target_error,
                        sizeof(p->target_error));
  *out = &p->base;
  return 0;
}

/* ---- GetCallerIdentity ------------------------------------------------ */

struct gci_req {
  kiln_aws_caller_identity_cb *cb;
  void *data;
};

static void gci_done(int status, struct kiln__sts_result *res,
                     const char *message, void *data)
{
  struct gci_req *r = data;
  r->cb(status, status == 0 ? &res->identity : NULL, message, r->data);
  free(r);
}

int kiln_aws_sts_get_caller_identity(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials *creds, kiln_aws_caller_identity_cb *cb,
    void *data)
{
  struct kiln_aws_credentials_provider *ctx;
  struct kiln__sts_target target;
  struct gci_req *r;
  char msg[256];
  int err;

  if (o == NULL || o->loop == NULL || o->config == NULL || o->http == NULL ||
      creds == NULL || cb == NULL)
    return KILN_EINVAL;
  if ((err = kiln__sts_target_init(&target, o->config, msg, sizeof(msg))) != 0)
    return err;
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return KILN_ENOMEM;
  if ((err = kiln__provider_context_new(o, &ctx)) != 0) {
    free(r);
    return err;
  }
  r->cb = cb;
  r->data = data;
  err = kiln__sts_call(ctx, &target, "GetCallerIdentity",
                       "Action=GetCallerIdentity&Version=" STS_VERSION, creds,
                       NULL, gci_done, r);
  /* The call holds its own reference to the context. */
  kiln_aws_credentials_provider_unref(ctx);
  if (err != 0)
    free(r);
  return err;
}
