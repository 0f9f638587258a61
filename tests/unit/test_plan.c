/* The planner, branch by branch: a converged observation and one change per
 * case, with the expected action, status and drift. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kiln/arena.h"
#include "kiln/diag.h"
#include "kiln/plan.h"
#include "kiln/history.h"
#include "kiln/promote.h"
#include "kiln/proofs.h"
#include "kiln/spec.h"
#include "mem_tree.h"

static const char app_yaml[] =
    "apiVersion: kiln.dev/v1\nkind: App\nname: hello\nregion: us-east-1\n"
    "version: \"1.0.0\"\n"
    "image:\n"
    "  parent: ssm:/aws/service/ami-amazon-linux-latest/al2023\n"
    "  components: [{arn: \"arn:aws:imagebuilder:us-east-1:aws:component/"
    "update-linux/x.x.x\"}]\n"
    "  build: {instanceProfile: builder}\n"
    "launchTemplate:\n"
    "  instanceType: t3.micro\n"
    "  securityGroups: [sg-0123456789abcdef0]\n"
    "  blockDevices: [{device: /dev/xvda, sizeGiB: 8}]\n"
    "autoscaling: {subnets: [subnet-0123456789abcdef0], min: 1, max: 3, "
    "desired: 2}\n";

static struct kiln_spec_repo *repo;
static struct kiln_app_spec spec;
static struct kiln_observed_app converged;
static struct kiln_arena arena;
static char desired_digest[65]; /* of the converged observation */

#define AMI     "ami-0aaaaaaaaaaaaaaaa"
#define OLD_AMI "ami-0bbbbbbbbbbbbbbbb"
#define COMMIT  "1111111111111111111111111111111111111111"

static struct kiln_tag default_tags[] = {{"Owner", "platform"}};
/* What Kiln leaves on a group: git's tags and its bookkeeping. */
static struct kiln_tag group_tags[] = {{"Owner", "platform"},
                                       {"kiln:app", "hello"},
                                       {"kiln:commit", COMMIT},
                                       {"kiln:version", "4"}};

static int setup(void **state)
{
  struct mem_file files[] = {{"apps/hello/app.yaml", app_yaml, 0}};
  struct mem_tree t;
  struct kiln_diags d;
  mem_tree_init(&t, files, 1);
  kiln_diags_init(&d, 0);
  assert_int_equal(kiln_spec_load(&t.tree, &d, &repo), 0);
  assert_int_equal(d.n, 0);
  kiln_diags_cleanup(&d);
  spec = repo->apps[0];
  assert_true(spec.valid);
  spec.tags = (struct kiln_tags){default_tags, 1}; /* as from kiln.yaml */

  kiln_arena_init(&arena, 0);
  memset(&converged, 0, sizeof(converged));
  converged.parent_ami = "ami-0ccccccccccccccc0";
  converged.image_ami = AMI;
  converged.lt_exists = true;
  converged.lt_id = "lt-0123456789abcdef0";
  converged.lt_default_version = 4;
  converged.lt_latest_version = 4;
  assert_int_equal(kiln_plan_lt_data(&spec, AMI, &arena, &converged.lt_default),
                   0);
  converged.lt_default_commit = COMMIT;
  converged.asg_exists = true;
  converged.asg_min = 1;
  converged.asg_max = 3;
  converged.asg_desired = 2;
  converged.asg_lt_id = converged.lt_id;
  converged.asg_lt_version = "4";
  converged.asg_subnets = spec.autoscaling.subnets;
  converged.asg_tags = (struct kiln_tags){group_tags, 4};
  converged.lt_tags = (struct kiln_tags){default_tags, 1};
  converged.asg_instances = 2;
  converged.asg_commit = COMMIT;
  converged.refresh = KILN_REFRESH_SUCCEEDED;
  converged.refresh_id = "r-old";
  converged.refresh_version = 4;
  {
    struct kiln_plan p;
    assert_int_equal(kiln_plan_app(&spec, COMMIT, &converged, NULL, &arena, &p),
                     0);
    memcpy(desired_digest, p.digest, sizeof(desired_digest));
  }
  return 0;
}

static int teardown(void **state)
{
  kiln_arena_cleanup(&arena);
  kiln_spec_repo_free(repo);
  return 0;
}

struct plan_case {
  const char *name;
  void (*change)(struct kiln_app_spec *s, struct kiln_observed_app *o,
                 const struct kiln_app_spec **prev);
  enum kiln_action_type action;
  enum kiln_app_status status;
  const char *drift_field; /* a field expected in the drift, or NULL */
  enum kiln_drift_cause cause;
  bool mutates;
};

