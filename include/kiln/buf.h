/* A growable byte buffer with a hard maximum, for anything filled from
 * outside the process (files, git blobs, HTTP bodies). The contents are
 * always NUL-terminated so text can be used in place.
 */
#ifndef KILN_BUF_H
#define KILN_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct kiln_buf {
  char *data; /* NULL until the first append */
  size_t len;
  size_t cap;
  size_t max_bytes; /* appends beyond this fail with KILN_ETOOBIG */
  bool secret;      /* every block given up is wiped first */
};

/* Prepares caller-owned storage; max_bytes 0 means SIZE_MAX / 2. */
void kiln_buf_init(struct kiln_buf *b, size_t max_bytes);

/* Like kiln_buf_init(), for a buffer that will hold a secret (credentials,
 * tokens, signed request bodies, files that may hold keys): growth never
 * uses realloc(), which could leave a copy behind in freed memory, but
 * allocates a new block, copies, wipes (OPENSSL_cleanse) and frees the old
 * one; kiln_buf_reset() and kiln_buf_cleanup() wipe too. */
void kiln_buf_init_secret(struct kiln_buf *b, size_t max_bytes);

/* Frees the contents; wipes them first when the buffer is secret. */
void kiln_buf_cleanup(struct kiln_buf *b);

/* Like kiln_buf_cleanup(), but always wipes the bytes first. */
void kiln_buf_cleanup_secret(struct kiln_buf *b);

/* Makes room for extra more bytes (and the NUL) without appending: for a
 * size known ahead, one allocation instead of a doubling chain. 0,
 * KILN_ETOOBIG or KILN_ENOMEM. */
int kiln_buf_reserve(struct kiln_buf *b, size_t extra);

/* Appends len bytes. 0, KILN_ETOOBIG or KILN_ENOMEM; on error b is as
 * before. */
int kiln_buf_append(struct kiln_buf *b, const void *data, size_t len);

/* Appends a NUL-terminated string. */
int kiln_buf_puts(struct kiln_buf *b, const char *s);

/* Appends printf output. */
int kiln_buf_printf(struct kiln_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int kiln_buf_vprintf(struct kiln_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Empties the buffer, keeping its memory (wiped when secret). */
void kiln_buf_reset(struct kiln_buf *b);

/* For tests only: called with every block a buffer gives back itself, just
 * before free(), with its capacity (a plain buffer's growth goes through
 * realloc(), which the hook does not see). NULL, the default: none. Set it
 * only while no other thread uses buffers. */
typedef void kiln__buf_free_hook(const void *block, size_t size_bytes);
void kiln__buf_set_free_hook(kiln__buf_free_hook *hook);

#endif
