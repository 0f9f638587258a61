/* libcurl multi driven by the libuv loop.
 *
 * One uv_timer_t carries the multi handle's timeout; one uv_poll_t per
 * socket that curl asks us to watch. Both call curl_multi_socket_action()
 * and then drain curl_multi_info_read(). Cancelled requests are completed
 * from a second timer so that no callback ever runs inside the function
 * that caused it.
 */
#include "kiln/http.h"
#include "kiln/error.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define container_of(ptr, type, member)                                        \
  ((type *)((char *)(ptr)-offsetof(type, member)))

enum op_state { OP_ACTIVE, OP_DONE_QUEUED, OP_DELIVERING };

struct kiln_http_op {
  struct kiln_http_client *client;
  struct kiln_http_op *prev, *next; /* in client->active or client->done */
  enum op_state state;
  CURL *easy;
  struct curl_slist *headers;
  char *body;
  size_t body_len;
  size_t max_header_bytes;
  int too_big; /* the body or header limit stopped the transfer */
  uint64_t start_ns;
  kiln_http_cb *cb;
  void *cb_data;
  struct kiln_http_response res;
  char errbuf[CURL_ERROR_SIZE];
};

struct op_list {
  struct kiln_http_op *head, *tail;
};

struct sock_ctx {
  uv_poll_t poll;
  struct kiln_http_client *client;
  curl_socket_t fd;
  struct sock_ctx *prev, *next;
};

struct kiln_http_client {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;   /* the multi handle's timeout */
  uv_timer_t deliver; /* completes cancelled requests asynchronously */
  struct op_list active;
  struct op_list done;
  struct sock_ctx *socks;
  char *ca_bundle;
  long connect_timeout_ms;
  long timeout_ms;
  size_t max_body_bytes;
  size_t max_header_bytes;
  int closing;
  int torn_down;
  int in_callbacks; /* nesting depth of user callbacks being delivered */
  unsigned live_handles;
  kiln_http_close_cb *close_cb;
  void *close_data;
};

static void list_push(struct op_list *l, struct kiln_http_op *op)
{
  op->next = NULL;
  op->prev = l->tail;
  if (l->tail != NULL)
    l->tail->next = op;
  else
    l->head = op;
  l->tail = op;
}

static void list_remove(struct op_list *l, struct kiln_http_op *op)
{
  if (op->prev != NULL)
    op->prev->next = op->next;
  else
    l->head = op->next;
  if (op->next != NULL)
    op->next->prev = op->prev;
  else
    l->tail = op->prev;
  op->prev = op->next = NULL;
}

/* ---- response headers ---- */

static int header_store(struct kiln_http_op *op, const char *line, size_t len)
{
  struct kiln_http_response *res = &op->res;
  const char *colon, *v, *end;
  size_t nlen, i;
  int err;

  while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
    len--;
  if (len == 0)
    return 0;
  /* A status line starts a new header block (100 Continue, then the real
   * response): only the last block counts. */
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    kiln_buf_reset(&res->headers_);
    res->header_count_ = 0;
    return 0;
  }
  colon = memchr(line, ':', len);
  if (colon == NULL || colon == line)
    return 0;
  nlen = (size_t)(colon - line);
  v = colon + 1;
  end = line + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  if (res->headers_.len + nlen + (size_t)(end - v) + 2 > op->max_header_bytes)
    return KILN_ETOOBIG;
  for (i = 0; i < nlen; i++) {
    char c = (char)tolower((unsigned char)line[i]);
    if ((err = kiln_buf_append(&res->headers_, &c, 1)) != 0)
      return err;
  }
  if ((err = kiln_buf_append(&res->headers_, "", 1)) != 0 ||
      (err = kiln_buf_append(&res->headers_, v, (size_t)(end - v))) != 0 ||
      (err = kiln_buf_append(&res->headers_, "", 1)) != 0)
    return err;
  res->header_count_++;
  return 0;
}

int kiln_http_response_header_at(const struct kiln_http_response *res, size_t i,
                                 const char **name, const char **value)
{
  const char *p = res->headers_.data;
  size_t k;

  if (i >= res->header_count_ || p == NULL)
    return KILN_ENOENT;
  for (k = 0; k < i; k++) {
    p += strlen(p) + 1;
    p += strlen(p) + 1;
  }
  *name = p;
  *value = p + strlen(p) + 1;
  return 0;
}

