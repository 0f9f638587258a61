#include "kiln/gc.h"

#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/naming.h"

#include <string.h>

#define DAY_S 86400

/* "within the last 5 releases", "not among the last release". */
static const char *releases_phrase(struct kiln_arena *arena, const char *lead,
                                   const struct kiln_gc_app *a)
{
  if (a->retention.releases == 1)
    return kiln_arena_printf(arena, "%s release", lead);
  return kiln_arena_printf(arena, "%s %lld releases", lead,
                           (long long)a->retention.releases);
}

static const struct kiln_gc_app *app_of(const struct kiln_gc_inputs *in,
                                        const char *name)
{
  for (size_t i = 0; name != NULL && i < in->n_apps; i++)
    if (strcmp(in->apps[i].name, name) == 0)
      return &in->apps[i];
  return NULL;
}

/* Position of commit in the first-parent history (0 newest), or SIZE_MAX
 * when it is not there (a side branch, or older than what was read). */
static size_t history_index(const struct kiln_gc_inputs *in, const char *commit)
{
  for (size_t i = 0; commit != NULL && i < in->n_history; i++)
    if (strcmp(in->history[i], commit) == 0)
      return i;
  return SIZE_MAX;
}

struct release {
  size_t at; /* history index */
  const char *digest;
};

/* Adds v's release of app to r[] (one per commit). */
static void note_release(const struct kiln_gc_inputs *in,
                         const struct kiln_gc_version *v, const char *app,
                         struct release *r, size_t *n)
{
  size_t at;
  if (v->app == NULL || strcmp(v->app, app) != 0 || v->digest == NULL ||
      v->digest[0] == '\0' || (at = history_index(in, v->commit)) == SIZE_MAX)
    return;
  for (size_t i = 0; i < *n; i++)
    if (r[i].at == at && strcmp(r[i].digest, v->digest) == 0)
      return;
  r[(*n)++] = (struct release){at, v->digest};
}

/* What the planner works out once per collection: each app's last
 * `releases` distinct digests released, newest first (apps in the inputs'
 * order). */
struct planner {
  const struct kiln_gc_inputs *in;
  struct kiln_arena *a;
  const char ***recent;
  size_t *n_recent;
};

/* App a's last releases, from the versions of every location ordered by
 * the first-parent history. */
static int last_releases(const struct kiln_gc_inputs *in,
                         const struct kiln_gc_app *a, struct kiln_arena *arena,
                         const char ***out, size_t *n_out)
{
  size_t cap = in->n_versions + in->n_other_versions + 1, n = 0;
  struct release *r = kiln_arena_alloc(arena, cap * sizeof(*r));
  const char **keep = kiln_arena_alloc(
      arena, ((size_t)a->retention.releases + 1) * sizeof(*keep));

  *n_out = 0;
  *out = keep;
  if (r == NULL || keep == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < in->n_versions; i++)
    note_release(in, &in->versions[i], a->name, r, &n);
  for (size_t i = 0; i < in->n_other_versions; i++)
    note_release(in, &in->other_versions[i], a->name, r, &n);
  /* Newest first: walk the history and keep distinct digests. */
  for (size_t at = 0;
       at < in->n_history && *n_out < (size_t)a->retention.releases; at++)
    for (size_t i = 0; i < n && *n_out < (size_t)a->retention.releases; i++) {
      bool seen = false;
      if (r[i].at != at)
        continue;
      for (size_t k = 0; k < *n_out; k++)
        seen |= strcmp(keep[k], r[i].digest) == 0;
      if (!seen)
        keep[(*n_out)++] = r[i].digest;
    }
  return 0;
}

/* Is digest one of app a's last releases? */
static bool recent(const struct planner *pl, const struct kiln_gc_app *a,
                   const char *digest)
{
  size_t i = (size_t)(a - pl->in->apps);
  for (size_t k = 0; k < pl->n_recent[i]; k++)
    if (strcmp(pl->recent[i][k], digest) == 0)
      return true;
  return false;
}

