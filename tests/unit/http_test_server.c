#include "http_test_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#define container_of(ptr, type, member)                                        \
  ((type *)((char *)(ptr)-offsetof(type, member)))

struct ts_conn {
  uv_tcp_t tcp;
  struct ts_server *server;
  struct ts_conn *next;
  struct kiln_buf in;
  int closing;
  int stalled;
};

struct ts_write {
  uv_write_t req;
  char *data;
};

static void on_conn_closed(uv_handle_t *h)
{
  struct ts_conn *c = container_of((uv_tcp_t *)h, struct ts_conn, tcp);
  kiln_buf_cleanup(&c->in);
  free(c);
}

static void conn_close(struct ts_conn *c)
{
  struct ts_conn **pp;

  if (c->closing)
    return;
  c->closing = 1;
  for (pp = &c->server->conns; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  }
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  buf->base = malloc(65536);
  buf->len = buf->base ? 65536 : 0;
}

static void on_written(uv_write_t *w, int status)
{
  struct ts_write *tw = container_of(w, struct ts_write, req);
  free(tw->data);
  free(tw);
}

static void send_response(struct ts_conn *c, const struct ts_response *res)
{
  const char *body = res->body != NULL ? res->body : "";
  size_t blen =
      res->body_len != 0 || res->body == NULL ? res->body_len : strlen(body);
  const char *extra = res->extra_headers != NULL ? res->extra_headers : "";
  size_t cap = strlen(extra) + blen + 256;
  struct ts_write *tw = calloc(1, sizeof(*tw));
  int n;
  uv_buf_t b;

  tw->data = malloc(cap);
  n = snprintf(tw->data, cap, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n",
               res->status, blen, extra);
  memcpy(tw->data + n, body, blen);
  b = uv_buf_init(tw->data, (unsigned)(n + (int)blen));
  uv_write(&tw->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}

static const char *find_header(const char *head, const char *end,
                               const char *name)
{
  size_t n = strlen(name);
  const char *p;

  for (p = head; p + n <= end; p++)
    if (strncasecmp(p, name, n) == 0)
      return p;
  return NULL;
}

/* Handles every complete request in c->in. */
static void process(struct ts_conn *c)
{
  struct ts_server *s = c->server;

  while (!c->closing && !c->stalled && c->in.len > 0) {
    char *end = strstr(c->in.data, "\r\n\r\n");
    size_t head_len, clen = 0, total;
    const char *cl;
    struct ts_request req;
    struct ts_response res = {TS_RESPOND, 200, NULL, NULL, 0};

    if (end == NULL)
      return;
    head_len = (size_t)(end - c->in.data) + 4;
    cl = find_header(c->in.data, end, "\r\nContent-Length:");
    if (cl != NULL)
      clen = strtoul(cl + 17, NULL, 10);
    total = head_len + clen;
    if (c->in.len < total)
      return;
    memset(&req, 0, sizeof(req));
    sscanf(c->in.data, "%15s %511s", req.method, req.path);
    kiln_buf_reset(&s->last_head);
    kiln_buf_append(&s->last_head, c->in.data, head_len);
    kiln_buf_reset(&s->last_body);
    kiln_buf_append(&s->last_body, c->in.data + head_len, clen);
    req.head = s->last_head.data;
    req.body = s->last_body.data;
    req.body_len = clen;
    s->requests++;
    s->handler(s, &req, &res);
    memmove(c->in.data, c->in.data + total, c->in.len - total);
    c->in.len -= total;
    c->in.data[c->in.len] = '\0';
    if (res.action == TS_DROP) {
      conn_close(c);
      return;
    }
    if (res.action == TS_STALL) {
      c->stalled = 1;
      return;
    }
    send_response(c, &res);
  }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
  struct ts_conn *c = container_of((uv_tcp_t *)st, struct ts_conn, tcp);

  if (nread < 0) {
    conn_close(c);
  } else if (nread > 0) {
    kiln_buf_append(&c->in, buf->base, (size_t)nread);
    process(c);
  }
  free(buf->base);
}

static void on_connection(uv_stream_t *l, int status)
{
  struct ts_server *s = container_of((uv_tcp_t *)l, struct ts_server, listener);
  struct ts_conn *c;

  if (status < 0)
    return;
  c = calloc(1, sizeof(*c));
  c->server = s;
  kiln_buf_init(&c->in, 64u * 1024 * 1024);
  uv_tcp_init(s->loop, &c->tcp);
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  c->next = s->conns;
  s->conns = c;
  s->accepted++;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int ts_start(struct ts_server *s, uv_loop_t *loop, ts_handler *handler,
             void *data)
{
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof(bound), err;

  memset(s, 0, sizeof(*s));
  s->loop = loop;
  s->handler = handler;
  s->data = data;
  kiln_buf_init(&s->last_head, 0);
  kiln_buf_init(&s->last_body, 0);
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_init(loop, &s->listener);
  if ((err = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0)) ||
      (err = uv_listen((uv_stream_t *)&s->listener, 64, on_connection)))
    return err;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
  s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  return 0;
}

void ts_stop(struct ts_server *s)
{
  while (s->conns != NULL)
    conn_close(s->conns);
  uv_close((uv_handle_t *)&s->listener, NULL);
  kiln_buf_cleanup(&s->last_head);
  kiln_buf_cleanup(&s->last_body);
}
