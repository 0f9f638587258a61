/* Small string helpers every module may use. */
#ifndef KILN_STR_H
#define KILN_STR_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* a and b are both NULL, or equal strings. */
static inline bool kiln_str_eq(const char *a, const char *b)
{
  return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
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
