#include "kiln/buf.h"
#include "kiln/error.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kiln__buf_free_hook *free_hook;

void kiln__buf_set_free_hook(kiln__buf_free_hook *hook)
{
  free_hook = hook;
}

/* Gives a block back, wiped first when wipe is set. */
static void release(char *block, size_t cap, bool wipe)
{
  if (block == NULL)
    return;
  /* explicit_bzero: a memset the compiler keeps, at memset's speed (a
   * pass frees megabytes of AWS answers). */
  if (wipe)
    explicit_bzero(block, cap);
  if (free_hook != NULL)
    free_hook(block, cap);
  free(block);
}

void kiln_buf_init(struct kiln_buf *b, size_t max_bytes)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max_bytes = max_bytes != 0 ? max_bytes : SIZE_MAX / 2;
  b->secret = false;
}

void kiln_buf_init_secret(struct kiln_buf *b, size_t max_bytes)
{
  kiln_buf_init(b, max_bytes);
  b->secret = true;
}

static void cleanup(struct kiln_buf *b, bool wipe)
{
  release(b->data, b->cap, wipe);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void kiln_buf_cleanup(struct kiln_buf *b)
{
  cleanup(b, b->secret);
}

void kiln_buf_cleanup_secret(struct kiln_buf *b)
{
  cleanup(b, true);
}

static int reserve(struct kiln_buf *b, size_t extra)
{
  size_t need, cap;
  char *p;

  if (extra > b->max_bytes - b->len)
    return KILN_ETOOBIG;
  need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  cap = b->cap != 0 ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  if (!b->secret) {
    p = realloc(b->data, cap);
    if (p == NULL)
      return KILN_ENOMEM;
  } else {
    /* realloc() may move the bytes and free the old block unwiped. */
    p = malloc(cap);
    if (p == NULL)
      return KILN_ENOMEM;
    if (b->data != NULL)
      memcpy(p, b->data, b->len + 1);
    release(b->data, b->cap, true);
  }
  b->data = p;
  b->cap = cap;
  return 0;
}

int kiln_buf_reserve(struct kiln_buf *b, size_t extra)
{
  return reserve(b, extra);
}

int kiln_buf_append(struct kiln_buf *b, const void *data, size_t len)
{
  int err = reserve(b, len);
  if (err != 0)
    return err;
  if (len != 0)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

int kiln_buf_puts(struct kiln_buf *b, const char *s)
{
  return kiln_buf_append(b, s, strlen(s));
}

int kiln_buf_vprintf(struct kiln_buf *b, const char *fmt, va_list ap)
{
  va_list again;
  int n, err;

  va_copy(again, ap);
  n = vsnprintf(NULL, 0, fmt, ap);
  if (n < 0) {
    va_end(again);
    return KILN_EINVAL;
  }
  err = reserve(b, (size_t)n);
  if (err == 0) {
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    b->len += (size_t)n;
  }
  va_end(again);
  return err;
}

int kiln_buf_printf(struct kiln_buf *b, const char *fmt, ...)
{
  va_list ap;
  int err;

  va_start(ap, fmt);
  err = kiln_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return err;
}

void kiln_buf_reset(struct kiln_buf *b)
{
  if (b->secret && b->data != NULL)
    OPENSSL_cleanse(b->data, b->len);
  b->len = 0;
  if (b->data != NULL)
    b->data[0] = '\0';
}
