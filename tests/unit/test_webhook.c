/* Webhook verification: every scheme, good and bad signatures, and the
 * secret file loader's checks. Expected HMACs are computed here with
 * OpenSSL, independently of the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "kiln/error.h"
#include "kiln/webhook.h"

static const char secret_text[] = "It's a Secret to Everybody";
static const char body_text[] =
    "{\"ref\":\"refs/heads/main\",\"after\":\"ab\"}";

/* "sha256=" + hex HMAC-SHA256(key, msg), in the case asked for. */
static void sign(char out[72], const char *key, size_t key_len, const void *msg,
                 size_t msg_len, int upper)
{
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

  assert_non_null(
      HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, mac, &mac_len));
  assert_int_equal(mac_len, 32);
  memcpy(out, "sha256=", 7);
  for (unsigned i = 0; i < mac_len; i++) {
    out[7 + 2 * i] = digits[mac[i] >> 4];
    out[7 + 2 * i + 1] = digits[mac[i] & 15];
  }
  out[71] = '\0';
}

enum mutation {
  M_NONE,
  M_UPPER,        /* uppercase hex: still valid */
  M_FLIP_LAST,    /* last hex digit changed */
  M_FLIP_FIRST,   /* first hex digit changed */
  M_SHORT,        /* 63 hex digits */
  M_LONG,         /* 65 hex digits */
  M_TRAILING_NL,  /* "\n" after the digits */
  M_NON_HEX,      /* a 'g' among the digits */
  M_SPACE,        /* a space in the digits */
  M_NO_PREFIX,    /* bare hex */
  M_SHA1_PREFIX,  /* "sha1=" */
  M_UPPER_PREFIX, /* "SHA256=" */
  M_MISSING,      /* no header at all */
  M_EMPTY,        /* empty header */
  M_OTHER_BODY,   /* signed another body */
  M_OTHER_KEY,    /* signed with another secret */
};

struct hmac_case {
  enum mutation m;
  int want;
};

static const struct hmac_case hmac_cases[] = {
    {M_NONE, 0},
    {M_UPPER, 0},
    {M_FLIP_LAST, KILN_EPERM},
    {M_FLIP_FIRST, KILN_EPERM},
    {M_SHORT, KILN_EPARSE},
    {M_LONG, KILN_EPARSE},
    {M_TRAILING_NL, KILN_EPARSE},
    {M_NON_HEX, KILN_EPARSE},
    {M_SPACE, KILN_EPARSE},
    {M_NO_PREFIX, KILN_EPARSE},
    {M_SHA1_PREFIX, KILN_EPARSE},
    {M_UPPER_PREFIX, KILN_EPARSE},
    {M_MISSING, KILN_EPARSE},
    {M_EMPTY, KILN_EPARSE},
    {M_OTHER_BODY, KILN_EPERM},
    {M_OTHER_KEY, KILN_EPERM},
};

static void make_header(char *out, size_t size, enum mutation m)
{
  char sig[72];

  sign(sig, secret_text, strlen(secret_text), body_text, strlen(body_text),
       m == M_UPPER);
  switch (m) {
  case M_NONE:
  case M_UPPER:
  case M_MISSING:
    snprintf(out, size, "%s", sig);
    break;
  case M_FLIP_LAST:
    sig[70] = sig[70] == '0' ? '1' : '0';
    snprintf(out, size, "%s", sig);
    break;
  case M_FLIP_FIRST:
    sig[7] = sig[7] == 'a' ? 'b' : 'a';
    snprintf(out, size, "%s", sig);
    break;
  case M_SHORT:
    sig[70] = '\0';
    snprintf(out, size, "%s", sig);
    break;
  case M_LONG:
    snprintf(out, size, "%s0", sig);
    break;
  case M_TRAILING_NL:
    snprintf(out, size, "%s\n", sig);
    break;
  case M_NON_HEX:
    sig[20] = 'g';
    snprintf(out, size, "%s", sig);
    break;
  case M_SPACE:
    sig[30] = ' ';
    snprintf(out, size, "%s", sig);
    break;
  case M_NO_PREFIX:
    snprintf(out, size, "%s", sig + 7);
    break;
  case M_SHA1_PREFIX:
    snprintf(out, size, "sha1=%s", sig + 7);
    break;
  case M_UPPER_PREFIX:
    snprintf(out, size, "SHA256=%s", sig + 7);
    break;
  case M_EMPTY:
    out[0] = '\0';
    break;
  case M_OTHER_BODY:
    sign(sig, secret_text, strlen(secret_text), "{}", 2, 0);
    snprintf(out, size, "%s", sig);
    break;
  case M_OTHER_KEY:
    sign(sig, "It's a Secret to Everybodz", strlen(secret_text), body_text,
         strlen(body_text), 0);
    snprintf(out, size, "%s", sig);
    break;
  }
}

