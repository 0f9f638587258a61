/* Webhook verification: HMAC-SHA256 signatures and GitLab tokens, compared
 * in constant time, and the secret file loader. */
#include "kiln/webhook.h"
#include "kiln/error.h"
#include "kiln/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
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
  /* One byte more than the limit, so that an oversized file is noticed. */
  unsigned char buf[KILN_WEBHOOK_MAX_SECRET_BYTES + 3];
  size_t len = 0;
  struct stat st;
  int fd, rc;

  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    say(err, err_size, "cannot open webhook secret file %s: %s", path,
        strerror(e));
    return e == ENOENT                 ? KILN_ENOENT
           : e == EACCES || e == EPERM ? KILN_EPERM
                                       : KILN_EIO;
  }
  /* fstat the open file, not the path, so the checks and the read concern
   * the same file. */
  if (fstat(fd, &st) != 0) {
    say(err, err_size, "cannot stat webhook secret file %s", path);
    rc = KILN_EIO;
    goto fail;
  }
  if (!S_ISREG(st.st_mode)) {
    say(err, err_size, "webhook secret file %s is not a regular file", path);
    rc = KILN_EINVAL;
    goto fail;
  }
  if ((st.st_mode & 077) != 0) {
    say(err, err_size,
        "webhook secret file %s is accessible by group or others (mode %04o); "
        "it must be readable by its owner only: chmod 600 %s",
        path, (unsigned)(st.st_mode & 07777), path);
    rc = KILN_EPERM;
    goto fail;
  }
  if (st.st_uid != geteuid() && st.st_uid != 0) {
    say(err, err_size,
        "webhook secret file %s is owned by another user (uid %u); it must "
        "belong to the user running kiln or to root: chown it, or copy it "
        "(%s)",
        path, (unsigned)st.st_uid, path);
    rc = KILN_EPERM;
    goto fail;
  }
  for (;;) {
    ssize_t n = read(fd, buf + len, sizeof(buf) - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      say(err, err_size, "cannot read webhook secret file %s", path);
      rc = KILN_EIO;
      goto fail;
    }
    if (n == 0)
      break;
    len += (size_t)n;
    if (len == sizeof(buf))
      break;
  }
  if (len > 0 && buf[len - 1] == '\n') {
    len--;
    if (len > 0 && buf[len - 1] == '\r')
      len--;
  }
  if (len > KILN_WEBHOOK_MAX_SECRET_BYTES) {
    say(err, err_size, "webhook secret file %s is larger than %u bytes", path,
        KILN_WEBHOOK_MAX_SECRET_BYTES);
    rc = KILN_ETOOBIG;
    goto fail;
  }
  if (len == 0) {
    say(err, err_size,
        "webhook secret file %s is empty; put a random secret in it", path);
    rc = KILN_EINVAL;
    goto fail;
  }
  rc = kiln_webhook_secret_set(s, buf, len);
  if (rc != 0)
    say(err, err_size, "cannot load webhook secret file %s: %s", path,
        kiln_strerror(rc));
fail:
  OPENSSL_cleanse(buf, sizeof(buf));
  close(fd);
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

static int verify_hmac(const struct kiln_webhook_secret *secret,
                       const char *header_value, const void *body,
                       size_t body_len)
{
  unsigned char want[SHA256_LEN], got[EVP_MAX_MD_SIZE];
  unsigned int got_len = 0;
  static const unsigned char empty;
  int rc;

  rc = kiln_webhook_parse_sha256(header_value, want);
  if (rc != 0)
    return rc;
  if (HMAC(EVP_sha256(), secret->data, (int)secret->len,
           body != NULL ? body : &empty, body_len, got, &got_len) == NULL ||
      got_len != SHA256_LEN) {
    rc = KILN_EINTERNAL;
    goto done;
  }
  rc = CRYPTO_memcmp(want, got, SHA256_LEN) == 0 ? 0 : KILN_EPERM;
done:
  OPENSSL_cleanse(got, sizeof(got));
  return rc;
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

int kiln_webhook_verify(enum kiln_webhook_scheme scheme,
                        const struct kiln_webhook_secret *secret,
                        const char *header_value, const void *body,
                        size_t body_len)
{
  if (scheme != KILN_WEBHOOK_GITHUB && scheme != KILN_WEBHOOK_GITLAB &&
      scheme != KILN_WEBHOOK_GENERIC)
    return KILN_EINVAL;
  if (secret == NULL || secret->data == NULL || secret->len == 0)
    return KILN_EPERM;
  if (body == NULL && body_len != 0)
    return KILN_EINVAL;
  if (scheme == KILN_WEBHOOK_GITLAB)
    return verify_token(secret, header_value);
  return verify_hmac(secret, header_value, body, body_len);
}
