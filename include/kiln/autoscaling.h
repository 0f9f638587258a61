/* Auto Scaling operations Kiln uses (query protocol, API version
 * 2011-01-01). Same shape and guarantees as kiln/ec2.h:
 *
 *   int kiln_asg_OP(client, &request, arena, &result, cb, data);
 */
#ifndef KILN_AUTOSCALING_H
#define KILN_AUTOSCALING_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/aws_client.h"

#define KILN_ASG_API_VERSION "2011-01-01"
#define KILN_ASG_MAX_NAMES   100 /* per DescribeAutoScalingGroups call */

struct kiln_asg_launch_template {
  const char *id; /* or name */
  const char *name;
  const char *version; /* "3"; Kiln never uses $Default or $Latest */
  /* In answers: version as a number, checked (a version that is neither a
   * number nor $Default/$Latest fails the call); 0 when absent, $Default
   * or $Latest. Requests ignore it. */
  int64_t version_number;
};

struct kiln_asg_tag {
  const char *key;
  const char *value;
  int propagate_at_launch;
};

/* ---- DescribeAutoScalingGroups ---- */

struct kiln_asg_describe_groups_request {
  const char **names; /* at most KILN_ASG_MAX_NAMES; none: every group */
  size_t name_count;
  int max_records; /* per page; 0: AWS's default */
};

struct kiln_asg_instance {
  const char *instance_id;
  const char *lifecycle_state; /* "InService", "Pending", ... */
  const char *health_status;   /* "Healthy", "Unhealthy" */
  const char *availability_zone;
  struct kiln_asg_launch_template launch_template;
};

struct kiln_asg_group {
  const char *name;
  const char *arn;
  int64_t min_size;
  int64_t max_size;
  int64_t desired_capacity;
  struct kiln_asg_launch_template launch_template; /* all NULL when none */
  const char *vpc_zone_identifier; /* comma-separated subnets, or NULL */
  const char **availability_zones;
  size_t availability_zone_count;
  struct kiln_asg_instance *instances;
  size_t instance_count;
  struct kiln_asg_tag *tags;
  size_t tag_count;
  const char *status; /* "Delete in progress", or NULL */
  const char **target_group_arns;
  size_t target_group_count;
  const char *health_check_type; /* "EC2" or "ELB" */
  struct kiln_aws_opt_int health_check_grace_period_s;
};

struct kiln_asg_groups {
  struct kiln_asg_group *groups;
  size_t count;
};

int kiln_asg_describe_groups(struct kiln_aws_client *client,
                             const struct kiln_asg_describe_groups_request *req,
                             struct kiln_arena *arena,
                             struct kiln_asg_groups *out, kiln_aws_done_cb *cb,
                             void *data);

/* ---- CreateAutoScalingGroup / UpdateAutoScalingGroup ---- */

struct kiln_asg_create_group_request {
  const char *name;
  struct kiln_asg_launch_template launch_template; /* with a version */
  int64_t min_size;
  int64_t max_size;
  struct kiln_aws_opt_int desired_capacity;
  const char *vpc_zone_identifier; /* "subnet-a,subnet-b" */
  const char **availability_zones; /* when no subnets are given */
  size_t availability_zone_count;
  struct kiln_asg_tag *tags;
  size_t tag_count;
  const char *const *target_group_arns;
  size_t target_group_count;
  const char *health_check_type; /* NULL: AWS's default (EC2) */
  struct kiln_aws_opt_int health_check_grace_period_s;
};

/* No result: arena and out are not taken. */
int kiln_asg_create_group(struct kiln_aws_client *client,
                          const struct kiln_asg_create_group_request *req,
                          kiln_aws_done_cb *cb, void *data);

struct kiln_asg_update_group_request {
  const char *name;
  struct kiln_asg_launch_template launch_template; /* all NULL: unchanged */
  struct kiln_aws_opt_int min_size;
  struct kiln_aws_opt_int max_size;
  struct kiln_aws_opt_int desired_capacity;
  const char *vpc_zone_identifier; /* NULL: unchanged */
  const char *health_check_type;   /* NULL: unchanged */
  struct kiln_aws_opt_int health_check_grace_period_s;
};

/* ---- Attach/DetachLoadBalancerTargetGroups ---- */

struct kiln_asg_target_groups_request {
  const char *group_name;
  const char *const *arns;
  size_t count; /* at least one */
};

/* No result. */
int kiln_asg_attach_target_groups(
    struct kiln_aws_client *client,
    const struct kiln_asg_target_groups_request *req, kiln_aws_done_cb *cb,
    void *data);
int kiln_asg_detach_target_groups(
    struct kiln_aws_client *client,
    const struct kiln_asg_target_groups_request *req, kiln_aws_done_cb *cb,
    void *data);

int kiln_asg_update_group(struct kiln_aws_client *client,
                          const struct kiln_asg_update_group_request *req,
                          kiln_aws_done_cb *cb, void *data);

/* ---- CreateOrUpdateTags ---- */

struct kiln_asg_create_or_update_tags_request {
  const char *group_name;
  struct kiln_asg_tag *tags;
  size_t tag_count; /* at least one */
};

