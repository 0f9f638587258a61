/* AWS Signature Version 4, in pure stages. See include/kiln/sigv4.h. */
#include "kiln/sigv4.h"
#include "kiln/error.h"
#include "kiln/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char hexdig_lower[] = "0123456789abcdef";
static const char hexdig_upper[] = "0123456789ABCDEF";

/* Headers that proxies and HTTP stacks add, drop or rewrite; signing them
 * would make valid requests fail verification. */
static const char *const unsigned_headers[] = {
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
};

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
  size_t i;

  for (i = 0; i < len; i++) {
    out[2 * i] = hexdig_lower[in[i] >> 4];
    out[2 * i + 1] = hexdig_lower[in[i] & 15];
  }
  out[2 * len] = '\0';
}

static int is_unreserved(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

/* Whitespace as the SigV4 "Trimall" rule sees it: ASCII space and
 * controls that HTTP stacks treat as separators. */
static int is_ws(unsigned char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

int kiln_sigv4_format_date(int64_t unix_seconds,
                           char out[KILN_SIGV4_AMZ_DATE_LEN + 1])
{
  struct tm tm;
  time_t t;

  if (unix_seconds < 0 || unix_seconds > 253402300799LL)
    return KILN_EINVAL;
  t = (time_t)unix_seconds;
  if (gmtime_r(&t, &tm) == NULL)
    return KILN_EINVAL;
  if (strftime(out, KILN_SIGV4_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) !=
      KILN_SIGV4_AMZ_DATE_LEN)
    return KILN_EINVAL;
  return 0;
}

int kiln_sigv4_uri_encode(struct kiln_buf *out, const char *s, size_t len,
                          int keep_slash)
{
  size_t i, start = 0;
  int err;

  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[3];

    if (is_unreserved(c) || (keep_slash && c == '/'))
      continue;
    if (i > start && (err = kiln_buf_append(out, s + start, i - start)) != 0)
      return err;
    esc[0] = '%';
    esc[1] = hexdig_upper[c >> 4];
    esc[2] = hexdig_upper[c & 15];
    if ((err = kiln_buf_append(out, esc, 3)) != 0)
      return err;
    start = i + 1;
  }
  if (i > start)
    return kiln_buf_append(out, s + start, i - start);
  return 0;
}

int kiln_sigv4_query_add(struct kiln_buf *out, const char *key,
                         const char *value)
{
  int err;

  if (out->len > 0 && (err = kiln_buf_append(out, "&", 1)) != 0)
    return err;
  if ((err = kiln_sigv4_uri_encode(out, key, strlen(key), 0)) != 0 ||
      (err = kiln_buf_append(out, "=", 1)) != 0)
    return err;
  return kiln_sigv4_uri_encode(out, value, strlen(value), 0);
}

void kiln_sigv4_sha256_hex(const void *data, size_t len,
                           char out[KILN_SIGV4_HEX_LEN + 1])
{
  unsigned char md[SHA256_DIGEST_LENGTH];

  SHA256(len > 0 ? data : (const void *)"", len, md);
  hex_encode(md, sizeof(md), out);
}

/* ---- canonical path ---- */

/* RFC 3986 5.2.4 dot-segment removal, plus the collapsing of empty
 * segments ("//") that AWS services expect. Appends to out. */
static int normalize_path(const char *path, size_t len, struct kiln_buf *out)
{
  /* Segment start offsets within path; an ".." pops the last one. */
  size_t stack_small[32], *seg_off = stack_small, *seg_len = NULL;
  size_t cap = 16, n = 0, i = 0, k;
  size_t len_small[16];
  int err = 0, leading = len > 0 && path[0] == '/';
  int trailing = len > 0 && path[len - 1] == '/';

  seg_len = len_small;
  /* Worst case: one segment per two bytes. */
  if (len / 2 + 1 > cap) {
    cap = len / 2 + 1;
    seg_off = malloc(cap * sizeof(size_t) * 2);
    if (seg_off == NULL)
      return KILN_ENOMEM;
    seg_len = seg_off + cap;
  }
  while (i <= len) {
    size_t j = i;
    while (j < len && path[j] != '/')
      j++;
    if (j > i && !(j - i == 1 && path[i] == '.')) {
      if (j - i == 2 && path[i] == '.' && path[i + 1] == '.') {
        if (n > 0)
          n--;
      } else {
        seg_off[n] = i;
        seg_len[n] = j - i;
        n++;
      }
    }
    i = j + 1;
  }
  if (leading && (err = kiln_buf_append(out, "/", 1)) != 0)
    goto done;
  for (k = 0; k < n; k++) {
    if (k > 0 && (err = kiln_buf_append(out, "/", 1)) != 0)
      goto done;
    if ((err = kiln_buf_append(out, path + seg_off[k], seg_len[k])) != 0)
      goto done;
  }
  if (trailing && n > 0)
    err = kiln_buf_append(out, "/", 1);
done:
  if (seg_off != stack_small)
    free(seg_off);
  return err;
}

static int canonical_path(const struct kiln_sigv4_request *req,
                          struct kiln_buf *out)
{
  const char *path = req->path != NULL ? req->path : "";
  size_t len = strlen(path);
  struct kiln_buf norm;
  int err;

  if (len == 0)
    return kiln_buf_append(out, "/", 1);
  if (req->flags & KILN_SIGV4_SINGLE_ENCODE)
    return kiln_buf_append(out, path, len);
  kiln_buf_init(&norm, 0);
  err = normalize_path(path, len, &norm);
  if (err == 0 && norm.len == 0)
    err = kiln_buf_append(out, "/", 1);
  else if (err == 0)
    err = kiln_sigv4_uri_encode(out, norm.data, norm.len, 1);
  kiln_buf_cleanup(&norm);
  return err;
}

/* ---- canonical query ---- */

struct qpair {
  const char *key; /* into a scratch buffer, NUL-terminated */
  const char *value;
};

static int qpair_cmp(const void *a, const void *b)
{
  const struct qpair *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c != 0 ? c : strcmp(x->value, y->value);
}

/* Decodes %XX escapes in s[0..len) and re-encodes the result, so that the
 * canonical form does not depend on how the caller escaped it. */
static int normalize_component(struct kiln_buf *out, const char *s, size_t len)
{
  size_t i;
  int err;

  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    int hi, lo;

    if (c == '%' && i + 2 < len &&
        (hi = kiln_hex_value((unsigned char)s[i + 1])) >= 0 &&
        (lo = kiln_hex_value((unsigned char)s[i + 2])) >= 0) {
      c = (unsigned char)(hi << 4 | lo);
      i += 2;
    }
    if ((err = kiln_sigv4_uri_encode(out, (const char *)&c, 1, 0)) != 0)
      return err;
  }
  return 0;
}

