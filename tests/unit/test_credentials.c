/* Credentials object, env provider, the chain's order and the cache's
 * refresh, with an injected clock and scripted providers on a real loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "../../aws/credentials_private.h"
#include "kiln/aws_credentials.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/http.h"
#include "kiln/sigv4.h"

/* ---- Fixtures --------------------------------------------------------- */

static int64_t now_ms;

static int64_t fake_clock(void *arg)
{
  return now_ms;
}

struct fake_env {
  const char *const *env;
};

static const char *fake_getenv(void *arg, const char *name)
{
  struct fake_env *f = arg;
  for (size_t i = 0; f->env != NULL && f->env[i] != NULL; i += 2)
    if (strcmp(f->env[i], name) == 0)
      return f->env[i + 1];
  return NULL;
}

static int no_files(void *arg, const char *path, struct kiln_buf *out)
{
  return KILN_ENOENT;
}

struct fixture {
  uv_loop_t loop;
  struct kiln_aws_config cfg;
  struct kiln_aws_credentials_options o;
};

static void fixture_init(struct fixture *f, const char *const *env)
{
  struct fake_env fe = {env};
  struct kiln_aws_config_options co = {fake_getenv, &fe, no_files, NULL};

  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(kiln_aws_config_resolve(&f->cfg, &co), 0);
  memset(&f->o, 0, sizeof(f->o));
  f->o.loop = &f->loop;
  f->o.config = &f->cfg;
  f->o.clock = fake_clock;
  f->o.refresh_before_ms = 10 * 60 * 1000;
}

static void fixture_cleanup(struct fixture *f)
{
  kiln_aws_config_cleanup(&f->cfg);
  assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* What a get delivered. */
struct result {
  int calls;
  int status;
  char akid[64];
  char source[KILN_AWS_SOURCE_MAX];
  char message[1024];
  int returned; /* the get() call had returned when the callback ran */
};

static void on_result(int status, struct kiln_aws_credentials *creds,
                      const char *message, void *data)
{
  struct result *r = data;
  r->calls++;
  r->status = status;
  snprintf(r->akid, sizeof(r->akid), "%s",
           creds != NULL ? creds->access_key_id : "");
  snprintf(r->source, sizeof(r->source), "%s",
           creds != NULL ? creds->source : "");
  snprintf(r->message, sizeof(r->message), "%s", message);
  if (status == 0)
    assert_non_null(creds);
  else
    assert_null(creds);
}

static void get(struct fixture *f, struct kiln_aws_credentials_provider *p,
                struct result *r)
{
  memset(r, 0, sizeof(*r));
  assert_int_equal(kiln_aws_credentials_get(p, on_result, r), 0);
  /* Callbacks are never synchronous. */
  assert_int_equal(r->calls, 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r->calls, 1);
}

/* A scripted provider: answers ENOENT synchronously, or holds every get
 * until the test completes them, counting calls. */
struct scripted {
  struct kiln_aws_credentials_provider base;
  int sync_enoent;
  int gets;
  struct {
    kiln_aws_credentials_cb *cb;
    void *data;
  } pending[16];
  int npending;
  int destroyed;
};

static int scripted_get(struct kiln_aws_credentials_provider *p,
                        kiln_aws_credentials_cb *cb, void *data)
{
  struct scripted *s = container_of(p, struct scripted, base);
  s->gets++;
  if (s->sync_enoent)
    return KILN_ENOENT;
  assert_true(s->npending < 16);
  s->pending[s->npending].cb = cb;
  s->pending[s->npending].data = data;
  s->npending++;
  return 0;
}

static void scripted_destroy(struct kiln_aws_credentials_provider *p)
{
  struct scripted *s = container_of(p, struct scripted, base);
  s->destroyed = 1;
}

static const struct kiln__provider_vtable scripted_vt = {
    "scripted", scripted_get, scripted_destroy};

static void scripted_init(struct scripted *s, struct fixture *f)
{
  memset(s, 0, sizeof(*s));
  kiln__provider_init(&s->base, &scripted_vt, &f->o);
}

/* Completes every held get with (status, creds). */
static void scripted_complete(struct scripted *s, int status, const char *akid,
                              int64_t expiration_ms)
{
  struct kiln_aws_credentials *c = NULL;
  int n = s->npending;

  if (status == 0)
    assert_int_equal(kiln_aws_credentials_new(akid, "secret", "token", NULL,
                                              expiration_ms, "scripted", &c),
                     0);
  s->npending = 0;
  for (int i = 0; i < n; i++)
    s->pending[i].cb(status, c, status == 0 ? "" : "scripted failure",
                     s->pending[i].data);
  kiln_aws_credentials_unref(c);
}

/* ---- Credentials ------------------------------------------------------ */

static void test_credentials_describe_is_redacted(void **state)
{
  struct kiln_aws_credentials *c;
  struct kiln_sigv4_credentials sc;
  char out[256];

  assert_int_equal(kiln_aws_credentials_new(
                       "ASIAEXAMPLEKEYID", "wJalrXUtnFEMI/SECRET", "TOKENXYZ",
                       "123456789012", 1704067200000, "imds web", &c),
                   0);
  kiln_aws_credentials_describe(c, out, sizeof(out));
  assert_string_equal(out, "ASIA… from imds web, temporary, expires "
                           "2024-01-01T00:00:00Z");
  assert_null(strstr(out, "EXAMPLE"));
  assert_null(strstr(out, "SECRET"));
  assert_null(strstr(out, "TOKEN"));
  kiln_aws_credentials_sigv4(c, &sc);
  assert_string_equal(sc.secret_access_key, "wJalrXUtnFEMI/SECRET");
  assert_string_equal(sc.session_token, "TOKENXYZ");
  assert_string_equal(c->account_id, "123456789012");
  kiln_aws_credentials_ref(c);
  kiln_aws_credentials_unref(c);
  kiln_aws_credentials_unref(c);

  assert_int_equal(
      kiln_aws_credentials_new("AKIA", "s", "", NULL, 0, "env", &c), 0);
  assert_null(c->session_token);
  kiln_aws_credentials_describe(c, out, sizeof(out));
  assert_string_equal(out, "AKIA… from env");
  kiln_aws_credentials_unref(c);
  assert_int_equal(kiln_aws_credentials_new("", "s", NULL, NULL, 0, "x", &c),
                   KILN_EINVAL);
  assert_int_equal(kiln_aws_credentials_new("A", NULL, NULL, NULL, 0, "x", &c),
                   KILN_EINVAL);
}

static void test_parse_time(void **state)
{
  static const struct {
    const char *in;
    int64_t ms;
  } ok[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"2024-01-01T00:00:00Z", 1704067200000},
      {"2024-02-29T12:34:56Z", 1709210096000},
      {"2024-01-01T00:00:00.250Z", 1704067200250},
      {"2024-01-01T01:00:00+01:00", 1704067200000},
      {"2023-12-31T19:00:00-05:00", 1704067200000},
  };
  static const char *const bad[] = {
      "",
      "2024-01-01",
      "2024-01-01T00:00:00",
      "2024-13-01T00:00:00Z",
      "2024-01-01T00:00:00Zjunk",
      "2024-01-01 00:00:00Z",
      "x024-01-01T00:00:00Z",
  };
  int64_t ms;

  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    assert_int_equal(kiln_aws_parse_time(ok[i].in, &ms), 0);
    assert_int_equal(ms, ok[i].ms);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(kiln_aws_parse_time(bad[i], &ms), KILN_EPARSE);
}

