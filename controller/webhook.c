/* Webhook verification: HMAC-SHA256 signatures and GitLab tokens, compared
 * in constant time, and the secret file loader. */
#include "kiln/webhook.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/file.h"
#include "kiln/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHA256_LEN 32

void kiln_webhook_secret_init(struct kiln_webhook_secret *s)
{
  s->data = NULL;
  s->len = 0;
}

void kiln_webhook_secret_cleanup(struct kiln_webhook_secret *s)
{
  if (s->data != NULL) {
    OPENSSL_cleanse(s->data, s->len);
    free(s->data);
  }
  s->data = NULL;
  s->len = 0;
}

int kiln_webhook_secret_set(struct kiln_webhook_secret *s, const void *data,
                            size_t len)
{
  unsigned char *copy = NULL;

  if (len > KILN_WEBHOOK_MAX_SECRET_BYTES)
    return KILN_ETOOBIG;
  if (len > 0) {
    copy = malloc(len);
    if (copy == NULL)
      return KILN_ENOMEM;
    memcpy(copy, data, len);
  }
  kiln_webhook_secret_cleanup(s);
  s->data = copy;
  s->len = len;
  return 0;
}

static void say(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *err, size_t size, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL || size == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(err, size, fmt, ap);
  va_end(ap);
}

int kiln_webhook_secret_load(struct kiln_webhook_secret *s, const char *path,
                             char *err, size_t err_size)
{
  /* Room for the limit and a line end, so that an oversized file is
   * noticed. */
  struct kiln_buf buf;
  struct stat st;
  size_t len;
  int rc;

  kiln_buf_init_secret(&buf, KILN_WEBHOOK_MAX_SECRET_BYTES + 2);
  rc = kiln_file_read(path, &buf, &st);
  /* The checks concern the very file that was read (its fstat). */
  if (rc == 0 || rc == KILN_ETOOBIG) {
    if ((st.st_mode & 077) != 0) {
      say(err, err_size,
          "webhook secret file %s is accessible by group or others (mode "
          "%04o); it must be readable by its owner only: chmod 600 %s",
          path, (unsigned)(st.st_mode & 07777), path);
      rc = KILN_EPERM;
      goto done;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
      say(err, err_size,
          "webhook secret file %s is owned by another user (uid %u); it must "
          "belong to the user running kiln or to root: chown it, or copy it "
          "(%s)",
          path, (unsigned)st.st_uid, path);
      rc = KILN_EPERM;
      goto done;
    }
  }
  if (rc == KILN_EINVAL) {
    say(err, err_size, "webhook secret file %s is a directory", path);
    goto done;
  }
  if (rc != 0 && rc != KILN_ETOOBIG) {
    say(err, err_size, "cannot read webhook secret file %s: %s", path,
        kiln_strerror(rc));
    goto done;
  }
  len = buf.len;
  if (rc == 0 && len > 0 && buf.data[len - 1] == '\n') {
    len--;
    if (len > 0 && buf.data[len - 1] == '\r')
      len--;
  }
  if (rc == KILN_ETOOBIG || len > KILN_WEBHOOK_MAX_SECRET_BYTES) {
    say(err, err_size, "webhook secret file %s is larger than %u bytes", path,
        KILN_WEBHOOK_MAX_SECRET_BYTES);
    rc = KILN_ETOOBIG;
    goto done;
  }
  if (len == 0) {
    say(err, err_size,
        "webhook secret file %s is empty; put a random secret in it", path);
    rc = KILN_EINVAL;
    goto done;
  }
  rc = kiln_webhook_secret_set(s, (const unsigned char *)buf.data, len);
  if (rc != 0)
    say(err, err_size, "cannot load webhook secret file %s: %s", path,
        kiln_strerror(rc));
done:
  kiln_buf_cleanup(&buf);
  return rc;
}

const char *kiln_webhook_header_name(enum kiln_webhook_scheme scheme)
{
  switch (scheme) {
  case KILN_WEBHOOK_GITHUB:
    return "X-Hub-Signature-256";
  case KILN_WEBHOOK_GITLAB:
    return "X-Gitlab-Token";
  case KILN_WEBHOOK_GENERIC:
    return "X-Kiln-Signature-256";
  }
  return "";
}

int kiln_webhook_parse_sha256(const char *header_value,
                              unsigned char digest[32])
{
  static const char prefix[] = "sha256=";
  const char *hex;

  if (header_value == NULL ||
      strncmp(header_value, prefix, sizeof(prefix) - 1) != 0)
    return KILN_EPARSE;
  hex = header_value + sizeof(prefix) - 1;
  /* strnlen so that a long value is not scanned to its end. */
  if (strnlen(hex, 2 * SHA256_LEN + 1) != 2 * SHA256_LEN)
    return KILN_EPARSE;
  for (size_t i = 0; i < SHA256_LEN; i++) {
    int hi = kiln_hex_value(hex[2 * i]), lo = kiln_hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return KILN_EPARSE;
    digest[i] = (unsigned char)(hi << 4 | lo);
  }
  return 0;
}

