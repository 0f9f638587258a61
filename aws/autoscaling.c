/* Auto Scaling over the query protocol. Lists go on the wire as
 * Name.member.N, and come back as <member> elements inside
 * <ActionResponse><ActionResult>.
 */
#include "aws_ops_private.h"

#include "kiln/error.h"
#include "kiln/num.h"

#include <stdio.h>
#include <string.h>

static void init(struct kiln__op_body *b, const char *action)
{
  kiln__op_body_init(b);
  kiln__query_init(&b->query, action, KILN_ASG_API_VERSION);
}

static void strs(struct kiln__query *q, const char *prefix, const char **v,
                 size_t n)
{
  for (size_t i = 0; i < n; i++)
    kiln__query_str(q, v[i], "%s.member.%zu", prefix, i + 1);
}

static void opt_int(struct kiln__query *q, struct kiln_aws_opt_int v,
                    const char *key)
{
  if (v.set)
    kiln__query_i64(q, v.value, "%s", key);
}

static void opt_bool(struct kiln__query *q, struct kiln_aws_opt_bool v,
                     const char *key)
{
  if (v.set)
    kiln__query_bool(q, v.value, "%s", key);
}

static void launch_template(struct kiln__query *q, const char *prefix,
                            const struct kiln_asg_launch_template *lt)
{
  kiln__query_str(q, lt->id, "%s.LaunchTemplateId", prefix);
  kiln__query_str(q, lt->name, "%s.LaunchTemplateName", prefix);
  kiln__query_str(q, lt->version, "%s.Version", prefix);
}

/* The Result element of an action's response, checked by name. */
static const struct kiln_xml_node *result(const struct kiln_aws_response *res,
                                          const char *action)
{
  char name[96];
  const struct kiln_xml_node *root = res->xml;

  snprintf(name, sizeof(name), "%sResponse", action);
  if (root == NULL || strcmp(root->name, name) != 0)
    return NULL;
  snprintf(name, sizeof(name), "%sResult", action);
  return kiln__xml_find(root, name);
}

/* where names the element for an error message ("LaunchTemplate"). */
static void parse_lt(struct kiln__px *px, const struct kiln_xml_node *n,
                     const char *where, struct kiln_asg_launch_template *lt)
{
  if (n == NULL)
    return;
  lt->id = kiln__xml_str(px, n, "LaunchTemplateId");
  lt->name = kiln__xml_str(px, n, "LaunchTemplateName");
  lt->version = kiln__xml_str(px, n, "Version");
  if (lt->version == NULL || strcmp(lt->version, "$Latest") == 0 ||
      strcmp(lt->version, "$Default") == 0)
    return;
  if (kiln_num_parse_i64(lt->version, 1, INT64_MAX, &lt->version_number) != 0)
    kiln__px_bad(px, "%s.Version \"%.40s\" is not a version number", where,
                 lt->version);
}

/* ---- DescribeAutoScalingGroups ---- */

int kiln__asg_describe_groups_body(
    const struct kiln_asg_describe_groups_request *r, struct kiln__op_body *b)
{
  init(b, "DescribeAutoScalingGroups");
  if (r->name_count > KILN_ASG_MAX_NAMES)
    b->query.err = KILN_EINVAL;
  strs(&b->query, "AutoScalingGroupNames", r->names, r->name_count);
  if (r->max_records > 0)
    kiln__query_i64(&b->query, r->max_records, "MaxRecords");
  return b->query.err;
}

