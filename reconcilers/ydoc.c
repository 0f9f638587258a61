#include "kiln/ydoc.h"
#include "kiln/arena.h"
#include "kiln/diag.h"
#include "kiln/error.h"
#include "kiln/utf8.h"

#include <string.h>
#include <yaml.h>

#define DEFAULT_MAX_DEPTH 32
#define DEFAULT_MAX_NODES 20000

struct frame {
  struct kiln_ynode *node;
  size_t cap;
  struct kiln_ynode *pending_key; /* maps: key waiting for its value */
};

struct loader {
  const char *file;
  struct kiln_arena *arena;
  struct kiln_diags *diags;
  struct kiln_ydoc_limits limits;
  struct frame *stack;
  size_t depth;
  size_t nodes;
  int documents;
  bool failed; /* a semantic error was reported; parsing goes on */
  bool oom;
  struct kiln_ynode *root;
};

static void report(struct loader *l, yaml_mark_t mark, const char *fmt,
                   const char *arg)
{
  l->failed = true;
  if (kiln_diags_add(l->diags, l->file, (int)mark.line + 1,
                     (int)mark.column + 1, NULL, fmt, arg) != 0)
    l->oom = true;
}

static struct kiln_ynode *new_node(struct loader *l, enum kiln_ynode_kind kind,
                                   yaml_mark_t mark)
{
  struct kiln_ynode *n;

  if (++l->nodes > l->limits.max_nodes) {
    if (l->nodes == l->limits.max_nodes + 1)
      report(l, mark, "document has more than %s YAML nodes",
             l->limits.max_nodes == DEFAULT_MAX_NODES ? "20000"
                                                      : "the allowed");
    return NULL;
  }
  n = kiln_arena_alloc(l->arena, sizeof(*n));
  if (n == NULL) {
    l->oom = true;
    return NULL;
  }
  n->kind = kind;
  n->line = (int)mark.line + 1;
  n->col = (int)mark.column + 1;
  return n;
}

static bool grow(struct loader *l, struct frame *f)
{
  struct kiln_ynode *n = f->node;
  size_t cap = f->cap != 0 ? f->cap * 2 : 8;
  struct kiln_ynode **vals = kiln_arena_alloc(l->arena, cap * sizeof(*vals));
  struct kiln_ynode **keys = NULL;

  if (vals == NULL)
    goto oom;
  if (n->kind == KILN_YNODE_MAP) {
    keys = kiln_arena_alloc(l->arena, cap * sizeof(*keys));
    if (keys == NULL)
      goto oom;
    if (n->n != 0)
      memcpy(keys, n->keys, n->n * sizeof(*keys));
    n->keys = keys;
  }
  if (n->n != 0)
    memcpy(vals, n->vals, n->n * sizeof(*vals));
  n->vals = vals;
  f->cap = cap;
  return true;
oom:
  l->oom = true;
  return false;
}

static const struct kiln_ynode *find_key(const struct kiln_ynode *map,
                                         const struct kiln_ynode *key)
{
  for (size_t i = 0; i < map->n; i++) {
    const struct kiln_ynode *k = map->keys[i];
    if (k->len == key->len && memcmp(k->str, key->str, k->len) == 0)
      return k;
  }
  return NULL;
}

/* Attaches child to the innermost open container, or makes it the root. */
static void attach(struct loader *l, struct kiln_ynode *child, yaml_mark_t mark)
{
  struct frame *f;
  struct kiln_ynode *parent;

  if (child == NULL)
    return;
  if (l->depth == 0) {
    l->root = child;
    return;
  }
  f = &l->stack[l->depth - 1];
  parent = f->node;

  if (parent->kind == KILN_YNODE_MAP && f->pending_key == NULL) {
    const struct kiln_ynode *first;
    if (child->kind != KILN_YNODE_SCALAR) {
      report(l, mark, "%s", "mapping keys must be plain strings");
      /* Keep the pairing of keys and values in step. */
      f->pending_key = child;
      return;
    }
    first = find_key(parent, child);
    if (first != NULL) {
      char msg[64];
      snprintf(msg, sizeof(msg), "%d", first->line);
      l->failed = true;
      if (kiln_diags_add(l->diags, l->file, child->line, child->col, NULL,
                         "duplicate key '%.100s' (first defined at line %s)",
                         child->str, msg) != 0)
        l->oom = true;
    }
    f->pending_key = child;
    return;
  }
  if (parent->n == f->cap && !grow(l, f))
    return;
  if (parent->kind == KILN_YNODE_MAP) {
    struct kiln_ynode *key = f->pending_key;
    f->pending_key = NULL;
    /* A rejected key (duplicate or non-scalar) drops its value too. */
    if (key->kind != KILN_YNODE_SCALAR || find_key(parent, key) != NULL)
      return;
    parent->keys[parent->n] = key;
  }
  parent->vals[parent->n++] = child;
}

