/* Diagnostics: errors a person reads, each tied to a place in the desired-state
 * repository ("apps/hello/app.yaml:12:5: error: ...").
 *
 * A diagnostic list owns its strings (heap) and is independent of any arena,
 * so it can outlive the data it describes.
 */
#ifndef KILN_DIAG_H
#define KILN_DIAG_H

#include <stdarg.h>
#include <stddef.h>

struct kiln_buf;

struct kiln_diag {
  char *file;    /* repository-relative path */
  int line;      /* 1-based; 0 when the error concerns the whole file */
  int col;       /* 1-based; 0 when unknown */
  char *app;     /* app name the error belongs to, or NULL */
  char *message; /* one sentence, no trailing period */
};

struct kiln_diags {
  struct kiln_diag *items;
  size_t n;
  size_t cap;
  size_t max_items; /* further diagnostics are counted in dropped */
  size_t dropped;
};

/* Prepares caller-owned storage; max_items 0 means 1000. */
void kiln_diags_init(struct kiln_diags *d, size_t max_items);
void kiln_diags_cleanup(struct kiln_diags *d);

/* Adds one diagnostic. file and app may be NULL. Returns 0 or KILN_ENOMEM. */
int kiln_diags_add(struct kiln_diags *d, const char *file, int line, int col,
                   const char *app, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* va_list form of kiln_diags_add(). */
int kiln_diags_addv(struct kiln_diags *d, const char *file, int line, int col,
                    const char *app, const char *fmt, va_list ap);

/* Number of diagnostics in file (exact path match). */
size_t kiln_diags_count_file(const struct kiln_diags *d, const char *file);

/* Stable sort by file, line, column (insertion order among equals). */
void kiln_diags_sort(struct kiln_diags *d);

/* Appends "file:line:col: error: message\n" for each diagnostic. */
int kiln_diags_format_text(const struct kiln_diags *d, struct kiln_buf *out);

/* The same with another severity word ("warning"). */
int kiln_diags_format_text_as(const struct kiln_diags *d, const char *severity,
                              struct kiln_buf *out);

#endif
