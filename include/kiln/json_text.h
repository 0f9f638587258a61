/* Strings into json-c. json-c copies bytes as they are, so a string that is
 * not valid UTF-8 (a name from a repository's tree, a library's message,
 * a message cut short mid-character) would make invalid JSON. Every JSON
 * Kiln writes takes its strings through here; durations too, for the
 * same reason: what a reader sees. */
#ifndef KILN_JSON_TEXT_H
#define KILN_JSON_TEXT_H

#include <json-c/json.h>

/* A json-c string of s with each byte that is not part of valid UTF-8
 * replaced by U+FFFD; JSON null when s is NULL. */
json_object *kiln_json_string(const char *s);

/* A duration in seconds as a JSON number to the microsecond, trailing
 * zeros dropped ("0.371963", "2.0"); json-c would print every digit of the
 * double ("0.3719628340000001"). JSON null when s is not finite. */
json_object *kiln_json_seconds(double s);

#endif