static void check_anchor_and_tag(struct loader *l, yaml_mark_t mark,
                                 const yaml_char_t *anchor,
                                 const yaml_char_t *tag, bool implicit)
{
  if (anchor != NULL)
    report(l, mark, "%s",
           "YAML anchors and aliases are not allowed in Kiln files");
  if (tag != NULL && !implicit)
    report(l, mark, "YAML tag '%.60s' is not allowed in Kiln files",
           (const char *)tag);
}

static void on_scalar(struct loader *l, yaml_event_t *ev)
{
  struct kiln_ynode *n;
  check_anchor_and_tag(
      l, ev->start_mark, ev->data.scalar.anchor, ev->data.scalar.tag,
      ev->data.scalar.plain_implicit || ev->data.scalar.quoted_implicit);
  n = new_node(l, KILN_YNODE_SCALAR, ev->start_mark);
  if (n == NULL)
    return;
  n->str = kiln_arena_strndup(l->arena, (const char *)ev->data.scalar.value,
                              ev->data.scalar.length);
  if (n->str == NULL) {
    l->oom = true;
    return;
  }
  n->len = ev->data.scalar.length;
  n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  attach(l, n, ev->start_mark);
}

/* Returns false when the nesting limit stops the parse. */
static bool on_open(struct loader *l, yaml_event_t *ev,
                    enum kiln_ynode_kind kind)
{
  struct kiln_ynode *n;

  if (kind == KILN_YNODE_MAP)
    check_anchor_and_tag(l, ev->start_mark, ev->data.mapping_start.anchor,
                         ev->data.mapping_start.tag,
                         ev->data.mapping_start.implicit);
  else
    check_anchor_and_tag(l, ev->start_mark, ev->data.sequence_start.anchor,
                         ev->data.sequence_start.tag,
                         ev->data.sequence_start.implicit);
  if (l->depth >= l->limits.max_depth) {
    l->failed = true;
    if (kiln_diags_add(l->diags, l->file, (int)ev->start_mark.line + 1,
                       (int)ev->start_mark.column + 1, NULL,
                       "YAML nested deeper than %zu levels",
                       l->limits.max_depth) != 0)
      l->oom = true;
    return false;
  }
  n = new_node(l, kind, ev->start_mark);
  if (n == NULL)
    return false;
  attach(l, n, ev->start_mark);
  l->stack[l->depth].node = n;
  l->stack[l->depth].cap = 0;
  l->stack[l->depth].pending_key = NULL;
  l->depth++;
  return true;
}

static void on_close(struct loader *l)
{
  if (l->depth > 0)
    l->depth--;
}

static void report_syntax(struct loader *l, const yaml_parser_t *p)
{
  const char *problem = p->problem != NULL ? p->problem : "malformed YAML";
  yaml_mark_t mark = p->problem_mark;
  int err;

  if (p->error == YAML_MEMORY_ERROR) {
    l->oom = true;
    return;
  }
  if (p->context != NULL)
    err = kiln_diags_add(l->diags, l->file, (int)mark.line + 1,
                         (int)mark.column + 1, NULL,
                         "YAML syntax error: %s (%s at line %d)", problem,
                         p->context, (int)p->context_mark.line + 1);
  else
    err = kiln_diags_add(l->diags, l->file, (int)mark.line + 1,
                         (int)mark.column + 1, NULL, "YAML syntax error: %s",
                         problem);
  if (err != 0)
    l->oom = true;
}

