/* The query protocols' requests (EC2 and Auto Scaling): a form-encoded
 * POST body of Action, Version and the parameters, each key and value
 * percent-encoded as RFC 3986 says (the encoding SigV4 uses too).
 */
#include "aws_client_private.h"

#include "kiln/error.h"
#include "kiln/sigv4.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

/* Largest form body Kiln builds (user data is at most 16 KiB, base64). */
#define QUERY_MAX_BYTES (1024u * 1024u)

void kiln__query_init(struct kiln__query *q, const char *action,
                      const char *version)
{
  kiln_buf_init(&q->buf, QUERY_MAX_BYTES);
  q->err = 0;
  kiln__query_str(q, action, "Action");
  kiln__query_str(q, version, "Version");
}

void kiln__query_cleanup(struct kiln__query *q)
{
  kiln_buf_cleanup(&q->buf);
}

static void add(struct kiln__query *q, const char *value, const char *fmt,
                va_list ap)
{
  char key[256];
  int n;

  if (q->err != 0 || value == NULL)
    return;
  n = vsnprintf(key, sizeof(key), fmt, ap);
  if (n < 0 || (size_t)n >= sizeof(key)) {
    q->err = KILN_EINVAL;
    return;
  }
  q->err = kiln_sigv4_query_add(&q->buf, key, value);
}

void kiln__query_str(struct kiln__query *q, const char *value,
                     const char *key_fmt, ...)
{
  va_list ap;

  va_start(ap, key_fmt);
  add(q, value, key_fmt, ap);
  va_end(ap);
}

void kiln__query_i64(struct kiln__query *q, int64_t value, const char *key_fmt,
                     ...)
{
  char v[32];
  va_list ap;

  snprintf(v, sizeof(v), "%" PRId64, value);
  va_start(ap, key_fmt);
  add(q, v, key_fmt, ap);
  va_end(ap);
}

void kiln__query_bool(struct kiln__query *q, int value, const char *key_fmt,
                      ...)
{
  va_list ap;

  va_start(ap, key_fmt);
  add(q, value ? "true" : "false", key_fmt, ap);
  va_end(ap);
}
