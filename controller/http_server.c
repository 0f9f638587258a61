/* A small HTTP/1.1 server on the libuv loop.
 *
 * Each connection embeds its uv_tcp_t and one uv_timer_t, and moves
 * through one state machine (conn_set_state() is the only place that
 * changes the state and arms the timer for it):
 *
 *   HEAD ──head parsed──▶ BODY ──body complete──▶ HANDLER ──respond──▶ WRITE
 *     ▲                                                                  │
 *     └────────────────────────── keep-alive ◀───────────────────────────┤
 *                                                                        ▼
 *                    error responses, Connection: close, closing ──▶ LINGER
 *
 * Reading stops while a request is in the handler or being answered, so a
 * client that pipelines waits its turn in the kernel's buffers. Bytes read
 * past the end of a request stay in conn->in for the next one.
 *
 * The request and its memory belong to the responder, not the connection:
 * a handler answering asynchronously keeps a valid request even if the
 * client or the server goes away first (the responder is then detached and
 * kiln_http_server_respond() only frees it).
 */
#include "kiln/http_server.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/hash.h"

#include "http_parse.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define container_of(ptr, type, member)                                        \
  ((type *)((char *)(ptr)-offsetof(type, member)))

/* One read's worth, shared by every connection of a server: libuv calls
 * read_cb right after each alloc_cb, and read_cb copies what it keeps. */
#define READ_CHUNK_BYTES (64u * 1024)
/* Connections over max_connections get a 503; at most this many of those
 * are kept open at once, beyond which new connections are just closed. */
#define MAX_REFUSED_CONNECTIONS 32u
/* After the last response on a connection, how long and how much of what
 * the client still sends is read and discarded, so that closing does not
 * reset the connection before the client has read the response. */
#define LINGER_MS        2000L
#define LINGER_MAX_BYTES (256u * 1024)
#define LOG_PATH_MAX     200

enum conn_state {
  CONN_NEW,     /* accepted, not set up yet */
  CONN_HEAD,    /* reading a request head */
  CONN_BODY,    /* reading its body */
  CONN_HANDLER, /* the handler has the request */
  CONN_WRITE,   /* writing the response */
  CONN_LINGER,  /* response sent; discarding input until EOF, then close */
  CONN_CLOSING  /* handles closing */
};

struct conn;

struct kiln_http_responder {
  struct conn *conn; /* NULL once detached */
  struct kiln_http_server_request req;
  char *head; /* the request head, parsed in place */
  size_t head_len;
  struct kiln_http_server_header *headers;
  struct kiln_buf body;
  size_t body_expected; /* Content-Length */
  size_t body_received; /* kept in body or given to the sink */
  const struct kiln_http_server_body_sink *sink_ops; /* with req.sink */
  bool keep_alive;
  bool is_head;    /* HEAD request: send no body */
  bool dispatched; /* the handler has it */
  int minor;
  uint64_t start_ms;
  char log_method[16];
  char log_path[LOG_PATH_MAX + 1];
  char peer[64];
};

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t write_req;
  uv_write_t continue_req;
  uv_shutdown_t shutdown_req;
  struct kiln_http_server *server;
  struct conn *prev, *next;
  enum conn_state state;
  int open_handles;
  bool reading;
  bool refused;              /* over max_connections: a 503 and close */
  bool served;               /* at least one request answered */
  bool keep;                 /* serve another request after this write */
  bool request_begun;        /* some byte of the current request has arrived */
  bool counted;              /* in the server's conn_count or refused_count */
  uint64_t head_since_ms;    /* when it began waiting for a request head */
  uint64_t head_deadline_ms; /* when that wait times out */
  struct kiln_buf in;        /* received, not yet consumed */
  size_t scanned;            /* head scanner's progress in in */
  size_t lingered;           /* bytes discarded while lingering */
  struct kiln_http_responder *pending; /* request being read or handled */
  struct kiln_buf out;                 /* the response being written */
  char peer[64];
  char addr[INET6_ADDRSTRLEN]; /* the client's address, without port */
};

struct kiln_http_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  uv_timer_t close_timer;
  struct kiln_http_server_options opts; /* with defaults filled in */
  struct kiln__http_limits limits;
  struct conn *conns;
  size_t conn_count;
  size_t refused_count;
  bool under_pressure; /* conn_count over 3/4 of max_connections */
  int port;
  bool closing;
  bool listener_closed;
  bool finishing;
  kiln_http_server_close_cb *close_cb;
  void *close_data;
  char read_buf[READ_CHUNK_BYTES];
};

static void conn_close(struct conn *c);
static void on_continue_written(uv_write_t *req, int status);
static void conn_process(struct conn *c);
static void conn_set_state(struct conn *c, enum conn_state state);
static void on_timer(uv_timer_t *t);
static void maybe_finish(struct kiln_http_server *s);
static void head_timer_start(struct conn *c, long timeout_ms);

