/* Endpoint resolution: standard endpoints per partition and the
 * configured-endpoint precedence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kiln/aws_config.h"
#include "kiln/aws_endpoint.h"
#include "kiln/buf.h"
#include "kiln/error.h"

struct fake {
  const char *const *env;
  const char *const *files;
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
  for (size_t i = 0; f->files != NULL && f->files[i] != NULL; i += 2)
    if (strcmp(f->files[i], path) == 0)
      return kiln_buf_puts(out, f->files[i + 1]);
  return KILN_ENOENT;
}

static void resolve(struct kiln_aws_config *cfg, const char *const *env,
                    const char *const *files)
{
  struct fake f = {env, files};
  struct kiln_aws_config_options o = {fake_getenv, &f, fake_read, &f};
  assert_int_equal(kiln_aws_config_resolve(cfg, &o), 0);
}

static void test_standard_endpoints(void **state)
{
  static const struct {
    enum kiln_aws_service svc;
    const char *region, *url, *signing_name, *partition;
  } cases[] = {
      {KILN_AWS_EC2, "us-east-1", "https://ec2.us-east-1.amazonaws.com", "ec2",
       "aws"},
      {KILN_AWS_AUTOSCALING, "eu-west-1",
       "https://autoscaling.eu-west-1.amazonaws.com", "autoscaling", "aws"},
      {KILN_AWS_IMAGEBUILDER, "ap-southeast-2",
       "https://imagebuilder.ap-southeast-2.amazonaws.com", "imagebuilder",
       "aws"},
      {KILN_AWS_SSM, "us-west-2", "https://ssm.us-west-2.amazonaws.com", "ssm",
       "aws"},
      {KILN_AWS_STS, "us-east-1", "https://sts.us-east-1.amazonaws.com", "sts",
       "aws"},
      {KILN_AWS_EC2, "cn-north-1", "https://ec2.cn-north-1.amazonaws.com.cn",
       "ec2", "aws-cn"},
      {KILN_AWS_STS, "cn-northwest-1",
       "https://sts.cn-northwest-1.amazonaws.com.cn", "sts", "aws-cn"},
      {KILN_AWS_EC2, "us-gov-west-1", "https://ec2.us-gov-west-1.amazonaws.com",
       "ec2", "aws-us-gov"},
      {KILN_AWS_STS, "us-gov-east-1", "https://sts.us-gov-east-1.amazonaws.com",
       "sts", "aws-us-gov"},
      {KILN_AWS_SSM, "us-iso-east-1", "https://ssm.us-iso-east-1.c2s.ic.gov",
       "ssm", "aws-iso"},
      {KILN_AWS_SSM, "us-isob-east-1",
       "https://ssm.us-isob-east-1.sc2s.sgov.gov", "ssm", "aws-iso-b"},
      /* An unknown region pattern falls back to the aws partition. */
      {KILN_AWS_EC2, "local", "https://ec2.local.amazonaws.com", "ec2", "aws"},
  };
  struct kiln_aws_config cfg;

  resolve(&cfg, NULL, NULL);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct kiln_aws_endpoint ep;
    assert_int_equal(
        kiln_aws_endpoint_resolve(&cfg, cases[i].svc, cases[i].region, &ep), 0);
    assert_string_equal(ep.url, cases[i].url);
    assert_string_equal(ep.host, cases[i].url + strlen("https://"));
    assert_string_equal(ep.signing_name, cases[i].signing_name);
    assert_string_equal(ep.signing_region, cases[i].region);
    assert_string_equal(ep.partition, cases[i].partition);
    assert_int_equal(ep.source, KILN_AWS_ENDPOINT_DEFAULT);
  }
  kiln_aws_config_cleanup(&cfg);
}

static void test_bad_region_and_no_region(void **state)
{
  static const char *const bad[] = {"",    "US-EAST-1", "us-east-1.evil.com",
                                    "-us", "us east",   "a/b"};
  struct kiln_aws_config cfg;
  struct kiln_aws_endpoint ep;

  resolve(&cfg, NULL, NULL);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(kiln_aws_endpoint_resolve(&cfg, KILN_AWS_EC2, bad[i], &ep),
                     KILN_EINVAL);
  assert_int_equal(kiln_aws_endpoint_resolve(&cfg, KILN_AWS_EC2, NULL, &ep),
                   KILN_EINVAL);
  kiln_aws_config_cleanup(&cfg);
}

static const char config_with_services[] =
    "[default]\n"
    "region = us-east-1\n"
    "endpoint_url = http://profile-global:1000\n"
    "services = local\n"
    "[services local]\n"
    "ec2 =\n"
    "  endpoint_url = http://profile-ec2:2000/\n"
    "auto_scaling =\n"
    "  endpoint_url = http://profile-asg:3000\n";

