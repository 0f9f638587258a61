/* Typed operations on top of kiln_aws_call(): send the serialised request,
 * parse each page into the caller's result, and follow the pagination
 * token to the end (with a page cap).
 */
#include "aws_client_private.h"

#include "kiln/error.h"
#include "kiln/hash.h"
#include "kiln/sigv4.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kiln__op {
  struct kiln_aws_client *client;
  const struct kiln__op_desc *desc;
  struct kiln__op_body body;
  struct kiln_arena *arena;
  void *out;
  int pages;
  kiln_aws_done_cb *cb;
  void *data;
};

void kiln__op_body_init(struct kiln__op_body *b)
{
  memset(b, 0, sizeof(*b));
  kiln_buf_init(&b->query.buf, 1024u * 1024u);
  kiln_buf_init(&b->rest_query, 64u * 1024u);
}

void kiln__op_body_cleanup(struct kiln__op_body *b)
{
  kiln__query_cleanup(&b->query);
  kiln_buf_cleanup(&b->rest_query);
  json_object_put(b->json);
  b->json = NULL;
}

void kiln__op_token(struct kiln__op_body *b, const char *member,
                    const char *token, int derive)
{
  if (token == NULL)
    return;
  if (derive) {
    b->token_member = member;
    b->token_key = token;
  } else if (b->json != NULL) {
    int err = b->query.err;
    kiln__json_add_str(&err, b->json, member, token);
    b->query.err = err;
  } else {
    kiln__query_str(&b->query, token, "%s", member);
  }
}

static int render(const struct kiln__op_desc *d, struct kiln__op_body *b,
                  const char *token, struct kiln_buf *out);

/* AWS answers a client token reused with a different request with
 * IdempotentParameterMismatch, so a token must be a function of the whole
 * request: "k" + 35 hex digits of sha256(action, key, the request as it
 * goes on the wire without its token). The same request from any process
 * gets the same token (a retry, a crash, another pass: AWS returns what the
 * first made); any difference (another app's name, other tags) gets
 * another. */
static int derive_token(const struct kiln__op_desc *d, struct kiln__op_body *b)
{
  struct kiln_buf wire;
  char sha[65], token[37];
  int err;

  if (b->token_key == NULL || b->query.err != 0)
    return b->query.err;
  kiln_buf_init(&wire, 4u * 1024u * 1024u);
  err = kiln_buf_printf(&wire, "%s\n%s\n", d->action, b->token_key);
  if (err == 0)
    err = render(d, b, NULL, &wire);
  if (err == 0 && b->rest_query.len > 0)
    err = kiln_buf_printf(&wire, "\n?%s", b->rest_query.data);
  if (err == 0)
    err = kiln_sha256_hex(wire.data, wire.len, sha);
  kiln_buf_cleanup(&wire);
  if (err != 0)
    return b->query.err = err;
  snprintf(token, sizeof(token), "k%.35s", sha);
  b->token_key = NULL;
  kiln__op_token(b, b->token_member, token, 0);
  return b->query.err;
}

