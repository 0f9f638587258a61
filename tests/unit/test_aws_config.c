/* Shared config/credentials file parsing and configuration resolution,
 * with a table for the environment and one for the files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kiln/aws_config.h"
#include "kiln/aws_endpoint.h"
#include "kiln/buf.h"
#include "kiln/error.h"

struct fake {
  const char *const *env;   /* NAME, VALUE, ..., NULL */
  const char *const *files; /* PATH, CONTENTS, ..., NULL */
  int reads;
};

static const char *fake_getenv(void *arg, const char *name)
{
  struct fake *f = arg;
  for (size_t i = 0; f->env != NULL && f->env[i] != NULL; i += 2)
    if (strcmp(f->env[i], name) == 0)
      return f->env[i + 1];
  return NULL;
}

static int fake_read(void *arg, const char *path, struct kiln_buf *out)
{
  struct fake *f = arg;
  f->reads++;
  for (size_t i = 0; f->files != NULL && f->files[i] != NULL; i += 2)
    if (strcmp(f->files[i], path) == 0)
      return kiln_buf_puts(out, f->files[i + 1]);
  return KILN_ENOENT;
}

static int resolve(struct kiln_aws_config *cfg, struct fake *f)
{
  struct kiln_aws_config_options o = {fake_getenv, f, fake_read, f};
  return kiln_aws_config_resolve(cfg, &o);
}

/* ---- INI -------------------------------------------------------------- */

static void test_ini_sections_comments_whitespace(void **state)
{
  static const char text[] = "# comment\n"
                             "; another\n"
                             "[default]\n"
                             "region=us-west-2\n"
                             "  \n"
                             "[profile dev]   # trailing comment\n"
                             "  Region   =   eu-west-1   ; inline\n"
                             "output = json#not-a-comment\n"
                             "[profile  spaced name ]\r\n"
                             "region = ap-south-1\r\n"
                             "[dev]\n"
                             "region = ignored-in-config\n"
                             "[profiledev2]\n"
                             "region = not-a-profile\n";
  struct kiln_aws_ini ini;

  assert_int_equal(kiln_aws_ini_parse(&ini, KILN_AWS_INI_CONFIG, text,
                                      sizeof(text) - 1, NULL),
                   0);
  assert_string_equal(
      kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "default", "region"),
      "us-west-2");
  assert_string_equal(
      kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "dev", "region"),
      "eu-west-1");
  assert_string_equal(
      kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "dev", "output"),
      "json#not-a-comment");
  assert_string_equal(
      kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "spaced name", "region"),
      "ap-south-1");
  assert_null(kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "profiledev2",
                               "region"));
  assert_false(kiln_aws_ini_has(&ini, KILN_AWS_SECTION_PROFILE, "dev2"));
  kiln_aws_ini_cleanup(&ini);
}

static void test_ini_credentials_file_names(void **state)
{
  static const char text[] = "[dev]\n"
                             "aws_access_key_id = AKIDDEV\n"
                             "[profile prod]\n"
                             "aws_access_key_id = AKIDPROD\n";
  struct kiln_aws_ini ini;

  assert_int_equal(kiln_aws_ini_parse(&ini, KILN_AWS_INI_CREDENTIALS, text,
                                      sizeof(text) - 1, NULL),
                   0);
  assert_string_equal(kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "dev",
                                       "aws_access_key_id"),
                      "AKIDDEV");
  /* In the credentials file the "profile " prefix is part of the name. */
  assert_null(kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "prod",
                               "aws_access_key_id"));
  assert_string_equal(kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE,
                                       "profile prod", "aws_access_key_id"),
                      "AKIDPROD");
  kiln_aws_ini_cleanup(&ini);
}

