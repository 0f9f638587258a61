/* The planner. Each stage (image, launch template, group) either finds its
 * resource as git wants it and hands the next stage what it needs, or stops
 * the pass with the one action that moves the app forward. See plan.h. */
#include "kiln/plan.h"
#include "kiln/arena.h"
#include "kiln/error.h"
#include "kiln/num.h"
#include "kiln/str.h"

#include <stdio.h>
#include <string.h>

struct planner {
  const struct kiln_app_spec *spec;
  const char *commit;
  const struct kiln_observed_app *obs;
  const struct kiln_app_spec *prev;
  struct kiln_arena *a;
  struct kiln_plan *out;
  bool apply; /* drift: correct and not suspended */
  bool acted;
  bool waiting;
  bool failed;
  bool release_failed; /* failed is this commit's release failing */
  int err;
};

static const char *fmt_int(struct planner *p, int64_t v)
{
  const char *s = kiln_arena_printf(p->a, "%lld", (long long)v);
  if (s == NULL)
    p->err = KILN_ENOMEM;
  return s != NULL ? s : "?";
}

static void drift(struct planner *p, const char *field, const char *desired,
                  const char *actual, enum kiln_drift_cause cause)
{
  struct kiln_plan *o = p->out;
  struct kiln_drift *grown =
      kiln_arena_alloc(p->a, (o->n_drift + 1) * sizeof(*grown));
  if (grown == NULL) {
    p->err = KILN_ENOMEM;
    return;
  }
  if (o->n_drift > 0)
    memcpy(grown, o->drift, o->n_drift * sizeof(*grown));
  grown[o->n_drift++] = (struct kiln_drift){field, desired, actual, cause};
  o->drift = grown;
}

/* Chooses the action; in report or suspend mode the action is recorded as
 * the reason only and nothing is done. */
static void act(struct planner *p, struct kiln_action action)
{
  /* The earliest stage that needs a step takes the pass; later stages only
   * add their drift to the report. */
  if (p->acted || p->failed)
    return;
  p->acted = true;
  bool mutating = action.type != KILN_ACTION_NONE &&
                  action.type != KILN_ACTION_WAIT_BAKE &&
                  action.type != KILN_ACTION_WAIT_REFRESH;
  if (mutating && !p->apply) {
    p->out->message =
        p->spec->suspend ? "suspended: would " : "drift: report: would ";
    p->out->message =
        kiln_arena_printf(p->a, "%s%s", p->out->message, action.reason);
    return;
  }
  p->out->action = action;
  p->out->mutates = mutating;
  p->waiting = !mutating && action.type != KILN_ACTION_NONE;
}

static void fail(struct planner *p, const char *message)
{
  if (p->acted || p->failed)
    return;
  p->failed = true;
  p->out->message = message != NULL ? message : "error";
}

/* The release of this commit failed (its bake or its refresh): AWS keeps
 * the previous release serving, and Kiln does not try again until git
 * changes the app. */
static void fail_release(struct planner *p, const char *message)
{
  if (p->acted || p->failed)
    return;
  fail(p, message);
  p->release_failed = true;
}

/* ---- image --------------------------------------------------------- */

/* The account of an IAM role ARN (arn:aws:iam::ACCOUNT:role/...). */
static const char *role_account(struct planner *p, const char *arn)
{
  char account[32];
  return kiln_arena_strdup(p->a,
                           kiln_arn_account(arn, account, sizeof(account)));
}

/* An image baked elsewhere: a copy of the home's AMI, taken once the home
 * has one. */