static void logf_(struct kiln_http_server *s,
                  enum kiln_http_server_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void logf_(struct kiln_http_server *s,
                  enum kiln_http_server_log_level level, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  if (s->opts.log == NULL)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  s->opts.log(level, msg, s->opts.log_data);
}

/* ---- responders ---------------------------------------------------- */

static void responder_free(struct kiln_http_responder *r)
{
  if (r == NULL)
    return;
  if (r->req.sink != NULL)
    r->sink_ops->free(r->req.sink);
  /* Heads carry webhook tokens and signatures. */
  if (r->head != NULL)
    OPENSSL_cleanse(r->head, r->head_len);
  free(r->head);
  free(r->headers);
  kiln_buf_cleanup_secret(&r->body);
  free(r);
}

/* Makes the responder for a complete head in c->in[0..head_len). Returns
 * 0, a negative HTTP status from the parser (with *why), or -500. */
static int responder_new(struct conn *c, size_t head_len,
                         struct kiln_http_responder **out, const char **why)
{
  struct kiln_http_server *s = c->server;
  struct kiln_http_responder *r;
  struct kiln__http_head h;
  int rc;

  *why = "out of memory";
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return -500;
  kiln_buf_init_secret(&r->body, s->limits.max_body_bytes);
  r->head = malloc(head_len + 1);
  r->headers = calloc(s->limits.max_headers, sizeof(*r->headers));
  if (r->head == NULL || r->headers == NULL) {
    rc = -500;
    goto fail;
  }
  memcpy(r->head, c->in.data, head_len);
  r->head[head_len] = '\0';
  r->head_len = head_len;
  rc =
      kiln__http_parse_head(r->head, head_len, &s->limits, &h, r->headers, why);
  if (rc != 0)
    goto fail;
  r->conn = c;
  r->req.method = h.method;
  r->req.path = h.path;
  r->req.query = h.query;
  r->req.headers = r->headers;
  r->req.header_count = h.header_count;
  r->req.body = "";
  r->body_expected = h.content_length;
  r->keep_alive = h.keep_alive;
  r->is_head = strcmp(h.method, "HEAD") == 0;
  r->minor = h.minor;
  r->start_ms = uv_now(s->loop);
  snprintf(r->peer, sizeof(r->peer), "%s", c->peer);
  r->req.peer = r->peer;
  snprintf(r->log_method, sizeof(r->log_method), "%s", h.method);
  snprintf(r->log_path, sizeof(r->log_path), "%s", h.path);
  if (s->opts.body_sink != NULL && s->opts.body_sink->open != NULL) {
    r->sink_ops = s->opts.body_sink;
    if (r->sink_ops->open(&r->req, &r->req.sink, s->opts.handler_data) != 0) {
      *why = "cannot take the request body";
      r->req.sink = NULL;
      r->conn = NULL;
      rc = -500;
      goto fail;
    }
  }
  *out = r;
  if (h.expect_continue && h.content_length > 0 &&
      c->in.len - head_len < h.content_length) {
    static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    uv_buf_t b = uv_buf_init(cont, sizeof(cont) - 1);
    /* Queued before the final response, so it is sent first. */
    if (uv_write(&c->continue_req, (uv_stream_t *)&c->tcp, &b, 1,
                 on_continue_written) != 0) {
      *why = "cannot write 100 Continue";
      r->conn = NULL;
      *out = NULL;
      rc = -500;
      goto fail;
    }
  }
  return 0;
fail:
  responder_free(r);
  return rc;
}

/* ---- writing responses ---------------------------------------------- */

static bool header_name_ok(const char *n)
{
  if (*n == '\0')
    return false;
  for (; *n != '\0'; n++) {
    unsigned char ch = (unsigned char)*n;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch) != NULL))
      return false;
  }
  return true;
}

static bool header_value_ok(const char *v)
{
  for (; *v != '\0'; v++) {
    unsigned char ch = (unsigned char)*v;
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
      return false;
  }
  return true;
}

static int check_response(const struct kiln_http_server_response *resp)
{
  if (resp == NULL || resp->status < 200 || resp->status > 599)
    return KILN_EINVAL;
  if (resp->body == NULL && resp->body_len != 0)
    return KILN_EINVAL;
  if ((resp->status == 204 || resp->status == 304) && resp->body_len != 0)
    return KILN_EINVAL;
  if (resp->content_type != NULL && !header_value_ok(resp->content_type))
    return KILN_EINVAL;
  if (resp->headers == NULL && resp->header_count != 0)
    return KILN_EINVAL;
  for (size_t i = 0; i < resp->header_count; i++) {
    const struct kiln_http_server_header *h = &resp->headers[i];
    if (h->name == NULL || h->value == NULL || !header_name_ok(h->name) ||
        !header_value_ok(h->value) ||
        strcasecmp(h->name, "content-length") == 0 ||
        strcasecmp(h->name, "connection") == 0 ||
        strcasecmp(h->name, "transfer-encoding") == 0)
      return KILN_EINVAL;
  }
  return 0;
}

/* Serialises resp into out. */
static int build_response(struct kiln_buf *out,
                          const struct kiln_http_server_response *resp,
                          bool keep_alive, int minor, bool is_head)
{
  const char *ct = resp->content_type;
  int rc;

  if (ct == NULL && resp->body_len > 0)
    ct = "text/plain; charset=utf-8";
  kiln_buf_reset(out);
  rc = kiln_buf_printf(out, "HTTP/1.1 %d %s\r\n", resp->status,
                       kiln__http_reason(resp->status));
  if (rc == 0 && ct != NULL)
    rc = kiln_buf_printf(out, "Content-Type: %s\r\n", ct);
  if (rc == 0 && resp->status != 204 && resp->status != 304)
    rc = kiln_buf_printf(out, "Content-Length: %zu\r\n", resp->body_len);
  if (rc == 0 && !keep_alive)
    rc = kiln_buf_puts(out, "Connection: close\r\n");
  else if (rc == 0 && minor == 0)
    rc = kiln_buf_puts(out, "Connection: keep-alive\r\n");
  for (size_t i = 0; rc == 0 && i < resp->header_count; i++)
    rc = kiln_buf_printf(out, "%s: %s\r\n", resp->headers[i].name,
                         resp->headers[i].value);
  if (rc == 0)
    rc = kiln_buf_puts(out, "\r\n");
  if (rc == 0 && !is_head && resp->body_len > 0)
    rc = kiln_buf_append(out, resp->body, resp->body_len);
  return rc;
}

