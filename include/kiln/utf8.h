/* UTF-8 checks for text that reaches JSON, logs and diagnostics: names from
 * a repository's tree and messages from libraries are bytes, not text. */
#ifndef KILN_UTF8_H
#define KILN_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the UTF-8 sequence at s (1-4), or 0 when it is malformed,
 * truncated (avail bytes left), overlong, a surrogate or beyond U+10FFFF. */
size_t kiln_utf8_seq_len(const unsigned char *s, size_t avail);

/* True when the len bytes at s are valid UTF-8. */
bool kiln_utf8_valid(const char *s, size_t len);

/* Writes s to out (size bytes, always NUL-terminated, cut at a character)
 * with each byte that is not part of valid UTF-8 written as \xHH, so the
 * result is valid UTF-8 and still tells the bytes apart. Returns out. */
char *kiln_utf8_escape(const char *s, char *out, size_t size);

/* A malloc'd copy of s with each byte that is not part of valid UTF-8
 * replaced by U+FFFD (the replacement character), for JSON. NULL when out
 * of memory. */
char *kiln_utf8_replace(const char *s);

#endif
