/* The profile provider: static keys, precedence between the two files,
 * and every configuration error it must report instead of skipping. The
 * STS round trips are exercised in tests/credentials_tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "kiln/aws_credentials.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/http.h"

struct fake {
  const char *const *env;
  const char *config;
  const char *credentials;
};

static const char *fake_getenv(void *arg, const char *name)
{
  struct fake *f = arg;
  if (strcmp(name, "AWS_CONFIG_FILE") == 0)
    return "/cfg";
  if (strcmp(name, "AWS_SHARED_CREDENTIALS_FILE") == 0)
    return "/creds";
  if (strcmp(name, "AWS_EC2_METADATA_DISABLED") == 0)
    return "true";
  for (size_t i = 0; f->env != NULL && f->env[i] != NULL; i += 2)
    if (strcmp(f->env[i], name) == 0)
      return f->env[i + 1];
  return NULL;
}

static int fake_read(void *arg, const char *path, struct kiln_buf *out)
{
  struct fake *f = arg;
  const char *text = strcmp(path, "/cfg") == 0     ? f->config
                     : strcmp(path, "/creds") == 0 ? f->credentials
                                                   : NULL;
  return text != NULL ? kiln_buf_puts(out, text) : KILN_ENOENT;
}

struct result {
  int calls, status;
  char akid[64], token[64];
  char source[KILN_AWS_SOURCE_MAX];
  char message[1024];
};

static void on_result(int status, struct kiln_aws_credentials *creds,
                      const char *message, void *data)
{
  struct result *r = data;
  r->calls++;
  r->status = status;
  if (creds != NULL) {
    snprintf(r->akid, sizeof(r->akid), "%s", creds->access_key_id);
    snprintf(r->token, sizeof(r->token), "%s",
             creds->session_token != NULL ? creds->session_token : "");
    snprintf(r->source, sizeof(r->source), "%s", creds->source);
  }
  snprintf(r->message, sizeof(r->message), "%s", message);
}

/* Resolves the config from f, builds the profile provider (or the default
 * chain when chain is set) and runs one get. Returns what get() returned. */
static int run(struct fake *f, int chain, struct result *r)
{
  struct kiln_aws_config_options co = {fake_getenv, f, fake_read, f};
  struct kiln_aws_credentials_options o;
  struct kiln_aws_credentials_provider *p;
  struct kiln_http_client *http;
  struct kiln_aws_config cfg;
  uv_loop_t loop;
  int err;

  memset(r, 0, sizeof(*r));
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(kiln_aws_config_resolve(&cfg, &co), 0);
  assert_int_equal(kiln_http_client_new(&loop, NULL, &http), 0);
  memset(&o, 0, sizeof(o));
  o.loop = &loop;
  o.config = &cfg;
  o.http = http;
  if (chain)
    assert_int_equal(kiln_aws_credentials_provider_new_default(&o, &p), 0);
  else
    assert_int_equal(kiln_aws_credentials_provider_new_profile(&o, &p), 0);
  kiln_aws_config_cleanup(&cfg); /* providers copy what they need */
  err = kiln_aws_credentials_get(p, on_result, r);
  assert_int_equal(r->calls, 0);
  kiln_aws_credentials_provider_unref(p); /* a pending get keeps it */
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(r->calls, err == 0 ? 1 : 0);
  kiln_http_client_close(http, NULL, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
  return err;
}

static void test_static_keys_credentials_file_wins(void **state)
{
  static const char *const env[] = {"AWS_PROFILE", "dev", NULL};
  struct fake f = {env,
                   "[profile dev]\n"
                   "aws_access_key_id = AKIDCONFIG\n"
                   "aws_secret_access_key = fromconfig\n",
                   "[dev]\n"
                   "aws_access_key_id = AKIDCREDS\n"
                   "aws_secret_access_key = fromcreds\n"
                   "aws_session_token = TOKCREDS\n"};
  struct result r;

  assert_int_equal(run(&f, 0, &r), 0);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.akid, "AKIDCREDS");
  assert_string_equal(r.token, "TOKCREDS");
  assert_string_equal(r.source, "profile dev");
}