static void on_written(uv_write_t *req, int status)
{
  struct conn *c = container_of(req, struct conn, write_req);

  if (c->state == CONN_CLOSING)
    return;
  kiln_buf_cleanup(&c->out);
  if (status < 0) {
    logf_(c->server, KILN_HTTP_SERVER_LOG_DEBUG, "%s: write failed: %s",
          c->peer, uv_strerror(status));
    conn_close(c);
    return;
  }
  if (c->keep && !c->server->closing)
    conn_set_state(c, CONN_HEAD);
  else
    conn_set_state(c, CONN_LINGER);
}

static void on_continue_written(uv_write_t *req, int status)
{
  struct conn *c = container_of(req, struct conn, continue_req);

  if (c->state != CONN_CLOSING && status < 0)
    conn_close(c);
}

/* Writes c->out. keep is whether the connection may serve another
 * request afterwards. */
static void conn_write(struct conn *c, bool keep)
{
  uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
  int rc;

  c->keep = keep;
  conn_set_state(c, CONN_WRITE);
  rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
  if (rc != 0) {
    logf_(c->server, KILN_HTTP_SERVER_LOG_DEBUG, "%s: write failed: %s",
          c->peer, uv_strerror(rc));
    conn_close(c);
  }
}

const char *kiln_http_server_reject_name(enum kiln_http_server_reject reason)
{
  switch (reason) {
  case KILN_HTTP_SERVER_REJECT_OVERLOAD:
    return "overload";
  case KILN_HTTP_SERVER_REJECT_PER_CLIENT:
    return "per_client";
  case KILN_HTTP_SERVER_REJECT_EVICTED:
    return "evicted";
  case KILN_HTTP_SERVER_REJECT_MALFORMED:
    return "malformed";
  case KILN_HTTP_SERVER_REJECT_TIMEOUT:
    return "timeout";
  }
  return "";
}

/* Tells the owner about a refusal (status 0: closed without an answer);
 * without a reject callback it is logged, as anything else. Clients choose
 * how often this happens, so the owner decides how much of it to log. */
static void report_reject(struct conn *c, enum kiln_http_server_reject reason,
                          int status, const char *why)
{
  struct kiln_http_server *s = c->server;

  if (s->opts.reject != NULL)
    s->opts.reject(reason, status, c->addr, why, s->opts.log_data);
  else if (status == 0)
    logf_(s, KILN_HTTP_SERVER_LOG_INFO, "%s: closing: %s", c->peer, why);
  else
    logf_(s,
          status >= 500 ? KILN_HTTP_SERVER_LOG_WARN : KILN_HTTP_SERVER_LOG_INFO,
          "%s: %d %s: %s", c->peer, status, kiln__http_reason(status), why);
}

/* Answers with status and closes the connection after it: a request the
 * server refuses itself (parse errors, limits, timeouts, overload: see
 * conn_refuse()) or cannot serve (500). */
static void conn_fail(struct conn *c, int status, const char *why)
{
  struct kiln_http_server_response resp = {0};
  char body[160];
  int n;

  if (c->pending != NULL) {
    responder_free(c->pending);
    c->pending = NULL;
  }
  if (status == 500)
    logf_(c->server, KILN_HTTP_SERVER_LOG_ERROR, "%s: 500: %s", c->peer, why);
  n = snprintf(body, sizeof(body), "%d %s: %s\n", status,
               kiln__http_reason(status), why);
  resp.status = status;
  resp.body = body;
  resp.body_len = n > 0 && (size_t)n < sizeof(body) ? (size_t)n : 0;
  if (build_response(&c->out, &resp, false, 1, false) != 0) {
    conn_close(c);
    return;
  }
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
  conn_write(c, false);
}

static void conn_refuse(struct conn *c, enum kiln_http_server_reject reason,
                        int status, const char *why)
{
  report_reject(c, reason, status, why);
  conn_fail(c, status, why);
}

int kiln_http_server_respond(struct kiln_http_responder *res,
                             const struct kiln_http_server_response *resp)
{
  struct conn *c;
  bool keep;
  int rc;

  if (res == NULL)
    return KILN_EINVAL;
  c = res->conn;
  if (c == NULL) {
    responder_free(res);
    return KILN_ECONN;
  }
  keep = res->keep_alive && !c->server->closing;
  rc = check_response(resp);
  if (rc == 0)
    rc = build_response(&c->out, resp, keep, res->minor, res->is_head);
  if (rc != 0) {
    static const char msg[] = "internal error\n";
    struct kiln_http_server_response err = {
        .status = 500, .body = msg, .body_len = sizeof(msg) - 1};
    logf_(c->server, KILN_HTTP_SERVER_LOG_ERROR,
          "%s: %s %s: invalid response from the handler: %s", res->peer,
          res->log_method, res->log_path, kiln_strerror(rc));
    keep = false;
    if (build_response(&c->out, &err, false, res->minor, res->is_head) != 0) {
      c->pending = NULL;
      responder_free(res);
      conn_close(c);
      return rc;
    }
  } else {
    logf_(c->server, KILN_HTTP_SERVER_LOG_DEBUG, "%s: %s %s %d %llums",
          res->peer, res->log_method, res->log_path, resp->status,
          (unsigned long long)(uv_now(c->server->loop) - res->start_ms));
  }
  c->pending = NULL;
  c->served = true;
  responder_free(res);
  conn_write(c, keep);
  return rc;
}

