/* The proofs a snapshot's promotion gates need, read from the history
 * store: the releases of every target some environment promotes from. */
#include "history_proofs.h"

#include "kiln/error.h"
#include "kiln/history.h"
#include "kiln/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Releases read per source: more than any soak needs. */
#define RELEASES_PER_SOURCE 200

static bool listed(const char **names, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0)
      return true;
  return false;
}

int kiln_history_proofs_load(struct kiln_history *h,
                             const struct kiln_spec_repo *repo,
                             struct kiln_proofs *out)
{
  struct kiln_arena scratch;
  struct kiln_history_release *all = NULL;
  const char **sources = calloc(repo->n_apps + 1, sizeof(*sources));
  size_t n_sources = 0, n_all = 0, cap = 0;
  int err = 0;

  memset(out, 0, sizeof(*out));
  if (sources == NULL)
    return KILN_ENOMEM;
  kiln_arena_init(&scratch, 0);
  for (size_t i = 0; i < repo->n_apps && err == 0; i++) {
    const struct kiln_app_spec *t = &repo->apps[i];
    const char *name;
    if (!t->valid || t->promote.from == NULL)
      continue;
    name = kiln_arena_printf(&scratch, "%s/%s", kiln_spec_app_name(t),
                             t->promote.from);
    if (name == NULL)
      err = KILN_ENOMEM;
    else if (!listed(sources, n_sources, name))
      sources[n_sources++] = name;
  }
  for (size_t i = 0; i < n_sources && err == 0; i++) {
    struct kiln_history_release *rel;
    size_t n;
    err = kiln_history_releases(h, sources[i], RELEASES_PER_SOURCE, &scratch,
                                &rel, &n);
    if (err == 0 && n_all + n > cap) {
      size_t grown = (n_all + n) * 2;
      struct kiln_history_release *more = realloc(all, grown * sizeof(*all));
      if (more == NULL)
        err = KILN_ENOMEM;
      else {
        all = more;
        cap = grown;
      }
    }
    if (err == 0 && n > 0) {
      memcpy(all + n_all, rel, n * sizeof(*rel));
      n_all += n;
    }
  }
  if (err == 0)
    err = kiln_proofs_build(out, all, n_all);
  free(all);
  free(sources);
  kiln_arena_cleanup(&scratch);
  return err;
}