/* The body of one page: the base request plus the token (if any). */
static int render(const struct kiln__op_desc *d, struct kiln__op_body *b,
                  const char *token, struct kiln_buf *out)
{
  enum kiln_aws_protocol p = kiln_aws_service_protocol(d->service);
  const char *text;
  int err;

  if (b->query.err != 0)
    return b->query.err;
  if (p == KILN_AWS_PROTOCOL_EC2_QUERY || p == KILN_AWS_PROTOCOL_QUERY) {
    err = kiln_buf_append(out, b->query.buf.data ? b->query.buf.data : "",
                          b->query.buf.len);
    if (err == 0 && token != NULL)
      err = kiln_sigv4_query_add(out, d->token_member, token);
    return err;
  }
  if (b->json == NULL) {
    /* A GET (REST-JSON) has no body; JSON 1.1 always sends an object. */
    if (p == KILN_AWS_PROTOCOL_JSON)
      return kiln_buf_puts(out, "{}");
    return 0;
  }
  if (token != NULL) {
    struct json_object *t = json_object_new_string(token);

    if (t == NULL || json_object_object_add(b->json, d->token_member, t) != 0) {
      json_object_put(t);
      return KILN_ENOMEM;
    }
  }
  text = json_object_to_json_string_ext(
      b->json, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  if (text == NULL)
    return KILN_ENOMEM;
  return kiln_buf_puts(out, text);
}

int kiln__op_render(const struct kiln__op_desc *desc,
                    struct kiln__op_body *body, struct kiln_buf *out)
{
  int err = derive_token(desc, body);

  if (err == 0)
    err = render(desc, body, NULL, out);

  if (err == 0 && body->rest_query.len > 0)
    err = kiln_buf_printf(out, "\n?%s", body->rest_query.data);
  kiln__op_body_cleanup(body);
  return err;
}

static int send_page(struct kiln__op *op, const char *token);

static void op_free(struct kiln__op *op)
{
  kiln__op_body_cleanup(&op->body);
  free(op);
}

static void on_page(int err, const struct kiln_aws_response *res, void *data)
{
  struct kiln__op *op = data;
  struct kiln__px px = {op->arena, 0, NULL};
  const char *token = NULL;

  op->pages++;
  if (err == 0) {
    if (res->xml == NULL && res->json == NULL &&
        kiln_aws_service_protocol(op->desc->service) !=
            KILN_AWS_PROTOCOL_REST_JSON)
      err = KILN_EPARSE;
    else
      err = op->desc->parse(&px, op->out, res, &token);
  }
  if (err == 0 && op->desc->token_member != NULL && token != NULL &&
      token[0] != '\0') {
    if (op->pages >= KILN_AWS_MAX_PAGES) {
      err = KILN_ETOOBIG;
    } else {
      err = send_page(op, token);
      if (err == 0)
        return;
    }
  }
  if (err != 0 && res->message[0] == '\0') {
    struct kiln_aws_response r = *res;
    char msg[512];

    if (err == KILN_EPARSE && px.why != NULL)
      snprintf(msg, sizeof(msg), "%s: %s (request id %s)", op->desc->action,
               px.why, res->request_id[0] ? res->request_id : "unknown");
    else
      snprintf(msg, sizeof(msg), "%s: %s%s (request id %s)", op->desc->action,
               kiln_strerror(err),
               err == KILN_EPARSE    ? ": the response is not the document "
                                       "this operation returns"
               : err == KILN_ETOOBIG ? ": too many pages"
                                     : "",
               res->request_id[0] ? res->request_id : "unknown");
    r.message = msg;
    op->cb(err, &r, op->data);
  } else {
    op->cb(err, res, op->data);
  }
  op_free(op);
}

static int send_page(struct kiln__op *op, const char *token)
{
  struct kiln_aws_request req;
  struct kiln_buf body;
  int err;

  kiln_buf_init(&body, 2u * 1024u * 1024u);
  err = render(op->desc, &op->body, token, &body);
  if (err == 0) {
    memset(&req, 0, sizeof(req));
    req.service = op->desc->service;
    req.action = op->desc->action;
    req.method = op->desc->method;
    req.path = op->desc->path;
    req.query = op->body.rest_query.len > 0 ? op->body.rest_query.data : NULL;
    req.body = body.data;
    req.body_len = body.len;
    err = kiln_aws_call(op->client, &req, on_page, op, NULL);
  }
  kiln_buf_cleanup(&body);
  return err;
}

int kiln__op_start(struct kiln_aws_client *client,
                   const struct kiln__op_desc *desc, struct kiln__op_body *body,
                   struct kiln_arena *arena, void *out, size_t out_size,
                   kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op *op;
  int err;

  if (client == NULL || cb == NULL ||
      (out_size != 0 && (arena == NULL || out == NULL))) {
    kiln__op_body_cleanup(body);
    return KILN_EINVAL;
  }
  if (derive_token(desc, body) != 0) {
    err = body->query.err;
    kiln__op_body_cleanup(body);
    return err;
  }
  op = calloc(1, sizeof(*op));
  if (op == NULL) {
    kiln__op_body_cleanup(body);
    return KILN_ENOMEM;
  }
  op->client = client;
  op->desc = desc;
  op->body = *body;
  op->arena = arena;
  op->out = out;
  op->cb = cb;
  op->data = data;
  if (out_size != 0)
    memset(out, 0, out_size);
  err = send_page(op, NULL);
  if (err != 0)
    op_free(op);
  return err;
}

int kiln__op_parse_body(const struct kiln__op_desc *desc, const char *body,
                        size_t len, struct kiln_arena *arena, void *out,
                        size_t out_size, const char **next_token,
                        const char **why)
{
  enum kiln_aws_protocol p = kiln_aws_service_protocol(desc->service);
  struct kiln_aws_response res;
  struct kiln__px px = {arena, 0, NULL};
  struct kiln_xml_doc *doc = NULL;
  struct json_object *json = NULL;
  int err;

  memset(&res, 0, sizeof(res));
  if (out_size != 0)
    memset(out, 0, out_size);
  res.service = desc->service;
  res.action = desc->action;
  res.request_id = "";
  res.message = "";
  res.body = body;
  res.body_len = len;
  *next_token = NULL;
  if (p == KILN_AWS_PROTOCOL_EC2_QUERY || p == KILN_AWS_PROTOCOL_QUERY) {
    err = kiln__xml_parse(body, len, &doc);
    res.xml = kiln__xml_root(doc);
  } else {
    err = kiln__json_parse(body, len, &json);
    res.json = json;
  }
  if (err == 0)
    err = desc->parse(&px, out, &res, next_token);
  if (why != NULL)
    *why = err != 0 ? px.why : NULL;
  if (doc != NULL)
    kiln__xml_free(doc);
  json_object_put(json);
  return err;
}