/* ---- Env -------------------------------------------------------------- */

static void test_env_provider(void **state)
{
  static const char *const env[] = {"AWS_ACCESS_KEY_ID",
                                    "AKIDENV",
                                    "AWS_SECRET_ACCESS_KEY",
                                    "s",
                                    "AWS_SESSION_TOKEN",
                                    "t",
                                    NULL};
  static const char *const half[] = {"AWS_ACCESS_KEY_ID", "AKIDENV", NULL};
  struct kiln_aws_credentials_provider *p;
  struct fixture f;
  struct result r;

  fixture_init(&f, env);
  assert_int_equal(kiln_aws_credentials_provider_new_env(&f.o, &p), 0);
  get(&f, p, &r);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.akid, "AKIDENV");
  assert_string_equal(r.source, "env");
  kiln_aws_credentials_provider_unref(p);
  fixture_cleanup(&f);

  fixture_init(&f, NULL);
  assert_int_equal(kiln_aws_credentials_provider_new_env(&f.o, &p), 0);
  assert_int_equal(kiln_aws_credentials_get(p, on_result, &r), KILN_ENOENT);
  kiln_aws_credentials_provider_unref(p);
  fixture_cleanup(&f);

  fixture_init(&f, half);
  assert_int_equal(kiln_aws_credentials_provider_new_env(&f.o, &p), 0);
  get(&f, p, &r);
  assert_int_equal(r.status, KILN_ECREDENTIALS);
  assert_non_null(strstr(r.message, "AWS_SECRET_ACCESS_KEY is not"));
  kiln_aws_credentials_provider_unref(p);
  fixture_cleanup(&f);
}

/* ---- Chain ------------------------------------------------------------ */