const char *kiln_http_response_header(const struct kiln_http_response *res,
                                      const char *name)
{
  const char *p = res->headers_.data, *found = NULL;
  size_t k;

  if (p == NULL)
    return NULL;
  for (k = 0; k < res->header_count_; k++) {
    const char *v = p + strlen(p) + 1;
    if (strcasecmp(p, name) == 0)
      found = v;
    p = v + strlen(v) + 1;
  }
  return found;
}

const char *kiln_http_response_request_id(const struct kiln_http_response *res)
{
  static const char *const names[] = {"x-amzn-requestid", "x-amz-request-id",
                                      "x-amz-id-2"};
  size_t i;

  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    const char *v = kiln_http_response_header(res, names[i]);
    if (v != NULL && v[0] != '\0')
      return v;
  }
  return NULL;
}

/* ---- curl callbacks ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct kiln_http_op *op = userdata;
  size_t n = size * nmemb;
  curl_off_t announced = -1;

  /* A body whose length is announced gets its room at once: an AWS page
   * of a megabyte is then one block, not a dozen copies as it doubles.
   * A length beyond the cap is left to the append to refuse. */
  if (op->res.body.data == NULL &&
      curl_easy_getinfo(op->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
                        &announced) == CURLE_OK &&
      announced > 0 && (uint64_t)announced <= op->res.body.max_bytes)
    (void)kiln_buf_reserve(&op->res.body, (size_t)announced);
  if (kiln_buf_append(&op->res.body, ptr, n) != 0) {
    op->too_big = 1;
    return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
  }
  return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct kiln_http_op *op = userdata;
  size_t n = size * nmemb;

  if (header_store(op, ptr, n) != 0) {
    op->too_big = 1;
    return 0;
  }
  return n;
}

static int translate_curl(CURLcode rc, int too_big)
{
  switch (rc) {
  case CURLE_OK:
    return 0;
  case CURLE_WRITE_ERROR:
  case CURLE_FILESIZE_EXCEEDED:
    return too_big || rc == CURLE_FILESIZE_EXCEEDED ? KILN_ETOOBIG : KILN_EIO;
  case CURLE_OPERATION_TIMEDOUT:
    return KILN_ETIMEDOUT;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
    return KILN_ECONN;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
    return KILN_ETLS;
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_BAD_CONTENT_ENCODING:
    return KILN_EHTTP;
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
    return KILN_EINVAL;
  case CURLE_OUT_OF_MEMORY:
    return KILN_ENOMEM;
  default:
    return KILN_EIO;
  }
}

static void op_free(struct kiln_http_op *op)
{
  struct curl_slist *h;

  if (op->easy != NULL)
    curl_easy_cleanup(op->easy);
  /* Headers carry Authorization and session tokens. */
  for (h = op->headers; h != NULL; h = h->next)
    OPENSSL_cleanse(h->data, strlen(h->data));
  curl_slist_free_all(op->headers);
  if (op->body != NULL) {
    OPENSSL_cleanse(op->body, op->body_len);
    free(op->body);
  }
  /* Responses can carry secrets too (STS, IMDS and container credentials):
   * wiped unless the request said the answer is plain. */
  kiln_buf_cleanup(&op->res.body);
  kiln_buf_cleanup_secret(&op->res.headers_);
  free(op);
}

static void maybe_teardown(struct kiln_http_client *c);

/* Runs the user's callback for a finished op and frees it. */
static void deliver(struct kiln_http_op *op)
{
  struct kiln_http_client *c = op->client;

  op->state = OP_DELIVERING;
  op->res.total_ms = (double)(uv_hrtime() - op->start_ns) / 1e6;
  op->res.error_msg = op->errbuf;
  c->in_callbacks++;
  op->cb(&op->res, op->cb_data);
  c->in_callbacks--;
  op_free(op);
}

static void check_info(struct kiln_http_client *c)
{
  CURLMsg *msg;
  int left;

  while (!c->closing && (msg = curl_multi_info_read(c->multi, &left))) {
    struct kiln_http_op *op = NULL;
    long status = 0;

    if (msg->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&op);
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    op->res.err = translate_curl(msg->data.result, op->too_big);
    op->res.status = status;
    if (op->res.err == KILN_ETOOBIG && op->errbuf[0] == '\0')
      strcpy(op->errbuf, "response over its size limit");
    curl_multi_remove_handle(c->multi, op->easy);
    list_remove(&c->active, op);
    deliver(op);
  }
}