static void nothing(struct kiln_app_spec *s, struct kiln_observed_app *o,
                    const struct kiln_app_spec **prev)
{
}
static void no_ami(struct kiln_app_spec *s, struct kiln_observed_app *o,
                   const struct kiln_app_spec **prev)
{
  o->image_ami = NULL;
}
static void baking(struct kiln_app_spec *s, struct kiln_observed_app *o,
                   const struct kiln_app_spec **prev)
{
  o->image_ami = NULL;
  o->bake = KILN_BAKE_RUNNING;
}
static void baked(struct kiln_app_spec *s, struct kiln_observed_app *o,
                  const struct kiln_app_spec **prev)
{
  o->image_ami = NULL;
  o->bake = KILN_BAKE_DONE;
  o->bake_ami = AMI;
}
static void bake_failed(struct kiln_app_spec *s, struct kiln_observed_app *o,
                        const struct kiln_app_spec **prev)
{
  o->image_ami = NULL;
  o->bake = KILN_BAKE_FAILED;
  o->bake_reason = "component step failed";
}
static void ami_pending(struct kiln_app_spec *s, struct kiln_observed_app *o,
                        const struct kiln_app_spec **prev)
{
  o->image_pending = true;
}
static void no_parent(struct kiln_app_spec *s, struct kiln_observed_app *o,
                      const struct kiln_app_spec **prev)
{
  o->parent_ami = NULL;
  o->parent_error = "ParameterNotFound";
}
static void invalid(struct kiln_app_spec *s, struct kiln_observed_app *o,
                    const struct kiln_app_spec **prev)
{
  s->valid = false;
}
static void no_lt(struct kiln_app_spec *s, struct kiln_observed_app *o,
                  const struct kiln_app_spec **prev)
{
  o->lt_exists = false;
  o->asg_exists = false;
}
static void lt_hand_edited(struct kiln_app_spec *s, struct kiln_observed_app *o,
                           const struct kiln_app_spec **prev)
{
  o->lt_default.instance_type = "m5.large";
  o->lt_default_commit = NULL;
}
static struct kiln_lt_bdev g_bigger_disk;
static void lt_disk_grown_by_hand(struct kiln_app_spec *s,
                                  struct kiln_observed_app *o,
                                  const struct kiln_app_spec **prev)
{
  g_bigger_disk = o->lt_default.bdevs[0];
  g_bigger_disk.size_gib = 16;
  o->lt_default.bdevs = &g_bigger_disk;
  o->lt_default_commit = NULL;
}
static const char *g_other_sg[] = {"sg-0fedcba987654321f"};
static void lt_security_group_swapped_by_hand(struct kiln_app_spec *s,
                                              struct kiln_observed_app *o,
                                              const struct kiln_app_spec **prev)
{
  o->lt_default.security_groups = (struct kiln_strs){g_other_sg, 1};
  o->lt_default_commit = NULL;
}
static void lt_old_commit(struct kiln_app_spec *s, struct kiln_observed_app *o,
                          const struct kiln_app_spec **prev)
{
  o->lt_default.image_id = OLD_AMI;
  o->lt_default_commit = "2222222222222222222222222222222222222222";
}
static void no_group(struct kiln_app_spec *s, struct kiln_observed_app *o,
                     const struct kiln_app_spec **prev)
{
  o->asg_exists = false;
}
static void max_changed_by_hand(struct kiln_app_spec *s,
                                struct kiln_observed_app *o,
                                const struct kiln_app_spec **prev)
{
  o->asg_max = 9;
  *prev = s; /* Kiln applied this very spec before */
}
static struct kiln_app_spec older;
static void max_changed_in_git(struct kiln_app_spec *s,
                               struct kiln_observed_app *o,
                               const struct kiln_app_spec **prev)
{
  older = *s;
  older.autoscaling.max = 5;
  o->asg_max = 5;
  *prev = &older;
}
static void group_behind(struct kiln_app_spec *s, struct kiln_observed_app *o,
                         const struct kiln_app_spec **prev)
{
  o->asg_lt_version = "3";
  o->asg_instances_stale = 2;
  o->asg_commit = "2222222222222222222222222222222222222222";
  o->refresh_version = 3; /* the last release rolled out version 3 */
}
static void group_moved_back_by_hand(struct kiln_app_spec *s,
                                     struct kiln_observed_app *o,
                                     const struct kiln_app_spec **prev)
{
  group_behind(s, o, prev);
  o->refresh_version = 4; /* version 4 was rolled out, then undone */
}
static void default_flipped_by_hand(struct kiln_app_spec *s,
                                    struct kiln_observed_app *o,
                                    const struct kiln_app_spec **prev)
{
  lt_old_commit(s, o, prev);
  o->lt_default_version = 3;
  o->lt_kiln_version = 4;
}
static void ami_deleted(struct kiln_app_spec *s, struct kiln_observed_app *o,
                        const struct kiln_app_spec **prev)
{
  o->image_ami = NULL;
  o->lt_default_digest = desired_digest;
}
static void empty_group_behind(struct kiln_app_spec *s,
                               struct kiln_observed_app *o,
                               const struct kiln_app_spec **prev)
{
  group_behind(s, o, prev);
  o->asg_instances = 0;
  o->asg_instances_stale = 0;
}
static void group_on_default(struct kiln_app_spec *s,
                             struct kiln_observed_app *o,
                             const struct kiln_app_spec **prev)
{
  o->asg_lt_version = "$Default";
}
static void stale_instances(struct kiln_app_spec *s,
                            struct kiln_observed_app *o,
                            const struct kiln_app_spec **prev)
{
  o->asg_instances_stale = 1;
}
static void refreshing(struct kiln_app_spec *s, struct kiln_observed_app *o,
                       const struct kiln_app_spec **prev)
{
  group_behind(s, o, prev);
  o->refresh = KILN_REFRESH_RUNNING;
  o->refresh_id = "r-new";
  o->refresh_version = 4;
  o->refresh_percent = 50;
  o->refresh_status = "InProgress";
}
static void refresh_baking(struct kiln_app_spec *s, struct kiln_observed_app *o,
                           const struct kiln_app_spec **prev)
{
  refreshing(s, o, prev);
  o->refresh_percent = 100;
  o->refresh_status = "Baking";
}
static void refreshing_older(struct kiln_app_spec *s,
                             struct kiln_observed_app *o,
                             const struct kiln_app_spec **prev)
{
  refreshing(s, o, prev);
  o->refresh_version = 3;
}
static void refresh_failed(struct kiln_app_spec *s, struct kiln_observed_app *o,
                           const struct kiln_app_spec **prev)
{
  refreshing(s, o, prev);
  o->refresh = KILN_REFRESH_FAILED;
  o->refresh_reason = "instances failed health checks";
  o->refresh_status = "RollbackSuccessful";
}
static void rollback_failed(struct kiln_app_spec *s,
                            struct kiln_observed_app *o,
                            const struct kiln_app_spec **prev)
{
  refresh_failed(s, o, prev);
  o->refresh_status = "RollbackFailed";
}
static void older_refresh_failed(struct kiln_app_spec *s,
                                 struct kiln_observed_app *o,
                                 const struct kiln_app_spec **prev)
{
  refresh_failed(s, o, prev);
  o->refresh_version = 3;
}
static void refresh_cancelling(struct kiln_app_spec *s,
                               struct kiln_observed_app *o,
                               const struct kiln_app_spec **prev)
{
  refreshing_older(s, o, prev);
  o->refresh = KILN_REFRESH_CANCELLING;
}
static void report_mode(struct kiln_app_spec *s, struct kiln_observed_app *o,
                        const struct kiln_app_spec **prev)
{
  s->drift = KILN_DRIFT_REPORT;
  max_changed_by_hand(s, o, prev);
}
static void suspended(struct kiln_app_spec *s, struct kiln_observed_app *o,
                      const struct kiln_app_spec **prev)
{
  s->suspend = true;
  no_ami(s, o, prev);
}
static void sg_order_differs(struct kiln_app_spec *s,
                             struct kiln_observed_app *o,
                             const struct kiln_app_spec **prev)
{
  /* Sets compare order-free: the same groups in another order and the
   * same tags in another order are no drift. */
  static const char *want[] = {"sg-0123456789abcdef0", "sg-0fedcba987654321f"};
  static const char *have[] = {"sg-0fedcba987654321f", "sg-0123456789abcdef0"};
  static struct kiln_tag tags[] = {
      {"kiln:app", "hello"}, {"A", "1"}, {"Owner", "platform"}};
  s->launch_template.security_groups.items = want;
  s->launch_template.security_groups.n = 2;
  o->lt_default.security_groups.items = have;
  o->lt_default.security_groups.n = 2;
  s->launch_template.tags.items = &tags[1];
  s->launch_template.tags.n = 1;
  o->lt_default.instance_tags.items = tags;
  o->lt_default.instance_tags.n = 3;
}

/* Tag maps compare as maps: a value holding "," and "=" is not two tags. */
static struct kiln_tag one_tag[] = {{"A", "1,B=2"}};
static struct kiln_tag two_tags[] = {{"A", "1"}, {"B", "2"}};
static struct kiln_tag lt_one[] = {
    {"A", "1,B=2"}, {"Owner", "platform"}, {"kiln:app", "hello"}};
static struct kiln_tag lt_two[] = {
    {"A", "1"}, {"B", "2"}, {"Owner", "platform"}, {"kiln:app", "hello"}};
static void lt_tags_one_vs_two(struct kiln_app_spec *s,
                               struct kiln_observed_app *o,
                               const struct kiln_app_spec **prev)
{
  s->launch_template.tags = (struct kiln_tags){one_tag, 1};
  o->lt_default.instance_tags = (struct kiln_tags){lt_two, 4};
  o->lt_default_commit = NULL; /* a version made by hand */
}
static void lt_tags_two_vs_one(struct kiln_app_spec *s,
                               struct kiln_observed_app *o,
                               const struct kiln_app_spec **prev)
{
  s->launch_template.tags = (struct kiln_tags){two_tags, 2};
  o->lt_default.instance_tags = (struct kiln_tags){lt_one, 3};
  o->lt_default_commit = NULL;
}
static struct kiln_tag g_one[] = {
    {"A", "1,B=2"}, {"kiln:commit", COMMIT}, {"kiln:version", "4"}};
static struct kiln_tag g_two[] = {
    {"A", "1"}, {"B", "2"}, {"kiln:commit", COMMIT}, {"kiln:version", "4"}};
static void group_tags_one_vs_two(struct kiln_app_spec *s,
                                  struct kiln_observed_app *o,
                                  const struct kiln_app_spec **prev)
{
  s->tags = (struct kiln_tags){one_tag, 1};
  /* kiln.yaml's tags reach instances too: the template is in sync. */
  kiln_plan_lt_data(s, AMI, &arena, &o->lt_default);
  o->asg_tags = (struct kiln_tags){g_two, 4};
  *prev = s;
}
static void group_tags_two_vs_one(struct kiln_app_spec *s,
                                  struct kiln_observed_app *o,
                                  const struct kiln_app_spec **prev)
{
  s->tags = (struct kiln_tags){two_tags, 2};
  kiln_plan_lt_data(s, AMI, &arena, &o->lt_default);
  o->asg_tags = (struct kiln_tags){g_one, 3};
  *prev = s;
}
static struct kiln_tag g_hand[] = {{"Owner", "someone"}, {"kiln:app", "hello"}};
static void group_tag_changed_by_hand(struct kiln_app_spec *s,
                                      struct kiln_observed_app *o,
                                      const struct kiln_app_spec **prev)
{
  o->asg_tags = (struct kiln_tags){g_hand, 2};
  *prev = s;
}
static struct kiln_tag old_owner[] = {{"Owner", "someone"}};
static void group_tag_changed_in_git(struct kiln_app_spec *s,
                                     struct kiln_observed_app *o,
                                     const struct kiln_app_spec **prev)
{
  older = *s;
  older.tags = (struct kiln_tags){old_owner, 1};
  o->asg_tags = (struct kiln_tags){g_hand, 2};
  *prev = &older;
}
static struct kiln_tag g_foreign[] = {{"Owner", "platform"},
                                      {"Team", "x,y=z"},
                                      {"kiln:commit", "other"},
                                      {"kiln:app", "renamed"}};
