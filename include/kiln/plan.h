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
#include "kiln/spec.h"

struct kiln_arena;

enum kiln_app_status {
  KILN_STATUS_IN_SYNC,
  KILN_STATUS_PENDING,     /* git changed; the change is not applied yet */
  KILN_STATUS_DRIFTED,     /* AWS changed outside git, or drift: report */
  KILN_STATUS_PROGRESSING, /* a bake or a refresh is under way */
  KILN_STATUS_ERROR,       /* invalid spec, failed release, unresolvable */
  KILN_STATUS_SUSPENDED,   /* suspend: true */
};

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
};

struct kiln_action {
  enum kiln_action_type type;
  const char *digest;                 /* BAKE, TAG_IMAGE */
  const char *ami_id;                 /* TAG_IMAGE, LT_* */
  const struct kiln_lt_data *lt_data; /* LT_CREATE, LT_SET_DEFAULT */
  int64_t lt_version;     /* ASG_CREATE, ASG_UPDATE, REFRESH_START */
  bool set_capacity;      /* ASG_UPDATE: min, max (and desired) */
  bool set_lt_version;    /* ASG_UPDATE: the group's launch template version */
  const char *refresh_id; /* REFRESH_CANCEL, WAIT_REFRESH */
  /* BAKE: the AMI of an earlier bake of the same digest that was deleted
   * outside Kiln; it makes the bake's client token new. */
  const char *rebake_of;
  const char *reason; /* one sentence for people */
};

struct kiln_plan {
  const char *app;
  enum kiln_app_status status;
  char digest[65];  /* desired image digest; "" when it cannot be known */
  bool bake_needed; /* no AMI for the digest yet (cache miss) */
  struct kiln_drift *drift;
  size_t n_drift;
  struct kiln_action action;
  bool mutates;        /* the action changes AWS */
  const char *message; /* why the status is what it is */
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

const char *kiln_plan_status_name(enum kiln_app_status s);
const char *kiln_plan_action_name(enum kiln_action_type t);
const char *kiln_plan_cause_name(enum kiln_drift_cause c);

#endif