static int canonical_query(const char *query, struct kiln_buf *out)
{
  struct qpair small[16], *pairs = small;
  struct kiln_buf scratch;
  size_t n = 1, k, qlen;
  size_t *offs = NULL;
  const char *p;
  int err = 0;

  if (query == NULL || query[0] == '\0')
    return 0;
  qlen = strlen(query);
  for (p = query; *p != '\0'; p++)
    if (*p == '&')
      n++;
  kiln_buf_init(&scratch, 0);
  offs = malloc(n * 2 * sizeof(size_t));
  if (offs == NULL)
    return KILN_ENOMEM;
  if (n > sizeof(small) / sizeof(small[0])) {
    pairs = malloc(n * sizeof(*pairs));
    if (pairs == NULL) {
      err = KILN_ENOMEM;
      goto done;
    }
  }
  /* Encode every pair into scratch first (it may move while growing), then
   * point into it. */
  for (k = 0, p = query; k < n; k++) {
    const char *end = memchr(p, '&', qlen - (size_t)(p - query));
    const char *eq;
    if (end == NULL)
      end = query + qlen;
    eq = memchr(p, '=', (size_t)(end - p));
    offs[2 * k] = scratch.len;
    if ((err = normalize_component(&scratch, p,
                                   (size_t)((eq ? eq : end) - p))) != 0 ||
        (err = kiln_buf_append(&scratch, "", 1)) != 0)
      goto done;
    offs[2 * k + 1] = scratch.len;
    if (eq != NULL && (err = normalize_component(&scratch, eq + 1,
                                                 (size_t)(end - eq - 1))) != 0)
      goto done;
    if ((err = kiln_buf_append(&scratch, "", 1)) != 0)
      goto done;
    p = end + 1;
  }
  for (k = 0; k < n; k++) {
    pairs[k].key = scratch.data + offs[2 * k];
    pairs[k].value = scratch.data + offs[2 * k + 1];
  }
  qsort(pairs, n, sizeof(*pairs), qpair_cmp);
  for (k = 0; k < n; k++) {
    if ((k > 0 && (err = kiln_buf_append(out, "&", 1)) != 0) ||
        (err = kiln_buf_puts(out, pairs[k].key)) != 0 ||
        (err = kiln_buf_append(out, "=", 1)) != 0 ||
        (err = kiln_buf_puts(out, pairs[k].value)) != 0)
      goto done;
  }
done:
  if (pairs != small)
    free(pairs);
  free(offs);
  kiln_buf_cleanup(&scratch);
  return err;
}

