/* The serialisers and descriptors of every typed operation, for the unit
 * tests (which check the exact wire form and parse canned responses) and
 * nothing else. Not a public header.
 */
#ifndef KILN_AWS_OPS_PRIVATE_H
#define KILN_AWS_OPS_PRIVATE_H

#include "aws_client_private.h"

#include "kiln/autoscaling.h"
#include "kiln/ec2.h"
#include "kiln/imagebuilder.h"
#include "kiln/ssm.h"

#define KILN__OP(name, request)                                                \
  extern const struct kiln__op_desc kiln__##name##_desc;                       \
  int kiln__##name##_body(const struct request *r, struct kiln__op_body *b);

KILN__OP(ec2_describe_images, kiln_ec2_describe_images_request)
KILN__OP(ec2_create_tags, kiln_ec2_create_tags_request)
KILN__OP(ec2_copy_image, kiln_ec2_copy_image_request)
KILN__OP(ec2_share_image, kiln_ec2_share_request)
KILN__OP(ec2_share_snapshot, kiln_ec2_share_request)
KILN__OP(ec2_delete_tags, kiln_ec2_delete_tags_request)
KILN__OP(ec2_describe_launch_templates,
         kiln_ec2_describe_launch_templates_request)
KILN__OP(ec2_describe_launch_template_versions,
         kiln_ec2_describe_launch_template_versions_request)
KILN__OP(ec2_create_launch_template, kiln_ec2_create_launch_template_request)
KILN__OP(ec2_create_launch_template_version,
         kiln_ec2_create_launch_template_version_request)
KILN__OP(ec2_modify_launch_template, kiln_ec2_modify_launch_template_request)
KILN__OP(ec2_describe_instances, kiln_ec2_describe_instances_request)
KILN__OP(ec2_describe_snapshots, kiln_ec2_describe_snapshots_request)
KILN__OP(ec2_delete_launch_template_versions,
         kiln_ec2_delete_launch_template_versions_request)
extern const struct kiln__op_desc kiln__ec2_deregister_image_desc;
extern const struct kiln__op_desc kiln__ec2_delete_snapshot_desc;

KILN__OP(asg_describe_groups, kiln_asg_describe_groups_request)
KILN__OP(asg_create_group, kiln_asg_create_group_request)
KILN__OP(asg_update_group, kiln_asg_update_group_request)
KILN__OP(asg_create_or_update_tags, kiln_asg_create_or_update_tags_request)
KILN__OP(asg_delete_tags, kiln_asg_delete_tags_request)
KILN__OP(asg_attach_target_groups, kiln_asg_target_groups_request)
KILN__OP(asg_detach_target_groups, kiln_asg_target_groups_request)
KILN__OP(asg_start_instance_refresh, kiln_asg_start_instance_refresh_request)
KILN__OP(asg_describe_instance_refreshes,
         kiln_asg_describe_instance_refreshes_request)
KILN__OP(asg_cancel_instance_refresh, kiln_asg_cancel_instance_refresh_request)
KILN__OP(asg_describe_scaling_activities,
         kiln_asg_describe_scaling_activities_request)

KILN__OP(ssm_get_parameters, kiln_ssm_get_parameters_request)
KILN__OP(ssm_get_parameter, kiln_ssm_get_parameter_request)

KILN__OP(ib_create_component, kiln_ib_create_component_request)
KILN__OP(ib_list_components, kiln_ib_list_request)
KILN__OP(ib_get_component, kiln_ib_get_component_request)
KILN__OP(ib_create_image_recipe, kiln_ib_create_image_recipe_request)
KILN__OP(ib_list_image_recipes, kiln_ib_list_request)
KILN__OP(ib_create_infrastructure_configuration,
         kiln_ib_infrastructure_configuration_request)
KILN__OP(ib_update_infrastructure_configuration,
         kiln_ib_infrastructure_configuration_request)
KILN__OP(ib_list_infrastructure_configurations, kiln_ib_list_request)
KILN__OP(ib_create_image, kiln_ib_create_image_request)
KILN__OP(ib_get_image, kiln_ib_get_image_request)

#undef KILN__OP

#endif
