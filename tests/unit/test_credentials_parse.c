/* The pure parsers behind the HTTP providers: STS XML, the container/IMDS
 * JSON document, and the container full-URI rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../aws/credentials_private.h"
#include "kiln/error.h"

static const char assume_ok[] =
    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleResult>\n"
    "    <SourceIdentity>DevUser123</SourceIdentity>\n"
    "    <AssumedRoleUser>\n"
    "      <Arn>arn:aws:sts::123456789012:assumed-role/demo/John</Arn>\n"
    "      <AssumedRoleId>ARO123EXAMPLE123:John</AssumedRoleId>\n"
    "    </AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <SessionToken>IQoJb3JpZ2luX2VjEOz&amp;token</SessionToken>\n"
    "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
    "</SecretAccessKey>\n"
    "      <Expiration>2024-01-01T01:00:00Z</Expiration>\n"
    "      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
    "    </Credentials>\n"
    "    <PackedPolicySize>8</PackedPolicySize>\n"
    "  </AssumeRoleResult>\n"
    "  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7"
    "</RequestId></ResponseMetadata>\n"
    "</AssumeRoleResponse>\n";

static void test_sts_assume_role_response(void **state)
{
  struct kiln__sts_result res;

  assert_int_equal(kiln__sts_parse(assume_ok, sizeof(assume_ok) - 1,
                                   "AssumeRole", "assume-role demo via env",
                                   &res),
                   0);
  assert_non_null(res.creds);
  assert_string_equal(res.creds->access_key_id, "ASIAIOSFODNN7EXAMPLE");
  assert_string_equal(res.creds->secret_access_key,
                      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
  assert_string_equal(res.creds->session_token, "IQoJb3JpZ2luX2VjEOz&token");
  assert_int_equal(res.creds->expiration_ms, 1704070800000);
  assert_string_equal(res.creds->account_id, "123456789012");
  assert_string_equal(res.creds->source, "assume-role demo via env");
  assert_string_equal(res.assumed_arn,
                      "arn:aws:sts::123456789012:assumed-role/demo/John");
  assert_string_equal(res.request_id, "c6104cbe-af31-11e0-8154-cbc7ccf896c7");
  kiln__sts_result_cleanup(&res);
}

static void test_sts_error_and_caller_identity(void **state)
{
  static const char err[] =
      "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
      "<Error><Type>Sender</Type><Code>AccessDenied</Code>"
      "<Message>User is not authorized to perform: sts:AssumeRole</Message>"
      "</Error><RequestId>rid-1</RequestId></ErrorResponse>";
  static const char gci[] =
      "<GetCallerIdentityResponse "
      "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
      "<GetCallerIdentityResult>"
      "<Arn>arn:aws:iam::123456789012:user/Alice</Arn>"
      "<UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>"
      "</GetCallerIdentityResult></GetCallerIdentityResponse>";
  struct kiln__sts_result res;

  assert_int_equal(
      kiln__sts_parse(err, sizeof(err) - 1, "AssumeRole", "x", &res),
      KILN_EAWS);
  assert_string_equal(res.error_code, "AccessDenied");
  assert_string_equal(res.error_message,
                      "User is not authorized to perform: sts:AssumeRole");
  assert_string_equal(res.request_id, "rid-1");
  assert_null(res.creds);

  assert_int_equal(
      kiln__sts_parse(gci, sizeof(gci) - 1, "GetCallerIdentity", NULL, &res),
      0);
  assert_string_equal(res.identity.account, "123456789012");
  assert_string_equal(res.identity.arn, "arn:aws:iam::123456789012:user/Alice");
  assert_string_equal(res.identity.user_id, "AIDAEXAMPLE");
}

static void test_sts_rejects_bad_documents(void **state)
{
  static const char *const bad[] = {
      "",
      "not xml",
      "<AssumeRoleResponse><AssumeRoleResult>",
      /* the wrong action */
      "<GetCallerIdentityResponse/>",
      /* no credentials */
      "<AssumeRoleResponse><AssumeRoleResult/></AssumeRoleResponse>",
      /* missing session token */
      "<AssumeRoleResponse><Credentials><AccessKeyId>A</AccessKeyId>"
      "<SecretAccessKey>S</SecretAccessKey>"
      "<Expiration>2024-01-01T00:00:00Z</Expiration></Credentials>"
      "</AssumeRoleResponse>",
      /* bad expiration */
      "<AssumeRoleResponse><Credentials><AccessKeyId>A</AccessKeyId>"
      "<SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken>"
      "<Expiration>tomorrow</Expiration></Credentials></AssumeRoleResponse>",
      /* a DTD, here with the classic entity expansion bomb */
      "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
      "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
      "<AssumeRoleResponse><Credentials><AccessKeyId>&lol2;</AccessKeyId>"
      "</Credentials></AssumeRoleResponse>",
      /* an external entity */
      ("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM "
       "\"file:///etc/passwd\">]><AssumeRoleResponse>&x;"
       "</AssumeRoleResponse>"),
  };
  struct kiln__sts_result res;

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(
        kiln__sts_parse(bad[i], strlen(bad[i]), "AssumeRole", "x", &res),
        KILN_EPARSE);
    assert_null(res.creds);
  }
}