static int parse_groups(struct kiln__px *px, void *out,
                        const struct kiln_aws_response *res, const char **next)
{
  struct kiln_asg_groups *o = out;
  const struct kiln_xml_node *r = result(res, "DescribeAutoScalingGroups");

  if (r == NULL)
    return KILN_EPARSE;
  for (const struct kiln_xml_node *e =
           kiln__xml_first(kiln__xml_find(r, "AutoScalingGroups"), "member");
       e != NULL; e = kiln__xml_next(e)) {
    struct kiln_asg_group *g =
        kiln__vec_push(px, &o->groups, &o->count, sizeof(*g));

    if (g == NULL)
      break;
    g->name = kiln__xml_str(px, e, "AutoScalingGroupName");
    g->arn = kiln__xml_str(px, e, "AutoScalingGroupARN");
    if ((!kiln__xml_i64(px, e, "MinSize", &g->min_size) ||
         !kiln__xml_i64(px, e, "MaxSize", &g->max_size) ||
         !kiln__xml_i64(px, e, "DesiredCapacity", &g->desired_capacity) ||
         g->name == NULL) &&
        px->err == 0)
      px->err = KILN_EPARSE;
    parse_lt(px, kiln__xml_find(e, "LaunchTemplate"), "LaunchTemplate",
             &g->launch_template);
    g->vpc_zone_identifier = kiln__xml_str(px, e, "VPCZoneIdentifier");
    if (g->vpc_zone_identifier != NULL && g->vpc_zone_identifier[0] == '\0')
      g->vpc_zone_identifier = NULL;
    kiln__xml_strs(px, e, "AvailabilityZones", &g->availability_zones,
                   &g->availability_zone_count);
    for (const struct kiln_xml_node *i =
             kiln__xml_first(kiln__xml_find(e, "Instances"), "member");
         i != NULL; i = kiln__xml_next(i)) {
      struct kiln_asg_instance *in =
          kiln__vec_push(px, &g->instances, &g->instance_count, sizeof(*in));

      if (in == NULL)
        return px->err;
      in->instance_id = kiln__xml_str(px, i, "InstanceId");
      in->lifecycle_state = kiln__xml_str(px, i, "LifecycleState");
      in->health_status = kiln__xml_str(px, i, "HealthStatus");
      in->availability_zone = kiln__xml_str(px, i, "AvailabilityZone");
      parse_lt(px, kiln__xml_find(i, "LaunchTemplate"),
               "Instances.LaunchTemplate", &in->launch_template);
    }
    for (const struct kiln_xml_node *t =
             kiln__xml_first(kiln__xml_find(e, "Tags"), "member");
         t != NULL; t = kiln__xml_next(t)) {
      struct kiln_asg_tag *tag =
          kiln__vec_push(px, &g->tags, &g->tag_count, sizeof(*tag));

      if (tag == NULL)
        return px->err;
      tag->key = kiln__xml_str(px, t, "Key");
      tag->value = kiln__xml_str(px, t, "Value");
      if (tag->value == NULL)
        tag->value = "";
      kiln__xml_bool(px, t, "PropagateAtLaunch", &tag->propagate_at_launch);
    }
    g->status = kiln__xml_str(px, e, "Status");
    kiln__xml_strs(px, e, "TargetGroupARNs", &g->target_group_arns,
                   &g->target_group_count);
    g->health_check_type = kiln__xml_str(px, e, "HealthCheckType");
    g->health_check_grace_period_s.set = kiln__xml_i64(
        px, e, "HealthCheckGracePeriod", &g->health_check_grace_period_s.value);
  }
  *next = kiln__xml_str(px, r, "NextToken");
  return px->err;
}

const struct kiln__op_desc kiln__asg_describe_groups_desc = {
    KILN_AWS_AUTOSCALING, "DescribeAutoScalingGroups", NULL, NULL, "NextToken",
    parse_groups};

int kiln_asg_describe_groups(struct kiln_aws_client *client,
                             const struct kiln_asg_describe_groups_request *req,
                             struct kiln_arena *arena,
                             struct kiln_asg_groups *out, kiln_aws_done_cb *cb,
                             void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__asg_describe_groups_body(req, &b);
  return kiln__op_start(client, &kiln__asg_describe_groups_desc, &b, arena, out,
                        sizeof(*out), cb, data);
}

/* ---- CreateAutoScalingGroup ---- */

static int parse_empty(struct kiln__px *px, void *out,
                       const struct kiln_aws_response *res, const char **next)
{
  char name[96];

  (void)px;
  (void)out;
  (void)next;
  snprintf(name, sizeof(name), "%sResponse", res->action);
  if (res->xml == NULL || strcmp(res->xml->name, name) != 0)
    return KILN_EPARSE;
  return 0;
}