int kiln_http_server_respond_json(struct kiln_http_responder *res, int status,
                                  struct json_object *obj)
{
  struct kiln_http_server_response resp = {0};
  const char *text;
  size_t len = 0;

  text = json_object_to_json_string_length(
      obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
  if (text == NULL) {
    text = "null";
    len = 4;
  }
  resp.status = status;
  resp.content_type = "application/json";
  resp.body = text;
  resp.body_len = len;
  return kiln_http_server_respond(res, &resp);
}

int kiln_http_server_respond_error(struct kiln_http_responder *res, int status,
                                   const char *message)
{
  struct json_object *obj = json_object_new_object();
  int rc;

  if (obj == NULL ||
      json_object_object_add(
          obj, "error", json_object_new_string(message ? message : "")) != 0) {
    static const char fallback[] = "{\"error\":\"out of memory\"}";
    struct kiln_http_server_response resp = {.status = 500,
                                             .content_type = "application/json",
                                             .body = fallback,
                                             .body_len = sizeof(fallback) - 1};
    json_object_put(obj);
    kiln_http_server_respond(res, &resp);
    return KILN_ENOMEM;
  }
  rc = kiln_http_server_respond_json(res, status, obj);
  json_object_put(obj);
  return rc;
}

const char *
kiln_http_server_request_header(const struct kiln_http_server_request *req,
                                const char *name)
{
  for (size_t i = 0; i < req->header_count; i++)
    if (strcasecmp(req->headers[i].name, name) == 0)
      return req->headers[i].value;
  return NULL;
}

/* Decodes the n bytes at v into out (NUL-terminated): 0, or -1 with out
 * left empty. */
static int query_decode(const char *v, size_t n, char *out, size_t outlen)
{
  size_t o = 0;

  if (outlen == 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)v[i], hi, lo;
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (i + 2 >= n || (hi = kiln_hex_value((unsigned char)v[i + 1])) < 0 ||
          (lo = kiln_hex_value((unsigned char)v[i + 2])) < 0)
        goto bad;
      c = hi * 16 + lo;
      i += 2;
    }
    if (c == 0 || o + 1 >= outlen)
      goto bad;
    out[o++] = (char)c;
  }
  out[o] = '\0';
  return 0;
bad:
  out[0] = '\0';
  return -1;
}

int kiln_http_query_param(const char *query, const char *name, char *out,
                          size_t outlen)
{
  size_t nlen = strlen(name);

  for (const char *p = query; p != NULL && *p != '\0';) {
    size_t len = strcspn(p, "&");
    if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=')
      return query_decode(p + nlen + 1, len - nlen - 1, out, outlen) == 0 ? 1
                                                                          : -1;
    if (len == nlen && strncmp(p, name, nlen) == 0)
      return query_decode("", 0, out, outlen) == 0 ? 1 : -1;
    p += len;
    if (*p == '&')
      p++;
  }
  return 0;
}

/* ---- reading requests ----------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  struct conn *c = container_of(h, struct conn, tcp);

  *buf = uv_buf_init(c->server->read_buf, sizeof(c->server->read_buf));
}

/* Drops the first n bytes of c->in. */
static void consume(struct conn *c, size_t n)
{
  memmove(c->in.data, c->in.data + n, c->in.len - n);
  c->in.len -= n;
  c->in.data[c->in.len] = '\0';
  c->scanned = 0;
}

static void dispatch(struct conn *c)
{
  struct kiln_http_server *s = c->server;
  struct kiln_http_responder *r = c->pending;

  if (r->req.sink == NULL && r->body.len == 0 &&
      kiln_buf_append(&r->body, "", 0) != 0) {
    conn_fail(c, 500, "out of memory");
    return;
  }
  r->req.body = r->req.sink == NULL ? r->body.data : "";
  r->req.body_len = r->req.sink == NULL ? r->body.len : 0;
  r->dispatched = true;
  conn_set_state(c, CONN_HANDLER);
  s->opts.handler(&r->req, r, s->opts.handler_data);
}

/* Takes up to len bytes of the pending request's body from data: into the
 * sink, or kept. Returns how many, or -1 after failing the connection. */
static long body_take(struct conn *c, const char *data, size_t len)
{
  struct kiln_http_responder *r = c->pending;
  size_t want = r->body_expected - r->body_received;
  size_t take = len < want ? len : want;

  if (take == 0)
    return 0;
  if (r->req.sink != NULL) {
    r->sink_ops->write(r->req.sink, data, take);
  } else if (kiln_buf_append(&r->body, data, take) != 0) {
    conn_fail(c, 500, "out of memory");
    return -1;
  }
  r->body_received += take;
  return (long)take;
}

