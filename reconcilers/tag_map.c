/* Tag maps: one comparator and one rendering for every tag map Kiln
 * compares (a launch template's instance tags, a group's tags), and the
 * plan of the tags Kiln manages on a resource. Pure. See plan.h. */
#include "kiln/arena.h"
#include "kiln/str.h"
#include "kiln/buf.h"
#include "kiln/error.h"
#include "kiln/plan.h"

#include <stdlib.h>
#include <string.h>

const char *kiln_tags_get(const struct kiln_tags *t, const char *key)
{
  for (size_t i = 0; t != NULL && i < t->n; i++)
    if (strcmp(t->items[i].key, key) == 0)
      return t->items[i].value != NULL ? t->items[i].value : "";
  return NULL;
}

bool kiln_tags_equal(const struct kiln_tags *a, const struct kiln_tags *b)
{
  if (a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++) {
    const char *v = kiln_tags_get(b, a->items[i].key);
    if (v == NULL ||
        strcmp(v, a->items[i].value != NULL ? a->items[i].value : "") != 0)
      return false;
  }
  return true;
}

static int cmp_tag(const void *a, const void *b)
{
  return strcmp(((const struct kiln_tag *)a)->key,
                ((const struct kiln_tag *)b)->key);
}

/* s as a JSON string; bytes of 0x80 and up (UTF-8) pass as they are. */
static int json_string(struct kiln_buf *b, const char *s)
{
  int err = kiln_buf_puts(b, "\"");
  for (; s != NULL && *s != '\0' && err == 0; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      err = kiln_buf_printf(b, "\\%c", c);
    else if (c < 0x20)
      err = kiln_buf_printf(b, "\\u%04x", c);
    else
      err = kiln_buf_append(b, s, 1);
  }
  return err != 0 ? err : kiln_buf_puts(b, "\"");
}

const char *kiln_tags_json(struct kiln_arena *a, const struct kiln_tags *t)
{
  struct kiln_buf b;
  struct kiln_tag *items = NULL;
  const char *out = NULL;
  int err;

  if (t->n > 0) {
    items = malloc(t->n * sizeof(*items));
    if (items == NULL)
      return NULL;
    memcpy(items, t->items, t->n * sizeof(*items));
    qsort(items, t->n, sizeof(*items), cmp_tag);
  }
  kiln_buf_init(&b, 0);
  err = kiln_buf_puts(&b, "{");
  for (size_t i = 0; i < t->n && err == 0; i++) {
    if (i > 0)
      err = kiln_buf_puts(&b, ",");
    err = err != 0 ? err : json_string(&b, items[i].key);
    err = err != 0 ? err : kiln_buf_puts(&b, ":");
    err = err != 0 ? err : json_string(&b, items[i].value);
  }
  err = err != 0 ? err : kiln_buf_puts(&b, "}");
  if (err == 0)
    out = kiln_arena_strdup(a, b.data);
  kiln_buf_cleanup(&b);
  free(items);
  return out;
}

bool kiln_plan_drift_is_tags(const struct kiln_drift *d)
{
  /* "autoscaling.tags", "launchTemplate.tags", "...templateTags" */
  size_t n = strlen(d->field);
  return n >= 5 && (strcmp(d->field + n - 5, ".tags") == 0 ||
                    strcmp(d->field + n - 4, "Tags") == 0);
}

static bool kilns_own(const char *key)
{
  return strncmp(key, "kiln:", 5) == 0;
}

static void push_tag(struct kiln_tags *t, const char *key, const char *value)
{
  t->items[t->n++] = (struct kiln_tag){key, value};
}

/* Does have differ from want, or hold a tag Kiln set from git at the last
 * commit it applied and git no longer has? What kiln_plan_tags reports,
 * told without writing anything: most apps are in sync. */
static bool tags_differ(const struct kiln_tags *want,
                        const struct kiln_tags *have,
                        const struct kiln_tags *was)
{
  for (size_t i = 0; i < want->n; i++)
    if (!kilns_own(want->items[i].key) &&
        !kiln_str_eq(kiln_tags_get(have, want->items[i].key),
                     want->items[i].value))
      return true;
  for (size_t i = 0; was != NULL && i < was->n; i++) {
    const char *key = was->items[i].key;
    if (!kilns_own(key) && kiln_tags_get(want, key) == NULL &&
        kiln_tags_get(have, key) != NULL)
      return true;
  }
  return false;
}

int kiln_plan_tags(const struct kiln_tags *want, const struct kiln_tags *have,
                   const struct kiln_tags *was, struct kiln_arena *arena,
                   struct kiln_tag_plan *out)
{
  size_t cap = want->n + (was != NULL ? was->n : 0) + 1;

  memset(out, 0, sizeof(*out));
  if (!tags_differ(want, have, was))
    return 0;
  out->desired.items = kiln_arena_alloc(arena, cap * sizeof(struct kiln_tag));
  out->actual.items = kiln_arena_alloc(arena, cap * sizeof(struct kiln_tag));
  out->set.items = kiln_arena_alloc(arena, cap * sizeof(struct kiln_tag));
  out->remove.items = kiln_arena_alloc(arena, cap * sizeof(char *));
  out->left.items = kiln_arena_alloc(arena, cap * sizeof(char *));
  if (out->desired.items == NULL || out->actual.items == NULL ||
      out->set.items == NULL || out->remove.items == NULL ||
      out->left.items == NULL)
    return KILN_ENOMEM;

  for (size_t i = 0; i < want->n; i++) {
    const struct kiln_tag *w = &want->items[i];
    const char *h = kiln_tags_get(have, w->key);
    if (kilns_own(w->key))
      continue;
    push_tag(&out->desired, w->key, w->value);
    if (h != NULL)
      push_tag(&out->actual, w->key, h);
    if (kiln_str_eq(h, w->value))
      continue;
    push_tag(&out->set, w->key, w->value);
    out->drift = true;
    /* What AWS holds is not what Kiln last set from git: changed by hand.
     * Like capacity, an unknown last commit blames git. */
    if (was != NULL && !kiln_str_eq(h, kiln_tags_get(was, w->key)))
      out->out_of_band = true;
  }
  /* Tags Kiln set from git at the last commit it applied, now gone from
   * git: Kiln's to delete while they hold what Kiln set. */
  for (size_t i = 0; was != NULL && i < was->n; i++) {
    const struct kiln_tag *p = &was->items[i];
    const char *h = kiln_tags_get(have, p->key);
    if (kilns_own(p->key) || kiln_tags_get(want, p->key) != NULL || h == NULL)
      continue;
    push_tag(&out->actual, p->key, h);
    out->drift = true;
    if (kiln_str_eq(h, p->value)) {
      out->remove.items[out->remove.n++] = p->key;
    } else {
      out->left.items[out->left.n++] = p->key;
      out->out_of_band = true;
    }
  }
  return 0;
}
