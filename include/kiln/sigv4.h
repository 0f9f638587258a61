/* AWS Signature Version 4.
 *
 * Signing is split into pure stages that can be tested one by one:
 *
 *   kiln_sigv4_canonical_request()  request -> canonical request
 *   kiln_sigv4_string_to_sign()     canonical request -> string to sign
 *   kiln_sigv4_signing_key()        secret, date, region, service -> key
 *   kiln_sigv4_signature()          key, string to sign -> hex signature
 *
 * and kiln_sigv4_sign() runs them all and produces the headers to send.
 * Nothing here reads the clock, the environment or the network: the time
 * is passed in. All functions are thread-safe.
 *
 * Paths and query strings are given as they go on the wire, that is
 * already percent-encoded once (build them with kiln_sigv4_uri_encode() and
 * kiln_sigv4_query_add()). The canonical path is then normalised (dot
 * segments and repeated slashes removed) and encoded a second time, as
 * every service but S3 expects; KILN_SIGV4_SINGLE_ENCODE signs the path
 * as given, the S3 way.
 */
#ifndef KILN_SIGV4_H
#define KILN_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/buf.h"

#define KILN_SIGV4_ALGORITHM    "AWS4-HMAC-SHA256"
#define KILN_SIGV4_AMZ_DATE_LEN 16 /* "20240131T235959Z" */
#define KILN_SIGV4_HEX_LEN      64

/* Flags for kiln_sigv4_request.flags. */
enum {
  /* S3: sign the path exactly as given, without normalising or encoding
   * it again. */
  KILN_SIGV4_SINGLE_ENCODE = 1 << 0
};

struct kiln_sigv4_header {
  const char *name;  /* any case; compared case-insensitively */
  const char *value; /* raw; trimmed and whitespace-collapsed when signed */
};

struct kiln_sigv4_request {
  const char *method; /* "GET", "POST", ... */
  /* Value for the Host header when headers[] has none: "host" or
   * "host:port" (leave out default ports). */
  const char *host;
  const char *path;  /* wire path, e.g. "/images/my%20image"; ""/NULL: "/" */
  const char *query; /* wire query without '?', e.g. "a=1&b=x%2Fy"; or NULL */
  /* Headers in the order they will be sent. Repeated names are joined with
   * commas in that order. Hop-by-hop and proxy-rewritten headers
   * (connection, expect, user-agent, x-amzn-trace-id, ...) are not signed.
   * Any authorization, x-amz-date and x-amz-security-token given here are
   * ignored: kiln_sigv4_sign() sets its own. */
  const struct kiln_sigv4_header *headers;
  size_t header_count;
  const void *body; /* may be NULL when body_len is 0 */
  size_t body_len;
  unsigned flags;
};

struct kiln_sigv4_credentials {
  const char *access_key_id;
  const char *secret_access_key;
  const char *session_token; /* NULL or "" for long-term credentials */
};

/* What kiln_sigv4_sign() produces: the headers to add to the request, and
 * the intermediate stages for tests and debugging (they hold no secret). */
struct kiln_sigv4_result {
  char amz_date[KILN_SIGV4_AMZ_DATE_LEN + 1]; /* X-Amz-Date value */
  char signature[KILN_SIGV4_HEX_LEN + 1];     /* lower-case hex */
  char payload_hash[KILN_SIGV4_HEX_LEN + 1];  /* lower-case hex */
  struct kiln_buf authorization;              /* Authorization value */
  struct kiln_buf signed_headers;             /* "host;x-amz-date" */
  struct kiln_buf canonical_request;
  struct kiln_buf string_to_sign;
};

/* Prepares caller-owned storage; reusable across kiln_sigv4_sign() calls. */
void kiln_sigv4_result_init(struct kiln_sigv4_result *r);
void kiln_sigv4_result_cleanup(struct kiln_sigv4_result *r);

/* Formats unix time (seconds, UTC) as "YYYYMMDDTHHMMSSZ". Returns 0 or
 * KILN_EINVAL when the time is outside years 1970..9999. */
int kiln_sigv4_format_date(int64_t unix_seconds,
                           char out[KILN_SIGV4_AMZ_DATE_LEN + 1]);

/* Appends s[0..len) percent-encoded: every byte outside the RFC 3986
 * unreserved set (A-Z a-z 0-9 - _ . ~) becomes %XX with upper-case hex;
 * '/' is kept when keep_slash. Returns 0, KILN_ETOOBIG or KILN_ENOMEM. */
int kiln_sigv4_uri_encode(struct kiln_buf *out, const char *s, size_t len,
                          int keep_slash);

/* Appends "key=value" (each encoded as above), preceded by '&' when out
 * is not empty. */
int kiln_sigv4_query_add(struct kiln_buf *out, const char *key,
                         const char *value);

/* Hex SHA-256 of data (the payload hash). */
void kiln_sigv4_sha256_hex(const void *data, size_t len,
                           char out[KILN_SIGV4_HEX_LEN + 1]);

/* Stage 1. Appends the canonical request for req to out and the signed
 * header list to signed_headers (may be NULL). The headers are req's own:
 * the caller adds x-amz-date (and x-amz-security-token) beforehand;
 * kiln_sigv4_sign() does. payload_hash is the hex SHA-256 of the body, or
 * NULL to compute it (an x-amz-content-sha256 header, when present, wins).
 * Returns 0, KILN_EINVAL or KILN_ENOMEM. */
int kiln_sigv4_canonical_request(const struct kiln_sigv4_request *req,
                                 const char *payload_hash, struct kiln_buf *out,
                                 struct kiln_buf *signed_headers);

/* Stage 2. Appends the string to sign:
 * "AWS4-HMAC-SHA256\n" amz_date "\n" scope "\n" hex(sha256(canonical)). The
 * scope is "YYYYMMDD/region/service/aws4_request". */
int kiln_sigv4_string_to_sign(const char *amz_date, const char *region,
                              const char *service, const char *canonical,
                              size_t canonical_len, struct kiln_buf *out);

/* Stage 3. Derives the signing key for the date ("YYYYMMDD" or a full
 * amz_date), region and service. The key is secret: wipe it with
 * OPENSSL_cleanse() when done. Returns 0 or KILN_EINVAL. */
int kiln_sigv4_signing_key(const char *secret_access_key, const char *date,
                           const char *region, const char *service,
                           unsigned char key[32]);

/* Stage 4. Hex HMAC-SHA256 of the string to sign under key. */
void kiln_sigv4_signature(const unsigned char key[32], const char *sts,
                          size_t sts_len, char out[KILN_SIGV4_HEX_LEN + 1]);

/* Signs req at unix time now for region and service. On success out holds
 * the X-Amz-Date and Authorization values to send along with req's headers
 * (plus X-Amz-Security-Token: cred->session_token when there is one; it is
 * signed). out is reset first. Returns 0, KILN_EINVAL (missing method,
 * credentials, region or service; header with CR/LF) or KILN_ENOMEM. */
int kiln_sigv4_sign(const struct kiln_sigv4_request *req,
                    const struct kiln_sigv4_credentials *cred,
                    const char *region, const char *service, int64_t now,
                    struct kiln_sigv4_result *out);

#endif
