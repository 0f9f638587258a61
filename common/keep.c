/* kiln_keep: an open-addressing table by key over copies in an arena. See
 * keep.h. */
#include "kiln/keep.h"
#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/str.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct slot {
  const char *key; /* NULL: never used */
  void *value;     /* NULL: forgotten */
  size_t bytes;    /* arena bytes of key and value */
};

struct kiln_keep {
  size_t value_size;
  kiln_keep_copy_fn *copy;
  struct slot *slots;
  size_t cap;  /* a power of two, or 0 */
  size_t used; /* slots with a key */
  size_t n;    /* slots with a value */
  struct kiln_arena arena;
  size_t live_bytes;
};

/* Compaction waits for this much arena, so that small tables never run
 * it. */
#define COMPACT_MIN_BYTES (256 * 1024)

struct kiln_keep *kiln_keep_new(size_t value_size, kiln_keep_copy_fn *copy)
{
  struct kiln_keep *k = calloc(1, sizeof(*k));
  if (k == NULL)
    return NULL;
  k->value_size = value_size;
  k->copy = copy;
  kiln_arena_init(&k->arena, 0);
  return k;
}

void kiln_keep_free(struct kiln_keep *k)
{
  if (k == NULL)
    return;
  kiln_arena_cleanup(&k->arena);
  free(k->slots);
  free(k);
}

size_t kiln_keep_count(const struct kiln_keep *k)
{
  return k != NULL ? k->n : 0;
}

static size_t slot_of(const struct slot *slots, size_t cap, const char *key)
{
  size_t i = (size_t)kiln_fnv1a(key, strlen(key)) & (cap - 1);
  while (slots[i].key != NULL && strcmp(slots[i].key, key) != 0)
    i = (i + 1) & (cap - 1);
  return i;
}

const void *kiln_keep_get(const struct kiln_keep *k, const char *key)
{
  if (k == NULL || k->cap == 0 || key == NULL)
    return NULL;
  return k->slots[slot_of(k->slots, k->cap, key)].value;
}

/* Copies key and value into a, as slot out. */
static int copy_slot(struct kiln_keep *k, struct kiln_arena *a, const char *key,
                     const void *value, struct slot *out)
{
  size_t before = a->used_bytes;
  out->key = kiln_arena_strdup(a, key);
  out->value = kiln_arena_alloc(a, k->value_size);
  if (out->key == NULL || out->value == NULL ||
      k->copy(a, value, out->value) != 0)
    return KILN_ENOMEM;
  out->bytes = a->used_bytes - before;
  return 0;
}

static int grow(struct kiln_keep *k)
{
  size_t cap = k->cap != 0 ? k->cap * 2 : 64;
  struct slot *slots = calloc(cap, sizeof(*slots));
  if (slots == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < k->cap; i++)
    if (k->slots[i].key != NULL)
      slots[slot_of(slots, cap, k->slots[i].key)] = k->slots[i];
  free(k->slots);
  k->slots = slots;
  k->cap = cap;
  return 0;
}

/* Copies the live values into a fresh arena; forgotten keys go too. */
static int compact(struct kiln_keep *k)
{
  struct kiln_arena fresh;
  struct slot *copies = calloc(k->cap, sizeof(*copies));
  size_t live = 0;
  if (copies == NULL)
    return KILN_ENOMEM;
  kiln_arena_init(&fresh, 0);
  for (size_t i = 0; i < k->cap; i++) {
    struct slot s;
    if (k->slots[i].value == NULL)
      continue;
    if (copy_slot(k, &fresh, k->slots[i].key, k->slots[i].value, &s) != 0) {
      kiln_arena_cleanup(&fresh);
      free(copies);
      return KILN_ENOMEM;
    }
    copies[slot_of(copies, k->cap, s.key)] = s;
    live += s.bytes;
  }
  kiln_arena_cleanup(&k->arena);
  k->arena = fresh;
  free(k->slots);
  k->slots = copies;
  k->used = k->n;
  k->live_bytes = live;
  return 0;
}

int kiln_keep_put(struct kiln_keep *k, const char *key, const void *value)
{
  struct slot copy;
  size_t i;
  if (k == NULL || key == NULL)
    return 0;
  if ((k->used + 1) * 10 > k->cap * 7 && grow(k) != 0)
    return KILN_ENOMEM;
  if (copy_slot(k, &k->arena, key, value, &copy) != 0)
    return KILN_ENOMEM;
  i = slot_of(k->slots, k->cap, key);
  if (k->slots[i].key == NULL)
    k->used++;
  if (k->slots[i].value != NULL)
    k->live_bytes -= k->slots[i].bytes;
  else
    k->n++;
  k->slots[i] = copy;
  k->live_bytes += copy.bytes;
  /* A compaction that fails leaves everything as it was: only larger. */
  if (k->arena.used_bytes > COMPACT_MIN_BYTES &&
      k->arena.used_bytes > 2 * k->live_bytes)
    (void)compact(k);
  return 0;
}

void kiln_keep_forget(struct kiln_keep *k, const char *key)
{
  size_t i;
  if (k == NULL || k->cap == 0 || key == NULL)
    return;
  i = slot_of(k->slots, k->cap, key);
  if (k->slots[i].value == NULL)
    return;
  k->live_bytes -= k->slots[i].bytes;
  k->slots[i].value = NULL;
  k->n--;
}
