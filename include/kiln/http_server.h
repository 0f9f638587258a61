/* A small HTTP/1.1 server on the libuv loop, for the daemon's status API,
 * metrics and webhooks.
 *
 * Requests are read into bounded buffers and parsed strictly: request line,
 * headers and a Content-Length body. Chunked request bodies are refused
 * with 411, malformed requests get 400 and the connection is closed. One
 * request per connection is answered at a time (keep-alive, no
 * pipelining: bytes that arrive early wait their turn). Slow clients are
 * cut off by the header, body, idle and write timeouts. One client address
 * holds at most max_connections_per_client connections; beyond that, and
 * beyond max_connections, a connection gets a 503 and is closed. Under
 * pressure (over 3/4 of max_connections) a connection waiting for a request
 * head gets only pressure_header_timeout_ms, and at max_connections the
 * connection idle the longest is closed to make room for a new client, so
 * that nobody can lock everyone else out by holding connections open.
 *
 * Bodies are kept whole (up to max_body_bytes) unless a body sink takes
 * them: then they are streamed to the sink in bounded chunks as they
 * arrive, and the handler gets the sink instead of a body.
 *
 * Threading: every function must be called on the loop's thread.
 *
 * Callbacks: the handler runs from the loop, never inside
 * kiln_http_server_start(). It answers with kiln_http_server_respond()
 * exactly once per request, either inside the handler or later from the
 * loop (say, after a reconcile pass). The close callback runs once every
 * handle of the server is closed.
 *
 * Secrets: nothing from a request's headers, query string or body is ever
 * logged (webhook signatures and tokens travel there).
 */
#ifndef KILN_HTTP_SERVER_H
#define KILN_HTTP_SERVER_H

#include <stddef.h>

struct uv_loop_s;
struct json_object;
struct kiln_http_server;
struct kiln_http_responder;

/* Defaults used when an option is left 0. */
#define KILN_HTTP_SERVER_DEFAULT_MAX_REQUEST_LINE_BYTES     (8u * 1024)
#define KILN_HTTP_SERVER_DEFAULT_MAX_HEADER_BYTES           (16u * 1024)
#define KILN_HTTP_SERVER_DEFAULT_MAX_HEADERS                100u
#define KILN_HTTP_SERVER_DEFAULT_MAX_BODY_BYTES             (1024u * 1024)
#define KILN_HTTP_SERVER_DEFAULT_MAX_CONNECTIONS            256u
#define KILN_HTTP_SERVER_DEFAULT_HEADER_TIMEOUT_MS          10000L
#define KILN_HTTP_SERVER_DEFAULT_BODY_TIMEOUT_MS            30000L
#define KILN_HTTP_SERVER_DEFAULT_IDLE_TIMEOUT_MS            30000L
#define KILN_HTTP_SERVER_DEFAULT_WRITE_TIMEOUT_MS           10000L
#define KILN_HTTP_SERVER_DEFAULT_CLOSE_TIMEOUT_MS           5000L
#define KILN_HTTP_SERVER_DEFAULT_PRESSURE_HEADER_TIMEOUT_MS 1000L
/* max_connections_per_client, when left 0: this share of max_connections
 * (at least 1). */
#define KILN_HTTP_SERVER_DEFAULT_PER_CLIENT_DIVISOR 8u

enum kiln_http_server_log_level {
  KILN_HTTP_SERVER_LOG_DEBUG,
  KILN_HTTP_SERVER_LOG_INFO,
  KILN_HTTP_SERVER_LOG_WARN,
  KILN_HTTP_SERVER_LOG_ERROR
};

/* Why the server itself refused a connection or a request (see
 * kiln_http_server_reject_cb). */
enum kiln_http_server_reject {
  KILN_HTTP_SERVER_REJECT_OVERLOAD,   /* over max_connections: 503 */
  KILN_HTTP_SERVER_REJECT_PER_CLIENT, /* over max_connections_per_client */
  KILN_HTTP_SERVER_REJECT_EVICTED,    /* idle, closed to make room */
  KILN_HTTP_SERVER_REJECT_MALFORMED,  /* 4xx/5xx from the parser or limits */
  KILN_HTTP_SERVER_REJECT_TIMEOUT     /* 408: head or body too slow */
};
#define KILN_HTTP_SERVER_REJECT_COUNT 5

