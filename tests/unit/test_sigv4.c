#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/sigv4.h"

static void test_format_date(void **state)
{
  char d[KILN_SIGV4_AMZ_DATE_LEN + 1];

  assert_int_equal(kiln_sigv4_format_date(0, d), 0);
  assert_string_equal(d, "19700101T000000Z");
  assert_int_equal(kiln_sigv4_format_date(1709251199, d), 0);
  assert_string_equal(d, "20240229T235959Z");
  assert_int_equal(kiln_sigv4_format_date(-1, d), KILN_EINVAL);
  assert_int_equal(kiln_sigv4_format_date(253402300800LL, d), KILN_EINVAL);
}

static void test_uri_encode_table(void **state)
{
  static const struct {
    const char *in;
    int keep_slash;
    const char *want;
  } cases[] = {
      {"", 0, ""},
      {"AZaz09-_.~", 0, "AZaz09-_.~"},
      {"a b+c", 0, "a%20b%2Bc"},
      {"/x/y", 0, "%2Fx%2Fy"},
      {"/x/y", 1, "/x/y"},
      {"%2F", 0, "%252F"},
      {"\xc3\xa9", 0, "%C3%A9"},
      {"*'()!", 0, "%2A%27%28%29%21"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct kiln_buf b;
    kiln_buf_init(&b, 0);
    assert_int_equal(kiln_sigv4_uri_encode(&b, cases[i].in, strlen(cases[i].in),
                                           cases[i].keep_slash),
                     0);
    assert_string_equal(b.len ? b.data : "", cases[i].want);
    kiln_buf_cleanup(&b);
  }
}

static void test_query_add(void **state)
{
  struct kiln_buf b;

  kiln_buf_init(&b, 0);
  assert_int_equal(kiln_sigv4_query_add(&b, "Action", "DescribeImages"), 0);
  assert_int_equal(kiln_sigv4_query_add(&b, "Filter.1.Value", "a b/c"), 0);
  assert_string_equal(b.data, "Action=DescribeImages&Filter.1.Value=a%20b%2Fc");
  kiln_buf_cleanup(&b);
}

/* The line of the canonical request at index (0 method, 1 path, 2 query). */
static void line_at(const char *cr, int idx, char *out, size_t cap)
{
  const char *p = cr, *e;
  while (idx-- > 0)
    p = strchr(p, '\n') + 1;
  e = strchr(p, '\n');
  if (e == NULL)
    e = p + strlen(p);
  assert_true((size_t)(e - p) < cap);
  memcpy(out, p, (size_t)(e - p));
  out[e - p] = '\0';
}

static void test_canonical_path_and_query_table(void **state)
{
  static const struct {
    const char *path, *query;
    unsigned flags;
    const char *want_path, *want_query;
  } cases[] = {
      {"", NULL, 0, "/", ""},
      {"/", "", 0, "/", ""},
      {"//a//b/", NULL, 0, "/a/b/", ""},
      {"/a/./b/../c", NULL, 0, "/a/c", ""},
      {"/a/..", NULL, 0, "/", ""},
      {"/../../x", NULL, 0, "/x", ""},
      {"/tags/arn%3Aaws%3Ax%2Fy", NULL, 0, "/tags/arn%253Aaws%253Ax%252Fy", ""},
      {"/a%20b/", NULL, KILN_SIGV4_SINGLE_ENCODE, "/a%20b/", ""},
      {"//a/./b", NULL, KILN_SIGV4_SINGLE_ENCODE, "//a/./b", ""},
      {"/", "b=2&a=1&a=0", 0, "/", "a=0&a=1&b=2"},
      {"/", "flag&x=", 0, "/", "flag=&x="},
      {"/", "k=a+b&k=a%2fb&k=%7e", 0, "/", "k=a%2Bb&k=a%2Fb&k=~"},
      {"/", "a-b=1&a=2", 0, "/", "a=2&a-b=1"},
      {"/", "bad=%zz%4", 0, "/", "bad=%25zz%254"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct kiln_sigv4_request req = {0};
    struct kiln_buf cr;
    char line[256];

    req.method = "get";
    req.host = "example.com";
    req.path = cases[i].path;
    req.query = cases[i].query;
    req.flags = cases[i].flags;
    kiln_buf_init(&cr, 0);
    assert_int_equal(kiln_sigv4_canonical_request(&req, NULL, &cr, NULL), 0);
    line_at(cr.data, 0, line, sizeof(line));
    assert_string_equal(line, "GET");
    line_at(cr.data, 1, line, sizeof(line));
    assert_string_equal(line, cases[i].want_path);
    line_at(cr.data, 2, line, sizeof(line));
    assert_string_equal(line, cases[i].want_query);
    kiln_buf_cleanup(&cr);
  }
}

static void test_canonical_headers(void **state)
{
  static const struct kiln_sigv4_header hs[] = {
      {"X-Rep", " a  "},
      {"Content-Type", "application/json"},
      {"User-Agent", "never signed"},
      {"x-rep", "b \t  c"},
      {"X-Empty", "   "},
      {"X-REP", ""},
  };
  struct kiln_sigv4_request req = {0};
  struct kiln_buf cr, sh;
  char hash[KILN_SIGV4_HEX_LEN + 1];
  const char *want_prefix = "POST\n/\n\n"
                            "content-type:application/json\n"
                            "host:ssm.us-east-1.amazonaws.com\n"
                            "x-empty:\n"
                            "x-rep:a,b c,\n"
                            "\n"
                            "content-type;host;x-empty;x-rep\n";

  req.method = "POST";
  req.host = "ssm.us-east-1.amazonaws.com";
  req.headers = hs;
  req.header_count = sizeof(hs) / sizeof(hs[0]);
  req.body = "{}";
  req.body_len = 2;
  kiln_buf_init(&cr, 0);
  kiln_buf_init(&sh, 0);
  assert_int_equal(kiln_sigv4_canonical_request(&req, NULL, &cr, &sh), 0);
  assert_int_equal(strncmp(cr.data, want_prefix, strlen(want_prefix)), 0);
  kiln_sigv4_sha256_hex("{}", 2, hash);
  assert_string_equal(cr.data + strlen(want_prefix), hash);
  assert_string_equal(sh.data, "content-type;host;x-empty;x-rep");
  kiln_buf_cleanup(&cr);
  kiln_buf_cleanup(&sh);
}

static int has_prefix(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_sign_sets_date_token_and_authorization(void **state)
{
  static const struct kiln_sigv4_header hs[] = {
      {"Authorization", "stale"},
      {"X-Amz-Date", "19990101T000000Z"},
      {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
  };
  struct kiln_sigv4_credentials cred = {"ASIAEXAMPLEEXAMPLE00", "c2VjcmV0",
                                        "token/+="};
  struct kiln_sigv4_request req = {0};
  struct kiln_sigv4_result r;
  char sig1[KILN_SIGV4_HEX_LEN + 1];

  req.method = "POST";
  req.host = "ec2.eu-west-1.amazonaws.com";
  req.path = "/";
  req.headers = hs;
  req.header_count = 3;
  req.body = "Action=DescribeImages&Version=2016-11-15";
  req.body_len = strlen(req.body);
  kiln_sigv4_result_init(&r);
  assert_int_equal(
      kiln_sigv4_sign(&req, &cred, "eu-west-1", "ec2", 1700000000, &r), 0);
  assert_string_equal(r.amz_date, "20231114T221320Z");
  assert_non_null(strstr(r.canonical_request.data,
                         "x-amz-date:20231114T221320Z\n"
                         "x-amz-security-token:token/+=\n"));
  assert_null(strstr(r.canonical_request.data, "authorization"));
  assert_string_equal(r.signed_headers.data,
                      "content-type;host;x-amz-date;x-amz-security-token");
  assert_true(has_prefix(r.string_to_sign.data,
                         "AWS4-HMAC-SHA256\n20231114T221320Z\n"
                         "20231114/eu-west-1/ec2/aws4_request\n"));
  assert_int_equal(strlen(r.signature), 64);
  assert_true(
      has_prefix(r.authorization.data,
                 "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEEXAMPLE00/20231114/"
                 "eu-west-1/ec2/aws4_request, SignedHeaders=content-type;host;"
                 "x-amz-date;x-amz-security-token, Signature="));
  assert_string_equal(r.authorization.data + r.authorization.len - 64,
                      r.signature);
  memcpy(sig1, r.signature, sizeof(sig1));

  /* Same inputs, same signature; another second, another one. */
  assert_int_equal(
      kiln_sigv4_sign(&req, &cred, "eu-west-1", "ec2", 1700000000, &r), 0);
  assert_string_equal(r.signature, sig1);
  assert_int_equal(
      kiln_sigv4_sign(&req, &cred, "eu-west-1", "ec2", 1700000001, &r), 0);
  assert_string_not_equal(r.signature, sig1);

  /* Without a token there is no token header. */
  cred.session_token = NULL;
  assert_int_equal(
      kiln_sigv4_sign(&req, &cred, "eu-west-1", "ec2", 1700000000, &r), 0);
  assert_null(strstr(r.canonical_request.data, "x-amz-security-token"));
  kiln_sigv4_result_cleanup(&r);
}

static void test_sign_rejects_bad_input(void **state)
{
  static const struct kiln_sigv4_header bad[] = {{"X-Evil", "a\r\nb: c"}};
  struct kiln_sigv4_credentials cred = {"AKID", "secret", NULL};
  struct kiln_sigv4_request req = {0};
  struct kiln_sigv4_result r;

  kiln_sigv4_result_init(&r);
  req.host = "h";
  assert_int_equal(kiln_sigv4_sign(&req, &cred, "r", "s", 0, &r),
                   KILN_EINVAL); /* no method */
  req.method = "GET";
  assert_int_equal(kiln_sigv4_sign(&req, &cred, "", "s", 0, &r), KILN_EINVAL);
  cred.secret_access_key = "";
  assert_int_equal(kiln_sigv4_sign(&req, &cred, "r", "s", 0, &r), KILN_EINVAL);
  cred.secret_access_key = "secret";
  req.headers = bad;
  req.header_count = 1;
  assert_int_equal(kiln_sigv4_sign(&req, &cred, "r", "s", 0, &r), KILN_EINVAL);
  req.header_count = 0;
  req.host = NULL;
  assert_int_equal(kiln_sigv4_sign(&req, &cred, "r", "s", 0, &r), KILN_EINVAL);
  kiln_sigv4_result_cleanup(&r);
}

static void test_many_headers_and_segments(void **state)
{
  struct kiln_sigv4_header hs[60];
  char names[60][16];
  char path[400];
  struct kiln_sigv4_request req = {0};
  struct kiln_buf cr;
  size_t i;

  for (i = 0; i < 60; i++) {
    snprintf(names[i], sizeof(names[i]), "X-H%02zu", 59 - i);
    hs[i].name = names[i];
    hs[i].value = "v";
  }
  path[0] = '\0';
  for (i = 0; i < 50; i++)
    strcat(path, "/s");
  req.method = "GET";
  req.host = "h";
  req.path = path;
  req.headers = hs;
  req.header_count = 60;
  kiln_buf_init(&cr, 0);
  assert_int_equal(kiln_sigv4_canonical_request(&req, NULL, &cr, NULL), 0);
  assert_non_null(strstr(cr.data, "\nx-h00:v\nx-h01:v\n"));
  assert_non_null(strstr(cr.data, "\n"
                                  "/s/s/s"));
  kiln_buf_cleanup(&cr);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format_date),
      cmocka_unit_test(test_uri_encode_table),
      cmocka_unit_test(test_query_add),
      cmocka_unit_test(test_canonical_path_and_query_table),
      cmocka_unit_test(test_canonical_headers),
      cmocka_unit_test(test_sign_sets_date_token_and_authorization),
      cmocka_unit_test(test_sign_rejects_bad_input),
      cmocka_unit_test(test_many_headers_and_segments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
