/* A bump allocator for memory that lives and dies together: one desired-state
 * snapshot, one reconcile pass. Allocations are never freed one by one; the
 * whole arena is released by kiln_arena_cleanup().
 */
#ifndef KILN_ARENA_H
#define KILN_ARENA_H

#include <stddef.h>

struct kiln_arena_chunk;

struct kiln_arena {
  struct kiln_arena_chunk *head;
  size_t used_bytes;  /* bytes handed out, for accounting */
  size_t limit_bytes; /* 0: unlimited; otherwise allocations fail past it */
};

/* Prepares caller-owned storage. limit_bytes bounds the total handed out. */
void kiln_arena_init(struct kiln_arena *a, size_t limit_bytes);

/* Frees every chunk. The arena may be reused after kiln_arena_init(). */
void kiln_arena_cleanup(struct kiln_arena *a);

/* Zeroed, max_align_t-aligned memory, or NULL when out of memory or over the
 * arena's limit. */
void *kiln_arena_alloc(struct kiln_arena *a, size_t size_bytes);

/* NUL-terminated copy of s[0..len). NULL on failure. */
char *kiln_arena_strndup(struct kiln_arena *a, const char *s, size_t len);

/* NUL-terminated copy of s. NULL on failure or when s is NULL. */
char *kiln_arena_strdup(struct kiln_arena *a, const char *s);

/* printf into the arena. NULL on failure. */
char *kiln_arena_printf(struct kiln_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
