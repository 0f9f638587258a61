/* The HTTP server on a real loop, driven by raw blocking sockets from a
 * client thread: what a well-behaved client gets, and what garbage, slow
 * clients, oversized requests and too many connections get. The loop runs
 * on the test's thread until the client thread is done (with a deadline);
 * nothing sleeps and hopes. The parser is also tested on its own, table by
 * table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <uv.h>

#include "http_parse.h"
#include "kiln/error.h"
#include "kiln/http_server.h"

/* ---- the parser, as a pure function ---------------------------------- */

static const struct kiln__http_limits small_limits = {
    .max_request_line_bytes = 64,
    .max_header_bytes = 128,
    .max_headers = 4,
    .max_body_bytes = 100,
};

struct parse_case {
  const char *head;
  int want; /* 0 or -status */
};

static const struct parse_case parse_cases[] = {
    {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0},
    {"GET /a?b=c HTTP/1.0\r\n\r\n", 0},
    {"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", 0},
    {"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", -413},
    {"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999"
     "\r\n\r\n",
     -400},
    {"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", -400},
    {"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1,2\r\n\r\n", -400},
    {"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: "
     "5\r\n\r\n",
     0},
    {"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: "
     "6\r\n\r\n",
     -400},
    {"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", -411},
    {"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", -501},
    {"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
     "Content-Length: 3\r\n\r\n",
     -400},
    {"GET / HTTP/1.1\r\n\r\n", -400},                       /* no Host */
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400}, /* two */
    {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", -505},
    {"GET / HTTP/1.2\r\nHost: x\r\n\r\n", -505},
    {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", -400},           /* space */
    {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", -400}, /* obs-fold */
    {"GET / HTTP/1.1\r\n: x\r\nHost: x\r\n\r\n", -400},     /* no name */
    {"GET / HTTP/1.1\r\nHost x\r\n\r\n", -400},             /* no colon */
    {"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", -400}, /* bare CR */
    {"GET / HTTP/1.1\nHost: x\n\n", -400},                  /* bare LF */
    {"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", -400},    /* absolute */
    {"GET /a#f HTTP/1.1\r\nHost: x\r\n\r\n", -400},         /* fragment */
    {"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", -400},           /* two spaces */
    {"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", -400},            /* method */
    {"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", -400},
    {"GET / http/1.1\r\nHost: x\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", 0},
    {"GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", -417},
    {"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 0},
    {"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", -431},
    {"GET / HTTP/1.1\r\nHost: x\r\nA: caf\xc3\xa9\r\n\r\n", 0}, /* obs-text */
};

static void test_parse_table(void **state)
{
  struct kiln_http_server_header headers[4];
  struct kiln__http_head h;
  char buf[512];

  for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
    const char *why = NULL;
    size_t len = strlen(parse_cases[i].head);
    int rc;
    memcpy(buf, parse_cases[i].head, len + 1);
    rc = kiln__http_parse_head(buf, len, &small_limits, &h, headers, &why);
    if (rc != parse_cases[i].want)
      fail_msg("case %zu: got %d (%s), want %d", i, rc, why,
               parse_cases[i].want);
    assert_non_null(why);
  }
}

static void test_parse_fields(void **state)
{
  struct kiln_http_server_header headers[4];
  struct kiln__http_head h;
  const char *why;
  char buf[] = "POST /hooks/github?x=1&y HTTP/1.1\r\n"
               "host: example\r\n"
               "X-Hub-Signature-256:   sha256=ab  \t\r\n"
               "Content-Length: 7\r\n"
               "Connection: keep-alive, close\r\n\r\n";

  assert_int_equal(kiln__http_parse_head(buf, strlen(buf) + 0, &small_limits,
                                         &h, headers, &why),
                   0);
  assert_string_equal(h.method, "POST");
  assert_string_equal(h.path, "/hooks/github");
  assert_string_equal(h.query, "x=1&y");
  assert_int_equal(h.minor, 1);
  assert_int_equal(h.header_count, 4);
  assert_string_equal(headers[1].name, "X-Hub-Signature-256");
  assert_string_equal(headers[1].value, "sha256=ab");
  assert_int_equal(h.content_length, 7);
  assert_false(h.keep_alive);
}

static void test_parse_keep_alive(void **state)
{
  static const struct {
    const char *head;
    bool keep;
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
  };
  struct kiln_http_server_header headers[4];
  struct kiln__http_head h;
  const char *why;
  char buf[128];

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    snprintf(buf, sizeof(buf), "%s", cases[i].head);
    assert_int_equal(kiln__http_parse_head(buf, strlen(buf), &small_limits, &h,
                                           headers, &why),
                     0);
    assert_int_equal(h.keep_alive, cases[i].keep);
  }
}

/* Feeding a head one byte at a time finds the same end as all at once,
 * and the limits answer with the right status. */
static void test_scan(void **state)
{
  static const char ok[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY";
  char big[512];
  size_t scanned = 0, head_len = 0;
  const char *why;
  int rc = 0;

  for (size_t n = 1; n <= sizeof(ok) - 1 && rc == 0; n++)
    rc = kiln__http_head_scan(ok, n, &scanned, &small_limits, &head_len, &why);
  assert_int_equal(rc, 1);
  assert_int_equal(head_len, sizeof(ok) - 1 - 4);

  /* A request line over 64 bytes, without its end yet: 414. */
  memset(big, 'a', sizeof(big));
  memcpy(big, "GET /", 5);
  scanned = 0;
  assert_int_equal(
      kiln__http_head_scan(big, 70, &scanned, &small_limits, &head_len, &why),
      -414);
  /* Headers over 128 bytes: 431. */
  snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: %0200d", 0);
  scanned = 0;
  assert_int_equal(kiln__http_head_scan(big, strlen(big), &scanned,
                                        &small_limits, &head_len, &why),
                   -431);
  /* ... also when the whole head arrives at once. */
  snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: %0200d\r\n\r\n", 0);
  scanned = 0;
  assert_int_equal(kiln__http_head_scan(big, strlen(big), &scanned,
                                        &small_limits, &head_len, &why),
                   -431);
  /* A NUL is refused as soon as it arrives. */
  scanned = 0;
  assert_int_equal(kiln__http_head_scan("GET /\0", 6, &scanned, &small_limits,
                                        &head_len, &why),
                   -400);
  /* So is a garbage request line, without waiting for the head's end. */
  scanned = 0;
  assert_int_equal(kiln__http_head_scan("\x16\x03\x01 hello\r\n", 14, &scanned,
                                        &small_limits, &head_len, &why),
                   -400);
}

/* Mutated requests (bytes flipped, separators and NULs inserted, lines
 * cut) never crash the scanner or the parser, and every rejection is one
 * of the statuses they promise. Run under ASan/UBSan this is a small
 * deterministic fuzzer. */
static void test_parse_mutations(void **state)
{
  static const char seed[] =
      "POST /hooks/github?x=1 HTTP/1.1\r\nHost: kiln\r\n"
      "Content-Length: 10\r\nX-Hub-Signature-256: sha256=00\r\n"
      "Connection: keep-alive\r\n\r\n";
  static const char alphabet[] = "\r\n\0: \t/?#HTTP1.0,chunked-";
  struct kiln_http_server_header headers[4];
  struct kiln__http_head h;
  uint32_t rng = 12345;
  char buf[256];

  for (int iter = 0; iter < 50000; iter++) {
    size_t len = sizeof(seed) - 1, scanned = 0, head_len = 0;
    const char *why;
    int muts, rc;

    memcpy(buf, seed, len);
    rng = rng * 1103515245u + 12345u;
    muts = 1 + (int)((rng >> 16) % 4);
    for (int m = 0; m < muts; m++) {
      size_t pos;
      rng = rng * 1103515245u + 12345u;
      pos = (rng >> 8) % len;
      switch ((rng >> 24) % 3) {
      case 0: /* replace */
        buf[pos] = alphabet[(rng >> 4) % (sizeof(alphabet) - 1)];
        break;
      case 1: /* insert */
        if (len + 1 < sizeof(buf)) {
          memmove(buf + pos + 1, buf + pos, len - pos);
          buf[pos] = (char)(rng >> 12);
          len++;
        }
        break;
      default: /* cut */
        len = pos + 1;
        break;
      }
    }
    rc = kiln__http_head_scan(buf, len, &scanned, &small_limits, &head_len,
                              &why);
    assert_true(rc == 0 || rc == 1 || rc == -400 || rc == -414 || rc == -431);
    if (rc != 1)
      continue;
    assert_true(head_len <= len);
    rc = kiln__http_parse_head(buf, head_len, &small_limits, &h, headers, &why);
    assert_true(rc == 0 || rc == -400 || rc == -411 || rc == -413 ||
                rc == -414 || rc == -417 || rc == -431 || rc == -501 ||
                rc == -505);
    if (rc == 0) {
      assert_true(h.path[0] == '/');
      assert_true(h.header_count <= small_limits.max_headers);
      assert_true(h.content_length <= small_limits.max_body_bytes);
    }
  }
}

/* ---- the server, in-process ------------------------------------------ */

struct fixture {
  uv_loop_t loop;
  struct kiln_http_server *server;
  int port;
  int closed;
  int handled;
  struct kiln_http_responder *held; /* /hold and /async */
  uv_timer_t async_timer;
  int async_timer_open;
  int respond_rc; /* of the last late answer */
  atomic_int client_done;
  char logs[4096];
  char rejects[512]; /* "reason status client why" lines */
  /* The body sink: requests to /sink stream into sink_bytes. */
  size_t sink_bytes;
  unsigned sink_sum; /* of the bytes, to check order and content */
  size_t sink_largest_chunk;
  int sinks_open;
  int sinks_freed;
  int two_sinks_freed;
};

static int sink_open(const struct kiln_http_server_request *req, void **sink,
                     void *data)
{
  struct fixture *f = data;

  *sink = NULL;
  if (strcmp(req->path, "/sink") != 0)
    return 0;
  if (strcmp(req->query, "fail") == 0)
    return KILN_ENOMEM;
  f->sinks_open++;
  *sink = f;
  return 0;
}

static void sink_write(void *sink, const void *chunk, size_t len)
{
  struct fixture *f = sink;
  const unsigned char *p = chunk;

  for (size_t i = 0; i < len; i++)
    f->sink_sum = f->sink_sum * 31 + p[i];
  f->sink_bytes += len;
  if (len > f->sink_largest_chunk)
    f->sink_largest_chunk = len;
}

static void sink_free(void *sink)
{
  struct fixture *f = sink;
  f->two_sinks_freed = ++f->sinks_freed == 2;
}

static const struct kiln_http_server_body_sink test_sink = {
    .open = sink_open, .write = sink_write, .free = sink_free};

static void on_log(enum kiln_http_server_log_level level, const char *msg,
                   void *data)
{
  struct fixture *f = data;
  size_t n = strlen(f->logs);
  snprintf(f->logs + n, sizeof(f->logs) - n, "%s\n", msg);
}

static void on_reject(enum kiln_http_server_reject reason, int status,
                      const char *client, const char *why, void *data)
{
  struct fixture *f = data;
  size_t n = strlen(f->rejects);
  snprintf(f->rejects + n, sizeof(f->rejects) - n, "%s %d %s %s\n",
           kiln_http_server_reject_name(reason), status, client, why);
}

static void on_async_timer(uv_timer_t *t)
{
  struct fixture *f = t->data;
  static const char body[] = "later";
  struct kiln_http_server_response resp = {
      .status = 202, .body = body, .body_len = sizeof(body) - 1};

  f->respond_rc = kiln_http_server_respond(f->held, &resp);
  f->held = NULL;
}

static void handler(struct kiln_http_server_request *req,
                    struct kiln_http_responder *res, void *data)
{
  struct fixture *f = data;
  struct kiln_http_server_response resp = {.status = 200};
  struct kiln_http_server_header extra[2];
  const char *v;

  f->handled++;
  if (strcmp(req->path, "/hello") == 0) {
    resp.body = "hello";
    resp.body_len = 5;
    kiln_http_server_respond(res, &resp);
  } else if (strcmp(req->path, "/echo") == 0) {
    v = kiln_http_server_request_header(req, "x-TEST");
    extra[0].name = "X-Test";
    extra[0].value = v != NULL ? v : "(none)";
    extra[1].name = "X-Query";
    extra[1].value = req->query;
    resp.headers = extra;
    resp.header_count = 2;
    resp.content_type = "application/octet-stream";
    resp.body = req->body;
    resp.body_len = req->body_len;
    kiln_http_server_respond(res, &resp);
  } else if (strcmp(req->path, "/sink") == 0) {
    char n[64];
    snprintf(n, sizeof(n), "%zu %s %d %u", f->sink_bytes,
             req->sink == f ? "sink" : "no sink", (int)req->body_len,
             f->sink_sum);
    resp.body = n;
    resp.body_len = strlen(n);
    kiln_http_server_respond(res, &resp);
  } else if (strcmp(req->path, "/json") == 0) {
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "method", json_object_new_string(req->method));
    kiln_http_server_respond_json(res, 200, o);
    json_object_put(o);
  } else if (strcmp(req->path, "/async") == 0) {
    f->held = res;
    uv_timer_start(&f->async_timer, on_async_timer, 20, 0);
  } else if (strcmp(req->path, "/hold") == 0) {
    f->held = res;
  } else if (strcmp(req->path, "/bad-header") == 0) {
    extra[0].name = "X-Evil";
    extra[0].value = "a\r\nSet-Cookie: x";
    resp.headers = extra;
    resp.header_count = 1;
    f->respond_rc = kiln_http_server_respond(res, &resp);
  } else {
    kiln_http_server_respond_error(res, 404, "no such \"route\"");
  }
}

static void on_server_closed(struct kiln_http_server *s, void *data)
{
  struct fixture *f = data;
  f->closed++;
}

static void on_guard(uv_timer_t *t)
{
}

/* Runs the loop until *flag is non-zero or deadline_ms passes; returns
 * whether the flag was reached. */
static int run_until(uv_loop_t *loop, const int *flag, atomic_int *aflag,
                     uint64_t deadline_ms)
{
  uv_timer_t guard;
  uint64_t end;
  int done = 0;

  uv_update_time(loop);
  end = uv_now(loop) + deadline_ms;
  uv_timer_init(loop, &guard);
  uv_timer_start(&guard, on_guard, 2, 2);
  while (uv_now(loop) < end) {
    done = flag != NULL ? *flag : atomic_load(aflag);
    if (done)
      break;
    uv_run(loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return done;
}

static struct fixture *start(const struct kiln_http_server_options *extra)
{
  struct fixture *f = calloc(1, sizeof(*f));
  struct kiln_http_server_options o = {0};

  if (extra != NULL)
    o = *extra;
  o.listen = "127.0.0.1:0";
  o.handler = handler;
  o.handler_data = f;
  o.log = on_log;
  o.log_data = f;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  uv_timer_init(&f->loop, &f->async_timer);
  f->async_timer.data = f;
  assert_int_equal(kiln_http_server_start(&f->loop, &o, &f->server), 0);
  f->port = kiln_http_server_port(f->server);
  assert_true(f->port > 0);
  return f;
}

static void finish(struct fixture *f)
{
  if (f->server != NULL) {
    kiln_http_server_close(f->server, on_server_closed, f);
    assert_int_equal(f->closed, 0); /* never inside close() */
    assert_true(run_until(&f->loop, &f->closed, NULL, 10000));
  }
  uv_close((uv_handle_t *)&f->async_timer, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
}

/* A client script runs on its own thread with blocking sockets while the
 * loop runs here. It records what it saw; the test asserts afterwards. */
#define MAX_RESP 8
struct client {
  struct fixture *f;
  void (*script)(struct client *cl);
  int port;
  int fd;
  int status[MAX_RESP];
  char head[MAX_RESP][1024];
  char body[MAX_RESP][512];
  size_t body_len[MAX_RESP];
  int n;
  int eof; /* the server closed the connection */
  int error;
  atomic_int step;  /* for scripts that wait on the test */
  char rbuf[32768]; /* received on the current connection, not consumed */
  size_t rlen;
  int head_request; /* the next response answers HEAD: no body */
  const char *arg;  /* the request one_shot sends */
  size_t arg_len;   /* 0: strlen(arg) */
};

/* Connects to the server from source address src (all of 127/8 is
 * loopback on Linux: another address is another client). */
static int cl_connect_from(struct client *cl, const char *src)
{
  struct sockaddr_in a = {0}, from = {0};
  struct timeval tv = {.tv_sec = 5};
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)cl->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  from.sin_family = AF_INET;
  inet_pton(AF_INET, src, &from.sin_addr);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  cl->rlen = 0;
  cl->rbuf[0] = '\0';
  if (bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0 ||
      connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    cl->error = errno;
    close(fd);
    return -1;
  }
  return fd;
}

static int cl_connect(struct client *cl)
{
  return cl_connect_from(cl, "127.0.0.1");
}

static void cl_send(struct client *cl, int fd, const void *data, size_t len)
{
  const char *p = data;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n <= 0) {
      cl->error = n < 0 ? errno : EPIPE;
      return;
    }
    p += n;
    len -= (size_t)n;
  }
}

/* Receives more bytes into cl->rbuf; 0 on EOF, timeout or error. */
static int cl_fill(struct client *cl, int fd)
{
  ssize_t n;

  if (cl->rlen >= sizeof(cl->rbuf) - 1)
    return 0;
  n = recv(fd, cl->rbuf + cl->rlen, sizeof(cl->rbuf) - 1 - cl->rlen, 0);
  if (n <= 0) {
    if (n == 0)
      cl->eof = 1;
    return 0;
  }
  cl->rlen += (size_t)n;
  cl->rbuf[cl->rlen] = '\0';
  return 1;
}

static void cl_consume(struct client *cl, size_t n)
{
  memmove(cl->rbuf, cl->rbuf + n, cl->rlen - n);
  cl->rlen -= n;
  cl->rbuf[cl->rlen] = '\0';
}

/* Reads one final response (head and Content-Length body) into slot
 * cl->n, skipping a 100 Continue. Returns its status, or -1 on EOF or
 * timeout before a complete response. */
static int cl_read_response(struct client *cl, int fd)
{
  size_t head_len, clen = 0;
  const char *end, *h;
  int i = cl->n, status = 0;

  if (i >= MAX_RESP)
    return -1;
  for (;;) {
    while ((end = strstr(cl->rbuf, "\r\n\r\n")) == NULL)
      if (!cl_fill(cl, fd))
        return -1;
    head_len = (size_t)(end - cl->rbuf) + 4;
    if (sscanf(cl->rbuf, "HTTP/1.1 %d", &status) != 1)
      return -1;
    if (status != 100)
      break;
    cl_consume(cl, head_len);
  }
  cl->status[i] = status;
  snprintf(cl->head[i], sizeof(cl->head[i]), "%.*s", (int)head_len, cl->rbuf);
  h = strstr(cl->head[i], "Content-Length: ");
  if (h != NULL && !cl->head_request)
    clen = strtoul(h + 16, NULL, 10);
  cl->head_request = 0;
  while (cl->rlen - head_len < clen)
    if (!cl_fill(cl, fd))
      return -1;
  cl->body_len[i] = clen;
  snprintf(cl->body[i], sizeof(cl->body[i]), "%.*s", (int)clen,
           cl->rbuf + head_len);
  memcpy(cl->body[i], cl->rbuf + head_len,
         clen < sizeof(cl->body[i]) - 1 ? clen : sizeof(cl->body[i]) - 1);
  cl_consume(cl, head_len + clen);
  cl->n++;
  return status;
}

/* Whether the server closes the connection (EOF or reset) within the
 * receive timeout, ignoring anything it still sends. */
static int cl_wait_close(int fd)
{
  char buf[512];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET))
      return 1;
    if (n < 0)
      return 0; /* timeout */
  }
}