static void stage_copy(struct planner *p, const char *short_digest)
{
  const struct kiln_observed_app *o = p->obs;
  const struct kiln_app_spec *s = p->spec;
  const char *home = o->home_region != NULL ? o->home_region : "?";

  if (o->image_ami != NULL) {
    act(p, (struct kiln_action){
               .type = KILN_ACTION_WAIT_BAKE,
               .ami_id = o->image_ami,
               .reason = kiln_arena_printf(
                   p->a, "copying image %s from %s: AMI %s is not available "
                         "yet",
                   short_digest, home, o->image_ami)});
    return;
  }
  drift(p, "image.digest", short_digest, "(no AMI here)", KILN_CAUSE_COMMIT);
  if (o->image_failed >= KILN_COPY_ATTEMPTS) {
    fail_release(p, kiln_arena_printf(
                        p->a,
                        "%zu copies of image %s from %s failed here, the "
                        "latest: %s; deregister the failed AMIs to let Kiln "
                        "copy it again",
                        o->image_failed, short_digest, home,
                        o->image_failed_reason));
    return;
  }
  if (o->home_error != NULL) {
    fail(p, kiln_arena_printf(p->a, "cannot see the image's home in %s: %s",
                              home, o->home_error));
    return;
  }
  if (o->home_ami != NULL && !o->home_pending) {
    bool other_account = s->role_arn != NULL &&
                         !kiln_str_eq(s->role_arn, s->image.home_role_arn);
    act(p, (struct kiln_action){
               .type = KILN_ACTION_COPY_IMAGE,
               .digest = p->out->digest,
               .source_ami = o->home_ami,
               .source_region = home,
               .source_snapshots = o->home_snapshots,
               .n_source_snapshots = o->home_n_snapshots,
               .share_with =
                   other_account ? role_account(p, s->role_arn) : NULL,
               .copy_attempt = o->image_failed,
               .reason = kiln_arena_printf(
                   p->a, "copy image %s from %s (%s)%s%s", short_digest, home,
                   o->home_ami,
                   o->image_failed > 0 ? "; the last copy failed: " : "",
                   o->image_failed > 0 ? o->image_failed_reason : "")});
    return;
  }
  if (o->home_bake == KILN_BAKE_FAILED) {
    fail_release(p, kiln_arena_printf(
                        p->a, "bake of image %s failed in its home %s: %s",
                        short_digest, home,
                        o->home_bake_reason != NULL ? o->home_bake_reason
                                                    : "?"));
    return;
  }
  act(p, (struct kiln_action){
             .type = KILN_ACTION_WAIT_BAKE,
             .digest = p->out->digest,
             .reason = kiln_arena_printf(
                 p->a, "waiting for %s to bake image %s in %s",
                 o->home_baker != NULL ? o->home_baker : "its home",
                 short_digest, home)});
}

/* Returns the AMI to launch, or NULL when this pass stops at the image. */
static const char *stage_image(struct planner *p)
{
  const struct kiln_observed_app *o = p->obs;
  const char *short_digest = kiln_arena_printf(p->a, "%.12s", p->out->digest);

  if (o->image_ami != NULL && !o->image_pending)
    return o->image_ami;
  if (o->image_elsewhere) {
    stage_copy(p, short_digest);
    return NULL;
  }
  p->out->bake_needed = o->image_ami == NULL;
  if (o->image_ami != NULL) {
    act(p, (struct kiln_action){
               .type = KILN_ACTION_WAIT_BAKE,
               .ami_id = o->image_ami,
               .reason = kiln_arena_printf(p->a, "AMI %s is not available yet",
                                           o->image_ami)});
    return NULL;
  }
  /* The default version Kiln made for this very digest names an AMI that
   * is gone: it was deleted outside Kiln. Bake again, with a new token. */
  bool deleted = o->lt_default_digest != NULL &&
                 strcmp(o->lt_default_digest, p->out->digest) == 0;
  drift(p, "image.digest", short_digest,
        deleted
            ? kiln_arena_printf(
                  p->a, "(AMI %s deleted)",
                  o->lt_default.image_id != NULL ? o->lt_default.image_id : "?")
            : "(no AMI)",
        deleted ? KILN_CAUSE_OUT_OF_BAND : KILN_CAUSE_COMMIT);
  switch (o->bake) {
  case KILN_BAKE_RUNNING:
    act(p, (struct kiln_action){.type = KILN_ACTION_WAIT_BAKE,
                                .digest = p->out->digest,
                                .reason = kiln_arena_printf(
                                    p->a, "baking image %s", short_digest)});
    break;
  case KILN_BAKE_DONE:
    act(p, (struct kiln_action){
               .type = KILN_ACTION_TAG_IMAGE,
               .digest = p->out->digest,
               .ami_id = o->bake_ami,
               .reason = kiln_arena_printf(p->a, "tag baked AMI %s as image %s",
                                           o->bake_ami, short_digest)});
    break;
  case KILN_BAKE_FAILED:
    fail_release(p, kiln_arena_printf(
                p->a,
                "bake of image %s failed: %s; not retried until the app's "
                "image inputs change in git",
                short_digest, o->bake_reason != NULL ? o->bake_reason : "?"));
    break;
  case KILN_BAKE_NONE:
    act(p, (struct kiln_action){.type = KILN_ACTION_BAKE,
                                .digest = p->out->digest,
                                .rebake_of =
                                    deleted ? o->lt_default.image_id : NULL,
                                .reason = kiln_arena_printf(
                                    p->a, "bake image %s (%s)", short_digest,
                                    deleted ? "its AMI was deleted outside Kiln"
                                            : "no AMI has these inputs yet")});
    break;
  }
  return NULL;
}