int kiln__asg_create_group_body(const struct kiln_asg_create_group_request *r,
                                struct kiln__op_body *b)
{
  init(b, "CreateAutoScalingGroup");
  if (r->name == NULL || r->launch_template.version == NULL ||
      (r->launch_template.id == NULL) == (r->launch_template.name == NULL))
    b->query.err = KILN_EINVAL;
  kiln__query_str(&b->query, r->name, "AutoScalingGroupName");
  launch_template(&b->query, "LaunchTemplate", &r->launch_template);
  kiln__query_i64(&b->query, r->min_size, "MinSize");
  kiln__query_i64(&b->query, r->max_size, "MaxSize");
  opt_int(&b->query, r->desired_capacity, "DesiredCapacity");
  strs(&b->query, "AvailabilityZones", r->availability_zones,
       r->availability_zone_count);
  kiln__query_str(&b->query, r->vpc_zone_identifier, "VPCZoneIdentifier");
  strs(&b->query, "TargetGroupARNs", (const char **)r->target_group_arns,
       r->target_group_count);
  kiln__query_str(&b->query, r->health_check_type, "HealthCheckType");
  opt_int(&b->query, r->health_check_grace_period_s, "HealthCheckGracePeriod");
  for (size_t i = 0; i < r->tag_count; i++) {
    kiln__query_str(&b->query, r->tags[i].key, "Tags.member.%zu.Key", i + 1);
    kiln__query_str(&b->query, r->tags[i].value ? r->tags[i].value : "",
                    "Tags.member.%zu.Value", i + 1);
    kiln__query_bool(&b->query, r->tags[i].propagate_at_launch,
                     "Tags.member.%zu.PropagateAtLaunch", i + 1);
  }
  return b->query.err;
}

const struct kiln__op_desc kiln__asg_create_group_desc = {
    KILN_AWS_AUTOSCALING, "CreateAutoScalingGroup", NULL, NULL, NULL,
    parse_empty};

int kiln_asg_create_group(struct kiln_aws_client *client,
                          const struct kiln_asg_create_group_request *req,
                          kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__asg_create_group_body(req, &b);
  return kiln__op_start(client, &kiln__asg_create_group_desc, &b, NULL, NULL, 0,
                        cb, data);
}

/* ---- UpdateAutoScalingGroup ---- */

int kiln__asg_update_group_body(const struct kiln_asg_update_group_request *r,
                                struct kiln__op_body *b)
{
  init(b, "UpdateAutoScalingGroup");
  if (r->name == NULL)
    b->query.err = KILN_EINVAL;
  kiln__query_str(&b->query, r->name, "AutoScalingGroupName");
  launch_template(&b->query, "LaunchTemplate", &r->launch_template);
  opt_int(&b->query, r->min_size, "MinSize");
  opt_int(&b->query, r->max_size, "MaxSize");
  opt_int(&b->query, r->desired_capacity, "DesiredCapacity");
  kiln__query_str(&b->query, r->vpc_zone_identifier, "VPCZoneIdentifier");
  kiln__query_str(&b->query, r->health_check_type, "HealthCheckType");
  opt_int(&b->query, r->health_check_grace_period_s, "HealthCheckGracePeriod");
  return b->query.err;
}

const struct kiln__op_desc kiln__asg_update_group_desc = {
    KILN_AWS_AUTOSCALING, "UpdateAutoScalingGroup", NULL, NULL, NULL,
    parse_empty};

int kiln_asg_update_group(struct kiln_aws_client *client,
                          const struct kiln_asg_update_group_request *req,
                          kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__asg_update_group_body(req, &b);
  return kiln__op_start(client, &kiln__asg_update_group_desc, &b, NULL, NULL, 0,
                        cb, data);
}

/* ---- CreateOrUpdateTags ---- */