static void *client_main(void *arg)
{
  struct client *cl = arg;
  cl->script(cl);
  atomic_store(&cl->f->client_done, 1);
  return NULL;
}

static void run_client(struct fixture *f, struct client *cl,
                       void (*script)(struct client *cl))
{
  pthread_t t;

  cl->f = f;
  cl->port = f->port;
  cl->script = script;
  atomic_store(&f->client_done, 0);
  assert_int_equal(pthread_create(&t, NULL, client_main, cl), 0);
  assert_true(run_until(&f->loop, NULL, &f->client_done, 20000));
  assert_int_equal(pthread_join(t, NULL), 0);
}

/* Sends req on a fresh connection, reads one response, then waits for
 * the server to close. */
static void one_shot(struct client *cl)
{
  int fd = cl_connect(cl);
  if (fd < 0)
    return;
  cl_send(cl, fd, cl->arg, cl->arg_len ? cl->arg_len : strlen(cl->arg));
  cl_read_response(cl, fd);
  cl->eof = cl_wait_close(fd);
  close(fd);
}

static void script_get_post(struct client *cl)
{
  static const char req[] =
      "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
      "POST /echo?a=1&b HTTP/1.1\r\nHost: t\r\nX-Test: yes\r\n"
      "Content-Length: 11\r\n\r\nhello\0world"
      "GET /json HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  int fd = cl_connect(cl);

  if (fd < 0)
    return;
  /* Sent in one go: the server answers one request at a time. */
  cl_send(cl, fd, req, sizeof(req) - 1);
  for (int i = 0; i < 4; i++)
    cl_read_response(cl, fd);
  cl->eof = cl_wait_close(fd);
  close(fd);
}

