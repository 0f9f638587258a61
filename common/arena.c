#include "kiln/arena.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN_BYTES (16 * 1024)

struct kiln_arena_chunk {
  struct kiln_arena_chunk *next;
  size_t size;
  size_t off;
  alignas(max_align_t) unsigned char data[];
};

void kiln_arena_init(struct kiln_arena *a, size_t limit_bytes)
{
  a->head = NULL;
  a->used_bytes = 0;
  a->limit_bytes = limit_bytes;
}

void kiln_arena_cleanup(struct kiln_arena *a)
{
  struct kiln_arena_chunk *c = a->head;
  while (c != NULL) {
    struct kiln_arena_chunk *next = c->next;
    free(c);
    c = next;
  }
  a->head = NULL;
  a->used_bytes = 0;
}

static size_t align_up(size_t n, size_t al)
{
  return (n + al - 1) & ~(al - 1);
}

/* size bytes at the given alignment (a power of two, at most
 * max_align_t's), not zeroed. Strings take alignment 1: no padding. */
static void *take(struct kiln_arena *a, size_t size, size_t align)
{
  struct kiln_arena_chunk *c;
  size_t off;

  if (size == 0)
    size = 1;
  if (size > SIZE_MAX / 2)
    return NULL;
  if (a->limit_bytes != 0 && size > a->limit_bytes - a->used_bytes)
    return NULL;
  c = a->head;
  off = c != NULL ? align_up(c->off, align) : 0;
  if (c == NULL || off > c->size || c->size - off < size) {
    size_t chunk = size > CHUNK_MIN_BYTES ? align_up(size, alignof(max_align_t))
                                          : CHUNK_MIN_BYTES;

    c = malloc(sizeof(*c) + chunk);
    if (c == NULL)
      return NULL;
    c->size = chunk;
    c->next = a->head;
    a->head = c;
    off = 0;
  }
  c->off = off + size;
  a->used_bytes += size;
  return c->data + off;
}

void *kiln_arena_alloc(struct kiln_arena *a, size_t size_bytes)
{
  void *p = take(a, size_bytes, alignof(max_align_t));

  if (p != NULL)
    memset(p, 0, size_bytes);
  return p;
}

char *kiln_arena_strndup(struct kiln_arena *a, const char *s, size_t len)
{
  char *p = len < SIZE_MAX ? take(a, len + 1, 1) : NULL;

  if (p == NULL)
    return NULL;
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

char *kiln_arena_strdup(struct kiln_arena *a, const char *s)
{
  if (s == NULL)
    return NULL;
  return kiln_arena_strndup(a, s, strlen(s));
}

char *kiln_arena_printf(struct kiln_arena *a, const char *fmt, ...)
{
  va_list ap;
  int n;
  char *p;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  p = take(a, (size_t)n + 1, 1);
  if (p == NULL)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}
