/* Typed getters: YAML nodes to C values, with a diagnostic for every problem.
 * Strictness lives here: wrong types, YAML 1.1 surprises (yes/no, 010, 1.10)
 * and unknown keys are errors, never silently coerced. */
#include "spec_check.h"
#include "spec_parse.h"

#include "kiln/buf.h"
#include "kiln/diag.h"
#include "kiln/error.h"
#include "kiln/intern.h"
#include "kiln/tree.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kiln__pwarn(struct pctx *c, const struct kiln_ynode *n, const char *fmt,
                 ...)
{
  va_list ap;
  if (c->warnings == NULL)
    return;
  va_start(ap, fmt);
  if (kiln_diags_addv(c->warnings, c->file, n != NULL ? n->line : 0,
                      n != NULL ? n->col : 0, c->app, fmt, ap) != 0)
    c->oom = true;
  va_end(ap);
}

void kiln__perr(struct pctx *c, const struct kiln_ynode *n, const char *fmt,
                ...)
{
  va_list ap;
  c->errors++;
  va_start(ap, fmt);
  if (kiln_diags_addv(c->diags, c->file, n != NULL ? n->line : 0,
                      n != NULL ? n->col : 0, c->app, fmt, ap) != 0)
    c->oom = true;
  va_end(ap);
}

static bool plain_is(const struct kiln_ynode *n, const char *const *words)
{
  if (n->kind != KILN_YNODE_SCALAR || !n->plain)
    return false;
  for (size_t i = 0; words[i] != NULL; i++)
    if (strcmp(n->str, words[i]) == 0)
      return true;
  return false;
}