/* ---- launch template ------------------------------------------------ */

/* Is the template's default version what git wants? Told in memory of its
 * own, freed at once: the desired data of an app in sync (most apps, every
 * pass) is not kept. A drifted one is built again in the plan's arena. */
static bool lt_in_sync(struct planner *p, const char *ami)
{
  struct kiln_arena scratch;
  struct kiln_lt_data want;
  struct kiln_drift *drift = NULL;
  size_t n = 0;
  bool same;

  kiln_arena_init(&scratch, 0);
  same = p->obs->lt_exists &&
         kiln_plan_lt_data(p->spec, ami, &scratch, &want) == 0 &&
         kiln_plan_lt_diff(&want, &p->obs->lt_default, KILN_CAUSE_COMMIT,
                           &scratch, &drift, &n) == 0 &&
         n == 0;
  kiln_arena_cleanup(&scratch);
  return same;
}

/* Returns the version the group must run, or 0 when this pass stops. */
static int64_t stage_launch_template(struct planner *p, const char *ami)
{
  const struct kiln_observed_app *o = p->obs;
  struct kiln_lt_data *want;
  size_t before = p->out->n_drift;
  enum kiln_drift_cause cause;

  if (lt_in_sync(p, ami))
    return o->lt_default_version;
  want = kiln_arena_alloc(p->a, sizeof(*want));
  if (want == NULL || kiln_plan_lt_data(p->spec, ami, p->a, want) != 0) {
    p->err = KILN_ENOMEM;
    return 0;
  }
  if (!o->lt_exists) {
    drift(p, "launchTemplate", p->spec->launch_template.name, "(missing)",
          p->prev != NULL ? KILN_CAUSE_OUT_OF_BAND : KILN_CAUSE_COMMIT);
    act(p, (struct kiln_action){
               .type = KILN_ACTION_LT_CREATE,
               .ami_id = ami,
               .lt_data = want,
               .reason = kiln_arena_printf(p->a, "create launch template %s",
                                           p->spec->launch_template.name)});
    return 0;
  }
  /* A default version Kiln made carries its commit, and the template's
   * kiln:version tag names the default Kiln last set; a default that is
   * not Kiln's, or not the one Kiln set, was chosen outside git. */
  cause = o->lt_default_commit != NULL &&
                  (o->lt_kiln_version == 0 ||
                   o->lt_kiln_version == o->lt_default_version)
              ? KILN_CAUSE_COMMIT
              : KILN_CAUSE_OUT_OF_BAND;
  if (kiln_plan_lt_diff(want, &o->lt_default, cause, p->a, &p->out->drift,
                        &p->out->n_drift) != 0) {
    p->err = KILN_ENOMEM;
    return 0;
  }
  if (p->out->n_drift == before)
    return o->lt_default_version;
  act(p, (struct kiln_action){
             .type = KILN_ACTION_LT_SET_DEFAULT,
             .ami_id = ami,
             .lt_data = want,
             .reason = kiln_arena_printf(
                 p->a, "make a version of %s with the desired data the default",
                 p->spec->launch_template.name)});
  return 0;
}

/* ---- auto scaling group ---------------------------------------------- */

static enum kiln_drift_cause capacity_cause(struct planner *p, int64_t prev,
                                            int64_t actual)
{
  if (p->prev == NULL)
    return KILN_CAUSE_COMMIT;
  return prev == actual ? KILN_CAUSE_COMMIT : KILN_CAUSE_OUT_OF_BAND;
}

static bool capacity_drift(struct planner *p)
{
  const struct kiln_asg_spec *want = &p->spec->autoscaling;
  const struct kiln_asg_spec *was =
      p->prev != NULL ? &p->prev->autoscaling : NULL;
  const struct kiln_observed_app *o = p->obs;
  bool any = false;

  if (want->min != o->asg_min) {
    drift(p, "autoscaling.min", fmt_int(p, want->min), fmt_int(p, o->asg_min),
          capacity_cause(p, was != NULL ? was->min : 0, o->asg_min));
    any = true;
  }
  if (want->max != o->asg_max) {
    drift(p, "autoscaling.max", fmt_int(p, want->max), fmt_int(p, o->asg_max),
          capacity_cause(p, was != NULL ? was->max : 0, o->asg_max));
    any = true;
  }
  if (want->has_desired && want->desired != o->asg_desired) {
    /* The previous commit may have left desired to scaling policies. */
    int64_t was_desired =
        was != NULL && was->has_desired ? was->desired : o->asg_desired;
    drift(p, "autoscaling.desired", fmt_int(p, want->desired),
          fmt_int(p, o->asg_desired),
          capacity_cause(p, was_desired, o->asg_desired));
    any = true;
  }
  return any;
}

