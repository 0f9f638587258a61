/* Strings into json-c. json-c copies bytes as they are, so a string that is
 * not valid UTF-8 (a name from a repository's tree, a library's message,
 * a message cut short mid-character) would make invalid JSON. Every JSON
 * Kiln writes takes its strings through here. */
#ifndef KILN_JSON_TEXT_H
#define KILN_JSON_TEXT_H

#include <json-c/json.h>

/* A json-c string of s with each byte that is not part of valid UTF-8
 * replaced by U+FFFD; JSON null when s is NULL. */
json_object *kiln_json_string(const char *s);

#endif
