/* AWS error responses of the query (XML) and JSON protocols. See
 * include/kiln/aws_error.h. */
#include "kiln/aws_error.h"
#include "kiln/error.h"
#include "kiln/http.h"

#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

static const char *find(const char *hay, size_t len, const char *needle)
{
  size_t n = strlen(needle), i;

  for (i = 0; i + n <= len; i++)
    if (memcmp(hay + i, needle, n) == 0)
      return hay + i;
  return NULL;
}

/* Copies src[0..len) into dst (size cap), cutting on a UTF-8 boundary and
 * replacing control characters, which have no place in a log line. */
static void copy_text(char *dst, size_t cap, const char *src, size_t len)
{
  size_t i;

  if (len >= cap) {
    len = cap - 1;
    /* Back up over continuation bytes so no character is cut in half. */
    while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
      len--;
  }
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)src[i];
    dst[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
  }
  dst[len] = '\0';
}

static void copy_str(char *dst, size_t cap, const char *src)
{
  copy_text(dst, cap, src, strlen(src));
}

/* "com.amazonaws.imagebuilder#CallRateLimitExceededException" and
 * "ThrottlingException:http://internal.amazon.com/..." both mean the bare
 * code. */
static void set_code(struct kiln_aws_error *out, const char *code)
{
  const char *start = code, *end, *hash;
  size_t len;

  end = strchr(code, ':');
  if (end == NULL)
    end = code + strlen(code);
  len = (size_t)(end - start);
  for (hash = start + len; hash > start && hash[-1] != '#'; hash--)
    ;
  hash = hash > start ? hash - 1 : NULL;
  if (hash != NULL) {
    len -= (size_t)(hash + 1 - start);
    start = hash + 1;
  }
  while (len > 0 && (*start == ' ' || *start == '\t')) {
    start++;
    len--;
  }
  while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
    len--;
  copy_text(out->code, sizeof(out->code), start, len);
}

/* ---- XML ---- */

static xmlNode *child(xmlNode *parent, const char *name)
{
  xmlNode *n;

  for (n = parent != NULL ? parent->children : NULL; n != NULL; n = n->next)
    if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0)
      return n;
  return NULL;
}

static void copy_node_text(char *dst, size_t cap, xmlNode *n)
{
  xmlChar *s;

  if (n == NULL)
    return;
  s = xmlNodeGetContent(n);
  if (s == NULL)
    return;
  copy_str(dst, cap, (const char *)s);
  xmlFree(s);
}

