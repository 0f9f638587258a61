#include "kiln/json_text.h"
#include "kiln/utf8.h"

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