int kiln__asg_create_or_update_tags_body(
    const struct kiln_asg_create_or_update_tags_request *r,
    struct kiln__op_body *b)
{
  init(b, "CreateOrUpdateTags");
  if (r->group_name == NULL || r->tag_count == 0)
    b->query.err = KILN_EINVAL;
  for (size_t i = 0; i < r->tag_count; i++) {
    kiln__query_str(&b->query, r->group_name, "Tags.member.%zu.ResourceId",
                    i + 1);
    kiln__query_str(&b->query, "auto-scaling-group",
                    "Tags.member.%zu.ResourceType", i + 1);
    kiln__query_str(&b->query, r->tags[i].key, "Tags.member.%zu.Key", i + 1);
    kiln__query_str(&b->query, r->tags[i].value ? r->tags[i].value : "",
                    "Tags.member.%zu.Value", i + 1);
    kiln__query_bool(&b->query, r->tags[i].propagate_at_launch,
                     "Tags.member.%zu.PropagateAtLaunch", i + 1);
  }
  return b->query.err;
}

const struct kiln__op_desc kiln__asg_create_or_update_tags_desc = {
    KILN_AWS_AUTOSCALING, "CreateOrUpdateTags", NULL, NULL, NULL, parse_empty};

int kiln_asg_create_or_update_tags(
    struct kiln_aws_client *client,
    const struct kiln_asg_create_or_update_tags_request *req,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__asg_create_or_update_tags_body(req, &b);
  return kiln__op_start(client, &kiln__asg_create_or_update_tags_desc, &b, NULL,
                        NULL, 0, cb, data);
}

/* ---- DeleteTags ---- */

int kiln__asg_delete_tags_body(const struct kiln_asg_delete_tags_request *r,
                               struct kiln__op_body *b)
{
  init(b, "DeleteTags");
  if (r->group_name == NULL || r->key_count == 0)
    b->query.err = KILN_EINVAL;
  for (size_t i = 0; i < r->key_count; i++) {
    kiln__query_str(&b->query, r->group_name, "Tags.member.%zu.ResourceId",
                    i + 1);
    kiln__query_str(&b->query, "auto-scaling-group",
                    "Tags.member.%zu.ResourceType", i + 1);
    kiln__query_str(&b->query, r->keys[i], "Tags.member.%zu.Key", i + 1);
  }
  return b->query.err;
}

const struct kiln__op_desc kiln__asg_delete_tags_desc = {
    KILN_AWS_AUTOSCALING, "DeleteTags", NULL, NULL, NULL, parse_empty};

int kiln_asg_delete_tags(struct kiln_aws_client *client,
                         const struct kiln_asg_delete_tags_request *req,
                         kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__asg_delete_tags_body(req, &b);
  return kiln__op_start(client, &kiln__asg_delete_tags_desc, &b, NULL, NULL, 0,
                        cb, data);
}

/* ---- Attach/DetachLoadBalancerTargetGroups ---- */

static void target_groups_body(const struct kiln_asg_target_groups_request *r,
                               const char *action, struct kiln__op_body *b)
{
  init(b, action);
  if (r->group_name == NULL || r->count == 0)
    b->query.err = KILN_EINVAL;
  kiln__query_str(&b->query, r->group_name, "AutoScalingGroupName");
  strs(&b->query, "TargetGroupARNs", (const char **)r->arns, r->count);
}

int kiln__asg_attach_target_groups_body(
    const struct kiln_asg_target_groups_request *r, struct kiln__op_body *b)
{
  target_groups_body(r, "AttachLoadBalancerTargetGroups", b);
  return b->query.err;
}

int kiln__asg_detach_target_groups_body(
    const struct kiln_asg_target_groups_request *r, struct kiln__op_body *b)
{
  target_groups_body(r, "DetachLoadBalancerTargetGroups", b);
  return b->query.err;
}

const struct kiln__op_desc kiln__asg_attach_target_groups_desc = {
    KILN_AWS_AUTOSCALING, "AttachLoadBalancerTargetGroups", NULL, NULL, NULL,
    parse_empty};
const struct kiln__op_desc kiln__asg_detach_target_groups_desc = {
    KILN_AWS_AUTOSCALING, "DetachLoadBalancerTargetGroups", NULL, NULL, NULL,
    parse_empty};

static int target_groups_op(struct kiln_aws_client *client,
                            const struct kiln_asg_target_groups_request *req,
                            const struct kiln__op_desc *desc,
                            kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  target_groups_body(req, desc->action, &b);
  return kiln__op_start(client, desc, &b, NULL, NULL, 0, cb, data);
}

