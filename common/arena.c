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

static size_t align_up(size_t n)
{
  size_t al = alignof(max_align_t);
  return (n + al - 1) & ~(al - 1);
}

void *kiln_arena_alloc(struct kiln_arena *a, size_t size_bytes)
{
  size_t need;
  struct kiln_arena_chunk *c;

  if (size_bytes == 0)
    size_bytes = 1;
  if (size_bytes > SIZE_MAX / 2)
    return NULL;
  need = align_up(size_bytes);
  if (a->limit_bytes != 0 && need > a->limit_bytes - a->used_bytes)
    return NULL;

  c = a->head;
  if (c == NULL || c->size - c->off < need) {
    size_t size = need > CHUNK_MIN_BYTES ? need : CHUNK_MIN_BYTES;
    c = malloc(sizeof(*c) + size);
    if (c == NULL)
      return NULL;
    c->size = size;
    c->off = 0;
    c->next = a->head;
    a->head = c;
  }
  void *p = c->data + c->off;
  c->off += need;
  a->used_bytes += need;
  memset(p, 0, size_bytes);
  return p;
}

char *kiln_arena_strndup(struct kiln_arena *a, const char *s, size_t len)
{
  char *p = kiln_arena_alloc(a, len + 1);
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
  p = kiln_arena_alloc(a, (size_t)n + 1);
  if (p == NULL)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}
