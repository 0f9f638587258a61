/* What garbage collection needs to know of one location (region and
 * account), gathered from AWS: the observation of the repository's targets
 * there (kiln/observe.h), every version of their launch templates, the
 * instances that run Kiln's AMIs, and the snapshots an earlier collection
 * marked and left behind, and where images are baked, Image Builder's
 * recipes of each app. Then the pure planner's inputs (kiln/gc.h).
 *
 * Runs on the loop; the callback runs once, never before
 * kiln_gc_look_start() returns.
 */
#ifndef KILN_GC_LOOK_H
#define KILN_GC_LOOK_H

#include "kiln/ec2.h"
#include "kiln/gc.h"
#include "kiln/imagebuilder.h"
#include "kiln/observe.h"

/* The tag that marks a snapshot whose AMI a collection deregisters: set
 * before the deregistration, so that a snapshot left behind by a crash is
 * found and deleted by the next collection. */
#define KILN_GC_SNAPSHOT_TAG "kiln:gc-of"

struct kiln_gc_look {
  struct kiln_aws_client *client;
  const char *region;
  const char *role_arn;
  const struct kiln_spec_repo *repo;
  struct kiln_arena *a;
  int err;
  const char *why; /* err: what could not be looked at */
  struct kiln_observation *obs;
  /* Every version of each target's template (repo order; empty: none). */
  struct kiln_ec2_launch_template_versions *versions;
  struct kiln_ec2_instances *instances; /* per chunk of AMIs */
  size_t n_instance_chunks;
  struct kiln_ec2_snapshots marked; /* snapshots tagged KILN_GC_SNAPSHOT_TAG */
  /* Image Builder recipe versions kiln-<app>, per app baked here (at the
   * repo index of the target that bakes it; empty elsewhere). */
  struct kiln_ib_summaries *recipes;
  /* internal */
  int pending;
  void (*cb)(struct kiln_gc_look *, void *);
  void *data;
};

typedef void kiln_gc_look_cb(struct kiln_gc_look *look, void *data);

/* Looks at the location of client (region, and role_arn's account or
 * Kiln's own) for repo's targets there. Returns 0 (cb will run) or
 * KILN_ENOMEM. */
int kiln_gc_look_start(struct kiln_gc_look *look, struct kiln_aws_client *client,
                       const char *role_arn, const struct kiln_spec_repo *repo,
                       struct kiln_arena *arena, kiln_gc_look_cb *cb,
                       void *data);

/* The planner's images, versions and uses from a look (arena). busy[] and
 * the apps' other fields are the caller's; busy apps are those with a
 * refresh in flight here (kiln_gc_look_busy()). Returns 0 or KILN_ENOMEM. */
int kiln_gc_look_inputs(const struct kiln_gc_look *look,
                        struct kiln_arena *arena, struct kiln_gc_inputs *in);

/* Has app (by name) a group here with a refresh or rollback in flight? */
bool kiln_gc_look_busy(const struct kiln_gc_look *look, const char *app);

#endif
