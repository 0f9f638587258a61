/* kiln_str_index: open addressing over the keys (a table at most 70 %
 * full, never grown: the capacity is known up front), each key's values
 * chained in the order they came. See str_index.h. */
#include "kiln/str_index.h"
#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/str.h"

#include <stdint.h>
#include <string.h>

struct slot {
  const char *key; /* NULL: empty */
  uint32_t hash;   /* the hash's high half: most mismatches skip strcmp */
  uint32_t head, tail;
};

struct kiln_str_index {
  struct slot *slots;
  size_t mask; /* slots - 1, a power of two minus one */
  /* Per value: 0 not added, 1 added and last of its key, else the next
   * value of its key + 2. */
  uint32_t *next;
  size_t capacity;
};

struct kiln_str_index *kiln_str_index_new(struct kiln_arena *arena,
                                          size_t capacity)
{
  struct kiln_str_index *ix;
  size_t slots = 16;

  if (capacity > UINT32_MAX - 2)
    return NULL;
  while (slots * 7 < capacity * 10)
    slots *= 2;
  ix = kiln_arena_alloc(arena, sizeof(*ix));
  if (ix == NULL)
    return NULL;
  ix->slots = kiln_arena_alloc(arena, slots * sizeof(*ix->slots));
  ix->next = kiln_arena_alloc(arena, (capacity + 1) * sizeof(*ix->next));
  if (ix->slots == NULL || ix->next == NULL)
    return NULL;
  ix->mask = slots - 1;
  ix->capacity = capacity;
  return ix;
}

/* key's slot, or the empty one where it would go. */
static struct slot *slot_of(const struct kiln_str_index *ix, const char *key,
                            uint32_t *hash)
{
  uint64_t h = kiln_fnv1a(key, strlen(key));

  *hash = (uint32_t)(h >> 32);
  for (size_t i = (size_t)h & ix->mask;; i = (i + 1) & ix->mask) {
    struct slot *s = &ix->slots[i];
    if (s->key == NULL || (s->hash == *hash && strcmp(s->key, key) == 0))
      return s;
  }
}

int kiln_str_index_add(struct kiln_str_index *ix, const char *key, size_t value,
                       bool *is_new)
{
  struct slot *s;
  uint32_t hash;

  if (ix == NULL || key == NULL || value >= ix->capacity ||
      ix->next[value] != 0)
    return KILN_EINVAL;
  s = slot_of(ix, key, &hash);
  if (is_new != NULL)
    *is_new = s->key == NULL;
  if (s->key == NULL) {
    s->key = key;
    s->hash = hash;
    s->head = (uint32_t)value;
  } else {
    ix->next[s->tail] = (uint32_t)value + 2;
  }
  s->tail = (uint32_t)value;
  ix->next[value] = 1;
  return 0;
}

size_t kiln_str_index_first(const struct kiln_str_index *ix, const char *key)
{
  const struct slot *s;
  uint32_t hash;

  if (ix == NULL || key == NULL)
    return KILN_STR_INDEX_NONE;
  s = slot_of(ix, key, &hash);
  return s->key != NULL ? s->head : KILN_STR_INDEX_NONE;
}

size_t kiln_str_index_next(const struct kiln_str_index *ix, size_t value)
{
  if (ix == NULL || value >= ix->capacity || ix->next[value] < 2)
    return KILN_STR_INDEX_NONE;
  return ix->next[value] - 2;
}
