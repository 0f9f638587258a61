/* JSON-lines input of SigV4 requests, shared by the oracle helper
 * (tests/aws_tests) and the benchmark (bench/sigv4). One object a line:
 * {"method", "host", "path", "query", "headers": [[n, v], ...],
 * "body_hex", "access_key", "secret_key", "token", "region", "service",
 * "time"}. */
#ifndef KILN_SIGV4_JSONL_H
#define KILN_SIGV4_JSONL_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

#include "kiln/buf.h"
#include "kiln/sigv4.h"

struct input {
  struct kiln_sigv4_request req;
  struct kiln_sigv4_credentials cred;
  struct kiln_sigv4_header *headers;
  unsigned char *body;
  const char *region, *service;
  int64_t now;
  json_object *root; /* owns every string above */
};

int sigv4_jsonl_parse(const char *line, struct input *in);
void sigv4_jsonl_free(struct input *in);
/* Reads one line into line (without the newline); -1 at end of input. */
int sigv4_jsonl_read_line(FILE *f, struct kiln_buf *line);

#endif