/* The group's subnets, compared as a set. */
static bool subnets_drift(struct planner *p)
{
  const struct kiln_strs *want = &p->spec->autoscaling.subnets;
  const struct kiln_strs *have = &p->obs->asg_subnets;
  const char *x, *y;
  enum kiln_drift_cause cause = KILN_CAUSE_COMMIT;

  if (kiln_plan_same_set(want, have))
    return false;
  x = kiln_plan_set_text(p->a, want);
  y = kiln_plan_set_text(p->a, have);
  if (x == NULL || y == NULL) {
    p->err = KILN_ENOMEM;
    return false;
  }
  if (p->prev != NULL) {
    const char *was = kiln_plan_set_text(p->a, &p->prev->autoscaling.subnets);
    cause = was != NULL && strcmp(was, y) == 0 ? KILN_CAUSE_COMMIT
                                               : KILN_CAUSE_OUT_OF_BAND;
  }
  drift(p, "autoscaling.subnets", x, y, cause);
  return true;
}

/* The group's health checks: the load balancer target groups it registers
 * with (a set), its health check type and grace period, each compared only
 * when the spec names it (omitted: left to whoever set it). */
static bool health_drift(struct planner *p)
{
  const struct kiln_asg_spec *want = &p->spec->autoscaling;
  const struct kiln_asg_spec *was =
      p->prev != NULL ? &p->prev->autoscaling : NULL;
  const struct kiln_observed_app *o = p->obs;
  const char *have_type =
      o->asg_health_check_type != NULL ? o->asg_health_check_type : "EC2";
  bool any = false;

  if (want->health_check_type != NULL &&
      strcmp(want->health_check_type, have_type) != 0) {
    /* Git's change when the applied commit left it alone or said this. */
    bool git = was == NULL || was->health_check_type == NULL ||
               strcmp(was->health_check_type, have_type) == 0;
    drift(p, "autoscaling.healthCheckType", want->health_check_type, have_type,
          git ? KILN_CAUSE_COMMIT : KILN_CAUSE_OUT_OF_BAND);
    any = true;
  }
  if (want->has_grace && want->grace_seconds != o->asg_grace_seconds) {
    bool git = was == NULL || !was->has_grace ||
               was->grace_seconds == o->asg_grace_seconds;
    drift(p, "autoscaling.healthCheckGracePeriodSeconds",
          fmt_int(p, want->grace_seconds), fmt_int(p, o->asg_grace_seconds),
          git ? KILN_CAUSE_COMMIT : KILN_CAUSE_OUT_OF_BAND);
    any = true;
  }
  return any;
}

static bool target_groups_drift(struct planner *p)
{
  const struct kiln_asg_spec *want = &p->spec->autoscaling;
  const char *x, *y;
  enum kiln_drift_cause cause = KILN_CAUSE_COMMIT;

  if (!want->has_target_groups ||
      kiln_plan_same_set(&want->target_groups, &p->obs->asg_target_groups))
    return false;
  x = kiln_plan_set_text(p->a, &want->target_groups);
  y = kiln_plan_set_text(p->a, &p->obs->asg_target_groups);
  if (x == NULL || y == NULL) {
    p->err = KILN_ENOMEM;
    return false;
  }
  /* Git's change when the applied commit left them alone or listed these. */
  if (p->prev != NULL && p->prev->autoscaling.has_target_groups) {
    const char *was =
        kiln_plan_set_text(p->a, &p->prev->autoscaling.target_groups);
    cause = was != NULL && strcmp(was, y) == 0 ? KILN_CAUSE_COMMIT
                                               : KILN_CAUSE_OUT_OF_BAND;
  }
  drift(p, "autoscaling.targetGroups", x, y, cause);
  return true;
}

/* The group's tags from git (kiln.yaml's tags), against the commit Kiln
 * last applied to the group. Fills the plan's group_tags. */
/* kiln.yaml's tags on the launch template resource itself (set when Kiln
 * creates it), against the commit Kiln last applied to the group. */