static void test_hmac_schemes(void **state)
{
  static const enum kiln_webhook_scheme schemes[] = {KILN_WEBHOOK_GITHUB,
                                                     KILN_WEBHOOK_GENERIC};
  struct kiln_webhook_secret secret;
  char header[160];

  kiln_webhook_secret_init(&secret);
  assert_int_equal(
      kiln_webhook_secret_set(&secret, secret_text, strlen(secret_text)), 0);
  for (size_t s = 0; s < 2; s++) {
    for (size_t i = 0; i < sizeof(hmac_cases) / sizeof(hmac_cases[0]); i++) {
      const struct hmac_case *c = &hmac_cases[i];
      int rc;
      make_header(header, sizeof(header), c->m);
      rc = kiln_webhook_verify(schemes[s], &secret,
                               c->m == M_MISSING ? NULL : header, body_text,
                               strlen(body_text));
      if (rc != c->want)
        fail_msg("scheme %d case %zu: got %s, want %s", (int)schemes[s], i,
                 kiln_err_name(rc), kiln_err_name(c->want));
    }
  }
  kiln_webhook_secret_cleanup(&secret);
}

/* The streaming verifier gives kiln_webhook_verify()'s verdict on every
 * case, whatever the chunks the body comes in (one byte, seven, all). */
static void test_verifier_streams(void **state)
{
  static const size_t chunks[] = {1, 7, 4096};
  struct kiln_webhook_secret secret;
  char header[160];

  (void)state;
  kiln_webhook_secret_init(&secret);
  assert_int_equal(
      kiln_webhook_secret_set(&secret, secret_text, strlen(secret_text)), 0);
  for (size_t i = 0; i < sizeof(hmac_cases) / sizeof(hmac_cases[0]); i++) {
    const struct hmac_case *c = &hmac_cases[i];
    make_header(header, sizeof(header), c->m);
    for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
      struct kiln_webhook_verifier *v = NULL;
      size_t len = strlen(body_text);
      int rc;
      assert_int_equal(
          kiln_webhook_verifier_new(KILN_WEBHOOK_GITHUB, &secret,
                                    c->m == M_MISSING ? NULL : header, &v),
          0);
      for (size_t off = 0; off < len; off += chunks[k])
        kiln_webhook_verifier_update(
            v, body_text + off, len - off < chunks[k] ? len - off : chunks[k]);
      rc = kiln_webhook_verifier_finish(v);
      kiln_webhook_verifier_free(v);
      if (rc != c->want)
        fail_msg("case %zu, chunks of %zu: got %s, want %s", i, chunks[k],
                 kiln_err_name(rc), kiln_err_name(c->want));
    }
  }
  /* GitLab's token needs no body: any body, the token decides. */
  {
    struct kiln_webhook_verifier *v = NULL;
    assert_int_equal(kiln_webhook_verifier_new(KILN_WEBHOOK_GITLAB, &secret,
                                               secret_text, &v),
                     0);
    kiln_webhook_verifier_update(v, "anything", 8);
    assert_int_equal(kiln_webhook_verifier_finish(v), 0);
    kiln_webhook_verifier_free(v);
    assert_int_equal(
        kiln_webhook_verifier_new(KILN_WEBHOOK_GITLAB, &secret, "nope", &v), 0);
    assert_int_equal(kiln_webhook_verifier_finish(v), KILN_EPERM);
    kiln_webhook_verifier_free(v);
  }
  kiln_webhook_secret_cleanup(&secret);
  /* An empty secret: a verifier that refuses. */
  {
    struct kiln_webhook_verifier *v = NULL;
    assert_int_equal(
        kiln_webhook_verifier_new(KILN_WEBHOOK_GENERIC, &secret, NULL, &v), 0);
    assert_int_equal(kiln_webhook_verifier_finish(v), KILN_EPERM);
    kiln_webhook_verifier_free(v);
    assert_int_equal(kiln_webhook_verifier_new((enum kiln_webhook_scheme)7,
                                               &secret, NULL, &v),
                     KILN_EINVAL);
  }
}

