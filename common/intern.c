/* An open-addressing set of (hash, length, copy), doubled at half full. */
#include "kiln/intern.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/arena.h"
#include "kiln/str.h"

struct slot {
  uint64_t hash;
  size_t len;
  const char *s; /* NULL: empty */
};

struct kiln_intern {
  struct kiln_arena *arena;
  struct slot *slots;
  size_t cap; /* a power of two */
  size_t n;
};

struct kiln_intern *kiln_intern_new(struct kiln_arena *arena)
{
  struct kiln_intern *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  t->arena = arena;
  t->cap = 16;
  t->slots = calloc(t->cap, sizeof(*t->slots));
  if (t->slots == NULL) {
    free(t);
    return NULL;
  }
  return t;
}

void kiln_intern_free(struct kiln_intern *t)
{
  if (t == NULL)
    return;
  free(t->slots);
  free(t);
}

size_t kiln_intern_count(const struct kiln_intern *t)
{
  return t->n;
}

static struct slot *find(struct slot *slots, size_t cap, uint64_t hash,
                         const char *data, size_t len)
{
  for (size_t i = hash & (cap - 1);; i = (i + 1) & (cap - 1)) {
    struct slot *s = &slots[i];
    if (s->s == NULL || (s->hash == hash && s->len == len &&
                         memcmp(s->s, data, len) == 0))
      return s;
  }
}

static int grow(struct kiln_intern *t)
{
  size_t cap = t->cap * 2;
  struct slot *slots = calloc(cap, sizeof(*slots));
  if (slots == NULL)
    return -1;
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i].s != NULL)
      *find(slots, cap, t->slots[i].hash, t->slots[i].s, t->slots[i].len) =
          t->slots[i];
  free(t->slots);
  t->slots = slots;
  t->cap = cap;
  return 0;
}

const char *kiln_intern(struct kiln_intern *t, const char *data, size_t len)
{
  uint64_t hash = kiln_fnv1a(data, len);
  struct slot *s = find(t->slots, t->cap, hash, data, len);
  if (s->s != NULL)
    return s->s;
  if ((t->n + 1) * 2 > t->cap) {
    if (grow(t) != 0)
      return NULL;
    s = find(t->slots, t->cap, hash, data, len);
  }
  if ((s->s = kiln_arena_strndup(t->arena, data, len)) == NULL)
    return NULL;
  s->hash = hash;
  s->len = len;
  t->n++;
  return s->s;
}
