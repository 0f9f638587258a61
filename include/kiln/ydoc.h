/* A safe YAML loader for desired-state files.
 *
 * Loads one YAML document into a small node tree with line and column of
 * every node, rejecting what a spec never needs and an attacker might use:
 * anchors and aliases (alias bombs), tags, several documents, non-UTF-8,
 * NUL bytes, tab characters, duplicate keys, non-scalar keys, deep nesting
 * and too many nodes. Every rejection is a diagnostic naming the place.
 * Memory is bounded by the input size and the node limit.
 */
#ifndef KILN_YDOC_H
#define KILN_YDOC_H

#include <stdbool.h>
#include <stddef.h>

struct kiln_arena;
struct kiln_diags;

enum kiln_ynode_kind {
  KILN_YNODE_SCALAR,
  KILN_YNODE_MAP,
  KILN_YNODE_SEQ,
};

struct kiln_ynode {
  enum kiln_ynode_kind kind;
  int line; /* 1-based */
  int col;  /* 1-based */
  /* Scalars. */
  const char *str; /* NUL-terminated; may hold no other NUL (rejected) */
  size_t len;
  bool plain; /* unquoted, so YAML 1.1 would resolve it (true, 12, ~) */
  /* Maps: keys[i] -> vals[i]; sequences: vals[i]. */
  struct kiln_ynode **keys;
  struct kiln_ynode **vals;
  size_t n;
};

struct kiln_ydoc_limits {
  size_t max_depth; /* default 32 */
  size_t max_nodes; /* default 20000 */
};

/* Parses text[0..len) from file (a repository-relative path used in
 * diagnostics). On success *root is the document's root node (allocated in
 * arena) and 0 is returned. On failure every problem found is added to diags
 * and KILN_EPARSE is returned (KILN_ENOMEM when memory ran out); *root is
 * still set when the errors left the tree whole (duplicate keys, aliases,
 * tags), so callers can report the rest of the file, and NULL after syntax
 * errors and limits. limits may be NULL for the defaults. */
int kiln_ydoc_parse(const char *file, const char *text, size_t len,
                    const struct kiln_ydoc_limits *limits,
                    struct kiln_arena *arena, struct kiln_diags *diags,
                    struct kiln_ynode **root);

/* Value of key in map node, or NULL. */
struct kiln_ynode *kiln_ynode_get(const struct kiln_ynode *map,
                                  const char *key);

/* Checks text[0..len) is UTF-8 without NUL bytes or tabs; adds one diagnostic
 * per problem (at most one per line). Returns true when clean. allow_tabs
 * skips the tab check (for documents that are not Kiln specs). */
bool kiln_ydoc_check_text(const char *file, const char *text, size_t len,
                          bool allow_tabs, struct kiln_diags *diags);

#endif