int kiln_asg_attach_target_groups(
    struct kiln_aws_client *client,
    const struct kiln_asg_target_groups_request *req, kiln_aws_done_cb *cb,
    void *data)
{
  return target_groups_op(client, req, &kiln__asg_attach_target_groups_desc, cb,
                          data);
}

int kiln_asg_detach_target_groups(
    struct kiln_aws_client *client,
    const struct kiln_asg_target_groups_request *req, kiln_aws_done_cb *cb,
    void *data)
{
  return target_groups_op(client, req, &kiln__asg_detach_target_groups_desc, cb,
                          data);
}

/* ---- StartInstanceRefresh / CancelInstanceRefresh ---- */

static void preferences(struct kiln__query *q,
                        const struct kiln_asg_refresh_preferences *p)
{
  opt_int(q, p->min_healthy_percentage, "Preferences.MinHealthyPercentage");
  opt_int(q, p->instance_warmup_s, "Preferences.InstanceWarmup");
  opt_bool(q, p->skip_matching, "Preferences.SkipMatching");
  opt_bool(q, p->auto_rollback, "Preferences.AutoRollback");
  opt_int(q, p->max_healthy_percentage, "Preferences.MaxHealthyPercentage");
  for (size_t i = 0; i < p->alarm_count; i++)
    kiln__query_str(q, p->alarms[i],
                    "Preferences.AlarmSpecification.Alarms.member.%zu", i + 1);
  for (size_t i = 0; i < p->checkpoint_count; i++)
    kiln__query_i64(q, p->checkpoints[i],
                    "Preferences.CheckpointPercentages.member.%zu", i + 1);
  opt_int(q, p->checkpoint_delay_s, "Preferences.CheckpointDelay");
  opt_int(q, p->bake_time_s, "Preferences.BakeTime");
}

int kiln__asg_start_instance_refresh_body(
    const struct kiln_asg_start_instance_refresh_request *r,
    struct kiln__op_body *b)
{
  init(b, "StartInstanceRefresh");
  if (r->group_name == NULL)
    b->query.err = KILN_EINVAL;
  kiln__query_str(&b->query, r->group_name, "AutoScalingGroupName");
  launch_template(&b->query, "DesiredConfiguration.LaunchTemplate",
                  &r->desired_launch_template);
  preferences(&b->query, &r->preferences);
  return b->query.err;
}

static int parse_refresh_id(struct kiln__px *px, void *out,
                            const struct kiln_aws_response *res,
                            const char **next)
{
  struct kiln_asg_refresh_id *o = out;
  const struct kiln_xml_node *r = result(res, res->action);

  (void)next;
  if (r == NULL)
    return KILN_EPARSE;
  o->instance_refresh_id = kiln__xml_str(px, r, "InstanceRefreshId");
  if (o->instance_refresh_id == NULL && px->err == 0)
    px->err = KILN_EPARSE;
  return px->err;
}

const struct kiln__op_desc kiln__asg_start_instance_refresh_desc = {
    KILN_AWS_AUTOSCALING, "StartInstanceRefresh", NULL, NULL, NULL,
    parse_refresh_id};

int kiln_asg_start_instance_refresh(
    struct kiln_aws_client *client,
    const struct kiln_asg_start_instance_refresh_request *req,
    struct kiln_arena *arena, struct kiln_asg_refresh_id *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__asg_start_instance_refresh_body(req, &b);
  return kiln__op_start(client, &kiln__asg_start_instance_refresh_desc, &b,
                        arena, out, sizeof(*out), cb, data);
}

int kiln__asg_cancel_instance_refresh_body(
    const struct kiln_asg_cancel_instance_refresh_request *r,
    struct kiln__op_body *b)
{
  init(b, "CancelInstanceRefresh");
  if (r->group_name == NULL)
    b->query.err = KILN_EINVAL;
  kiln__query_str(&b->query, r->group_name, "AutoScalingGroupName");
  return b->query.err;
}

const struct kiln__op_desc kiln__asg_cancel_instance_refresh_desc = {
    KILN_AWS_AUTOSCALING, "CancelInstanceRefresh", NULL, NULL, NULL,
    parse_refresh_id};

