/* Kiln's XML scanner against libxml2 (see xml_judge.h). */
#include "xml_judge.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "aws_client_private.h"
#include "kiln/error.h"

/* libxml2's verdict, as Kiln read answers before: no network, no DTD. */
static xmlDocPtr libxml2_parse(const char *body, size_t len)
{
  xmlDocPtr doc =
      xmlReadMemory(body, (int)len, "t.xml", NULL,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc != NULL && doc->intSubset != NULL) {
    xmlFreeDoc(doc);
    return NULL;
  }
  return doc;
}

/* The text of an element without element children: its text and CDATA
 * joined (libxml2 has replaced the references). */
static void text_of(xmlNodePtr e, char *out, size_t size)
{
  size_t off = 0;
  out[0] = '\0';
  for (xmlNodePtr c = e->children; c != NULL; c = c->next)
    if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
        c->content != NULL) {
      size_t n = strlen((const char *)c->content);
      if (off + n >= size)
        n = size - off - 1;
      memcpy(out + off, c->content, n);
      off += n;
      out[off] = '\0';
    }
}

static bool has_element_children(xmlNodePtr e)
{
  for (xmlNodePtr c = e->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE)
      return true;
  return false;
}

/* 0 when the trees match, else the first difference in why. */
static int same_tree(xmlNodePtr e, const struct kiln_xml_node *n, char *why,
                     size_t size)
{
  static char text[1 << 16];
  xmlNodePtr c;
  const struct kiln_xml_node *k;

  if (n == NULL || strcmp((const char *)e->name, n->name) != 0 ||
      strlen(n->name) != n->name_len) {
    snprintf(why, size, "element %s: Kiln has %s", e->name,
             n != NULL ? n->name : "nothing");
    return 1;
  }
  if (!has_element_children(e)) {
    text_of(e, text, sizeof(text));
    if (strlen(text) != n->text_len || strcmp(text, n->text) != 0) {
      snprintf(why, size, "text of %s: \"%.40s\" against \"%.40s\"", e->name,
               text, n->text);
      return 1;
    }
  }
  for (c = e->children, k = n->children; c != NULL; c = c->next) {
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (same_tree(c, k, why, size) != 0)
      return 1;
    k = k->next;
  }
  if (k != NULL) {
    snprintf(why, size, "Kiln has an extra %s in %s", k->name, e->name);
    return 1;
  }
  return 0;
}

/* Checks one document; returns 1 when the two disagree (why says how). */
int kiln_test_xml_judge(const char *body, size_t len, char *why, size_t size)
{
  struct kiln_xml_doc *ours = NULL;
  int err = kiln__xml_parse(body, len, &ours);
  xmlDocPtr theirs = libxml2_parse(body, len);
  int differs = 0;

  if (err != 0 && err != KILN_EPARSE) {
    snprintf(why, size, "error %d", err);
    differs = 1;
  } else if (err == 0 && theirs == NULL) {
    snprintf(why, size, "Kiln accepts what libxml2 refuses");
    differs = 1;
  } else if (err == 0) {
    differs = same_tree(xmlDocGetRootElement(theirs), kiln__xml_root(ours), why,
                        size);
  }
  kiln__xml_free(ours);
  xmlFreeDoc(theirs);
  return differs;
}

static void quiet(void *ctx, const char *msg, ...)
{
  (void)ctx, (void)msg;
}

void kiln_test_xml_quiet(void)
{
  xmlSetGenericErrorFunc(NULL, quiet);
}
