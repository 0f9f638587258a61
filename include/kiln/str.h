/* Small string helpers every module may use. */
#ifndef KILN_STR_H
#define KILN_STR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* a and b are both NULL, or equal strings. */
static inline bool kiln_str_eq(const char *a, const char *b)
{
  return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/* FNV-1a of data[0..len): the hash of Kiln's tables, whose keys are AWS's
 * names and ids and the repository's contents, not an attacker's choice
 * of collisions. */
static inline uint64_t kiln_fnv1a(const char *data, size_t len)
{
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)data[i];
    h *= 1099511628211ULL;
  }
  return h;
}

/* The account of an ARN (its fifth field: arn:aws:iam::ACCOUNT:role/x)
 * into out; "" when arn is NULL or has none. Returns out. */
static inline char *kiln_arn_account(const char *arn, char *out, size_t size)
{
  const char *p = arn;
  out[0] = '\0';
  for (int i = 0; i < 4 && p != NULL; i++)
    if ((p = strchr(p, ':')) != NULL)
      p++;
  if (p != NULL)
    snprintf(out, size, "%.*s", (int)strcspn(p, ":"), p);
  return out;
}

#endif