static void test_get_post_keep_alive_close(void **state)
{
  struct fixture *f = start(NULL);
  struct client cl = {0};

  run_client(f, &cl, script_get_post);
  assert_int_equal(cl.error, 0);
  assert_int_equal(cl.n, 4);
  assert_int_equal(cl.status[0], 200);
  assert_string_equal(cl.body[0], "hello");
  assert_non_null(strstr(cl.head[0], "Content-Type: text/plain"));
  assert_null(strstr(cl.head[0], "Connection: close"));
  assert_int_equal(cl.status[1], 200);
  assert_int_equal(cl.body_len[1], 11);
  assert_memory_equal(cl.body[1], "hello", 6); /* with its NUL */
  assert_non_null(strstr(cl.head[1], "X-Test: yes\r\n"));
  assert_non_null(strstr(cl.head[1], "X-Query: a=1&b\r\n"));
  assert_int_equal(cl.status[2], 200);
  assert_string_equal(cl.body[2], "{\"method\":\"GET\"}");
  assert_non_null(strstr(cl.head[2], "Content-Type: application/json"));
  assert_int_equal(cl.status[3], 404);
  assert_string_equal(cl.body[3], "{\"error\":\"no such \\\"route\\\"\"}");
  assert_non_null(strstr(cl.head[3], "Connection: close"));
  assert_true(cl.eof);
  assert_int_equal(f->handled, 4);
  finish(f);
}

