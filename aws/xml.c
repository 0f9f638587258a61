/* Reading AWS XML responses: libxml2 parses (no network, no DTD, no
 * entity expansion, bounded size) into a light tree of elements and their
 * text in one arena; small helpers walk it by local name and copy what is
 * found into the caller's arena. Error bodies (aws_error.c) and STS's
 * answers (credentials_sts.c, which wipes their secrets node by node) are
 * small and rare, and keep libxml2's DOM.
 */
#include "aws_client_private.h"

#include "kiln/arena.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/num.h"

#include <stdarg.h>
#include <stdio.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h> /* xmlCreateMemoryParserCtxt */
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

/* ---- The tree: libxml2 tokenizes and checks well-formedness; its SAX2
 * events build nodes in one arena. No libxml2 DOM: a page of 100 Auto
 * Scaling groups is some 6,000 elements, and a DOM node per element and
 * per text, each its own malloc and free, cost most of a pass's CPU. ---- */

/* AWS nests some 15 deep; libxml2 stops at 256. */
#define MAX_DEPTH 64

struct kiln_xml_doc {
  struct kiln_arena arena;
  xmlDictPtr names; /* the parser's dictionary: every node's name */
  struct kiln_xml_node *root;
};

struct open_element {
  struct kiln_xml_node *node;
  struct kiln_xml_node *last_child;
};

struct builder {
  xmlParserCtxtPtr ctxt;
  struct kiln_xml_doc *doc;
  struct open_element stack[MAX_DEPTH];
  int depth;
  int err;
  /* The open element's text so far: stored when it ends without a child,
   * dropped (layout) when a child starts. */
  struct kiln_buf text;
};

static void stop(struct builder *b, int err)
{
  if (b->err == 0)
    b->err = err;
  xmlStopParser(b->ctxt);
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                     const xmlChar *uri, int nb_namespaces,
                     const xmlChar **namespaces, int nb_attributes,
                     int nb_defaulted, const xmlChar **attributes)
{
  struct builder *b = ctx;
  struct kiln_xml_node *n;

  (void)prefix, (void)uri, (void)nb_namespaces, (void)namespaces;
  (void)nb_attributes, (void)nb_defaulted, (void)attributes;
  if (b->err != 0)
    return;
  if (b->depth == MAX_DEPTH) {
    stop(b, KILN_EPARSE);
    return;
  }
  n = kiln_arena_alloc(&b->doc->arena, sizeof(*n));
  if (n == NULL) {
    stop(b, KILN_ENOMEM);
    return;
  }
  n->name = (const char *)localname;
  n->name_len = strlen(n->name);
  n->text = "";
  if (b->depth == 0) {
    b->doc->root = n;
  } else {
    struct open_element *parent = &b->stack[b->depth - 1];

    if (parent->last_child == NULL)
      parent->node->children = n;
    else
      parent->last_child->next = n;
    parent->last_child = n;
  }
  /* Text beside elements is layout, not a value. */
  kiln_buf_reset(&b->text);
  b->stack[b->depth].node = n;
  b->stack[b->depth].last_child = NULL;
  b->depth++;
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                   const xmlChar *uri)
{
  struct builder *b = ctx;
  struct kiln_xml_node *n;

  (void)localname, (void)prefix, (void)uri;
  if (b->err != 0 || b->depth == 0)
    return;
  n = b->stack[--b->depth].node;
  if (n->children == NULL && b->text.len > 0) {
    char *text = kiln_arena_strndup(&b->doc->arena, b->text.data, b->text.len);
    if (text == NULL) {
      stop(b, KILN_ENOMEM);
      return;
    }
    n->text = text;
    n->text_len = b->text.len;
  }
  kiln_buf_reset(&b->text);
}

/* Character data, CDATA, and predefined or numeric references, which
 * libxml2 hands over in pieces: joined into one string per element. */
static void on_text(void *ctx, const xmlChar *ch, int len)
{
  struct builder *b = ctx;

  if (b->err != 0 || b->depth == 0 || len <= 0 ||
      b->stack[b->depth - 1].node->children != NULL)
    return;
  if (kiln_buf_append(&b->text, ch, (size_t)len) != 0)
    stop(b, KILN_ENOMEM);
}

/* AWS never sends a DTD; refusing one, before libxml2 reads its internal
 * subset, rules out entity tricks. */
static void on_doctype(void *ctx, const xmlChar *name,
                       const xmlChar *external_id, const xmlChar *system_id)
{
  (void)name, (void)external_id, (void)system_id;
  stop(ctx, KILN_EPARSE);
}

static int build(const char *body, size_t len, struct kiln_xml_doc *doc)
{
  struct builder b;
  xmlSAXHandler *sax;
  int err;

  memset(&b, 0, sizeof(b));
  b.doc = doc;
  kiln_buf_init(&b.text, 0);
  b.ctxt = xmlCreateMemoryParserCtxt(body, (int)len);
  if (b.ctxt == NULL)
    return KILN_ENOMEM;
  sax = b.ctxt->sax;
  memset(sax, 0, sizeof(*sax));
  sax->initialized = XML_SAX2_MAGIC;
  sax->internalSubset = on_doctype;
  sax->startElementNs = on_start;
  sax->endElementNs = on_end;
  sax->characters = on_text;
  sax->cdataBlock = on_text;
  b.ctxt->userData = &b;
  xmlCtxtUseOptions(b.ctxt,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  xmlParseDocument(b.ctxt);
  err = b.err;
  if (err == 0 && (!b.ctxt->wellFormed || doc->root == NULL))
    err = KILN_EPARSE;
  if (err == 0) {
    doc->names = b.ctxt->dict;
    xmlDictReference(doc->names);
  }
  xmlFreeParserCtxt(b.ctxt);
  kiln_buf_cleanup(&b.text);
  return err;
}

int kiln__xml_parse(const char *body, size_t len, struct kiln_xml_doc **out)
{
  struct kiln_xml_doc *doc;
  int err;

  *out = NULL;
  if (len > KILN__MAX_DOC_BYTES)
    return KILN_ETOOBIG;
  if (body == NULL || len == 0)
    return KILN_EPARSE;
  doc = calloc(1, sizeof(*doc));
  if (doc == NULL)
    return KILN_ENOMEM;
  kiln_arena_init(&doc->arena, 0);
  err = build(body, len, doc);
  if (err != 0) {
    kiln__xml_free(doc);
    return err;
  }
  *out = doc;
  return 0;
}

void kiln__xml_free(struct kiln_xml_doc *doc)
{
  if (doc == NULL)
    return;
  kiln_arena_cleanup(&doc->arena);
  if (doc->names != NULL)
    xmlDictFree(doc->names);
  free(doc);
}

const struct kiln_xml_node *kiln__xml_root(const struct kiln_xml_doc *doc)
{
  return doc != NULL ? doc->root : NULL;
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
