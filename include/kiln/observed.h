/* What Kiln observed in AWS for one app: its own model, independent of the
 * AWS client's wire structs. The observe step fills it from batched
 * Describe/List calls; the planner reads it and nothing else. Strings are
 * borrowed from whoever owns the observation (usually a per-pass arena).
 */
#ifndef KILN_OBSERVED_H
#define KILN_OBSERVED_H

#include <stdbool.h>
#include <stdint.h>

#include "kiln/spec.h"

/* The launch template data Kiln manages, for desired and observed alike. */
struct kiln_lt_bdev {
  const char *device;
  int64_t size_gib;
  const char *type;
  bool encrypted;
  bool delete_on_termination;
  int64_t iops;       /* 0: unset */
  int64_t throughput; /* 0: unset */
};

struct kiln_lt_data {
  const char *image_id;
  const char *instance_type;
  const char *user_data_b64; /* base64 as AWS stores it; NULL: none */
  struct kiln_strs security_groups;
  const char *instance_profile; /* name or ARN; NULL: none */
  struct kiln_lt_bdev *bdevs;
  size_t n_bdevs;
  const char *http_tokens;   /* "required" / "optional"; NULL: AWS default */
  const char *http_endpoint; /* "enabled" / "disabled"; NULL: AWS default */
  int64_t http_hop_limit;    /* 0: AWS default */
  struct kiln_tags instance_tags;
};

enum kiln_bake_state {
  KILN_BAKE_NONE,    /* no bake known for the digest */
  KILN_BAKE_RUNNING, /* pending, creating, building, testing, distributing */
  KILN_BAKE_DONE,    /* available; ami_id set */
  KILN_BAKE_FAILED,  /* failed or cancelled; reason set */
};

enum kiln_refresh_state {
  KILN_REFRESH_NONE,
  KILN_REFRESH_RUNNING,      /* Pending, InProgress, Baking */
  KILN_REFRESH_CANCELLING,   /* Cancelling */
  KILN_REFRESH_ROLLING_BACK, /* RollbackInProgress */
  KILN_REFRESH_SUCCEEDED,    /* Successful */
  KILN_REFRESH_FAILED,       /* Failed, RollbackSuccessful, RollbackFailed */
  KILN_REFRESH_CANCELLED,    /* Cancelled */
};

struct kiln_observed_app {
  /* The parent AMI: for ssm: parents, the parameter's value; NULL with
   * parent_error set when it could not be resolved. */
  const char *parent_ami;
  const char *parent_error;

  /* The AMI tagged kiln:digest=<digest of the desired image>, or NULL. */
  const char *image_ami;
  bool image_pending; /* tagged AMI exists but is not yet available */
  const char *const *image_snapshots; /* its snapshots, once available */
  size_t image_n_snapshots;
  /* Copies of it that failed here, and the latest one's reason. */
  size_t image_failed;
  const char *image_failed_reason;

  /* The image is baked in another region or account (its home): the
   * parent and digest above are the home's, and this location gets a copy
   * of the home's AMI. */
  bool image_elsewhere;
  const char *home_region;
  const char *home_ami; /* the home's AMI for the digest, or NULL */
  bool home_pending;
  enum kiln_bake_state home_bake;
  const char *home_bake_reason;
  const char *const *home_snapshots;
  size_t home_n_snapshots;
  const char *home_baker; /* the target that bakes it: "hello/staging" */
  const char *home_error; /* the home could not be observed: why */

  /* The Image Builder bake for that digest, if any. */
  enum kiln_bake_state bake;
  const char *bake_arn;
  const char *bake_ami; /* output AMI once DONE */
  const char *bake_reason;

  /* The launch template named by the spec. */
  bool lt_exists;
  const char *lt_id;
  int64_t lt_default_version;
  int64_t lt_latest_version;
  struct kiln_lt_data lt_default; /* data of the $Default version */
  const char *lt_default_commit;  /* commit named by a Kiln-made default
                                     version's description; NULL when the
                                     default version was not made by Kiln */
  const char *lt_default_digest;  /* image digest named there, or NULL */
  int64_t lt_default_created_s;   /* when that version was made; 0: ? */
  struct kiln_tags lt_tags;       /* the template resource's own tags */
  int64_t lt_kiln_version;        /* the template's kiln:version tag: the
                                     default Kiln last set; 0: unknown */