static void on_multi_timer(uv_timer_t *t)
{
  struct kiln_http_client *c = container_of(t, struct kiln_http_client, timer);
  int running;

  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_info(c);
}

static int start_timer(CURLM *multi, long timeout_ms, void *userp)
{
  struct kiln_http_client *c = userp;

  if (c->torn_down)
    return 0;
  if (timeout_ms < 0)
    uv_timer_stop(&c->timer);
  else
    uv_timer_start(&c->timer, on_multi_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

static void on_poll(uv_poll_t *p, int status, int events)
{
  struct sock_ctx *s = container_of(p, struct sock_ctx, poll);
  struct kiln_http_client *c = s->client;
  int flags = 0, running;

  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(c->multi, s->fd, flags, &running);
  check_info(c);
}

static void on_handle_closed(uv_handle_t *h)
{
  struct kiln_http_client *c = h->data;

  if (h->type == UV_POLL)
    free(container_of((uv_poll_t *)h, struct sock_ctx, poll));
  c->live_handles--;
  maybe_teardown(c);
}

static void sock_close(struct kiln_http_client *c, struct sock_ctx *s)
{
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    c->socks = s->next;
  if (s->next != NULL)
    s->next->prev = s->prev;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
                     void *socketp)
{
  struct kiln_http_client *c = userp;
  struct sock_ctx *s = socketp;
  int events = 0;

  if (what == CURL_POLL_REMOVE) {
    if (s != NULL) {
      sock_close(c, s);
      curl_multi_assign(c->multi, fd, NULL);
    }
    return 0;
  }
  if (s == NULL) {
    s = calloc(1, sizeof(*s));
    if (s == NULL)
      return -1;
    if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->poll.data = c;
    s->client = c;
    s->fd = fd;
    s->next = c->socks;
    if (c->socks != NULL)
      c->socks->prev = s;
    c->socks = s;
    c->live_handles++;
    curl_multi_assign(c->multi, fd, s);
  }
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
    events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    events |= UV_WRITABLE;
  uv_poll_start(&s->poll, events, on_poll);
  return 0;
}

/* ---- client lifecycle ---- */

static void free_client(struct kiln_http_client *c)
{
  kiln_http_close_cb *cb = c->close_cb;
  void *data = c->close_data;

  free(c->ca_bundle);
  c->ca_bundle = NULL;
  /* Everything else is released: the pointer only identifies the client. */
  if (cb != NULL)
    cb(c, data);
  free(c);
}

static void maybe_teardown(struct kiln_http_client *c)
{
  if (!c->closing)
    return;
  if (!c->torn_down) {
    if (c->done.head != NULL || c->in_callbacks > 0)
      return;
    c->torn_down = 1;
    /* Closes cached connections; curl may report their sockets removed. */
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    while (c->socks != NULL)
      sock_close(c, c->socks);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->deliver, on_handle_closed);
    return;
  }
  if (c->live_handles == 0)
    free_client(c);
}

static void on_deliver(uv_timer_t *t)
{
  struct kiln_http_client *c =
      container_of(t, struct kiln_http_client, deliver);
  struct kiln_http_op *op;

  while ((op = c->done.head) != NULL) {
    list_remove(&c->done, op);
    deliver(op);
  }
  maybe_teardown(c);
}

static void queue_cancel(struct kiln_http_op *op)
{
  struct kiln_http_client *c = op->client;

  curl_multi_remove_handle(c->multi, op->easy);
  list_remove(&c->active, op);
  op->state = OP_DONE_QUEUED;
  op->res.err = KILN_ECANCELED;
  op->res.status = 0;
  strcpy(op->errbuf, "request canceled");
  list_push(&c->done, op);
  uv_timer_start(&c->deliver, on_deliver, 0, 0);
}

int kiln_http_client_new(uv_loop_t *loop,
                         const struct kiln_http_client_options *opts,
                         struct kiln_http_client **out)
{
  static const struct kiln_http_client_options defaults;
  struct kiln_http_client *c;

  if (loop == NULL || out == NULL)
    return KILN_EINVAL;
  if (opts == NULL)
    opts = &defaults;
  /* Safe to call repeatedly; initialises TLS once per process. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return KILN_EINTERNAL;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return KILN_ENOMEM;
  c->loop = loop;
  c->connect_timeout_ms = opts->connect_timeout_ms > 0
                              ? opts->connect_timeout_ms
                              : KILN_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
  c->timeout_ms =
      opts->timeout_ms > 0 ? opts->timeout_ms : KILN_HTTP_DEFAULT_TIMEOUT_MS;
  c->max_body_bytes = opts->max_body_bytes > 0
                          ? opts->max_body_bytes
                          : KILN_HTTP_DEFAULT_MAX_BODY_BYTES;
  c->max_header_bytes = opts->max_header_bytes > 0
                            ? opts->max_header_bytes
                            : KILN_HTTP_DEFAULT_MAX_HEADER_BYTES;
  if (opts->ca_bundle != NULL && opts->ca_bundle[0] != '\0') {
    c->ca_bundle = strdup(opts->ca_bundle);
    if (c->ca_bundle == NULL)
      goto fail;
  }
  c->multi = curl_multi_init();
  if (c->multi == NULL)
    goto fail;
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, start_timer);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  if (opts->max_host_connections > 0)
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      opts->max_host_connections);
  uv_timer_init(loop, &c->timer);
  uv_timer_init(loop, &c->deliver);
  c->timer.data = c;
  c->deliver.data = c;
  c->live_handles = 2;
  *out = c;
  return 0;

fail:
  if (c->multi != NULL)
    curl_multi_cleanup(c->multi);
  free(c->ca_bundle);
  free(c);
  return KILN_ENOMEM;
}

void kiln_http_client_close(struct kiln_http_client *c, kiln_http_close_cb *cb,
                            void *data)
{
  if (c == NULL || c->closing)
    return;
  c->closing = 1;
  c->close_cb = cb;
  c->close_data = data;
  while (c->active.head != NULL)
    queue_cancel(c->active.head);
  /* Teardown happens from the deliver timer, never inside this call: the
   * caller may be inside one of our callbacks. */
  uv_timer_start(&c->deliver, on_deliver, 0, 0);
}

void kiln_http_cancel(struct kiln_http_op *op)
{
  if (op == NULL || op->state != OP_ACTIVE)
    return;
  queue_cancel(op);
}

/* ---- requests ---- */

static int add_header(struct curl_slist **list, const char *name,
                      const char *value)
{
  size_t nlen = strlen(name), vlen = strlen(value);
  struct curl_slist *n;
  char *line;

  line = malloc(nlen + vlen + 3);
  if (line == NULL)
    return KILN_ENOMEM;
  memcpy(line, name, nlen);
  if (vlen == 0) {
    /* curl's syntax for sending a header with an empty value. */
    memcpy(line + nlen, ";", 2);
  } else {
    memcpy(line + nlen, ": ", 2);
    memcpy(line + nlen + 2, value, vlen + 1);
  }
  n = curl_slist_append(*list, line);
  OPENSSL_cleanse(line, nlen + vlen + 2);
  free(line);
  if (n == NULL)
    return KILN_ENOMEM;
  *list = n;
  return 0;
}

static int add_raw(struct curl_slist **list, const char *line)
{
  struct curl_slist *n = curl_slist_append(*list, line);
  if (n == NULL)
    return KILN_ENOMEM;
  *list = n;
  return 0;
}

static int has_header(const struct kiln_http_request *req, const char *name)
{
  size_t i;

  for (i = 0; i < req->header_count; i++)
    if (strcasecmp(req->headers[i].name, name) == 0)
      return 1;
  return 0;
}

static int valid_header_text(const char *s, int is_name)
{
  for (; *s != '\0'; s++) {
    if (*s == '\r' || *s == '\n')
      return 0;
    if (is_name && (*s == ':' || *s == ' ' || *s == ';'))
      return 0;
  }
  return 1;
}

int kiln_http_request_start(struct kiln_http_client *c,
                            const struct kiln_http_request *req,
                            kiln_http_cb *cb, void *data,
                            struct kiln_http_op **op_out)
{
  struct kiln_http_op *op = NULL;
  const char *m;
  size_t i;
  int err = KILN_ENOMEM;

  if (c == NULL || req == NULL || cb == NULL || req->method == NULL ||
      req->url == NULL || (req->body == NULL && req->body_len != 0))
    return KILN_EINVAL;
  if (c->closing)
    return KILN_ECANCELED;
  if (strncmp(req->url, "http://", 7) != 0 &&
      strncmp(req->url, "https://", 8) != 0)
    return KILN_EINVAL;
  for (m = req->method; *m != '\0'; m++)
    if (!isupper((unsigned char)*m))
      return KILN_EINVAL;
  if (req->method[0] == '\0')
    return KILN_EINVAL;
  for (i = 0; i < req->header_count; i++)
    if (req->headers[i].name == NULL || req->headers[i].value == NULL ||
        req->headers[i].name[0] == '\0' ||
        !valid_header_text(req->headers[i].name, 1) ||
        !valid_header_text(req->headers[i].value, 0))
      return KILN_EINVAL;

  op = calloc(1, sizeof(*op));
  if (op == NULL)
    return KILN_ENOMEM;
  op->client = c;
  op->cb = cb;
  op->cb_data = data;
  op->start_ns = uv_hrtime();
  op->max_header_bytes = c->max_header_bytes;
  kiln_buf_init(&op->res.body, req->max_body_bytes > 0 ? req->max_body_bytes
                                                       : c->max_body_bytes);
  op->res.body.secret = !req->plain_response;
  kiln_buf_init_secret(&op->res.headers_, op->max_header_bytes + 1);
  op->res.error_msg = op->errbuf;

  for (i = 0; i < req->header_count; i++)
    if ((err = add_header(&op->headers, req->headers[i].name,
                          req->headers[i].value)) != 0)
      goto fail;
  /* Keep what is on the wire equal to what the caller signed: "Name:" with
   * no value tells curl not to send a header it would add by itself. */
  if (!has_header(req, "Expect") && (err = add_raw(&op->headers, "Expect:")))
    goto fail;
  if (!has_header(req, "Accept") && (err = add_raw(&op->headers, "Accept:")))
    goto fail;

  err = KILN_ENOMEM;
  op->body = malloc(req->body_len + 1);
  if (op->body == NULL)
    goto fail;
  if (req->body_len > 0)
    memcpy(op->body, req->body, req->body_len);
  op->body[req->body_len] = '\0';
  op->body_len = req->body_len;

  op->easy = curl_easy_init();
  if (op->easy == NULL)
    goto fail;
  err = KILN_EINVAL;
  if (curl_easy_setopt(op->easy, CURLOPT_URL, req->url) != CURLE_OK)
    goto fail;
  curl_easy_setopt(op->easy, CURLOPT_PRIVATE, (char *)op);
  curl_easy_setopt(op->easy, CURLOPT_ERRORBUFFER, op->errbuf);
  curl_easy_setopt(op->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(op->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(op->easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(op->easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(op->easy, CURLOPT_SSL_VERIFYHOST, 2L);
  if (c->ca_bundle != NULL)
    curl_easy_setopt(op->easy, CURLOPT_CAINFO, c->ca_bundle);
  curl_easy_setopt(op->easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(op->easy, CURLOPT_CONNECTTIMEOUT_MS,
                   req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                               : c->connect_timeout_ms);
  curl_easy_setopt(op->easy, CURLOPT_TIMEOUT_MS,
                   req->timeout_ms > 0 ? req->timeout_ms : c->timeout_ms);
  curl_easy_setopt(op->easy, CURLOPT_MAXFILESIZE_LARGE,
                   (curl_off_t)op->res.body.max_bytes);
  curl_easy_setopt(op->easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(op->easy, CURLOPT_WRITEDATA, op);
  curl_easy_setopt(op->easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(op->easy, CURLOPT_HEADERDATA, op);
  curl_easy_setopt(op->easy, CURLOPT_HTTPHEADER, op->headers);

  if (strcmp(req->method, "GET") == 0 && req->body_len == 0) {
    curl_easy_setopt(op->easy, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(req->method, "HEAD") == 0) {
    curl_easy_setopt(op->easy, CURLOPT_NOBODY, 1L);
  } else {
    if (strcmp(req->method, "POST") != 0)
      curl_easy_setopt(op->easy, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body_len > 0 || strcmp(req->method, "POST") == 0 ||
        strcmp(req->method, "PUT") == 0) {
      curl_easy_setopt(op->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       (curl_off_t)op->body_len);
      curl_easy_setopt(op->easy, CURLOPT_POSTFIELDS, op->body);
    }
  }

  op->state = OP_ACTIVE;
  list_push(&c->active, op);
  /* Only registers the handle and arms the timer; no I/O and no callback
   * happen here. */
  if (curl_multi_add_handle(c->multi, op->easy) != CURLM_OK) {
    list_remove(&c->active, op);
    err = KILN_EINTERNAL;
    goto fail;
  }
  if (op_out != NULL)
    *op_out = op;
  return 0;

fail:
  op_free(op);
  return err;
}