static void test_chain_order_first_configured_wins(void **state)
{
  struct scripted a, b, c;
  struct kiln_aws_credentials_provider *list[3] = {&a.base, &b.base, &c.base};
  struct kiln_aws_credentials_provider *chain;
  struct fixture f;
  struct result r;

  fixture_init(&f, NULL);
  scripted_init(&a, &f);
  scripted_init(&b, &f);
  scripted_init(&c, &f);
  a.sync_enoent = 1; /* not configured */
  assert_int_equal(
      kiln_aws_credentials_provider_new_chain(&f.o, list, 3, &chain), 0);
  for (int i = 0; i < 3; i++)
    kiln_aws_credentials_provider_unref(list[i]); /* the chain holds them */

  memset(&r, 0, sizeof(r));
  assert_int_equal(kiln_aws_credentials_get(chain, on_result, &r), 0);
  assert_int_equal(a.gets, 1);
  assert_int_equal(b.gets, 1);
  assert_int_equal(c.gets, 0);
  /* b answers "not configured" asynchronously: c is asked next. */
  scripted_complete(&b, KILN_ENOENT, NULL, 0);
  assert_int_equal(c.gets, 1);
  assert_int_equal(r.calls, 0);
  scripted_complete(&c, 0, "AKIDC", 0);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.akid, "AKIDC");

  /* A configured provider that fails stops the chain. */
  memset(&r, 0, sizeof(r));
  assert_int_equal(kiln_aws_credentials_get(chain, on_result, &r), 0);
  scripted_complete(&b, KILN_EAWS, NULL, 0);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.status, KILN_EAWS);
  assert_int_equal(c.gets, 1);

  /* Nothing configured at all: ECREDENTIALS naming what was tried. */
  b.sync_enoent = c.sync_enoent = 1;
  get(&f, chain, &r);
  assert_int_equal(r.status, KILN_ECREDENTIALS);
  assert_non_null(strstr(r.message, "scripted: not configured"));

  kiln_aws_credentials_provider_unref(chain);
  assert_true(a.destroyed && b.destroyed && c.destroyed);
  fixture_cleanup(&f);
}

static void test_default_chain_order_env_beats_profile(void **state)
{
  static const char *const env[] = {"AWS_ACCESS_KEY_ID",
                                    "AKIDENV",
                                    "AWS_SECRET_ACCESS_KEY",
                                    "s",
                                    "AWS_EC2_METADATA_DISABLED",
                                    "true",
                                    NULL};
  static const char *const none[] = {"AWS_EC2_METADATA_DISABLED", "true", NULL};
  struct kiln_aws_credentials_provider *p;
  struct kiln_http_client *http;
  struct fixture f;
  struct result r;

  fixture_init(&f, env);
  assert_int_equal(kiln_http_client_new(&f.loop, NULL, &http), 0);
  f.o.http = http;
  assert_int_equal(kiln_aws_credentials_provider_new_default(&f.o, &p), 0);
  assert_string_equal(kiln_aws_credentials_provider_kind(p), "cache");
  get(&f, p, &r);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.source, "env");
  kiln_aws_credentials_provider_unref(p);
  kiln_http_client_close(http, NULL, NULL);
  fixture_cleanup(&f);

  fixture_init(&f, none);
  assert_int_equal(kiln_http_client_new(&f.loop, NULL, &http), 0);
  f.o.http = http;
  assert_int_equal(kiln_aws_credentials_provider_new_default(&f.o, &p), 0);
  get(&f, p, &r);
  assert_int_equal(r.status, KILN_ECREDENTIALS);
  assert_non_null(strstr(r.message, "env: not configured; profile: not "
                                    "configured; web-identity: not "
                                    "configured; container: not configured; "
                                    "imds: not configured"));
  kiln_aws_credentials_provider_unref(p);
  kiln_http_client_close(http, NULL, NULL);
  fixture_cleanup(&f);
}

/* ---- Cache ------------------------------------------------------------ */

#define MINUTE (60 * 1000LL)

