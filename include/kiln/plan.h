/* The planner: a pure function of (desired spec, observed state, the spec
 * at the commit Kiln last applied) to drift and the next action of an app.
 *
 * No I/O, no clock, no randomness: the same inputs always give the same
 * plan, so every branch is unit-tested with tables. One mutating action per
 * plan; executors make each one idempotent. A pass may plan an app again
 * on the observation as a step's answer changed it (kiln/pass.h).
 */
#ifndef KILN_PLAN_H
#define KILN_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "kiln/observed.h"
#include "kiln/release.h"
#include "kiln/spec.h"

struct kiln_arena;

enum kiln_app_status {
  KILN_STATUS_IN_SYNC,
  KILN_STATUS_PENDING,     /* git changed; the change is not applied yet */
  KILN_STATUS_DRIFTED,     /* AWS changed outside git, or drift: report */
  KILN_STATUS_PROGRESSING, /* a bake, a cancel or a rollback is under way */
  KILN_STATUS_ERROR,       /* invalid spec, failed release, unresolvable */
  KILN_STATUS_SUSPENDED,   /* suspend: true */
  /* The release of the version git wants (kiln/release.h): */
  KILN_STATUS_ROLLING_OUT, /* its instance refresh is under way */
  KILN_STATUS_BAKING,      /* every instance replaced; alarms watched */
  KILN_STATUS_FAILED,      /* its bake or its refresh failed; the previous
                              release serves; not retried until git changes */
  KILN_STATUS_DEGRADED,    /* AWS's rollback of it failed: needs a person */
  KILN_STATUS_WAITING,     /* its promotion gate is closed (kiln/promote.h) */
};
#define KILN_STATUS_COUNT (KILN_STATUS_WAITING + 1)

enum kiln_drift_cause {
  KILN_CAUSE_COMMIT,      /* git changed and is not applied yet */
  KILN_CAUSE_OUT_OF_BAND, /* AWS changed after Kiln applied git */
};

struct kiln_drift {
  const char *field; /* "launchTemplate.instanceType", "autoscaling.max" */
  const char *desired;
  const char *actual; /* "(missing)" when the resource does not exist */
  enum kiln_drift_cause cause;
};

enum kiln_action_type {
  KILN_ACTION_NONE,
  KILN_ACTION_BAKE,           /* bake the image for digest */
  KILN_ACTION_WAIT_BAKE,      /* follow the bake (not a mutation) */
  KILN_ACTION_TAG_IMAGE,      /* tag the baked AMI with kiln:* tags */
  KILN_ACTION_LT_CREATE,      /* create the launch template */
  KILN_ACTION_LT_SET_DEFAULT, /* find or create the version; make default */
  KILN_ACTION_ASG_CREATE,     /* create the group on lt_version */
  KILN_ACTION_ASG_UPDATE,     /* capacity and/or launch template version */
  KILN_ACTION_REFRESH_START,  /* instance refresh to lt_version */
  KILN_ACTION_REFRESH_CANCEL, /* cancel a refresh for an older state */
  KILN_ACTION_WAIT_REFRESH,   /* follow the refresh (not a mutation) */
  KILN_ACTION_TAG_GROUP,      /* record lt_version as the group's kiln:version
                                 (bookkeeping: the app is in sync) */
  KILN_ACTION_GROUP_TAGS,     /* set the group's tags from git (the plan's
                                 group_tags), and kiln:commit */
  KILN_ACTION_LT_TAGS,        /* set the launch template resource's tags
                                 from git (the plan's lt_tags) */
  KILN_ACTION_COPY_IMAGE,     /* copy the home's AMI here (sharing it with
                                 this account first when it is another) */
};

/* Failed copies of one image to one location before Kiln stops trying. */
#define KILN_COPY_ATTEMPTS 3

struct kiln_action {
  enum kiln_action_type type;
  const char *digest;                 /* BAKE, TAG_IMAGE */
  const char *ami_id;                 /* TAG_IMAGE, LT_* */
  const struct kiln_lt_data *lt_data; /* LT_CREATE, LT_SET_DEFAULT */
  int64_t lt_version;     /* ASG_CREATE, ASG_UPDATE, REFRESH_START */
  bool set_capacity;      /* ASG_UPDATE: min, max (and desired) */
  bool set_lt_version;    /* ASG_UPDATE: the group's launch template version */
  bool set_subnets;       /* ASG_UPDATE: the group's subnets */
  bool set_health;        /* ASG_UPDATE: health check type and grace */
  bool set_target_groups; /* ASG_UPDATE: attach and detach to match */
  const char *refresh_id; /* REFRESH_CANCEL, WAIT_REFRESH */
  /* BAKE: the AMI of an earlier bake of the same digest that was deleted
   * outside Kiln; it makes the bake's client token new. */
  const char *rebake_of;
  /* COPY_IMAGE: the home's AMI, its region and snapshots; the account to
   * share them with first (NULL: the home's own account); the failed
   * copies so far (each attempt is a new copy). */
  const char *source_ami;
  const char *source_region;
  const char *const *source_snapshots;
  size_t n_source_snapshots;
  const char *share_with;
  size_t copy_attempt;
  const char *reason; /* one sentence for people */
};

/* What to do with the tags Kiln manages on one resource: git's tags, and
 * those Kiln set from git at the commit it last applied. kiln:* tags are
 * Kiln's bookkeeping and tags Kiln never set belong to someone else; both
 * are left out. */
