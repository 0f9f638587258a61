/* SHA-256 as Kiln uses it everywhere: content addresses, idempotency
 * tokens, names derived from content; and hex digits. */
#ifndef KILN_HASH_H
#define KILN_HASH_H

#include <stddef.h>

/* Lowercase hex SHA-256 of data[0..len) into out (64 chars + NUL).
 * Returns 0 or KILN_EINTERNAL when OpenSSL fails (out is then ""). */
int kiln_sha256_hex(const void *data, size_t len, char out[65]);

/* The value of one hex digit (either case), or -1 for any other char. */
int kiln_hex_value(int c);

#endif