static void test_ini_nested_and_continuation(void **state)
{
  static const char text[] = "[profile a]\n"
                             "s3 =\n"
                             "  max_concurrent_requests = 10\n"
                             "  region = nested-is-not-top-level\n"
                             "region = us-east-2\n"
                             "motd = first\n"
                             "  second\n"
                             "[services local]\n"
                             "ec2 =\n"
                             "  endpoint_url = http://127.0.0.1:5000\n"
                             "auto_scaling =\n"
                             "  endpoint_url = http://127.0.0.1:5001\n";
  struct kiln_aws_ini ini;

  assert_int_equal(kiln_aws_ini_parse(&ini, KILN_AWS_INI_CONFIG, text,
                                      sizeof(text) - 1, NULL),
                   0);
  assert_string_equal(
      kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "a", "region"),
      "us-east-2");
  assert_string_equal(
      kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "a", "s3"), "");
  assert_string_equal(kiln_aws_ini_get_sub(&ini, KILN_AWS_SECTION_PROFILE, "a",
                                           "s3", "max_concurrent_requests"),
                      "10");
  assert_string_equal(
      kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "a", "motd"),
      "first\nsecond");
  assert_string_equal(kiln_aws_ini_get_sub(&ini, KILN_AWS_SECTION_SERVICES,
                                           "local", "ec2", "endpoint_url"),
                      "http://127.0.0.1:5000");
  assert_string_equal(kiln_aws_ini_get_sub(&ini, KILN_AWS_SECTION_SERVICES,
                                           "local", "auto_scaling",
                                           "endpoint_url"),
                      "http://127.0.0.1:5001");
  kiln_aws_ini_cleanup(&ini);
}

static void test_ini_profile_default_precedence_and_merge(void **state)
{
  static const char text[] = "[profile default]\n"
                             "region = from-prefixed\n"
                             "[default]\n"
                             "region = from-plain\n"
                             "output = text\n"
                             "[profile x]\n"
                             "region = one\n"
                             "REGION = two\n"
                             "[profile x]\n"
                             "output = json\n";
  struct kiln_aws_ini ini;

  assert_int_equal(kiln_aws_ini_parse(&ini, KILN_AWS_INI_CONFIG, text,
                                      sizeof(text) - 1, NULL),
                   0);
  assert_string_equal(
      kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "default", "region"),
      "from-prefixed");
  /* [default] is hidden entirely once [profile default] exists. */
  assert_null(
      kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "default", "output"));
  assert_string_equal(
      kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "x", "region"), "two");
  assert_string_equal(
      kiln_aws_ini_get(&ini, KILN_AWS_SECTION_PROFILE, "x", "output"), "json");
  kiln_aws_ini_cleanup(&ini);
}

static void test_ini_errors(void **state)
{
  static const struct {
    const char *text;
    unsigned line;
  } cases[] = {
      {"region = x\n", 1},           /* property before any section */
      {"[default]\nno equals\n", 2}, /* not a property */
      {"[default\n", 1},             /* unclosed section */
      {"[default] junk\n", 1},       /* junk after section */
      {"[default]\n = value\n", 2},  /* empty key */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct kiln_aws_ini ini;
    unsigned line = 0;
    assert_int_equal(kiln_aws_ini_parse(&ini, KILN_AWS_INI_CONFIG,
                                        cases[i].text, strlen(cases[i].text),
                                        &line),
                     KILN_EPARSE);
    assert_int_equal(line, cases[i].line);
  }
}

static void test_ini_size_limit(void **state)
{
  size_t n = KILN_AWS_CONFIG_MAX_FILE_BYTES + 1;
  char *big = malloc(n);
  struct kiln_aws_ini ini;

  assert_non_null(big);
  memset(big, '#', n);
  assert_int_equal(kiln_aws_ini_parse(&ini, KILN_AWS_INI_CONFIG, big, n, NULL),
                   KILN_ETOOBIG);
  free(big);
}

/* ---- Resolution ------------------------------------------------------- */

static void test_resolve_defaults_without_files(void **state)
{
  static const char *const env[] = {"HOME", "/home/k", NULL};
  struct fake f = {env, NULL, 0};
  struct kiln_aws_config cfg;

  assert_int_equal(resolve(&cfg, &f), 0);
  assert_string_equal(cfg.profile, "default");
  assert_false(cfg.profile_explicit);
  assert_false(cfg.profile_exists);
  assert_string_equal(cfg.config_path, "/home/k/.aws/config");
  assert_string_equal(cfg.credentials_path, "/home/k/.aws/credentials");
  assert_int_equal(f.reads, 2);
  assert_null(cfg.region);
  assert_int_equal(cfg.max_attempts, 3);
  assert_int_equal(cfg.retry_mode, KILN_AWS_RETRY_STANDARD);
  assert_string_equal(cfg.imds_endpoint, "http://169.254.169.254");
  assert_int_equal(cfg.imds_timeout_ms, 1000);
  assert_false(cfg.imds_disabled);
  kiln_aws_config_cleanup(&cfg);
}

