#include "kiln/num.h"
#include "kiln/error.h"

#include <stdbool.h>
#include <string.h>

int kiln_num_parse_i64n(const char *s, size_t len, int64_t min, int64_t max,
                        int64_t *out)
{
  bool negative = false;
  /* The magnitude, accumulated as unsigned so that INT64_MIN fits. */
  uint64_t v = 0, limit;
  size_t i = 0;

  if (s == NULL)
    return KILN_EPARSE;
  if (i < len && s[i] == '-' && min < 0) {
    negative = true;
    i++;
  }
  if (i == len)
    return KILN_EPARSE;
  limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  bool overflow = false;
  for (; i < len; i++) {
    unsigned d = (unsigned char)s[i] - '0';
    if (d > 9)
      return KILN_EPARSE;
    /* Keep reading after an overflow: "99999999999999999999x" is garbage,
     * not a range error. */
    if (overflow || v > (limit - d) / 10)
      overflow = true;
    else
      v = v * 10 + d;
  }
  if (overflow)
    return KILN_ERANGE;
  int64_t n = negative
                  ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v)
                  : (int64_t)v;
  if (n < min || n > max)
    return KILN_ERANGE;
  *out = n;
  return 0;
}

int kiln_num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
  if (s == NULL)
    return KILN_EPARSE;
  return kiln_num_parse_i64n(s, strlen(s), min, max, out);
}
