/* AWS's XML answers into a light tree, read by a scanner of the XML that
 * AWS writes: UTF-8, elements, attributes (skipped), character data, the
 * five predefined and numeric character references, CDATA, comments and
 * processing instructions (skipped). A DOCTYPE, any other entity, another
 * encoding, a mismatched or unclosed tag, a control character or a byte
 * that is not UTF-8 ends the parse with KILN_EPARSE, as libxml2 would.
 *
 * libxml2 read these answers before: its tokenizer was a third of a pass's
 * CPU (a few MB of XML a pass at 1,000 apps, at some 300 MB/s). Error
 * bodies and STS's answers, small and rare, still go through libxml2.
 */
#include "aws_client_private.h"

#include "kiln/arena.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* AWS nests some 15 deep. */
#define MAX_DEPTH 64
/* Attributes on one element. */
#define MAX_ATTRIBUTES 16
/* Namespace prefixes declared at once in the open elements. */
#define MAX_PREFIXES 32
/* Distinct element names kept once each (AWS's answers use ~100). */
#define NAME_SLOTS 512
/* Nodes allocated at once. */
#define NODE_BATCH 64

struct kiln_xml_doc {
  struct kiln_arena arena;
  struct kiln_xml_node *root;
};

struct open_element {
  struct kiln_xml_node *node;
  struct kiln_xml_node *last_child;
  const char *qname; /* in the body: the end tag must repeat it */
  size_t qname_len;
};

struct prefix {
  const char *name;
  size_t len;
  int depth;
};

struct scanner {
  const char *p, *end;
  struct kiln_xml_doc *doc;
  struct open_element stack[MAX_DEPTH];
  int depth;
  /* The open element's text so far: kept when it ends without a child,
   * dropped (layout) when a child starts. While it is one run of the body
   * it is only pointed at (piece); text holds it once it is more. */
  const char *piece;
  size_t piece_len;
  struct kiln_buf text;
  /* xmlns:P declarations in scope, with the depth of their element. */
  struct prefix prefixes[MAX_PREFIXES];
  int n_prefixes;
  const char *names[NAME_SLOTS];
  size_t name_lens[NAME_SLOTS];
  struct kiln_xml_node *spare; /* zeroed nodes not handed out yet */
  size_t n_spare;
};

/* What a byte may be, looked up once per byte in the loops that read most
 * of a document (names, text between tags, space). Names: ASCII letters,
 * '_' and ':' start one; digits, '-' and '.' go on one; bytes from 0x80
 * are UTF-8, checked as such. Plain text: what character data holds
 * without a second look (not markup, a reference, a control character,
 * UTF-8 or '>', which may end "]]>"). */
enum {
  C_SPACE = 1,
  C_NAME_START = 2,
  C_NAME = 4,
  C_PLAIN_TEXT = 8,
};