  /* The Auto Scaling group named by the spec. */
  bool asg_exists;
  int64_t asg_min;
  int64_t asg_max;
  int64_t asg_desired;
  const char *asg_lt_id;
  const char *asg_lt_version;   /* as the group names it: "5", "$Default"... */
  struct kiln_strs asg_subnets; /* its VPCZoneIdentifier, split */
  struct kiln_tags asg_tags;    /* every tag of the group, kiln:* included */
  struct kiln_strs asg_target_groups; /* TargetGroupARNs */
  const char *asg_health_check_type;  /* "EC2", "ELB"; NULL: not said */
  int64_t asg_grace_seconds;          /* HealthCheckGracePeriod */
  size_t asg_instances;               /* in service or pending */
  size_t asg_instances_stale; /* not on the template's default version */
  /* The launch template version of each of those instances (NULL: none). */
  const char **asg_instance_versions;
  const char *asg_commit;   /* the group's kiln:commit tag, or NULL */
  int64_t asg_kiln_version; /* its kiln:version tag: the template version
                               Kiln last sent it to; 0: unknown */

  /* The most recent instance refresh of the group. */
  enum kiln_refresh_state refresh;
  const char *refresh_id;
  int64_t refresh_version; /* launch template version it rolls out; 0: ? */
  int64_t refresh_percent;
  const char *refresh_reason;
  const char *refresh_status; /* as AWS says it: "Baking", "RollbackFailed" */
  /* When it started, ended and began rolling back, in seconds since the
   * epoch (0: AWS did not say). */
  int64_t refresh_start_s;
  int64_t refresh_end_s;
  int64_t refresh_rollback_start_s;
  /* Its preferences as AWS reports them (-1: not set). */
  int64_t refresh_warmup_s;
  int64_t refresh_checkpoint_delay_s;
  int64_t refresh_bake_time_s;
  const int64_t *refresh_checkpoints; /* CheckpointPercentages, ascending */
  size_t refresh_n_checkpoints;

  /* The group's scaling activities since that refresh started, looked up
   * only when they tell something the refresh does not
   * (kiln_observed_needs_activities). */
  int64_t last_launch_s; /* end of the latest successful launch; 0: none */
  size_t failed_launches;
  const char *failed_launch_message; /* the latest failed launch's reason */
};

/* Pure functions of the model. */

/* The group's instances that are not on the template's default version
 * (all of them when there is no template). */
size_t kiln_observed_stale_instances(const struct kiln_observed_app *a);

/* Must the group's latest instance refresh be looked up? Only a group
 * whose instances or version are not where its launch template says, or
 * that Kiln last sent to another version than the default (a refresh no
 * instance shows yet, as when a release is reverted at once), can be in
 * the middle of a release. */
bool kiln_observed_needs_refresh_look(const struct kiln_observed_app *a);

/* Does the group's latest refresh have this status, as AWS says it
 * ("Baking", "RollbackFailed")? */
bool kiln_observed_refresh_is(const struct kiln_observed_app *a,
                              const char *status);

/* Must the group's scaling activities be looked up? Only while its latest
 * refresh waits at a checkpoint or bakes (the activities date the last
 * launch, from which AWS counts the delay) or once it failed (they hold
 * AWS's reason a launch failed). */
bool kiln_observed_needs_activities(const struct kiln_observed_app *a);

/* The bake state of an Image Builder image state ("BUILDING",
 * "AVAILABLE"...). Only the states AWS documents as on the way to an image
 * are running; every other one (FAILED, CANCELLED, DISABLED, DELETED,
 * DEPRECATED, and any state AWS adds later) ends the bake, so no state
 * can leave a release waiting forever. */
enum kiln_bake_state kiln_observed_bake_state(const char *image_status);

/* a, once AWS answered that a step made version of launch template lt_id,
 * holding data, its default for commit and image digest: what the next
 * pass would observe, told by AWS's own answer instead of a new look. */
void kiln_observed_lt_made_default(struct kiln_observed_app *a,
                                   const char *lt_id, int64_t version,
                                   const struct kiln_lt_data *data,
                                   const char *commit, const char *digest);

#endif
