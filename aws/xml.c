/* Reading AWS XML responses with libxml2: no network, no DTD, no entity
 * expansion, bounded size; and small helpers to walk elements by local
 * name and copy what is found into an arena.
 */
#define _GNU_SOURCE /* memmem */
#include "aws_client_private.h"

#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/num.h"

#include <stdarg.h>
#include <stdio.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
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

static const char *find_bytes(const char *h, size_t hlen, const char *needle)
{
  return memmem(h, hlen, needle, strlen(needle));
}

int kiln__xml_parse(const char *body, size_t len, struct _xmlDoc **out)
{
  xmlParserCtxtPtr ctxt;
  xmlDocPtr doc;

  *out = NULL;
  if (len > KILN__MAX_DOC_BYTES)
    return KILN_ETOOBIG;
  if (body == NULL || len == 0)
    return KILN_EPARSE;
  /* AWS never sends a DTD; refusing one rules out entity tricks. */
  if (find_bytes(body, len, "<!DOCTYPE") != NULL ||
      find_bytes(body, len, "<!ENTITY") != NULL)
    return KILN_EPARSE;
  ctxt = xmlNewParserCtxt();
  if (ctxt == NULL)
    return KILN_ENOMEM;
  doc = xmlCtxtReadMemory(ctxt, body, (int)len, "aws.xml", NULL,
                          XML_PARSE_NONET | XML_PARSE_NOERROR |
                              XML_PARSE_NOWARNING | XML_PARSE_NOCDATA |
                              XML_PARSE_NOBLANKS | XML_PARSE_COMPACT);
  if (doc != NULL && !ctxt->wellFormed) {
    xmlFreeDoc(doc);
    doc = NULL;
  }
  xmlFreeParserCtxt(ctxt);
  if (doc == NULL || xmlDocGetRootElement(doc) == NULL) {
    if (doc != NULL)
      xmlFreeDoc(doc);
    return KILN_EPARSE;
  }
  *out = doc;
  return 0;
}

struct _xmlNode *kiln__xml_root(struct _xmlDoc *doc)
{
  return doc != NULL ? xmlDocGetRootElement(doc) : NULL;
}

static int named(xmlNodePtr n, const char *name, size_t len)
{
  return n->type == XML_ELEMENT_NODE && n->name != NULL &&
         strlen((const char *)n->name) == len &&
         memcmp(n->name, name, len) == 0;
}

struct _xmlNode *kiln__xml_find(struct _xmlNode *n, const char *path)
{
  while (n != NULL && path != NULL && *path != '\0') {
    const char *slash = strchr(path, '/');
    size_t len = slash != NULL ? (size_t)(slash - path) : strlen(path);
    xmlNodePtr c;

    for (c = n->children; c != NULL; c = c->next)
      if (named(c, path, len))
        break;
    n = c;
    path = slash != NULL ? slash + 1 : NULL;
  }
  return n;
}

struct _xmlNode *kiln__xml_first(struct _xmlNode *n, const char *name)
{
  if (n == NULL)
    return NULL;
  for (xmlNodePtr c = n->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE &&
        (name == NULL || strcmp((const char *)c->name, name) == 0))
      return c;
  return NULL;
}

struct _xmlNode *kiln__xml_next(struct _xmlNode *n)
{
  for (xmlNodePtr c = n != NULL ? n->next : NULL; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE &&
        strcmp((const char *)c->name, (const char *)n->name) == 0)
      return c;
  return NULL;
}

const char *kiln__xml_str(struct kiln__px *px, struct _xmlNode *n,
                          const char *path)
{
  xmlNodePtr e = kiln__xml_find(n, path);
  xmlChar *text;
  char *s;

  if (e == NULL || px->err != 0)
    return NULL;
  /* The usual element, one text child: copied once, not twice. */
  if (e->children != NULL && e->children->next == NULL &&
      e->children->type == XML_TEXT_NODE && e->children->content != NULL) {
    s = kiln_arena_strdup(px->arena, (const char *)e->children->content);
    if (s == NULL)
      px->err = KILN_ENOMEM;
    return s;
  }
  text = xmlNodeGetContent(e);
  if (text == NULL) {
    px->err = KILN_ENOMEM;
    return NULL;
  }
  s = kiln_arena_strdup(px->arena, (const char *)text);
  xmlFree(text);
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

int kiln__xml_i64(struct kiln__px *px, struct _xmlNode *n, const char *path,
                  int64_t *out)
{
  xmlNodePtr e = kiln__xml_find(n, path);
  xmlChar *text;
  int ok;

  if (e == NULL)
    return 0;
  text = xmlNodeGetContent(e);
  if (text == NULL) {
    px->err = KILN_ENOMEM;
    return 0;
  }
  {
    /* XML may wrap the number in white space; nothing else. */
    const char *s = (const char *)text;
    size_t len = strlen(s);
    int64_t v;

    while (len > 0 && is_space(*s))
      s++, len--;
    while (len > 0 && is_space(s[len - 1]))
      len--;
    ok = kiln_num_parse_i64n(s, len, INT64_MIN, INT64_MAX, &v) == 0;
    if (ok)
      *out = v;
    else
      kiln__px_bad(px, "%s \"%.40s\" is not a 64-bit integer", path,
                   (const char *)text);
  }
  xmlFree(text);
  return ok;
}

int kiln__xml_bool(struct kiln__px *px, struct _xmlNode *n, const char *path,
                   int *out)
{
  xmlNodePtr e = kiln__xml_find(n, path);
  xmlChar *text;
  int ok = 1;

  if (e == NULL)
    return 0;
  text = xmlNodeGetContent(e);
  if (text == NULL) {
    px->err = KILN_ENOMEM;
    return 0;
  }
  if (strcmp((const char *)text, "true") == 0)
    *out = 1;
  else if (strcmp((const char *)text, "false") == 0)
    *out = 0;
  else
    ok = 0;
  xmlFree(text);
  if (!ok && px->err == 0)
    px->err = KILN_EPARSE;
  return ok;
}

void kiln__xml_tags(struct kiln__px *px, struct _xmlNode *n, const char *path,
                    const char *key_name, const char *value_name,
                    struct kiln_aws_tag **tags, size_t *count)
{
  xmlNodePtr list = kiln__xml_find(n, path);

  for (xmlNodePtr e = kiln__xml_first(list, NULL); e != NULL;
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

void kiln__xml_strs(struct kiln__px *px, struct _xmlNode *n, const char *path,
                    const char ***items, size_t *count)
{
  xmlNodePtr list = kiln__xml_find(n, path);

  for (xmlNodePtr e = kiln__xml_first(list, NULL); e != NULL;
       e = kiln__xml_next(e)) {
    const char **s = kiln__vec_push(px, items, count, sizeof(*s));
    xmlChar *text;

    if (s == NULL)
      return;
    text = xmlNodeGetContent(e);
    *s = text != NULL ? kiln_arena_strdup(px->arena, (const char *)text) : NULL;
    xmlFree(text);
    if (*s == NULL) {
      px->err = KILN_ENOMEM;
      return;
    }
  }
}