/* ---- canonical headers ---- */

struct hentry {
  char *name; /* lower-cased, in scratch */
  size_t name_len;
  const char *value; /* raw */
  size_t index;      /* order given, to join repeated headers stably */
};

static int hentry_cmp(const void *a, const void *b)
{
  const struct hentry *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (c != 0)
    return c;
  return x->index < y->index ? -1 : x->index > y->index;
}

static int is_unsigned_header(const char *lname)
{
  size_t i;

  for (i = 0; i < sizeof(unsigned_headers) / sizeof(unsigned_headers[0]); i++)
    if (strcmp(lname, unsigned_headers[i]) == 0)
      return 1;
  return 0;
}

/* Appends value trimmed, with inner whitespace runs collapsed to one
 * space. */
static int append_trimmed(struct kiln_buf *out, const char *v)
{
  const unsigned char *p = (const unsigned char *)v;
  int err, pending_space = 0, any = 0;

  while (*p != '\0') {
    const unsigned char *start;
    if (is_ws(*p)) {
      pending_space = any;
      p++;
      continue;
    }
    start = p;
    while (*p != '\0' && !is_ws(*p))
      p++;
    if (pending_space && (err = kiln_buf_append(out, " ", 1)) != 0)
      return err;
    if ((err = kiln_buf_append(out, start, (size_t)(p - start))) != 0)
      return err;
    pending_space = 0;
    any = 1;
  }
  return 0;
}

static int valid_header(const struct kiln_sigv4_header *h)
{
  if (h->name == NULL || h->value == NULL || h->name[0] == '\0')
    return 0;
  return strpbrk(h->name, "\r\n: ") == NULL && strpbrk(h->value, "\r\n") == 0;
}

int kiln_sigv4_canonical_request(const struct kiln_sigv4_request *req,
                                 const char *payload_hash, struct kiln_buf *out,
                                 struct kiln_buf *signed_headers)
{
  struct hentry small[24], *hs = small;
  size_t n = 0, i, k, total = 0;
  char *names = NULL, *np;
  const char *content_sha = NULL, *m;
  char hash[KILN_SIGV4_HEX_LEN + 1];
  int err = KILN_EINVAL, have_host = 0;