/* Two requests, each sent after the previous answer, on one connection. */
static void script_reuse(struct client *cl)
{
  static const char req[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
  int fd = cl_connect(cl);

  if (fd < 0)
    return;
  cl_send(cl, fd, req, sizeof(req) - 1);
  cl_read_response(cl, fd);
  cl_send(cl, fd, req, sizeof(req) - 1);
  cl_read_response(cl, fd);
  /* HTTP/1.0 without keep-alive: answered and closed. */
  cl_send(cl, fd, "HEAD /hello HTTP/1.0\r\n\r\n", 24);
  cl->head_request = 1;
  cl_read_response(cl, fd);
  cl->eof = cl_wait_close(fd);
  close(fd);
}

static void test_keep_alive_reuse(void **state)
{
  struct fixture *f = start(NULL);
  struct client cl = {0};

  run_client(f, &cl, script_reuse);
  assert_int_equal(cl.n, 3);
  assert_int_equal(cl.status[0], 200);
  assert_int_equal(cl.status[1], 200);
  assert_string_equal(cl.body[1], "hello");
  /* HEAD: the length of the body, but no body (the next read is EOF). */
  assert_int_equal(cl.status[2], 200);
  assert_non_null(strstr(cl.head[2], "Content-Length: 5"));
  assert_non_null(strstr(cl.head[2], "Connection: close"));
  assert_true(cl.eof);
  finish(f);
}

static void script_async(struct client *cl)
{
  static const char req[] = "GET /async HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
  int fd = cl_connect(cl);

  if (fd < 0)
    return;
  cl_send(cl, fd, req, sizeof(req) - 1);
  cl_read_response(cl, fd);
  cl_read_response(cl, fd);
  close(fd);
}

static void test_async_answer(void **state)
{
  struct fixture *f = start(NULL);
  struct client cl = {0};

  run_client(f, &cl, script_async);
  assert_int_equal(cl.n, 2);
  assert_int_equal(cl.status[0], 202);
  assert_string_equal(cl.body[0], "later");
  assert_int_equal(cl.status[1], 200);
  assert_int_equal(f->respond_rc, 0);
  finish(f);
}

/* A literal that may hold NULs, and its length. */
#define BYTES(lit) lit, sizeof(lit) - 1

struct bad_case {
  const char *req;
  size_t len; /* 0: strlen */
  int status; /* expected; 0: closed without an answer */
};

static void test_bad_requests(void **state)
{
  static char long_line[9000], long_headers[17000], many_headers[4000],
      big_body_head[128];
  const struct bad_case cases[] = {
      {long_line, 0, 414},
      {long_headers, 0, 431},
      {many_headers, 0, 431},
      {big_body_head, 0, 413},
      {"GET /hello HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
       0, 411},
      {"HELLO\r\n\r\n", 0, 400},
      {"GET /hello\r\n\r\n", 0, 400},
      {"GET /hello HTTP/1.1 extra\r\nHost: t\r\n\r\n", 0, 400},
      {BYTES("GET /he\0llo HTTP/1.1\r\nHost: t\r\n\r\n"), 400},
      {BYTES("GET /hello HTTP/1.1\r\nHost: t\r\nX-A: b\0c\r\n\r\n"), 400},
      {"GET /hello HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n", 0, 400},
      {"GET /hello HTTP/1.1\r\nHost: t\r\n\tfolded\r\n\r\n", 0, 400},
      {"GET /hello HTTP/3.0\r\nHost: t\r\n\r\n", 0, 505},
      {BYTES("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 400},
      {"GET /bad-header HTTP/1.1\r\nHost: t\r\n\r\n", 0, 500},
  };
  struct fixture *f = start(NULL);

  memset(long_line, 'a', sizeof(long_line) - 1);
  memcpy(long_line, "GET /", 5);
  snprintf(long_headers, sizeof(long_headers), "GET / HTTP/1.1\r\nX: ");
  memset(long_headers + strlen(long_headers), 'b', 16500);
  strcat(long_headers, "\r\n\r\n");
  snprintf(many_headers, sizeof(many_headers), "GET / HTTP/1.1\r\nHost: t\r\n");
  for (int i = 0; i < 101; i++)
    snprintf(many_headers + strlen(many_headers),
             sizeof(many_headers) - strlen(many_headers), "H%d: v\r\n", i);
  strcat(many_headers, "\r\n");
  snprintf(big_body_head, sizeof(big_body_head),
           "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %u\r\n\r\n",
           1024u * 1024 + 1);

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct client cl = {0};
    cl.arg = cases[i].req;
    cl.arg_len = cases[i].len;
    run_client(f, &cl, one_shot);
    if (cl.n != 1 || cl.status[0] != cases[i].status || !cl.eof)
      fail_msg("case %zu: %d responses, status %d, eof %d", i, cl.n,
               cl.status[0], cl.eof);
  }
  assert_int_equal(f->handled, 1); /* only /bad-header got through */
  assert_int_equal(f->respond_rc, KILN_EINVAL);
  finish(f);
}

/* Sends a request head one byte every 20 ms; with a 150 ms header timeout
 * the server answers 408 and closes long before the head is complete. */
static void script_slow_head(struct client *cl)
{
  static const char req[] =
      "GET /hello HTTP/1.1\r\nHost: t\r\n"
      "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
  struct pollfd p;
  int fd = cl_connect(cl);

  if (fd < 0)
    return;
  for (size_t i = 0; i < sizeof(req) - 1; i++) {
    cl_send(cl, fd, req + i, 1);
    if (cl->error != 0)
      break;
    /* Wait 20 ms, or less if the server has answered. */
    p.fd = fd;
    p.events = POLLIN;
    if (poll(&p, 1, 20) > 0)
      break;
  }
  cl->error = 0; /* a send may fail once the server has closed */
  cl_read_response(cl, fd);
  cl->eof = cl_wait_close(fd);
  close(fd);
}

static void test_slow_client_header_timeout(void **state)
{
  struct kiln_http_server_options o = {.header_timeout_ms = 150};
  struct fixture *f = start(&o);
  struct client cl = {0};

  run_client(f, &cl, script_slow_head);
  assert_int_equal(cl.n, 1);
  assert_int_equal(cl.status[0], 408);
  assert_true(cl.eof);
  assert_int_equal(f->handled, 0);
  finish(f);
}

/* A body that never completes: 408 after the body timeout. */
static void script_slow_body(struct client *cl)
{
  static const char req[] = "POST /echo HTTP/1.1\r\nHost: t\r\n"
                            "Content-Length: 10\r\n\r\nabc";
  int fd = cl_connect(cl);

  if (fd < 0)
    return;
  cl_send(cl, fd, req, sizeof(req) - 1);
  cl_read_response(cl, fd);
  cl->eof = cl_wait_close(fd);
  close(fd);
}

static void test_body_timeout(void **state)
{
  struct kiln_http_server_options o = {.body_timeout_ms = 100};
  struct fixture *f = start(&o);
  struct client cl = {0};

  run_client(f, &cl, script_slow_body);
  assert_int_equal(cl.n, 1);
  assert_int_equal(cl.status[0], 408);
  assert_true(cl.eof);
  assert_int_equal(f->handled, 0);
  finish(f);
}

/* An idle keep-alive connection is closed without a response; so is a
 * connection that never says anything. */
static void script_idle(struct client *cl)
{
  static const char req[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
  int fd = cl_connect(cl), fd2 = cl_connect(cl);

  if (fd < 0 || fd2 < 0)
    return;
  cl_send(cl, fd, req, sizeof(req) - 1);
  cl_read_response(cl, fd);
  cl->eof = cl_wait_close(fd) + cl_wait_close(fd2);
  close(fd);
  close(fd2);
}

static void test_idle_timeout(void **state)
{
  struct kiln_http_server_options o = {.idle_timeout_ms = 100,
                                       .header_timeout_ms = 100};
  struct fixture *f = start(&o);
  struct client cl = {0};

  run_client(f, &cl, script_idle);
  assert_int_equal(cl.n, 1);
  assert_int_equal(cl.status[0], 200);
  assert_int_equal(cl.eof, 2);
  finish(f);
}

/* Half a head, half a body, then the client goes away: nothing reaches
 * the handler, nothing leaks, and the server goes on serving. */
static void script_truncated(struct client *cl)
{
  static const char *const parts[] = {
      "GET /hello HTTP/1.1\r\nHo",
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nab",
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n",
  };
  static const char req[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
  int fd;

  for (size_t i = 0; i < 3; i++) {
    fd = cl_connect(cl);
    if (fd < 0)
      return;
    cl_send(cl, fd, parts[i], strlen(parts[i]));
    close(fd);
  }
  fd = cl_connect(cl);
  if (fd < 0)
    return;
  cl_send(cl, fd, req, sizeof(req) - 1);
  cl_read_response(cl, fd);
  close(fd);
}

static void test_truncated_then_closed(void **state)
{
  struct fixture *f = start(NULL);
  struct client cl = {0};

  run_client(f, &cl, script_truncated);
  assert_int_equal(cl.n, 1);
  assert_int_equal(cl.status[0], 200);
  assert_int_equal(f->handled, 1);
  finish(f);
}

/* Reads the 100 Continue a request with Expect: 100-continue gets once
 * its head is parsed: the request is then reading its body. */
static int cl_read_continue(struct client *cl, int fd)
{
  char *end;

  while ((end = strstr(cl->rbuf, "\r\n\r\n")) == NULL)
    if (!cl_fill(cl, fd))
      return -1;
  if (strncmp(cl->rbuf, "HTTP/1.1 100 ", 13) != 0)
    return -1;
  cl_consume(cl, (size_t)(end + 4 - cl->rbuf));
  return 0;
}

/* Three connections with a cap of two, both held inside a request body
 * (nothing idle to make room with): the third gets 503 and is closed, the
 * first two still work. */
static void script_cap(struct client *cl)
{
  static const char head[] =
      "POST /echo HTTP/1.1\r\nHost: t\r\n"
      "Expect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  static const char req[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
  int a = cl_connect(cl), b, c;

  if (a < 0)
    return;
  cl_send(cl, a, head, sizeof(head) - 1);
  if (cl_read_continue(cl, a) != 0)
    return;
  b = cl_connect(cl);
  if (b < 0)
    return;
  cl_send(cl, b, head, sizeof(head) - 1);
  if (cl_read_continue(cl, b) != 0)
    return;
  c = cl_connect(cl);
  if (c < 0)
    return;
  cl_send(cl, c, req, sizeof(req) - 1);
  cl_read_response(cl, c);
  cl->eof = cl_wait_close(c);
  close(c);
  /* The refused connection took no slot: both still work. */
  cl_send(cl, a, "ping", 4);
  cl_read_response(cl, a);
  cl_send(cl, b, "pong", 4);
  cl_read_response(cl, b);
  close(a);
  close(b);
}

static void test_connection_cap(void **state)
{
  struct kiln_http_server_options o = {.max_connections = 2,
                                       .max_connections_per_client = 2};
  struct fixture *f = start(&o);
  struct client cl = {0};

  run_client(f, &cl, script_cap);
  assert_int_equal(cl.n, 3);
  assert_int_equal(cl.status[0], 503);
  assert_non_null(strstr(cl.head[0], "Connection: close"));
  assert_true(cl.eof);
  assert_int_equal(cl.status[1], 200);
  assert_string_equal(cl.body[1], "ping");
  assert_int_equal(cl.status[2], 200);
  assert_string_equal(cl.body[2], "pong");
  assert_int_equal(f->handled, 2);
  finish(f);
}

/* With a reject callback, the server's refusals go there (reason, status,
 * the client's address without port) instead of the log. */
static void test_reject_callback(void **state)
{
  struct kiln_http_server_options o = {.reject = on_reject};
  struct fixture *f = start(&o);
  struct client cl = {0};

  cl.arg = "HELLO\r\n\r\n";
  run_client(f, &cl, one_shot);
  assert_int_equal(cl.status[0], 400);
  assert_string_equal(f->rejects, "malformed 400 127.0.0.1 malformed method\n");
  assert_null(strstr(f->logs, "400"));
  finish(f);
}

/* One address holds at most max_connections_per_client connections (by
 * default an eighth of max_connections): its next one gets 503, while
 * another address is served. */
static void script_per_client(struct client *cl)
{
  static const char req[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
  int fds[3], c, other;

  for (int i = 0; i < 3; i++) {
    fds[i] = cl_connect(cl);
    if (fds[i] < 0)
      return;
    /* Answered: accepted before the next one arrives, then idle. */
    cl_send(cl, fds[i], req, sizeof(req) - 1);
    cl_read_response(cl, fds[i]);
  }
  c = cl_connect(cl);
  other = cl_connect_from(cl, "127.0.0.2");
  if (c < 0 || other < 0)
    return;
  cl_send(cl, c, req, sizeof(req) - 1);
  cl_read_response(cl, c);
  cl->eof = cl_wait_close(c);
  cl_send(cl, other, req, sizeof(req) - 1);
  cl_read_response(cl, other);
  for (int i = 0; i < 3; i++)
    close(fds[i]);
  close(c);
  close(other);
}

static void test_per_client_limit(void **state)
{
  struct kiln_http_server_options o = {.max_connections = 24};
  struct fixture *f = start(&o);
  struct client cl = {0};

  run_client(f, &cl, script_per_client);
  assert_int_equal(cl.error, 0);
  assert_int_equal(cl.n, 5);
  assert_int_equal(cl.status[2], 200);
  assert_int_equal(cl.status[3], 503);
  assert_non_null(strstr(cl.body[3], "from this address"));
  assert_true(cl.eof);
  assert_int_equal(cl.status[4], 200);
  finish(f);
}

/* A full server closes the connection idle the longest to serve a new
 * client rather than refusing it. */
static void script_evict(struct client *cl)
{
  static const char req[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
  int fds[4], other;

  for (int i = 0; i < 4; i++) {
    fds[i] = cl_connect(cl);
    if (fds[i] < 0)
      return;
    cl_send(cl, fds[i], req, sizeof(req) - 1);
    cl_read_response(cl, fds[i]);
  }
  other = cl_connect_from(cl, "127.0.0.2");
  if (other < 0)
    return;
  cl_send(cl, other, req, sizeof(req) - 1);
  cl_read_response(cl, other);
  cl->eof = cl_wait_close(fds[0]);
  for (int i = 0; i < 4; i++)
    close(fds[i]);
  close(other);
}

static void test_full_server_evicts_idle(void **state)
{
  struct kiln_http_server_options o = {.max_connections = 4,
                                       .max_connections_per_client = 4,
                                       .pressure_header_timeout_ms = 10000};
  struct fixture *f = start(&o);
  struct client cl = {0};

  run_client(f, &cl, script_evict);
  assert_int_equal(cl.n, 5);
  assert_int_equal(cl.status[3], 200);
  assert_int_equal(cl.status[4], 200);
  assert_true(cl.eof); /* the oldest idle one made room */
  finish(f);
}

/* Over 3/4 of the cap, connections that have not sent a request head get
 * pressure_header_timeout_ms, including those that were already waiting
 * with the longer header timeout. */
static void script_pressure(struct client *cl)
{
  int fds[7];
  struct timespec t0, t1;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < 7; i++)
    if ((fds[i] = cl_connect(cl)) < 0)
      return;
  for (int i = 0; i < 7; i++)
    cl->eof += cl_wait_close(fds[i]);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  cl->status[0] = (int)((t1.tv_sec - t0.tv_sec) * 1000 +
                        (t1.tv_nsec - t0.tv_nsec) / 1000000);
  for (int i = 0; i < 7; i++)
    close(fds[i]);
}

static void test_pressure_cuts_head_timeout(void **state)
{
  struct kiln_http_server_options o = {.max_connections = 8,
                                       .max_connections_per_client = 8,
                                       .header_timeout_ms = 10000,
                                       .pressure_header_timeout_ms = 100};
  struct fixture *f = start(&o);
  struct client cl = {0};

  run_client(f, &cl, script_pressure);
  assert_int_equal(cl.eof, 7);
  if (cl.status[0] > 3000)
    fail_msg("idle connections closed after %d ms", cl.status[0]);
  finish(f);
}

/* Expect: 100-continue gets an interim answer before the body is sent. */
static void script_continue(struct client *cl)
{
  static const char head[] =
      "POST /echo HTTP/1.1\r\nHost: t\r\n"
      "Expect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  int fd = cl_connect(cl);

  if (fd < 0)
    return;
  cl_send(cl, fd, head, sizeof(head) - 1);
  while (strstr(cl->rbuf, "\r\n\r\n") == NULL)
    if (!cl_fill(cl, fd))
      return;
  cl->status[0] = strncmp(cl->rbuf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0;
  cl_send(cl, fd, "ping", 4);
  cl_read_response(cl, fd);
  close(fd);
}

static void test_expect_continue(void **state)
{
  struct fixture *f = start(NULL);
  struct client cl = {0};

  run_client(f, &cl, script_continue);
  assert_int_equal(cl.n, 1);
  assert_int_equal(cl.status[0], 200);
  assert_string_equal(cl.body[0], "ping");
  finish(f);
}

/* A body sink gets a body in bounded chunks, in order, instead of the
 * handler; a request dropped midway frees its sink; the other routes keep
 * their bodies; a sink that cannot open answers 500. */
static void script_sink(struct client *cl)
{
  static char req[512 * 1024 + 256];
  static const char echo[] =
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc";
  size_t head_len;
  unsigned sum = 0;
  int fd = cl_connect(cl);

  if (fd < 0)
    return;
  head_len = (size_t)snprintf(
      req, sizeof(req),
      "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: %u\r\n\r\n",
      512u * 1024);
  for (size_t i = 0; i < 512 * 1024; i++) {
    req[head_len + i] = (char)(i * 7);
    sum = sum * 31 + (unsigned char)(i * 7);
  }
  cl->step = (int)sum; /* for the test to compare */
  cl_send(cl, fd, req, head_len + 512 * 1024);
  cl_read_response(cl, fd);
  cl_send(cl, fd, echo, sizeof(echo) - 1);
  cl_read_response(cl, fd);
  close(fd);
  /* Half a body, then gone. */
  fd = cl_connect(cl);
  if (fd < 0)
    return;
  cl_send(cl, fd, req, head_len + 1000);
  close(fd);
  cl->arg = "POST /sink?fail HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx";
  one_shot(cl);
}

static void test_body_sink(void **state)
{
  struct kiln_http_server_options o = {.body_sink = &test_sink};
  struct fixture *f = start(&o);
  struct client cl = {0};
  char want[64];

  run_client(f, &cl, script_sink);
  assert_int_equal(cl.n, 3);
  assert_int_equal(cl.status[0], 200);
  snprintf(want, sizeof(want), "524288 sink 0 %u",
           (unsigned)atomic_load(&cl.step));
  assert_string_equal(cl.body[0], want);
  assert_true(f->sink_largest_chunk <= 64 * 1024);
  assert_int_equal(cl.status[1], 200);
  assert_string_equal(cl.body[1], "abc");
  assert_int_equal(cl.status[2], 500);
  /* The dropped request's sink is freed once its connection is closed. */
  assert_true(run_until(&f->loop, &f->two_sinks_freed, NULL, 5000));
  assert_int_equal(f->sinks_open, 2);
  finish(f);
}

/* Sends a request the handler holds, and reads whatever comes back. */
static void script_held(struct client *cl)
{
  static const char req[] = "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n";
  int fd = cl_connect(cl), idle = cl_connect(cl);

  if (fd < 0 || idle < 0)
    return;
  cl_send(cl, fd, req, sizeof(req) - 1);
  atomic_store(&cl->step, 1);
  cl_read_response(cl, fd);
  cl->eof = cl_wait_close(fd) + cl_wait_close(idle);
  close(fd);
  close(idle);
}

struct held_thread {
  pthread_t t;
  struct client cl;
};

static void start_held(struct fixture *f, struct held_thread *h)
{
  memset(h, 0, sizeof(*h));
  h->cl.f = f;
  h->cl.port = f->port;
  h->cl.script = script_held;
  atomic_store(&f->client_done, 0);
  assert_int_equal(pthread_create(&h->t, NULL, client_main, &h->cl), 0);
  assert_true(run_until(&f->loop, &f->handled, NULL, 10000));
}

/* close() while a request is in the handler: the late answer still goes
 * out (with Connection: close), idle connections are closed at once, and
 * the close callback runs after everything is closed. */
static void test_close_answers_in_flight(void **state)
{
  struct fixture *f = start(NULL);
  struct held_thread h;
  static const char body[] = "bye";
  struct kiln_http_server_response resp = {
      .status = 200, .body = body, .body_len = 3};

  start_held(f, &h);
  assert_non_null(f->held);
  kiln_http_server_close(f->server, on_server_closed, f);
  f->server = NULL;
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(f->closed, 0); /* the held request keeps it open */
  assert_int_equal(kiln_http_server_respond(f->held, &resp), 0);
  f->held = NULL;
  assert_true(run_until(&f->loop, &f->closed, NULL, 10000));
  assert_true(run_until(&f->loop, NULL, &f->client_done, 10000));
  assert_int_equal(pthread_join(h.t, NULL), 0);
  assert_int_equal(h.cl.n, 1);
  assert_int_equal(h.cl.status[0], 200);
  assert_string_equal(h.cl.body[0], "bye");
  assert_non_null(strstr(h.cl.head[0], "Connection: close"));
  assert_int_equal(h.cl.eof, 2);
  finish(f);
}

/* close() while the handler never answers: after close_timeout_ms the
 * connection is closed anyway; answering afterwards is harmless. */
static void test_close_times_out(void **state)
{
  struct kiln_http_server_options o = {.close_timeout_ms = 100};
  struct fixture *f = start(&o);
  struct held_thread h;
  struct kiln_http_server_response resp = {.status = 200};

  start_held(f, &h);
  assert_non_null(f->held);
  kiln_http_server_close(f->server, on_server_closed, f);
  f->server = NULL;
  assert_true(run_until(&f->loop, &f->closed, NULL, 10000));
  assert_true(run_until(&f->loop, NULL, &f->client_done, 10000));
  assert_int_equal(pthread_join(h.t, NULL), 0);
  assert_int_equal(h.cl.n, 0);
  assert_int_equal(h.cl.eof, 2);
  /* The request is still readable, and answering it only frees it. */
  assert_int_equal(kiln_http_server_respond(f->held, &resp), KILN_ECONN);
  f->held = NULL;
  assert_non_null(strstr(f->logs, "did not finish in time"));
  finish(f);
}

static void on_count_closed(struct kiln_http_server *s, void *data)
{
  (*(int *)data)++;
}

static void test_listen_addresses(void **state)
{
  static const char *const bad[] = {
      NULL,
      "",
      "127.0.0.1",
      "127.0.0.1:",
      ":80",
      "::1:80",
      "[::1]",
      "[::1]80",
      "[]:80",
      "127.0.0.1:65536",
      "1.2.3:80",
      "localhost:80",
      "127.0.0.1:8a",
      "[nothex]:80",
      "127.0.0.1:123456",
  };
  struct kiln_http_server_options o = {.handler = handler};
  struct kiln_http_server *s = NULL, *s2 = NULL;
  uv_loop_t loop;
  char addr[64];
  int closed = 0;

  assert_int_equal(uv_loop_init(&loop), 0);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    o.listen = bad[i];
    if (kiln_http_server_start(&loop, &o, &s) != KILN_EINVAL)
      fail_msg("\"%s\" accepted", bad[i] ? bad[i] : "(null)");
    assert_null(s);
  }
  o.handler = NULL;
  o.listen = "127.0.0.1:0";
  assert_int_equal(kiln_http_server_start(&loop, &o, &s), KILN_EINVAL);
  o.handler = handler;

  /* IPv6 loopback, when the machine has it. */
  o.listen = "[::1]:0";
  if (kiln_http_server_start(&loop, &o, &s) == 0) {
    assert_true(kiln_http_server_port(s) > 0);
    kiln_http_server_close(s, NULL, NULL);
    s = NULL;
  }
  /* A port in use. */
  o.listen = "127.0.0.1:0";
  assert_int_equal(kiln_http_server_start(&loop, &o, &s), 0);
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", kiln_http_server_port(s));
  o.listen = addr;
  assert_int_equal(kiln_http_server_start(&loop, &o, &s2), KILN_EEXIST);
  assert_null(s2);
  kiln_http_server_close(s, on_count_closed, &closed);
  while (uv_run(&loop, UV_RUN_ONCE) != 0)
    ;
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_query_param(void **state)
{
  char v[8];

  (void)state;
  assert_int_equal(
      kiln_http_query_param("app=hello&limit=5", "app", v, sizeof(v)), 1);
  assert_string_equal(v, "hello");
  assert_int_equal(kiln_http_query_param("x=1&limit=5", "limit", v, sizeof(v)),
                   1);
  assert_string_equal(v, "5");
  /* Names match whole: "apps" is not "app". */
  assert_int_equal(kiln_http_query_param("apps=1", "app", v, sizeof(v)), 0);
  assert_int_equal(kiln_http_query_param("", "app", v, sizeof(v)), 0);
  assert_int_equal(kiln_http_query_param("app", "app", v, sizeof(v)), 1);
  assert_string_equal(v, "");
  /* %-decoding, '+' is a space; the first of two wins. */
  assert_int_equal(kiln_http_query_param("a=%41b+c&a=2", "a", v, sizeof(v)), 1);
  assert_string_equal(v, "Ab c");
  /* Malformed: bad or cut escapes, NUL, too long for out. */
  assert_int_equal(kiln_http_query_param("a=%4", "a", v, sizeof(v)), -1);
  assert_string_equal(v, "");
  assert_int_equal(kiln_http_query_param("a=%zz", "a", v, sizeof(v)), -1);
  assert_int_equal(kiln_http_query_param("a=%00", "a", v, sizeof(v)), -1);
  assert_int_equal(kiln_http_query_param("a=12345678", "a", v, sizeof(v)), -1);
  assert_int_equal(kiln_http_query_param("a=1234567", "a", v, sizeof(v)), 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_table),
      cmocka_unit_test(test_query_param),
      cmocka_unit_test(test_parse_fields),
      cmocka_unit_test(test_parse_keep_alive),
      cmocka_unit_test(test_scan),
      cmocka_unit_test(test_parse_mutations),
      cmocka_unit_test(test_get_post_keep_alive_close),
      cmocka_unit_test(test_keep_alive_reuse),
      cmocka_unit_test(test_async_answer),
      cmocka_unit_test(test_bad_requests),
      cmocka_unit_test(test_slow_client_header_timeout),
      cmocka_unit_test(test_body_timeout),
      cmocka_unit_test(test_idle_timeout),
      cmocka_unit_test(test_truncated_then_closed),
      cmocka_unit_test(test_connection_cap),
      cmocka_unit_test(test_reject_callback),
      cmocka_unit_test(test_per_client_limit),
      cmocka_unit_test(test_full_server_evicts_idle),
      cmocka_unit_test(test_pressure_cuts_head_timeout),
      cmocka_unit_test(test_expect_continue),
      cmocka_unit_test(test_body_sink),
      cmocka_unit_test(test_close_answers_in_flight),
      cmocka_unit_test(test_close_times_out),
      cmocka_unit_test(test_listen_addresses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
