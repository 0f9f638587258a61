/* Small string helpers every module may use. */
#ifndef KILN_STR_H
#define KILN_STR_H

#include <stdbool.h>
#include <string.h>

/* a and b are both NULL, or equal strings. */
static inline bool kiln_str_eq(const char *a, const char *b)
{
  return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

#endif
