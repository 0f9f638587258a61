#include "step_retry.h"

#include "kiln/error.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

void kiln_step_retry_init(struct kiln_step_retry *r,
                          const struct kiln_step_retry_policy *policy)
{
  memset(r, 0, sizeof(*r));
  r->policy = *policy;
}

void kiln_step_retry_cleanup(struct kiln_step_retry *r)
{
  for (size_t i = 0; i < r->n; i++)
    free(r->apps[i].app);
  free(r->apps);
  r->apps = NULL;
  r->n = r->cap = 0;
}

uint64_t kiln_step_retry_delay_ms(const struct kiln_step_retry_policy *p,
                                  unsigned failures, unsigned char jitter)
{
  uint64_t ms = p->min_ms;
  for (unsigned i = 1; i < failures && ms < p->max_ms; i++)
    ms *= 2;
  if (ms > p->max_ms)
    ms = p->max_ms;
  return ms / 2 + (ms / 2) * jitter / 255;
}

/* The index of app, or where it would go (*found false). */
static size_t find(const struct kiln_step_retry *r, const char *app,
                   bool *found)
{
  size_t lo = 0, hi = r->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(r->apps[mid].app, app);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = false;
  return lo;
}

int kiln_step_retry_record(struct kiln_step_retry *r, const char *app,
                           bool failed, uint64_t now_ms, unsigned char jitter)
{
  bool found;
  size_t i = find(r, app, &found);
  struct kiln_step_retry_app *a;

  if (!found) {
    if (!failed)
      return 0; /* nothing to remember of an app that never failed */
    if (r->n == r->cap) {
      size_t cap = r->cap != 0 ? r->cap * 2 : 16;
      a = realloc(r->apps, cap * sizeof(*a));
      if (a == NULL)
        return KILN_ENOMEM;
      r->apps = a;
      r->cap = cap;
    }
    char *name = strdup(app);
    if (name == NULL)
      return KILN_ENOMEM;
    memmove(&r->apps[i + 1], &r->apps[i], (r->n - i) * sizeof(*r->apps));
    r->apps[i] = (struct kiln_step_retry_app){name, 0, 0};
    r->n++;
  }
  a = &r->apps[i];
  if (!failed) {
    a->failures = 0;
    a->next_ms = 0;
    return 0;
  }
  a->failures++;
  a->next_ms =
      now_ms + kiln_step_retry_delay_ms(&r->policy, a->failures, jitter);
  return 0;
}

uint64_t kiln_step_retry_wait_ms(const struct kiln_step_retry *r,
                                 const char *app, uint64_t now_ms)
{
  bool found;
  size_t i = find(r, app, &found);
  return found && r->apps[i].next_ms > now_ms ? r->apps[i].next_ms - now_ms : 0;
}

bool kiln_step_retry_gave_up(const struct kiln_step_retry *r, const char *app)
{
  bool found;
  size_t i = find(r, app, &found);
  return found && r->policy.give_up_after > 0 &&
         r->apps[i].failures >= r->policy.give_up_after;
}

void kiln_step_retry_forget_all(struct kiln_step_retry *r)
{
  for (size_t i = 0; i < r->n; i++) {
    r->apps[i].failures = 0;
    r->apps[i].next_ms = 0;
  }
}

unsigned char kiln_step_retry_jitter(void)
{
  unsigned char r = 128;
  RAND_bytes(&r, 1);
  return r;
}