static void lt_tags_drift(struct planner *p)
{
  struct kiln_tag_plan *t = &p->out->lt_tags;
  const char *desired, *actual;

  if (!p->obs->lt_exists)
    return;
  if (kiln_plan_tags(&p->spec->tags, &p->obs->lt_tags,
                     p->prev != NULL ? &p->prev->tags : NULL, p->a, t) != 0) {
    p->err = KILN_ENOMEM;
    return;
  }
  if (!t->drift)
    return;
  desired = kiln_tags_json(p->a, &t->desired);
  actual = kiln_tags_json(p->a, &t->actual);
  if (desired == NULL || actual == NULL) {
    p->err = KILN_ENOMEM;
    return;
  }
  drift(p, "launchTemplate.templateTags", desired, actual,
        t->out_of_band ? KILN_CAUSE_OUT_OF_BAND : KILN_CAUSE_COMMIT);
}

static void tags_drift(struct planner *p)
{
  struct kiln_tag_plan *t = &p->out->group_tags;

  if (kiln_plan_tags(&p->spec->tags, &p->obs->asg_tags,
                     p->prev != NULL ? &p->prev->tags : NULL, p->a, t) != 0) {
    p->err = KILN_ENOMEM;
    return;
  }
  if (!t->drift)
    return;
  const char *desired = kiln_tags_json(p->a, &t->desired);
  const char *actual = kiln_tags_json(p->a, &t->actual);
  if (desired == NULL || actual == NULL) {
    p->err = KILN_ENOMEM;
    return;
  }
  drift(p, "autoscaling.tags", desired, actual,
        t->out_of_band ? KILN_CAUSE_OUT_OF_BAND : KILN_CAUSE_COMMIT);
}

static const char *tags_reason(struct planner *p)
{
  const struct kiln_tag_plan *t = &p->out->group_tags;
  const char *r = kiln_arena_printf(
      p->a, "set %zu and delete %zu tag%s of group %s from git", t->set.n,
      t->remove.n, t->set.n + t->remove.n == 1 ? "" : "s",
      p->spec->autoscaling.name);
  for (size_t i = 0; r != NULL && i < t->left.n; i++)
    r = kiln_arena_printf(p->a,
                          "%s; leave tag %s, removed from git but changed "
                          "outside Kiln since Kiln set it",
                          r, t->left.items[i]);
  return r != NULL ? r : "set the group's tags from git";
}

static bool group_on_version(const struct kiln_observed_app *o, int64_t version)
{
  return kiln_num_is_i64(o->asg_lt_version, version) && o->asg_lt_id != NULL &&
         o->lt_id != NULL && strcmp(o->asg_lt_id, o->lt_id) == 0;
}

/* "rolling out version 4: 40% replaced, at checkpoint 50% (instance
 * refresh R)", "baking version 4: every instance replaced, bake time 900s
 * (instance refresh R)": the step a release under way waits on. Where it
 * stands in time (until when, how long left) is the release's to say
 * (kiln_release_describe), with the clock. */
static const char *refresh_progress(struct planner *p, int64_t version)
{
  const struct kiln_release *r = &p->out->release;
  const char *aws = r->status_reason != NULL && !r->at_checkpoint
                        ? kiln_arena_printf(p->a, "; AWS: %s", r->status_reason)
                        : "";
  const char *at =
      r->checkpoint > 0
          ? kiln_arena_printf(p->a, ", %s checkpoint %lld%%",
                              r->at_checkpoint ? "at" : "next",
                              (long long)r->checkpoint)
          : "";
  if (aws == NULL || at == NULL)
    return NULL;
  if (r->state == KILN_RELEASE_BAKING)
    return kiln_arena_printf(
        p->a,
        "baking version %lld: every instance replaced, bake time %llds%s "
        "(instance refresh %s%s)",
        (long long)version, (long long)r->bake_time_s,
        r->alarms > 0 ? ", alarms watched" : "", r->refresh_id, aws);
  return kiln_arena_printf(
      p->a, "rolling out version %lld: %lld%% replaced%s (instance refresh %s%s)",
      (long long)version, (long long)r->percent, at, r->refresh_id, aws);
}

