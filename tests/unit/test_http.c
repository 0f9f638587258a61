/* The libcurl-on-uv client against a real HTTP server on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "http_test_server.h"
#include "kiln/error.h"
#include "kiln/http.h"

static char big_body[200 * 1024];
static char big_header[4096];

static void handler(struct ts_server *s, const struct ts_request *req,
                    struct ts_response *res)
{
  if (strcmp(req->path, "/ok") == 0) {
    res->extra_headers = "X-Amzn-RequestId: req-123\r\n"
                         "Retry-After:   3  \r\n";
    res->body = "hello";
  } else if (strcmp(req->path, "/echo") == 0) {
    res->body = req->body;
    res->body_len = req->body_len;
  } else if (strcmp(req->path, "/big") == 0) {
    res->body = big_body;
    res->body_len = sizeof(big_body);
  } else if (strcmp(req->path, "/bighdr") == 0) {
    res->extra_headers = big_header;
  } else if (strcmp(req->path, "/stall") == 0) {
    res->action = TS_STALL;
  } else if (strcmp(req->path, "/drop") == 0) {
    res->action = TS_DROP;
  } else {
    res->status = 404;
    res->body = "{\"__type\":\"NotFound\"}";
  }
}

struct result {
  int done;
  int err;
  long status;
  char body[64];
  size_t body_len;
  char request_id[64];
  char retry_after[16];
  double total_ms;
};

static void on_response(struct kiln_http_response *res, void *data)
{
  struct result *r = data;
  const char *v;

  r->done++;
  r->err = res->err;
  r->status = res->status;
  r->body_len = res->body.len;
  snprintf(r->body, sizeof(r->body), "%s",
           res->body.data ? res->body.data : "");
  v = kiln_http_response_request_id(res);
  snprintf(r->request_id, sizeof(r->request_id), "%s", v ? v : "");
  v = kiln_http_response_header(res, "RETRY-AFTER");
  snprintf(r->retry_after, sizeof(r->retry_after), "%s", v ? v : "");
  r->total_ms = res->total_ms;
}

struct fixture {
  uv_loop_t loop;
  struct ts_server server;
  struct kiln_http_client *client;
  int closed;
  char url[128];
};

static void on_closed(struct kiln_http_client *c, void *data)
{
  struct fixture *f = data;
  f->closed = 1;
}

static void on_guard(uv_timer_t *t)
{
}

/* Runs the loop until *flag is non-zero or deadline_ms passes. */
static void run_until(uv_loop_t *loop, const int *flag, uint64_t deadline_ms)
{
  uv_timer_t guard;
  uint64_t end;

  uv_update_time(loop);
  end = uv_now(loop) + deadline_ms;
  uv_timer_init(loop, &guard);
  uv_timer_start(&guard, on_guard, 5, 5);
  while (!*flag && uv_now(loop) < end)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

static struct fixture *setup(const struct kiln_http_client_options *opts)
{
  struct fixture *f = calloc(1, sizeof(*f));

  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(ts_start(&f->server, &f->loop, handler, NULL), 0);
  assert_int_equal(kiln_http_client_new(&f->loop, opts, &f->client), 0);
  return f;
}

static const char *url(struct fixture *f, const char *path)
{
  snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d%s", f->server.port,
           path);
  return f->url;
}

static void teardown(struct fixture *f)
{
  kiln_http_client_close(f->client, on_closed, f);
  ts_stop(&f->server);
  run_until(&f->loop, &f->closed, 5000);
  assert_true(f->closed);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
}

static void get(struct fixture *f, const char *path, long timeout_ms,
                size_t max_body, struct result *r)
{
  struct kiln_http_request req = {0};

  req.method = "GET";
  req.url = url(f, path);
  req.timeout_ms = timeout_ms;
  req.max_body_bytes = max_body;
  memset(r, 0, sizeof(*r));
  assert_int_equal(
      kiln_http_request_start(f->client, &req, on_response, r, NULL), 0);
  /* Never called before the registering function returns. */
  assert_int_equal(r->done, 0);
  run_until(&f->loop, &r->done, 10000);
  assert_int_equal(r->done, 1);
}

static void test_ok_and_headers(void **state)
{
  struct fixture *f = setup(NULL);
  struct result r;

  get(f, "/ok", 0, 0, &r);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "hello");
  assert_string_equal(r.request_id, "req-123");
  assert_string_equal(r.retry_after, "3");
  get(f, "/nope", 0, 0, &r);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.status, 404);
  teardown(f);
}

