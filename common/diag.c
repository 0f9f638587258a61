#include "kiln/diag.h"
#include "kiln/str.h"
#include "kiln/buf.h"
#include "kiln/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

void kiln_diags_init(struct kiln_diags *d, size_t max_items)
{
  memset(d, 0, sizeof(*d));
  d->max_items = max_items != 0 ? max_items : 1000;
}

void kiln_diags_cleanup(struct kiln_diags *d)
{
  for (size_t i = 0; i < d->n; i++) {
    free(d->items[i].file);
    free(d->items[i].app);
    free(d->items[i].message);
  }
  free(d->items);
  memset(d, 0, sizeof(*d));
}

static char *dup_or_null(const char *s)
{
  return s != NULL ? strdup(s) : NULL;
}

int kiln_diags_add(struct kiln_diags *d, const char *file, int line, int col,
                   const char *app, const char *fmt, ...)
{
  va_list ap;
  int err;
  va_start(ap, fmt);
  err = kiln_diags_addv(d, file, line, col, app, fmt, ap);
  va_end(ap);
  return err;
}

/* The same message at the same place is said once: an app's line shared
 * by its environments is checked for each of them. */
static bool already_said(const struct kiln_diags *d, const struct kiln_diag *it)
{
  for (size_t i = d->n; i-- > 0;) {
    const struct kiln_diag *o = &d->items[i];
    if (o->line == it->line && o->col == it->col &&
        kiln_str_eq(o->file, it->file) && strcmp(o->message, it->message) == 0)
      return true;
  }
  return false;
}

int kiln_diags_addv(struct kiln_diags *d, const char *file, int line, int col,
                    const char *app, const char *fmt, va_list ap)
{
  struct kiln_diag *it;
  va_list ap2;
  int n;

  if (d->n >= d->max_items) {
    d->dropped++;
    return 0;
  }
  if (d->n == d->cap) {
    size_t cap = d->cap != 0 ? d->cap * 2 : 16;
    void *p = realloc(d->items, cap * sizeof(*d->items));
    if (p == NULL)
      return KILN_ENOMEM;
    d->items = p;
    d->cap = cap;
  }
  it = &d->items[d->n];
  memset(it, 0, sizeof(*it));
  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return KILN_EINVAL;
  it->message = malloc((size_t)n + 1);
  it->file = dup_or_null(file);
  it->app = dup_or_null(app);
  if (it->message == NULL || (file != NULL && it->file == NULL) ||
      (app != NULL && it->app == NULL)) {
    free(it->message);
    free(it->file);
    free(it->app);
    return KILN_ENOMEM;
  }
  vsnprintf(it->message, (size_t)n + 1, fmt, ap);
  it->line = line;
  it->col = col;
  if (already_said(d, it)) {
    free(it->message);
    free(it->file);
    free(it->app);
    return 0;
  }
  d->n++;
  return 0;
}

size_t kiln_diags_count_file(const struct kiln_diags *d, const char *file)
{
  size_t count = 0;
  for (size_t i = 0; i < d->n; i++)
    if (d->items[i].file != NULL && strcmp(d->items[i].file, file) == 0)
      count++;
  return count;
}

static int cmp_diag(const struct kiln_diag *a, const struct kiln_diag *b)
{
  int c =
      strcmp(a->file != NULL ? a->file : "", b->file != NULL ? b->file : "");
  if (c != 0)
    return c;
  if (a->line != b->line)
    return a->line < b->line ? -1 : 1;
  if (a->col != b->col)
    return a->col < b->col ? -1 : 1;
  return 0;
}

void kiln_diags_sort(struct kiln_diags *d)
{
  /* Insertion sort: stable, and lists are short. */
  for (size_t i = 1; i < d->n; i++) {
    struct kiln_diag cur = d->items[i];
    size_t j = i;
    while (j > 0 && cmp_diag(&d->items[j - 1], &cur) > 0) {
      d->items[j] = d->items[j - 1];
      j--;
    }
    d->items[j] = cur;
  }
}

int kiln_diags_format_text_as(const struct kiln_diags *d, const char *severity,
                              struct kiln_buf *out)
{
  for (size_t i = 0; i < d->n; i++) {
    const struct kiln_diag *it = &d->items[i];
    int err;
    const char *file = it->file != NULL ? it->file : "<repository>";
    if (it->line > 0)
      err = kiln_buf_printf(out, "%s:%d:%d: %s: %s\n", file, it->line,
                            it->col > 0 ? it->col : 1, severity, it->message);
    else
      err = kiln_buf_printf(out, "%s: %s: %s\n", file, severity, it->message);
    if (err != 0)
      return err;
  }
  if (d->dropped > 0)
    return kiln_buf_printf(out, "... and %zu more %ss not shown\n",
                           d->dropped, severity);
  return 0;
}

int kiln_diags_format_text(const struct kiln_diags *d, struct kiln_buf *out)
{
  return kiln_diags_format_text_as(d, "error", out);
}
