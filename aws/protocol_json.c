/* The JSON protocols (SSM's JSON 1.1, Image Builder's REST-JSON): building
 * request bodies and reading responses with json-c, bounded.
 */
#include "aws_client_private.h"

#include "kiln/error.h"

#include <json-c/json.h>
#include <string.h>

int kiln__json_parse(const char *body, size_t len, struct json_object **out)
{
  struct json_tokener *tok;
  struct json_object *o;

  *out = NULL;
  if (len > KILN__MAX_DOC_BYTES)
    return KILN_ETOOBIG;
  if (body == NULL || len == 0)
    return KILN_EPARSE;
  tok = json_tokener_new_ex(64);
  if (tok == NULL)
    return KILN_ENOMEM;
  o = json_tokener_parse_ex(tok, body, (int)len);
  if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
      json_tokener_get_parse_end(tok) != len) {
    /* Trailing bytes after a value are garbage too (whitespace aside). */
    size_t end = json_tokener_get_parse_end(tok);

    while (o != NULL && end < len &&
           (body[end] == ' ' || body[end] == '\n' || body[end] == '\r' ||
            body[end] == '\t'))
      end++;
    if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        end != len) {
      json_object_put(o);
      json_tokener_free(tok);
      return KILN_EPARSE;
    }
  }
  json_tokener_free(tok);
  if (!json_object_is_type(o, json_type_object)) {
    json_object_put(o);
    return KILN_EPARSE;
  }
  *out = o;
  return 0;
}

struct json_object *kiln__json_get(struct json_object *o, const char *key)
{
  struct json_object *v = NULL;

  if (o == NULL || !json_object_is_type(o, json_type_object) ||
      !json_object_object_get_ex(o, key, &v) ||
      json_object_is_type(v, json_type_null))
    return NULL;
  return v;
}

static void bad(struct kiln__px *px)
{
  if (px->err == 0)
    px->err = KILN_EPARSE;
}

const char *kiln__json_str(struct kiln__px *px, struct json_object *o,
                           const char *key)
{
  struct json_object *v = kiln__json_get(o, key);
  char *s;

  if (v == NULL || px->err != 0)
    return NULL;
  if (!json_object_is_type(v, json_type_string)) {
    bad(px);
    return NULL;
  }
  s = kiln_arena_strndup(px->arena, json_object_get_string(v),
                         (size_t)json_object_get_string_len(v));
  if (s == NULL)
    px->err = KILN_ENOMEM;
  return s;
}

int kiln__json_i64(struct kiln__px *px, struct json_object *o, const char *key,
                   int64_t *out)
{
  struct json_object *v = kiln__json_get(o, key);

  if (v == NULL)
    return 0;
  if (!json_object_is_type(v, json_type_int)) {
    /* Some fields are doubles on the wire (timestamps); take whole ones. */
    if (json_object_is_type(v, json_type_double)) {
      double d = json_object_get_double(v);
      /* Converting a double outside int64's range is undefined. */
      if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
        kiln__px_bad(px, "%s %g is out of range", key, d);
        return 0;
      }
      *out = (int64_t)d;
      return 1;
    }
    bad(px);
    return 0;
  }
  /* json-c saturates a number beyond int64 to its limits, silently; no
   * AWS field comes near them. */
  int64_t n = json_object_get_int64(v);
  if (n == INT64_MAX || n == INT64_MIN) {
    kiln__px_bad(px, "%s %s is out of range", key,
                 json_object_to_json_string(v));
    return 0;
  }
  *out = n;
  return 1;
}

int kiln__json_bool(struct kiln__px *px, struct json_object *o, const char *key,
                    int *out)
{
  struct json_object *v = kiln__json_get(o, key);

  if (v == NULL)
    return 0;
  if (!json_object_is_type(v, json_type_boolean)) {
    bad(px);
    return 0;
  }
  *out = json_object_get_boolean(v);
  return 1;
}