static int parse_xml(const char *body, size_t len, struct kiln_aws_error *out)
{
  xmlParserCtxtPtr ctxt;
  xmlDocPtr doc;
  xmlNode *root, *err_node, *n;
  int rc = KILN_EPARSE;

  /* No DTD means no entity can be declared: the cheapest way to rule out
   * entity expansion attacks. */
  if (find(body, len, "<!DOCTYPE") != NULL ||
      find(body, len, "<!ENTITY") != NULL)
    return KILN_EPARSE;
  ctxt = xmlNewParserCtxt();
  if (ctxt == NULL)
    return KILN_ENOMEM;
  doc = xmlCtxtReadMemory(ctxt, body, (int)len, "aws-error.xml", NULL,
                          XML_PARSE_NONET | XML_PARSE_NOERROR |
                              XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
  if (doc == NULL)
    goto done;
  root = xmlDocGetRootElement(doc);
  if (root == NULL)
    goto done;
  if (strcmp((const char *)root->name, "Response") == 0) {
    err_node = child(child(root, "Errors"), "Error");
  } else if (strcmp((const char *)root->name, "ErrorResponse") == 0) {
    err_node = child(root, "Error");
  } else if (strcmp((const char *)root->name, "Error") == 0) {
    err_node = root; /* S3-style and some older services */
  } else {
    goto done;
  }
  if ((n = child(root, "RequestID")) != NULL ||
      (n = child(root, "RequestId")) != NULL)
    copy_node_text(out->request_id, sizeof(out->request_id), n);
  if (err_node == NULL)
    goto done;
  if ((n = child(err_node, "Code")) != NULL) {
    char code[sizeof(out->code)] = "";
    copy_node_text(code, sizeof(code), n);
    set_code(out, code);
  }
  copy_node_text(out->message, sizeof(out->message),
                 child(err_node, "Message"));
  if ((n = child(err_node, "Type")) != NULL) {
    char type[16] = "";
    copy_node_text(type, sizeof(type), n);
    out->sender_fault = strcmp(type, "Sender") == 0;
  }
  if (out->code[0] != '\0')
    rc = 0;
done:
  if (doc != NULL)
    xmlFreeDoc(doc);
  xmlFreeParserCtxt(ctxt);
  return rc;
}

/* ---- JSON ---- */

static const char *json_str(json_object *o, const char *key)
{
  json_object *v;

  if (!json_object_object_get_ex(o, key, &v) ||
      !json_object_is_type(v, json_type_string))
    return NULL;
  return json_object_get_string(v);
}

static int parse_json(enum kiln_aws_protocol protocol, const char *body,
                      size_t len, const char *header_type,
                      struct kiln_aws_error *out)
{
  struct json_tokener *tok;
  json_object *root = NULL;
  const char *code = NULL, *msg;
  int rc = KILN_EPARSE;

  /* REST-JSON puts the code in a header, which wins over the body. */
  if (protocol == KILN_AWS_PROTOCOL_REST_JSON && header_type != NULL &&
      header_type[0] != '\0')
    code = header_type;
  if (len > 0) {
    tok = json_tokener_new_ex(32);
    if (tok == NULL)
      return KILN_ENOMEM;
    root = json_tokener_parse_ex(tok, body, (int)len);
    /* A truncated document leaves the tokener wanting more. */
    if (root != NULL && json_tokener_get_error(tok) != json_tokener_success) {
      json_object_put(root);
      root = NULL;
    }
    json_tokener_free(tok);
  }
  if (root != NULL && json_object_is_type(root, json_type_object)) {
    if (code == NULL)
      code = json_str(root, "__type");
    if (code == NULL && protocol == KILN_AWS_PROTOCOL_REST_JSON)
      code = json_str(root, "code");
    if ((msg = json_str(root, "message")) != NULL ||
        (msg = json_str(root, "Message")) != NULL ||
        (msg = json_str(root, "errorMessage")) != NULL)
      copy_str(out->message, sizeof(out->message), msg);
  }
  if (code == NULL && protocol == KILN_AWS_PROTOCOL_JSON && header_type &&
      header_type[0] != '\0')
    code = header_type;
  if (code != NULL) {
    set_code(out, code);
    if (out->code[0] != '\0')
      rc = 0;
  }
  json_object_put(root);
  return rc;
}

int kiln_aws_error_parse(enum kiln_aws_protocol protocol, long http_status,
                         const char *body, size_t body_len,
                         const char *header_error_type,
                         const char *header_request_id,
                         struct kiln_aws_error *out)
{
  int rc;

  if (out == NULL || (body == NULL && body_len != 0))
    return KILN_EINVAL;
  memset(out, 0, sizeof(*out));
  out->http_status = http_status;
  if (body_len > KILN_AWS_ERROR_MAX_BODY_BYTES)
    rc = KILN_ETOOBIG;
  else if (protocol == KILN_AWS_PROTOCOL_EC2_QUERY ||
           protocol == KILN_AWS_PROTOCOL_QUERY)
    rc = body_len > 0 ? parse_xml(body, body_len, out) : KILN_EPARSE;
  else if (protocol == KILN_AWS_PROTOCOL_JSON ||
           protocol == KILN_AWS_PROTOCOL_REST_JSON)
    rc = parse_json(protocol, body, body_len, header_error_type, out);
  else
    return KILN_EINVAL;
  if (out->request_id[0] == '\0' && header_request_id != NULL)
    copy_str(out->request_id, sizeof(out->request_id), header_request_id);
  return rc;
}

int kiln_aws_error_from_response(enum kiln_aws_protocol protocol,
                                 const struct kiln_http_response *res,
                                 struct kiln_aws_error *out)
{
  if (res == NULL)
    return KILN_EINVAL;
  return kiln_aws_error_parse(
      protocol, res->status, res->body.data, res->body.len,
      kiln_http_response_header(res, "x-amzn-errortype"),
      kiln_http_response_request_id(res), out);
}