/* The token and the secret may differ in length; comparing their SHA-256
 * digests keeps the comparison constant-time without leaking the secret's
 * length through an early exit. */
static int verify_token(const struct kiln_webhook_secret *secret,
                        const char *token)
{
  unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
  size_t token_len;
  int rc;

  if (token == NULL)
    return KILN_EPARSE;
  token_len = strnlen(token, KILN_WEBHOOK_MAX_SECRET_BYTES + 1);
  if (token_len == 0 || token_len > KILN_WEBHOOK_MAX_SECRET_BYTES)
    return KILN_EPERM;
  if (EVP_Digest(token, token_len, a, NULL, EVP_sha256(), NULL) != 1 ||
      EVP_Digest(secret->data, secret->len, b, NULL, EVP_sha256(), NULL) != 1) {
    rc = KILN_EINTERNAL;
    goto done;
  }
  rc = CRYPTO_memcmp(a, b, SHA256_LEN) == 0 ? 0 : KILN_EPERM;
done:
  OPENSSL_cleanse(a, sizeof(a));
  OPENSSL_cleanse(b, sizeof(b));
  return rc;
}

struct kiln_webhook_verifier {
  /* The verdict so far: 0 while the body may still prove the hook
   * authentic, else final (a bad header, an empty secret, a GitLab token
   * already compared, an OpenSSL failure). */
  int rc;
  bool hmac_pending; /* ctx runs; finish() compares it with want */
  EVP_MAC_CTX *ctx;  /* HMAC-SHA256 keyed with the secret */
  unsigned char want[SHA256_LEN];
};

/* Starts HMAC-SHA256 keyed with secret into v->ctx. */
static int hmac_start(struct kiln_webhook_verifier *v,
                      const struct kiln_webhook_secret *secret)
{
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  int rc = KILN_EINTERNAL;

  if (mac == NULL)
    return KILN_EINTERNAL;
  v->ctx = EVP_MAC_CTX_new(mac);
  if (v->ctx != NULL &&
      EVP_MAC_init(v->ctx, secret->data, secret->len, params) == 1)
    rc = 0;
  EVP_MAC_free(mac);
  return rc;
}

int kiln_webhook_verifier_new(enum kiln_webhook_scheme scheme,
                              const struct kiln_webhook_secret *secret,
                              const char *header_value,
                              struct kiln_webhook_verifier **out)
{
  struct kiln_webhook_verifier *v;

  if (scheme != KILN_WEBHOOK_GITHUB && scheme != KILN_WEBHOOK_GITLAB &&
      scheme != KILN_WEBHOOK_GENERIC)
    return KILN_EINVAL;
  v = calloc(1, sizeof(*v));
  if (v == NULL)
    return KILN_ENOMEM;
  if (secret == NULL || secret->data == NULL || secret->len == 0)
    v->rc = KILN_EPERM;
  else if (scheme == KILN_WEBHOOK_GITLAB)
    v->rc = verify_token(secret, header_value);
  else if ((v->rc = kiln_webhook_parse_sha256(header_value, v->want)) == 0 &&
           (v->rc = hmac_start(v, secret)) == 0)
    v->hmac_pending = true;
  *out = v;
  return 0;
}

void kiln_webhook_verifier_update(struct kiln_webhook_verifier *v,
                                  const void *data, size_t len)
{
  if (v->rc == 0 && v->hmac_pending && len > 0 &&
      EVP_MAC_update(v->ctx, data, len) != 1)
    v->rc = KILN_EINTERNAL;
}

int kiln_webhook_verifier_finish(struct kiln_webhook_verifier *v)
{
  unsigned char got[EVP_MAX_MD_SIZE];
  size_t got_len = 0;

  if (v->rc != 0 || !v->hmac_pending)
    return v->rc;
  v->hmac_pending = false;
  if (EVP_MAC_final(v->ctx, got, &got_len, sizeof(got)) != 1 ||
      got_len != SHA256_LEN)
    v->rc = KILN_EINTERNAL;
  else
    v->rc = CRYPTO_memcmp(v->want, got, SHA256_LEN) == 0 ? 0 : KILN_EPERM;
  OPENSSL_cleanse(got, sizeof(got));
  return v->rc;
}

void kiln_webhook_verifier_free(struct kiln_webhook_verifier *v)
{
  if (v == NULL)
    return;
  /* EVP_MAC_CTX_free cleanses the key schedule it holds. */
  EVP_MAC_CTX_free(v->ctx);
  OPENSSL_cleanse(v, sizeof(*v));
  free(v);
}

int kiln_webhook_verify(enum kiln_webhook_scheme scheme,
                        const struct kiln_webhook_secret *secret,
                        const char *header_value, const void *body,
                        size_t body_len)
{
  struct kiln_webhook_verifier *v;
  int rc;

  if (body == NULL && body_len != 0)
    return KILN_EINVAL;
  rc = kiln_webhook_verifier_new(scheme, secret, header_value, &v);
  if (rc != 0)
    return rc;
  if (body_len > 0)
    kiln_webhook_verifier_update(v, body, body_len);
  rc = kiln_webhook_verifier_finish(v);
  kiln_webhook_verifier_free(v);
  return rc;
}