static void test_resolve_region_order(void **state)
{
  static const char *const files[] = {"/h/.aws/config",
                                      "[default]\nregion = eu-west-3\n"
                                      "[profile p]\nregion = ap-east-1\n",
                                      NULL};
  static const struct {
    const char *env[8];
    const char *region, *source;
  } cases[] = {
      {{"HOME", "/h", NULL}, "eu-west-3", "profile default"},
      {{"HOME", "/h", "AWS_PROFILE", "p", NULL}, "ap-east-1", "profile p"},
      {{"HOME", "/h", "AWS_DEFAULT_REGION", "us-west-1", NULL},
       "us-west-1",
       "AWS_DEFAULT_REGION"},
      {{"HOME", "/h", "AWS_DEFAULT_REGION", "us-west-1", "AWS_REGION",
        "cn-north-1", NULL},
       "cn-north-1",
       "AWS_REGION"},
      {{"HOME", "/h", "AWS_REGION", "", NULL}, "eu-west-3", "profile default"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct fake f = {cases[i].env, files, 0};
    struct kiln_aws_config cfg;
    assert_int_equal(resolve(&cfg, &f), 0);
    assert_string_equal(cfg.region, cases[i].region);
    assert_string_equal(cfg.region_source, cases[i].source);
    kiln_aws_config_cleanup(&cfg);
  }
}

static void test_resolve_files_from_env_and_precedence(void **state)
{
  static const char *const env[] = {"AWS_CONFIG_FILE",
                                    "/etc/kiln/config",
                                    "AWS_SHARED_CREDENTIALS_FILE",
                                    "/etc/kiln/creds",
                                    "AWS_PROFILE",
                                    "ci",
                                    NULL};
  static const char *const files[] = {
      "/etc/kiln/config",
      "[profile ci]\n"
      "aws_access_key_id = AKIDFROMCONFIG\n"
      "region = us-east-2\n"
      "max_attempts = 7\n"
      "retry_mode = adaptive\n"
      "ca_bundle = /etc/ssl/ci.pem\n",
      "/etc/kiln/creds", "[ci]\naws_access_key_id = AKIDFROMCREDS\n", NULL};
  struct fake f = {env, files, 0};
  struct kiln_aws_config cfg;

  assert_int_equal(resolve(&cfg, &f), 0);
  assert_true(cfg.profile_explicit);
  assert_true(cfg.profile_exists);
  assert_string_equal(cfg.profile, "ci");
  assert_string_equal(
      kiln_aws_config_profile_get(&cfg, "ci", "aws_access_key_id"),
      "AKIDFROMCREDS");
  assert_string_equal(cfg.region, "us-east-2");
  assert_int_equal(cfg.max_attempts, 7);
  assert_int_equal(cfg.retry_mode, KILN_AWS_RETRY_ADAPTIVE);
  assert_string_equal(cfg.ca_bundle, "/etc/ssl/ci.pem");
  kiln_aws_config_cleanup(&cfg);
}

static void test_resolve_env_overrides_profile_settings(void **state)
{
  static const char *const env[] = {"HOME",
                                    "/h",
                                    "AWS_MAX_ATTEMPTS",
                                    "2",
                                    "AWS_RETRY_MODE",
                                    "legacy",
                                    "AWS_CA_BUNDLE",
                                    "/env.pem",
                                    NULL};
  static const char *const files[] = {"/h/.aws/config",
                                      "[default]\nmax_attempts = 9\n"
                                      "retry_mode = adaptive\n"
                                      "ca_bundle = /profile.pem\n",
                                      NULL};
  struct fake f = {env, files, 0};
  struct kiln_aws_config cfg;

  assert_int_equal(resolve(&cfg, &f), 0);
  assert_int_equal(cfg.max_attempts, 2);
  assert_int_equal(cfg.retry_mode, KILN_AWS_RETRY_LEGACY);
  assert_string_equal(cfg.ca_bundle, "/env.pem");
  kiln_aws_config_cleanup(&cfg);
}

static void test_resolve_bad_values(void **state)
{
  static const struct {
    const char *env[6];
    const char *needle;
  } cases[] = {
      {{"AWS_MAX_ATTEMPTS", "0", NULL}, "AWS_MAX_ATTEMPTS"},
      {{"AWS_MAX_ATTEMPTS", "3x", NULL}, "AWS_MAX_ATTEMPTS"},
      {{"AWS_RETRY_MODE", "sometimes", NULL}, "standard, legacy or adaptive"},
      {{"AWS_REGION", "us-east-1.evil.com/", NULL}, "not a valid region"},
      {{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5", NULL}, "IPv4"},
      {{"AWS_METADATA_SERVICE_TIMEOUT", "-1", NULL}, "metadata_service"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct fake f = {cases[i].env, NULL, 0};
    struct kiln_aws_config cfg;
    assert_int_equal(resolve(&cfg, &f), KILN_EINVAL);
    assert_non_null(strstr(kiln_aws_config_error(&cfg), cases[i].needle));
    kiln_aws_config_cleanup(&cfg);
  }
}

static void test_resolve_malformed_file_names_path_and_line(void **state)
{
  static const char *const env[] = {"AWS_CONFIG_FILE", "/c", NULL};
  static const char *const files[] = {"/c", "[default]\nregion\n", NULL};
  struct fake f = {env, files, 0};
  struct kiln_aws_config cfg;

  assert_int_equal(resolve(&cfg, &f), KILN_EPARSE);
  assert_non_null(strstr(kiln_aws_config_error(&cfg), "/c:2:"));
}

static void test_resolve_credentials_and_imds_settings(void **state)
{
  static const char *const env[] = {"AWS_ACCESS_KEY_ID",
                                    "AKIDENV",
                                    "AWS_SECRET_ACCESS_KEY",
                                    "secret",
                                    "AWS_SESSION_TOKEN",
                                    "tok",
                                    "AWS_WEB_IDENTITY_TOKEN_FILE",
                                    "/var/run/token",
                                    "AWS_ROLE_ARN",
                                    "arn:aws:iam::123456789012:role/r",
                                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                    "http://127.0.0.1:9/creds",
                                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                    "/var/run/ctok",
                                    "AWS_EC2_METADATA_DISABLED",
                                    "TRUE",
                                    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                    "http://127.0.0.1:1338",
                                    "AWS_METADATA_SERVICE_TIMEOUT",
                                    "2.5",
                                    NULL};
  struct fake f = {env, NULL, 0};
  struct kiln_aws_config cfg;

  assert_int_equal(resolve(&cfg, &f), 0);
  assert_string_equal(cfg.env_access_key_id, "AKIDENV");
  assert_string_equal(cfg.env_secret_access_key, "secret");
  assert_string_equal(cfg.env_session_token, "tok");
  assert_string_equal(cfg.web_identity_token_file, "/var/run/token");
  assert_string_equal(cfg.role_arn, "arn:aws:iam::123456789012:role/r");
  assert_string_equal(cfg.container_full_uri, "http://127.0.0.1:9/creds");
  assert_string_equal(cfg.container_token_file, "/var/run/ctok");
  assert_true(cfg.imds_disabled);
  assert_string_equal(cfg.imds_endpoint, "http://127.0.0.1:1338");
  assert_int_equal(cfg.imds_timeout_ms, 2500);
  /* No HOME: the default files are not read. */
  assert_int_equal(f.reads, 0);
  kiln_aws_config_cleanup(&cfg);
}

static void test_resolve_imds_ipv6_mode(void **state)
{
  static const char *const env[] = {"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                                    "ipv6", NULL};
  struct fake f = {env, NULL, 0};
  struct kiln_aws_config cfg;

  assert_int_equal(resolve(&cfg, &f), 0);
  assert_string_equal(cfg.imds_endpoint, "http://[fd00:ec2::254]");
  kiln_aws_config_cleanup(&cfg);
}

static void test_resolve_missing_services_section(void **state)
{
  static const char *const env[] = {"AWS_CONFIG_FILE", "/c", NULL};
  static const char *const files[] = {"/c", "[default]\nservices = nowhere\n",
                                      NULL};
  struct fake f = {env, files, 0};
  struct kiln_aws_config cfg;

  assert_int_equal(resolve(&cfg, &f), KILN_EINVAL);
  assert_non_null(strstr(kiln_aws_config_error(&cfg), "nowhere"));
}

static void test_resolve_reader_errors_propagate(void **state)
{
  static const char *const env[] = {"AWS_CONFIG_FILE", "/dev/null/x", NULL};
  struct kiln_aws_config cfg;
  struct kiln_aws_config_options o = {fake_getenv, NULL,
                                      kiln_aws_config_real_read_file, NULL};
  struct fake f = {env, NULL, 0};

  o.getenv_arg = &f;
  /* ENOTDIR counts as absent, like a missing file. */
  assert_int_equal(kiln_aws_config_resolve(&cfg, &o), 0);
  kiln_aws_config_cleanup(&cfg);
}

/* AWS_CONFIG_FILE=/dev/null and AWS_SHARED_CREDENTIALS_FILE=/dev/null
 * switch the shared files off, as with botocore and the AWS CLI: they read
 * as empty, and what the environment says still counts. */
static void test_resolve_dev_null_files_are_empty(void **state)
{
  static const char *const env[] = {"AWS_CONFIG_FILE",
                                    "/dev/null",
                                    "AWS_SHARED_CREDENTIALS_FILE",
                                    "/dev/null",
                                    "AWS_REGION",
                                    "eu-west-3",
                                    NULL};
  struct kiln_aws_config cfg;
  struct kiln_aws_config_options o = {fake_getenv, NULL,
                                      kiln_aws_config_real_read_file, NULL};
  struct fake f = {env, NULL, 0};

  o.getenv_arg = &f;
  assert_int_equal(kiln_aws_config_resolve(&cfg, &o), 0);
  assert_string_equal(cfg.region, "eu-west-3");
  kiln_aws_config_cleanup(&cfg);
}

static void test_set_region_later(void **state)
{
  struct fake f = {NULL, NULL, 0};
  struct kiln_aws_config cfg;

  assert_int_equal(resolve(&cfg, &f), 0);
  assert_null(cfg.region);
  assert_int_equal(kiln_aws_config_set_region(&cfg, "bad region", "imds"),
                   KILN_EINVAL);
  assert_null(cfg.region);
  assert_int_equal(kiln_aws_config_set_region(&cfg, "eu-south-2", "imds"), 0);
  assert_string_equal(cfg.region, "eu-south-2");
  assert_string_equal(cfg.region_source, "imds");
  kiln_aws_config_cleanup(&cfg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ini_sections_comments_whitespace),
      cmocka_unit_test(test_ini_credentials_file_names),
      cmocka_unit_test(test_ini_nested_and_continuation),
      cmocka_unit_test(test_ini_profile_default_precedence_and_merge),
      cmocka_unit_test(test_ini_errors),
      cmocka_unit_test(test_resolve_dev_null_files_are_empty),
      cmocka_unit_test(test_ini_size_limit),
      cmocka_unit_test(test_resolve_defaults_without_files),
      cmocka_unit_test(test_resolve_region_order),
      cmocka_unit_test(test_resolve_files_from_env_and_precedence),
      cmocka_unit_test(test_resolve_env_overrides_profile_settings),
      cmocka_unit_test(test_resolve_bad_values),
      cmocka_unit_test(test_resolve_malformed_file_names_path_and_line),
      cmocka_unit_test(test_resolve_credentials_and_imds_settings),
      cmocka_unit_test(test_resolve_imds_ipv6_mode),
      cmocka_unit_test(test_resolve_missing_services_section),
      cmocka_unit_test(test_resolve_reader_errors_propagate),
      cmocka_unit_test(test_set_region_later),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