static void group_foreign_and_kiln_tags(struct kiln_app_spec *s,
                                        struct kiln_observed_app *o,
                                        const struct kiln_app_spec **prev)
{
  /* Tags Kiln never set, and its own bookkeeping, are no drift. */
  o->asg_tags = (struct kiln_tags){g_foreign, 4};
  *prev = s;
}
static const char *one_subnet[] = {"subnet-0fedcba987654321f"};
static void subnets_changed_by_hand(struct kiln_app_spec *s,
                                    struct kiln_observed_app *o,
                                    const struct kiln_app_spec **prev)
{
  o->asg_subnets = (struct kiln_strs){one_subnet, 1};
  *prev = s;
}
static const char *tg_a[] = {
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/a/"
    "0123456789abcdef"};
static const char *tg_b[] = {
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/b/"
    "0123456789abcdef"};
static struct kiln_app_spec with_health; /* the spec naming them */
static void health_spec(struct kiln_app_spec *s)
{
  s->autoscaling.has_target_groups = true;
  s->autoscaling.target_groups = (struct kiln_strs){tg_a, 1};
  s->autoscaling.health_check_type = "ELB";
  s->autoscaling.has_grace = true;
  s->autoscaling.grace_seconds = 120;
}
static void health_converged(struct kiln_observed_app *o)
{
  o->asg_target_groups = (struct kiln_strs){tg_a, 1};
  o->asg_health_check_type = "ELB";
  o->asg_grace_seconds = 120;
}
static void health_in_sync(struct kiln_app_spec *s, struct kiln_observed_app *o,
                           const struct kiln_app_spec **prev)
{
  health_spec(s);
  health_converged(o);
  with_health = *s;
  *prev = &with_health;
}
static void target_group_swapped_by_hand(struct kiln_app_spec *s,
                                         struct kiln_observed_app *o,
                                         const struct kiln_app_spec **prev)
{
  health_in_sync(s, o, prev);
  o->asg_target_groups = (struct kiln_strs){tg_b, 1};
}
static void target_groups_added_in_git(struct kiln_app_spec *s,
                                       struct kiln_observed_app *o,
                                       const struct kiln_app_spec **prev)
{
  /* The applied commit left target groups alone: git's change. */
  *prev = &spec;
  health_spec(s);
  health_converged(o);
  o->asg_target_groups = (struct kiln_strs){NULL, 0};
}
static void health_type_changed_by_hand(struct kiln_app_spec *s,
                                        struct kiln_observed_app *o,
                                        const struct kiln_app_spec **prev)
{
  health_in_sync(s, o, prev);
  o->asg_health_check_type = "EC2";
}
static void grace_changed_by_hand(struct kiln_app_spec *s,
                                  struct kiln_observed_app *o,
                                  const struct kiln_app_spec **prev)
{
  health_in_sync(s, o, prev);
  o->asg_grace_seconds = 0;
}
static void health_left_alone(struct kiln_app_spec *s,
                              struct kiln_observed_app *o,
                              const struct kiln_app_spec **prev)
{
  /* Omitted from the spec: whatever AWS has is no drift. */
  health_converged(o);
  o->asg_target_groups = (struct kiln_strs){tg_b, 1};
  *prev = s;
}
static struct kiln_tag lt_owner_changed[] = {{"Owner", "someone"},
                                             {"kiln:version", "4"}};
static void template_tag_changed_by_hand(struct kiln_app_spec *s,
                                         struct kiln_observed_app *o,
                                         const struct kiln_app_spec **prev)
{
  o->lt_tags = (struct kiln_tags){lt_owner_changed, 2};
  *prev = s;
}
static struct kiln_tag lt_foreign[] = {
    {"Owner", "platform"}, {"Team", "theirs"}, {"kiln:commit", COMMIT}};
static void template_tag_not_kilns(struct kiln_app_spec *s,
                                   struct kiln_observed_app *o,
                                   const struct kiln_app_spec **prev)
{
  o->lt_tags = (struct kiln_tags){lt_foreign, 3};
  *prev = s;
}
static void imds_endpoint_disabled_by_hand(struct kiln_app_spec *s,
                                           struct kiln_observed_app *o,
                                           const struct kiln_app_spec **prev)
{
  o->lt_default.http_endpoint = "disabled";
  o->lt_default_commit = NULL;
}