static void test_hmac_empty_body_and_binary_secret(void **state)
{
  static const char bin_secret[] = {'a', '\0', 'b', '\n', '\xff'};
  struct kiln_webhook_secret secret;
  char sig[72];

  kiln_webhook_secret_init(&secret);
  assert_int_equal(
      kiln_webhook_secret_set(&secret, bin_secret, sizeof(bin_secret)), 0);
  sign(sig, bin_secret, sizeof(bin_secret), "", 0, 0);
  assert_int_equal(
      kiln_webhook_verify(KILN_WEBHOOK_GITHUB, &secret, sig, NULL, 0), 0);
  /* A NUL inside the secret counts: a truncated key must not match. */
  sign(sig, bin_secret, 1, "", 0, 0);
  assert_int_equal(
      kiln_webhook_verify(KILN_WEBHOOK_GITHUB, &secret, sig, NULL, 0),
      KILN_EPERM);
  kiln_webhook_secret_cleanup(&secret);
}

static void test_empty_secret_rejects_everything(void **state)
{
  struct kiln_webhook_secret secret;
  char sig[72];

  kiln_webhook_secret_init(&secret);
  /* HMAC with an empty key is well defined: a request signed that way must
   * still be refused. */
  sign(sig, "", 0, body_text, strlen(body_text), 0);
  assert_int_equal(kiln_webhook_verify(KILN_WEBHOOK_GITHUB, &secret, sig,
                                       body_text, strlen(body_text)),
                   KILN_EPERM);
  assert_int_equal(kiln_webhook_verify(KILN_WEBHOOK_GENERIC, &secret, sig,
                                       body_text, strlen(body_text)),
                   KILN_EPERM);
  assert_int_equal(
      kiln_webhook_verify(KILN_WEBHOOK_GITLAB, &secret, "", NULL, 0),
      KILN_EPERM);
  assert_int_equal(kiln_webhook_verify(KILN_WEBHOOK_GITLAB, NULL, "x", NULL, 0),
                   KILN_EPERM);
  assert_int_equal(kiln_webhook_secret_set(&secret, "", 0), 0);
  assert_int_equal(
      kiln_webhook_verify(KILN_WEBHOOK_GITLAB, &secret, "", NULL, 0),
      KILN_EPERM);
  kiln_webhook_secret_cleanup(&secret);
}

static void test_gitlab_token(void **state)
{
  static const struct {
    const char *token; /* NULL: header missing */
    int want;
  } cases[] = {
      {"It's a Secret to Everybody", 0},
      {"It's a Secret to Everybodz", KILN_EPERM},
      {"It's a Secret to Everybody ", KILN_EPERM},
      {"It's a Secret to Everybody\n", KILN_EPERM},
      {"It's a Secret", KILN_EPERM},
      {"it's a secret to everybody", KILN_EPERM},
      {"", KILN_EPERM},
      {NULL, KILN_EPARSE},
  };
  struct kiln_webhook_secret secret;

  kiln_webhook_secret_init(&secret);
  assert_int_equal(
      kiln_webhook_secret_set(&secret, secret_text, strlen(secret_text)), 0);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = kiln_webhook_verify(KILN_WEBHOOK_GITLAB, &secret, cases[i].token,
                                 body_text, strlen(body_text));
    if (rc != cases[i].want)
      fail_msg("case %zu: got %s, want %s", i, kiln_err_name(rc),
               kiln_err_name(cases[i].want));
  }
  kiln_webhook_secret_cleanup(&secret);
}