  if (req == NULL || req->method == NULL || req->method[0] == '\0' ||
      out == NULL || (req->body == NULL && req->body_len != 0) ||
      (req->header_count > 0 && req->headers == NULL))
    return KILN_EINVAL;
  for (i = 0; i < req->header_count; i++) {
    if (!valid_header(&req->headers[i]))
      return KILN_EINVAL;
    total += strlen(req->headers[i].name) + 1;
  }
  if (req->header_count + 1 > sizeof(small) / sizeof(small[0])) {
    hs = malloc((req->header_count + 1) * sizeof(*hs));
    if (hs == NULL)
      return KILN_ENOMEM;
  }
  names = malloc(total + 5);
  if (names == NULL) {
    err = KILN_ENOMEM;
    goto done;
  }
  np = names;
  for (i = 0; i < req->header_count; i++) {
    const char *s = req->headers[i].name;
    char *start = np;
    for (; *s != '\0'; s++)
      *np++ = (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
    *np++ = '\0';
    if (is_unsigned_header(start))
      continue;
    if (strcmp(start, "host") == 0)
      have_host = 1;
    if (content_sha == NULL && strcmp(start, "x-amz-content-sha256") == 0)
      content_sha = req->headers[i].value;
    hs[n].name = start;
    hs[n].name_len = (size_t)(np - start - 1);
    hs[n].value = req->headers[i].value;
    hs[n].index = i;
    n++;
  }
  if (!have_host) {
    if (req->host == NULL || req->host[0] == '\0')
      goto done;
    memcpy(np, "host", 5);
    hs[n].name = np;
    hs[n].name_len = 4;
    hs[n].value = req->host;
    hs[n].index = req->header_count;
    n++;
  }
  qsort(hs, n, sizeof(*hs), hentry_cmp);

  for (m = req->method; *m != '\0'; m++) {
    char c = (char)((*m >= 'a' && *m <= 'z') ? *m - 32 : *m);
    if ((err = kiln_buf_append(out, &c, 1)) != 0)
      goto done;
  }
  if ((err = kiln_buf_append(out, "\n", 1)) != 0 ||
      (err = canonical_path(req, out)) != 0 ||
      (err = kiln_buf_append(out, "\n", 1)) != 0 ||
      (err = canonical_query(req->query, out)) != 0 ||
      (err = kiln_buf_append(out, "\n", 1)) != 0)
    goto done;
  for (k = 0; k < n; k++) {
    int first = k == 0 || strcmp(hs[k].name, hs[k - 1].name) != 0;
    if (first) {
      if ((k > 0 && (err = kiln_buf_append(out, "\n", 1)) != 0) ||
          (err = kiln_buf_append(out, hs[k].name, hs[k].name_len)) != 0 ||
          (err = kiln_buf_append(out, ":", 1)) != 0)
        goto done;
    } else if ((err = kiln_buf_append(out, ",", 1)) != 0) {
      goto done;
    }
    if ((err = append_trimmed(out, hs[k].value)) != 0)
      goto done;
  }
  if ((err = kiln_buf_append(out, "\n\n", 2)) != 0)
    goto done;
  for (k = 0; k < n; k++) {
    if (k > 0 && strcmp(hs[k].name, hs[k - 1].name) == 0)
      continue;
    if ((k > 0 && (err = kiln_buf_append(out, ";", 1)) != 0) ||
        (err = kiln_buf_append(out, hs[k].name, hs[k].name_len)) != 0)
      goto done;
    if (signed_headers != NULL &&
        (((k > 0) && (err = kiln_buf_append(signed_headers, ";", 1)) != 0) ||
         (err = kiln_buf_append(signed_headers, hs[k].name, hs[k].name_len)) !=
             0))
      goto done;
  }
  if ((err = kiln_buf_append(out, "\n", 1)) != 0)
    goto done;
  if (content_sha != NULL) {
    payload_hash = content_sha;
  } else if (payload_hash == NULL) {
    kiln_sigv4_sha256_hex(req->body, req->body_len, hash);
    payload_hash = hash;
  }
  err = kiln_buf_puts(out, payload_hash);

done:
  if (hs != small)
    free(hs);
  free(names);
  return err;
}

/* ---- string to sign, key, signature ---- */

int kiln_sigv4_string_to_sign(const char *amz_date, const char *region,
                              const char *service, const char *canonical,
                              size_t canonical_len, struct kiln_buf *out)
{
  char hash[KILN_SIGV4_HEX_LEN + 1];

  if (amz_date == NULL || strlen(amz_date) < 8 || region == NULL ||
      service == NULL || canonical == NULL)
    return KILN_EINVAL;
  kiln_sigv4_sha256_hex(canonical, canonical_len, hash);
  return kiln_buf_printf(out,
                         KILN_SIGV4_ALGORITHM "\n%s\n%.8s/%s/%s/"
                                              "aws4_request\n%s",
                         amz_date, amz_date, region, service, hash);
}

static int hmac(const unsigned char *key, size_t key_len, const void *msg,
                size_t msg_len, unsigned char out[32])
{
  unsigned int len = 32;

  if (HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &len) == NULL)
    return KILN_EINTERNAL;
  return 0;
}

int kiln_sigv4_signing_key(const char *secret_access_key, const char *date,
                           const char *region, const char *service,
                           unsigned char key[32])
{
  unsigned char k[32];
  char *seed = NULL;
  size_t slen;
  int err = KILN_EINVAL;

  if (secret_access_key == NULL || date == NULL || strlen(date) < 8 ||
      region == NULL || service == NULL)
    return KILN_EINVAL;
  slen = strlen(secret_access_key) + 4;
  seed = malloc(slen + 1);
  if (seed == NULL)
    return KILN_ENOMEM;
  memcpy(seed, "AWS4", 4);
  memcpy(seed + 4, secret_access_key, slen - 4 + 1);
  if ((err = hmac((unsigned char *)seed, slen, date, 8, k)) != 0 ||
      (err = hmac(k, 32, region, strlen(region), k)) != 0 ||
      (err = hmac(k, 32, service, strlen(service), k)) != 0 ||
      (err = hmac(k, 32, "aws4_request", 12, key)) != 0)
    goto fail;
fail:
  OPENSSL_cleanse(k, sizeof(k));
  OPENSSL_cleanse(seed, slen);
  free(seed);
  return err;
}

