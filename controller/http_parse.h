/* The HTTP/1.1 request-head parser behind kiln_http_server (private to the
 * controller; the unit tests include it directly).
 *
 * Pure functions over bytes received from the network, which are all
 * untrusted: every length is bounded by struct kiln__http_limits, every
 * byte is checked against RFC 9110/9112 grammar, and anything ambiguous
 * (bare LF, obs-fold, whitespace before the colon, Content-Length together
 * with Transfer-Encoding, conflicting Content-Lengths) is rejected rather
 * than guessed at, so that no proxy in front of Kiln can disagree with it
 * about where a request ends.
 */
#ifndef KILN_HTTP_PARSE_H
#define KILN_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "kiln/http_server.h"

struct kiln__http_limits {
  size_t max_request_line_bytes; /* without CRLF */
  size_t max_header_bytes;       /* header lines after the request line */
  size_t max_headers;
  size_t max_body_bytes;
};

/* Incremental search for the end of a request head in buf[0..len).
 * *scanned (0 before the first call) remembers how far earlier calls got,
 * so that a client sending one byte at a time costs O(n) overall.
 *
 * Returns 1 with *head_len set (bytes up to and including the empty line)
 * when the head is complete, 0 when more bytes are needed, or a negative
 * HTTP status: -414 (request line too long), -431 (header section too
 * long) or -400 (a NUL or other control byte, or a malformed request line,
 * noticed as soon as it arrives). *why (never NULL) says which, for logs. */
int kiln__http_head_scan(const char *buf, size_t len, size_t *scanned,
                         const struct kiln__http_limits *limits,
                         size_t *head_len, const char **why);

struct kiln__http_head {
  char *method; /* all NUL-terminated, pointing into the parsed buffer */
  char *target; /* NULL once split into path and query */
  char *path;
  const char *query; /* after '?', "" when none */
  int minor;         /* HTTP/1.<minor>: 0 or 1 */
  size_t content_length;
  bool keep_alive;      /* from the version and Connection */
  bool expect_continue; /* "Expect: 100-continue" */
  struct kiln_http_server_header *headers;
  size_t header_count;
};

/* Parses the complete head buf[0..head_len) in place (NULs are written
 * over separators; buf must stay alive while out is used). headers must
 * have room for limits->max_headers entries.
 *
 * Returns 0, or a negative HTTP status with *why set: -400 (malformed),
 * -431 (too many header lines), -413 (Content-Length over
 * max_body_bytes), -411 (chunked Transfer-Encoding: send Content-Length),
 * -501 (another transfer coding), -505 (HTTP version other than 1.0/1.1)
 * or -417 (an Expect other than 100-continue). */
int kiln__http_parse_head(char *buf, size_t head_len,
                          const struct kiln__http_limits *limits,
                          struct kiln__http_head *out,
                          struct kiln_http_server_header *headers,
                          const char **why);

/* The reason phrase for status ("Not Found"), "" for unknown codes. */
const char *kiln__http_reason(int status);

#endif
