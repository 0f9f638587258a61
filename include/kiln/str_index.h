/* Small integers (app indexes, places in a list) by string key, several
 * under one key in the order they were added: built once in an arena,
 * then looked up at the cost of one hash, whatever the number of keys. For
 * the joins a pass makes between the desired state and AWS's answers
 * (which apps name this template, this group, this digest). The keys are
 * not copied: they must outlive the index. Not thread-safe.
 */
#ifndef KILN_STR_INDEX_H
#define KILN_STR_INDEX_H

#include <stdbool.h>
#include <stddef.h>

struct kiln_arena;
struct kiln_str_index;

/* What a lookup returns when there is nothing (more). */
#define KILN_STR_INDEX_NONE ((size_t)-1)

/* An index for values below capacity, each added at most once, in arena.
 * NULL when out of memory (or capacity is beyond 2^32 - 3). */
struct kiln_str_index *kiln_str_index_new(struct kiln_arena *arena,
                                          size_t capacity);

/* Adds value under key, after the values already there. *is_new (when not
 * NULL) tells whether key was not in the index before. Returns 0, or
 * KILN_EINVAL when value is out of range or already added (the index is
 * then unchanged). */
int kiln_str_index_add(struct kiln_str_index *ix, const char *key, size_t value,
                       bool *is_new);

/* The first value added under key, or KILN_STR_INDEX_NONE. ix may be NULL
 * (an empty index). */
size_t kiln_str_index_first(const struct kiln_str_index *ix, const char *key);

/* The value added under the same key after value, or KILN_STR_INDEX_NONE:
 *   for (size_t v = kiln_str_index_first(ix, k); v != KILN_STR_INDEX_NONE;
 *        v = kiln_str_index_next(ix, v)) */
size_t kiln_str_index_next(const struct kiln_str_index *ix, size_t value);

#endif