static const char *use_of(const struct kiln_gc_inputs *in, const char *ami)
{
  for (size_t i = 0; i < in->n_uses; i++)
    if (strcmp(in->uses[i].image_id, ami) == 0)
      return in->uses[i].why;
  return NULL;
}

/* A digest with an AMI on the way here (a bake, a copy): the source of
 * that copy is kept wherever it is. */
static bool on_the_way(const struct kiln_gc_inputs *in, const char *digest)
{
  for (size_t i = 0; i < in->n_images; i++)
    if (strcmp(in->images[i].digest, digest) == 0 &&
        strcmp(in->images[i].state, "pending") == 0)
      return true;
  return false;
}

static const char *judge_image(const struct planner *pl,
                               const struct kiln_gc_image *im,
                               const struct kiln_gc_app *a, bool *del)
{
  const struct kiln_gc_inputs *in = pl->in;
  struct kiln_arena *arena = pl->a;
  int64_t min_age = a->retention.min_age_days * DAY_S;
  const char *use;

  *del = false;
  if (strcmp(im->state, "available") != 0 && strcmp(im->state, "failed") != 0)
    return "a bake or copy in flight";
  if ((use = use_of(in, im->image_id)) != NULL)
    return use;
  if (a->busy)
    return "its app has a refresh or rollback in flight";
  if (on_the_way(in, im->digest))
    return "source of a copy";
  if (a->removed) {
    if (in->now_s - a->removed_at_s < min_age)
      return kiln_arena_printf(arena, "its app was removed from git less than "
                                      "%lld days ago",
                               (long long)a->retention.min_age_days);
    *del = true;
    return "its app was removed from git";
  }
  if (strcmp(im->state, "available") == 0 && recent(pl, a, im->digest))
    return releases_phrase(arena, "within the last", a);
  if (im->created_s == 0 || in->now_s - im->created_s < min_age)
    return kiln_arena_printf(arena, "younger than %lld days",
                             (long long)a->retention.min_age_days);
  *del = true;
  return strcmp(im->state, "failed") == 0
             ? "a failed copy"
             : releases_phrase(arena, "not among the last", a);
}

static bool digest_kept(const struct kiln_gc_plan *p, const char *digest)
{
  for (size_t i = 0; i < p->n_images; i++)
    if (!p->images[i].delete &&
        strcmp(p->images[i].image->digest, digest) == 0)
      return true;
  return false;
}

static const char *judge_version(const struct planner *pl,
                                 const struct kiln_gc_plan *p,
                                 const struct kiln_gc_version *v, bool *del)
{
  const struct kiln_gc_inputs *in = pl->in;
  const struct kiln_gc_app *a = app_of(in, v->app);
  *del = false;
  if (v->is_default)
    return "its template's default";
  if (v->image_id != NULL && use_of(in, v->image_id) != NULL &&
      strncmp(use_of(in, v->image_id), "in use by group", 15) == 0)
    return use_of(in, v->image_id);
  if (v->commit == NULL || v->digest == NULL || a == NULL)
    return "not made by Kiln";
  if (a->busy)
    return "its app has a refresh or rollback in flight";
  if (digest_kept(p, v->digest))
    return "its image is kept";
  if (recent(pl, a, v->digest))
    return releases_phrase(pl->a, "within the last", a);
  *del = true;
  return "its image is not kept";
}

/* Is a kept AMI's digest of app at this Image Builder version? */
static bool version_kept(const struct kiln_gc_plan *p, const char *app,
                         const char *version)
{
  char v[32];
  for (size_t i = 0; i < p->n_images; i++) {
    const struct kiln_gc_image *im = p->images[i].image;
    if (p->images[i].delete || strcmp(im->app, app) != 0)
      continue;
    kiln_naming_version(im->digest, v);
    if (strcmp(v, version) == 0)
      return true;
  }
  return false;
}