/* Moves the connection forward with the bytes in c->in. */
static void conn_process(struct conn *c)
{
  struct kiln_http_responder *r;
  const char *why = "";
  size_t head_len = 0;
  int rc;

  if (c->state == CONN_HEAD) {
    if (c->in.len == 0)
      return;
    if (!c->request_begun) {
      /* The header timeout runs from a request's first byte. */
      c->request_begun = true;
      head_timer_start(c, c->server->opts.header_timeout_ms);
    }
    rc = kiln__http_head_scan(c->in.data, c->in.len, &c->scanned,
                              &c->server->limits, &head_len, &why);
    if (rc < 0) {
      conn_refuse(c, KILN_HTTP_SERVER_REJECT_MALFORMED, -rc, why);
      return;
    }
    if (rc == 0)
      return;
    rc = responder_new(c, head_len, &r, &why);
    if (rc == -500) {
      conn_fail(c, 500, why);
      return;
    }
    if (rc < 0) {
      conn_refuse(c, KILN_HTTP_SERVER_REJECT_MALFORMED, -rc, why);
      return;
    }
    c->pending = r;
    consume(c, head_len);
    conn_set_state(c, CONN_BODY);
  }
  if (c->state == CONN_BODY) {
    long take = body_take(c, c->in.data, c->in.len);
    if (take < 0)
      return;
    if (take > 0)
      consume(c, (size_t)take);
    r = c->pending;
    /* A streamed body needs no buffer between reads: give back what the
     * read that brought its head made in grow. */
    if (r->req.sink != NULL && c->in.len == 0)
      kiln_buf_cleanup_secret(&c->in);
    if (r->body_received == r->body_expected)
      dispatch(c);
  }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
  struct conn *c = container_of(stream, struct conn, tcp);
  const char *base = buf->base;

  if (nread == 0 || c->state == CONN_CLOSING)
    return;
  if (nread < 0) {
    if (c->state == CONN_HEAD && c->in.len > 0)
      logf_(c->server, KILN_HTTP_SERVER_LOG_DEBUG,
            "%s: connection closed in the middle of a request head", c->peer);
    else if (c->state == CONN_BODY)
      logf_(c->server, KILN_HTTP_SERVER_LOG_DEBUG,
            "%s: connection closed in the middle of a request body", c->peer);
    conn_close(c);
    return;
  }
  if (c->state == CONN_LINGER) {
    c->lingered += (size_t)nread;
    if (c->lingered > LINGER_MAX_BYTES)
      conn_close(c);
    return;
  }
  if (c->state == CONN_BODY && c->in.len == 0) {
    /* Body bytes go straight from the read buffer to the body or the
     * sink; only what follows the body is kept in c->in. */
    long take = body_take(c, buf->base, (size_t)nread);
    if (take < 0)
      return;
    if (take == nread) {
      conn_process(c);
      return;
    }
    base += take;
    nread -= take;
  }
  if (kiln_buf_append(&c->in, base, (size_t)nread) != 0) {
    /* in is bounded a little above the longest head: only a head that is
     * too long can fill it. */
    conn_refuse(c, KILN_HTTP_SERVER_REJECT_MALFORMED,
                memchr(c->in.data, '\n', c->in.len) ? 431 : 414,
                "request head too long");
    return;
  }
  conn_process(c);
}

static int conn_read_start(struct conn *c)
{
  int rc;

  if (c->reading)
    return 0;
  rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc == 0)
    c->reading = true;
  return rc;
}

/* ---- connection lifecycle ------------------------------------------- */

/* Arms the timer of a connection waiting for a request head. Under
 * pressure the wait is cut to pressure_header_timeout_ms: connections that
 * have not sent a complete head are what an attacker holds open, and what
 * a legitimate client loses least by (it reconnects). */
static void head_timer_start(struct conn *c, long timeout_ms)
{
  struct kiln_http_server *s = c->server;

  if (s->under_pressure && timeout_ms > s->opts.pressure_header_timeout_ms)
    timeout_ms = s->opts.pressure_header_timeout_ms;
  c->head_deadline_ms = uv_now(s->loop) + (uint64_t)timeout_ms;
  uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
}

/* Re-evaluates the pressure after conn_count changed. Entering it cuts
 * the waits of the connections already waiting for a head. */
static void update_pressure(struct kiln_http_server *s)
{
  bool was = s->under_pressure;
  uint64_t now, cut;

  s->under_pressure = s->conn_count * 4 > s->opts.max_connections * 3;
  if (was || !s->under_pressure)
    return;
  now = uv_now(s->loop);
  cut = now + (uint64_t)s->opts.pressure_header_timeout_ms;
  for (struct conn *c = s->conns; c != NULL; c = c->next)
    if (c->state == CONN_HEAD && c->head_deadline_ms > cut) {
      c->head_deadline_ms = cut;
      uv_timer_start(&c->timer, on_timer,
                     (uint64_t)s->opts.pressure_header_timeout_ms, 0);
    }
}

static void on_timer(uv_timer_t *t)
{
  struct conn *c = container_of(t, struct conn, timer);

  switch (c->state) {
  case CONN_HEAD:
    if (!c->request_begun) {
      logf_(c->server, KILN_HTTP_SERVER_LOG_DEBUG,
            "%s: closing idle connection", c->peer);
      conn_close(c);
    } else {
      conn_refuse(c, KILN_HTTP_SERVER_REJECT_TIMEOUT, 408,
                  "request head not received in time");
    }
    break;
  case CONN_BODY:
    conn_refuse(c, KILN_HTTP_SERVER_REJECT_TIMEOUT, 408,
                "request body not received in time");
    break;
  case CONN_WRITE:
    logf_(c->server, KILN_HTTP_SERVER_LOG_INFO,
          "%s: response not sent in time; closing", c->peer);
    conn_close(c);
    break;
  case CONN_NEW:
  case CONN_LINGER:
  case CONN_HANDLER:
  case CONN_CLOSING:
    conn_close(c);
    break;
  }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
  struct conn *c = container_of(req, struct conn, shutdown_req);

  if (c->state == CONN_CLOSING)
    return;
  /* When the server is closing, do not wait for the client. */
  if (status < 0 || c->server->closing || conn_read_start(c) != 0)
    conn_close(c);
}