static const struct plan_case cases[] = {
    {"converged", nothing, KILN_ACTION_NONE, KILN_STATUS_IN_SYNC, NULL, 0,
     false},
    {"bake needed", no_ami, KILN_ACTION_BAKE, KILN_STATUS_PENDING,
     "image.digest", KILN_CAUSE_COMMIT, true},
    {"bake running", baking, KILN_ACTION_WAIT_BAKE, KILN_STATUS_PROGRESSING,
     "image.digest", KILN_CAUSE_COMMIT, false},
    {"bake done, untagged", baked, KILN_ACTION_TAG_IMAGE, KILN_STATUS_PENDING,
     "image.digest", KILN_CAUSE_COMMIT, true},
    {"bake failed", bake_failed, KILN_ACTION_NONE, KILN_STATUS_FAILED, NULL, 0,
     false},
    {"AMI not yet available", ami_pending, KILN_ACTION_WAIT_BAKE,
     KILN_STATUS_PROGRESSING, NULL, 0, false},
    {"ssm parent unresolved", no_parent, KILN_ACTION_NONE, KILN_STATUS_ERROR,
     NULL, 0, false},
    {"invalid spec", invalid, KILN_ACTION_NONE, KILN_STATUS_ERROR, NULL, 0,
     false},
    {"no launch template", no_lt, KILN_ACTION_LT_CREATE, KILN_STATUS_PENDING,
     "launchTemplate", KILN_CAUSE_COMMIT, true},
    {"launch template edited by hand", lt_hand_edited,
     KILN_ACTION_LT_SET_DEFAULT, KILN_STATUS_DRIFTED,
     "launchTemplate.instanceType", KILN_CAUSE_OUT_OF_BAND, true},
    {"launch template's disk grown by hand", lt_disk_grown_by_hand,
     KILN_ACTION_LT_SET_DEFAULT, KILN_STATUS_DRIFTED,
     "launchTemplate.blockDevices", KILN_CAUSE_OUT_OF_BAND, true},
    {"launch template's security group swapped by hand",
     lt_security_group_swapped_by_hand, KILN_ACTION_LT_SET_DEFAULT,
     KILN_STATUS_DRIFTED, "launchTemplate.securityGroups",
     KILN_CAUSE_OUT_OF_BAND, true},
    {"launch template from an older commit", lt_old_commit,
     KILN_ACTION_LT_SET_DEFAULT, KILN_STATUS_PENDING, "launchTemplate.imageId",
     KILN_CAUSE_COMMIT, true},
    {"no group", no_group, KILN_ACTION_ASG_CREATE, KILN_STATUS_PENDING,
     "autoscaling", KILN_CAUSE_COMMIT, true},
    {"max changed by hand", max_changed_by_hand, KILN_ACTION_ASG_UPDATE,
     KILN_STATUS_DRIFTED, "autoscaling.max", KILN_CAUSE_OUT_OF_BAND, true},
    {"max changed in git", max_changed_in_git, KILN_ACTION_ASG_UPDATE,
     KILN_STATUS_PENDING, "autoscaling.max", KILN_CAUSE_COMMIT, true},
    {"group behind", group_behind, KILN_ACTION_REFRESH_START,
     KILN_STATUS_PENDING, "autoscaling.launchTemplateVersion",
     KILN_CAUSE_COMMIT, true},
    {"group moved back by hand", group_moved_back_by_hand,
     KILN_ACTION_REFRESH_START, KILN_STATUS_DRIFTED,
     "autoscaling.launchTemplateVersion", KILN_CAUSE_OUT_OF_BAND, true},
    {"default version flipped by hand", default_flipped_by_hand,
     KILN_ACTION_LT_SET_DEFAULT, KILN_STATUS_DRIFTED, "launchTemplate.imageId",
     KILN_CAUSE_OUT_OF_BAND, true},
    {"AMI deleted by hand", ami_deleted, KILN_ACTION_BAKE, KILN_STATUS_DRIFTED,
     "image.digest", KILN_CAUSE_OUT_OF_BAND, true},
    {"empty group behind", empty_group_behind, KILN_ACTION_ASG_UPDATE,
     KILN_STATUS_PENDING, "autoscaling.launchTemplateVersion",
     KILN_CAUSE_COMMIT, true},
    {"group on $Default", group_on_default, KILN_ACTION_REFRESH_START,
     KILN_STATUS_DRIFTED, "autoscaling.launchTemplateVersion",
     KILN_CAUSE_OUT_OF_BAND, true},
    {"stale instances", stale_instances, KILN_ACTION_REFRESH_START,
     KILN_STATUS_DRIFTED, "autoscaling.instances", KILN_CAUSE_OUT_OF_BAND,
     true},
    {"refresh running", refreshing, KILN_ACTION_WAIT_REFRESH,
     KILN_STATUS_ROLLING_OUT, "autoscaling.launchTemplateVersion",
     KILN_CAUSE_COMMIT, false},
    {"refresh for an older state", refreshing_older, KILN_ACTION_REFRESH_CANCEL,
     KILN_STATUS_PENDING, NULL, 0, true},
    {"refresh baking", refresh_baking, KILN_ACTION_WAIT_REFRESH,
     KILN_STATUS_BAKING, NULL, 0, false},
    {"refresh failed", refresh_failed, KILN_ACTION_NONE, KILN_STATUS_FAILED,
     NULL, 0, false},
    {"rollback failed", rollback_failed, KILN_ACTION_NONE, KILN_STATUS_DEGRADED,
     NULL, 0, false},
    {"older refresh failed", older_refresh_failed, KILN_ACTION_REFRESH_START,
     KILN_STATUS_PENDING, NULL, 0, true},
    {"refresh cancelling", refresh_cancelling, KILN_ACTION_WAIT_REFRESH,
     KILN_STATUS_PROGRESSING, NULL, 0, false},
    {"drift: report", report_mode, KILN_ACTION_NONE, KILN_STATUS_DRIFTED,
     "autoscaling.max", KILN_CAUSE_OUT_OF_BAND, false},
    {"suspended", suspended, KILN_ACTION_NONE, KILN_STATUS_SUSPENDED,
     "image.digest", KILN_CAUSE_COMMIT, false},
    {"security groups as a set", sg_order_differs, KILN_ACTION_NONE,
     KILN_STATUS_IN_SYNC, NULL, 0, false},
    {"instance tags {A: \"1,B=2\"} vs {A: 1, B: 2}", lt_tags_one_vs_two,
     KILN_ACTION_LT_SET_DEFAULT, KILN_STATUS_DRIFTED, "launchTemplate.tags",
     KILN_CAUSE_OUT_OF_BAND, true},
    {"instance tags {A: 1, B: 2} vs {A: \"1,B=2\"}", lt_tags_two_vs_one,
     KILN_ACTION_LT_SET_DEFAULT, KILN_STATUS_DRIFTED, "launchTemplate.tags",
     KILN_CAUSE_OUT_OF_BAND, true},
    {"group tags {A: \"1,B=2\"} vs {A: 1, B: 2}", group_tags_one_vs_two,
     KILN_ACTION_GROUP_TAGS, KILN_STATUS_DRIFTED, "autoscaling.tags",
     KILN_CAUSE_OUT_OF_BAND, true},
    {"group tags {A: 1, B: 2} vs {A: \"1,B=2\"}", group_tags_two_vs_one,
     KILN_ACTION_GROUP_TAGS, KILN_STATUS_DRIFTED, "autoscaling.tags",
     KILN_CAUSE_OUT_OF_BAND, true},
    {"group tag changed by hand", group_tag_changed_by_hand,
     KILN_ACTION_GROUP_TAGS, KILN_STATUS_DRIFTED, "autoscaling.tags",
     KILN_CAUSE_OUT_OF_BAND, true},
    {"group tag changed in git", group_tag_changed_in_git,
     KILN_ACTION_GROUP_TAGS, KILN_STATUS_PENDING, "autoscaling.tags",
     KILN_CAUSE_COMMIT, true},
    {"foreign and kiln:* group tags", group_foreign_and_kiln_tags,
     KILN_ACTION_NONE, KILN_STATUS_IN_SYNC, NULL, 0, false},
    {"subnets changed by hand", subnets_changed_by_hand, KILN_ACTION_ASG_UPDATE,
     KILN_STATUS_DRIFTED, "autoscaling.subnets", KILN_CAUSE_OUT_OF_BAND, true},
    {"template tag changed by hand", template_tag_changed_by_hand,
     KILN_ACTION_LT_TAGS, KILN_STATUS_DRIFTED, "launchTemplate.templateTags",
     KILN_CAUSE_OUT_OF_BAND, true},
    {"template tag Kiln never set", template_tag_not_kilns, KILN_ACTION_NONE,
     KILN_STATUS_IN_SYNC, NULL, 0, false},
    {"health checks in sync", health_in_sync, KILN_ACTION_NONE,
     KILN_STATUS_IN_SYNC, NULL, 0, false},
    {"target group swapped by hand", target_group_swapped_by_hand,
     KILN_ACTION_ASG_UPDATE, KILN_STATUS_DRIFTED, "autoscaling.targetGroups",
     KILN_CAUSE_OUT_OF_BAND, true},
    {"target groups added in git", target_groups_added_in_git,
     KILN_ACTION_ASG_UPDATE, KILN_STATUS_PENDING, "autoscaling.targetGroups",
     KILN_CAUSE_COMMIT, true},
    {"health check type changed by hand", health_type_changed_by_hand,
     KILN_ACTION_ASG_UPDATE, KILN_STATUS_DRIFTED, "autoscaling.healthCheckType",
     KILN_CAUSE_OUT_OF_BAND, true},
    {"grace period changed by hand", grace_changed_by_hand,
     KILN_ACTION_ASG_UPDATE, KILN_STATUS_DRIFTED,
     "autoscaling.healthCheckGracePeriodSeconds", KILN_CAUSE_OUT_OF_BAND, true},
    {"health checks left alone when omitted", health_left_alone,
     KILN_ACTION_NONE, KILN_STATUS_IN_SYNC, NULL, 0, false},
    {"IMDS endpoint disabled by hand", imds_endpoint_disabled_by_hand,
     KILN_ACTION_LT_SET_DEFAULT, KILN_STATUS_DRIFTED,
     "launchTemplate.metadata.httpEndpoint", KILN_CAUSE_OUT_OF_BAND, true},
};

static void test_plan_table(void **state)
{
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const struct plan_case *c = &cases[i];
    struct kiln_app_spec s = spec;
    struct kiln_observed_app o = converged;
    const struct kiln_app_spec *prev = NULL;
    struct kiln_plan plan;
    bool found = c->drift_field == NULL;

    c->change(&s, &o, &prev);
    assert_int_equal(kiln_plan_app(&s, COMMIT, &o, prev, &arena, &plan), 0);
    for (size_t j = 0; j < plan.n_drift; j++)
      if (c->drift_field != NULL &&
          strcmp(plan.drift[j].field, c->drift_field) == 0 &&
          plan.drift[j].cause == c->cause)
        found = true;
    if (plan.action.type != c->action || plan.status != c->status || !found ||
        plan.mutates != c->mutates) {
      fprintf(stderr, "case '%s': action %s status %s (%s)\n", c->name,
              kiln_plan_action_name(plan.action.type),
              kiln_plan_status_name(plan.status), plan.message);
      for (size_t j = 0; j < plan.n_drift; j++)
        fprintf(stderr, "  drift %s: %s -> %s (%s)\n", plan.drift[j].field,
                plan.drift[j].actual, plan.drift[j].desired,
                kiln_plan_cause_name(plan.drift[j].cause));
    }
    assert_int_equal(plan.action.type, c->action);
    assert_int_equal(plan.status, c->status);
    assert_true(found);
    assert_int_equal(plan.mutates, c->mutates);
    assert_non_null(plan.message);
    if (c->status == KILN_STATUS_IN_SYNC)
      assert_int_equal(plan.n_drift, 0);
    if (c->change == ami_deleted)
      assert_string_equal(plan.action.rebake_of, AMI);
    else
      assert_null(plan.action.rebake_of);
  }
}

