/* Internals shared by the AWS client's files: XML and JSON reading, query
 * and JSON request building, and the paginated operation driver that every
 * typed operation (ec2.c, autoscaling.c, ssm.c, imagebuilder.c) runs on.
 * Not a public header.
 */
#ifndef KILN_AWS_CLIENT_PRIVATE_H
#define KILN_AWS_CLIENT_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/arena.h"
#include "kiln/aws_client.h"
#include "kiln/buf.h"

struct kiln_xml_doc;
struct json_object;

/* Largest response body the typed operations parse. */
#define KILN__MAX_DOC_BYTES (16u * 1024 * 1024)

/* ---- reading: a parse context with a sticky error ---- */

struct kiln__px {
  struct kiln_arena *arena;
  int err; /* first error: KILN_ENOMEM or KILN_EPARSE */
  /* What was malformed, for the error a person reads ("Version \"12abc\"
   * is not a version number"); NULL: unsaid. In arena. */
  const char *why;
};

/* Marks the parse malformed (KILN_EPARSE, unless an error came first) and
 * says why, printf-style, unless a reason was given first. */
void kiln__px_bad(struct kiln__px *px, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends one zeroed element to an arena array (*items, *count), growing
 * it geometrically; returns the new element or NULL (px->err set). */
void *kiln__vec_push(struct kiln__px *px, void *items_ptr, size_t *count,
                     size_t elem_size);

/* ---- XML (xml_parse.c: UTF-8, no DTD, no entities but the five
 * predefined, bounded) ---- */

/* An element of a parsed response: its local name, its text (character
 * data and references joined; "" when it holds elements), its first child
 * element and its next sibling element. Lives as long as its document. */
struct kiln_xml_node {
  const char *name;
  size_t name_len;
  const char *text;
  size_t text_len;
  const struct kiln_xml_node *children;
  const struct kiln_xml_node *next;
};

/* Parses body into *doc. Returns 0, KILN_EPARSE (garbage, truncated, a
 * DOCTYPE, an entity, another encoding, a character XML does not allow,
 * nested too deep), KILN_ENOMEM or KILN_ETOOBIG. */
int kiln__xml_parse(const char *body, size_t len, struct kiln_xml_doc **doc);
void kiln__xml_free(struct kiln_xml_doc *doc);

const struct kiln_xml_node *kiln__xml_root(const struct kiln_xml_doc *doc);

/* First child element of n whose local name is name ("a/b/c" walks down);
 * NULL when absent or n is NULL. */
const struct kiln_xml_node *kiln__xml_find(const struct kiln_xml_node *n,
                                           const char *path);

/* First child element of n (any name when name is NULL), and the next
 * sibling element with the same name as n. */
const struct kiln_xml_node *kiln__xml_first(const struct kiln_xml_node *n,
                                            const char *name);
const struct kiln_xml_node *kiln__xml_next(const struct kiln_xml_node *n);

/* Text of the element at path below n, copied into the arena; NULL when
 * absent. */
const char *kiln__xml_str(struct kiln__px *px, const struct kiln_xml_node *n,
                          const char *path);

/* Integer / boolean at path: sets out and returns 1 when present and
 * well-formed, 0 when absent; px->err = KILN_EPARSE when malformed. */
int kiln__xml_i64(struct kiln__px *px, const struct kiln_xml_node *n,
                  const char *path, int64_t *out);
int kiln__xml_bool(struct kiln__px *px, const struct kiln_xml_node *n,
                   const char *path, int *out);

/* Tags below n at path, as <item>|<member> elements with key/value
 * children (key_name, value_name: "key"/"value" or "Key"/"Value"). */
void kiln__xml_tags(struct kiln__px *px, const struct kiln_xml_node *n,
                    const char *path, const char *key_name,
                    const char *value_name, struct kiln_aws_tag **tags,
                    size_t *count);

/* Strings of the list at path (its children named as the first is). */
void kiln__xml_strs(struct kiln__px *px, const struct kiln_xml_node *n,
                    const char *path, const char ***items, size_t *count);

/* ---- JSON reading ---- */

/* Parses body (bounded) into a json object. 0, KILN_EPARSE, KILN_ETOOBIG. */
int kiln__json_parse(const char *body, size_t len, struct json_object **out);

struct json_object *kiln__json_get(struct json_object *o, const char *key);
const char *kiln__json_str(struct kiln__px *px, struct json_object *o,
                           const char *key);
int kiln__json_i64(struct kiln__px *px, struct json_object *o, const char *key,
                   int64_t *out);
int kiln__json_bool(struct kiln__px *px, struct json_object *o, const char *key,
                    int *out);
void kiln__json_strs(struct kiln__px *px, struct json_object *o,
                     const char *key, const char ***items, size_t *count);
/* A {"k": "v"} map as tags. */
void kiln__json_map(struct kiln__px *px, struct json_object *o, const char *key,
                    struct kiln_aws_tag **tags, size_t *count);

/* ---- query request building ---- */

/* A form body with a sticky error. Keys are printf formats. */
struct kiln__query {
  struct kiln_buf buf;
  int err;
};

void kiln__query_init(struct kiln__query *q, const char *action,
                      const char *version);
void kiln__query_cleanup(struct kiln__query *q);
/* Adds key=value; nothing when value is NULL. */
void kiln__query_str(struct kiln__query *q, const char *value,
                     const char *key_fmt, ...)
    __attribute__((format(printf, 3, 4)));
void kiln__query_i64(struct kiln__query *q, int64_t value, const char *key_fmt,
                     ...) __attribute__((format(printf, 3, 4)));
void kiln__query_bool(struct kiln__query *q, int value, const char *key_fmt,
                      ...) __attribute__((format(printf, 3, 4)));

/* ---- JSON request building (sticky error in *err) ---- */

struct json_object *kiln__json_obj(int *err);
void kiln__json_add_str(int *err, struct json_object *o, const char *key,
                        const char *value); /* nothing when value NULL */
void kiln__json_add_i64(int *err, struct json_object *o, const char *key,
                        int64_t value);
void kiln__json_add_bool(int *err, struct json_object *o, const char *key,
                         int value);
void kiln__json_add_strs(int *err, struct json_object *o, const char *key,
                         const char *const *items, size_t count);
void kiln__json_add_map(int *err, struct json_object *o, const char *key,
                        const struct kiln_aws_tag *tags, size_t count);
/* Adds (takes ownership of) value; on failure frees it. */
void kiln__json_add(int *err, struct json_object *o, const char *key,
                    struct json_object *value);

/* ---- operations ---- */

struct kiln__op;

/* Parses one page into op->out; *next_token is the next page's token
 * (NULL or "" at the end). Returns 0, KILN_EPARSE or KILN_ENOMEM. */
typedef int kiln__parse_fn(struct kiln__px *px, void *out,
                           const struct kiln_aws_response *res,
                           const char **next_token);

struct kiln__op_desc {
  enum kiln_aws_service service;
  const char *action;
  const char *method; /* REST-JSON only */
  const char *path;   /* REST-JSON only */
  /* Pagination: the request member that carries the token ("NextToken",
   * "nextToken"); NULL when the operation is not paginated. */
  const char *token_member;
  kiln__parse_fn *parse;
};

/* The serialised request of an operation; ownership passes to
 * kiln__op_start() (even when it fails). */
struct kiln__op_body {
  struct kiln__query query;   /* query protocols */
  struct json_object *json;   /* JSON protocols (body object) */
  struct kiln_buf rest_query; /* REST-JSON GET query string */
  /* A client token still to derive (kiln__op_token()): its member name and
   * the caller's key; NULL: none. */
  const char *token_member;
  const char *token_key;
};

/* A request's idempotency token, named member on the wire: token sent as
 * is, or, when derive is set, the token made at start from token as a key
 * and everything else the request carries (see kiln_aws_client.h). Call it
 * where the member belongs in the body; a derived token goes last. */
void kiln__op_token(struct kiln__op_body *b, const char *member,
                    const char *token, int derive);

void kiln__op_body_init(struct kiln__op_body *b);
void kiln__op_body_cleanup(struct kiln__op_body *b);

/* Runs the operation: every page, parsed into out (zeroed first, strings
 * in arena). Returns 0 (cb will run), or KILN_EINVAL, KILN_ENOMEM or the
 * serialisation error (cb will not run). */
int kiln__op_start(struct kiln_aws_client *client,
                   const struct kiln__op_desc *desc, struct kiln__op_body *body,
                   struct kiln_arena *arena, void *out, size_t out_size,
                   kiln_aws_done_cb *cb, void *data);

/* Serialises the request as it would go on the wire for the first page:
 * the form body, or the JSON text, and (REST) the query string. For tests.
 * Consumes body. */
int kiln__op_render(const struct kiln__op_desc *desc,
                    struct kiln__op_body *body, struct kiln_buf *out);

/* Tests: parse a canned response body as desc would. On error, *why (may
 * be NULL) is what the parser said was malformed, or NULL. */
int kiln__op_parse_body(const struct kiln__op_desc *desc, const char *body,
                        size_t len, struct kiln_arena *arena, void *out,
                        size_t out_size, const char **next_token,
                        const char **why);

#endif
