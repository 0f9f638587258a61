/* Reading AWS XML responses: small helpers walk the tree xml_parse.c
 * builds, by local name, and copy what is found into the caller's arena;
 * and the growable arrays the answers are read into.
 */
#include "aws_client_private.h"

#include "kiln/arena.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/num.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *kiln__vec_push(struct kiln__px *px, void *items_ptr, size_t *count,
                     size_t elem_size)
{
  void **items = items_ptr;
  size_t n = *count;
  char *grown;

  if (px->err != 0)
    return NULL;
  /* The capacity is implied by the count: 4, then powers of two. */
  if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
    size_t cap = n == 0 ? 4 : n * 2;

    if (cap > SIZE_MAX / elem_size) {
      px->err = KILN_ENOMEM;
      return NULL;
    }
    grown = kiln_arena_alloc(px->arena, cap * elem_size);
    if (grown == NULL) {
      px->err = KILN_ENOMEM;
      return NULL;
    }
    if (n > 0)
      memcpy(grown, *items, n * elem_size);
    *items = grown;
  }
  *count = n + 1;
  return (char *)*items + n * elem_size;
}

const struct kiln_xml_node *kiln__xml_find(const struct kiln_xml_node *n,
                                           const char *path)
{
  while (n != NULL && path != NULL && *path != '\0') {
    const char *slash = strchr(path, '/');
    size_t len = slash != NULL ? (size_t)(slash - path) : strlen(path);
    const struct kiln_xml_node *c;

    for (c = n->children; c != NULL; c = c->next)
      if (c->name_len == len && memcmp(c->name, path, len) == 0)
        break;
    n = c;
    path = slash != NULL ? slash + 1 : NULL;
  }
  return n;
}

const struct kiln_xml_node *kiln__xml_first(const struct kiln_xml_node *n,
                                            const char *name)
{
  if (n == NULL)
    return NULL;
  for (const struct kiln_xml_node *c = n->children; c != NULL; c = c->next)
    if (name == NULL || strcmp(c->name, name) == 0)
      return c;
  return NULL;
}

const struct kiln_xml_node *kiln__xml_next(const struct kiln_xml_node *n)
{
  /* One document's names come from one dictionary: the same name is
   * almost always the same pointer. */
  for (const struct kiln_xml_node *c = n != NULL ? n->next : NULL; c != NULL;
       c = c->next)
    if (c->name == n->name || (c->name_len == n->name_len &&
                               memcmp(c->name, n->name, n->name_len) == 0))
      return c;
  return NULL;
}

const char *kiln__xml_str(struct kiln__px *px, const struct kiln_xml_node *n,
                          const char *path)
{
  const struct kiln_xml_node *e = kiln__xml_find(n, path);
  char *s;

  if (e == NULL || px->err != 0)
    return NULL;
  s = kiln_arena_strndup(px->arena, e->text, e->text_len);
  if (s == NULL)
    px->err = KILN_ENOMEM;
  return s;
}

void kiln__px_bad(struct kiln__px *px, const char *fmt, ...)
{
  va_list ap;
  char msg[256];

  if (px->err == 0)
    px->err = KILN_EPARSE;
  if (px->why != NULL || px->err != KILN_EPARSE)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  px->why = kiln_arena_strdup(px->arena, msg);
}

static int is_space(char c)
{
  return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

int kiln__xml_i64(struct kiln__px *px, const struct kiln_xml_node *n,
                  const char *path, int64_t *out)
{
  const struct kiln_xml_node *e = kiln__xml_find(n, path);
  const char *s;
  size_t len;
  int64_t v;

  if (e == NULL)
    return 0;
  /* XML may wrap the number in white space; nothing else. */
  s = e->text;
  len = e->text_len;
  while (len > 0 && is_space(*s))
    s++, len--;
  while (len > 0 && is_space(s[len - 1]))
    len--;
  if (kiln_num_parse_i64n(s, len, INT64_MIN, INT64_MAX, &v) != 0) {
    kiln__px_bad(px, "%s \"%.40s\" is not a 64-bit integer", path, e->text);
    return 0;
  }
  *out = v;
  return 1;
}

int kiln__xml_bool(struct kiln__px *px, const struct kiln_xml_node *n,
                   const char *path, int *out)
{
  const struct kiln_xml_node *e = kiln__xml_find(n, path);

  if (e == NULL)
    return 0;
  if (strcmp(e->text, "true") == 0) {
    *out = 1;
    return 1;
  }
  if (strcmp(e->text, "false") == 0) {
    *out = 0;
    return 1;
  }
  if (px->err == 0)
    px->err = KILN_EPARSE;
  return 0;
}

void kiln__xml_tags(struct kiln__px *px, const struct kiln_xml_node *n,
                    const char *path, const char *key_name,
                    const char *value_name, struct kiln_aws_tag **tags,
                    size_t *count)
{
  const struct kiln_xml_node *list = kiln__xml_find(n, path);

  for (const struct kiln_xml_node *e = kiln__xml_first(list, NULL); e != NULL;
       e = kiln__xml_next(e)) {
    struct kiln_aws_tag *t = kiln__vec_push(px, tags, count, sizeof(*t));

    if (t == NULL)
      return;
    t->key = kiln__xml_str(px, e, key_name);
    t->value = kiln__xml_str(px, e, value_name);
    if (t->key == NULL && px->err == 0)
      px->err = KILN_EPARSE;
    if (t->value == NULL)
      t->value = "";
  }
}

void kiln__xml_strs(struct kiln__px *px, const struct kiln_xml_node *n,
                    const char *path, const char ***items, size_t *count)
{
  const struct kiln_xml_node *list = kiln__xml_find(n, path);

  for (const struct kiln_xml_node *e = kiln__xml_first(list, NULL); e != NULL;
       e = kiln__xml_next(e)) {
    const char **s = kiln__vec_push(px, items, count, sizeof(*s));

    if (s == NULL)
      return;
    *s = kiln_arena_strndup(px->arena, e->text, e->text_len);
    if (*s == NULL) {
      px->err = KILN_ENOMEM;
      return;
    }
  }
}
