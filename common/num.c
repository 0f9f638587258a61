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

char *kiln_num_format_i64(int64_t v, char out[KILN_NUM_I64_CHARS])
{
  char digits[KILN_NUM_I64_CHARS];
  /* The magnitude as unsigned: -INT64_MIN does not fit in int64_t. */
  uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  size_t n = 0, o = 0;

  do {
    digits[n++] = (char)('0' + m % 10);
    m /= 10;
  } while (m != 0);
  if (v < 0)
    out[o++] = '-';
  while (n > 0)
    out[o++] = digits[--n];
  out[o] = '\0';
  return out;
}

bool kiln_num_is_i64(const char *s, int64_t v)
{
  char text[KILN_NUM_I64_CHARS];
  return s != NULL && strcmp(s, kiln_num_format_i64(v, text)) == 0;
}