static void test_default_profile_from_config_file(void **state)
{
  struct fake f = {NULL,
                   "[default]\n"
                   "aws_access_key_id = AKIDDEFAULT\n"
                   "aws_secret_access_key = s\n",
                   NULL};
  struct result r;

  assert_int_equal(run(&f, 1, &r), 0);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.akid, "AKIDDEFAULT");
  assert_string_equal(r.source, "profile default");
}

static void test_chain_env_beats_profile(void **state)
{
  static const char *const env[] = {"AWS_PROFILE",
                                    "dev",
                                    "AWS_ACCESS_KEY_ID",
                                    "AKIDENV",
                                    "AWS_SECRET_ACCESS_KEY",
                                    "s",
                                    NULL};
  struct fake f = {env, NULL,
                   "[dev]\naws_access_key_id = AKIDCREDS\n"
                   "aws_secret_access_key = s\n"};
  struct result r;

  assert_int_equal(run(&f, 1, &r), 0);
  assert_string_equal(r.source, "env");
}

static void test_missing_profiles(void **state)
{
  static const char *const env[] = {"AWS_PROFILE", "nope", NULL};
  struct fake explicit_missing = {env, "[default]\nregion = us-east-1\n", NULL};
  struct fake default_missing = {NULL, NULL, NULL};
  struct fake no_keys = {NULL, "[default]\nregion = us-east-1\n", NULL};
  struct result r;

  assert_int_equal(run(&explicit_missing, 0, &r), 0);
  assert_int_equal(r.status, KILN_ECREDENTIALS);
  assert_non_null(strstr(r.message, "profile nope (AWS_PROFILE) is not in "
                                    "/cfg or /creds"));
  /* In the chain too: an explicit profile that is missing is an error, not
   * a reason to try the next provider. */
  assert_int_equal(run(&explicit_missing, 1, &r), 0);
  assert_int_equal(r.status, KILN_ECREDENTIALS);
  assert_non_null(strstr(r.message, "profile nope"));

  assert_int_equal(run(&default_missing, 0, &r), KILN_ENOENT);
  assert_int_equal(run(&no_keys, 0, &r), KILN_ENOENT);
}

static void test_configuration_errors(void **state)
{
  static const struct {
    const char *config;
    int status;
    const char *needle;
  } cases[] = {
      {"[default]\naws_access_key_id = A\n", KILN_EINVAL,
       "has aws_access_key_id but no aws_secret_access_key"},
      {"[default]\nrole_arn = arn:aws:iam::1:role/r\n", KILN_EINVAL,
       "without source_profile, credential_source"},
      {"[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = b\n"
       "credential_source = Environment\n",
       KILN_EINVAL, "both source_profile and credential_source"},
      {"[default]\nrole_arn = arn:aws:iam::1:role/r\n"
       "credential_source = Laptop\n",
       KILN_EINVAL, "credential_source = Laptop"},
      {"[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = ghost\n",
       KILN_EINVAL, "source_profile ghost does not exist"},
      {"[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = a\n"
       "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n"
       "[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = a\n",
       KILN_EINVAL, "source_profile loop: default -> a -> b -> a"},
      {"[default]\nrole_arn = arn:aws:iam::1:role/r\n"
       "source_profile = default\n",
       KILN_EINVAL, "source_profile loop"},
      {"[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = a\n"
       "[profile a]\nregion = us-east-1\n",
       KILN_ECREDENTIALS, "source_profile a has no credentials"},
      {"[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = a\n"
       "duration_seconds = 60\n"
       "[profile a]\naws_access_key_id = A\naws_secret_access_key = s\n",
       KILN_EINVAL, "duration_seconds = 60"},
      {"[default]\nsso_session = corp\n", KILN_EUNSUPPORTED, "SSO"},
      {"[default]\ncredential_process = /bin/creds\n", KILN_EUNSUPPORTED,
       "credential_process"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct fake f = {NULL, cases[i].config, NULL};
    struct result r;
    assert_int_equal(run(&f, 0, &r), 0);
    if (r.status != cases[i].status ||
        strstr(r.message, cases[i].needle) == NULL)
      fail_msg("case %zu: status %d message \"%s\"", i, r.status, r.message);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_static_keys_credentials_file_wins),
      cmocka_unit_test(test_default_profile_from_config_file),
      cmocka_unit_test(test_chain_env_beats_profile),
      cmocka_unit_test(test_missing_profiles),
      cmocka_unit_test(test_configuration_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