int kiln_asg_cancel_instance_refresh(
    struct kiln_aws_client *client,
    const struct kiln_asg_cancel_instance_refresh_request *req,
    struct kiln_arena *arena, struct kiln_asg_refresh_id *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__asg_cancel_instance_refresh_body(req, &b);
  return kiln__op_start(client, &kiln__asg_cancel_instance_refresh_desc, &b,
                        arena, out, sizeof(*out), cb, data);
}

/* ---- DescribeInstanceRefreshes ---- */

int kiln__asg_describe_instance_refreshes_body(
    const struct kiln_asg_describe_instance_refreshes_request *r,
    struct kiln__op_body *b)
{
  init(b, "DescribeInstanceRefreshes");
  if (r->group_name == NULL)
    b->query.err = KILN_EINVAL;
  kiln__query_str(&b->query, r->group_name, "AutoScalingGroupName");
  strs(&b->query, "InstanceRefreshIds", r->ids, r->id_count);
  if (r->max_records > 0)
    kiln__query_i64(&b->query, r->max_records, "MaxRecords");
  return b->query.err;
}

static void opt_i(struct kiln__px *px, const struct kiln_xml_node *n,
                  const char *path, struct kiln_aws_opt_int *v)
{
  v->set = kiln__xml_i64(px, n, path, &v->value);
}

static void parse_checkpoints(struct kiln__px *px,
                              const struct kiln_xml_node *prefs,
                              struct kiln_asg_refresh_preferences *out)
{
  int64_t *list = NULL;
  size_t n = 0;
  for (const struct kiln_xml_node *m = kiln__xml_first(
           kiln__xml_find(prefs, "CheckpointPercentages"), "member");
       m != NULL && px->err == 0; m = kiln__xml_next(m)) {
    int64_t *v = kiln__vec_push(px, &list, &n, sizeof(*v));
    if (v != NULL)
      kiln__xml_i64(px, m, "", v);
  }
  out->checkpoints = list;
  out->checkpoint_count = n;
}

static int parse_refreshes(struct kiln__px *px, void *out,
                           const struct kiln_aws_response *res,
                           const char **next)
{
  struct kiln_asg_instance_refreshes *o = out;
  const struct kiln_xml_node *r = result(res, "DescribeInstanceRefreshes");

  if (r == NULL)
    return KILN_EPARSE;
  for (const struct kiln_xml_node *e =
           kiln__xml_first(kiln__xml_find(r, "InstanceRefreshes"), "member");
       e != NULL; e = kiln__xml_next(e)) {
    struct kiln_asg_instance_refresh *f =
        kiln__vec_push(px, &o->refreshes, &o->count, sizeof(*f));
    const struct kiln_xml_node *p;

    if (f == NULL)
      break;
    f->id = kiln__xml_str(px, e, "InstanceRefreshId");
    f->group_name = kiln__xml_str(px, e, "AutoScalingGroupName");
    f->status = kiln__xml_str(px, e, "Status");
    f->status_reason = kiln__xml_str(px, e, "StatusReason");
    opt_i(px, e, "PercentageComplete", &f->percentage_complete);
    opt_i(px, e, "InstancesToUpdate", &f->instances_to_update);
    f->start_time = kiln__xml_str(px, e, "StartTime");
    f->end_time = kiln__xml_str(px, e, "EndTime");
    parse_lt(px, kiln__xml_find(e, "DesiredConfiguration/LaunchTemplate"),
             "DesiredConfiguration.LaunchTemplate",
             &f->desired_launch_template);
    p = kiln__xml_find(e, "Preferences");
    opt_i(px, p, "MinHealthyPercentage",
          &f->preferences.min_healthy_percentage);
    opt_i(px, p, "MaxHealthyPercentage",
          &f->preferences.max_healthy_percentage);
    opt_i(px, p, "InstanceWarmup", &f->preferences.instance_warmup_s);
    f->preferences.skip_matching.set = kiln__xml_bool(
        px, p, "SkipMatching", &f->preferences.skip_matching.value);
    f->preferences.auto_rollback.set = kiln__xml_bool(
        px, p, "AutoRollback", &f->preferences.auto_rollback.value);
    opt_i(px, p, "CheckpointDelay", &f->preferences.checkpoint_delay_s);
    opt_i(px, p, "BakeTime", &f->preferences.bake_time_s);
    parse_checkpoints(px, p, &f->preferences);
    p = kiln__xml_find(e, "RollbackDetails");
    f->rollback_reason = kiln__xml_str(px, p, "RollbackReason");
    f->rollback_start_time = kiln__xml_str(px, p, "RollbackStartTime");
    opt_i(px, p, "PercentageCompleteOnRollback",
          &f->percentage_complete_on_rollback);
    opt_i(px, p, "InstancesToUpdateOnRollback",
          &f->instances_to_update_on_rollback);
    if ((f->id == NULL || f->status == NULL) && px->err == 0)
      px->err = KILN_EPARSE;
  }
  *next = kiln__xml_str(px, r, "NextToken");
  return px->err;
}