static void test_sts_size_limit(void **state)
{
  static char big[70 * 1024];
  struct kiln__sts_result res;
  memset(big, ' ', sizeof(big));
  assert_int_equal(kiln__sts_parse(big, sizeof(big), "AssumeRole", "x", &res),
                   KILN_ETOOBIG);
}

static void test_json_documents(void **state)
{
  static const char imds[] = "{\"Code\":\"Success\",\"LastUpdated\":"
                             "\"2024-01-01T00:00:00Z\",\"Type\":\"AWS-HMAC\","
                             "\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":"
                             "\"sek\",\"Token\":\"tok\",\"Expiration\":"
                             "\"2024-01-01T06:00:00Z\"}";
  static const char container[] =
      "{\"AccessKeyId\":\"ASIACONT\",\"SecretAccessKey\":\"sek\","
      "\"Token\":\"tok\",\"Expiration\":\"2024-01-01T06:00:00Z\","
      "\"AccountId\":\"123456789012\",\"RoleArn\":\"arn\"}";
  static const struct {
    const char *doc;
    int err;
  } bad[] = {
      {"", KILN_EPARSE},
      {"[1]", KILN_EPARSE},
      {"{\"AccessKeyId\":\"A\"}", KILN_EPARSE},
      {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":5}", KILN_EPARSE},
      {"{\"Code\":\"AssumeRoleUnauthorizedAccess\"}", KILN_ECREDENTIALS},
      {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":"
       "\"soon\"}",
       KILN_EPARSE},
      {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"} trailing",
       KILN_EPARSE},
  };
  struct kiln_aws_credentials *c;
  char msg[256];

  assert_int_equal(kiln__creds_from_json(imds, sizeof(imds) - 1, "imds r", &c,
                                         msg, sizeof(msg)),
                   0);
  assert_string_equal(c->access_key_id, "ASIAIMDS");
  assert_string_equal(c->session_token, "tok");
  assert_int_equal(c->expiration_ms, 1704088800000);
  assert_null(c->account_id);
  kiln_aws_credentials_unref(c);

  assert_int_equal(kiln__creds_from_json(container, sizeof(container) - 1,
                                         "container", &c, msg, sizeof(msg)),
                   0);
  assert_string_equal(c->account_id, "123456789012");
  kiln_aws_credentials_unref(c);

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    msg[0] = '\0';
    assert_int_equal(kiln__creds_from_json(bad[i].doc, strlen(bad[i].doc), "x",
                                           &c, msg, sizeof(msg)),
                     bad[i].err);
    assert_null(c);
    assert_true(msg[0] != '\0');
  }
}

static void test_container_full_uri_rule(void **state)
{
  static const char *const ok[] = {
      "http://127.0.0.1:8080/creds", "http://127.1.2.3/creds",
      "http://localhost/creds",      "http://[::1]:9/x",
      "http://169.254.170.2/v2/x",   "http://169.254.170.23/v1/credentials",
      "http://[fd00:ec2::23]/x",     "https://creds.example.com/x",
  };
  static const char *const bad[] = {
      "http://example.com/creds",
      "http://10.0.0.1/creds",
      "http://169.254.169.254/latest",
      "http://128.0.0.1/",
      "ftp://127.0.0.1/",
      "http://localhost.evil.com/",
      "http://127.0.0.1@evil.com/",
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    if (kiln__container_uri_allowed(ok[i]) != 0)
      fail_msg("should be allowed: %s", ok[i]);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (kiln__container_uri_allowed(bad[i]) == 0)
      fail_msg("should be refused: %s", bad[i]);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sts_assume_role_response),
      cmocka_unit_test(test_sts_error_and_caller_identity),
      cmocka_unit_test(test_sts_rejects_bad_documents),
      cmocka_unit_test(test_sts_size_limit),
      cmocka_unit_test(test_json_documents),
      cmocka_unit_test(test_container_full_uri_rule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
