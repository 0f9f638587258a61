/* Values kept by string key across passes: each put deep-copies its value
 * (with the caller's copy function) into one arena, which is compacted
 * when the copies that puts replaced outweigh the live ones. For what a
 * controller remembers between passes: memory bounded by what is live.
 * Not thread-safe.
 */
#ifndef KILN_KEEP_H
#define KILN_KEEP_H

#include <stddef.h>

struct kiln_arena;
struct kiln_keep;

/* Copies *from (value_size bytes and everything it points at) into to,
 * allocating in arena. Returns 0 or KILN_ENOMEM. */
typedef int kiln_keep_copy_fn(struct kiln_arena *arena, const void *from,
                              void *to);

/* NULL when out of memory. */
struct kiln_keep *kiln_keep_new(size_t value_size, kiln_keep_copy_fn *copy);
void kiln_keep_free(struct kiln_keep *k);

/* The value kept for key, or NULL; valid until the next put or forget.
 * k may be NULL. */
const void *kiln_keep_get(const struct kiln_keep *k, const char *key);

/* Keeps a copy of value for key, replacing any. Returns 0 or KILN_ENOMEM
 * (key then keeps its old value, or none). */
int kiln_keep_put(struct kiln_keep *k, const char *key, const void *value);

/* Drops key's value, if any. */
void kiln_keep_forget(struct kiln_keep *k, const char *key);

/* Values kept. */
size_t kiln_keep_count(const struct kiln_keep *k);

#endif
