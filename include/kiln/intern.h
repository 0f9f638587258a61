/* Byte strings stored once: identical contents share one NUL-terminated
 * copy in the caller's arena. For what many apps read alike (the same
 * component document, the same user data in every app's directory): the
 * memory follows the distinct contents, not the apps. Not thread-safe.
 */
#ifndef KILN_INTERN_H
#define KILN_INTERN_H

#include <stddef.h>

struct kiln_arena;
struct kiln_intern;

/* Copies go into arena, which must outlive every string returned. NULL
 * when out of memory. */
struct kiln_intern *kiln_intern_new(struct kiln_arena *arena);
/* Frees the index only: the strings stay in the arena. t may be NULL. */
void kiln_intern_free(struct kiln_intern *t);

/* The stored copy of data[0..len) (NUL-terminated), made on first sight.
 * NULL when out of memory. */
const char *kiln_intern(struct kiln_intern *t, const char *data, size_t len);

/* Distinct contents stored. */
size_t kiln_intern_count(const struct kiln_intern *t);

#endif