/* No result: arena and out are not taken. */
int kiln_asg_create_or_update_tags(
    struct kiln_aws_client *client,
    const struct kiln_asg_create_or_update_tags_request *req,
    kiln_aws_done_cb *cb, void *data);

/* ---- DeleteTags ---- */

struct kiln_asg_delete_tags_request {
  const char *group_name;
  const char **keys; /* deleted whatever their values */
  size_t key_count;  /* at least one */
};

/* No result: arena and out are not taken. */
int kiln_asg_delete_tags(struct kiln_aws_client *client,
                         const struct kiln_asg_delete_tags_request *req,
                         kiln_aws_done_cb *cb, void *data);

/* ---- instance refresh ---- */

struct kiln_asg_refresh_preferences {
  struct kiln_aws_opt_int min_healthy_percentage;
  struct kiln_aws_opt_int max_healthy_percentage;
  struct kiln_aws_opt_int instance_warmup_s;
  struct kiln_aws_opt_bool skip_matching;
  struct kiln_aws_opt_bool auto_rollback;
  /* AlarmSpecification.Alarms (alarm_count 0: none). */
  const char *const *alarms;
  size_t alarm_count;
  /* CheckpointPercentages, ascending (checkpoint_count 0: none). */
  const int64_t *checkpoints;
  size_t checkpoint_count;
  struct kiln_aws_opt_int checkpoint_delay_s;
  struct kiln_aws_opt_int bake_time_s;
};

struct kiln_asg_start_instance_refresh_request {
  const char *group_name;
  struct kiln_asg_launch_template desired_launch_template; /* with version */
  struct kiln_asg_refresh_preferences preferences;
};

struct kiln_asg_refresh_id {
  const char *instance_refresh_id;
};

int kiln_asg_start_instance_refresh(
    struct kiln_aws_client *client,
    const struct kiln_asg_start_instance_refresh_request *req,
    struct kiln_arena *arena, struct kiln_asg_refresh_id *out,
    kiln_aws_done_cb *cb, void *data);

struct kiln_asg_describe_instance_refreshes_request {
  const char *group_name;
  const char **ids; /* none: every refresh of the group */
  size_t id_count;
  int max_records; /* per page; 0: AWS's default */
};

struct kiln_asg_instance_refresh {
  const char *id;
  const char *group_name;
  const char *status; /* "Pending", "InProgress", "Successful", "Failed",
                         "Cancelling", "Cancelled", "RollbackInProgress",
                         "RollbackFailed", "RollbackSuccessful", ... */
  const char *status_reason;
  struct kiln_aws_opt_int percentage_complete;
  struct kiln_aws_opt_int instances_to_update;
  const char *start_time; /* ISO 8601 as AWS sends it, or NULL */
  const char *end_time;
  struct kiln_asg_launch_template desired_launch_template;
  struct kiln_asg_refresh_preferences preferences;
  /* Rollback details, when AWS rolled the refresh back. */
  const char *rollback_reason;
  const char *rollback_start_time;
  struct kiln_aws_opt_int percentage_complete_on_rollback;
  struct kiln_aws_opt_int instances_to_update_on_rollback;
};

struct kiln_asg_instance_refreshes {
  struct kiln_asg_instance_refresh *refreshes; /* newest first, as AWS */
  size_t count;
};

int kiln_asg_describe_instance_refreshes(
    struct kiln_aws_client *client,
    const struct kiln_asg_describe_instance_refreshes_request *req,
    struct kiln_arena *arena, struct kiln_asg_instance_refreshes *out,
    kiln_aws_done_cb *cb, void *data);

struct kiln_asg_cancel_instance_refresh_request {
  const char *group_name;
};

int kiln_asg_cancel_instance_refresh(
    struct kiln_aws_client *client,
    const struct kiln_asg_cancel_instance_refresh_request *req,
    struct kiln_arena *arena, struct kiln_asg_refresh_id *out,
    kiln_aws_done_cb *cb, void *data);

/* ---- scaling activities ---- */

/* One page, newest first: a group's history of activities can be long, and
 * only the latest ones tell where a release is (its last launches, the
 * launches that failed). */
struct kiln_asg_describe_scaling_activities_request {
  const char *group_name;
  int max_records; /* 1-100; 0: AWS's default (100) */
};

struct kiln_asg_activity {
  const char *id;
  const char *description; /* "Launching a new EC2 instance: i-0123..." */
  const char *cause;
  const char *status_code; /* "Successful", "Failed", "InProgress", ... */
  const char *status_message; /* why it failed, or NULL */
  const char *start_time;     /* ISO 8601 as AWS sends it, or NULL */
  const char *end_time;
};

struct kiln_asg_activities {
  struct kiln_asg_activity *activities; /* newest first, as AWS */
  size_t count;
};

int kiln_asg_describe_scaling_activities(
    struct kiln_aws_client *client,
    const struct kiln_asg_describe_scaling_activities_request *req,
    struct kiln_arena *arena, struct kiln_asg_activities *out,
    kiln_aws_done_cb *cb, void *data);

#endif
