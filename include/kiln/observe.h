/* Observe: one batched look at AWS for every app of a snapshot in one
 * region, turned into Kiln's observed model (kiln/observed.h).
 *
 * It asks by what the desired state names, never by listing a region, so
 * its cost follows the apps observed and not the account: the AMIs of
 * past releases, anyone else's templates and images are never read.
 * Steady state, for N apps: SSM GetParameters for the distinct ssm:
 * parents (10 per call); DescribeLaunchTemplates and DescribeImages
 * filtered by the templates' names and the images' digests (200 values a
 * call, EC2's limit); DescribeAutoScalingGroups by name (100 per call);
 * and the default version of each template only when the cache has not
 * seen it (one call per template when a few are new, else one listing of
 * every template's $Default). Instance refreshes are described only for
 * groups whose instances or version are not where their launch template
 * says, or whose kiln:version tag (the version Kiln last sent them to) is
 * not its default; Image Builder is asked only about bakes Kiln knows are
 * in flight; and a group found off the version its last refresh completed
 * is described once more, since the calls of a pass are not one snapshot
 * and the refresh may have ended in between.
 *
 * Runs on the loop; the callback runs once, never before
 * kiln_observe_start() returns.
 */
#ifndef KILN_OBSERVE_H
#define KILN_OBSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/observed.h"
#include "kiln/spec.h"

struct kiln_aws_client;
struct kiln_arena;
struct kiln_ec2_launch_template_data;
struct kiln_ec2_images;
struct kiln_str_index;

/* Bakes Kiln started, by image digest: what lets a later pass follow a
 * bake in flight. Owned by the caller (the daemon or apply loop). */
struct kiln_bake_ref {
  char digest[65];
  char *arn; /* imageBuildVersionArn */
};

struct kiln_bakes {
  struct kiln_bake_ref *items;
  size_t n;
  size_t cap;
};

/* Records arn as the bake of digest (replacing an older one). */
int kiln_bakes_put(struct kiln_bakes *b, const char *digest, const char *arn);
const char *kiln_bakes_get(const struct kiln_bakes *b, const char *digest);
void kiln_bakes_cleanup(struct kiln_bakes *b);

struct kiln_observation {
  /* One per app of the snapshot, same order; apps of other regions and
   * invalid apps are left zeroed. */
  struct kiln_observed_app *apps;
  size_t n;
  /* Set when AWS could not be observed at all: a sentence with the
   * action, the AWS error code and the request id. */
  const char *error;
  /* Every Kiln AMI of the location as AWS described it, with all_images
   * (garbage collection judges them all); empty otherwise. */
  const struct kiln_ec2_images *images;
  /* Kiln's AMIs of the observed digests and copies (of every one with
   * all_images), as AWS listed them, and their places there by their
   * kiln:digest tag: kiln_observation_find_image(). */
  const struct kiln_observed_image *kiln_images;
  size_t n_kiln_images;
  const struct kiln_str_index *by_digest;
};

/* One of Kiln's AMIs as an observation keeps it. */
struct kiln_observed_image {
  const char *digest; /* its kiln:digest tag */
  const char *image_id;
  const char *state;        /* "pending", "available", "failed", ... */
  const char *state_reason; /* why it failed; NULL: AWS gave none */
  const char *const *snapshot_ids;
  size_t n_snapshots;
};

/* The AMI of digest among the observation's (available, else pending),
 * and the failed copies of it, into out: for a target whose image is baked
 * elsewhere, once the home's observation gives its digest. One lookup,
 * whatever the number of AMIs. */
void kiln_observation_find_image(const struct kiln_observation *obs,
                                 const char *digest,
                                 struct kiln_observed_app *out);

typedef void kiln_observe_cb(int err, struct kiln_observation *obs, void *data);

/* What the passes of one location keep from one to the next: the launch
 * template versions already read (kiln/lt_cache.h) and the refreshes seen
 * in flight (kiln/refresh_seen.h). Without it every pass asks AWS for
 * everything: slower, and as right. */
struct kiln_observe_memory;

/* NULL when out of memory. */
struct kiln_observe_memory *kiln_observe_memory_new(void);
void kiln_observe_memory_free(struct kiln_observe_memory *m);

struct kiln_observe_options {
  const struct kiln_bakes *bakes;     /* NULL: no bake known in flight */
  struct kiln_observe_memory *memory; /* NULL: none */
  int64_t now_s; /* the wall clock, for the memory's age; 0: no reuse */
  /* Per app of the repo, whether to look at it; NULL: every app. */
  const bool *wanted;
  /* List every Kiln AMI of the location, not only the wanted digests':
   * garbage collection judges them all. */
  bool all_images;
};

/* Observes the apps of repo in the client's location: its region, and the
 * account of role_arn (NULL: Kiln's own). What the observation keeps is
 * allocated in arena, which must outlive the callback's use of obs; AWS's
 * answers are parsed into memory of their own, a few pages at a time, and
 * freed once folded into it. opts may be NULL. Returns 0 (cb will run) or
 * KILN_ENOMEM (it will not). */
int kiln_observe_start(struct kiln_aws_client *client, const char *role_arn,
                       const struct kiln_spec_repo *repo,
                       const struct kiln_observe_options *opts,
                       struct kiln_arena *arena, kiln_observe_cb *cb,
                       void *data);

/* why: AWS's message when err is not 0, else NULL. */
typedef void kiln_observe_refresh_cb(int err, const char *why, void *data);

/* Looks up the latest instance refresh of group into app (one
 * DescribeInstanceRefreshes), for a pass that takes an app's next step
 * before its next observation. Returns 0 (cb will run) or an error. */
int kiln_observe_refresh_start(struct kiln_aws_client *client,
                               const char *group, struct kiln_arena *arena,
                               struct kiln_observed_app *app,
                               kiln_observe_refresh_cb *cb, void *data);

/* Kiln's view of a launch template version's data (for comparing it with
 * the desired data). Returns 0 or KILN_ENOMEM. */
int kiln_observe_lt_data(struct kiln_arena *arena,
                         const struct kiln_ec2_launch_template_data *d,
                         struct kiln_lt_data *out);

#endif