/* The one place a connection changes state; arms the timer that bounds
 * the new state. */
static void conn_set_state(struct conn *c, enum conn_state state)
{
  const struct kiln_http_server_options *o = &c->server->opts;
  long timeout_ms = 0;

  c->state = state;
  switch (state) {
  case CONN_HEAD:
    c->request_begun = c->in.len > 0;
    c->scanned = 0;
    /* Waiting between requests is idleness; once a request has begun (or
     * on a fresh connection, which should speak first) its head must
     * arrive within header_timeout_ms. */
    timeout_ms = c->served && !c->request_begun ? o->idle_timeout_ms
                                                : o->header_timeout_ms;
    if (conn_read_start(c) != 0) {
      conn_close(c);
      return;
    }
    c->head_since_ms = uv_now(c->server->loop);
    head_timer_start(c, timeout_ms);
    if (c->in.len > 0)
      conn_process(c); /* bytes that arrived with the previous request */
    return;
  case CONN_BODY:
    timeout_ms = o->body_timeout_ms;
    break;
  case CONN_HANDLER:
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    uv_timer_stop(&c->timer);
    return;
  case CONN_WRITE:
    timeout_ms = o->write_timeout_ms;
    break;
  case CONN_LINGER:
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    timeout_ms =
        LINGER_MS < o->write_timeout_ms ? LINGER_MS : o->write_timeout_ms;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) !=
        0) {
      conn_close(c);
      return;
    }
    break;
  case CONN_NEW:
  case CONN_CLOSING:
    return;
  }
  uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
}

static void on_conn_closed(uv_handle_t *h)
{
  struct conn *c = h->data;
  struct kiln_http_server *s = c->server;

  if (--c->open_handles > 0)
    return;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  kiln_buf_cleanup_secret(&c->in);
  kiln_buf_cleanup(&c->out);
  free(c);
  maybe_finish(s);
}

static void conn_close(struct conn *c)
{
  struct kiln_http_server *s = c->server;

  if (c->state == CONN_CLOSING)
    return;
  c->state = CONN_CLOSING;
  /* Counted out now, not when its handles are closed: a slot freed by
   * closing an idle connection is at once free for the one that needs it. */
  if (c->counted && c->refused)
    s->refused_count--;
  else if (c->counted)
    s->conn_count--;
  c->counted = false;
  update_pressure(s);
  if (c->pending != NULL) {
    /* A request in the handler keeps its memory: the handler still holds
     * it and its answer goes nowhere. One still being read is dropped. */
    if (c->pending->dispatched)
      c->pending->conn = NULL;
    else
      responder_free(c->pending);
    c->pending = NULL;
  }
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

/* The client's address and port ("1.2.3.4:5", "[::1]:5") into c->peer,
 * its address alone into c->addr. */
static void peer_name(struct conn *c)
{
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  char *ip = c->addr;

  snprintf(c->peer, sizeof(c->peer), "?");
  snprintf(ip, sizeof(c->addr), "?");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
    return;
  if (ss.ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
    uv_ip4_name(a, ip, sizeof(c->addr));
    snprintf(c->peer, sizeof(c->peer), "%s:%u", ip,
             (unsigned)ntohs(a->sin_port));
  } else if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
    uv_ip6_name(a, ip, sizeof(c->addr));
    snprintf(c->peer, sizeof(c->peer), "[%s]:%u", ip,
             (unsigned)ntohs(a->sin6_port));
  }
}

/* How many other connections (refused ones aside) the address of c
 * holds. A walk over at most max_connections entries per accept. */
static size_t client_connections(const struct conn *c)
{
  size_t n = 0;

  for (const struct conn *o = c->server->conns; o != NULL; o = o->next)
    if (o->counted && !o->refused && strcmp(o->addr, c->addr) == 0)
      n++;
  return n;
}

/* At max_connections, closes the connection that has waited longest for a
 * request head (idle keep-alive, silent or slowly sending its head), so
 * that a new client is served rather than refused. Returns whether one
 * was closed. Requests being read, handled or answered are never cut. */
static bool evict_idle(struct kiln_http_server *s)
{
  struct conn *oldest = NULL;

  for (struct conn *c = s->conns; c != NULL; c = c->next)
    if (c->counted && !c->refused && c->state == CONN_HEAD &&
        (oldest == NULL || c->head_since_ms <= oldest->head_since_ms))
      oldest = c;
  if (oldest == NULL)
    return false;
  report_reject(oldest, KILN_HTTP_SERVER_REJECT_EVICTED, 0,
                "closing a connection waiting for a request head to make "
                "room");
  conn_close(oldest);
  return true;
}