static void test_header_names_and_bad_scheme(void **state)
{
  struct kiln_webhook_secret secret;

  assert_string_equal(kiln_webhook_header_name(KILN_WEBHOOK_GITHUB),
                      "X-Hub-Signature-256");
  assert_string_equal(kiln_webhook_header_name(KILN_WEBHOOK_GITLAB),
                      "X-Gitlab-Token");
  assert_string_equal(kiln_webhook_header_name(KILN_WEBHOOK_GENERIC),
                      "X-Kiln-Signature-256");
  kiln_webhook_secret_init(&secret);
  assert_int_equal(kiln_webhook_secret_set(&secret, "k", 1), 0);
  assert_int_equal(
      kiln_webhook_verify((enum kiln_webhook_scheme)42, &secret, "k", NULL, 0),
      KILN_EINVAL);
  kiln_webhook_secret_cleanup(&secret);
  kiln_webhook_secret_cleanup(&secret);
}

static void test_secret_too_big(void **state)
{
  static char big[KILN_WEBHOOK_MAX_SECRET_BYTES + 1];
  struct kiln_webhook_secret secret;

  kiln_webhook_secret_init(&secret);
  assert_int_equal(kiln_webhook_secret_set(&secret, big, sizeof(big)),
                   KILN_ETOOBIG);
  assert_null(secret.data);
  assert_int_equal(kiln_webhook_secret_set(&secret, big, sizeof(big) - 1), 0);
  kiln_webhook_secret_cleanup(&secret);
}

/* Writes content to a fresh file in a temporary directory with mode. */
static void write_file(char *path, size_t size, const char *dir,
                       const char *name, const void *content, size_t len,
                       mode_t mode)
{
  FILE *f;

  snprintf(path, size, "%s/%s", dir, name);
  f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(content, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(chmod(path, mode), 0);
}

static void test_secret_file(void **state)
{
  static const struct {
    const char *content;
    size_t len; /* 0: strlen */
    mode_t mode;
    int want;
    const char *secret;  /* expected, when want is 0 */
    size_t secret_len;   /* 0: strlen */
    const char *err_has; /* substring of the message on error */
  } cases[] = {
      {"s3cret\n", 0, 0600, 0, "s3cret", 0, NULL},
      {"s3cret", 0, 0400, 0, "s3cret", 0, NULL},
      {"s3cret\r\n", 0, 0600, 0, "s3cret", 0, NULL},
      /* Only one newline is trimmed; leading spaces are kept. */
      {" s3cret\n\n", 0, 0600, 0, " s3cret\n", 0, NULL},
      {"a\0b\n", 4, 0600, 0, "a\0b", 3, NULL},
      {"s3cret\n", 0, 0640, KILN_EPERM, NULL, 0, "chmod 600"},
      {"s3cret\n", 0, 0604, KILN_EPERM, NULL, 0, "mode 0604"},
      {"s3cret\n", 0, 0620, KILN_EPERM, NULL, 0, "group or others"},
      {"s3cret\n", 0, 0666, KILN_EPERM, NULL, 0, "chmod 600"},
      {"", 0, 0600, KILN_EINVAL, NULL, 0, "empty"},
      {"\n", 0, 0600, KILN_EINVAL, NULL, 0, "empty"},
  };
  char dir[] = "/tmp/kiln-webhook-XXXXXX";
  char path[512], err[512];
  struct kiln_webhook_secret secret;

  assert_non_null(mkdtemp(dir));
  kiln_webhook_secret_init(&secret);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t len = cases[i].len ? cases[i].len : strlen(cases[i].content);
    int rc;

    write_file(path, sizeof(path), dir, "secret", cases[i].content, len,
               cases[i].mode);
    err[0] = '\0';
    rc = kiln_webhook_secret_load(&secret, path, err, sizeof(err));
    if (rc != cases[i].want)
      fail_msg("case %zu: got %s (%s), want %s", i, kiln_err_name(rc), err,
               kiln_err_name(cases[i].want));
    if (rc == 0) {
      size_t want_len =
          cases[i].secret_len ? cases[i].secret_len : strlen(cases[i].secret);
      assert_int_equal(secret.len, want_len);
      assert_memory_equal(secret.data, cases[i].secret, want_len);
    } else {
      assert_non_null(strstr(err, path));
      if (strstr(err, cases[i].err_has) == NULL)
        fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err,
                 cases[i].err_has);
      /* The file's content never appears in a message. */
      assert_null(strstr(err, "s3cret"));
    }
    kiln_webhook_secret_cleanup(&secret);
    assert_int_equal(unlink(path), 0);
  }
  assert_int_equal(rmdir(dir), 0);
}

