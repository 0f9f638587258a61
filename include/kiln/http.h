/* Asynchronous HTTP(S) client on the libuv loop.
 *
 * libcurl's multi interface driven by uv: one uv_timer_t for the multi
 * handle and one uv_poll_t per socket. Connections are reused between
 * requests of the same client. Every response body and header block is
 * bounded. TLS peers are always verified.
 *
 * Threading: every function must be called on the loop's thread.
 *
 * Callbacks: a request's callback runs exactly once, always from the loop
 * and never before kiln_http_request_start() has returned. If
 * kiln_http_request_start() fails, the callback never runs.
 *
 * Secrets: request headers and bodies (Authorization, session tokens,
 * credentials in bodies) are wiped when the request is done and are never
 * logged.
 */
#ifndef KILN_HTTP_H
#define KILN_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "kiln/buf.h"

struct uv_loop_s;
struct kiln_http_client;
struct kiln_http_op;

/* Defaults used when an option is left 0. */
#define KILN_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 3000L
#define KILN_HTTP_DEFAULT_TIMEOUT_MS         30000L
#define KILN_HTTP_DEFAULT_MAX_BODY_BYTES     (16u * 1024 * 1024)
#define KILN_HTTP_DEFAULT_MAX_HEADER_BYTES   (64u * 1024)

struct kiln_http_client_options {
  /* PEM CA bundle path (AWS_CA_BUNDLE), or NULL for the system store. The
   * string is copied. */
  const char *ca_bundle;
  long connect_timeout_ms; /* 0: KILN_HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
  long timeout_ms;         /* whole request; 0: KILN_HTTP_DEFAULT_TIMEOUT_MS */
  size_t max_body_bytes;   /* 0: KILN_HTTP_DEFAULT_MAX_BODY_BYTES */
  size_t max_header_bytes; /* 0: KILN_HTTP_DEFAULT_MAX_HEADER_BYTES */
  long max_host_connections; /* 0: no limit */
};

struct kiln_http_header {
  const char *name;
  const char *value;
};

/* A request to send. Everything it points to is copied by
 * kiln_http_request_start(); the caller may free it once that returns.
 * Headers are sent as given (the caller sets Host, Content-Type and any
 * signed header itself); the client adds Content-Length and suppresses
 * "Expect: 100-continue" and "Accept:" so that what is sent is what was
 * signed. */
struct kiln_http_request {
  const char *method; /* "GET", "POST", "PUT", "DELETE", "HEAD", ... */
  const char *url;    /* absolute http:// or https:// URL, already encoded */
  const struct kiln_http_header *headers;
  size_t header_count;
  const void *body; /* may be NULL when body_len is 0 */
  size_t body_len;
  long connect_timeout_ms; /* 0: the client's */
  long timeout_ms;         /* 0: the client's */
  size_t max_body_bytes;   /* 0: the client's */
  /* The answer carries no secret (an AWS API's describe answer, megabytes
   * a pass at scale): its body is freed without being wiped. By default a
   * body is wiped, as credentials answers must be. */
  bool plain_response;
};

/* What came back. Valid only during the callback; copy what you keep. */
struct kiln_http_response {
  /* 0 when an HTTP response was received (whatever its status), else
   * KILN_ETIMEDOUT (connect or total timeout), KILN_ECONN (refused, reset,
   * dropped, DNS), KILN_ETLS (certificate or handshake), KILN_ETOOBIG
   * (body or headers over their limits), KILN_ECANCELED (kiln_http_cancel
   * or client closing), KILN_EHTTP (malformed response) or KILN_EIO. */
  int err;
  long status;           /* HTTP status, 0 when none was received */
  struct kiln_buf body;  /* NUL-terminated; owned by the client */
  const char *error_msg; /* libcurl's detail for err, "" when none */
  double total_ms;       /* time from start to completion */
  /* Private: use kiln_http_response_header(). */
  struct kiln_buf headers_;
  size_t header_count_;
};

typedef void kiln_http_cb(struct kiln_http_response *res, void *data);
typedef void kiln_http_close_cb(struct kiln_http_client *client, void *data);

/* Creates a client on loop. The client owns uv handles: it must be closed
 * with kiln_http_client_close() before uv_loop_close(). Returns 0,
 * KILN_ENOMEM, KILN_EINVAL or KILN_EINTERNAL (libcurl setup failed). */
int kiln_http_client_new(struct uv_loop_s *loop,
                         const struct kiln_http_client_options *opts,
                         struct kiln_http_client **out);

/* Cancels every pending request (their callbacks run with KILN_ECANCELED),
 * closes all handles and frees the client; cb (may be NULL) runs once all
 * memory is released. The client must not be used after this call. */
void kiln_http_client_close(struct kiln_http_client *client,
                            kiln_http_close_cb *cb, void *data);

/* Starts req. On success cb(res, data) runs later, exactly once; *op_out
 * (if not NULL) identifies the request until the callback starts. Returns
 * 0, KILN_EINVAL (bad method/url), KILN_ENOMEM or KILN_ECANCELED (client
 * closing). */
int kiln_http_request_start(struct kiln_http_client *client,
                            const struct kiln_http_request *req,
                            kiln_http_cb *cb, void *data,
                            struct kiln_http_op **op_out);

/* Cancels a request whose callback has not run yet: the callback runs
 * later with KILN_ECANCELED. */
void kiln_http_cancel(struct kiln_http_op *op);

/* Value of the response header named name (case-insensitive), or NULL.
 * When a header is repeated, the last one wins. Names are stored
 * lower-case; values are trimmed. */
const char *kiln_http_response_header(const struct kiln_http_response *res,
                                      const char *name);

/* Iterates response headers: i from 0 to count-1. Returns 0 or
 * KILN_ENOENT past the end. */
int kiln_http_response_header_at(const struct kiln_http_response *res, size_t i,
                                 const char **name, const char **value);

/* AWS request id from x-amzn-requestid, x-amz-request-id or
 * x-amz-id-2, or NULL. */
const char *kiln_http_response_request_id(const struct kiln_http_response *res);

#endif