static void test_cache_refreshes_before_expiry_and_shares(void **state)
{
  struct kiln_aws_credentials_provider *cache;
  struct scripted src;
  struct fixture f;
  struct result r[3];

  fixture_init(&f, NULL);
  scripted_init(&src, &f);
  assert_int_equal(
      kiln_aws_credentials_provider_new_cached(&f.o, &src.base, &cache), 0);
  kiln_aws_credentials_provider_unref(&src.base); /* the cache holds it */

  /* Three concurrent gets share one fetch. */
  now_ms = 1000 * MINUTE;
  memset(r, 0, sizeof(r));
  for (int i = 0; i < 3; i++)
    assert_int_equal(kiln_aws_credentials_get(cache, on_result, &r[i]), 0);
  assert_int_equal(src.gets, 1);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  assert_int_equal(r[0].calls, 0);
  scripted_complete(&src, 0, "AKID1", now_ms + 60 * MINUTE);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(r[i].calls, 1);
    assert_string_equal(r[i].akid, "AKID1");
  }

  /* 49 minutes later, 11 remain: still served from the cache. */
  now_ms += 49 * MINUTE;
  get(&f, cache, &r[0]);
  assert_string_equal(r[0].akid, "AKID1");
  assert_int_equal(src.gets, 1);

  /* One more minute: 10 remain, inside the window: one refresh. */
  now_ms += 1 * MINUTE;
  memset(r, 0, sizeof(r));
  assert_int_equal(kiln_aws_credentials_get(cache, on_result, &r[0]), 0);
  assert_int_equal(kiln_aws_credentials_get(cache, on_result, &r[1]), 0);
  assert_int_equal(src.gets, 2);
  scripted_complete(&src, 0, "AKID2", now_ms + 60 * MINUTE);
  assert_string_equal(r[0].akid, "AKID2");
  assert_string_equal(r[1].akid, "AKID2");

  /* A failed refresh while the old credentials are still valid serves
   * them. */
  now_ms += 55 * MINUTE;
  memset(r, 0, sizeof(r));
  assert_int_equal(kiln_aws_credentials_get(cache, on_result, &r[0]), 0);
  assert_int_equal(src.gets, 3);
  scripted_complete(&src, KILN_ECONN, NULL, 0);
  assert_int_equal(r[0].status, 0);
  assert_string_equal(r[0].akid, "AKID2");

  /* Once expired, a failure is a failure. */
  now_ms += 10 * MINUTE;
  memset(r, 0, sizeof(r));
  assert_int_equal(kiln_aws_credentials_get(cache, on_result, &r[0]), 0);
  assert_int_equal(src.gets, 4);
  scripted_complete(&src, KILN_ECONN, NULL, 0);
  assert_int_equal(r[0].status, KILN_ECONN);
  assert_string_equal(r[0].message, "scripted failure");

  kiln_aws_credentials_provider_unref(cache);
  assert_true(src.destroyed);
  fixture_cleanup(&f);
}

static void test_cache_keeps_long_term_credentials(void **state)
{
  struct kiln_aws_credentials_provider *cache;
  struct scripted src;
  struct fixture f;
  struct result r;

  fixture_init(&f, NULL);
  scripted_init(&src, &f);
  assert_int_equal(
      kiln_aws_credentials_provider_new_cached(&f.o, &src.base, &cache), 0);
  kiln_aws_credentials_provider_unref(&src.base); /* the cache holds it */
  memset(&r, 0, sizeof(r));
  assert_int_equal(kiln_aws_credentials_get(cache, on_result, &r), 0);
  scripted_complete(&src, 0, "AKIDLONG", 0);
  now_ms += 1000 * 24 * 60 * MINUTE;
  get(&f, cache, &r);
  assert_string_equal(r.akid, "AKIDLONG");
  assert_int_equal(src.gets, 1);
  kiln_aws_credentials_provider_unref(cache);
  fixture_cleanup(&f);
}

static void test_provider_outlives_release_while_pending(void **state)
{
  struct kiln_aws_credentials_provider *cache;
  struct scripted src;
  struct fixture f;
  struct result r;

  fixture_init(&f, NULL);
  scripted_init(&src, &f);
  assert_int_equal(
      kiln_aws_credentials_provider_new_cached(&f.o, &src.base, &cache), 0);
  kiln_aws_credentials_provider_unref(&src.base); /* the cache holds it */
  memset(&r, 0, sizeof(r));
  assert_int_equal(kiln_aws_credentials_get(cache, on_result, &r), 0);
  kiln_aws_credentials_provider_unref(cache); /* a get is in flight */
  assert_false(src.destroyed);
  scripted_complete(&src, 0, "AKID", 0);
  assert_int_equal(r.calls, 1);
  assert_true(src.destroyed);
  fixture_cleanup(&f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_credentials_describe_is_redacted),
      cmocka_unit_test(test_parse_time),
      cmocka_unit_test(test_env_provider),
      cmocka_unit_test(test_chain_order_first_configured_wins),
      cmocka_unit_test(test_default_chain_order_env_beats_profile),
      cmocka_unit_test(test_cache_refreshes_before_expiry_and_shares),
      cmocka_unit_test(test_cache_keeps_long_term_credentials),
      cmocka_unit_test(test_provider_outlives_release_while_pending),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
