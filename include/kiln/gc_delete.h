/* Carries out a collection's deletions in one location, crash-safe and
 * idempotent: the snapshots an earlier collection marked and left behind
 * (their AMI gone) go first; then each AMI to delete: its snapshots are
 * marked (KILN_GC_SNAPSHOT_TAG), the AMI deregistered, the snapshots
 * deleted; then the launch template versions, 200 a call; then each
 * Image Builder recipe version to delete: its image build versions (a
 * build in flight keeps the recipe), the recipe, and the components of
 * this account it named that no other recipe uses (AWS refuses the others).
 * Something AWS says is gone already counts as deleted. One failure is
 * that item's outcome; the others go on.
 *
 * Runs on the loop; the callback runs once, never before
 * kiln_gc_delete_start() returns.
 */
#ifndef KILN_GC_DELETE_H
#define KILN_GC_DELETE_H

#include "kiln/ec2.h"
#include "kiln/gc.h"
#include "kiln/imagebuilder.h"

struct kiln_gc_delete;
typedef void kiln_gc_delete_cb(struct kiln_gc_delete *d, void *data);

struct kiln_gc_delete {
  struct kiln_aws_client *client;
  const struct kiln_gc_plan *plan;
  struct kiln_arena *a;
  kiln_gc_delete_cb *cb;
  void *data;
  /* Outcomes: NULL when deleted (or not to delete), else why not. */
  const char **image_errors;   /* per plan->images */
  const char **version_errors; /* per plan->versions */
  const char **recipe_errors;  /* per plan->recipes */
  size_t builds_deleted, components_deleted;
  size_t orphans_deleted;      /* marked snapshots finished */
  const char *orphan_error;    /* the last one that could not be */
  /* internal */
  const char **orphans;
  size_t n_orphans;
  enum {
    KILN_GC_ORPHANS,
    KILN_GC_IMAGES,
    KILN_GC_VERSIONS,
    KILN_GC_RECIPES,
    KILN_GC_DONE
  } phase;
  struct kiln_ib_builds builds;
  struct kiln_ib_recipe recipe;
  size_t step, sub;
  struct kiln_ec2_deleted_versions deleted;
  size_t batch_from, batch_to;
  bool starting;
};

/* marked: the snapshots tagged KILN_GC_SNAPSHOT_TAG; images: every AMI of
 * the location (any state), to tell which marks are left behind. Returns 0
 * (cb will run), KILN_ENOENT (finished without a call to wait for: nothing
 * to delete, or no call could start; the outcomes are set and cb will not
 * run) or KILN_ENOMEM. */
int kiln_gc_delete_start(struct kiln_gc_delete *d,
                         struct kiln_aws_client *client,
                         const struct kiln_gc_plan *plan,
                         const struct kiln_ec2_snapshots *marked,
                         const struct kiln_ec2_images *images,
                         struct kiln_arena *arena, kiln_gc_delete_cb *cb,
                         void *data);

#endif
