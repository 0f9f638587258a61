#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kiln/aws_error.h"
#include "kiln/error.h"

#define EC2 KILN_AWS_PROTOCOL_EC2_QUERY
#define QRY KILN_AWS_PROTOCOL_QUERY
#define JSN KILN_AWS_PROTOCOL_JSON
#define RST KILN_AWS_PROTOCOL_REST_JSON

static const struct {
  enum kiln_aws_protocol protocol;
  long status;
  const char *body;
  const char *hdr_type, *hdr_reqid;
  int rc;
  const char *code, *message, *request_id;
  int sender;
} cases[] = {
    /* EC2 query. */
    {EC2, 503,
     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
     "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
     "</Message></Error></Errors><RequestID>ec2-req-1</RequestID></Response>",
     NULL, NULL, 0, "RequestLimitExceeded", "Request limit exceeded.",
     "ec2-req-1", 0},
    {EC2, 400,
     "<Response><Errors><Error><Code>InvalidAMIID.NotFound</Code><Message>"
     "The image id '[ami-1]' does not exist &amp; &lt;never&gt; did"
     "</Message></Error></Errors><RequestID>r2</RequestID></Response>",
     NULL, "hdr-id", 0, "InvalidAMIID.NotFound",
     "The image id '[ami-1]' does not exist & <never> did", "r2", 0},
    {EC2, 500, "<Response><Errors><Error><Code>InternalError</Code>", NULL,
     "hdr-id", KILN_EPARSE, "", "", "hdr-id", 0},
    {EC2, 500, "", NULL, NULL, KILN_EPARSE, "", "", "", 0},
    {EC2, 502, "<html><body>Bad Gateway</body></html>", NULL, NULL, KILN_EPARSE,
     "", "", "", 0},
    {EC2, 503, "not xml at all \x01\x02", NULL, NULL, KILN_EPARSE, "", "", "",
     0},
    /* Query (Auto Scaling, STS). */
    {QRY, 400,
     "<ErrorResponse "
     "xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
     "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded"
     "</Message></Error><RequestId>asg-1</RequestId></ErrorResponse>",
     NULL, NULL, 0, "Throttling", "Rate exceeded", "asg-1", 1},
    {QRY, 400,
     "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable"
     "</Code><Message>multi\nline\tmessage</Message></Error></ErrorResponse>",
     NULL, "h", 0, "ServiceUnavailable", "multi line message", "h", 0},
    {QRY, 400,
     "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaa\">]>"
     "<ErrorResponse><Error><Code>&a;</Code></Error></ErrorResponse>",
     NULL, NULL, KILN_EPARSE, "", "", "", 0},
    {QRY, 400, "<ErrorResponse><Nope/></ErrorResponse>", NULL, NULL,
     KILN_EPARSE, "", "", "", 0},
    /* JSON 1.1 (SSM). */
    {JSN, 400,
     "{\"__type\":\"com.amazonaws.ssm#ThrottlingException\","
     "\"message\":\"Rate exceeded\"}",
     NULL, "ssm-1", 0, "ThrottlingException", "Rate exceeded", "ssm-1", 0},
    {JSN, 400, "{\"__type\":\"ParameterNotFound\",\"Message\":\"no such\"}",
     NULL, NULL, 0, "ParameterNotFound", "no such", "", 0},
    {JSN, 400, "{\"__type\":\"ThrottlingException\",\"message\":\"tr", NULL,
     NULL, KILN_EPARSE, "", "", "", 0},
    {JSN, 500, "[1,2,3]", NULL, NULL, KILN_EPARSE, "", "", "", 0},
    {JSN, 500, "", NULL, "r", KILN_EPARSE, "", "", "r", 0},
    /* REST-JSON (Image Builder). */
    {RST, 429, "{\"message\":\"slow down\"}",
     "CallRateLimitExceededException:http://internal.amazon.com/coral/", "ib-1",
     0, "CallRateLimitExceededException", "slow down", "ib-1", 0},
    {RST, 404, "{\"code\":\"ResourceNotFoundException\",\"message\":\"gone\"}",
     NULL, NULL, 0, "ResourceNotFoundException", "gone", "", 0},
    {RST, 400,
     "{\"__type\":\"com.amazonaws.imagebuilder#InvalidParameterException\"}",
     NULL, NULL, 0, "InvalidParameterException", "", "", 0},
    {RST, 503, "<html>upstream</html>", NULL, NULL, KILN_EPARSE, "", "", "", 0},
    {RST, 503, "<html>upstream</html>", "ServiceUnavailableException", NULL, 0,
     "ServiceUnavailableException", "", "", 0},
};

static void test_table(void **state)
{
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct kiln_aws_error e;
    int rc = kiln_aws_error_parse(cases[i].protocol, cases[i].status,
                                  cases[i].body, strlen(cases[i].body),
                                  cases[i].hdr_type, cases[i].hdr_reqid, &e);
    print_message("case %zu\n", i);
    assert_int_equal(rc, cases[i].rc);
    assert_int_equal(e.http_status, cases[i].status);
    assert_string_equal(e.code, cases[i].code);
    assert_string_equal(e.message, cases[i].message);
    assert_string_equal(e.request_id, cases[i].request_id);
    assert_int_equal(e.sender_fault, cases[i].sender);
  }
}

static void test_every_truncation_is_safe(void **state)
{
  static const char *docs[] = {
      "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>m"
      "</Message></Error></Errors><RequestID>x</RequestID></Response>",
      "{\"__type\":\"a#ThrottlingException\",\"message\":\"\\u00e9t\\u00e9\"}",
  };
  size_t d, len;

  for (d = 0; d < 2; d++) {
    size_t full = strlen(docs[d]);
    for (len = 0; len <= full; len++) {
      struct kiln_aws_error e;
      /* Copy to an exact-size heap block so ASan sees any overread. */
      char *copy = malloc(len ? len : 1);
      int rc;
      memcpy(copy, docs[d], len);
      rc = kiln_aws_error_parse(d == 0 ? EC2 : JSN, 400, copy, len, NULL, NULL,
                                &e);
      if (len == full) {
        assert_int_equal(rc, 0);
      } else {
        assert_true(rc == 0 || rc == KILN_EPARSE);
      }
      free(copy);
    }
  }
}

static void test_limits(void **state)
{
  struct kiln_aws_error e;
  size_t n = KILN_AWS_ERROR_MAX_BODY_BYTES + 1, i;
  char *big = malloc(n);
  char msg[3000];
  char body[3200];

  memset(big, ' ', n);
  assert_int_equal(kiln_aws_error_parse(JSN, 400, big, n, NULL, NULL, &e),
                   KILN_ETOOBIG);
  free(big);
  assert_int_equal(kiln_aws_error_parse(JSN, 400, NULL, 3, NULL, NULL, &e),
                   KILN_EINVAL);

  /* A long UTF-8 message is cut on a character boundary. */
  for (i = 0; i + 2 <= 2998; i += 2)
    memcpy(msg + i, "\xc3\xa9", 2);
  msg[i] = '\0';
  snprintf(body, sizeof(body), "{\"__type\":\"X\",\"message\":\"%s\"}", msg);
  assert_int_equal(
      kiln_aws_error_parse(JSN, 400, body, strlen(body), NULL, NULL, &e), 0);
  assert_true(strlen(e.message) < sizeof(e.message));
  assert_int_equal(strlen(e.message) % 2, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_every_truncation_is_safe),
      cmocka_unit_test(test_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