static void stage_refresh(struct planner *p, int64_t version)
{
  const struct kiln_observed_app *o = p->obs;
  bool same = o->refresh_version == version;

  switch (o->refresh) {
  case KILN_REFRESH_RUNNING:
    if (same) {
      act(p, (struct kiln_action){.type = KILN_ACTION_WAIT_REFRESH,
                                  .refresh_id = o->refresh_id,
                                  .lt_version = version,
                                  .reason = refresh_progress(p, version)});
      return;
    }
    act(p, (struct kiln_action){
               .type = KILN_ACTION_REFRESH_CANCEL,
               .refresh_id = o->refresh_id,
               .lt_version = version, /* recorded as its kiln:version */
               .reason = kiln_arena_printf(
                   p->a,
                   "cancel instance refresh %s: it rolls out version %lld, git "
                   "now wants %lld",
                   o->refresh_id, (long long)o->refresh_version,
                   (long long)version)});
    return;
  case KILN_REFRESH_CANCELLING:
  case KILN_REFRESH_ROLLING_BACK:
    /* AWS allows one refresh at a time: wait for this one to end. */
    act(p, (struct kiln_action){
               .type = KILN_ACTION_WAIT_REFRESH,
               .refresh_id = o->refresh_id,
               .reason = kiln_arena_printf(p->a,
                                           "waiting for instance refresh %s "
                                           "to finish %s",
                                           o->refresh_id,
                                           o->refresh == KILN_REFRESH_CANCELLING
                                               ? "cancelling"
                                               : "rolling back")});
    return;
  case KILN_REFRESH_FAILED:
  case KILN_REFRESH_CANCELLED:
    if (same) {
      fail_release(p, kiln_arena_printf(
                          p->a,
                          "release of launch template version %lld failed: "
                          "%s (instance refresh %s); not retried until git "
                          "changes the app",
                          (long long)version,
                          p->out->release.cause != NULL ? p->out->release.cause
                                                        : "?",
                          o->refresh_id));
      return;
    }
    break;
  default:
    break;
  }
  if (o->asg_instances == 0) {
    act(p,
        (struct kiln_action){
            .type = KILN_ACTION_ASG_UPDATE,
            .lt_version = version,
            .set_lt_version = true,
            .reason = kiln_arena_printf(
                p->a, "point the empty group at launch template version %lld",
                (long long)version)});
    return;
  }
  act(p,
      (struct kiln_action){
          .type = KILN_ACTION_REFRESH_START,
          .lt_version = version,
          .reason = kiln_arena_printf(
              p->a, "start an instance refresh to launch template version %lld",
              (long long)version)});
}

/* Why the group is off the desired version. A refresh to this version that
 * succeeded, or a group Kiln already tagged with this commit and never
 * refreshed to it, was moved back outside git; a refresh still under way,
 * failed or cancelled is this commit's release. */
static enum kiln_drift_cause group_version_cause(const struct planner *p,
                                                 int64_t version)
{
  const struct kiln_observed_app *o = p->obs;
  bool tagged_this_commit = o->asg_commit != NULL && p->commit != NULL &&
                            strcmp(o->asg_commit, p->commit) == 0;
  if (o->refresh_version == version)
    return o->refresh == KILN_REFRESH_SUCCEEDED ? KILN_CAUSE_OUT_OF_BAND
                                                : KILN_CAUSE_COMMIT;
  return tagged_this_commit ? KILN_CAUSE_OUT_OF_BAND : KILN_CAUSE_COMMIT;
}

/* "capacity, subnets and health checks": what an update sets. */
static const char *group_settings_text(struct planner *p, bool capacity,
                                       bool subnets, bool health,
                                       bool target_groups)
{
  const char *parts[4];
  size_t n = 0;
  const char *out = "";

  if (capacity)
    parts[n++] = "capacity";
  if (subnets)
    parts[n++] = "subnets";
  if (health)
    parts[n++] = "health checks";
  if (target_groups)
    parts[n++] = "target groups";
  for (size_t i = 0; i < n && out != NULL; i++)
    out = kiln_arena_printf(p->a, "%s%s%s", out,
                            i == 0       ? ""
                            : i + 1 == n ? " and "
                                         : ", ",
                            parts[i]);
  return out != NULL ? out : "settings";
}

