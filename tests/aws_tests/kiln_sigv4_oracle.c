/* Test helper: signs requests read as JSON lines on stdin with Kiln's
 * SigV4 signer and prints every stage as JSON lines on stdout, so that
 * tests/aws_tests/test_sigv4_oracle.py can compare them with botocore's.
 *
 * Input line: {"method", "host", "path", "query", "headers": [[n, v], ...],
 * "body_hex", "access_key", "secret_key", "token", "region", "service",
 * "time", "single_encode"}.
 * Output line: {"canonical_request", "string_to_sign", "signature",
 * "authorization", "amz_date"} or {"error": "..."}.
 */
#include "kiln/error.h"
#include "sigv4_jsonl.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_result(const struct kiln_sigv4_result *r, int err)
{
  json_object *o = json_object_new_object();
  if (err != 0) {
    json_object_object_add(o, "error",
                           json_object_new_string(kiln_err_name(err)));
  } else {
    json_object_object_add(
        o, "canonical_request",
        json_object_new_string_len(r->canonical_request.data,
                                   (int)r->canonical_request.len));
    json_object_object_add(o, "string_to_sign",
                           json_object_new_string(r->string_to_sign.data));
    json_object_object_add(o, "signature",
                           json_object_new_string(r->signature));
    json_object_object_add(o, "authorization",
                           json_object_new_string(r->authorization.data));
    json_object_object_add(o, "amz_date", json_object_new_string(r->amz_date));
  }
  puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
  json_object_put(o);
}

int main(void)
{
  struct kiln_buf line;
  struct kiln_sigv4_result r;

  kiln_buf_init(&line, 64u * 1024 * 1024);
  kiln_sigv4_result_init(&r);
  while (sigv4_jsonl_read_line(stdin, &line) == 0) {
    struct input in;
    int err = sigv4_jsonl_parse(line.data, &in);
    if (err == 0)
      err =
          kiln_sigv4_sign(&in.req, &in.cred, in.region, in.service, in.now, &r);
    print_result(&r, err);
    sigv4_jsonl_free(&in);
  }
  kiln_sigv4_result_cleanup(&r);
  kiln_buf_cleanup(&line);
  return 0;
}
