/* Container credentials (ECS task roles, EKS Pod Identity, local agents):
 * GET a JSON document from a fixed link-local address or from a full URI
 * restricted the way the SDKs restrict it, with an optional Authorization
 * token.
 *
 * Also the JSON credential document parser shared with IMDS.
 */
#include "credentials_private.h"

#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/http.h"

#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTAINER_HOST      "http://169.254.170.2"
#define CONTAINER_MAX_BODY  (64u * 1024)
#define CONTAINER_TOKEN_MAX (16u * 1024)

/* ---- JSON document ---------------------------------------------------- */

static const char *json_str(json_object *o, const char *key)
{
  json_object *v;
  if (!json_object_object_get_ex(o, key, &v) ||
      !json_object_is_type(v, json_type_string))
    return NULL;
  return json_object_get_string(v);
}

/* json-c keeps its own copies of strings: wipe the secret ones before the
 * document is freed. */
static void wipe_json_str(json_object *o, const char *key)
{
  const char *s = json_str(o, key);
  if (s != NULL)
    OPENSSL_cleanse((char *)s, strlen(s));
}

int kiln__creds_from_json(const char *body, size_t len, const char *source,
                          struct kiln_aws_credentials **out, char *msg,
                          size_t msg_size)
{
  json_tokener *tok;
  json_object *doc = NULL;
  const char *akid, *secret, *token, *exp, *code;
  int64_t exp_ms = 0;
  int err;

  *out = NULL;
  if (len > CONTAINER_MAX_BODY || len > INT32_MAX) {
    snprintf(msg, msg_size, "the credentials document is too large");
    return KILN_ETOOBIG;
  }
  tok = json_tokener_new_ex(16);
  if (tok == NULL)
    return KILN_ENOMEM;
  doc = json_tokener_parse_ex(tok, body, (int)len);
  /* Trailing bytes other than whitespace make the document invalid. */
  if (doc != NULL) {
    for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
      if (body[i] != ' ' && body[i] != '\n' && body[i] != '\r' &&
          body[i] != '\t') {
        json_object_put(doc);
        doc = NULL;
        break;
      }
    }
  }
  if (doc == NULL || json_tokener_get_error(tok) != json_tokener_success ||
      !json_object_is_type(doc, json_type_object)) {
    snprintf(msg, msg_size, "the credentials document is not a JSON object");
    err = KILN_EPARSE;
    goto done;
  }
  code = json_str(doc, "Code");
  if (code != NULL && strcmp(code, "Success") != 0) {
    snprintf(msg, msg_size, "the credentials document says Code=%.64s", code);
    err = KILN_ECREDENTIALS;
    goto done;
  }
  akid = json_str(doc, "AccessKeyId");
  secret = json_str(doc, "SecretAccessKey");
  token = json_str(doc, "Token");
  exp = json_str(doc, "Expiration");
  if (akid == NULL || secret == NULL || akid[0] == '\0' || secret[0] == '\0') {
    snprintf(msg, msg_size,
             "the credentials document lacks AccessKeyId or SecretAccessKey");
    err = KILN_EPARSE;
    goto done;
  }
  if (exp != NULL && kiln_aws_parse_time(exp, &exp_ms) != 0) {
    snprintf(msg, msg_size, "the credentials document has a bad Expiration");
    err = KILN_EPARSE;
    goto done;
  }
  err = kiln_aws_credentials_new(
      akid, secret, token, json_str(doc, "AccountId"), exp_ms, source, out);
done:
  if (doc != NULL) {
    wipe_json_str(doc, "SecretAccessKey");
    wipe_json_str(doc, "Token");
    json_object_put(doc);
  }
  json_tokener_free(tok);
  return err;
}

/* ---- Allowed URIs ----------------------------------------------------- */