void kiln_sigv4_signature(const unsigned char key[32], const char *sts,
                          size_t sts_len, char out[KILN_SIGV4_HEX_LEN + 1])
{
  unsigned char md[32];

  if (hmac(key, 32, sts, sts_len, md) != 0) {
    out[0] = '\0';
    return;
  }
  hex_encode(md, sizeof(md), out);
}

/* ---- all stages ---- */

void kiln_sigv4_result_init(struct kiln_sigv4_result *r)
{
  memset(r, 0, sizeof(*r));
  kiln_buf_init(&r->authorization, 0);
  kiln_buf_init(&r->signed_headers, 0);
  kiln_buf_init(&r->canonical_request, 0);
  kiln_buf_init(&r->string_to_sign, 0);
}

void kiln_sigv4_result_cleanup(struct kiln_sigv4_result *r)
{
  kiln_buf_cleanup(&r->authorization);
  kiln_buf_cleanup(&r->signed_headers);
  kiln_buf_cleanup(&r->canonical_request);
  kiln_buf_cleanup(&r->string_to_sign);
}

static int is_replaced_header(const char *name)
{
  return strcasecmp(name, "authorization") == 0 ||
         strcasecmp(name, "x-amz-date") == 0 ||
         strcasecmp(name, "x-amz-security-token") == 0;
}

int kiln_sigv4_sign(const struct kiln_sigv4_request *req,
                    const struct kiln_sigv4_credentials *cred,
                    const char *region, const char *service, int64_t now,
                    struct kiln_sigv4_result *out)
{
  struct kiln_sigv4_header small[24], *hs = small;
  struct kiln_sigv4_request r;
  unsigned char key[32];
  size_t i, n = 0;
  int has_token, err;

  if (req == NULL || cred == NULL || out == NULL || region == NULL ||
      service == NULL || region[0] == '\0' || service[0] == '\0' ||
      cred->access_key_id == NULL || cred->access_key_id[0] == '\0' ||
      cred->secret_access_key == NULL || cred->secret_access_key[0] == '\0' ||
      (req->header_count > 0 && req->headers == NULL))
    return KILN_EINVAL;
  kiln_buf_reset(&out->authorization);
  kiln_buf_reset(&out->signed_headers);
  kiln_buf_reset(&out->canonical_request);
  kiln_buf_reset(&out->string_to_sign);
  if ((err = kiln_sigv4_format_date(now, out->amz_date)) != 0)
    return err;
  has_token = cred->session_token != NULL && cred->session_token[0] != '\0';

  if (req->header_count + 2 > sizeof(small) / sizeof(small[0])) {
    hs = malloc((req->header_count + 2) * sizeof(*hs));
    if (hs == NULL)
      return KILN_ENOMEM;
  }
  for (i = 0; i < req->header_count; i++) {
    if (req->headers[i].name == NULL) {
      err = KILN_EINVAL;
      goto done;
    }
    if (!is_replaced_header(req->headers[i].name))
      hs[n++] = req->headers[i];
  }
  hs[n].name = "X-Amz-Date";
  hs[n++].value = out->amz_date;
  if (has_token) {
    hs[n].name = "X-Amz-Security-Token";
    hs[n++].value = cred->session_token;
  }
  r = *req;
  r.headers = hs;
  r.header_count = n;

  if (req->body_len == 0 || req->body != NULL)
    kiln_sigv4_sha256_hex(req->body, req->body_len, out->payload_hash);
  if ((err = kiln_sigv4_canonical_request(&r, out->payload_hash,
                                          &out->canonical_request,
                                          &out->signed_headers)) != 0)
    goto done;
  if ((err = kiln_sigv4_string_to_sign(
           out->amz_date, region, service, out->canonical_request.data,
           out->canonical_request.len, &out->string_to_sign)) != 0)
    goto done;
  if ((err = kiln_sigv4_signing_key(cred->secret_access_key, out->amz_date,
                                    region, service, key)) != 0)
    goto done;
  kiln_sigv4_signature(key, out->string_to_sign.data, out->string_to_sign.len,
                       out->signature);
  OPENSSL_cleanse(key, sizeof(key));
  err = kiln_buf_printf(&out->authorization,
                        KILN_SIGV4_ALGORITHM
                        " Credential=%s/%.8s/%s/%s/aws4_request, "
                        "SignedHeaders=%s, Signature=%s",
                        cred->access_key_id, out->amz_date, region, service,
                        out->signed_headers.data, out->signature);
done:
  if (hs != small)
    free(hs);
  return err;
}
