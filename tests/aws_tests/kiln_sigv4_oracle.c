/* Test helper: signs requests read as JSON lines on stdin with Kiln's
 * SigV4 signer and prints every stage as JSON lines on stdout, so that
 * tests/aws_tests/test_sigv4_oracle.py can compare them with botocore's.
 *
 * Input line: {"method", "host", "path", "query", "headers": [[n, v], ...],
 * "body_hex", "access_key", "secret_key", "token", "region", "service",
 * "time", "single_encode"}.
 * Output line: {"canonical_request", "string_to_sign", "signature",
 * "authorization", "amz_date"} or {"error": "..."}.
 *
 * With --bench SECONDS it reads all requests, then signs them in a loop for
 * about that long and prints {"signed": N, "seconds": S}.
 */
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/sigv4.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct input {
  struct kiln_sigv4_request req;
  struct kiln_sigv4_credentials cred;
  struct kiln_sigv4_header *headers;
  unsigned char *body;
  const char *region, *service;
  int64_t now;
  json_object *root; /* owns every string above */
};

static const char *jstr(json_object *o, const char *key)
{
  json_object *v;
  if (!json_object_object_get_ex(o, key, &v) ||
      json_object_get_type(v) != json_type_string)
    return NULL;
  return json_object_get_string(v);
}

static int unhex(const char *s, unsigned char **out, size_t *len)
{
  size_t n = strlen(s) / 2, i;
  *out = malloc(n + 1);
  if (*out == NULL)
    return KILN_ENOMEM;
  for (i = 0; i < n; i++) {
    unsigned int b;
    if (sscanf(s + 2 * i, "%2x", &b) != 1)
      return KILN_EPARSE;
    (*out)[i] = (unsigned char)b;
  }
  *len = n;
  return 0;
}

static int parse_input(const char *line, struct input *in)
{
  json_object *hdrs, *v;
  const char *body_hex;
  size_t i, n;

  memset(in, 0, sizeof(*in));
  in->root = json_tokener_parse(line);
  if (in->root == NULL)
    return KILN_EPARSE;
  in->req.method = jstr(in->root, "method");
  in->req.host = jstr(in->root, "host");
  in->req.path = jstr(in->root, "path");
  in->req.query = jstr(in->root, "query");
  in->cred.access_key_id = jstr(in->root, "access_key");
  in->cred.secret_access_key = jstr(in->root, "secret_key");
  in->cred.session_token = jstr(in->root, "token");
  in->region = jstr(in->root, "region");
  in->service = jstr(in->root, "service");
  if (json_object_object_get_ex(in->root, "time", &v))
    in->now = json_object_get_int64(v);
  if (json_object_object_get_ex(in->root, "single_encode", &v) &&
      json_object_get_boolean(v))
    in->req.flags |= KILN_SIGV4_SINGLE_ENCODE;
  if (json_object_object_get_ex(in->root, "headers", &hdrs)) {
    n = json_object_array_length(hdrs);
    in->headers = calloc(n + 1, sizeof(*in->headers));
    if (in->headers == NULL)
      return KILN_ENOMEM;
    for (i = 0; i < n; i++) {
      json_object *pair = json_object_array_get_idx(hdrs, i);
      in->headers[i].name =
          json_object_get_string(json_object_array_get_idx(pair, 0));
      in->headers[i].value =
          json_object_get_string(json_object_array_get_idx(pair, 1));
    }
    in->req.headers = in->headers;
    in->req.header_count = n;
  }
  body_hex = jstr(in->root, "body_hex");
  if (body_hex != NULL && body_hex[0] != '\0') {
    int err = unhex(body_hex, &in->body, &in->req.body_len);
    if (err != 0)
      return err;
    in->req.body = in->body;
  }
  return 0;
}

static void free_input(struct input *in)
{
  free(in->headers);
  free(in->body);
  json_object_put(in->root);
}

static int read_line(FILE *f, struct kiln_buf *line)
{
  int c;
  kiln_buf_reset(line);
  while ((c = fgetc(f)) != EOF && c != '\n') {
    char ch = (char)c;
    if (kiln_buf_append(line, &ch, 1) != 0)
      return -1;
  }
  return (c == EOF && line->len == 0) ? -1 : 0;
}

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

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
  struct kiln_buf line;
  struct kiln_sigv4_result r;
  struct input *ins = NULL;
  size_t n = 0, cap = 0, i;
  double bench = 0;
  int rc = 0;

  if (argc == 3 && strcmp(argv[1], "--bench") == 0)
    bench = atof(argv[2]);
  kiln_buf_init(&line, 64u * 1024 * 1024);
  kiln_sigv4_result_init(&r);
  while (read_line(stdin, &line) == 0) {
    struct input in;
    int err = parse_input(line.data, &in);
    if (bench > 0) {
      if (err != 0) {
        fprintf(stderr, "bad input line\n");
        return 1;
      }
      if (n == cap) {
        cap = cap ? cap * 2 : 256;
        ins = realloc(ins, cap * sizeof(*ins));
      }
      ins[n++] = in;
      continue;
    }
    if (err == 0)
      err =
          kiln_sigv4_sign(&in.req, &in.cred, in.region, in.service, in.now, &r);
    print_result(&r, err);
    free_input(&in);
  }
  if (bench > 0 && n > 0) {
    unsigned long long signed_count = 0;
    double start = now_s(), elapsed;
    do {
      for (i = 0; i < n; i++) {
        if (kiln_sigv4_sign(&ins[i].req, &ins[i].cred, ins[i].region,
                            ins[i].service, ins[i].now, &r) != 0)
          rc = 1;
      }
      signed_count += n;
      elapsed = now_s() - start;
    } while (elapsed < bench);
    printf("{\"signed\": %llu, \"seconds\": %.6f}\n", signed_count, elapsed);
  }
  for (i = 0; i < n; i++)
    free_input(&ins[i]);
  free(ins);
  kiln_sigv4_result_cleanup(&r);
  kiln_buf_cleanup(&line);
  return rc;
}
