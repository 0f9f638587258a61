/* The launch template version cache: a kiln_keep by template id. See
 * lt_cache.h. */
#include "kiln/lt_cache.h"
#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/keep.h"

#include <stdbool.h>

static int copy_strs(struct kiln_arena *a, const struct kiln_strs *s,
                     struct kiln_strs *out)
{
  const char **items = kiln_arena_alloc(a, (s->n + 1) * sizeof(*items));
  if (items == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < s->n; i++)
    if (s->items[i] != NULL &&
        (items[i] = kiln_arena_strdup(a, s->items[i])) == NULL)
      return KILN_ENOMEM;
  *out = (struct kiln_strs){items, s->n};
  return 0;
}

/* A copy of s, or NULL for NULL; *bad is set when a copy failed. */
static const char *dup(struct kiln_arena *a, const char *s, bool *bad)
{
  const char *d = kiln_arena_strdup(a, s);
  *bad |= s != NULL && d == NULL;
  return d;
}

static int copy_tags(struct kiln_arena *a, const struct kiln_tags *t,
                     struct kiln_tags *out)
{
  struct kiln_tag *items = kiln_arena_alloc(a, (t->n + 1) * sizeof(*items));
  bool bad = false;
  if (items == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < t->n; i++) {
    items[i].key = dup(a, t->items[i].key, &bad);
    items[i].value = dup(a, t->items[i].value, &bad);
  }
  *out = (struct kiln_tags){items, t->n};
  return bad ? KILN_ENOMEM : 0;
}

int kiln_lt_data_copy(struct kiln_arena *a, const struct kiln_lt_data *d,
                      struct kiln_lt_data *out)
{
  bool bad = false;
  *out = *d;
  out->image_id = dup(a, d->image_id, &bad);
  out->instance_type = dup(a, d->instance_type, &bad);
  out->user_data_b64 = dup(a, d->user_data_b64, &bad);
  out->instance_profile = dup(a, d->instance_profile, &bad);
  out->http_tokens = dup(a, d->http_tokens, &bad);
  out->http_endpoint = dup(a, d->http_endpoint, &bad);
  if (bad || copy_strs(a, &d->security_groups, &out->security_groups) != 0 ||
      copy_tags(a, &d->instance_tags, &out->instance_tags) != 0)
    return KILN_ENOMEM;
  out->bdevs = kiln_arena_alloc(a, (d->n_bdevs + 1) * sizeof(*out->bdevs));
  if (out->bdevs == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < d->n_bdevs; i++) {
    out->bdevs[i] = d->bdevs[i];
    out->bdevs[i].device = dup(a, d->bdevs[i].device, &bad);
    out->bdevs[i].type = dup(a, d->bdevs[i].type, &bad);
  }
  return bad ? KILN_ENOMEM : 0;
}

int kiln_lt_cached_copy(struct kiln_arena *a, const struct kiln_lt_cached *v,
                        struct kiln_lt_cached *out)
{
  bool bad = false;
  *out = *v;
  out->commit = dup(a, v->commit, &bad);
  out->digest = dup(a, v->digest, &bad);
  return bad ? KILN_ENOMEM : kiln_lt_data_copy(a, &v->data, &out->data);
}

static int copy_value(struct kiln_arena *a, const void *from, void *to)
{
  return kiln_lt_cached_copy(a, from, to);
}

struct kiln_lt_cache *kiln_lt_cache_new(void)
{
  return (struct kiln_lt_cache *)kiln_keep_new(sizeof(struct kiln_lt_cached),
                                               copy_value);
}

void kiln_lt_cache_free(struct kiln_lt_cache *c)
{
  kiln_keep_free((struct kiln_keep *)c);
}

size_t kiln_lt_cache_count(const struct kiln_lt_cache *c)
{
  return kiln_keep_count((const struct kiln_keep *)c);
}

const struct kiln_lt_cached *kiln_lt_cache_get(const struct kiln_lt_cache *c,
                                               const char *template_id,
                                               int64_t version)
{
  const struct kiln_lt_cached *v =
      kiln_keep_get((const struct kiln_keep *)c, template_id);
  return v != NULL && v->version == version ? v : NULL;
}

int kiln_lt_cache_put(struct kiln_lt_cache *c, const char *template_id,
                      const struct kiln_lt_cached *v)
{
  return kiln_keep_put((struct kiln_keep *)c, template_id, v);
}