void kiln__json_strs(struct kiln__px *px, struct json_object *o,
                     const char *key, const char ***items, size_t *count)
{
  struct json_object *a = kiln__json_get(o, key);
  size_t n;

  if (a == NULL)
    return;
  if (!json_object_is_type(a, json_type_array)) {
    bad(px);
    return;
  }
  n = json_object_array_length(a);
  for (size_t i = 0; i < n && px->err == 0; i++) {
    struct json_object *v = json_object_array_get_idx(a, i);
    const char **s;

    if (!json_object_is_type(v, json_type_string)) {
      bad(px);
      return;
    }
    s = kiln__vec_push(px, items, count, sizeof(*s));
    if (s == NULL)
      return;
    *s = kiln_arena_strdup(px->arena, json_object_get_string(v));
    if (*s == NULL)
      px->err = KILN_ENOMEM;
  }
}

void kiln__json_map(struct kiln__px *px, struct json_object *o, const char *key,
                    struct kiln_aws_tag **tags, size_t *count)
{
  struct json_object *m = kiln__json_get(o, key);

  if (m == NULL)
    return;
  if (!json_object_is_type(m, json_type_object)) {
    bad(px);
    return;
  }
  json_object_object_foreach(m, k, v)
  {
    struct kiln_aws_tag *t;

    if (!json_object_is_type(v, json_type_string)) {
      bad(px);
      return;
    }
    t = kiln__vec_push(px, tags, count, sizeof(*t));
    if (t == NULL)
      return;
    t->key = kiln_arena_strdup(px->arena, k);
    t->value = kiln_arena_strdup(px->arena, json_object_get_string(v));
    if (t->key == NULL || t->value == NULL) {
      px->err = KILN_ENOMEM;
      return;
    }
  }
}

/* ---- building ---- */

struct json_object *kiln__json_obj(int *err)
{
  struct json_object *o = json_object_new_object();

  if (o == NULL && *err == 0)
    *err = KILN_ENOMEM;
  return o;
}

void kiln__json_add(int *err, struct json_object *o, const char *key,
                    struct json_object *value)
{
  if (*err != 0 || o == NULL || value == NULL) {
    json_object_put(value);
    if (*err == 0)
      *err = KILN_ENOMEM;
    return;
  }
  if (json_object_object_add(o, key, value) != 0) {
    json_object_put(value);
    *err = KILN_ENOMEM;
  }
}

void kiln__json_add_str(int *err, struct json_object *o, const char *key,
                        const char *value)
{
  if (value == NULL || *err != 0)
    return;
  kiln__json_add(err, o, key, json_object_new_string(value));
}

void kiln__json_add_i64(int *err, struct json_object *o, const char *key,
                        int64_t value)
{
  if (*err != 0)
    return;
  kiln__json_add(err, o, key, json_object_new_int64(value));
}

void kiln__json_add_bool(int *err, struct json_object *o, const char *key,
                         int value)
{
  if (*err != 0)
    return;
  kiln__json_add(err, o, key, json_object_new_boolean(value ? 1 : 0));
}

void kiln__json_add_strs(int *err, struct json_object *o, const char *key,
                         const char *const *items, size_t count)
{
  struct json_object *a;

  if (*err != 0)
    return;
  a = json_object_new_array();
  for (size_t i = 0; a != NULL && i < count; i++) {
    struct json_object *s = json_object_new_string(items[i] ? items[i] : "");

    if (s == NULL || json_object_array_add(a, s) != 0) {
      json_object_put(s);
      json_object_put(a);
      a = NULL;
    }
  }
  kiln__json_add(err, o, key, a);
}

void kiln__json_add_map(int *err, struct json_object *o, const char *key,
                        const struct kiln_aws_tag *tags, size_t count)
{
  struct json_object *m;

  if (*err != 0)
    return;
  m = json_object_new_object();
  for (size_t i = 0; m != NULL && i < count; i++) {
    struct json_object *s =
        json_object_new_string(tags[i].value ? tags[i].value : "");

    if (s == NULL || tags[i].key == NULL ||
        json_object_object_add(m, tags[i].key, s) != 0) {
      json_object_put(s);
      json_object_put(m);
      m = NULL;
    }
  }
  kiln__json_add(err, o, key, m);
}