/* Is version the Image Builder version of one of app a's last releases? */
static bool version_recent(const struct planner *pl,
                           const struct kiln_gc_app *a, const char *version)
{
  size_t i = (size_t)(a - pl->in->apps);
  char v[32];
  for (size_t k = 0; k < pl->n_recent[i]; k++) {
    kiln_naming_version(pl->recent[i][k], v);
    if (strcmp(v, version) == 0)
      return true;
  }
  return false;
}

static const char *judge_recipe(const struct planner *pl,
                                const struct kiln_gc_plan *p,
                                const struct kiln_gc_recipe *r, bool *del)
{
  const struct kiln_gc_inputs *in = pl->in;
  struct kiln_arena *arena = pl->a;
  const struct kiln_gc_app *a = app_of(in, r->app);
  *del = false;
  if (a == NULL || r->version == NULL)
    return "not an app of this repository";
  if (a->busy)
    return "its app has a refresh or rollback in flight";
  if (version_kept(p, r->app, r->version))
    return "its image is kept";
  if (version_recent(pl, a, r->version))
    return releases_phrase(arena, "within the last", a);
  if (r->created_s == 0 ||
      in->now_s - r->created_s < a->retention.min_age_days * DAY_S)
    return kiln_arena_printf(arena, "younger than %lld days",
                             (long long)a->retention.min_age_days);
  *del = true;
  return "its image is not kept";
}

int kiln_gc_plan(const struct kiln_gc_inputs *in, struct kiln_arena *arena,
                 struct kiln_gc_plan *out)
{
  struct planner pl = {
      .in = in,
      .a = arena,
      .recent = kiln_arena_alloc(arena, (in->n_apps + 1) * sizeof(char **)),
      .n_recent = kiln_arena_alloc(arena, (in->n_apps + 1) * sizeof(size_t))};
  int err = 0;

  memset(out, 0, sizeof(*out));
  if (pl.recent == NULL || pl.n_recent == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < in->n_apps && err == 0; i++)
    err = last_releases(in, &in->apps[i], arena, &pl.recent[i], &pl.n_recent[i]);
  out->images = kiln_arena_alloc(arena, (in->n_images + 1) * sizeof(*out->images));
  out->versions =
      kiln_arena_alloc(arena, (in->n_versions + 1) * sizeof(*out->versions));
  out->recipes =
      kiln_arena_alloc(arena, (in->n_recipes + 1) * sizeof(*out->recipes));
  if (out->images == NULL || out->versions == NULL || out->recipes == NULL)
    return KILN_ENOMEM;
  for (size_t i = 0; i < in->n_images && err == 0; i++) {
    const struct kiln_gc_image *im = &in->images[i];
    const struct kiln_gc_app *a = app_of(in, im->app);
    struct kiln_gc_image_verdict *v;
    if (a == NULL || im->digest == NULL)
      continue; /* another repository's, or not Kiln's: never touched */
    v = &out->images[out->n_images++];
    v->image = im;
    for (size_t s = 0; s < im->n_snapshots; s++)
      v->gib += im->snapshot_gib != NULL ? im->snapshot_gib[s] : 0;
    v->why = judge_image(&pl, im, a, &v->delete);
    if (v->why == NULL)
      err = KILN_ENOMEM;
    if (v->delete)
      out->freed_gib += v->gib;
  }
  for (size_t i = 0; i < in->n_versions && err == 0; i++) {
    struct kiln_gc_version_verdict *v = &out->versions[out->n_versions++];
    v->version = &in->versions[i];
    v->why = judge_version(&pl, out, v->version, &v->delete);
    if (v->why == NULL)
      err = KILN_ENOMEM;
  }
  for (size_t i = 0; i < in->n_recipes && err == 0; i++) {
    struct kiln_gc_recipe_verdict *v = &out->recipes[out->n_recipes++];
    v->recipe = &in->recipes[i];
    v->why = judge_recipe(&pl, out, v->recipe, &v->delete);
    if (v->why == NULL)
      err = KILN_ENOMEM;
  }
  return err;
}