static void test_post_sends_exactly_the_given_headers(void **state)
{
  static const unsigned char body[] = {0, 1, 2, 0xff, 'x'};
  struct kiln_http_header hs[] = {
      {"Authorization", "AWS4-HMAC-SHA256 Credential=AKID/secret-ish"},
      {"Content-Type", "application/x-amz-json-1.1"},
      {"X-Empty", ""},
  };
  struct fixture *f = setup(NULL);
  struct kiln_http_request req = {0};
  struct result r = {0};
  const char *head;

  req.method = "POST";
  req.url = url(f, "/echo");
  req.headers = hs;
  req.header_count = 3;
  req.body = body;
  req.body_len = sizeof(body);
  assert_int_equal(
      kiln_http_request_start(f->client, &req, on_response, &r, NULL), 0);
  run_until(&f->loop, &r.done, 10000);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, sizeof(body));
  assert_memory_equal(f->server.last_body.data, body, sizeof(body));
  head = f->server.last_head.data;
  assert_non_null(strstr(head, "POST /echo HTTP/1.1\r\n"));
  assert_non_null(strstr(head, "\r\nAuthorization: AWS4-HMAC-SHA256"));
  assert_non_null(strstr(head, "\r\nContent-Type: application/x-amz-json-1.1"));
  assert_non_null(strstr(head, "\r\nX-Empty:"));
  assert_non_null(strstr(head, "\r\nContent-Length: 5\r\n"));
  assert_null(strstr(head, "Expect:"));
  assert_null(strstr(head, "Accept:"));
  teardown(f);
}

static void test_connection_reuse(void **state)
{
  struct fixture *f = setup(NULL);
  struct result r;
  int i;

  for (i = 0; i < 3; i++) {
    get(f, "/ok", 0, 0, &r);
    assert_int_equal(r.status, 200);
  }
  assert_int_equal(f->server.requests, 3);
  assert_int_equal(f->server.accepted, 1);
  teardown(f);
}

static void test_large_body_and_headers_rejected(void **state)
{
  struct kiln_http_client_options opts = {0};
  struct fixture *f;
  struct result r;

  opts.max_header_bytes = 1024;
  f = setup(&opts);
  memset(big_body, 'b', sizeof(big_body));
  get(f, "/big", 0, 64 * 1024, &r);
  assert_int_equal(r.err, KILN_ETOOBIG);
  get(f, "/big", 0, 0, &r); /* the client's 16 MiB default is enough */
  assert_int_equal(r.err, 0);
  assert_int_equal(r.body_len, sizeof(big_body));

  memset(big_header, 0, sizeof(big_header));
  strcpy(big_header, "X-Big: ");
  memset(big_header + 7, 'h', 2000);
  strcat(big_header, "\r\n");
  get(f, "/bighdr", 0, 0, &r);
  assert_int_equal(r.err, KILN_ETOOBIG);
  /* The client still works afterwards. */
  get(f, "/ok", 0, 0, &r);
  assert_int_equal(r.err, 0);
  teardown(f);
}

static void test_total_timeout(void **state)
{
  struct fixture *f = setup(NULL);
  struct result r;

  get(f, "/stall", 300, 0, &r);
  assert_int_equal(r.err, KILN_ETIMEDOUT);
  assert_int_equal(r.status, 0);
  assert_true(r.total_ms >= 290);
  assert_true(r.total_ms < 5000);
  teardown(f);
}

static void test_dropped_connection(void **state)
{
  struct fixture *f = setup(NULL);
  struct result r;

  get(f, "/drop", 0, 0, &r);
  assert_int_equal(r.err, KILN_ECONN);
  teardown(f);
}

static void on_tmp_closed(uv_handle_t *h)
{
}