static void stage_group(struct planner *p, int64_t version)
{
  const struct kiln_observed_app *o = p->obs;
  const struct kiln_tag_plan *tags = &p->out->group_tags;
  enum kiln_drift_cause version_cause;
  bool on_version, capacity, subnets, health, target_groups;

  if (!o->asg_exists) {
    drift(p, "autoscaling", p->spec->autoscaling.name, "(missing)",
          p->prev != NULL ? KILN_CAUSE_OUT_OF_BAND : KILN_CAUSE_COMMIT);
    act(p, (struct kiln_action){
               .type = KILN_ACTION_ASG_CREATE,
               .lt_version = version,
               .reason = kiln_arena_printf(
                   p->a, "create group %s on launch template version %lld",
                   p->spec->autoscaling.name, (long long)version)});
    return;
  }
  tags_drift(p);
  if (version == 0) {
    /* The launch template is not settled yet: only the group's own
     * settings can be compared now. */
    capacity_drift(p);
    subnets_drift(p);
    health_drift(p);
    target_groups_drift(p);
    return;
  }
  on_version = group_on_version(o, version);
  /* Kiln tags the group with the commit it applied: a group already
   * carrying this commit yet off its version was changed outside git. */
  version_cause = group_version_cause(p, version);
  if (!on_version)
    drift(p, "autoscaling.launchTemplateVersion", fmt_int(p, version),
          o->asg_lt_version != NULL ? o->asg_lt_version : "(none)",
          version_cause);
  if (o->asg_instances_stale > 0)
    drift(p, "autoscaling.instances",
          kiln_arena_printf(p->a, "all on version %lld", (long long)version),
          kiln_arena_printf(p->a, "%zu of %zu on other versions",
                            o->asg_instances_stale, o->asg_instances),
          version_cause);

  capacity = capacity_drift(p);
  subnets = subnets_drift(p);
  health = health_drift(p);
  target_groups = target_groups_drift(p);
  if (capacity || subnets || health || target_groups) {
    /* Capacity and subnets first, in one call; an empty group can take its
     * version in the same call, a populated one needs a refresh on a
     * later pass. */
    bool with_version = !on_version && o->asg_instances == 0;
    act(p, (struct kiln_action){.type = KILN_ACTION_ASG_UPDATE,
                                .lt_version = version,
                                .set_capacity = capacity,
                                .set_subnets = subnets,
                                .set_health = health,
                                .set_target_groups = target_groups,
                                .set_lt_version = with_version,
                                .reason = kiln_arena_printf(
                                    p->a, "set the %s of group %s",
                                    group_settings_text(p, capacity, subnets,
                                                        health, target_groups),
                                    p->spec->autoscaling.name)});
    return;
  }
  /* A refresh Kiln started for another version is stopped even before any
   * instance shows it (version 0: a refresh without a desired
   * configuration, an instance rotation someone else asked for). */
  if (!on_version || o->asg_instances_stale > 0 ||
      (o->refresh == KILN_REFRESH_RUNNING && o->refresh_version != 0 &&
       o->refresh_version != version)) {
    stage_refresh(p, version);
    return;
  }
  /* The tags alone: the steps above write them with kiln:commit. */
  if (tags->set.n > 0 || tags->remove.n > 0 || tags->left.n > 0) {
    act(p, (struct kiln_action){.type = KILN_ACTION_GROUP_TAGS,
                                .lt_version = version,
                                .reason = tags_reason(p)});
    return;
  }
  /* The template's own tags, last: nothing else waits on them. Tags
   * changed by hand since git removed them are only reported. */
  if (p->out->lt_tags.set.n > 0 || p->out->lt_tags.remove.n > 0) {
    act(p, (struct kiln_action){
               .type = KILN_ACTION_LT_TAGS,
               .lt_version = version,
               .reason = kiln_arena_printf(
                   p->a, "set the tags of launch template %s from git",
                   p->spec->launch_template.name)});
    return;
  }
  /* The group's kiln:version tag makes observe look at its refresh until it
   * names the version the group is on; once nothing is under way, say so
   * (a release that failed and was reverted leaves it behind). */
  if (p->apply && o->asg_kiln_version != 0 && o->asg_kiln_version != version &&
      o->refresh != KILN_REFRESH_RUNNING &&
      o->refresh != KILN_REFRESH_CANCELLING &&
      o->refresh != KILN_REFRESH_ROLLING_BACK)
    act(p, (struct kiln_action){
               .type = KILN_ACTION_TAG_GROUP,
               .lt_version = version,
               .reason = kiln_arena_printf(
                   p->a, "record on group %s that it is on version %lld",
                   p->spec->autoscaling.name, (long long)version)});
}

/* ---- status ---------------------------------------------------------- */

static enum kiln_app_status status_of(const struct planner *p)
{
  bool out_of_band = false;
  if (p->spec->suspend)
    return KILN_STATUS_SUSPENDED;
  if (p->failed && !p->release_failed)
    return KILN_STATUS_ERROR;
  if (p->failed)
    return p->out->release.state == KILN_RELEASE_DEGRADED ? KILN_STATUS_DEGRADED
                                                          : KILN_STATUS_FAILED;
  if (p->waiting && p->out->action.type == KILN_ACTION_WAIT_REFRESH)
    switch (p->out->release.state) {
    case KILN_RELEASE_ROLLING_OUT:
      return KILN_STATUS_ROLLING_OUT;
    case KILN_RELEASE_BAKING:
      return KILN_STATUS_BAKING;
    default:
      break;
    }
  if (p->waiting)
    return KILN_STATUS_PROGRESSING;
  if (p->out->n_drift == 0 && (p->out->action.type == KILN_ACTION_NONE ||
                               p->out->action.type == KILN_ACTION_TAG_GROUP))
    return KILN_STATUS_IN_SYNC;
  for (size_t i = 0; i < p->out->n_drift; i++)
    out_of_band |= p->out->drift[i].cause == KILN_CAUSE_OUT_OF_BAND;
  return out_of_band ? KILN_STATUS_DRIFTED : KILN_STATUS_PENDING;
}