static void test_configured_precedence(void **state)
{
  static const char *const files[] = {"/c", config_with_services, NULL};
  static const char *const env[] = {"AWS_CONFIG_FILE",
                                    "/c",
                                    "AWS_ENDPOINT_URL",
                                    "http://127.0.0.1:5000",
                                    "AWS_ENDPOINT_URL_EC2",
                                    "http://127.0.0.1:6000/base/",
                                    "AWS_ENDPOINT_URL_STS",
                                    "https://sts.example.com:443",
                                    NULL};
  static const char *const env_profile_only[] = {"AWS_CONFIG_FILE", "/c", NULL};
  static const char *const env_ignore[] = {
      "AWS_CONFIG_FILE",
      "/c",
      "AWS_ENDPOINT_URL",
      "http://127.0.0.1:5000",
      "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
      "true",
      NULL};
  struct kiln_aws_config cfg;
  struct kiln_aws_endpoint ep;

  resolve(&cfg, env, files);
  assert_int_equal(kiln_aws_endpoint_resolve(&cfg, KILN_AWS_EC2, NULL, &ep), 0);
  assert_string_equal(ep.url, "http://127.0.0.1:6000/base");
  assert_string_equal(ep.host, "127.0.0.1:6000");
  assert_int_equal(ep.source, KILN_AWS_ENDPOINT_ENV_SERVICE);
  assert_string_equal(kiln_aws_endpoint_source_name(ep.source, KILN_AWS_EC2),
                      "AWS_ENDPOINT_URL_EC2");
  assert_string_equal(ep.signing_region, "us-east-1");
  assert_string_equal(ep.signing_name, "ec2");
  /* The global variable beats the services section. */
  assert_int_equal(
      kiln_aws_endpoint_resolve(&cfg, KILN_AWS_AUTOSCALING, NULL, &ep), 0);
  assert_string_equal(ep.url, "http://127.0.0.1:5000");
  assert_int_equal(ep.source, KILN_AWS_ENDPOINT_ENV_GLOBAL);
  /* A default port is dropped from the Host header. */
  assert_int_equal(kiln_aws_endpoint_resolve(&cfg, KILN_AWS_STS, NULL, &ep), 0);
  assert_string_equal(ep.host, "sts.example.com");
  assert_string_equal(ep.url, "https://sts.example.com");
  kiln_aws_config_cleanup(&cfg);

  resolve(&cfg, env_profile_only, files);
  assert_int_equal(kiln_aws_endpoint_resolve(&cfg, KILN_AWS_EC2, NULL, &ep), 0);
  assert_string_equal(ep.url, "http://profile-ec2:2000");
  assert_int_equal(ep.source, KILN_AWS_ENDPOINT_PROFILE_SERVICE);
  assert_int_equal(
      kiln_aws_endpoint_resolve(&cfg, KILN_AWS_AUTOSCALING, NULL, &ep), 0);
  assert_string_equal(ep.url, "http://profile-asg:3000");
  assert_int_equal(kiln_aws_endpoint_resolve(&cfg, KILN_AWS_SSM, NULL, &ep), 0);
  assert_string_equal(ep.url, "http://profile-global:1000");
  assert_int_equal(ep.source, KILN_AWS_ENDPOINT_PROFILE_GLOBAL);
  kiln_aws_config_cleanup(&cfg);

  resolve(&cfg, env_ignore, files);
  assert_int_equal(kiln_aws_endpoint_resolve(&cfg, KILN_AWS_SSM, NULL, &ep), 0);
  assert_string_equal(ep.url, "https://ssm.us-east-1.amazonaws.com");
  assert_int_equal(ep.source, KILN_AWS_ENDPOINT_DEFAULT);
  kiln_aws_config_cleanup(&cfg);
}

static void test_bad_configured_urls(void **state)
{
  static const char *const urls[] = {
      "ftp://x",        "http://",       "http://user@host", "http://h/p?q=1",
      "http://h/#frag", "http://h:port", "http://h x",       "127.0.0.1:5000",
  };
  for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
    const char *env[] = {"AWS_REGION", "us-east-1", "AWS_ENDPOINT_URL", urls[i],
                         NULL};
    struct kiln_aws_config cfg;
    struct kiln_aws_endpoint ep;
    resolve(&cfg, env, NULL);
    assert_int_equal(kiln_aws_endpoint_resolve(&cfg, KILN_AWS_EC2, NULL, &ep),
                     KILN_EINVAL);
    kiln_aws_config_cleanup(&cfg);
  }
}

static void test_url_split(void **state)
{
  char scheme[8], host[64];
  const char *path;

  assert_int_equal(kiln_aws_url_split("http://[::1]:8080/x/y", scheme,
                                      sizeof(scheme), host, sizeof(host),
                                      &path),
                   0);
  assert_string_equal(scheme, "http");
  assert_string_equal(host, "[::1]:8080");
  assert_string_equal(path, "/x/y");
  assert_int_equal(kiln_aws_url_split("http://h:80", scheme, sizeof(scheme),
                                      host, sizeof(host), &path),
                   0);
  assert_string_equal(host, "h");
  assert_string_equal(path, "");
}

static void test_service_info(void **state)
{
  assert_string_equal(kiln_aws_service_info(KILN_AWS_AUTOSCALING)->env_suffix,
                      "AUTO_SCALING");
  assert_string_equal(kiln_aws_service_info(KILN_AWS_AUTOSCALING)->config_key,
                      "auto_scaling");
  assert_null(kiln_aws_service_info(KILN_AWS_SERVICE_COUNT));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_standard_endpoints),
      cmocka_unit_test(test_bad_region_and_no_region),
      cmocka_unit_test(test_configured_precedence),
      cmocka_unit_test(test_bad_configured_urls),
      cmocka_unit_test(test_url_split),
      cmocka_unit_test(test_service_info),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