int kiln__container_uri_allowed(const char *uri)
{
  static const char *const allowed[] = {"169.254.170.2", "169.254.170.23",
                                        "fd00:ec2::23", "localhost"};
  char scheme[8], hostport[256], host[256];
  unsigned char addr[16];
  const char *path;
  size_t n;

  if (kiln_aws_url_split(uri, scheme, sizeof(scheme), hostport,
                         sizeof(hostport), &path) != 0)
    return KILN_EINVAL;
  if (strcmp(scheme, "https") == 0)
    return 0;
  if (hostport[0] == '[') {
    n = strcspn(hostport + 1, "]");
    snprintf(host, sizeof(host), "%.*s", (int)n, hostport + 1);
  } else {
    n = strcspn(hostport, ":");
    snprintf(host, sizeof(host), "%.*s", (int)n, hostport);
  }
  for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
    if (strcmp(host, allowed[i]) == 0)
      return 0;
  if (inet_pton(AF_INET, host, addr) == 1 && addr[0] == 127)
    return 0;
  if (inet_pton(AF_INET6, host, addr) == 1 &&
      IN6_IS_ADDR_LOOPBACK((struct in6_addr *)addr))
    return 0;
  return KILN_EINVAL;
}

/* ---- Provider --------------------------------------------------------- */

struct container_provider {
  struct kiln_aws_credentials_provider base;
  char *url;        /* NULL: not configured */
  char *token;      /* secret; AWS_CONTAINER_AUTHORIZATION_TOKEN */
  char *token_file; /* wins over token */
  char error[600];  /* non-empty: misconfigured */
};

struct container_req {
  struct container_provider *p; /* holds a reference */
  kiln_aws_credentials_cb *cb;
  void *data;
};

static void handle_container_done(struct kiln_http_response *res, void *data)
{
  struct container_req *r = data;
  struct kiln_aws_credentials *creds = NULL;
  char msg[900], why[300];
  int err;

  if (res->err != 0) {
    snprintf(msg, sizeof(msg), "container: GET %s: %s%s%s", r->p->url,
             kiln_strerror(res->err), res->error_msg[0] != '\0' ? ": " : "",
             res->error_msg);
    r->cb(res->err, NULL, msg, r->data);
  } else if (res->status != 200) {
    snprintf(msg, sizeof(msg),
             "container: GET %s: HTTP %ld: %.200s (check the authorization "
             "token and the task role)",
             r->p->url, res->status,
             res->body.data != NULL ? res->body.data : "");
    r->cb(KILN_EHTTP, NULL, msg, r->data);
  } else {
    err = kiln__creds_from_json(res->body.data != NULL ? res->body.data : "",
                                res->body.len, "container", &creds, why,
                                sizeof(why));
    if (err != 0) {
      snprintf(msg, sizeof(msg), "container: GET %s: %s", r->p->url, why);
      r->cb(err, NULL, msg, r->data);
    } else {
      r->cb(0, creds, "", r->data);
    }
  }
  kiln_aws_credentials_unref(creds);
  kiln_aws_credentials_provider_unref(&r->p->base);
  free(r);
}

/* The body holds secrets (keys, tokens): wipe it once it is parsed. */
static void container_done(struct kiln_http_response *res, void *data)
{
  handle_container_done(res, data);
  kiln__wipe_response(res);
}

static int valid_token(const char *t)
{
  for (; *t != '\0'; t++)
    if (*t == '\r' || *t == '\n' || *t == '\0')
      return 0;
  return 1;
}

