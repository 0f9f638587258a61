/* Checked conversion of decimal text to numbers, for every number that
 * comes from outside the process (AWS answers, files, URLs, /proc,
 * settings). Unlike atoi() and friends, garbage and out-of-range values are
 * errors, never a silent 0 or undefined behaviour.
 */
#ifndef KILN_NUM_H
#define KILN_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for any int64_t in decimal, sign and NUL included. */
#define KILN_NUM_I64_CHARS 21

/* Parses the len bytes at s as a whole decimal integer: an optional '-'
 * (only when min < 0) and at least one digit, nothing else (no spaces, no
 * '+', no "0x"). Sets *out and returns 0; KILN_EPARSE when the text is not
 * such a number; KILN_ERANGE when it is one but outside [min, max] (also
 * when it would not fit in 64 bits). *out is untouched on error. */
int kiln_num_parse_i64n(const char *s, size_t len, int64_t min, int64_t max,
                        int64_t *out);

/* The same for a NUL-terminated string; s NULL is KILN_EPARSE. */
int kiln_num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* v in decimal as printf's "%lld" writes it, into out; returns out. For
 * the loops over every app of a pass, where snprintf costs more than the
 * rest of the comparison. */
char *kiln_num_format_i64(int64_t v, char out[KILN_NUM_I64_CHARS]);

/* Whether s is exactly v as "%lld" writes it (AWS's version numbers are
 * strings): "7" is 7, "07" and "+7" are not. False for NULL. */
bool kiln_num_is_i64(const char *s, int64_t v);

#endif
