/* Image garbage collection: which of Kiln's AMIs (and their snapshots) and
 * launch template versions in one location (region, account) go, and why
 * every other one stays. Pure: the caller gathers the inputs (kiln/gc_look.h)
 * and carries out the deletions.
 *
 * Kept, whatever the retention: an AMI a group's launch template version
 * names, that an instance runs, or that a Kiln template's default names;
 * every AMI of an app whose group has a refresh or rollback in flight; an
 * AMI not yet available (a bake or copy in flight) and every AMI of its
 * digest (the source of that copy); an AMI whose kiln:app is no app of
 * this repository's history; an app removed from git keeps its images for
 * minAgeDays after the commit that removed it. Otherwise an AMI stays
 * while its digest is one of its app's last `releases` distinct digests
 * (the launch template versions Kiln made, ordered by the first-parent
 * history of the branch) or it is younger than minAgeDays.
 *
 * A launch template version goes when Kiln made it, it is not its
 * template's default, no group names it, and its digest is not kept.
 *
 * An Image Builder recipe version Kiln made (kiln-<app>, the version of a
 * digest) goes, with its image build versions and the components only it
 * used, when no kept AMI of the app has its version, it is not among the
 * app's last releases, and it is older than minAgeDays.
 */
#ifndef KILN_GC_H
#define KILN_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/spec.h"

struct kiln_arena;

struct kiln_gc_image {
  const char *image_id;
  const char *app;    /* kiln:app */
  const char *digest; /* kiln:digest */
  const char *state;  /* "available", "pending", "failed", ... */
  int64_t created_s;  /* 0: not known (counts as new) */
  const char *const *snapshots;
  const int64_t *snapshot_gib;
  size_t n_snapshots;
};

struct kiln_gc_version {
  const char *template_id;
  const char *template_name;
  const char *app; /* the app of the target whose template it is */
  int64_t version;
  bool is_default;
  const char *commit; /* from Kiln's description; NULL: not Kiln's */
  const char *digest;
  const char *image_id;
};

/* An Image Builder recipe version of an app: "kiln-hello", "1.2.3". */
struct kiln_gc_recipe {
  const char *arn;
  const char *app;
  const char *version;
  int64_t created_s; /* 0: not known (counts as new) */
};

/* An AMI something uses: "in use by group hello-prod". */
struct kiln_gc_use {
  const char *image_id;
  const char *why;
};

/* What the repository says of an app (by kiln:app). */
struct kiln_gc_app {
  const char *name;
  struct kiln_retention_spec retention;
  bool busy;           /* a refresh or rollback in flight in a group */
  bool removed;        /* not at the commit, but in its history */
  int64_t removed_at_s; /* the commit that removed it */
};

struct kiln_gc_inputs {
  const char *region;
  const char *role_arn; /* NULL: Kiln's own account */
  int64_t now_s;
  const struct kiln_gc_image *images;
  size_t n_images;
  const struct kiln_gc_version *versions;
  size_t n_versions;
  const struct kiln_gc_use *uses;
  size_t n_uses;
  const struct kiln_gc_app *apps; /* apps of this repository (and history) */
  size_t n_apps;
  /* The first-parent history of the branch, newest first (commit ids);
   * releases are ordered by it. */
  const char *const *history;
  size_t n_history;
  /* Digests released elsewhere too (other locations' versions), so every
   * location counts the same releases: (app, commit, digest) triples. */
  const struct kiln_gc_version *other_versions;
  size_t n_other_versions;
  const struct kiln_gc_recipe *recipes; /* Kiln's, where images are baked */
  size_t n_recipes;
};

struct kiln_gc_image_verdict {
  const struct kiln_gc_image *image;
  bool delete;
  const char *why; /* "within the last 5 releases", "in use by group x" */
  int64_t gib;     /* snapshot storage it holds */
};

struct kiln_gc_version_verdict {
  const struct kiln_gc_version *version;
  bool delete;
  const char *why;
};

struct kiln_gc_recipe_verdict {
  const struct kiln_gc_recipe *recipe;
  bool delete;
  const char *why;
};

struct kiln_gc_plan {
  struct kiln_gc_image_verdict *images; /* Kiln's AMIs of this repo's apps */
  size_t n_images;
  struct kiln_gc_version_verdict *versions;
  size_t n_versions;
  struct kiln_gc_recipe_verdict *recipes;
  size_t n_recipes;
  int64_t freed_gib; /* by the deletions */
};

/* Decides, in arena. Returns 0 or KILN_ENOMEM. */
int kiln_gc_plan(const struct kiln_gc_inputs *in, struct kiln_arena *arena,
                 struct kiln_gc_plan *out);

/* The standard EBS snapshot price (USD per GB-month, us-east-1), for the
 * report's estimate. */
#define KILN_GC_SNAPSHOT_USD_PER_GB_MONTH 0.05

#endif
