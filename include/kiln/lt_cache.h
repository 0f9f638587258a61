/* Launch template versions already read, by template id: what lets a pass
 * skip DescribeLaunchTemplateVersions for the templates whose default
 * version it has seen before.
 *
 * A launch template version never changes once made, and a template id is
 * never reused, so an entry is never stale: it is replaced when the
 * template's default moves to another version. The cache keeps one entry
 * (the last default seen) per template and owns copies of everything in
 * it; what it hands out is valid until the next put. One per region and
 * account; used on the loop only.
 */
#ifndef KILN_LT_CACHE_H
#define KILN_LT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/observed.h"

struct kiln_arena;
struct kiln_lt_cache;

/* One version as observe uses it. */
struct kiln_lt_cached {
  int64_t version;
  int64_t created_s;  /* 0: unknown */
  const char *commit; /* from a Kiln-made description; NULL otherwise */
  const char *digest; /* NULL when the description names none */
  struct kiln_lt_data data;
};

/* NULL when out of memory. */
struct kiln_lt_cache *kiln_lt_cache_new(void);
void kiln_lt_cache_free(struct kiln_lt_cache *c);

/* The entry of version of template_id, or NULL (never seen, or the cache
 * holds another version of it). c may be NULL. */
const struct kiln_lt_cached *kiln_lt_cache_get(const struct kiln_lt_cache *c,
                                               const char *template_id,
                                               int64_t version);

/* Copies v in as template_id's entry. Returns 0 or KILN_ENOMEM (the cache
 * is then as it was, or without that template). */
int kiln_lt_cache_put(struct kiln_lt_cache *c, const char *template_id,
                      const struct kiln_lt_cached *v);

size_t kiln_lt_cache_count(const struct kiln_lt_cache *c);

/* Deep copies into arena (for an observation that must not borrow from
 * the cache). Return 0 or KILN_ENOMEM. */
int kiln_lt_data_copy(struct kiln_arena *arena, const struct kiln_lt_data *d,
                      struct kiln_lt_data *out);
int kiln_lt_cached_copy(struct kiln_arena *arena,
                        const struct kiln_lt_cached *v,
                        struct kiln_lt_cached *out);

#endif