/* "overload", "per_client", "evicted", "malformed", "timeout" (metric label
 * values); "" for anything else. */
const char *kiln_http_server_reject_name(enum kiln_http_server_reject reason);

struct kiln_http_server_header {
  const char *name;
  const char *value;
};

/* A parsed request. It and every string it points to stay valid until
 * kiln_http_server_respond() is called for it, even if the client has gone
 * away meanwhile. */
struct kiln_http_server_request {
  const char *method; /* "GET", "POST", ... (case-sensitive, as sent) */
  const char *path;   /* "/api/v1/apps/hello": as sent, not %-decoded */
  const char *query;  /* after '?', "" when none; not %-decoded */
  const char *peer;   /* "127.0.0.1:54321" or "[::1]:54321" */
  const char *body;   /* NUL-terminated; "" when none or streamed */
  size_t body_len;    /* 0 when the body went to a sink */
  /* The body sink's state when the body was streamed to one (see struct
   * kiln_http_server_body_sink), else NULL. Freed by the server once the
   * request is answered. */
  void *sink;
  /* Headers in arrival order; names as sent, values trimmed. Use
   * kiln_http_server_request_header() to look one up. */
  const struct kiln_http_server_header *headers;
  size_t header_count;
};

/* Handles request req; res answers it (see kiln_http_server_respond()). */
typedef void kiln_http_server_handler_cb(struct kiln_http_server_request *req,
                                         struct kiln_http_responder *res,
                                         void *data);
/* msg is one line without newline; it never holds header values, query
 * strings or bodies. */
typedef void kiln_http_server_log_cb(enum kiln_http_server_log_level level,
                                     const char *msg, void *data);
typedef void kiln_http_server_close_cb(struct kiln_http_server *server,
                                       void *data);
/* The server refused a connection or a request itself: reason, the status
 * sent (0 when the connection was closed without an answer), the client's
 * address without port ("127.0.0.1", "::1") and a short why. Called from
 * the loop, once per refusal, instead of logging it. */
typedef void kiln_http_server_reject_cb(enum kiln_http_server_reject reason,
                                        int status, const char *client,
                                        const char *why, void *data);

/* Streams request bodies instead of keeping them. Every callback runs on
 * the loop's thread; data is the handler's. */
struct kiln_http_server_body_sink {
  /* Once a request's head is parsed, before its body is read (the request
   * has no body yet). Returns 0 with *sink set to have the body streamed
   * to write() (NULL: keep the body as usual), or a negative KILN_E code:
   * the client gets a 500. */
  int (*open)(const struct kiln_http_server_request *req, void **sink,
              void *data);
  /* Each part of the body, in order, len > 0; at most 64 KiB at a time. */
  void (*write)(void *sink, const void *chunk, size_t len);
  /* Once, when the request is answered or dropped (client gone, timeout). */
  void (*free)(void *sink);
};

struct kiln_http_server_options {
  /* "ADDR:PORT" with a numeric IPv4 address or a bracketed IPv6 one:
   * "127.0.0.1:8080", "0.0.0.0:9000", "[::1]:0", "[::]:8080". Port 0
   * picks a free port (see kiln_http_server_port()). No name lookup. */
  const char *listen;
  kiln_http_server_handler_cb *handler; /* required */
  void *handler_data;
  kiln_http_server_log_cb *log; /* NULL: silent */
  void *log_data;
  /* NULL: refusals are logged (log_data is passed to both). */
  kiln_http_server_reject_cb *reject;
  const struct kiln_http_server_body_sink *body_sink; /* NULL: none */
  size_t max_request_line_bytes;                      /* over: 414 */
  size_t max_header_bytes; /* header section; over: 431 */
  size_t max_headers;      /* header lines; over: 431 */
  size_t max_body_bytes;   /* over: 413 */
  size_t max_connections;  /* open at once; over: 503 and close */
  /* Open at once from one client address; over: 503 and close. */
  size_t max_connections_per_client;
  /* From a connection's first byte of a request (or its accept) until the
   * end of the request head; over: 408 and close. */
  long header_timeout_ms;
  long body_timeout_ms;  /* from the end of the head to the end of the body */
  long idle_timeout_ms;  /* keep-alive wait for the next request: close */
  long write_timeout_ms; /* sending one response; over: close */
  /* How long kiln_http_server_close() lets requests in flight finish. */
  long close_timeout_ms;
  /* Over 3/4 of max_connections: the longest a connection may wait for a
   * request head, idle or not (also shortens those already waiting). */
  long pressure_header_timeout_ms;
};