static void test_secret_file_errors(void **state)
{
  static char big[KILN_WEBHOOK_MAX_SECRET_BYTES + 2];
  char dir[] = "/tmp/kiln-webhook-XXXXXX";
  char path[512], err[512];
  struct kiln_webhook_secret secret;

  assert_non_null(mkdtemp(dir));
  kiln_webhook_secret_init(&secret);

  snprintf(path, sizeof(path), "%s/missing", dir);
  assert_int_equal(kiln_webhook_secret_load(&secret, path, err, sizeof(err)),
                   KILN_ENOENT);
  assert_non_null(strstr(err, "missing"));

  /* A directory is not a secret. */
  assert_int_equal(chmod(dir, 0700), 0);
  assert_int_equal(kiln_webhook_secret_load(&secret, dir, err, sizeof(err)),
                   KILN_EINVAL);
  assert_non_null(strstr(err, "is a directory"));

  /* Exactly the limit plus a newline is fine; one byte more is not. */
  memset(big, 'x', sizeof(big));
  big[sizeof(big) - 1] = '\n';
  write_file(path, sizeof(path), dir, "big", big, sizeof(big) - 1, 0600);
  assert_int_equal(kiln_webhook_secret_load(&secret, path, err, sizeof(err)),
                   KILN_ETOOBIG);
  assert_null(secret.data);
  assert_int_equal(unlink(path), 0);
  write_file(path, sizeof(path), dir, "big", big + 1, sizeof(big) - 1, 0600);
  assert_int_equal(kiln_webhook_secret_load(&secret, path, err, sizeof(err)),
                   0);
  assert_int_equal(secret.len, KILN_WEBHOOK_MAX_SECRET_BYTES);
  assert_int_equal(unlink(path), 0);

  /* A failed load keeps the previous secret. */
  write_file(path, sizeof(path), dir, "open", "x\n", 2, 0644);
  assert_int_equal(kiln_webhook_secret_load(&secret, path, NULL, 0),
                   KILN_EPERM);
  assert_int_equal(secret.len, KILN_WEBHOOK_MAX_SECRET_BYTES);
  assert_int_equal(unlink(path), 0);

  kiln_webhook_secret_cleanup(&secret);
  assert_int_equal(rmdir(dir), 0);
}

/* A loaded secret verifies what the test signs with the same bytes. */
static void test_loaded_secret_verifies(void **state)
{
  char dir[] = "/tmp/kiln-webhook-XXXXXX";
  char path[512], sig[72];
  struct kiln_webhook_secret secret;

  assert_non_null(mkdtemp(dir));
  kiln_webhook_secret_init(&secret);
  write_file(path, sizeof(path), dir, "s", "hunter2\n", 8, 0600);
  assert_int_equal(kiln_webhook_secret_load(&secret, path, NULL, 0), 0);
  sign(sig, "hunter2", 7, body_text, strlen(body_text), 0);
  assert_int_equal(kiln_webhook_verify(KILN_WEBHOOK_GENERIC, &secret, sig,
                                       body_text, strlen(body_text)),
                   0);
  sign(sig, "hunter2\n", 8, body_text, strlen(body_text), 0);
  assert_int_equal(kiln_webhook_verify(KILN_WEBHOOK_GENERIC, &secret, sig,
                                       body_text, strlen(body_text)),
                   KILN_EPERM);
  assert_int_equal(
      kiln_webhook_verify(KILN_WEBHOOK_GITLAB, &secret, "hunter2", NULL, 0), 0);
  kiln_webhook_secret_cleanup(&secret);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hmac_schemes),
      cmocka_unit_test(test_verifier_streams),
      cmocka_unit_test(test_hmac_empty_body_and_binary_secret),
      cmocka_unit_test(test_empty_secret_rejects_everything),
      cmocka_unit_test(test_gitlab_token),
      cmocka_unit_test(test_header_names_and_bad_scheme),
      cmocka_unit_test(test_secret_too_big),
      cmocka_unit_test(test_secret_file),
      cmocka_unit_test(test_secret_file_errors),
      cmocka_unit_test(test_loaded_secret_verifies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