static void on_connection(uv_stream_t *listener, int status)
{
  struct kiln_http_server *s =
      container_of(listener, struct kiln_http_server, listener);
  struct conn *c;
  enum kiln_http_server_reject reason = KILN_HTTP_SERVER_REJECT_OVERLOAD;
  const char *why = NULL;
  size_t max_in;

  if (status < 0) {
    logf_(s, KILN_HTTP_SERVER_LOG_WARN, "accept failed: %s",
          uv_strerror(status));
    return;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL) {
    logf_(s, KILN_HTTP_SERVER_LOG_ERROR, "accept: out of memory");
    return;
  }
  c->server = s;
  c->state = CONN_NEW;
  /* The longest head plus one read: a head that is too long is always
   * noticed by the scanner before in fills up. */
  max_in = s->limits.max_request_line_bytes + s->limits.max_header_bytes + 4 +
           READ_CHUNK_BYTES;
  kiln_buf_init_secret(&c->in, max_in);
  kiln_buf_init(&c->out, 0);
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  c->next = s->conns;
  if (s->conns != NULL)
    s->conns->prev = c;
  s->conns = c;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  peer_name(c);
  uv_tcp_nodelay(&c->tcp, 1);
  /* The per-client limit first, so that one address flooding cannot make
   * room for itself by evicting other clients' idle connections. */
  if (client_connections(c) >= s->opts.max_connections_per_client) {
    reason = KILN_HTTP_SERVER_REJECT_PER_CLIENT;
    why = "too many connections from this address";
  } else if (s->conn_count >= s->opts.max_connections && !evict_idle(s)) {
    reason = KILN_HTTP_SERVER_REJECT_OVERLOAD;
    why = "too many connections";
  }
  c->counted = true;
  c->refused = why != NULL;
  if (c->refused) {
    s->refused_count++;
    if (s->refused_count > MAX_REFUSED_CONNECTIONS) {
      report_reject(c, reason, 0, why);
      conn_close(c);
    } else {
      conn_refuse(c, reason, 503, why);
    }
    return;
  }
  s->conn_count++;
  update_pressure(s);
  conn_set_state(c, CONN_HEAD);
}

/* ---- the server ------------------------------------------------------ */

/* "1.2.3.4:80" or "[::1]:80" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss,
                        const char **why)
{
  char host[INET6_ADDRSTRLEN + 16];
  const char *colon, *port_s;
  unsigned long port = 0;
  size_t host_len;

  *why = "expected ADDR:PORT, e.g. 127.0.0.1:8080 or [::1]:8080";
  if (listen == NULL)
    return KILN_EINVAL;
  if (listen[0] == '[') {
    const char *close_b = strchr(listen, ']');
    if (close_b == NULL || close_b[1] != ':')
      return KILN_EINVAL;
    host_len = (size_t)(close_b - listen - 1);
    if (host_len == 0 || host_len >= sizeof(host))
      return KILN_EINVAL;
    memcpy(host, listen + 1, host_len);
    port_s = close_b + 2;
  } else {
    colon = strrchr(listen, ':');
    if (colon == NULL || strchr(listen, ':') != colon)
      return KILN_EINVAL;
    host_len = (size_t)(colon - listen);
    if (host_len == 0 || host_len >= sizeof(host))
      return KILN_EINVAL;
    memcpy(host, listen, host_len);
    port_s = colon + 1;
  }
  host[host_len] = '\0';
  if (*port_s == '\0' || strlen(port_s) > 5)
    return KILN_EINVAL;
  for (const char *p = port_s; *p != '\0'; p++) {
    if (*p < '0' || *p > '9')
      return KILN_EINVAL;
    port = port * 10 + (unsigned long)(*p - '0');
  }
  if (port > 65535) {
    *why = "port out of range";
    return KILN_EINVAL;
  }
  memset(ss, 0, sizeof(*ss));
  if (listen[0] == '[') {
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) != 0) {
      *why = "not a numeric IPv6 address";
      return KILN_EINVAL;
    }
  } else if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) != 0) {
    *why = "not a numeric IPv4 address (put IPv6 addresses in brackets)";
    return KILN_EINVAL;
  }
  return 0;
}

static int uv_to_kiln(int uverr)
{
  switch (uverr) {
  case UV_EADDRINUSE:
    return KILN_EEXIST;
  case UV_EACCES:
  case UV_EPERM:
    return KILN_EPERM;
  case UV_EADDRNOTAVAIL:
  case UV_EINVAL:
  case UV_EAFNOSUPPORT:
    return KILN_EINVAL;
  case UV_ENOMEM:
  case UV_ENOBUFS:
    return KILN_ENOMEM;
  default:
    return KILN_EIO;
  }
}

static void free_server(uv_handle_t *h)
{
  struct kiln_http_server *s = h->data;

  OPENSSL_cleanse(s->read_buf, sizeof(s->read_buf));
  free(s);
}

int kiln_http_server_start(uv_loop_t *loop,
                           const struct kiln_http_server_options *opts,
                           struct kiln_http_server **out)
{
  struct kiln_http_server *s;
  struct sockaddr_storage ss, bound;
  int len = sizeof(bound);
  const char *why;
  int rc;

  if (loop == NULL || opts == NULL || out == NULL || opts->handler == NULL)
    return KILN_EINVAL;
  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return KILN_ENOMEM;
  s->loop = loop;
  s->opts = *opts;
  s->opts.listen = NULL; /* not kept: the caller's string */
