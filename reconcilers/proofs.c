#include "kiln/proofs.h"

#include "kiln/error.h"
#include "kiln/history.h"

#include <stdlib.h>
#include <string.h>

static int cmp_release(const void *x, const void *y)
{
  const struct kiln_history_release *a = *(const struct kiln_history_release *const *)x;
  const struct kiln_history_release *b = *(const struct kiln_history_release *const *)y;
  int c = strcmp(a->app, b->app);
  if (c != 0)
    return c;
  if (a->started_at_ms != b->started_at_ms)
    return a->started_at_ms < b->started_at_ms ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

static int cmp_proof(const void *x, const void *y)
{
  const struct kiln_proof *a = x, *b = y;
  int c = strcmp(a->target, b->target);
  return c != 0 ? c : strcmp(a->digest, b->digest);
}

/* The proof of (target, digest) among the first n, made when missing. */
static struct kiln_proof *proof_for(struct kiln_proofs *p, const char *target,
                                    const char *digest)
{
  for (size_t i = p->n; i-- > 0;) /* the same target is near the end */
    if (strcmp(p->items[i].target, target) == 0 &&
        strcmp(p->items[i].digest, digest) == 0)
      return &p->items[i];
  p->items[p->n] = (struct kiln_proof){
      .target = kiln_arena_strdup(&p->arena, target),
      .digest = kiln_arena_strdup(&p->arena, digest)};
  if (p->items[p->n].target == NULL || p->items[p->n].digest == NULL)
    return NULL;
  return &p->items[p->n++];
}

/* When the run of release r[i]'s digest ended: the start of the next
 * release of the same target with another digest, unless that one failed
 * (AWS put the running one back: the run went on); 0: it goes on. */
static int64_t run_end_s(const struct kiln_history_release *const *r, size_t n,
                         size_t i)
{
  for (size_t j = i + 1; j < n && strcmp(r[j]->app, r[i]->app) == 0; j++)
    if (r[j]->digest != NULL && strcmp(r[j]->digest, r[i]->digest) != 0 &&
        r[j]->outcome != KILN_HISTORY_FAILED)
      return r[j]->started_at_ms / 1000;
  return 0;
}

int kiln_proofs_build(struct kiln_proofs *p,
                      const struct kiln_history_release *releases, size_t n)
{
  const struct kiln_history_release **r = calloc(n + 1, sizeof(*r));

  memset(p, 0, sizeof(*p));
  kiln_arena_init(&p->arena, 0);
  p->items = kiln_arena_alloc(&p->arena, (n + 1) * sizeof(*p->items));
  if (r == NULL || p->items == NULL) {
    free(r);
    return KILN_ENOMEM;
  }
  for (size_t i = 0; i < n; i++)
    r[i] = &releases[i];
  qsort(r, n, sizeof(*r), cmp_release);
  for (size_t i = 0; i < n; i++) {
    struct kiln_proof *pr;
    int64_t from, until;
    if (r[i]->app == NULL || r[i]->digest == NULL ||
        (r[i]->outcome != KILN_HISTORY_SUCCEEDED &&
         r[i]->outcome != KILN_HISTORY_FAILED &&
         r[i]->outcome != KILN_HISTORY_DEGRADED))
      continue;
    if ((pr = proof_for(p, r[i]->app, r[i]->digest)) == NULL) {
      free(r);
      return KILN_ENOMEM;
    }
    /* Releases are in time order: the latest outcome is the last word. */
    pr->failed = r[i]->outcome != KILN_HISTORY_SUCCEEDED;
    pr->reason = pr->failed && r[i]->reason != NULL
                     ? kiln_arena_strdup(&p->arena, r[i]->reason)
                     : NULL;
    if (pr->failed)
      continue;
    from = r[i]->ended_at_ms / 1000;
    until = run_end_s(r, n, i);
    if (until == 0)
      pr->running_since_s = pr->running_since_s != 0 ? pr->running_since_s
                                                     : from;
    else if (until - from > pr->longest_run_s)
      pr->longest_run_s = until - from;
  }
  free(r);
  qsort(p->items, p->n, sizeof(*p->items), cmp_proof);
  return 0;
}

const struct kiln_proof *kiln_proofs_find(const struct kiln_proofs *p,
                                          const char *target,
                                          const char *digest)
{
  struct kiln_proof key = {.target = target, .digest = digest};
  if (p == NULL || p->n == 0 || target == NULL || digest == NULL)
    return NULL;
  return bsearch(&key, p->items, p->n, sizeof(*p->items), cmp_proof);
}

int64_t kiln_proof_healthy_s(const struct kiln_proof *proof, int64_t now)
{
  int64_t running = proof->running_since_s != 0 && now > proof->running_since_s
                        ? now - proof->running_since_s
                        : 0;
  return running > proof->longest_run_s ? running : proof->longest_run_s;
}

void kiln_proofs_cleanup(struct kiln_proofs *p)
{
  kiln_arena_cleanup(&p->arena);
  memset(p, 0, sizeof(*p));
}
