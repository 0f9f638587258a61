/* Strict HTTP/1.1 request-head parsing (RFC 9110, RFC 9112). */
#include "http_parse.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

/* tchar: the characters of a token (methods, header names). */
static bool is_tchar(unsigned char c)
{
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9'))
    return true;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte that may appear anywhere in a head: visible ASCII, SP, HTAB, CR,
 * LF and obs-text. NUL, other controls and DEL never may. */
static bool head_byte_ok(unsigned char c)
{
  return c >= 0x20 ? c != 0x7f : c == '\t' || c == '\r' || c == '\n';
}

/* The request line "METHOD SP target SP HTTP/x.y", without its CRLF.
 * Returns 0 or -400. Version numbers are checked by the full parse. */
static int check_request_line(const char *s, size_t n, const char **why)
{
  size_t i = 0, m;

  while (i < n && is_tchar((unsigned char)s[i]))
    i++;
  if (i == 0 || i > 32 || i >= n || s[i] != ' ') {
    *why = "malformed method";
    return -400;
  }
  m = ++i;
  while (i < n && (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f)
    i++;
  if (i == m || i >= n || s[i] != ' ') {
    *why = "malformed request target";
    return -400;
  }
  i++;
  if (n - i != 8 || memcmp(s + i, "HTTP/", 5) != 0 || s[i + 5] < '0' ||
      s[i + 5] > '9' || s[i + 6] != '.' || s[i + 7] < '0' || s[i + 7] > '9') {
    *why = "malformed HTTP version";
    return -400;
  }
  return 0;
}

int kiln__http_head_scan(const char *buf, size_t len, size_t *scanned,
                         const struct kiln__http_limits *limits,
                         size_t *head_len, const char **why)
{
  size_t max_head =
      limits->max_request_line_bytes + 2 + limits->max_header_bytes + 2;
  size_t i = *scanned;
  const char *nl;

  *why = "";
  for (; i < len; i++) {
    unsigned char c = (unsigned char)buf[i];
    if (!head_byte_ok(c)) {
      *why =
          c == 0 ? "NUL byte in request head" : "control byte in request head";
      return -400;
    }
    if (c != '\n')
      continue;
    nl = memchr(buf, '\n', i + 1); /* the end of the request line */
    if (nl == buf + i) {
      /* The end of the request line: check it now, so that garbage (a TLS
       * handshake, a stray protocol) is refused without waiting. */
      size_t n = i;
      if (n == 0 || buf[n - 1] != '\r') {
        *why = "request line not terminated by CRLF";
        return -400;
      }
      if (n - 1 > limits->max_request_line_bytes) {
        *why = "request line too long";
        return -414;
      }
      if (check_request_line(buf, n - 1, why) != 0)
        return -400;
      continue;
    }
    /* An empty line ends the head: "\n\n" and "\n\r\n" both count here, so
     * that bare-LF heads end promptly and are refused by the full parse. */
    if ((i >= 1 && buf[i - 1] == '\n') ||
        (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')) {
      if (i - (size_t)(nl - buf) > limits->max_header_bytes + 2) {
        *why = "header section too long";
        return -431;
      }
      *scanned = i + 1;
      *head_len = i + 1;
      return 1;
    }
  }
  *scanned = i;
  nl = memchr(buf, '\n', len);
  if (nl == NULL) {
    if (len > limits->max_request_line_bytes + 1) {
      *why = "request line too long";
      return -414;
    }
  } else if (len - (size_t)(nl + 1 - buf) > limits->max_header_bytes + 2 ||
             len > max_head) {
    *why = "header section too long";
    return -431;
  }
  return 0;
}

static bool is_ows(char c)
{
  return c == ' ' || c == '\t';
}

/* Parses a Content-Length value: digits only, no sign, no overflow. */
static int parse_length(const char *v, size_t *out)
{
  size_t n = 0;

  if (*v == '\0')
    return -1;
  for (; *v != '\0'; v++) {
    if (*v < '0' || *v > '9')
      return -1;
    if (n > (SIZE_MAX - 9) / 10)
      return -1;
    n = n * 10 + (size_t)(*v - '0');
  }
  *out = n;
  return 0;
}

/* Whether the comma-separated list v holds token (case-insensitive). */
static bool list_has(const char *v, const char *token)
{
  size_t tl = strlen(token);

  while (*v != '\0') {
    const char *end;
    size_t n;
    while (is_ows(*v) || *v == ',')
      v++;
    end = v;
    while (*end != '\0' && *end != ',')
      end++;
    n = (size_t)(end - v);
    while (n > 0 && is_ows(v[n - 1]))
      n--;
    if (n == tl && strncasecmp(v, token, tl) == 0)
      return true;
    v = end;
  }
  return false;
}

static int fail(const char **why, const char *msg, int status)
{
  *why = msg;
  return -status;
}

int kiln__http_parse_head(char *buf, size_t head_len,
                          const struct kiln__http_limits *limits,
                          struct kiln__http_head *out,
                          struct kiln_http_server_header *headers,
                          const char **why)
{
  char *p = buf, *end = buf + head_len, *line_end, *sp, *q;
  bool have_length = false, have_te = false, chunked = false;
  bool conn_close = false, conn_keep_alive = false, have_host = false;
  const char *expect = NULL;
  size_t length = 0;
  int rc;

  memset(out, 0, sizeof(*out));
  out->headers = headers;
  *why = "";
  for (size_t i = 0; i < head_len; i++)
    if (!head_byte_ok((unsigned char)buf[i]))
      return fail(why, "control byte in request head", 400);

  /* Request line. */
  line_end = memchr(p, '\n', head_len);
  if (line_end == NULL || line_end == p || line_end[-1] != '\r')
    return fail(why, "request line not terminated by CRLF", 400);
  if ((size_t)(line_end - 1 - p) > limits->max_request_line_bytes)
    return fail(why, "request line too long", 414);
  rc = check_request_line(p, (size_t)(line_end - 1 - p), why);
  if (rc != 0)
    return rc;
  line_end[-1] = '\0';
  sp = strchr(p, ' ');
  *sp = '\0';
  out->method = p;
  out->target = sp + 1;
  sp = strchr(out->target, ' ');
  *sp = '\0';
  q = sp + 1; /* "HTTP/x.y" */
  if (q[5] != '1')
    return fail(why, "unsupported HTTP version", 505);
  if (q[7] != '0' && q[7] != '1')
    return fail(why, "unsupported HTTP version", 505);
  out->minor = q[7] - '0';
  /* Only origin-form ("/path?query"): Kiln is no proxy, and absolute-form
   * or "*" have no use here. A fragment never travels in a request. */
  if (out->target[0] != '/' || strchr(out->target, '#') != NULL)
    return fail(why, "request target is not an absolute path", 400);
  out->path = out->target;
  q = strchr(out->target, '?');
  if (q != NULL) {
    *q = '\0';
    out->query = q + 1;
  } else {
    out->query = "";
  }
  out->target = NULL; /* split in place: only path and query remain */
  p = line_end + 1;

  /* Header lines, up to the empty line. */
  for (;;) {
    char *colon, *v, *ve;
    if (p >= end)
      return fail(why, "header section not terminated", 400);
    line_end = memchr(p, '\n', (size_t)(end - p));
    if (line_end == NULL || line_end == p || line_end[-1] != '\r')
      return fail(why, "header line not terminated by CRLF", 400);
    if (line_end - 1 == p)
      break; /* the empty line */
    if (is_ows(*p))
      return fail(why, "obsolete line folding", 400);
    if (out->header_count == limits->max_headers)
      return fail(why, "too many header lines", 431);
    colon = p;
    while (colon < line_end && is_tchar((unsigned char)*colon))
      colon++;
    if (colon == p || *colon != ':')
      return fail(why, "malformed header name", 400);
    *colon = '\0';
    v = colon + 1;
    ve = line_end - 1;
    while (v < ve && is_ows(*v))
      v++;
    while (ve > v && is_ows(ve[-1]))
      ve--;
    *ve = '\0';
    for (char *c = v; c < ve; c++)
      if (*c == '\r')
        return fail(why, "bare CR in header value", 400);
    headers[out->header_count].name = p;
    headers[out->header_count].value = v;
    out->header_count++;

    if (strcasecmp(p, "content-length") == 0) {
      size_t n;
      if (parse_length(v, &n) != 0)
        return fail(why, "malformed Content-Length", 400);
      if (have_length && n != length)
        return fail(why, "conflicting Content-Length headers", 400);
      have_length = true;
      length = n;
    } else if (strcasecmp(p, "transfer-encoding") == 0) {
      have_te = true;
      if (list_has(v, "chunked"))
        chunked = true;
    } else if (strcasecmp(p, "connection") == 0) {
      if (list_has(v, "close"))
        conn_close = true;
      if (list_has(v, "keep-alive"))
        conn_keep_alive = true;
    } else if (strcasecmp(p, "host") == 0) {
      if (have_host)
        return fail(why, "more than one Host header", 400);
      have_host = true;
    } else if (strcasecmp(p, "expect") == 0) {
      expect = v;
    }
    p = line_end + 1;
  }
  /* The empty line must be the end of what the scanner delimited. */
  if (line_end + 1 != end)
    return fail(why, "bytes after the end of the head", 400);

  if (out->minor == 1 && !have_host)
    return fail(why, "missing Host header", 400);
  /* Both framings at once is the classic request-smuggling vector. */
  if (have_te && have_length)
    return fail(why, "both Transfer-Encoding and Content-Length", 400);
  if (have_te && out->minor == 0)
    return fail(why, "Transfer-Encoding in HTTP/1.0", 400);
  if (have_te && chunked)
    return fail(why, "chunked request bodies are not supported", 411);
  if (have_te)
    return fail(why, "unsupported transfer coding", 501);
  if (length > limits->max_body_bytes)
    return fail(why, "request body too large", 413);
  if (expect != NULL) {
    if (strcasecmp(expect, "100-continue") != 0)
      return fail(why, "unsupported Expect", 417);
    out->expect_continue = out->minor == 1;
  }
  out->content_length = length;
  out->keep_alive =
      out->minor == 1 ? !conn_close : conn_keep_alive && !conn_close;
  return 0;
}

const char *kiln__http_reason(int status)
{
  switch (status) {
  case 100:
    return "Continue";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 202:
    return "Accepted";
  case 204:
    return "No Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 304:
    return "Not Modified";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 411:
    return "Length Required";
  case 413:
    return "Content Too Large";
  case 414:
    return "URI Too Long";
  case 415:
    return "Unsupported Media Type";
  case 417:
    return "Expectation Failed";
  case 422:
    return "Unprocessable Content";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 505:
    return "HTTP Version Not Supported";
  }
  return "";
}