static void test_connection_refused(void **state)
{
  struct fixture *f = setup(NULL);
  struct kiln_http_request req = {0};
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof(bound), port;
  uv_tcp_t tmp;
  struct result r = {0};
  char u[64];

  /* A port that was free a moment ago and has no listener now. */
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_init(&f->loop, &tmp);
  assert_int_equal(uv_tcp_bind(&tmp, (const struct sockaddr *)&addr, 0), 0);
  uv_tcp_getsockname(&tmp, (struct sockaddr *)&bound, &len);
  port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  uv_close((uv_handle_t *)&tmp, on_tmp_closed);
  snprintf(u, sizeof(u), "http://127.0.0.1:%d/", port);
  req.method = "GET";
  req.url = u;
  assert_int_equal(
      kiln_http_request_start(f->client, &req, on_response, &r, NULL), 0);
  run_until(&f->loop, &r.done, 10000);
  assert_int_equal(r.err, KILN_ECONN);
  teardown(f);
}

static void test_cancel_and_close_with_pending(void **state)
{
  struct fixture *f = setup(NULL);
  struct kiln_http_request req = {0};
  struct kiln_http_op *op = NULL;
  struct result r1 = {0}, r2 = {0};

  req.method = "GET";
  req.url = url(f, "/stall");
  assert_int_equal(
      kiln_http_request_start(f->client, &req, on_response, &r1, &op), 0);
  assert_non_null(op);
  assert_int_equal(
      kiln_http_request_start(f->client, &req, on_response, &r2, NULL), 0);
  kiln_http_cancel(op);
  assert_int_equal(r1.done, 0); /* asynchronous, even when cancelled */
  run_until(&f->loop, &r1.done, 5000);
  assert_int_equal(r1.err, KILN_ECANCELED);
  assert_int_equal(r2.done, 0);
  /* Closing cancels what is still pending. */
  kiln_http_client_close(f->client, on_closed, f);
  assert_int_equal(r2.done, 0);
  run_until(&f->loop, &f->closed, 5000);
  assert_int_equal(r2.done, 1);
  assert_int_equal(r2.err, KILN_ECANCELED);
  ts_stop(&f->server);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
}

static void test_invalid_requests(void **state)
{
  static const struct kiln_http_header crlf[] = {{"X-A", "b\r\nInjected: 1"}};
  struct fixture *f = setup(NULL);
  struct kiln_http_request req = {0};
  struct result r = {0};

  req.method = "GET";
  req.url = "ftp://127.0.0.1/";
  assert_int_equal(
      kiln_http_request_start(f->client, &req, on_response, &r, NULL),
      KILN_EINVAL);
  req.url = url(f, "/ok");
  req.method = "get";
  assert_int_equal(
      kiln_http_request_start(f->client, &req, on_response, &r, NULL),
      KILN_EINVAL);
  req.method = "GET";
  req.headers = crlf;
  req.header_count = 1;
  assert_int_equal(
      kiln_http_request_start(f->client, &req, on_response, &r, NULL),
      KILN_EINVAL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(r.done, 0);
  teardown(f);
}

/* A response callback that starts the next request and closes the client
 * from inside a callback must be safe. */
struct chain {
  struct fixture *f;
  int step;
  int done;
};

static void on_chain(struct kiln_http_response *res, void *data)
{
  struct chain *c = data;
  struct kiln_http_request req = {0};

  assert_int_equal(res->err, 0);
  c->step++;
  if (c->step < 3) {
    req.method = "GET";
    req.url = c->f->url;
    assert_int_equal(
        kiln_http_request_start(c->f->client, &req, on_chain, c, NULL), 0);
  } else {
    kiln_http_client_close(c->f->client, on_closed, c->f);
    c->done = 1;
  }
}

static void test_reentrant_callbacks(void **state)
{
  struct fixture *f = setup(NULL);
  struct kiln_http_request req = {0};
  struct chain c = {f, 0, 0};

  req.method = "GET";
  req.url = url(f, "/ok");
  assert_int_equal(kiln_http_request_start(f->client, &req, on_chain, &c, NULL),
                   0);
  run_until(&f->loop, &f->closed, 10000);
  assert_int_equal(c.step, 3);
  assert_true(f->closed);
  ts_stop(&f->server);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ok_and_headers),
      cmocka_unit_test(test_post_sends_exactly_the_given_headers),
      cmocka_unit_test(test_connection_reuse),
      cmocka_unit_test(test_large_body_and_headers_rejected),
      cmocka_unit_test(test_total_timeout),
      cmocka_unit_test(test_dropped_connection),
      cmocka_unit_test(test_connection_refused),
      cmocka_unit_test(test_cancel_and_close_with_pending),
      cmocka_unit_test(test_invalid_requests),
      cmocka_unit_test(test_reentrant_callbacks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
