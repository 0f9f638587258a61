/* A tiny HTTP/1.1 server on the uv loop for the HTTP and retry tests.
 *
 * It binds 127.0.0.1 on an ephemeral port and answers each request with
 * the behaviour its handler picks: a response, a stall (never answer), or
 * a dropped connection. Keep-alive is supported so that connection reuse
 * can be observed (accepted counts TCP connections).
 */
#ifndef KILN_TEST_HTTP_SERVER_H
#define KILN_TEST_HTTP_SERVER_H

#include <stddef.h>
#include <uv.h>

#include "kiln/buf.h"

enum ts_action { TS_RESPOND, TS_STALL, TS_DROP };

struct ts_request {
  char method[16];
  char path[512];
  const char *head; /* request line and headers, NUL-terminated */
  const char *body;
  size_t body_len;
};

struct ts_response {
  enum ts_action action;
  int status;
  const char *extra_headers; /* "Name: v\r\n..." or NULL */
  const char *body;          /* NULL: "" */
  size_t body_len;           /* 0 with body set: strlen(body) */
};

struct ts_server;
typedef void ts_handler(struct ts_server *s, const struct ts_request *req,
                        struct ts_response *res);

struct ts_server {
  uv_tcp_t listener;
  uv_loop_t *loop;
  int port;
  ts_handler *handler;
  void *data;
  unsigned accepted; /* connections */
  unsigned requests; /* requests parsed */
  struct ts_conn *conns;
  struct kiln_buf last_head; /* the last request's head, for assertions */
  struct kiln_buf last_body;
};

int ts_start(struct ts_server *s, uv_loop_t *loop, ts_handler *handler,
             void *data);
/* Closes the listener and every connection (handles closed on the next
 * loop turns). */
void ts_stop(struct ts_server *s);

#endif