const struct kiln__op_desc kiln__asg_describe_instance_refreshes_desc = {
    KILN_AWS_AUTOSCALING, "DescribeInstanceRefreshes", NULL, NULL, "NextToken",
    parse_refreshes};

int kiln_asg_describe_instance_refreshes(
    struct kiln_aws_client *client,
    const struct kiln_asg_describe_instance_refreshes_request *req,
    struct kiln_arena *arena, struct kiln_asg_instance_refreshes *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__asg_describe_instance_refreshes_body(req, &b);
  return kiln__op_start(client, &kiln__asg_describe_instance_refreshes_desc, &b,
                        arena, out, sizeof(*out), cb, data);
}

/* ---- DescribeScalingActivities ---- */

int kiln__asg_describe_scaling_activities_body(
    const struct kiln_asg_describe_scaling_activities_request *r,
    struct kiln__op_body *b)
{
  init(b, "DescribeScalingActivities");
  if (r->group_name == NULL || r->max_records < 0 || r->max_records > 100)
    b->query.err = KILN_EINVAL;
  kiln__query_str(&b->query, r->group_name, "AutoScalingGroupName");
  if (r->max_records > 0)
    kiln__query_i64(&b->query, r->max_records, "MaxRecords");
  return b->query.err;
}

static int parse_activities(struct kiln__px *px, void *out,
                            const struct kiln_aws_response *res,
                            const char **next)
{
  struct kiln_asg_activities *o = out;
  const struct kiln_xml_node *r = result(res, "DescribeScalingActivities");

  (void)next; /* one page: the newest activities are the ones that count */
  if (r == NULL)
    return KILN_EPARSE;
  for (const struct kiln_xml_node *e =
           kiln__xml_first(kiln__xml_find(r, "Activities"), "member");
       e != NULL; e = kiln__xml_next(e)) {
    struct kiln_asg_activity *a =
        kiln__vec_push(px, &o->activities, &o->count, sizeof(*a));
    if (a == NULL)
      break;
    a->id = kiln__xml_str(px, e, "ActivityId");
    a->description = kiln__xml_str(px, e, "Description");
    a->cause = kiln__xml_str(px, e, "Cause");
    a->status_code = kiln__xml_str(px, e, "StatusCode");
    a->status_message = kiln__xml_str(px, e, "StatusMessage");
    a->start_time = kiln__xml_str(px, e, "StartTime");
    a->end_time = kiln__xml_str(px, e, "EndTime");
    if (a->status_code == NULL && px->err == 0)
      px->err = KILN_EPARSE;
  }
  return px->err;
}

const struct kiln__op_desc kiln__asg_describe_scaling_activities_desc = {
    KILN_AWS_AUTOSCALING, "DescribeScalingActivities", NULL, NULL, NULL,
    parse_activities};

int kiln_asg_describe_scaling_activities(
    struct kiln_aws_client *client,
    const struct kiln_asg_describe_scaling_activities_request *req,
    struct kiln_arena *arena, struct kiln_asg_activities *out,
    kiln_aws_done_cb *cb, void *data)
{
  struct kiln__op_body b;

  if (req == NULL)
    return KILN_EINVAL;
  kiln__asg_describe_scaling_activities_body(req, &b);
  return kiln__op_start(client, &kiln__asg_describe_scaling_activities_desc,
                        &b, arena, out, sizeof(*out), cb, data);
}
