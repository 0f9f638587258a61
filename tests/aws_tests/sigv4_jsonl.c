#include "sigv4_jsonl.h"
#include "kiln/error.h"

#include <stdlib.h>
#include <string.h>

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

int sigv4_jsonl_parse(const char *line, struct input *in)
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

void sigv4_jsonl_free(struct input *in)
{
  free(in->headers);
  free(in->body);
  json_object_put(in->root);
}

int sigv4_jsonl_read_line(FILE *f, struct kiln_buf *line)
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