/* The release state, from the group's latest refresh, as a table. */
static void test_release_states(void **state)
{
  static const struct {
    const char *status;
    int64_t refresh_version;
    size_t stale;
    enum kiln_release_state want;
    bool cause;
  } rows[] = {
      {"Pending", 4, 2, KILN_RELEASE_ROLLING_OUT, false},
      {"InProgress", 4, 1, KILN_RELEASE_ROLLING_OUT, false},
      {"Baking", 4, 0, KILN_RELEASE_BAKING, false},
      {"Successful", 4, 0, KILN_RELEASE_HEALTHY, false},
      {"RollbackInProgress", 4, 1, KILN_RELEASE_ROLLING_BACK, true},
      {"RollbackSuccessful", 4, 2, KILN_RELEASE_FAILED, true},
      {"Failed", 4, 2, KILN_RELEASE_FAILED, true},
      {"Cancelled", 4, 2, KILN_RELEASE_FAILED, true},
      {"RollbackFailed", 4, 1, KILN_RELEASE_DEGRADED, true},
      /* A refresh of another version says nothing of this one. */
      {"Failed", 3, 2, KILN_RELEASE_NONE, false},
      {"Successful", 3, 0, KILN_RELEASE_HEALTHY, false},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    struct kiln_observed_app o = converged;
    struct kiln_release r;
    o.refresh_status = rows[i].status;
    o.refresh_version = rows[i].refresh_version;
    o.refresh_percent = 40;
    o.refresh_reason = "alarm hello-5xx is in ALARM";
    o.asg_instances_stale = rows[i].stale;
    assert_int_equal(kiln_release_derive(&o, 4, NULL, &arena, &r), 0);
    if (r.state != rows[i].want)
      fprintf(stderr, "row %zu (%s): %s\n", i, rows[i].status,
              kiln_release_state_name(r.state));
    assert_int_equal(r.state, rows[i].want);
    assert_int_equal(r.cause != NULL, rows[i].cause);
    assert_int_equal(r.version, 4);
  }
  {
    struct kiln_release r;
    assert_int_equal(kiln_release_derive(&converged, 0, NULL, &arena, &r), 0);
    assert_int_equal(r.state, KILN_RELEASE_NONE);
  }
}

static void test_plan_is_deterministic_and_digest_follows_parent(void **state)
{
  struct kiln_plan a, b;
  struct kiln_observed_app o = converged;
  assert_int_equal(kiln_plan_app(&spec, COMMIT, &o, NULL, &arena, &a), 0);
  assert_int_equal(kiln_plan_app(&spec, COMMIT, &o, NULL, &arena, &b), 0);
  assert_string_equal(a.digest, b.digest);
  o.parent_ami = "ami-0ddddddddddddddd0";
  assert_int_equal(kiln_plan_app(&spec, COMMIT, &o, NULL, &arena, &b), 0);
  assert_string_not_equal(a.digest, b.digest);
}

static void test_lt_data_tags_and_imds(void **state)
{
  struct kiln_lt_data d;
  assert_int_equal(kiln_plan_lt_data(&spec, AMI, &arena, &d), 0);
  assert_string_equal(d.http_tokens, "required");
  assert_int_equal(d.instance_tags.n, 2);
  assert_string_equal(d.instance_tags.items[0].key, "Owner"); /* kiln.yaml */
  assert_string_equal(d.instance_tags.items[1].key, "kiln:app");
  assert_string_equal(d.instance_tags.items[1].value, "hello");
  assert_string_equal(d.http_endpoint, "enabled");
  assert_string_equal(d.bdevs[0].type, "gp3");
  assert_true(d.bdevs[0].encrypted);
}

/* A pass follows a launch template step with the group's step, planned on
 * the observation as AWS's answer to the first step changed it. */
static struct kiln_plan follow(const struct kiln_app_spec *s,
                               struct kiln_observed_app *o, int64_t version,
                               enum kiln_action_type first)
{
  struct kiln_plan p;
  assert_int_equal(kiln_plan_app(s, COMMIT, o, NULL, &arena, &p), 0);
  assert_int_equal(p.action.type, first);
  kiln_observed_lt_made_default(o, o->lt_id != NULL ? o->lt_id : "lt-0new",
                                version, p.action.lt_data, COMMIT, p.digest);
  assert_int_equal(kiln_plan_app(s, COMMIT, o, NULL, &arena, &p), 0);
  return p;
}

static void test_follow_on_refreshes_a_populated_group(void **state)
{
  struct kiln_app_spec s = spec;
  struct kiln_observed_app o = converged;
  const char *versions[] = {"4", "4"};
  struct kiln_plan p;

  s.launch_template.instance_type = "t3.small";
  o.asg_instance_versions = versions;
  o.asg_commit = "2222222222222222222222222222222222222222"; /* the last */
  p = follow(&s, &o, 5, KILN_ACTION_LT_SET_DEFAULT);
  assert_int_equal(o.asg_instances_stale, 2);
  assert_true(kiln_observed_needs_refresh_look(&o));
  assert_int_equal(p.action.type, KILN_ACTION_REFRESH_START);
  assert_int_equal(p.action.lt_version, 5);
  assert_true(p.mutates);
  assert_int_equal(p.status, KILN_STATUS_PENDING);
}

static void test_follow_on_points_an_empty_group(void **state)
{
  struct kiln_app_spec s = spec;
  struct kiln_observed_app o = converged;
  struct kiln_plan p;

  s.launch_template.instance_type = "t3.small";
  s.autoscaling.min = 0;
  s.autoscaling.desired = 0;
  o.asg_min = 0;
  o.asg_desired = 0;
  o.asg_instances = 0;
  p = follow(&s, &o, 5, KILN_ACTION_LT_SET_DEFAULT);
  assert_int_equal(p.action.type, KILN_ACTION_ASG_UPDATE);
  assert_true(p.action.set_lt_version);
  assert_false(p.action.set_capacity);
  assert_int_equal(p.action.lt_version, 5);
}

static void test_follow_on_creates_the_group_of_a_new_template(void **state)
{
  struct kiln_observed_app o = {.parent_ami = converged.parent_ami,
                                .image_ami = AMI};
  struct kiln_plan p = follow(&spec, &o, 1, KILN_ACTION_LT_CREATE);
  assert_string_equal(o.lt_id, "lt-0new");
  assert_false(kiln_observed_needs_refresh_look(&o)); /* no group yet */
  assert_int_equal(p.action.type, KILN_ACTION_ASG_CREATE);
  assert_int_equal(p.action.lt_version, 1);
}

static void test_follow_on_of_a_revert(void **state)
{
  /* Instances already on the version a revert brings back are not stale;
   * a refresh still rolling out the release being reverted is cancelled. */
  struct kiln_app_spec s = spec;
  struct kiln_observed_app o = converged;
  const char *versions[] = {"5", "4"};
  struct kiln_plan p;

  s.launch_template.instance_type = "t3.small";
  o.lt_default_version = o.lt_latest_version = 5;
  o.lt_default.instance_type = "m5.large";
  o.asg_lt_version = "5";
  o.asg_instance_versions = versions;
  p = follow(&s, &o, 4, KILN_ACTION_LT_SET_DEFAULT);
  assert_int_equal(o.lt_latest_version, 5);
  assert_int_equal(o.asg_instances_stale, 1);
  assert_int_equal(p.action.type, KILN_ACTION_REFRESH_START);
  assert_int_equal(p.action.lt_version, 4);

  o.refresh = KILN_REFRESH_RUNNING;
  o.refresh_id = "r-rolling";
  o.refresh_version = 5;
  assert_int_equal(kiln_plan_app(&s, COMMIT, &o, NULL, &arena, &p), 0);
  assert_int_equal(p.action.type, KILN_ACTION_REFRESH_CANCEL);
  assert_string_equal(p.action.refresh_id, "r-rolling");
}

