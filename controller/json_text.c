#include "kiln/json_text.h"
#include "kiln/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_object *kiln_json_string(const char *s)
{
  json_object *o;
  char *fixed;

  if (s == NULL)
    return NULL;
  if (kiln_utf8_valid(s, strlen(s)))
    return json_object_new_string(s);
  fixed = kiln_utf8_replace(s);
  if (fixed == NULL)
    return NULL;
  o = json_object_new_string(fixed);
  free(fixed);
  return o;
}

json_object *kiln_json_seconds(double s)
{
  char text[64];
  size_t n;

  if (!isfinite(s))
    return NULL;
  n = (size_t)snprintf(text, sizeof(text), "%.6f", s);
  if (n >= sizeof(text))
    return json_object_new_double(s);
  while (n > 0 && text[n - 1] == '0' && text[n - 2] != '.')
    text[--n] = '\0';
  return json_object_new_double_s(s, text);
}