struct kiln_tag_plan {
  struct kiln_tags desired; /* git's tags */
  struct kiln_tags actual;  /* the managed keys as AWS has them */
  struct kiln_tags set;     /* missing or changed: create or update */
  struct kiln_strs remove;  /* Kiln's, removed from git, unchanged: delete */
  /* Kiln's tags removed from git that were changed by hand since: Kiln can
   * no longer tell they are its own, so they are reported, never deleted.
   * The next kiln:commit Kiln records forgets them. */
  struct kiln_strs left;
  bool drift;       /* desired and actual differ */
  bool out_of_band; /* some difference is not git's doing */
};

struct kiln_plan {
  const char *app;         /* the target: "hello", or "hello/prod" */
  const char *app_name;    /* its app: "hello" */
  const char *environment; /* its environment, or NULL */
  const char *version;     /* the version git wants (NULL: invalid spec) */
  /* The AMI git's image is (NULL: not baked or copied yet), and the AMI
   * its launch template's default names now (NULL: no template). */
  const char *ami;
  const char *running_ami;
  enum kiln_app_status status;
  char digest[65];  /* desired image digest; "" when it cannot be known */
  bool bake_needed; /* no AMI for the digest yet (cache miss) */
  struct kiln_drift *drift;
  size_t n_drift;
  struct kiln_action action;
  bool mutates;        /* the action changes AWS */
  /* waiting: the gate opens by itself (a soak running, the source
   * environment still releasing), or not until git or the source changes
   * (blocked). */
  bool blocked;
  const char *message; /* why the status is what it is */
  /* The group's tags from git: every step that records kiln:commit on the
   * group writes them with it, so a group's kiln:commit always names the
   * commit whose tags it carries. */
  struct kiln_tag_plan group_tags;
  /* The launch template resource's tags from git (kiln.yaml's tags). */
  struct kiln_tag_plan lt_tags;
  /* The release of the version git wants, as AWS shows it
   * (kiln/release.h). */
  struct kiln_release release;
};

/* Plans one app. prev is the same app's spec at the commit Kiln last
 * applied (NULL when unknown); it tells commit drift from out-of-band
 * drift. commit is the desired commit id. Everything the plan points to is
 * allocated in arena or borrowed from the inputs. Returns 0 or
 * KILN_ENOMEM. */
int kiln_plan_app(const struct kiln_app_spec *spec, const char *commit,
                  const struct kiln_observed_app *obs,
                  const struct kiln_app_spec *prev, struct kiln_arena *arena,
                  struct kiln_plan *out);

/* The launch template data the spec asks for, with image_id. Returns 0 or
 * KILN_ENOMEM. */
int kiln_plan_lt_data(const struct kiln_app_spec *spec, const char *image_id,
                      struct kiln_arena *arena, struct kiln_lt_data *out);

/* Appends to *drift one entry per managed field where a and b differ
 * (a desired, b actual). Returns 0 or KILN_ENOMEM. */
int kiln_plan_lt_diff(const struct kiln_lt_data *a,
                      const struct kiln_lt_data *b, enum kiln_drift_cause cause,
                      struct kiln_arena *arena, struct kiln_drift **drift,
                      size_t *n);

/* Is d's field a tag map ("launchTemplate.tags", "autoscaling.tags",
 * "launchTemplate.templateTags")? Its
 * desired and actual values are then JSON objects (kiln_tags_json). */
bool kiln_plan_drift_is_tags(const struct kiln_drift *d);

/* Whether a and b hold the same members, as many times each, in any
 * order: what kiln_plan_set_text() would show alike, without writing it. */
bool kiln_plan_same_set(const struct kiln_strs *a, const struct kiln_strs *b);

/* A set of AWS ids (no commas) as its sorted, comma-joined members;
 * "(none)" when empty. NULL on ENOMEM. */
const char *kiln_plan_set_text(struct kiln_arena *arena,
                               const struct kiln_strs *s);

/* Tag maps. A map's keys are unique; its order does not matter. */

/* Do a and b hold the same keys with the same values? Values are compared
 * whole: {A: "1,B=2"} is not {A: "1", B: "2"}. */
bool kiln_tags_equal(const struct kiln_tags *a, const struct kiln_tags *b);

/* The value of key in t, or NULL. */
const char *kiln_tags_get(const struct kiln_tags *t, const char *key);

/* t as a JSON object with sorted keys ({"A":"1,B=2"}; "{}" when empty):
 * unambiguous whatever keys and values hold. NULL on ENOMEM. */
const char *kiln_tags_json(struct kiln_arena *arena, const struct kiln_tags *t);

/* Plans the tags Kiln manages on a resource. want: git's tags (no kiln:*
 * keys); have: every tag the resource carries; was: git's tags at the
 * commit Kiln last applied to it, NULL when unknown (a tag missing from
 * git is then never Kiln's to delete, and differences are blamed on git).
 * Without drift every list of out is left empty and nothing is allocated.
 * Returns 0 or KILN_ENOMEM. */
int kiln_plan_tags(const struct kiln_tags *want, const struct kiln_tags *have,
                   const struct kiln_tags *was, struct kiln_arena *arena,
                   struct kiln_tag_plan *out);

const char *kiln_plan_status_name(enum kiln_app_status s);
const char *kiln_plan_action_name(enum kiln_action_type t);
const char *kiln_plan_cause_name(enum kiln_drift_cause c);

#endif