#define C_IS_LETTER(c)                                                         \
  (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define C_OF(c)                                                                \
  (((c) == ' ' || (c) == '\n' || (c) == '\t' || (c) == '\r' ? C_SPACE : 0) |   \
   (C_IS_LETTER(c) || (c) == '_' || (c) == ':' || (c) >= 0x80                  \
        ? C_NAME_START | C_NAME                                                \
        : 0) |                                                                 \
   (((c) >= '0' && (c) <= '9') || (c) == '-' || (c) == '.' ? C_NAME : 0) |     \
   ((((c) >= 0x20 && (c) < 0x80) || (c) == '\n' || (c) == '\t' ||              \
     (c) == '\r') &&                                                           \
            (c) != '<' && (c) != '&' && (c) != '>'                             \
        ? C_PLAIN_TEXT                                                         \
        : 0))
#define C_ROW(r)                                                               \
  C_OF(r), C_OF(r + 1), C_OF(r + 2), C_OF(r + 3), C_OF(r + 4), C_OF(r + 5),    \
      C_OF(r + 6), C_OF(r + 7), C_OF(r + 8), C_OF(r + 9), C_OF(r + 10),        \
      C_OF(r + 11), C_OF(r + 12), C_OF(r + 13), C_OF(r + 14), C_OF(r + 15)

static const unsigned char char_class[256] = {
    C_ROW(0x00), C_ROW(0x10), C_ROW(0x20), C_ROW(0x30),
    C_ROW(0x40), C_ROW(0x50), C_ROW(0x60), C_ROW(0x70),
    C_ROW(0x80), C_ROW(0x90), C_ROW(0xA0), C_ROW(0xB0),
    C_ROW(0xC0), C_ROW(0xD0), C_ROW(0xE0), C_ROW(0xF0)};

static bool is_space(unsigned char c)
{
  return (char_class[c] & C_SPACE) != 0;
}

static bool is_name_start(unsigned char c)
{
  return (char_class[c] & C_NAME_START) != 0;
}

static bool is_name_char(unsigned char c)
{
  return (char_class[c] & C_NAME) != 0;
}

static bool starts(const struct scanner *s, const char *lit)
{
  size_t n = strlen(lit);
  return (size_t)(s->end - s->p) >= n && memcmp(s->p, lit, n) == 0;
}

static bool is(const char *s, size_t len, const char *lit)
{
  return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

static size_t read_reference(const char *p, const char *end, char out[4],
                             size_t *out_len);

static void skip_space(struct scanner *s)
{
  const char *p = s->p;
  while (p < s->end && is_space((unsigned char)*p))
    p++;
  s->p = p;
}

/* The length of the character at p when XML allows it in a document
 * (tab, newline, carriage return, U+0020 and up, valid UTF-8, not U+FFFE
 * or U+FFFF), else 0. */
static size_t char_len(const char *p, const char *end)
{
  unsigned char c = (unsigned char)*p;
  size_t n;

  if (c < 0x80)
    return c >= 0x20 || c == '\t' || c == '\n' || c == '\r' ? 1 : 0;
  n = kiln_utf8_seq_len((const unsigned char *)p, (size_t)(end - p));
  if (n == 3 && c == 0xEF && (unsigned char)p[1] == 0xBF &&
      (unsigned char)p[2] >= 0xBE)
    return 0;
  return n;
}

/* Checks every character of [p, end). */
static int check_chars(const char *p, const char *end)
{
  while (p < end) {
    unsigned char c = (unsigned char)*p;
    if (c >= 0x20 && c < 0x80) {
      p++;
      continue;
    }
    size_t n = char_len(p, end);
    if (n == 0)
      return KILN_EPARSE;
    p += n;
  }
  return 0;
}

/* Moves past the next `lit` (a comment's, PI's or CDATA's end), checking
 * the characters before it; *body is what it closed. */
static int skip_to(struct scanner *s, const char *lit, const char **body,
                   size_t *body_len)
{
  size_t n = strlen(lit);
  const char *at = s->p;

  for (;;) {
    at = memchr(at, lit[0], (size_t)(s->end - at));
    if (at == NULL || (size_t)(s->end - at) < n)
      return KILN_EPARSE;
    if (memcmp(at, lit, n) == 0)
      break;
    at++;
  }
  if (check_chars(s->p, at) != 0)
    return KILN_EPARSE;
  if (body != NULL) {
    *body = s->p;
    *body_len = (size_t)(at - s->p);
  }
  s->p = at + n;
  return 0;
}

/* The code point of the valid UTF-8 sequence of n bytes at p. */
static uint32_t decode_utf8(const unsigned char *p, size_t n)
{
  static const unsigned char lead_mask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  uint32_t cp = p[0] & lead_mask[n];
  for (size_t i = 1; i < n; i++)
    cp = (cp << 6) | (p[i] & 0x3F);
  return cp;
}

/* XML 1.0 (fifth edition) NameStartChar and NameChar beyond ASCII. */
static bool name_start_cp(uint32_t cp)
{
  return (cp >= 0xC0 && cp <= 0xD6) || (cp >= 0xD8 && cp <= 0xF6) ||
         (cp >= 0xF8 && cp <= 0x2FF) || (cp >= 0x370 && cp <= 0x37D) ||
         (cp >= 0x37F && cp <= 0x1FFF) || (cp >= 0x200C && cp <= 0x200D) ||
         (cp >= 0x2070 && cp <= 0x218F) || (cp >= 0x2C00 && cp <= 0x2FEF) ||
         (cp >= 0x3001 && cp <= 0xD7FF) || (cp >= 0xF900 && cp <= 0xFDCF) ||
         (cp >= 0xFDF0 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0xEFFFF);
}

static bool name_cp(uint32_t cp)
{
  return name_start_cp(cp) || cp == 0xB7 || (cp >= 0x300 && cp <= 0x36F) ||
         (cp >= 0x203F && cp <= 0x2040);
}

/* A name of [p, end) whose bytes are name bytes, some beyond ASCII: each
 * of those a character XML allows where it stands. */
static int check_name(const char *p, const char *end)
{
  for (const char *start = p; p < end;) {
    size_t n;
    if ((unsigned char)*p < 0x80) {
      p++;
      continue;
    }
    n = char_len(p, end);
    if (n == 0)
      return KILN_EPARSE;
    uint32_t cp = decode_utf8((const unsigned char *)p, n);
    if (!(p == start ? name_start_cp(cp) : name_cp(cp)))
      return KILN_EPARSE;
    p += n;
  }
  return 0;
}

static int scan_name(struct scanner *s, const char **name, size_t *len)
{
  const char *start = s->p, *p = start, *end = s->end;
  unsigned char high = 0;

  if (p == end || !is_name_start((unsigned char)*p))
    return KILN_EPARSE;
  while (p < end && is_name_char((unsigned char)*p))
    high |= (unsigned char)*p++;
  if ((high & 0x80) != 0 && check_name(start, p) != 0)
    return KILN_EPARSE;
  s->p = p;
  *name = start;
  *len = (size_t)(p - start);
  return 0;
}

/* One copy of each distinct name, NUL-terminated, in the document's
 * arena: nodes of the same name share the pointer. */
static const char *intern(struct scanner *s, const char *name, size_t len)
{
  /* Its length and ends tell AWS's names apart well enough. */
  uint32_t h = (uint32_t)len * 2654435761u ^
               (uint32_t)(unsigned char)name[0] * 40503u ^
               (uint32_t)(unsigned char)name[len - 1] * 9973u ^
               (uint32_t)(unsigned char)name[len / 2] * 131u;
  char *copy;

  for (size_t probe = 0; probe < NAME_SLOTS; probe++) {
    size_t slot = (h + probe) & (NAME_SLOTS - 1);
    if (s->names[slot] == NULL) {
      copy = kiln_arena_strndup(&s->doc->arena, name, len);
      s->names[slot] = copy;
      s->name_lens[slot] = len;
      return copy;
    }
    if (s->name_lens[slot] == len && memcmp(s->names[slot], name, len) == 0)
      return s->names[slot];
  }
  return kiln_arena_strndup(&s->doc->arena, name, len);
}

/* An attribute (or a pseudo-attribute of the declaration), after the
 * space before it: name="value" or name='value'. */
static int attribute(struct scanner *s, const char **name, size_t *name_len,
                     const char **value, size_t *value_len)
{
  const char *close;

  if (scan_name(s, name, name_len) != 0)
    return KILN_EPARSE;
  skip_space(s);
  if (!starts(s, "="))
    return KILN_EPARSE;
  s->p++;
  skip_space(s);
  if (s->p == s->end || (*s->p != '"' && *s->p != '\''))
    return KILN_EPARSE;
  close = memchr(s->p + 1, *s->p, (size_t)(s->end - s->p - 1));
  if (close == NULL)
    return KILN_EPARSE;
  *value = s->p + 1;
  *value_len = (size_t)(close - s->p - 1);
  s->p = close + 1;
  return 0;
}

/* An attribute's value: characters XML allows, no '<', references that
 * are references. */
static int attribute_value(const char *p, const char *end)
{
  char out[4];
  size_t out_len, n;

  if (memchr(p, '<', (size_t)(end - p)) != NULL || check_chars(p, end) != 0)
    return KILN_EPARSE;
  while ((p = memchr(p, '&', (size_t)(end - p))) != NULL) {
    n = read_reference(p, end, out, &out_len);
    if (n == 0)
      return KILN_EPARSE;
    p += n;
  }
  return 0;
}

/* Attributes are read and dropped: AWS's carry only namespaces. */
static int skip_attributes(struct scanner *s, bool *empty)
{
  /* Names seen, for duplicates: AWS's elements carry one attribute. */
  struct {
    const char *name;
    size_t len;
  } seen[MAX_ATTRIBUTES];
  int n_seen = 0;

  for (;;) {
    const char *name, *value;
    size_t len, value_len;
    bool spaced = s->p < s->end && is_space((unsigned char)*s->p);

    skip_space(s);
    if (s->p < s->end && *s->p == '>') {
      s->p++;
      *empty = false;
      return 0;
    }
    if (starts(s, "/>")) {
      s->p += 2;
      *empty = true;
      return 0;
    }
    if (!spaced || n_seen == MAX_ATTRIBUTES ||
        attribute(s, &name, &len, &value, &value_len) != 0 ||
        attribute_value(value, value + value_len) != 0)
      return KILN_EPARSE;
    for (int i = 0; i < n_seen; i++)
      if (seen[i].len == len && memcmp(seen[i].name, name, len) == 0)
        return KILN_EPARSE;
    seen[n_seen].name = name;
    seen[n_seen++].len = len;
    /* xmlns:P="" binds nothing (XML Namespaces 1.0). */
    if (len > 6 && memcmp(name, "xmlns:", 6) == 0 && value_len > 0) {
      if (s->n_prefixes == MAX_PREFIXES)
        return KILN_EPARSE;
      s->prefixes[s->n_prefixes++] =
          (struct prefix){name + 6, len - 6, s->depth};
    }
  }
}

static bool declared(const struct scanner *s, const char *prefix, size_t len)
{
  if (is(prefix, len, "xml"))
    return true;
  for (int i = 0; i < s->n_prefixes; i++)
    if (s->prefixes[i].len == len &&
        memcmp(s->prefixes[i].name, prefix, len) == 0)
      return true;
  return false;
}

/* Drops the prefixes the element just closed declared. */
static void out_of_scope(struct scanner *s)
{
  while (s->n_prefixes > 0 && s->prefixes[s->n_prefixes - 1].depth >= s->depth)
    s->n_prefixes--;
}

/* Forgets the open element's text. */
static void drop_text(struct scanner *s)
{
  s->piece_len = 0;
  if (s->text.len > 0)
    kiln_buf_reset(&s->text);
}

/* A zeroed node, from a batch: one arena call per NODE_BATCH nodes. */
static struct kiln_xml_node *new_node(struct scanner *s)
{
  if (s->n_spare == 0) {
    s->spare = kiln_arena_alloc(&s->doc->arena, NODE_BATCH * sizeof(*s->spare));
    if (s->spare == NULL)
      return NULL;
    s->n_spare = NODE_BATCH;
  }
  s->n_spare--;
  return s->spare++;
}

static int open_element(struct scanner *s)
{
  struct kiln_xml_node *n;
  const char *qname, *colon;
  size_t qlen;
  bool empty;
  int err;

  s->p++; /* '<' */
  if ((err = scan_name(s, &qname, &qlen)) != 0)
    return err;
  if (s->p < s->end && *s->p == '>') { /* most of AWS's: no attribute */
    s->p++;
    empty = false;
  } else if ((err = skip_attributes(s, &empty)) != 0) {
    return err;
  }
  if (s->depth == MAX_DEPTH)
    return KILN_EPARSE;
  if ((n = new_node(s)) == NULL)
    return KILN_ENOMEM;
  /* The local name: what follows a declared namespace prefix. */
  colon = memchr(qname, ':', qlen);
  if (colon == qname + qlen - 1)
    return KILN_EPARSE; /* "prefix:" names nothing */
  if (colon != NULL && declared(s, qname, (size_t)(colon - qname)))
    n->name_len = qlen - (size_t)(colon + 1 - qname);
  else
    n->name_len = qlen;
  n->name = intern(s, qname + qlen - n->name_len, n->name_len);
  if (n->name == NULL)
    return KILN_ENOMEM;
  n->text = "";
  if (s->depth == 0) {
    s->doc->root = n;
  } else {
    struct open_element *parent = &s->stack[s->depth - 1];
    if (parent->last_child == NULL)
      parent->node->children = n;
    else
      parent->last_child->next = n;
    parent->last_child = n;
  }
  /* Text beside elements is layout, not a value. */
  drop_text(s);
  if (!empty)
    s->stack[s->depth++] = (struct open_element){n, NULL, qname, qlen};
  else
    out_of_scope(s);
  return 0;
}

static int close_element(struct scanner *s)
{
  struct open_element *top;
  size_t len;

  s->p += 2; /* "</" */
  if (s->depth == 0)
    return KILN_EPARSE;
  top = &s->stack[--s->depth];
  out_of_scope(s);
  /* The open element's name, and not the start of a longer one. */
  len = top->qname_len;
  if ((size_t)(s->end - s->p) <= len || memcmp(s->p, top->qname, len) != 0 ||
      is_name_char((unsigned char)s->p[len]))
    return KILN_EPARSE;
  s->p += len;
  skip_space(s);
  if (!starts(s, ">"))
    return KILN_EPARSE;
  s->p++;
  if (top->node->children == NULL && (s->piece_len > 0 || s->text.len > 0)) {
    const char *from = s->piece_len > 0 ? s->piece : s->text.data;
    size_t text_len = s->piece_len > 0 ? s->piece_len : s->text.len;
    char *text = kiln_arena_strndup(&s->doc->arena, from, text_len);
    if (text == NULL)
      return KILN_ENOMEM;
    top->node->text = text;
    top->node->text_len = text_len;
  }
  drop_text(s);
  return 0;
}

static bool keeps_text(const struct scanner *s)
{
  return s->stack[s->depth - 1].node->children == NULL;
}

/* The text so far into s->text: more is coming. */
static int unpiece(struct scanner *s)
{
  size_t n = s->piece_len;
  s->piece_len = 0;
  return n > 0 && kiln_buf_append(&s->text, s->piece, n) != 0 ? KILN_ENOMEM : 0;
}

/* Appends bytes to the open element's text as they are (not the body's:
 * they are copied). */
static int append_raw(struct scanner *s, const char *p, size_t n)
{
  if (!keeps_text(s) || n == 0)
    return 0;
  return unpiece(s) != 0 || kiln_buf_append(&s->text, p, n) != 0 ? KILN_ENOMEM
                                                                 : 0;
}

/* Appends text read from the document, line ends read as XML reads them:
 * "\r\n" and a lone "\r" are "\n" (a "&#13;" stays "\r"). */
static int append_text(struct scanner *s, const char *p, size_t n)
{
  const char *cr;

  if (!keeps_text(s) || n == 0)
    return 0;
  if (s->piece_len == 0 && s->text.len == 0 && memchr(p, '\r', n) == NULL) {
    s->piece = p; /* the body's own bytes, as they are */
    s->piece_len = n;
    return 0;
  }
  if (unpiece(s) != 0)
    return KILN_ENOMEM;
  while ((cr = memchr(p, '\r', n)) != NULL) {
    size_t before = (size_t)(cr - p);
    if (kiln_buf_append(&s->text, p, before) != 0 ||
        kiln_buf_append(&s->text, "\n", 1) != 0)
      return KILN_ENOMEM;
    before += before + 1 < n && cr[1] == '\n' ? 2 : 1;
    p += before;
    n -= before;
  }
  return kiln_buf_append(&s->text, p, n) != 0 ? KILN_ENOMEM : 0;
}

/* A code point as UTF-8 into out; its length. */
static size_t encode_utf8(uint32_t cp, char out[4])
{
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

static bool xml_char(uint32_t cp)
{
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* "&#10;", "&#x1F600;": an XML character, at most 8 digits. */
static int numeric_reference(const char *ref, size_t len, char out[4],
                             size_t *out_len)
{
  bool hex = len > 1 && ref[1] == 'x';
  size_t i = hex ? 2 : 1;
  uint32_t cp = 0;

  if (i == len || len - i > 8)
    return KILN_EPARSE;
  for (; i < len; i++) {
    unsigned char c = (unsigned char)ref[i];
    uint32_t digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (hex && c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else if (hex && c >= 'A' && c <= 'F')
      digit = c - 'A' + 10;
    else
      return KILN_EPARSE;
    cp = cp * (hex ? 16 : 10) + digit;
    if (cp > 0x10FFFF)
      return KILN_EPARSE;
  }
  if (!xml_char(cp))
    return KILN_EPARSE;
  *out_len = encode_utf8(cp, out);
  return 0;
}

/* The reference at p ('&'): the five predefined entities and character
 * references, into out. Returns the bytes it spans, 0 when it is not one. */
static size_t read_reference(const char *p, const char *end, char out[4],
                             size_t *out_len)
{
  static const struct {
    const char *name;
    char c;
  } predefined[] = {
      {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
  const char *ref = p + 1;
  size_t avail = (size_t)(end - ref);
  const char *semi = memchr(ref, ';', avail < 16 ? avail : 16);
  size_t len;

  *out_len = 0;
  if (semi == NULL)
    return 0;
  len = (size_t)(semi - ref);
  if (len > 0 && ref[0] == '#')
    return numeric_reference(ref, len, out, out_len) == 0 ? len + 2 : 0;
  for (size_t i = 0; i < sizeof(predefined) / sizeof(predefined[0]); i++)
    if (is(ref, len, predefined[i].name)) {
      out[0] = predefined[i].c;
      *out_len = 1;
      return len + 2;
    }
  return 0; /* no other entity exists without a DTD */
}

static int reference(struct scanner *s)
{
  char out[4];
  size_t out_len;
  size_t n = read_reference(s->p, s->end, out, &out_len);

  if (n == 0)
    return KILN_EPARSE;
  s->p += n;
  return append_raw(s, out, out_len);
}

/* Character data up to the next markup or reference. */
static int char_data(struct scanner *s)
{
  const char *start = s->p, *p = start, *end = s->end;

  for (;;) {
    unsigned char c;
    while (p < end && (char_class[(unsigned char)*p] & C_PLAIN_TEXT) != 0)
      p++;
    if (p == end || *p == '<' || *p == '&')
      break;
    c = (unsigned char)*p;
    /* "]]>" ends CDATA; in character data it is an error. */
    if (c == '>' && p - start >= 2 && p[-1] == ']' && p[-2] == ']')
      return KILN_EPARSE;
    size_t n = char_len(p, end);
    if (n == 0)
      return KILN_EPARSE;
    p += n;
  }
  s->p = p;
  return append_text(s, start, (size_t)(p - start));
}

/* A PI's target and data ("target data"): a target named xml is the
 * declaration, allowed only first; data is set apart by space. */
static int processing_instruction(const char *body, size_t len)
{
  size_t target = 0;

  while (target < len && is_name_char((unsigned char)body[target]))
    target++;
  if (target == 0 || !is_name_start((unsigned char)body[0]) ||
      check_name(body, body + target) != 0 ||
      (target == 3 && strncasecmp(body, "xml", 3) == 0) ||
      (target < len && !is_space((unsigned char)body[target])))
    return KILN_EPARSE;
  return 0;
}

/* Comments and processing instructions, wherever they may be. */
static int misc(struct scanner *s, bool *done)
{
  const char *body;
  size_t len;

  *done = true;
  if (starts(s, "<!--")) {
    s->p += 4;
    if (skip_to(s, "-->", &body, &len) != 0)
      return KILN_EPARSE;
    /* "--" may not appear in a comment, nor "-" end it. */
    for (size_t i = 0; i + 1 < len; i++)
      if (body[i] == '-' && body[i + 1] == '-')
        return KILN_EPARSE;
    return len > 0 && body[len - 1] == '-' ? KILN_EPARSE : 0;
  }
  if (starts(s, "<?")) {
    s->p += 2;
    if (skip_to(s, "?>", &body, &len) != 0)
      return KILN_EPARSE;
    return processing_instruction(body, len);
  }
  *done = false;
  return 0;
}

/* The root element and all it holds. */
static int content(struct scanner *s)
{
  int err;

  if ((err = open_element(s)) != 0)
    return err;
  while (s->depth > 0) {
    bool done;
    const char *cdata;
    size_t cdata_len;

    if (s->p == s->end)
      return KILN_EPARSE; /* truncated */
    if (*s->p == '&')
      err = reference(s);
    else if (*s->p != '<')
      err = char_data(s);
    else if (s->end - s->p >= 2 && is_name_start((unsigned char)s->p[1]))
      err = open_element(s);
    else if (starts(s, "</"))
      err = close_element(s);
    else if (starts(s, "<![CDATA[")) {
      s->p += 9;
      err = skip_to(s, "]]>", &cdata, &cdata_len);
      if (err == 0)
        err = append_text(s, cdata, cdata_len);
    } else if ((err = misc(s, &done)) == 0 && !done)
      err = starts(s, "<!") ? KILN_EPARSE : open_element(s);
    if (err != 0)
      return err;
  }
  return 0;
}

/* "1." and digits. */
static bool version_1(const char *v, size_t len)
{
  if (len < 3 || v[0] != '1' || v[1] != '.')
    return false;
  for (size_t i = 2; i < len; i++)
    if ((unsigned char)(v[i] - '0') >= 10)
      return false;
  return true;
}

/* <?xml version="1.0" encoding="UTF-8" standalone="yes"?>, in that order,
 * the last two optional. UTF-8 is the one encoding Kiln reads. */
static int declaration(struct scanner *s)
{
  static const char *const order[] = {"version", "encoding", "standalone"};
  size_t next = 0;

  if (!starts(s, "<?xml") || s->end - s->p < 6 ||
      (!is_space((unsigned char)s->p[5]) && s->p[5] != '?'))
    return 0;
  s->p += 5;
  for (;;) {
    const char *name, *value;
    size_t name_len, value_len;
    bool spaced = s->p < s->end && is_space((unsigned char)*s->p);

    skip_space(s);
    if (starts(s, "?>")) {
      s->p += 2;
      return next > 0 ? 0 : KILN_EPARSE; /* the version is required */
    }
    if (!spaced || attribute(s, &name, &name_len, &value, &value_len) != 0)
      return KILN_EPARSE;
    size_t which = 0;
    while (which < 3 && !is(name, name_len, order[which]))
      which++;
    /* Known, in order, the version first. */
    if (which == 3 || which < next || (next == 0 && which != 0) ||
        (which == 0 && !version_1(value, value_len)) ||
        (which == 1 &&
         (value_len != 5 || strncasecmp(value, "utf-8", 5) != 0)) ||
        (which == 2 && !is(value, value_len, "yes") &&
         !is(value, value_len, "no")))
      return KILN_EPARSE;
    next = which + 1;
  }
}

static int scan(struct scanner *s)
{
  int err;
  bool done;

  if (starts(s, "\xEF\xBB\xBF"))
    s->p += 3;
  if ((err = declaration(s)) != 0)
    return err;
  /* Before the root: space, comments, PIs; never a DOCTYPE. */
  for (;;) {
    skip_space(s);
    if ((err = misc(s, &done)) != 0)
      return err;
    if (!done)
      break;
  }
  if (!starts(s, "<") || s->end - s->p < 2 ||
      !is_name_start((unsigned char)s->p[1]))
    return KILN_EPARSE;
  if ((err = content(s)) != 0)
    return err;
  /* After it: the same, and nothing else. */
  for (;;) {
    skip_space(s);
    if (s->p == s->end)
      return 0;
    if ((err = misc(s, &done)) != 0)
      return err;
    if (!done)
      return KILN_EPARSE;
  }
}

int kiln__xml_parse(const char *body, size_t len, struct kiln_xml_doc **out)
{
  struct kiln_xml_doc *doc;
  struct scanner *s;
  int err;

  *out = NULL;
  if (len > KILN__MAX_DOC_BYTES)
    return KILN_ETOOBIG;
  if (body == NULL || len == 0)
    return KILN_EPARSE;
  doc = calloc(1, sizeof(*doc));
  s = calloc(1, sizeof(*s));
  if (doc == NULL || s == NULL) {
    free(doc);
    free(s);
    return KILN_ENOMEM;
  }
  kiln_arena_init(&doc->arena, 0);
  s->p = body;
  s->end = body + len;
  s->doc = doc;
  kiln_buf_init(&s->text, 0);
  err = scan(s);
  kiln_buf_cleanup(&s->text);
  free(s);
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
  free(doc);
}

const struct kiln_xml_node *kiln__xml_root(const struct kiln_xml_doc *doc)
{
  return doc != NULL ? doc->root : NULL;
}