static void test_a_refresh_to_another_version_is_cancelled_early(void **state)
{
  /* Group and instances on the desired version, but a refresh started for
   * another one (a release just reverted) has not replaced any yet. The
   * group's kiln:version tag, the version Kiln last sent it to, is what
   * makes observe look. */
  struct kiln_observed_app o = converged;
  struct kiln_plan p;
  assert_false(kiln_observed_needs_refresh_look(&o));
  o.asg_kiln_version = 4;
  assert_false(kiln_observed_needs_refresh_look(&o));
  o.asg_kiln_version = 5;
  assert_true(kiln_observed_needs_refresh_look(&o));
  o.refresh = KILN_REFRESH_RUNNING;
  o.refresh_id = "r-new";
  o.refresh_version = 5;
  assert_int_equal(kiln_plan_app(&spec, COMMIT, &o, NULL, &arena, &p), 0);
  assert_int_equal(p.action.type, KILN_ACTION_REFRESH_CANCEL);
  assert_string_equal(p.action.refresh_id, "r-new");
  assert_int_equal(p.action.lt_version, 4); /* the group's new tag */

  /* Once it is over, the tag is set right so observe stops looking; the
   * app is in sync all along. */
  o.refresh = KILN_REFRESH_CANCELLED;
  assert_int_equal(kiln_plan_app(&spec, COMMIT, &o, NULL, &arena, &p), 0);
  assert_int_equal(p.status, KILN_STATUS_IN_SYNC);
  assert_int_equal(p.action.type, KILN_ACTION_TAG_GROUP);
  assert_int_equal(p.action.lt_version, 4);
  assert_true(p.mutates);
  o.asg_kiln_version = 4;
  assert_int_equal(kiln_plan_app(&spec, COMMIT, &o, NULL, &arena, &p), 0);
  assert_int_equal(p.action.type, KILN_ACTION_NONE);

  /* A rotation someone else started (no desired configuration) is theirs. */
  o.refresh = KILN_REFRESH_RUNNING;
  o.refresh_version = 0;
  assert_int_equal(kiln_plan_app(&spec, COMMIT, &o, NULL, &arena, &p), 0);
  assert_int_equal(p.action.type, KILN_ACTION_NONE);
  assert_int_equal(p.status, KILN_STATUS_IN_SYNC);

  /* Where Kiln only reports, it keeps no bookkeeping. */
  {
    struct kiln_app_spec report = spec;
    report.drift = KILN_DRIFT_REPORT;
    o.refresh = KILN_REFRESH_SUCCEEDED;
    o.asg_kiln_version = 5;
    assert_int_equal(kiln_plan_app(&report, COMMIT, &o, NULL, &arena, &p), 0);
    assert_int_equal(p.action.type, KILN_ACTION_NONE);
    assert_int_equal(p.status, KILN_STATUS_IN_SYNC);
  }
}

/* kiln_plan_tags, case by case: what is set, deleted, left, and why. */
struct tags_case {
  const char *name;
  struct kiln_tag want[3], have[5], was[3];
  bool was_known;
  const char *set, *remove, *left; /* keys, comma-joined; "" none */
  bool drift, out_of_band;
};

static const struct tags_case tags_cases[] = {
    {"same",
     {{"A", "1"}},
     {{"A", "1"}, {"kiln:app", "x"}},
     {{"A", "1"}},
     true,
     "",
     "",
     "",
     false,
     false},
    {"value with , and =",
     {{"A", "1,B=2"}},
     {{"A", "1"}, {"B", "2"}},
     {{"A", "1,B=2"}},
     true,
     "A",
     "",
     "",
     true,
     true},
    {"two values as one",
     {{"A", "1"}, {"B", "2"}},
     {{"A", "1,B=2"}},
     {{"A", "1"}, {"B", "2"}},
     true,
     "A,B",
     "",
     "",
     true,
     true},
    {"new in git",
     {{"A", "1"}, {"N", "new"}},
     {{"A", "1"}},
     {{"A", "1"}},
     true,
     "N",
     "",
     "",
     true,
     false},
    {"deleted by hand",
     {{"A", "1"}},
     {{"kiln:app", "x"}},
     {{"A", "1"}},
     true,
     "A",
     "",
     "",
     true,
     true},
    {"removed from git, still Kiln's",
     {{"A", "1"}},
     {{"A", "1"}, {"R", "r"}},
     {{"A", "1"}, {"R", "r"}},
     true,
     "",
     "R",
     "",
     true,
     false},
    {"removed from git, changed by hand",
     {{"A", "1"}},
     {{"A", "1"}, {"R", "hand"}},
     {{"A", "1"}, {"R", "r"}},
     true,
     "",
     "",
     "R",
     true,
     true},
    {"removed from git and gone",
     {{"A", "1"}},
     {{"A", "1"}},
     {{"A", "1"}, {"R", "r"}},
     true,
     "",
     "",
     "",
     false,
     false},
    {"not Kiln's",
     {{"A", "1"}},
     {{"A", "1"}, {"T", "t"}},
     {{"A", "1"}},
     true,
     "",
     "",
     "",
     false,
     false},
    {"last commit unknown",
     {{"A", "1"}},
     {{"A", "2"}, {"R", "r"}},
     {{0}},
     false,
     "A",
     "",
     "",
     true,
     false},
    {"kiln:* is bookkeeping",
     {{"A", "1"}},
     {{"A", "1"}, {"kiln:commit", "c"}, {"kiln:version", "9"}},
     {{"A", "1"}, {"kiln:app", "old"}},
     true,
     "",
     "",
     "",
     false,
     false},
};

static size_t count_tags(const struct kiln_tag *t, size_t max)
{
  size_t n = 0;
  while (n < max && t[n].key != NULL)
    n++;
  return n;
}

static const char *joined(const char *const *keys, const struct kiln_tag *tags,
                          size_t n)
{
  static char out[128];
  out[0] = '\0';
  for (size_t i = 0; i < n; i++)
    snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
             i > 0 ? "," : "", keys != NULL ? keys[i] : tags[i].key);
  return out;
}

static void test_tag_plans(void **state)
{
  for (size_t i = 0; i < sizeof(tags_cases) / sizeof(tags_cases[0]); i++) {
    const struct tags_case *c = &tags_cases[i];
    struct kiln_tags want = {(struct kiln_tag *)c->want,
                             count_tags(c->want, 3)};
    struct kiln_tags have = {(struct kiln_tag *)c->have,
                             count_tags(c->have, 5)};
    struct kiln_tags was = {(struct kiln_tag *)c->was, count_tags(c->was, 3)};
    struct kiln_tag_plan t;
    size_t used = arena.used_bytes;

    assert_int_equal(
        kiln_plan_tags(&want, &have, c->was_known ? &was : NULL, &arena, &t),
        0);
    /* Tags in sync cost nothing: most apps' are, every pass. */
    if (!c->drift)
      assert_int_equal(arena.used_bytes, used);
    fprintf(stderr, "case '%s'\n", c->name);
    assert_string_equal(joined(NULL, t.set.items, t.set.n), c->set);
    assert_string_equal(joined(t.remove.items, NULL, t.remove.n), c->remove);
    assert_string_equal(joined(t.left.items, NULL, t.left.n), c->left);
    assert_int_equal(t.drift, c->drift);
    assert_int_equal(t.out_of_band, c->out_of_band);
    assert_int_equal(t.drift, !kiln_tags_equal(&t.desired, &t.actual));
  }
}

/* Sets compare as kiln_plan_set_text() would show them: in any order,
 * each member as many times. */
static void test_sets_compare_without_rendering(void **state)
{
  const char *ab[] = {"a", "b"}, *ba[] = {"b", "a"}, *aab[] = {"a", "a", "b"},
             *abb[] = {"a", "b", "b"}, *ac[] = {"a", "c"};
  struct kiln_strs s_ab = {ab, 2}, s_ba = {ba, 2}, s_aab = {aab, 3},
                   s_abb = {abb, 3}, s_ac = {ac, 2}, none = {NULL, 0};
  struct kiln_arena a;

  (void)state;
  kiln_arena_init(&a, 0);
  assert_true(kiln_plan_same_set(&s_ab, &s_ba));
  assert_true(kiln_plan_same_set(&none, &none));
  assert_false(kiln_plan_same_set(&s_ab, &s_ac));
  assert_false(kiln_plan_same_set(&s_ab, &none));
  assert_false(kiln_plan_same_set(&s_aab, &s_abb));
  assert_false(kiln_plan_same_set(&s_ab, &s_aab));
  /* The same verdicts as the text. */
  assert_string_equal(kiln_plan_set_text(&a, &s_ab),
                      kiln_plan_set_text(&a, &s_ba));
  assert_string_not_equal(kiln_plan_set_text(&a, &s_aab),
                          kiln_plan_set_text(&a, &s_abb));
  kiln_arena_cleanup(&a);
}

static void test_tag_maps_render_unambiguously(void **state)
{
  struct kiln_tags one = {one_tag, 1}, two = {two_tags, 2};
  struct kiln_tag odd[] = {{"q\"k", "a\\b\n"}};
  struct kiln_tags o = {odd, 1}, none = {NULL, 0};
  assert_false(kiln_tags_equal(&one, &two));
  assert_false(kiln_tags_equal(&two, &one));
  assert_true(kiln_tags_equal(&two, &two));
  assert_string_equal(kiln_tags_json(&arena, &one), "{\"A\":\"1,B=2\"}");
  assert_string_equal(kiln_tags_json(&arena, &two),
                      "{\"A\":\"1\",\"B\":\"2\"}");
  assert_string_equal(kiln_tags_json(&arena, &o),
                      "{\"q\\\"k\":\"a\\\\b\\u000a\"}");
  assert_string_equal(kiln_tags_json(&arena, &none), "{}");
}

