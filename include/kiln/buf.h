/* A growable byte buffer with a hard maximum, for anything filled from
 * outside the process (files, git blobs, HTTP bodies). The contents are
 * always NUL-terminated so text can be used in place.
 */
#ifndef KILN_BUF_H
#define KILN_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct kiln_buf {
  char *data; /* NULL until the first append */
  size_t len;
  size_t cap;
  size_t max_bytes; /* appends beyond this fail with KILN_ETOOBIG */
};

/* Prepares caller-owned storage; max_bytes 0 means SIZE_MAX / 2. */
void kiln_buf_init(struct kiln_buf *b, size_t max_bytes);

/* Frees the contents. */
void kiln_buf_cleanup(struct kiln_buf *b);

/* Like kiln_buf_cleanup(), but wipes the bytes first: for secrets. */
void kiln_buf_cleanup_secret(struct kiln_buf *b);

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

/* Empties the buffer, keeping its memory. */
void kiln_buf_reset(struct kiln_buf *b);

#endif