static const char *const null_words[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", NULL};
static const char *const yaml11_bool_words[] = {
    "y",  "Y",  "yes", "Yes", "YES", "n",   "N",   "no", "No",
    "NO", "on", "On",  "ON",  "off", "Off", "OFF", NULL};

bool kiln__is_null(const struct kiln_ynode *n)
{
  return n == NULL || plain_is(n, null_words);
}

/* A plain scalar YAML would read as a number: 12, -3, 1.10, 1e3, 0x1f,
 * .inf, .nan. */
static bool looks_numeric(const struct kiln_ynode *n)
{
  const char *s = n->str;
  bool digits = false;

  if (!n->plain)
    return false;
  if (strcmp(s, ".inf") == 0 || strcmp(s, "-.inf") == 0 ||
      strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0)
    return true;
  if (*s == '+' || *s == '-')
    s++;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o'))
    return s[2] != '\0' &&
           strspn(s + 2, "0123456789abcdefABCDEF_") == strlen(s + 2);
  while (isdigit((unsigned char)*s) || *s == '_')
    digits |= *s++ != '_';
  if (*s == '.') {
    s++;
    while (isdigit((unsigned char)*s))
      digits = true, s++;
  }
  if (digits && (*s == 'e' || *s == 'E')) {
    s++;
    if (*s == '+' || *s == '-')
      s++;
    if (!isdigit((unsigned char)*s))
      return false;
    while (isdigit((unsigned char)*s))
      s++;
  }
  return digits && *s == '\0';
}

static const char *kind_name(const struct kiln_ynode *n)
{
  switch (n->kind) {
  case KILN_YNODE_MAP:
    return "a mapping";
  case KILN_YNODE_SEQ:
    return "a list";
  default:
    return "a scalar";
  }
}

bool kiln__expect_map(struct pctx *c, const struct kiln_ynode *n,
                      const char *path)
{
  if (n->kind == KILN_YNODE_MAP)
    return true;
  kiln__perr(c, n, "%s: expected a mapping, got %s", path, kind_name(n));
  return false;
}

static const char *closest(const char *key, const char *const *allowed)
{
  const char *best = NULL;
  int best_d = 3;
  for (size_t i = 0; allowed[i] != NULL; i++) {
    int cap = (int)strlen(allowed[i]) / 3 + 1;
    int d = kiln__edit_distance(key, allowed[i], cap < 3 ? cap : 3);
    if (d <= cap && d < best_d) {
      best = allowed[i];
      best_d = d;
    }
  }
  return best;
}

void kiln__check_keys(struct pctx *c, const struct kiln_ynode *map,
                      const char *path, const char *const *allowed)
{
  for (size_t i = 0; i < map->n; i++) {
    const struct kiln_ynode *k = map->keys[i];
    size_t j;
    for (j = 0; allowed[j] != NULL; j++)
      if (strcmp(k->str, allowed[j]) == 0)
        break;
    if (allowed[j] != NULL)
      continue;
    const char *hint = closest(k->str, allowed);
    char known[512] = "";
    size_t off = 0;
    for (j = 0; allowed[j] != NULL && off < sizeof(known); j++)
      off += (size_t)snprintf(known + off, sizeof(known) - off, "%s%s",
                              j > 0 ? ", " : "", allowed[j]);
    if (hint != NULL)
      kiln__perr(c, k, "%s%sunknown key '%.64s'; did you mean '%s'?", path,
                 path[0] != '\0' ? ": " : "", k->str, hint);
    else
      kiln__perr(c, k, "%s%sunknown key '%.64s' (known keys: %s)", path,
                 path[0] != '\0' ? ": " : "", k->str, known);
  }
}

const char *kiln__scalar_str(struct pctx *c, const struct kiln_ynode *n,
                             const char *path, bool allow_expansion)
{
  const char *p;

  if (n->kind != KILN_YNODE_SCALAR) {
    kiln__perr(c, n, "%s: expected a string, got %s", path, kind_name(n));
    return NULL;
  }
  if (plain_is(n, true_words) || plain_is(n, false_words) ||
      plain_is(n, yaml11_bool_words)) {
    kiln__perr(c, n,
               "%s: expected a string, got '%s', which YAML reads as a "
               "boolean; quote it",
               path, n->str);
    return NULL;
  }
  if (looks_numeric(n)) {
    kiln__perr(c, n,
               "%s: expected a string, got the number %.40s; quote it "
               "(\"%.40s\") so YAML keeps it as written",
               path, n->str, n->str);
    return NULL;
  }
  for (p = strstr(n->str, "${"); p != NULL; p = strstr(p + 2, "${")) {
    if (allow_expansion && strncmp(p, "${version}", 10) == 0)
      continue;
    if (allow_expansion)
      kiln__perr(c, n,
                 "%s: unknown expansion '%.40s'; ${version} is the only one",
                 path, p);
    else
      kiln__perr(c, n,
                 "%s: '${...}' is not expanded here; ${version} is expanded "
                 "only in component parameters",
                 path);
    return NULL;
  }
  p = kiln_arena_strndup(c->arena, n->str, n->len);
  if (p == NULL)
    c->oom = true;
  return p;
}

static void key_path(char *out, size_t size, const char *path, const char *key)
{
  snprintf(out, size, "%s%s%s", path, path[0] != '\0' ? "." : "", key);
}

static const struct kiln_ynode *present(struct pctx *c,
                                        const struct kiln_ynode *map,
                                        const char *key, const char *kp,
                                        bool required)
{
  const struct kiln_ynode *n = kiln_ynode_get(map, key);
  if (!kiln__is_null(n))
    return n;
  if (required)
    kiln__perr(c, n != NULL ? n : map, "%s: required key is missing", kp);
  return NULL;
}

const char *kiln__get_str(struct pctx *c, const struct kiln_ynode *map,
                          const char *key, const char *path, bool required)
{
  char kp[128];
  const struct kiln_ynode *n;
  key_path(kp, sizeof(kp), path, key);
  n = present(c, map, key, kp, required);
  return n != NULL ? kiln__scalar_str(c, n, kp, false) : NULL;
}

bool kiln__scalar_int(struct pctx *c, const struct kiln_ynode *n,
                      const char *kp, int64_t min, int64_t max, int64_t *out)
{
  const char *s;
  char *end;
  long long v;

  if (n->kind != KILN_YNODE_SCALAR || !n->plain) {
    kiln__perr(c, n, "%s: expected an integer, got %s", kp,
               n->kind != KILN_YNODE_SCALAR ? kind_name(n) : "a quoted string");
    return false;
  }
  s = n->str;
  if (*s == '+' || *s == '-')
    s++;
  if (*s == '\0' || strspn(s, "0123456789") != strlen(s)) {
    kiln__perr(c, n, "%s: expected an integer, got '%.40s'", kp, n->str);
    return false;
  }
  if (s[0] == '0' && s[1] != '\0') {
    kiln__perr(c, n,
               "%s: '%.40s' has a leading zero, which YAML may read as "
               "octal; write it without",
               kp, n->str);
    return false;
  }
  errno = 0;
  v = strtoll(n->str, &end, 10);
  if (errno == ERANGE || v < min || v > max) {
    kiln__perr(c, n, "%s: %.40s is out of range (%lld to %lld)", kp, n->str,
               (long long)min, (long long)max);
    return false;
  }
  *out = v;
  return true;
}

bool kiln__get_int(struct pctx *c, const struct kiln_ynode *map,
                   const char *key, const char *path, int64_t min, int64_t max,
                   bool required, int64_t *out)
{
  char kp[128];
  const struct kiln_ynode *n;

  key_path(kp, sizeof(kp), path, key);
  n = present(c, map, key, kp, required);
  if (n == NULL)
    return false;
  return kiln__scalar_int(c, n, kp, min, max, out);
}

bool kiln__get_bool(struct pctx *c, const struct kiln_ynode *map,
                    const char *key, const char *path, bool *out)
{
  char kp[128];
  const struct kiln_ynode *n;
  key_path(kp, sizeof(kp), path, key);
  n = present(c, map, key, kp, false);
  if (n == NULL)
    return false;
  if (plain_is(n, true_words) || plain_is(n, false_words)) {
    *out = plain_is(n, true_words);
    return true;
  }
  if (plain_is(n, yaml11_bool_words))
    kiln__perr(c, n, "%s: write true or false, not '%s'", kp, n->str);
  else
    kiln__perr(c, n, "%s: expected true or false, got %s", kp,
               n->kind == KILN_YNODE_SCALAR ? "a string" : kind_name(n));
  return false;
}

bool kiln__get_strs(struct pctx *c, const struct kiln_ynode *map,
                    const char *key, const char *path, kiln__check_fn *check,
                    const char *what, bool required, struct kiln_strs *out)
{
  char kp[128], ip[160];
  const struct kiln_ynode *n;
  size_t before = c->errors;

  key_path(kp, sizeof(kp), path, key);
  n = present(c, map, key, kp, required);
  if (n == NULL)
    return false;
  if (n->kind != KILN_YNODE_SEQ) {
    kiln__perr(c, n, "%s: expected a list, got %s", kp, kind_name(n));
    return false;
  }
  if (n->n == 0 && required) {
    kiln__perr(c, n, "%s: list must not be empty", kp);
    return false;
  }
  out->items = kiln_arena_alloc(c->arena, (n->n + 1) * sizeof(char *));
  if (out->items == NULL) {
    c->oom = true;
    return false;
  }
  out->n = 0;
  for (size_t i = 0; i < n->n; i++) {
    const char *s, *why;
    snprintf(ip, sizeof(ip), "%s[%zu]", kp, i);
    s = kiln__scalar_str(c, n->vals[i], ip, false);
    if (s == NULL)
      continue;
    if (check != NULL && (why = check(s)) != NULL) {
      kiln__perr(c, n->vals[i], "%s: invalid %s '%.80s': %s", ip, what, s, why);
      continue;
    }
    for (size_t j = 0; j < out->n; j++)
      if (strcmp(out->items[j], s) == 0) {
        kiln__perr(c, n->vals[i], "%s: '%.80s' is listed twice", ip, s);
        s = NULL;
        break;
      }
    if (s != NULL)
      out->items[out->n++] = s;
  }
  return c->errors == before;
}

static int cmp_tag(const void *a, const void *b)
{
  return strcmp(((const struct kiln_tag *)a)->key,
                ((const struct kiln_tag *)b)->key);
}

void kiln__get_tags(struct pctx *c, const struct kiln_ynode *map,
                    const char *key, const char *path, struct kiln_tags *out)
{
  char kp[128], ip[200];
  const struct kiln_ynode *n;

  key_path(kp, sizeof(kp), path, key);
  n = present(c, map, key, kp, false);
  if (n == NULL || !kiln__expect_map(c, n, kp))
    return;
  out->items = kiln_arena_alloc(c->arena, (n->n + 1) * sizeof(*out->items));
  if (out->items == NULL) {
    c->oom = true;
    return;
  }
  for (size_t i = 0; i < n->n; i++) {
    const char *k = n->keys[i]->str, *v, *why;
    snprintf(ip, sizeof(ip), "%s.%.64s", kp, k);
    if ((why = kiln__check_tag_key(k)) != NULL) {
      kiln__perr(c, n->keys[i], "%s: invalid tag key: %s", ip, why);
      continue;
    }
    if (kiln__is_null(n->vals[i])) {
      v = "";
    } else {
      v = kiln__scalar_str(c, n->vals[i], ip, false);
      if (v == NULL)
        continue;
      if ((why = kiln__check_tag_value(v)) != NULL) {
        kiln__perr(c, n->vals[i], "%s: invalid tag value: %s", ip, why);
        continue;
      }
    }
    out->items[out->n].key = kiln_arena_strdup(c->arena, k);
    out->items[out->n].value = v;
    if (out->items[out->n].key == NULL)
      c->oom = true;
    else
      out->n++;
  }
  if (out->n > KILN_SPEC_MAX_TAGS)
    kiln__perr(c, n,
               "%s: %zu tags; at most %d are allowed (AWS allows 50 per "
               "resource and Kiln adds 3 of its own)",
               kp, out->n, KILN_SPEC_MAX_TAGS);
  qsort(out->items, out->n, sizeof(*out->items), cmp_tag);
}

/* Content read from the repository, shared with every other app that read
 * the same bytes. */
static const char *read_copy(struct pctx *c, const char *data, size_t len)
{
  if (c->repo == NULL || c->arena != &c->repo->arena)
    return kiln_arena_strndup(c->arena, data, len);
  if (c->repo->contents == NULL &&
      (c->repo->contents = kiln_intern_new(&c->repo->arena)) == NULL)
    return NULL;
  return kiln_intern(c->repo->contents, data, len);
}

const char *kiln__read_ref(struct pctx *c, const struct kiln_ynode *n,
                           const char *ref, size_t max_bytes, const char *what,
                           size_t *len, const char **path_out)
{
  char path[1200];
  const char *why = NULL;
  struct kiln_buf b;
  const char *out = NULL;
  int err;

  if (kiln_tree_join(c->dir, ref, path, sizeof(path), &why) != 0) {
    kiln__perr(c, n, "%s '%.100s': %s", what, ref, why);
    return NULL;
  }
  *path_out = kiln_arena_strdup(c->arena, path);
  if (c->tree == NULL)
    return NULL;
  kiln_buf_init(&b, max_bytes);
  err = c->tree->ops->read_file(c->tree->self, path, &b);
  switch (err) {
  case 0:
    out = read_copy(c, b.data != NULL ? b.data : "", b.len);
    *len = b.len;
    if (out == NULL)
      c->oom = true;
    break;
  case KILN_ENOENT:
    kiln__perr(c, n, "%s '%.100s' does not exist (looked for %s)", what, ref,
               path);
    break;
  case KILN_ELINK:
    kiln__perr(c, n, "%s '%.100s' " KILN__LINK_REFUSED, what, ref);
    break;
  case KILN_EINVAL:
    kiln__perr(c, n, "%s '%.100s' is not a regular file", what, ref);
    break;
  case KILN_ETOOBIG:
    kiln__perr(c, n, "%s '%.100s' is larger than %zu bytes", what, ref,
               max_bytes);
    break;
  default:
    kiln__perr(c, n, "%s '%.100s' could not be read: %s", what, ref,
               kiln_strerror(err));
  }
  kiln_buf_cleanup(&b);
  return out;
}