#define DEFAULT(field, value)                                                  \
  if (s->opts.field <= 0)                                                      \
  s->opts.field = (value)
  DEFAULT(max_request_line_bytes,
          KILN_HTTP_SERVER_DEFAULT_MAX_REQUEST_LINE_BYTES);
  DEFAULT(max_header_bytes, KILN_HTTP_SERVER_DEFAULT_MAX_HEADER_BYTES);
  DEFAULT(max_headers, KILN_HTTP_SERVER_DEFAULT_MAX_HEADERS);
  DEFAULT(max_body_bytes, KILN_HTTP_SERVER_DEFAULT_MAX_BODY_BYTES);
  DEFAULT(max_connections, KILN_HTTP_SERVER_DEFAULT_MAX_CONNECTIONS);
  DEFAULT(header_timeout_ms, KILN_HTTP_SERVER_DEFAULT_HEADER_TIMEOUT_MS);
  DEFAULT(body_timeout_ms, KILN_HTTP_SERVER_DEFAULT_BODY_TIMEOUT_MS);
  DEFAULT(idle_timeout_ms, KILN_HTTP_SERVER_DEFAULT_IDLE_TIMEOUT_MS);
  DEFAULT(write_timeout_ms, KILN_HTTP_SERVER_DEFAULT_WRITE_TIMEOUT_MS);
  DEFAULT(close_timeout_ms, KILN_HTTP_SERVER_DEFAULT_CLOSE_TIMEOUT_MS);
  DEFAULT(pressure_header_timeout_ms,
          KILN_HTTP_SERVER_DEFAULT_PRESSURE_HEADER_TIMEOUT_MS);
  DEFAULT(max_connections_per_client,
          s->opts.max_connections /
              KILN_HTTP_SERVER_DEFAULT_PER_CLIENT_DIVISOR);
  DEFAULT(max_connections_per_client, 1);
#undef DEFAULT
  s->limits.max_request_line_bytes = s->opts.max_request_line_bytes;
  s->limits.max_header_bytes = s->opts.max_header_bytes;
  s->limits.max_headers = s->opts.max_headers;
  s->limits.max_body_bytes = s->opts.max_body_bytes;

  rc = parse_listen(opts->listen, &ss, &why);
  if (rc != 0) {
    logf_(s, KILN_HTTP_SERVER_LOG_ERROR, "cannot listen on %s: %s",
          opts->listen ? opts->listen : "(none)", why);
    free(s);
    return rc;
  }
  rc = uv_tcp_init(loop, &s->listener);
  if (rc != 0) {
    free(s);
    return uv_to_kiln(rc);
  }
  s->listener.data = s;
  rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
  if (rc == 0)
    rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
  if (rc != 0) {
    logf_(s, KILN_HTTP_SERVER_LOG_ERROR, "cannot listen on %s: %s",
          opts->listen, uv_strerror(rc));
    /* The server is freed by the listener's close callback. */
    uv_close((uv_handle_t *)&s->listener, free_server);
    return uv_to_kiln(rc);
  }
  s->port = bound.ss_family == AF_INET6
                ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                : ntohs(((struct sockaddr_in *)&bound)->sin_port);
  uv_timer_init(loop, &s->close_timer);
  s->close_timer.data = s;
  logf_(s, KILN_HTTP_SERVER_LOG_INFO, "listening on %s (port %d)", opts->listen,
        s->port);
  *out = s;
  return 0;
}

int kiln_http_server_port(const struct kiln_http_server *server)
{
  return server->port;
}

static void on_close_timer_closed(uv_handle_t *h)
{
  struct kiln_http_server *s = h->data;
  kiln_http_server_close_cb *cb = s->close_cb;
  void *data = s->close_data;

  if (cb != NULL)
    cb(s, data);
  OPENSSL_cleanse(s->read_buf, sizeof(s->read_buf));
  free(s);
}

static void maybe_finish(struct kiln_http_server *s)
{
  if (!s->closing || !s->listener_closed || s->conns != NULL || s->finishing)
    return;
  s->finishing = true;
  uv_close((uv_handle_t *)&s->close_timer, on_close_timer_closed);
}

static void on_listener_closed(uv_handle_t *h)
{
  struct kiln_http_server *s = h->data;

  s->listener_closed = true;
  maybe_finish(s);
}

static void on_close_timeout(uv_timer_t *t)
{
  struct kiln_http_server *s =
      container_of(t, struct kiln_http_server, close_timer);
  struct conn *c, *next;

  for (c = s->conns; c != NULL; c = next) {
    next = c->next;
    if (c->state != CONN_CLOSING)
      logf_(s, KILN_HTTP_SERVER_LOG_WARN,
            "%s: closing a connection whose request did not finish in time",
            c->peer);
    conn_close(c);
  }
}

void kiln_http_server_close(struct kiln_http_server *server,
                            kiln_http_server_close_cb *cb, void *data)
{
  struct kiln_http_server *s = server;
  struct conn *c, *next;

  if (s == NULL || s->closing)
    return;
  s->closing = true;
  s->close_cb = cb;
  s->close_data = data;
  uv_close((uv_handle_t *)&s->listener, on_listener_closed);
  /* Connections without a request in flight go now; the others get
   * close_timeout_ms to answer (with Connection: close). */
  for (c = s->conns; c != NULL; c = next) {
    next = c->next;
    if (c->state != CONN_HANDLER && c->state != CONN_WRITE)
      conn_close(c);
  }
  uv_timer_start(&s->close_timer, on_close_timeout,
                 (uint64_t)s->opts.close_timeout_ms, 0);
}