static int container_get(struct kiln_aws_credentials_provider *base,
                         kiln_aws_credentials_cb *cb, void *data)
{
  struct container_provider *p =
      container_of(base, struct container_provider, base);
  struct kiln_http_header h[1];
  struct kiln_http_request req;
  struct container_req *r;
  struct kiln_buf token;
  const char *auth = p->token;
  char msg[800];
  int err;

  if (p->url == NULL)
    return KILN_ENOENT;
  if (p->error[0] != '\0')
    return kiln__creds_defer(base->loop, cb, data, KILN_EINVAL, NULL, p->error);
  kiln_buf_init_secret(&token, CONTAINER_TOKEN_MAX);
  if (p->token_file != NULL) {
    err = base->read_file(base->read_file_arg, p->token_file, &token);
    while (err == 0 && token.len > 0 &&
           (token.data[token.len - 1] == '\n' ||
            token.data[token.len - 1] == '\r'))
      token.data[--token.len] = '\0';
    if (err != 0) {
      snprintf(msg, sizeof(msg),
               "container: cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE "
               "%s: %s",
               p->token_file, kiln_strerror(err));
      err =
          kiln__creds_defer(base->loop, cb, data, KILN_ECREDENTIALS, NULL, msg);
      goto done;
    }
    auth = token.data != NULL ? token.data : "";
  }
  if (auth != NULL && !valid_token(auth)) {
    err = kiln__creds_defer(base->loop, cb, data, KILN_EINVAL, NULL,
                            "container: the authorization token contains a "
                            "line break");
    goto done;
  }
  r = calloc(1, sizeof(*r));
  if (r == NULL) {
    err = KILN_ENOMEM;
    goto done;
  }
  r->p = p;
  r->cb = cb;
  r->data = data;
  h[0] = (struct kiln_http_header){"Authorization", auth};
  req = (struct kiln_http_request){
      .method = "GET",
      .url = p->url,
      .headers = h,
      .header_count = auth != NULL && auth[0] != '\0' ? 1 : 0,
      .timeout_ms = base->timeout_ms,
      .max_body_bytes = CONTAINER_MAX_BODY,
  };
  err = kiln_http_request_start(base->http, &req, container_done, r, NULL);
  if (err != 0) {
    free(r);
    goto done;
  }
  kiln_aws_credentials_provider_ref(base);
done:
  kiln_buf_cleanup_secret(&token);
  return err;
}

static void container_destroy(struct kiln_aws_credentials_provider *base)
{
  struct container_provider *p =
      container_of(base, struct container_provider, base);
  free(p->url);
  kiln__secret_free(p->token);
  free(p->token_file);
  free(p);
}

static const struct kiln__provider_vtable container_vt = {
    "container", container_get, container_destroy};

int kiln_aws_credentials_provider_new_container(
    const struct kiln_aws_credentials_options *o,
    struct kiln_aws_credentials_provider **out)
{
  const struct kiln_aws_config *cfg;
  struct container_provider *p;
  char url[2048];
  int err = 0;

  *out = NULL;
  if (o == NULL || o->loop == NULL || o->config == NULL)
    return KILN_EINVAL;
  cfg = o->config;
  p = calloc(1, sizeof(*p));
  if (p == NULL)
    return KILN_ENOMEM;
  kiln__provider_init(&p->base, &container_vt, o);
  /* The relative URI wins, as in the SDKs. */
  if (cfg->container_relative_uri != NULL) {
    snprintf(url, sizeof(url), "%s%s%s", CONTAINER_HOST,
             cfg->container_relative_uri[0] == '/' ? "" : "/",
             cfg->container_relative_uri);
    p->url = kiln__strdup_opt(url, &err);
  } else if (cfg->container_full_uri != NULL) {
    p->url = kiln__strdup_opt(cfg->container_full_uri, &err);
    if (kiln__container_uri_allowed(cfg->container_full_uri) != 0)
      snprintf(p->error, sizeof(p->error),
               "container: AWS_CONTAINER_CREDENTIALS_FULL_URI %.300s is not "
               "allowed: use https, or http to a loopback address, "
               "169.254.170.2, 169.254.170.23, fd00:ec2::23 or localhost",
               cfg->container_full_uri);
  }
  p->token = kiln__strdup_opt(cfg->container_token, &err);
  p->token_file = kiln__strdup_opt(cfg->container_token_file, &err);
  if (err != 0) {
    container_destroy(&p->base);
    return err;
  }
  if (p->url != NULL && p->error[0] == '\0' && o->http == NULL)
    snprintf(p->error, sizeof(p->error), "container: no HTTP client");
  *out = &p->base;
  return 0;
}
