#include "kiln/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t kiln_utf8_seq_len(const unsigned char *s, size_t avail)
{
  unsigned c = s[0];
  size_t n;
  unsigned cp;

  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (avail < n)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

bool kiln_utf8_valid(const char *s, size_t len)
{
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0, n; i < len; i += n)
    if ((n = kiln_utf8_seq_len(u + i, len - i)) == 0)
      return false;
  return true;
}

char *kiln_utf8_escape(const char *s, char *out, size_t size)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t len = strlen(s), o = 0;

  if (size == 0)
    return out;
  for (size_t i = 0; i < len;) {
    size_t n = kiln_utf8_seq_len(u + i, len - i);
    size_t need = n != 0 ? n : 4;
    if (o + need >= size)
      break;
    if (n != 0)
      memcpy(out + o, s + i, n);
    else
      snprintf(out + o, 5, "\\x%02x", u[i]);
    o += need;
    i += n != 0 ? n : 1;
  }
  out[o] = '\0';
  return out;
}

char *kiln_utf8_replace(const char *s)
{
  static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
  const unsigned char *u = (const unsigned char *)s;
  size_t len = strlen(s), o = 0;
  char *out = malloc(len * 3 + 1);

  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < len;) {
    size_t n = kiln_utf8_seq_len(u + i, len - i);
    if (n != 0) {
      memcpy(out + o, s + i, n);
      o += n;
      i += n;
    } else {
      memcpy(out + o, replacement, 3);
      o += 3;
      i++;
    }
  }
  out[o] = '\0';
  return out;
}