int kiln_plan_app(const struct kiln_app_spec *spec, const char *commit,
                  const struct kiln_observed_app *obs,
                  const struct kiln_app_spec *prev, struct kiln_arena *arena,
                  struct kiln_plan *out)
{
  struct planner p = {
      .spec = spec,
      .commit = commit,
      .obs = obs,
      .prev = prev != NULL && prev->valid ? prev : NULL,
      .a = arena,
      .out = out,
      .apply = spec->drift == KILN_DRIFT_CORRECT && !spec->suspend,
  };
  const char *parent = spec->image.parent;
  const char *ami;
  int64_t version;

  memset(out, 0, sizeof(*out));
  out->app = spec->name;
  out->app_name = kiln_spec_app_name(spec);
  out->environment = spec->env;
  out->version = spec->version;
  if (!spec->valid) {
    out->status = KILN_STATUS_ERROR;
    out->message = "the app's spec is invalid and is never applied; run kiln "
                   "validate for the errors";
    return 0;
  }
  if (spec->image.parent_kind == KILN_PARENT_SSM) {
    if (obs->parent_ami == NULL) {
      out->status = KILN_STATUS_ERROR;
      out->message = kiln_arena_printf(
          arena, "cannot resolve parent image %s: %s", spec->image.parent,
          obs->parent_error != NULL ? obs->parent_error : "no value");
      return out->message != NULL ? 0 : KILN_ENOMEM;
    }
    parent = obs->parent_ami;
  }
  if (kiln_spec_image_digest(spec, parent, out->digest, NULL) != 0)
    return KILN_ENOMEM;

  /* Every stage reports its drift; the first that needs a step acts. */
  ami = stage_image(&p);
  out->ami = ami;
  out->running_ami = obs->lt_exists ? obs->lt_default.image_id : NULL;
  version = ami != NULL ? stage_launch_template(&p, ami) : 0;
  lt_tags_drift(&p);
  if (kiln_release_derive(obs, version, &spec->rollout.alarms, arena,
                          &out->release) != 0)
    return KILN_ENOMEM;
  stage_group(&p, version);
  if (p.release_failed && out->release.state == KILN_RELEASE_NONE) {
    /* A bake that failed: no version, no refresh, yet a failed release. */
    out->release.state = KILN_RELEASE_FAILED;
    out->release.cause_kind = KILN_RELEASE_CAUSE_BAKE;
    out->release.cause =
        obs->image_elsewhere && obs->image_failed >= KILN_COPY_ATTEMPTS
            ? kiln_arena_printf(arena, "the image copy failed: %s",
                                obs->image_failed_reason)
        : obs->image_elsewhere
            ? kiln_arena_printf(arena, "the image bake failed in %s: %s",
                                obs->home_region,
                                obs->home_bake_reason != NULL
                                    ? obs->home_bake_reason
                                    : "?")
            : kiln_arena_printf(arena, "the image bake failed: %s",
                                obs->bake_reason != NULL ? obs->bake_reason
                                                         : "?");
  }

  out->status = status_of(&p);
  if (out->message == NULL)
    out->message = out->action.reason != NULL           ? out->action.reason
                   : out->status == KILN_STATUS_IN_SYNC ? "in sync with git"
                                                        : "";
  return p.err;
}

const char *kiln_plan_status_name(enum kiln_app_status s)
{
  static const char *const names[] = {
      "in-sync",   "pending",     "drifted", "progressing", "error",
      "suspended", "rolling-out", "baking",  "failed",      "degraded",
      "waiting"};
  return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *kiln_plan_action_name(enum kiln_action_type t)
{
  static const char *const names[] = {"none",
                                      "bake",
                                      "wait-bake",
                                      "tag-image",
                                      "create-launch-template",
                                      "set-launch-template-default",
                                      "create-group",
                                      "update-group",
                                      "start-refresh",
                                      "cancel-refresh",
                                      "wait-refresh",
                                      "tag-group",
                                      "set-group-tags",
                                      "set-template-tags",
                                      "copy-image"};
  return (size_t)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

const char *kiln_plan_cause_name(enum kiln_drift_cause c)
{
  return c == KILN_CAUSE_OUT_OF_BAND ? "out-of-band" : "commit";
}