/* Returns false when parsing must stop. */
static bool handle_event(struct loader *l, yaml_event_t *ev)
{
  switch (ev->type) {
  case YAML_DOCUMENT_START_EVENT:
    if (++l->documents > 1) {
      report(l, ev->start_mark, "%s",
             "file holds more than one YAML document; a Kiln file holds "
             "exactly one");
      return false;
    }
    return true;
  case YAML_ALIAS_EVENT: {
    report(l, ev->start_mark, "%s",
           "YAML anchors and aliases are not allowed in Kiln files");
    /* A null stand-in keeps the parent's key/value pairing in step. */
    struct kiln_ynode *standin = new_node(l, KILN_YNODE_SCALAR, ev->start_mark);
    if (standin != NULL) {
      standin->str = "";
      standin->plain = true;
    }
    attach(l, standin, ev->start_mark);
    return true;
  }
  case YAML_SCALAR_EVENT:
    on_scalar(l, ev);
    return true;
  case YAML_SEQUENCE_START_EVENT:
    return on_open(l, ev, KILN_YNODE_SEQ);
  case YAML_MAPPING_START_EVENT:
    return on_open(l, ev, KILN_YNODE_MAP);
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT:
    on_close(l);
    return true;
  default:
    return true;
  }
}

int kiln_ydoc_parse(const char *file, const char *text, size_t len,
                    const struct kiln_ydoc_limits *limits,
                    struct kiln_arena *arena, struct kiln_diags *diags,
                    struct kiln_ynode **root)
{
  struct loader l;
  yaml_parser_t parser;
  bool syntax_error = false;
  int rc;

  memset(&l, 0, sizeof(l));
  l.file = file;
  l.arena = arena;
  l.diags = diags;
  l.limits.max_depth = DEFAULT_MAX_DEPTH;
  l.limits.max_nodes = DEFAULT_MAX_NODES;
  if (limits != NULL && limits->max_depth != 0)
    l.limits.max_depth = limits->max_depth;
  if (limits != NULL && limits->max_nodes != 0)
    l.limits.max_nodes = limits->max_nodes;
  *root = NULL;

  l.stack =
      kiln_arena_alloc(arena, (l.limits.max_depth + 1) * sizeof(*l.stack));
  if (l.stack == NULL || !yaml_parser_initialize(&parser))
    return KILN_ENOMEM;
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

  for (;;) {
    yaml_event_t ev;
    bool go_on;
    if (!yaml_parser_parse(&parser, &ev)) {
      report_syntax(&l, &parser);
      syntax_error = true;
      break;
    }
    go_on = handle_event(&l, &ev) && !l.oom && l.nodes <= l.limits.max_nodes;
    if (ev.type == YAML_STREAM_END_EVENT)
      go_on = false;
    yaml_event_delete(&ev);
    if (!go_on)
      break;
  }
  yaml_parser_delete(&parser);

  if (l.oom)
    return KILN_ENOMEM;
  if (!syntax_error && !l.failed && l.root == NULL) {
    if (kiln_diags_add(diags, file, 1, 1, NULL,
                       "file is empty; expected a YAML mapping") != 0)
      return KILN_ENOMEM;
    return KILN_EPARSE;
  }
  rc = syntax_error || l.failed || l.nodes > l.limits.max_nodes ? KILN_EPARSE
                                                                : 0;
  /* After soft errors (duplicate keys, aliases, tags) the tree is still
   * whole, so the caller can go on and report the rest of the file. */
  if (!syntax_error && l.nodes <= l.limits.max_nodes && l.depth == 0)
    *root = l.root;
  return rc;
}

struct kiln_ynode *kiln_ynode_get(const struct kiln_ynode *map, const char *key)
{
  size_t klen = strlen(key);
  if (map == NULL || map->kind != KILN_YNODE_MAP)
    return NULL;
  for (size_t i = 0; i < map->n; i++)
    if (map->keys[i]->len == klen && memcmp(map->keys[i]->str, key, klen) == 0)
      return map->vals[i];
  return NULL;
}

bool kiln_ydoc_check_text(const char *file, const char *text, size_t len,
                          bool allow_tabs, struct kiln_diags *diags)
{
  const unsigned char *s = (const unsigned char *)text;
  int line = 1, col = 1, reported_line = 0;
  bool clean = true;
  size_t i = 0;

  while (i < len) {
    const char *problem = NULL;
    size_t n = kiln_utf8_seq_len(s + i, len - i);
    if (n == 0)
      problem = "file is not valid UTF-8";
    else if (s[i] == '\0')
      problem = "file contains a NUL byte";
    else if (s[i] == '\t' && !allow_tabs)
      problem = "tab character; YAML must be indented with spaces";
    if (problem != NULL) {
      clean = false;
      if (reported_line != line) {
        kiln_diags_add(diags, file, line, col, NULL, "%s", problem);
        reported_line = line;
      }
      n = n != 0 ? n : 1;
    }
    if (s[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
    i += n;
  }
  return clean;
}