static void test_stale_instances(void **state)
{
  struct kiln_observed_app o = converged;
  const char *versions[] = {"4", NULL, "3"};
  o.asg_instances = 3;
  o.asg_instance_versions = versions;
  assert_int_equal(kiln_observed_stale_instances(&o), 2);
  o.lt_exists = false;
  assert_int_equal(kiln_observed_stale_instances(&o), 3);
  o.lt_exists = true;
  o.asg_instance_versions = NULL; /* unknown: all of them */
  assert_int_equal(kiln_observed_stale_instances(&o), 3);
}

/* Only the states on the way to an image are a bake in flight: DISABLED,
 * CANCELLED or a state AWS adds later end it, never wait forever. */
static void test_bake_states(void **state)
{
  (void)state;
  static const struct {
    const char *status;
    enum kiln_bake_state want;
  } rows[] = {
      {NULL, KILN_BAKE_NONE},          {"PENDING", KILN_BAKE_RUNNING},
      {"CREATING", KILN_BAKE_RUNNING}, {"BUILDING", KILN_BAKE_RUNNING},
      {"TESTING", KILN_BAKE_RUNNING},  {"DISTRIBUTING", KILN_BAKE_RUNNING},
      {"INTEGRATING", KILN_BAKE_RUNNING}, {"AVAILABLE", KILN_BAKE_DONE},
      {"FAILED", KILN_BAKE_FAILED},    {"CANCELLED", KILN_BAKE_FAILED},
      {"DISABLED", KILN_BAKE_FAILED},  {"DELETED", KILN_BAKE_FAILED},
      {"DEPRECATED", KILN_BAKE_FAILED}, {"SOMETHING_NEW", KILN_BAKE_FAILED},
      {"building", KILN_BAKE_FAILED},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
    assert_int_equal(kiln_observed_bake_state(rows[i].status), rows[i].want);
}

/* The checkpoint a refresh heads for or waits at, and the words plan and
 * apply print for a release under way. */
static void test_release_checkpoints_and_progress(void **state)
{
  static const int64_t cps[] = {10, 50, 100};
  struct kiln_app_spec s = spec;
  struct kiln_observed_app o = converged;
  const struct kiln_app_spec *prev = NULL;
  struct kiln_plan plan;
  (void)state;

  assert_int_equal(kiln_release_checkpoint(cps, 3, 0), 10);
  assert_int_equal(kiln_release_checkpoint(cps, 3, 10), 10);
  assert_int_equal(kiln_release_checkpoint(cps, 3, 11), 50);
  assert_int_equal(kiln_release_checkpoint(cps, 3, 60), 0); /* 100: the end */
  assert_int_equal(kiln_release_checkpoint(cps, 0, 0), 0);

  s.rollout.has_bake_time = true;
  s.rollout.bake_time_seconds = 900;
  refreshing(&s, &o, &prev);
  o.refresh_checkpoints = cps;
  o.refresh_n_checkpoints = 3;
  o.asg_instances = 10; /* one instance is 10% */
  o.refresh_percent = 40;
  assert_int_equal(kiln_plan_app(&s, COMMIT, &o, prev, &arena, &plan), 0);
  assert_int_equal(plan.status, KILN_STATUS_ROLLING_OUT);
  assert_int_equal(plan.release.checkpoint, 50);
  assert_false(plan.release.at_checkpoint);
  assert_non_null(strstr(plan.message, "40% replaced, next checkpoint 50%"));
  assert_string_equal(kiln_release_describe(&plan.release, 0, &arena),
                      "rolling out 40%, next checkpoint 50%");

  /* At 50%, waiting: the delay runs from the last launch's warmup. */
  o.refresh_percent = 50;
  o.refresh_reason = "Waiting for checkpoint delay to expire.";
  o.refresh_warmup_s = 60;
  o.refresh_checkpoint_delay_s = 600;
  o.last_launch_s = 1764856800; /* 2025-12-04T14:00:00Z */
  assert_int_equal(kiln_plan_app(&s, COMMIT, &o, prev, &arena, &plan), 0);
  assert_int_equal(plan.release.checkpoint, 50);
  assert_true(plan.release.at_checkpoint);
  assert_int_equal(plan.release.checkpoint_until_s, 1764856800 + 60 + 600);
  assert_non_null(strstr(plan.message, "50% replaced, at checkpoint 50%"));
  assert_string_equal(
      kiln_release_describe(&plan.release, 1764856800 + 100, &arena),
      "rolling out 50% — waiting at checkpoint 50% until 14:11:00 UTC");
  assert_string_equal(
      kiln_release_describe(&plan.release, 1764856800 + 700, &arena),
      "rolling out 50% — checkpoint 50% delay over, continuing");
  /* No activities looked at: where, but not until when. */
  o.last_launch_s = 0;
  assert_int_equal(kiln_plan_app(&s, COMMIT, &o, prev, &arena, &plan), 0);
  assert_string_equal(kiln_release_describe(&plan.release, 0, &arena),
                      "rolling out 50% — at checkpoint 50%");

  /* Baking: the bake runs from the last launch's warmup (the group's
   * grace period when the refresh has no warmup). */
  refresh_baking(&s, &o, &prev);
  o.refresh_reason = NULL;
  o.refresh_warmup_s = -1;
  o.asg_grace_seconds = 120;
  o.refresh_bake_time_s = 900;
  o.last_launch_s = 1764856800;
  s.rollout.alarms = (struct kiln_strs){(const char *[]){"hello-5xx"}, 1};
  assert_int_equal(kiln_plan_app(&s, COMMIT, &o, prev, &arena, &plan), 0);
  assert_int_equal(plan.status, KILN_STATUS_BAKING);
  assert_int_equal(plan.release.checkpoint, 0);
  assert_int_equal(plan.release.bake_until_s, 1764856800 + 120 + 900);
  assert_non_null(strstr(plan.message, "bake time 900s, alarms watched"));
  assert_string_equal(
      kiln_release_describe(&plan.release, 1764856800 + 120 + 360, &arena),
      "baking 6m of 15m, alarms OK");
}

/* A failed release says why in words an operator acts on: the alarm and
 * when, the launch AWS could not make and AWS's message, and what AWS did
 * about it. */
static void test_release_failure_causes(void **state)
{
  struct kiln_strs alarms = {(const char *[]){"hello-p99", "hello-5xx"}, 2};
  struct kiln_observed_app o = converged;
  struct kiln_release r;
  (void)state;

  o.refresh_id = "r-1";
  o.refresh_version = 4;
  o.refresh = KILN_REFRESH_FAILED;
  o.refresh_status = "RollbackSuccessful";
  o.refresh_reason = "Instance refresh failed because the following "
                     "CloudWatch alarms went into ALARM state: hello-5xx.";
  o.refresh_rollback_start_s = 1764856680; /* 13:58:00 */
  o.asg_lt_version = "3";
  assert_int_equal(kiln_release_derive(&o, 4, &alarms, &arena, &r), 0);
  assert_int_equal(r.state, KILN_RELEASE_FAILED);
  assert_int_equal(r.cause_kind, KILN_RELEASE_CAUSE_ALARM);
  assert_string_equal(r.cause, "alarm hello-5xx in ALARM at 13:58:00 UTC; AWS "
                               "rolled back to version 3");
  assert_string_equal(kiln_release_cause_name(r.cause_kind), "alarm");

  o.refresh_reason = "Instance refresh failed: new instances could not be "
                     "launched. For more information, see the scaling "
                     "activities.";
  o.failed_launches = 2;
  o.failed_launch_message = "The image id '[ami-0bad]' does not exist. "
                            "Launching EC2 instance failed.";
  assert_int_equal(kiln_release_derive(&o, 4, &alarms, &arena, &r), 0);
  assert_int_equal(r.cause_kind, KILN_RELEASE_CAUSE_LAUNCH);
  assert_non_null(strstr(r.cause, "could not be launched at 13:58:00 UTC: "
                                  "The image id '[ami-0bad]' does not exist"));

  o.failed_launches = 0;
  o.refresh_reason = "replacement instances did not pass their ELB health "
                     "checks";
  o.refresh_status = "Failed";
  o.refresh_rollback_start_s = 0;
  o.refresh_end_s = 1764856680;
  o.refresh_percent = 30;
  assert_int_equal(kiln_release_derive(&o, 4, &alarms, &arena, &r), 0);
  assert_int_equal(r.cause_kind, KILN_RELEASE_CAUSE_HEALTH);
  assert_non_null(strstr(r.cause, "AWS stopped at 30% with no rollback"));

  o.refresh_status = "RollbackFailed";
  assert_int_equal(kiln_release_derive(&o, 4, &alarms, &arena, &r), 0);
  assert_int_equal(r.state, KILN_RELEASE_DEGRADED);
  assert_int_equal(r.cause_kind, KILN_RELEASE_CAUSE_ROLLBACK);
  assert_non_null(strstr(r.cause, "Kiln will not retry"));
  assert_non_null(strstr(kiln_release_describe(&r, 0, &arena), "degraded: "));

  o.refresh_status = "Cancelled";
  o.refresh = KILN_REFRESH_CANCELLED;
  assert_int_equal(kiln_release_derive(&o, 4, &alarms, &arena, &r), 0);
  assert_int_equal(r.cause_kind, KILN_RELEASE_CAUSE_CANCELLED);
}

/* A promotion opens once the source has run the digest healthy for the
 * soak; a failed or different source blocks it; a closed gate holds the
 * plan with no step. */
static void test_promotion_gate(void **state)
{
  struct kiln_app_spec prod = spec, staging = spec;
  struct kiln_observed_app src = converged, dst = converged;
  struct kiln_plan tplan, fplan;
  struct kiln_promotion g;
  const int64_t ended = 1764856800;
  (void)state;

  staging.name = "hello/staging";
  staging.env = "staging";
  prod.name = "hello/prod";
  prod.env = "prod";
  prod.promote = (struct kiln_promote_spec){"staging", 600};
  src.lt_default_digest = desired_digest;
  src.refresh_end_s = ended;
  src.refresh_status = "Successful";
  dst.lt_default_digest = "0000000000000000000000000000000000000000000000000"
                          "000000000000000";
  assert_int_equal(kiln_plan_app(&prod, COMMIT, &dst, NULL, &arena, &tplan), 0);
  assert_int_equal(kiln_plan_app(&staging, COMMIT, &src, NULL, &arena, &fplan),
                   0);
  assert_int_equal(fplan.release.state, KILN_RELEASE_HEALTHY);

  assert_int_equal(kiln_promote_judge(&prod, &tplan, &dst, &staging, &fplan,
                                      &src, NULL, ended + 100, &arena, &g),
                   0);
  assert_true(g.gated && !g.open && g.transient);
  assert_string_equal(g.why, "staging has run 1.0.0 healthy for 1m of 10m");
  assert_int_equal(kiln_promote_judge(&prod, &tplan, &dst, &staging, &fplan,
                                      &src, NULL, ended + 600, &arena, &g),
                   0);
  assert_true(g.open);

  /* The source failed that digest: blocked until git changes. */
  fplan.release.state = KILN_RELEASE_FAILED;
  fplan.release.cause = "alarm hello-5xx in ALARM";
  assert_int_equal(kiln_promote_judge(&prod, &tplan, &dst, &staging, &fplan,
                                      &src, NULL, ended + 9999, &arena, &g),
                   0);
  assert_false(g.open || g.transient);
  assert_string_equal(g.why, "staging's release of 1.0.0 failed: alarm "
                             "hello-5xx in ALARM");
  kiln_promote_hold(&tplan, &g, &arena);
  assert_int_equal(tplan.status, KILN_STATUS_WAITING);
  assert_true(tplan.blocked && !tplan.mutates);
  assert_int_equal(tplan.action.type, KILN_ACTION_NONE);

  /* Another digest in the source; a source not seen from here. */
  assert_int_equal(kiln_plan_app(&prod, COMMIT, &dst, NULL, &arena, &tplan), 0);
  fplan.digest[0] = 'f';
  assert_int_equal(kiln_promote_judge(&prod, &tplan, &dst, &staging, &fplan,
                                      &src, NULL, ended, &arena, &g),
                   0);
  assert_non_null(strstr(g.why, "staging has never run 1.0.0"));
  assert_false(g.transient);
  assert_int_equal(kiln_promote_judge(&prod, &tplan, &dst, NULL, NULL, NULL,
                                      NULL, ended, &arena, &g),
                   0);
  assert_string_equal(g.why, "staging cannot be judged: it is not a valid "
                             "environment at this commit");

  /* The source moved on: history proves what it ran before. It ran the
   * digest healthy from the end of its release (1000) until another
   * digest's release started (5000); a later failure is the last word. */
  {
    struct kiln_history_release rel[] = {
        {.id = 2, .app = "hello/staging", .digest = "other", .started_at_ms =
             5000000, .ended_at_ms = 5100000, .outcome =
             KILN_HISTORY_SUCCEEDED},
        {.id = 1, .app = "hello/staging", .digest = desired_digest,
         .started_at_ms = 900000, .ended_at_ms = 1000000,
         .outcome = KILN_HISTORY_SUCCEEDED},
        {.id = 3, .app = "hello/staging", .digest = "bad", .started_at_ms =
             6000000, .ended_at_ms = 6100000, .outcome = KILN_HISTORY_FAILED,
         .reason = "alarm hello-5xx"},
    };
    struct kiln_proofs proofs;
    const struct kiln_proof *pr;
    assert_int_equal(kiln_proofs_build(&proofs, rel, 3), 0);
    pr = kiln_proofs_find(&proofs, "hello/staging", desired_digest);
    assert_non_null(pr);
    assert_int_equal(pr->longest_run_s, 4000);
    assert_int_equal(pr->running_since_s, 0);
    assert_null(kiln_proofs_find(&proofs, "hello/prod", desired_digest));
    /* "bad" failed (and was rolled back): "other" runs on. */
    assert_int_equal(kiln_proof_healthy_s(
                         kiln_proofs_find(&proofs, "hello/staging", "other"),
                         6100 + 50),
                     1050);
    /* 4000 s proves a soak of 600, whatever the source runs now. */
    assert_int_equal(kiln_promote_judge(&prod, &tplan, &dst, &staging, &fplan,
                                        &src, pr, ended, &arena, &g),
                     0);
    assert_true(g.open);
    prod.promote.soak_seconds = 7200;
    assert_int_equal(kiln_promote_judge(&prod, &tplan, &dst, &staging, &fplan,
                                        &src, pr, ended, &arena, &g),
                     0);
    assert_false(g.open || g.transient);
    assert_non_null(strstr(g.why, "staging ran 1.0.0 healthy for only "));
    prod.promote.soak_seconds = 600;
    pr = kiln_proofs_find(&proofs, "hello/staging", "bad");
    assert_true(pr->failed);
    assert_int_equal(kiln_promote_judge(&prod, &tplan, &dst, &staging, &fplan,
                                        &src, pr, ended, &arena, &g),
                     0);
    assert_string_equal(g.why,
                        "staging's release of 1.0.0 failed: alarm hello-5xx");
    kiln_proofs_cleanup(&proofs);
  }

  /* Already on the digest: nothing to gate (drift is corrected as ever). */
  dst.lt_default_digest = desired_digest;
  assert_int_equal(kiln_plan_app(&prod, COMMIT, &dst, NULL, &arena, &tplan), 0);
  assert_int_equal(kiln_promote_judge(&prod, &tplan, &dst, NULL, NULL, NULL,
                                      NULL, ended, &arena, &g),
                   0);
  assert_true(g.open && !g.gated);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plan_table),
      cmocka_unit_test(test_sets_compare_without_rendering),
      cmocka_unit_test(test_release_states),
      cmocka_unit_test(test_release_failure_causes),
      cmocka_unit_test(test_promotion_gate),
      cmocka_unit_test(test_plan_is_deterministic_and_digest_follows_parent),
      cmocka_unit_test(test_lt_data_tags_and_imds),
      cmocka_unit_test(test_follow_on_refreshes_a_populated_group),
      cmocka_unit_test(test_follow_on_points_an_empty_group),
      cmocka_unit_test(test_follow_on_creates_the_group_of_a_new_template),
      cmocka_unit_test(test_follow_on_of_a_revert),
      cmocka_unit_test(test_a_refresh_to_another_version_is_cancelled_early),
      cmocka_unit_test(test_stale_instances),
      cmocka_unit_test(test_tag_plans),
      cmocka_unit_test(test_tag_maps_render_unambiguously),
      cmocka_unit_test(test_bake_states),
      cmocka_unit_test(test_release_checkpoints_and_progress),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