/* Binds opts->listen and starts accepting on loop. *out is the server
 * until kiln_http_server_close(); it owns uv handles, so it must be closed
 * before uv_loop_close(). Returns 0, KILN_EINVAL (bad options or address;
 * the reason is logged), KILN_EEXIST (address in use), KILN_EPERM
 * (privileged port or address not allowed), KILN_EIO or KILN_ENOMEM. On
 * error *out is untouched and no callback ever runs; a listening socket
 * that failed late is closed in the background, so run the loop (as any
 * caller does) before uv_loop_close(). */
int kiln_http_server_start(struct uv_loop_s *loop,
                           const struct kiln_http_server_options *opts,
                           struct kiln_http_server **out);

/* The bound port (useful after port 0). */
int kiln_http_server_port(const struct kiln_http_server *server);

/* Stops accepting, closes idle connections at once, and gives requests in
 * flight (in the handler or being written) close_timeout_ms to finish
 * before their connections are closed too. Responses to requests whose
 * connection is gone are dropped. cb (may be NULL) runs from the loop
 * once every handle is closed (server is freed when cb returns); never
 * inside this call. The server must not be used after this call. */
void kiln_http_server_close(struct kiln_http_server *server,
                            kiln_http_server_close_cb *cb, void *data);

/* Value of the first request header named name (case-insensitive), or
 * NULL when there is none. */
const char *
kiln_http_server_request_header(const struct kiln_http_server_request *req,
                                const char *name);

/* The %-decoded value ('+' is a space) of the first parameter called name
 * in a query string ("a=1&b=2"), into out. Returns 1 when found, 0 when
 * absent, -1 when its value is malformed (a bad escape, a NUL) or does not
 * fit in outlen bytes. */
int kiln_http_query_param(const char *query, const char *name, char *out,
                          size_t outlen);

struct kiln_http_server_response {
  int status; /* 200..599 */
  /* NULL: "text/plain; charset=utf-8" when there is a body, else none. */
  const char *content_type;
  /* Extra headers. Content-Length, Connection and Transfer-Encoding are
   * the server's and refused; names must be tokens and values must not
   * hold CR, LF or NUL. */
  const struct kiln_http_server_header *headers;
  size_t header_count;
  const void *body; /* may be NULL when body_len is 0 */
  size_t body_len;
};

/* Answers the request of res; everything resp points to is copied. Call
 * it exactly once per request, from the loop's thread, inside the handler
 * or later; res (and the request) are freed by this call, whatever it
 * returns. Returns 0 when the response was queued, KILN_ECONN when the
 * client or the server went away meanwhile (nothing to do), KILN_EINVAL
 * (bad status or header: the client gets a 500 instead) or KILN_ENOMEM. */
int kiln_http_server_respond(struct kiln_http_responder *res,
                             const struct kiln_http_server_response *resp);

/* Answers with obj serialised as compact JSON, Content-Type
 * application/json. obj is only read (not released). */
int kiln_http_server_respond_json(struct kiln_http_responder *res, int status,
                                  struct json_object *obj);

/* Answers {"error": message} with status (message is JSON-escaped). */
int kiln_http_server_respond_error(struct kiln_http_responder *res, int status,
                                   const char *message);

#endif
