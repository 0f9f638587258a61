/* The typed AWS operations without a network: the exact wire form each
 * request takes (form body, JSON, path and query), and parsing of
 * hand-written responses (from the service models), including empty lists,
 * missing optional fields, garbage and truncated bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws_ops_private.h"
#include "kiln/error.h"

/* ---- serialisation ---- */

static void expect_render(const struct kiln__op_desc *d,
                          struct kiln__op_body *b, int body_err,
                          const char *want)
{
  struct kiln_buf out;
  int err;

  kiln_buf_init(&out, 0);
  if (body_err != 0) {
    assert_int_equal(body_err, KILN_EINVAL);
    assert_int_equal(kiln__op_render(d, b, &out), KILN_EINVAL);
    kiln_buf_cleanup(&out);
    return;
  }
  err = kiln__op_render(d, b, &out);
  assert_int_equal(err, 0);
  assert_string_equal(out.data ? out.data : "", want);
  kiln_buf_cleanup(&out);
}

#define RENDER(name, req, want)                                                \
  do {                                                                         \
    struct kiln__op_body b_;                                                   \
    int e_ = kiln__##name##_body(req, &b_);                                    \
    expect_render(&kiln__##name##_desc, &b_, e_, want);                        \
  } while (0)

#define RENDER_FAILS(name, req)                                                \
  do {                                                                         \
    struct kiln__op_body b_;                                                   \
    int e_ = kiln__##name##_body(req, &b_);                                    \
    assert_int_equal(e_, KILN_EINVAL);                                         \
    kiln__op_body_cleanup(&b_);                                                \
  } while (0)

static void test_ec2_describe_images(void **state)
{
  const char *owners[] = {"self"};
  const char *ids[] = {"ami-1", "ami-2"};
  const char *digest[] = {"sha256:ab/cd+ef=", "x y"};
  const char *key[] = {"kiln:app"};
  struct kiln_ec2_filter filters[] = {{"tag:kiln:digest", digest, 2},
                                      {"tag-key", key, 1}};
  struct kiln_ec2_describe_images_request r = {0};

  (void)state;
  RENDER(ec2_describe_images, &r, "Action=DescribeImages&Version=2016-11-15");
  r.owners = owners;
  r.owner_count = 1;
  r.image_ids = ids;
  r.image_id_count = 2;
  r.filters = filters;
  r.filter_count = 2;
  r.max_results = 500;
  RENDER(ec2_describe_images, &r,
         "Action=DescribeImages&Version=2016-11-15&Owner.1=self"
         "&ImageId.1=ami-1&ImageId.2=ami-2"
         "&Filter.1.Name=tag%3Akiln%3Adigest"
         "&Filter.1.Value.1=sha256%3Aab%2Fcd%2Bef%3D&Filter.1.Value.2=x%20y"
         "&Filter.2.Name=tag-key&Filter.2.Value.1=kiln%3Aapp&MaxResults=500");
}

static void test_ec2_create_tags(void **state)
{
  const char *ids[] = {"ami-1"};
  struct kiln_aws_tag tags[] = {{"kiln:commit", "h\xc3\xa9llo \xe2\x9c\x93"},
                                {"empty", ""},
                                {"nullv", NULL}};
  struct kiln_ec2_create_tags_request r = {ids, 1, tags, 3};
  struct kiln_ec2_create_tags_request none = {ids, 1, NULL, 0};

  (void)state;
  RENDER(ec2_create_tags, &r,
         "Action=CreateTags&Version=2016-11-15&ResourceId.1=ami-1"
         "&Tag.1.Key=kiln%3Acommit&Tag.1.Value=h%C3%A9llo%20%E2%9C%93"
         "&Tag.2.Key=empty&Tag.2.Value=&Tag.3.Key=nullv&Tag.3.Value=");
  RENDER_FAILS(ec2_create_tags, &none);
  {
    const char *const keys[] = {"Owner", "kiln:x"};
    struct kiln_ec2_delete_tags_request d = {ids, 1, keys, 2};
    RENDER(ec2_delete_tags, &d,
           "Action=DeleteTags&Version=2016-11-15&ResourceId.1=ami-1"
           "&Tag.1.Key=Owner&Tag.2.Key=kiln%3Ax");
    d.key_count = 0;
    RENDER_FAILS(ec2_delete_tags, &d);
  }
}

static void test_ec2_launch_templates(void **state)
{
  const char *names[] = {"a", "b"};
  const char *versions[] = {"$Default", "$Latest"};
  struct kiln_ec2_describe_launch_templates_request d = {
      .names = names, .name_count = 2, .max_results = 5};
  struct kiln_ec2_describe_launch_template_versions_request v = {0};
  struct kiln_ec2_modify_launch_template_request m = {"lt-1", NULL, "4", "tok"};
  struct kiln_ec2_modify_launch_template_request both = {"lt-1", "n", "4",
                                                         NULL};

  (void)state;
  RENDER(ec2_describe_launch_templates, &d,
         "Action=DescribeLaunchTemplates&Version=2016-11-15"
         "&LaunchTemplateName.1=a&LaunchTemplateName.2=b&MaxResults=5");
  v.versions = versions;
  v.version_count = 1;
  RENDER(ec2_describe_launch_template_versions, &v,
         "Action=DescribeLaunchTemplateVersions&Version=2016-11-15"
         "&LaunchTemplateVersion.1=%24Default");
  v.launch_template_name = "hello";
  v.version_count = 2;
  v.max_results = 200;
  RENDER(ec2_describe_launch_template_versions, &v,
         "Action=DescribeLaunchTemplateVersions&Version=2016-11-15"
         "&LaunchTemplateName=hello&LaunchTemplateVersion.1=%24Default"
         "&LaunchTemplateVersion.2=%24Latest&MaxResults=200");
  RENDER(ec2_modify_launch_template, &m,
         "Action=ModifyLaunchTemplate&Version=2016-11-15&ClientToken=tok"
         "&LaunchTemplateId=lt-1&SetDefaultVersion=4");
  RENDER_FAILS(ec2_modify_launch_template, &both);
}

static void test_ec2_create_launch_template(void **state)
{
  const char *sgs[] = {"sg-1", "sg-2"};
  struct kiln_ec2_block_device bd[] = {
      {"/dev/xvda", 1, {1, 8}, "gp3", {1, 1}, {1, 0}, {1, 3000}, {1, 125}},
      {"/dev/xvdb", 0, {0, 0}, NULL, {0, 0}, {0, 0}, {0, 0}, {0, 0}}};
  struct kiln_aws_tag itags[] = {{"kiln:app", "hello"}};
  struct kiln_ec2_tag_spec specs[] = {{"instance", itags, 1}};
  struct kiln_aws_tag ltags[] = {{"Owner", "a&b=c"}};
  struct kiln_ec2_create_launch_template_request r = {0};
  struct kiln_ec2_create_launch_template_version_request v = {0};

  (void)state;
  r.name = "hello";
  r.client_token = "tok-1";
  r.version_description = "commit abc, digest sha256:ff";
  r.data.image_id = "ami-1";
  r.data.instance_type = "t3.micro";
  r.data.user_data = "IyEvYmluL3No+/=";
  r.data.security_group_ids = sgs;
  r.data.security_group_id_count = 2;
  r.data.iam_instance_profile_name = "app";
  r.data.block_devices = bd;
  r.data.block_device_count = 2;
  r.data.http_tokens = "required";
  r.data.http_put_response_hop_limit = (struct kiln_aws_opt_int){1, 2};
  r.data.http_endpoint = "enabled";
  r.data.tag_specs = specs;
  r.data.tag_spec_count = 1;
  r.tags = ltags;
  r.tag_count = 1;
  RENDER(ec2_create_launch_template, &r,
         "Action=CreateLaunchTemplate&Version=2016-11-15&ClientToken=tok-1"
         "&LaunchTemplateName=hello"
         "&VersionDescription=commit%20abc%2C%20digest%20sha256%3Aff"
         "&LaunchTemplateData.ImageId=ami-1"
         "&LaunchTemplateData.InstanceType=t3.micro"
         "&LaunchTemplateData.UserData=IyEvYmluL3No%2B%2F%3D"
         "&LaunchTemplateData.SecurityGroupId.1=sg-1"
         "&LaunchTemplateData.SecurityGroupId.2=sg-2"
         "&LaunchTemplateData.IamInstanceProfile.Name=app"
         "&LaunchTemplateData.BlockDeviceMapping.1.DeviceName=%2Fdev%2Fxvda"
         "&LaunchTemplateData.BlockDeviceMapping.1.Ebs.Encrypted=true"
         "&LaunchTemplateData.BlockDeviceMapping.1.Ebs.DeleteOnTermination="
         "false"
         "&LaunchTemplateData.BlockDeviceMapping.1.Ebs.Iops=3000"
         "&LaunchTemplateData.BlockDeviceMapping.1.Ebs.VolumeSize=8"
         "&LaunchTemplateData.BlockDeviceMapping.1.Ebs.VolumeType=gp3"
         "&LaunchTemplateData.BlockDeviceMapping.1.Ebs.Throughput=125"
         "&LaunchTemplateData.BlockDeviceMapping.2.DeviceName=%2Fdev%2Fxvdb"
         "&LaunchTemplateData.MetadataOptions.HttpTokens=required"
         "&LaunchTemplateData.MetadataOptions.HttpPutResponseHopLimit=2"
         "&LaunchTemplateData.MetadataOptions.HttpEndpoint=enabled"
         "&LaunchTemplateData.TagSpecification.1.ResourceType=instance"
         "&LaunchTemplateData.TagSpecification.1.Tag.1.Key=kiln%3Aapp"
         "&LaunchTemplateData.TagSpecification.1.Tag.1.Value=hello"
         "&TagSpecification.1.ResourceType=launch-template"
         "&TagSpecification.1.Tag.1.Key=Owner"
         "&TagSpecification.1.Tag.1.Value=a%26b%3Dc");
  v.launch_template_name = "hello";
  v.client_token = "t";
  v.data.image_id = "ami-2";
  RENDER(ec2_create_launch_template_version, &v,
         "Action=CreateLaunchTemplateVersion&Version=2016-11-15&ClientToken=t"
         "&LaunchTemplateName=hello&LaunchTemplateData.ImageId=ami-2");
  v.launch_template_id = "lt-1";
  RENDER_FAILS(ec2_create_launch_template_version, &v);
  r.name = NULL;
  RENDER_FAILS(ec2_create_launch_template, &r);
}

static void test_ec2_describe_instances(void **state)
{
  const char *ids[] = {"i-1", "i-2"};
  struct kiln_ec2_describe_instances_request r = {.instance_ids = ids,
                                                  .instance_id_count = 2};

  (void)state;
  RENDER(ec2_describe_instances, &r,
         "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1"
         "&InstanceId.2=i-2");
}

static void test_asg_requests(void **state)
{
  const char *names[] = {"a", "b c"};
  struct kiln_asg_describe_groups_request d = {names, 2, 100};
  struct kiln_asg_tag tags[] = {{"kiln:app", "hello", 1}, {"t", "", 0}};
  struct kiln_asg_create_group_request c = {0};
  struct kiln_asg_update_group_request u = {0};
  struct kiln_asg_start_instance_refresh_request s = {0};
  struct kiln_asg_describe_instance_refreshes_request dr = {"g", names, 1, 0};
  struct kiln_asg_cancel_instance_refresh_request cr = {"g"};
  const char *many[101];

  (void)state;
  RENDER(asg_describe_groups, &d,
         "Action=DescribeAutoScalingGroups&Version=2011-01-01"
         "&AutoScalingGroupNames.member.1=a"
         "&AutoScalingGroupNames.member.2=b%20c&MaxRecords=100");
  for (size_t i = 0; i < 101; i++)
    many[i] = "x";
  d.names = many;
  d.name_count = 101;
  RENDER_FAILS(asg_describe_groups, &d);
  c.name = "hello";
  c.launch_template = (struct kiln_asg_launch_template){"lt-1", NULL, "3", 0};
  c.min_size = 0;
  c.max_size = 3;
  c.vpc_zone_identifier = "subnet-1,subnet-2";
  c.tags = tags;
  c.tag_count = 2;
  RENDER(asg_create_group, &c,
         "Action=CreateAutoScalingGroup&Version=2011-01-01"
         "&AutoScalingGroupName=hello&LaunchTemplate.LaunchTemplateId=lt-1"
         "&LaunchTemplate.Version=3&MinSize=0&MaxSize=3"
         "&VPCZoneIdentifier=subnet-1%2Csubnet-2"
         "&Tags.member.1.Key=kiln%3Aapp&Tags.member.1.Value=hello"
         "&Tags.member.1.PropagateAtLaunch=true&Tags.member.2.Key=t"
         "&Tags.member.2.Value=&Tags.member.2.PropagateAtLaunch=false");
  c.desired_capacity = (struct kiln_aws_opt_int){1, 1};
  c.tags = NULL;
  c.tag_count = 0;
  c.vpc_zone_identifier = NULL;
  RENDER(asg_create_group, &c,
         "Action=CreateAutoScalingGroup&Version=2011-01-01"
         "&AutoScalingGroupName=hello&LaunchTemplate.LaunchTemplateId=lt-1"
         "&LaunchTemplate.Version=3&MinSize=0&MaxSize=3&DesiredCapacity=1");
  {
    static const char *const tgs[] = {"arn:tg/a", "arn:tg/b"};
    struct kiln_asg_target_groups_request tr = {"hello", tgs, 2};
    c.target_group_arns = tgs;
    c.target_group_count = 2;
    c.health_check_type = "ELB";
    c.health_check_grace_period_s = (struct kiln_aws_opt_int){1, 120};
    RENDER(asg_create_group, &c,
           "Action=CreateAutoScalingGroup&Version=2011-01-01"
           "&AutoScalingGroupName=hello&LaunchTemplate.LaunchTemplateId=lt-1"
           "&LaunchTemplate.Version=3&MinSize=0&MaxSize=3&DesiredCapacity=1"
           "&TargetGroupARNs.member.1=arn%3Atg%2Fa"
           "&TargetGroupARNs.member.2=arn%3Atg%2Fb"
           "&HealthCheckType=ELB&HealthCheckGracePeriod=120");
    RENDER(asg_attach_target_groups, &tr,
           "Action=AttachLoadBalancerTargetGroups&Version=2011-01-01"
           "&AutoScalingGroupName=hello"
           "&TargetGroupARNs.member.1=arn%3Atg%2Fa"
           "&TargetGroupARNs.member.2=arn%3Atg%2Fb");
    RENDER(asg_detach_target_groups, &tr,
           "Action=DetachLoadBalancerTargetGroups&Version=2011-01-01"
           "&AutoScalingGroupName=hello"
           "&TargetGroupARNs.member.1=arn%3Atg%2Fa"
           "&TargetGroupARNs.member.2=arn%3Atg%2Fb");
    tr.count = 0;
    RENDER_FAILS(asg_detach_target_groups, &tr);
    c.target_group_count = 0;
    c.health_check_type = NULL;
    c.health_check_grace_period_s = (struct kiln_aws_opt_int){0, 0};
  }
  c.launch_template.version = NULL;
  RENDER_FAILS(asg_create_group, &c);
  u.name = "hello";
  u.desired_capacity = (struct kiln_aws_opt_int){1, 0};
  RENDER(asg_update_group, &u,
         "Action=UpdateAutoScalingGroup&Version=2011-01-01"
         "&AutoScalingGroupName=hello&DesiredCapacity=0");
  s.group_name = "hello";
  s.desired_launch_template =
      (struct kiln_asg_launch_template){"lt-1", NULL, "4", 0};
  s.preferences.min_healthy_percentage = (struct kiln_aws_opt_int){1, 90};
  s.preferences.max_healthy_percentage = (struct kiln_aws_opt_int){1, 200};
  s.preferences.instance_warmup_s = (struct kiln_aws_opt_int){1, 300};
  s.preferences.skip_matching = (struct kiln_aws_opt_bool){1, 1};
  s.preferences.auto_rollback = (struct kiln_aws_opt_bool){1, 0};
  RENDER(asg_start_instance_refresh, &s,
         "Action=StartInstanceRefresh&Version=2011-01-01"
         "&AutoScalingGroupName=hello"
         "&DesiredConfiguration.LaunchTemplate.LaunchTemplateId=lt-1"
         "&DesiredConfiguration.LaunchTemplate.Version=4"
         "&Preferences.MinHealthyPercentage=90"
         "&Preferences.InstanceWarmup=300&Preferences.SkipMatching=true"
         "&Preferences.AutoRollback=false"
         "&Preferences.MaxHealthyPercentage=200");
  {
    static const char *const alarms[] = {"hello-5xx", "hello-p99"};
    static const int64_t checkpoints[] = {10, 50, 100};
    s.preferences.alarms = alarms;
    s.preferences.alarm_count = 2;
    s.preferences.checkpoints = checkpoints;
    s.preferences.checkpoint_count = 3;
    s.preferences.checkpoint_delay_s = (struct kiln_aws_opt_int){1, 600};
    s.preferences.bake_time_s = (struct kiln_aws_opt_int){1, 900};
  }
  RENDER(asg_start_instance_refresh, &s,
         "Action=StartInstanceRefresh&Version=2011-01-01"
         "&AutoScalingGroupName=hello"
         "&DesiredConfiguration.LaunchTemplate.LaunchTemplateId=lt-1"
         "&DesiredConfiguration.LaunchTemplate.Version=4"
         "&Preferences.MinHealthyPercentage=90"
         "&Preferences.InstanceWarmup=300&Preferences.SkipMatching=true"
         "&Preferences.AutoRollback=false"
         "&Preferences.MaxHealthyPercentage=200"
         "&Preferences.AlarmSpecification.Alarms.member.1=hello-5xx"
         "&Preferences.AlarmSpecification.Alarms.member.2=hello-p99"
         "&Preferences.CheckpointPercentages.member.1=10"
         "&Preferences.CheckpointPercentages.member.2=50"
         "&Preferences.CheckpointPercentages.member.3=100"
         "&Preferences.CheckpointDelay=600&Preferences.BakeTime=900");
  RENDER(asg_describe_instance_refreshes, &dr,
         "Action=DescribeInstanceRefreshes&Version=2011-01-01"
         "&AutoScalingGroupName=g&InstanceRefreshIds.member.1=a");
  RENDER(asg_cancel_instance_refresh, &cr,
         "Action=CancelInstanceRefresh&Version=2011-01-01"
         "&AutoScalingGroupName=g");
}

static void test_ssm_requests(void **state)
{
  const char *names[] = {"/a/b", "/\xc3\xa9t\xc3\xa9 \"q\""};
  struct kiln_ssm_get_parameters_request r = {names, 2, 0};
  struct kiln_ssm_get_parameter_request one = {"/x", 1};
  const char *eleven[11];

  (void)state;
  RENDER(ssm_get_parameters, &r,
         "{\"Names\":[\"/a/b\",\"/\xc3\xa9t\xc3\xa9 \\\"q\\\"\"]}");
  RENDER(ssm_get_parameter, &one, "{\"Name\":\"/x\",\"WithDecryption\":true}");
  for (size_t i = 0; i < 11; i++)
    eleven[i] = "/n";
  r.names = eleven;
  r.name_count = 11;
  RENDER_FAILS(ssm_get_parameters, &r);
  r.name_count = 0;
  RENDER_FAILS(ssm_get_parameters, &r);
}

static void test_imagebuilder_requests(void **state)
{
  const char *url[] = {"https://x/hello-${version}.jar"};
  struct kiln_ib_component_parameter params[] = {{"ArtifactUrl", url, 1}};
  struct kiln_ib_recipe_component comps[] = {
      {"arn:aws:imagebuilder:us-east-1:123:component/c/1.0.0/1", params, 1},
      {"arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x", NULL,
       0}};
  struct kiln_ib_block_device bd[] = {
      {"/dev/xvda", {1, 8}, "gp3", {1, 1}, {0, 0}, {0, 0}, {0, 0}}};
  struct kiln_aws_tag tags[] = {{"kiln:app", "hello"}};
  const char *types[] = {"t3.small"};
  const char *values[] = {"hello"};
  struct kiln_ib_filter filters[] = {{"name", values, 1}};
  struct kiln_ib_create_component_request c = {
      "hello", "1.0.0", NULL, "name: x\nphases: []\n", "d", tags, 1, "tok", 0};
  struct kiln_ib_create_image_recipe_request r = {0};
  struct kiln_ib_infrastructure_configuration_request i = {0};
  struct kiln_ib_create_image_request img = {"arn:r", "arn:i", NULL, 0, "t", 0};
  struct kiln_ib_get_image_request gi = {
      "arn:aws:imagebuilder:us-east-1:123:image/hello/1.0.0/1"};
  struct kiln_ib_get_component_request gc = {""};
  struct kiln_ib_list_request l = {"Self", filters, 1, 25};

  (void)state;
  RENDER(ib_create_component, &c,
         "{\"name\":\"hello\",\"semanticVersion\":\"1.0.0\","
         "\"description\":\"d\",\"platform\":\"Linux\","
         "\"data\":\"name: x\\nphases: []\\n\","
         "\"tags\":{\"kiln:app\":\"hello\"},\"clientToken\":\"tok\"}");
  c.client_token = NULL;
  RENDER_FAILS(ib_create_component, &c);
  r.name = "hello";
  r.semantic_version = "1.0.0";
  r.parent_image = "ami-1";
  r.components = comps;
  r.component_count = 2;
  r.block_devices = bd;
  r.block_device_count = 1;
  r.client_token = "t";
  RENDER(ib_create_image_recipe, &r,
         "{\"name\":\"hello\",\"semanticVersion\":\"1.0.0\",\"components\":["
         "{\"componentArn\":\"arn:aws:imagebuilder:us-east-1:123:component/c/"
         "1.0.0/1\",\"parameters\":[{\"name\":\"ArtifactUrl\",\"value\":["
         "\"https://x/hello-${version}.jar\"]}]},"
         "{\"componentArn\":\"arn:aws:imagebuilder:us-east-1:aws:component/"
         "update-linux/x.x.x\"}],\"parentImage\":\"ami-1\","
         "\"blockDeviceMappings\":[{\"deviceName\":\"/dev/xvda\",\"ebs\":{"
         "\"encrypted\":true,\"volumeSize\":8,\"volumeType\":\"gp3\"}}],"
         "\"clientToken\":\"t\"}");
  i.name = "hello";
  i.instance_types = types;
  i.instance_type_count = 1;
  i.instance_profile_name = "kiln-image-builder";
  i.terminate_instance_on_failure = (struct kiln_aws_opt_bool){1, 1};
  i.client_token = "t";
  RENDER(ib_create_infrastructure_configuration, &i,
         "{\"name\":\"hello\",\"instanceTypes\":[\"t3.small\"],"
         "\"instanceProfileName\":\"kiln-image-builder\","
         "\"terminateInstanceOnFailure\":true,\"clientToken\":\"t\"}");
  RENDER_FAILS(ib_update_infrastructure_configuration, &i);
  i.arn = "arn:x";
  i.subnet_id = "subnet-1";
  RENDER(ib_update_infrastructure_configuration, &i,
         "{\"infrastructureConfigurationArn\":\"arn:x\","
         "\"instanceTypes\":[\"t3.small\"],"
         "\"instanceProfileName\":\"kiln-image-builder\","
         "\"subnetId\":\"subnet-1\","
         "\"terminateInstanceOnFailure\":true,\"clientToken\":\"t\"}");
  RENDER(ib_create_image, &img,
         "{\"imageRecipeArn\":\"arn:r\",\"infrastructureConfigurationArn\":"
         "\"arn:i\",\"clientToken\":\"t\"}");
  RENDER(ib_get_image, &gi,
         "\n?imageBuildVersionArn=arn%3Aaws%3Aimagebuilder%3Aus-east-1%3A123"
         "%3Aimage%2Fhello%2F1.0.0%2F1");
  RENDER_FAILS(ib_get_component, &gc);
  RENDER(ib_list_components, &l,
         "{\"owner\":\"Self\",\"filters\":[{\"name\":\"name\",\"values\":["
         "\"hello\"]}],\"maxResults\":25}");
  assert_string_equal(kiln__ib_get_image_desc.method, "GET");
  assert_string_equal(kiln__ib_get_image_desc.path, "/GetImage");
  assert_string_equal(kiln__ib_create_image_desc.method, "PUT");
  assert_string_equal(kiln__ib_create_image_desc.path, "/CreateImage");
  assert_string_equal(kiln__ib_list_components_desc.method, "POST");
  assert_string_equal(kiln__ib_list_components_desc.token_member, "nextToken");
}

/* The token a derived request goes out with ("" when none). */
static void derived_token(const struct kiln__op_desc *d,
                          struct kiln__op_body *b, int body_err, char out[64])
{
  struct kiln_buf wire;
  const char *t;

  assert_int_equal(body_err, 0);
  kiln_buf_init(&wire, 0);
  assert_int_equal(kiln__op_render(d, b, &wire), 0);
  out[0] = '\0';
  if ((t = strstr(wire.data, "\"clientToken\":\"")) != NULL)
    sscanf(t + 15, "%63[^\"]", out);
  else if ((t = strstr(wire.data, "ClientToken=")) != NULL)
    sscanf(t + 12, "%63[^&]", out);
  kiln_buf_cleanup(&wire);
}

#define TOKEN(name, req, out)                                                  \
  do {                                                                         \
    struct kiln__op_body b_;                                                   \
    int e_ = kiln__##name##_body(req, &b_);                                    \
    derived_token(&kiln__##name##_desc, &b_, e_, out);                         \
  } while (0)

/* A derived client token is a function of the whole request: two apps'
 * components made from one document (same key, same data, other names or
 * tags) get different tokens, which AWS requires; the same request gets
 * the same token, which makes a retry idempotent. */
static void test_derived_client_tokens(void **state)
{
  struct kiln_aws_tag tags_a[] = {{"kiln:app", "a"}};
  struct kiln_aws_tag tags_b[] = {{"kiln:app", "b"}};
  struct kiln_ib_create_component_request c = {.name = "kiln-a-app",
                                               .semantic_version = "1.2.3",
                                               .data = "name: x\nphases: []\n",
                                               .tags = tags_a,
                                               .tag_count = 1,
                                               .client_token = "component",
                                               .derive_token = 1};
  struct kiln_ec2_create_launch_template_version_request v = {
      .launch_template_id = "lt-1",
      .version_description = "kiln commit=1",
      .data = {.image_id = "ami-1"},
      .client_token = "launch-template-version",
      .derive_token = 1};
  char first[64], again[64], other[64];

  (void)state;
  TOKEN(ib_create_component, &c, first);
  TOKEN(ib_create_component, &c, again);
  assert_int_equal(strlen(first), 36); /* Image Builder allows 1 to 36 */
  assert_int_equal(first[0], 'k');
  assert_string_equal(first, again);
  c.name = "kiln-b-app";
  TOKEN(ib_create_component, &c, other);
  assert_string_not_equal(first, other);
  c.name = "kiln-a-app";
  c.tags = tags_b;
  TOKEN(ib_create_component, &c, other);
  assert_string_not_equal(first, other);
  c.tags = tags_a;
  c.client_token = "another key";
  TOKEN(ib_create_component, &c, other);
  assert_string_not_equal(first, other);

  TOKEN(ec2_create_launch_template_version, &v, first);
  assert_int_equal(strlen(first), 36);
  TOKEN(ec2_create_launch_template_version, &v, again);
  assert_string_equal(first, again);
  v.data.image_id = "ami-2";
  TOKEN(ec2_create_launch_template_version, &v, other);
  assert_string_not_equal(first, other);
  v.data.image_id = "ami-1";
  v.version_description = "kiln commit=2";
  TOKEN(ec2_create_launch_template_version, &v, other);
  assert_string_not_equal(first, other);
  /* Not derived: sent as is. */
  v.derive_token = 0;
  v.client_token = "as-is";
  TOKEN(ec2_create_launch_template_version, &v, other);
  assert_string_equal(other, "as-is");
}

/* ---- parsing ---- */

struct parse_fixture {
  struct kiln_arena arena;
  const char *why; /* the last parse's reason for KILN_EPARSE */
};

static int setup(void **state)
{
  struct parse_fixture *f = calloc(1, sizeof(*f));

  kiln_arena_init(&f->arena, 0);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct parse_fixture *f = *state;

  kiln_arena_cleanup(&f->arena);
  free(f);
  return 0;
}

static int parse(void **state, const struct kiln__op_desc *d, const char *body,
                 void *out, size_t size, const char **next)
{
  struct parse_fixture *f = *state;
  const char *tok = NULL;
  int err = kiln__op_parse_body(d, body, strlen(body), &f->arena, out, size,
                                &tok, &f->why);

  if (next != NULL)
    *next = tok;
  return err;
}

#define EC2_NS "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""

static void test_parse_images(void **state)
{
  struct kiln_ec2_images o;
  const char *next;
  const char *full =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<DescribeImagesResponse " EC2_NS ">"
      "<requestId>r-1</requestId><imagesSet>"
      "<item><imageId>ami-1</imageId><imageLocation>x</imageLocation>"
      "<imageState>available</imageState>"
      "<creationDate>2024-01-31T23:59:59.000Z</creationDate>"
      "<name>h\xc3\xa9llo &amp; &lt;bye&gt;</name>"
      "<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName></item>"
      "</blockDeviceMapping>"
      "<tagSet><item><key>kiln:digest</key><value>sha256:ab</value></item>"
      "<item><key>empty</key><value/></item></tagSet></item>"
      "<item><imageId>ami-2</imageId><imageState>pending</imageState></item>"
      "</imagesSet><nextToken>tok+/=</nextToken></DescribeImagesResponse>";

  assert_int_equal(
      parse(state, &kiln__ec2_describe_images_desc, full, &o, sizeof(o), &next),
      0);
  assert_int_equal(o.count, 2);
  assert_string_equal(o.images[0].image_id, "ami-1");
  assert_string_equal(o.images[0].name, "h\xc3\xa9llo & <bye>");
  assert_string_equal(o.images[0].state, "available");
  assert_string_equal(o.images[0].creation_date, "2024-01-31T23:59:59.000Z");
  assert_int_equal(o.images[0].tag_count, 2);
  assert_string_equal(o.images[0].tags[0].key, "kiln:digest");
  assert_string_equal(o.images[0].tags[0].value, "sha256:ab");
  assert_string_equal(o.images[0].tags[1].value, "");
  assert_null(o.images[1].name);
  assert_null(o.images[1].creation_date);
  assert_int_equal(o.images[1].tag_count, 0);
  assert_string_equal(next, "tok+/=");

  /* Empty list, self-closing, no token. */
  assert_int_equal(parse(state, &kiln__ec2_describe_images_desc,
                         "<DescribeImagesResponse " EC2_NS
                         "><imagesSet/></DescribeImagesResponse>",
                         &o, sizeof(o), &next),
                   0);
  assert_int_equal(o.count, 0);
  assert_null(next);
}

static void test_parse_bad_documents(void **state)
{
  static const char *const bad[] = {
      "",
      "garbage",
      "{\"json\": true}",
      "<DescribeImagesResponse " EC2_NS "><imagesSet><item><imageId>ami-1",
      "<Other/>",
      "<DescribeImagesResponse><imagesSet><item><name>no id</name></item>"
      "</imagesSet></DescribeImagesResponse>",
      "<!DOCTYPE x [<!ENTITY e \"boom\">]><DescribeImagesResponse>"
      "<imagesSet><item><imageId>&e;</imageId></item></imagesSet>"
      "</DescribeImagesResponse>",
      "<DescribeImagesResponse><imagesSet><item><imageId>a</imageId>"
      "<tagSet><item><value>no key</value></item></tagSet></item></imagesSet>"
      "</DescribeImagesResponse>",
  };
  struct kiln_ec2_images o;
  struct kiln_ec2_launch_template_versions v;
  struct kiln_ssm_parameters p;
  struct kiln_ib_image im;

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(parse(state, &kiln__ec2_describe_images_desc, bad[i], &o,
                           sizeof(o), NULL),
                     KILN_EPARSE);
  /* A number that is not one. */
  assert_int_equal(
      parse(state, &kiln__ec2_describe_launch_template_versions_desc,
            "<DescribeLaunchTemplateVersionsResponse><launchTemplateVersionSet>"
            "<item><versionNumber>x1</versionNumber></item>"
            "</launchTemplateVersionSet></"
            "DescribeLaunchTemplateVersionsResponse>",
            &v, sizeof(v), NULL),
      KILN_EPARSE);
  /* A boolean that is not one. */
  assert_int_equal(
      parse(state, &kiln__ec2_describe_launch_template_versions_desc,
            "<DescribeLaunchTemplateVersionsResponse><launchTemplateVersionSet>"
            "<item><versionNumber>1</versionNumber><defaultVersion>yes"
            "</defaultVersion></item></launchTemplateVersionSet>"
            "</DescribeLaunchTemplateVersionsResponse>",
            &v, sizeof(v), NULL),
      KILN_EPARSE);
  /* JSON: truncated, wrong types, trailing garbage. */
  assert_int_equal(parse(state, &kiln__ssm_get_parameters_desc,
                         "{\"Parameters\": [{\"Name\": \"a\"", &p, sizeof(p),
                         NULL),
                   KILN_EPARSE);
  assert_int_equal(parse(state, &kiln__ssm_get_parameters_desc,
                         "{\"Parameters\": {}}", &p, sizeof(p), NULL),
                   KILN_EPARSE);
  assert_int_equal(parse(state, &kiln__ssm_get_parameters_desc,
                         "{\"Parameters\": [{\"Name\": 1, \"Value\": \"v\"}]}",
                         &p, sizeof(p), NULL),
                   KILN_EPARSE);
  assert_int_equal(
      parse(state, &kiln__ssm_get_parameters_desc, "{} x", &p, sizeof(p), NULL),
      KILN_EPARSE);
  assert_int_equal(
      parse(state, &kiln__ssm_get_parameters_desc, "[]", &p, sizeof(p), NULL),
      KILN_EPARSE);
  assert_int_equal(parse(state, &kiln__ib_get_image_desc,
                         "{\"image\": {\"arn\": \"a\"}}", &im, sizeof(im),
                         NULL),
                   KILN_EPARSE);
}

/* Bodies over the limit are refused before the XML scanner or json-c reads
 * them. */
static void test_parse_size_limits(void **state)
{
  struct kiln_xml_doc *doc = (struct kiln_xml_doc *)1;
  struct json_object *json = (struct json_object *)1;

  (void)state;
  assert_int_equal(kiln__xml_parse("<a/>", KILN__MAX_DOC_BYTES + 1, &doc),
                   KILN_ETOOBIG);
  assert_null(doc);
  assert_int_equal(kiln__json_parse("{}", KILN__MAX_DOC_BYTES + 1, &json),
                   KILN_ETOOBIG);
  assert_null(json);
}

/* The tree xml_parse.c builds: text joined across references and
 * CDATA, layout between elements dropped, siblings walked by name, and
 * what is not a document refused. */
static void test_xml_tree(void **state)
{
  const char *body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<R xmlns=\"urn:x\">\n  <list>\n"
      "    <item><k>a &amp; b&#33;</k><n> 42 </n></item>\n"
      "    <other>x</other>\n"
      "    <item><k><![CDATA[<raw>]]> &lt;&gt;</k><n>-7</n><e/></item>\n"
      "  </list>\n</R>\n";
  struct kiln_arena arena;
  struct kiln__px px;
  struct kiln_xml_doc *doc;
  const struct kiln_xml_node *root, *item, *list;
  int64_t v = 0;
  char deep[65 * 7 + 1];
  size_t off = 0;

  (void)state;
  kiln_arena_init(&arena, 0);
  px = (struct kiln__px){&arena, 0, NULL};
  assert_int_equal(kiln__xml_parse(body, strlen(body), &doc), 0);
  root = kiln__xml_root(doc);
  assert_string_equal(root->name, "R");
  assert_string_equal(root->text, "");
  list = kiln__xml_find(root, "list");
  assert_string_equal(list->text, "");
  item = kiln__xml_first(list, "item");
  assert_string_equal(kiln__xml_str(&px, item, "k"), "a & b!");
  assert_int_equal(kiln__xml_i64(&px, item, "n", &v), 1);
  assert_int_equal(v, 42);
  item = kiln__xml_next(item);
  assert_non_null(item);
  assert_string_equal(kiln__xml_str(&px, item, "k"), "<raw> <>");
  assert_int_equal(kiln__xml_i64(&px, item, "n", &v), 1);
  assert_int_equal(v, -7);
  assert_string_equal(kiln__xml_str(&px, item, "e"), "");
  assert_null(kiln__xml_str(&px, item, "missing"));
  assert_null(kiln__xml_next(item));
  assert_string_equal(kiln__xml_str(&px, root, "list/other"), "x");
  assert_int_equal(px.err, 0);
  kiln__xml_free(doc);

  /* Unclosed, undefined entity, two roots, a DTD (even one without
   * entities), nested past the limit. */
  assert_int_equal(kiln__xml_parse("<a><b></a>", 10, &doc), KILN_EPARSE);
  assert_int_equal(kiln__xml_parse("<!DOCTYPE a><a/>", 16, &doc), KILN_EPARSE);
  assert_int_equal(
      kiln__xml_parse("<!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a>x</a>", 48,
                      &doc),
      KILN_EPARSE);
  assert_null(doc);
  assert_int_equal(kiln__xml_parse("<a>&e;</a>", 10, &doc), KILN_EPARSE);
  assert_int_equal(kiln__xml_parse("<a/><b/>", 8, &doc), KILN_EPARSE);
  for (int i = 0; i < 65; i++)
    off += (size_t)snprintf(deep + off, sizeof(deep) - off, "<a>");
  for (int i = 0; i < 65; i++)
    off += (size_t)snprintf(deep + off, sizeof(deep) - off, "</a>");
  assert_int_equal(kiln__xml_parse(deep, off, &doc), KILN_EPARSE);
  kiln_arena_cleanup(&arena);
}

static void test_parse_launch_template_versions(void **state)
{
  struct kiln_ec2_launch_template_versions o;
  const char *next;
  const char *body =
      "<DescribeLaunchTemplateVersionsResponse " EC2_NS ">"
      "<requestId>r</requestId><launchTemplateVersionSet><item>"
      "<createTime>2024-01-01T00:00:00.000Z</createTime>"
      "<defaultVersion>true</defaultVersion>"
      "<launchTemplateData>"
      "<blockDeviceMappingSet><item><deviceName>/dev/xvda</deviceName>"
      "<ebs><deleteOnTermination>true</deleteOnTermination>"
      "<encrypted>true</encrypted><iops>3000</iops><throughput>125"
      "</throughput><volumeSize>8</volumeSize><volumeType>gp3</volumeType>"
      "</ebs></item><item><deviceName>/dev/sdb</deviceName>"
      "<virtualName>ephemeral0</virtualName></item></blockDeviceMappingSet>"
      "<iamInstanceProfile><name>app</name></iamInstanceProfile>"
      "<imageId>ami-1</imageId><instanceType>t3.micro</instanceType>"
      "<metadataOptions><httpTokens>required</httpTokens>"
      "<httpPutResponseHopLimit>2</httpPutResponseHopLimit>"
      "<httpEndpoint>enabled</httpEndpoint></metadataOptions>"
      "<securityGroupIdSet><item>sg-1</item><item>sg-2</item>"
      "</securityGroupIdSet>"
      "<tagSpecificationSet><item><resourceType>instance</resourceType>"
      "<tagSet><item><key>kiln:app</key><value>hello</value></item></tagSet>"
      "</item></tagSpecificationSet><userData>IyE=</userData>"
      "</launchTemplateData>"
      "<launchTemplateId>lt-1</launchTemplateId>"
      "<launchTemplateName>hello</launchTemplateName>"
      "<versionDescription>commit abc</versionDescription>"
      "<versionNumber>3</versionNumber></item>"
      "<item><launchTemplateId>lt-2</launchTemplateId>"
      "<launchTemplateName>bare</launchTemplateName>"
      "<versionNumber>1</versionNumber><defaultVersion>false</defaultVersion>"
      "<launchTemplateData/></item>"
      "</launchTemplateVersionSet></DescribeLaunchTemplateVersionsResponse>";
  const struct kiln_ec2_launch_template_data *d;

  assert_int_equal(parse(state,
                         &kiln__ec2_describe_launch_template_versions_desc,
                         body, &o, sizeof(o), &next),
                   0);
  assert_null(next);
  assert_int_equal(o.count, 2);
  assert_string_equal(o.versions[0].launch_template_id, "lt-1");
  assert_string_equal(o.versions[0].launch_template_name, "hello");
  assert_int_equal(o.versions[0].version_number, 3);
  assert_true(o.versions[0].default_version);
  assert_string_equal(o.versions[0].description, "commit abc");
  d = &o.versions[0].data;
  assert_string_equal(d->image_id, "ami-1");
  assert_string_equal(d->instance_type, "t3.micro");
  assert_string_equal(d->user_data, "IyE=");
  assert_int_equal(d->security_group_id_count, 2);
  assert_string_equal(d->security_group_ids[1], "sg-2");
  assert_string_equal(d->iam_instance_profile_name, "app");
  assert_null(d->iam_instance_profile_arn);
  assert_int_equal(d->block_device_count, 2);
  assert_true(d->block_devices[0].has_ebs);
  assert_true(d->block_devices[0].volume_size_gib.set);
  assert_int_equal(d->block_devices[0].volume_size_gib.value, 8);
  assert_string_equal(d->block_devices[0].volume_type, "gp3");
  assert_int_equal(d->block_devices[0].encrypted.value, 1);
  assert_int_equal(d->block_devices[0].delete_on_termination.value, 1);
  assert_int_equal(d->block_devices[0].iops.value, 3000);
  assert_int_equal(d->block_devices[0].throughput.value, 125);
  assert_false(d->block_devices[1].has_ebs);
  assert_false(d->block_devices[1].volume_size_gib.set);
  assert_string_equal(d->http_tokens, "required");
  assert_int_equal(d->http_put_response_hop_limit.value, 2);
  assert_string_equal(d->http_endpoint, "enabled");
  assert_int_equal(d->tag_spec_count, 1);
  assert_string_equal(d->tag_specs[0].resource_type, "instance");
  assert_string_equal(d->tag_specs[0].tags[0].value, "hello");
  assert_false(o.versions[1].default_version);
  assert_null(o.versions[1].description);
  assert_null(o.versions[1].data.image_id);
  assert_int_equal(o.versions[1].data.block_device_count, 0);
  assert_false(o.versions[1].data.http_put_response_hop_limit.set);
}

static void test_parse_many_items_grow(void **state)
{
  struct kiln_ec2_launch_templates o;
  struct kiln_buf b;
  const char *next;

  kiln_buf_init(&b, 0);
  kiln_buf_puts(&b, "<DescribeLaunchTemplatesResponse><launchTemplates>");
  for (int i = 0; i < 300; i++)
    kiln_buf_printf(&b,
                    "<item><launchTemplateId>lt-%d</launchTemplateId>"
                    "<launchTemplateName>n%d</launchTemplateName>"
                    "<defaultVersionNumber>%d</defaultVersionNumber>"
                    "<latestVersionNumber>%d</latestVersionNumber></item>",
                    i, i, i + 1, i + 2);
  kiln_buf_puts(&b, "</launchTemplates><nextToken>n</nextToken>"
                    "</DescribeLaunchTemplatesResponse>");
  assert_int_equal(parse(state, &kiln__ec2_describe_launch_templates_desc,
                         b.data, &o, sizeof(o), &next),
                   0);
  kiln_buf_cleanup(&b);
  assert_int_equal(o.count, 300);
  for (int i = 0; i < 300; i++) {
    char id[16];

    snprintf(id, sizeof(id), "lt-%d", i);
    assert_string_equal(o.templates[i].id, id);
    assert_int_equal(o.templates[i].default_version, i + 1);
    assert_int_equal(o.templates[i].latest_version, i + 2);
  }
  assert_string_equal(next, "n");
}

static void test_parse_instances(void **state)
{
  struct kiln_ec2_instances o;
  const char *next;

  assert_int_equal(
      parse(state, &kiln__ec2_describe_instances_desc,
            "<DescribeInstancesResponse " EC2_NS "><reservationSet>"
            "<item><reservationId>r-1</reservationId><instancesSet>"
            "<item><instanceId>i-1</instanceId><imageId>ami-1</imageId>"
            "<instanceState><code>16</code><name>running</name>"
            "</instanceState><subnetId>subnet-1</subnetId><tagSet>"
            "<item><key>aws:ec2launchtemplate:id</key><value>lt-1</value>"
            "</item><item><key>aws:ec2launchtemplate:version</key>"
            "<value>3</value></item></tagSet></item>"
            "<item><instanceId>i-2</instanceId><instanceState><name>pending"
            "</name></instanceState></item></instancesSet></item>"
            "<item><instancesSet><item><instanceId>i-3</instanceId></item>"
            "</instancesSet></item></reservationSet><nextToken>x</nextToken>"
            "</DescribeInstancesResponse>",
            &o, sizeof(o), &next),
      0);
  assert_int_equal(o.count, 3);
  assert_string_equal(o.instances[0].state, "running");
  assert_string_equal(o.instances[0].subnet_id, "subnet-1");
  assert_string_equal(o.instances[0].launch_template_id, "lt-1");
  assert_string_equal(o.instances[0].launch_template_version, "3");
  assert_string_equal(o.instances[1].state, "pending");
  assert_null(o.instances[1].launch_template_id);
  assert_string_equal(o.instances[2].instance_id, "i-3");
  assert_string_equal(next, "x");
}

static void test_parse_groups(void **state)
{
  struct kiln_asg_groups o;
  const char *next;
  const struct kiln_asg_group *g;

  assert_int_equal(
      parse(state, &kiln__asg_describe_groups_desc,
            "<DescribeAutoScalingGroupsResponse xmlns=\"http://autoscaling."
            "amazonaws.com/doc/2011-01-01/\"><DescribeAutoScalingGroupsResult>"
            "<AutoScalingGroups><member>"
            "<AutoScalingGroupName>hello</AutoScalingGroupName>"
            "<AutoScalingGroupARN>arn:a</AutoScalingGroupARN>"
            "<MinSize>0</MinSize><MaxSize>3</MaxSize>"
            "<DesiredCapacity>2</DesiredCapacity>"
            "<LaunchTemplate><LaunchTemplateId>lt-1</LaunchTemplateId>"
            "<LaunchTemplateName>hello</LaunchTemplateName><Version>4"
            "</Version></LaunchTemplate>"
            "<VPCZoneIdentifier>subnet-1,subnet-2</VPCZoneIdentifier>"
            "<AvailabilityZones><member>us-east-1a</member>"
            "</AvailabilityZones>"
            "<Instances><member><InstanceId>i-1</InstanceId>"
            "<LifecycleState>InService</LifecycleState>"
            "<HealthStatus>Healthy</HealthStatus><LaunchTemplate>"
            "<LaunchTemplateId>lt-1</LaunchTemplateId><Version>3</Version>"
            "</LaunchTemplate></member></Instances>"
            "<Tags><member><Key>kiln:app</Key><Value>hello</Value>"
            "<PropagateAtLaunch>true</PropagateAtLaunch><ResourceId>hello"
            "</ResourceId></member></Tags>"
            "<Status>Delete in progress</Status></member>"
            "<member><AutoScalingGroupName>bare</AutoScalingGroupName>"
            "<MinSize>0</MinSize><MaxSize>0</MaxSize>"
            "<DesiredCapacity>0</DesiredCapacity><VPCZoneIdentifier/>"
            "<Instances/><Tags/></member>"
            "</AutoScalingGroups><NextToken>bare</NextToken>"
            "</DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>r"
            "</RequestId></ResponseMetadata>"
            "</DescribeAutoScalingGroupsResponse>",
            &o, sizeof(o), &next),
      0);
  assert_int_equal(o.count, 2);
  g = &o.groups[0];
  assert_string_equal(g->name, "hello");
  assert_int_equal(g->desired_capacity, 2);
  assert_string_equal(g->launch_template.version, "4");
  assert_string_equal(g->vpc_zone_identifier, "subnet-1,subnet-2");
  assert_int_equal(g->availability_zone_count, 1);
  assert_int_equal(g->instance_count, 1);
  assert_string_equal(g->instances[0].lifecycle_state, "InService");
  assert_string_equal(g->instances[0].launch_template.version, "3");
  assert_int_equal(g->tag_count, 1);
  assert_true(g->tags[0].propagate_at_launch);
  assert_string_equal(g->status, "Delete in progress");
  assert_null(o.groups[1].vpc_zone_identifier);
  assert_null(o.groups[1].launch_template.id);
  assert_int_equal(o.groups[1].instance_count, 0);
  assert_null(o.groups[1].status);
  assert_string_equal(next, "bare");
  /* The wrong action's document, and a group without its sizes. */
  assert_int_equal(parse(state, &kiln__asg_describe_groups_desc,
                         "<DescribeInstanceRefreshesResponse/>", &o, sizeof(o),
                         NULL),
                   KILN_EPARSE);
  assert_int_equal(
      parse(
          state, &kiln__asg_describe_groups_desc,
          "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>"
          "<AutoScalingGroups><member><AutoScalingGroupName>x"
          "</AutoScalingGroupName></member></AutoScalingGroups>"
          "</DescribeAutoScalingGroupsResult>"
          "</DescribeAutoScalingGroupsResponse>",
          &o, sizeof(o), NULL),
      KILN_EPARSE);
}

/* The desired version of a refresh, as AWS may send it: a number, or
 * $Default/$Latest (0); anything else fails the parse, saying what. */
static void test_parse_refresh_versions(void **state)
{
  static const struct {
    const char *version;
    int err;
    int64_t number;
  } cases[] = {
      {"5", 0, 5},
      {"9223372036854775807", 0, INT64_MAX},
      {"$Latest", 0, 0},
      {"$Default", 0, 0},
      {"12abc", KILN_EPARSE, 0},
      {"0", KILN_EPARSE, 0},
      {"-3", KILN_EPARSE, 0},
      {"+3", KILN_EPARSE, 0},
      {"0x10", KILN_EPARSE, 0},
      {"9223372036854775808", KILN_EPARSE, 0},
      {"99999999999999999999999", KILN_EPARSE, 0},
      {"", KILN_EPARSE, 0},
  };
  struct parse_fixture *f = *state;
  struct kiln_asg_instance_refreshes o;
  char body[1024], why[160];

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    snprintf(
        body, sizeof(body),
        "<DescribeInstanceRefreshesResponse><DescribeInstanceRefreshesResult>"
        "<InstanceRefreshes><member><InstanceRefreshId>r</InstanceRefreshId>"
        "<Status>InProgress</Status><DesiredConfiguration><LaunchTemplate>"
        "<LaunchTemplateId>lt-1</LaunchTemplateId><Version>%s</Version>"
        "</LaunchTemplate></DesiredConfiguration></member></InstanceRefreshes>"
        "</DescribeInstanceRefreshesResult>"
        "</DescribeInstanceRefreshesResponse>",
        cases[i].version);
    print_message("Version \"%s\"\n", cases[i].version);
    assert_int_equal(parse(state, &kiln__asg_describe_instance_refreshes_desc,
                           body, &o, sizeof(o), NULL),
                     cases[i].err);
    if (cases[i].err == 0) {
      assert_int_equal(o.refreshes[0].desired_launch_template.version_number,
                       cases[i].number);
    } else {
      snprintf(why, sizeof(why),
               "DesiredConfiguration.LaunchTemplate.Version \"%s\" is not a "
               "version number",
               cases[i].version);
      assert_non_null(f->why);
      assert_string_equal(f->why, why);
    }
  }
  /* Any other number of the answer, likewise. */
  assert_int_equal(
      parse(state, &kiln__asg_describe_instance_refreshes_desc,
            "<DescribeInstanceRefreshesResponse>"
            "<DescribeInstanceRefreshesResult><InstanceRefreshes><member>"
            "<InstanceRefreshId>r</InstanceRefreshId><Status>InProgress"
            "</Status><PercentageComplete>5O</PercentageComplete></member>"
            "</InstanceRefreshes></DescribeInstanceRefreshesResult>"
            "</DescribeInstanceRefreshesResponse>",
            &o, sizeof(o), NULL),
      KILN_EPARSE);
  assert_string_equal(f->why,
                      "PercentageComplete \"5O\" is not a 64-bit integer");
}

/* One page of activities, newest first; the token is not followed. */
static void test_parse_activities(void **state)
{
  struct kiln_asg_activities o;
  const char *next;
  assert_int_equal(
      parse(state, &kiln__asg_describe_scaling_activities_desc,
            "<DescribeScalingActivitiesResponse>"
            "<DescribeScalingActivitiesResult><Activities>"
            "<member><ActivityId>a-2</ActivityId>"
            "<Description>Launching a new EC2 instance.  Status Reason: "
            "no</Description><Cause>At ...</Cause>"
            "<StatusCode>Failed</StatusCode><StatusMessage>The image id "
            "&apos;[ami-1]&apos; does not exist</StatusMessage>"
            "<StartTime>2024-01-01T00:00:05Z</StartTime>"
            "<EndTime>2024-01-01T00:00:06Z</EndTime></member>"
            "<member><ActivityId>a-1</ActivityId>"
            "<Description>Launching a new EC2 instance: i-1</Description>"
            "<StatusCode>Successful</StatusCode></member>"
            "</Activities><NextToken>t</NextToken>"
            "</DescribeScalingActivitiesResult>"
            "</DescribeScalingActivitiesResponse>",
            &o, sizeof(o), &next),
      0);
  assert_int_equal(o.count, 2);
  assert_string_equal(o.activities[0].status_code, "Failed");
  assert_string_equal(o.activities[0].status_message,
                      "The image id '[ami-1]' does not exist");
  assert_string_equal(o.activities[0].end_time, "2024-01-01T00:00:06Z");
  assert_null(o.activities[1].status_message);
  assert_null(next);
  /* An activity without a status is not an answer Kiln can read. */
  assert_int_equal(
      parse(state, &kiln__asg_describe_scaling_activities_desc,
            "<DescribeScalingActivitiesResponse>"
            "<DescribeScalingActivitiesResult><Activities><member>"
            "<ActivityId>a-1</ActivityId></member></Activities>"
            "</DescribeScalingActivitiesResult>"
            "</DescribeScalingActivitiesResponse>",
            &o, sizeof(o), NULL),
      KILN_EPARSE);
}

static void test_parse_refreshes(void **state)
{
  struct kiln_asg_instance_refreshes o;
  struct kiln_asg_refresh_id id;
  const char *next;

  assert_int_equal(
      parse(
          state, &kiln__asg_describe_instance_refreshes_desc,
          "<DescribeInstanceRefreshesResponse><DescribeInstanceRefreshesResult>"
          "<InstanceRefreshes><member>"
          "<InstanceRefreshId>r-2</InstanceRefreshId>"
          "<AutoScalingGroupName>g</AutoScalingGroupName>"
          "<Status>RollbackSuccessful</Status>"
          "<StatusReason>health check failed</StatusReason>"
          "<StartTime>2024-01-01T00:00:00Z</StartTime>"
          "<PercentageComplete>50</PercentageComplete>"
          "<InstancesToUpdate>1</InstancesToUpdate>"
          "<Preferences><MinHealthyPercentage>90</MinHealthyPercentage>"
          "<SkipMatching>true</SkipMatching><AutoRollback>true"
          "</AutoRollback><CheckpointPercentages><member>10</member>"
          "<member>50</member><member>100</member></CheckpointPercentages>"
          "<CheckpointDelay>600</CheckpointDelay><BakeTime>900</BakeTime>"
          "</Preferences>"
          "<DesiredConfiguration><LaunchTemplate><LaunchTemplateId>lt-1"
          "</LaunchTemplateId><Version>5</Version></LaunchTemplate>"
          "</DesiredConfiguration>"
          "<RollbackDetails><RollbackReason>failed</RollbackReason>"
          "<PercentageCompleteOnRollback>100</PercentageCompleteOnRollback>"
          "</RollbackDetails></member>"
          "<member><InstanceRefreshId>r-1</InstanceRefreshId>"
          "<Status>Pending</Status></member>"
          "</InstanceRefreshes></DescribeInstanceRefreshesResult>"
          "</DescribeInstanceRefreshesResponse>",
          &o, sizeof(o), &next),
      0);
  assert_int_equal(o.count, 2);
  assert_string_equal(o.refreshes[0].status, "RollbackSuccessful");
  assert_string_equal(o.refreshes[0].status_reason, "health check failed");
  assert_int_equal(o.refreshes[0].percentage_complete.value, 50);
  assert_string_equal(o.refreshes[0].desired_launch_template.version, "5");
  assert_int_equal(o.refreshes[0].desired_launch_template.version_number, 5);
  assert_int_equal(o.refreshes[0].preferences.min_healthy_percentage.value, 90);
  assert_false(o.refreshes[0].preferences.max_healthy_percentage.set);
  assert_true(o.refreshes[0].preferences.auto_rollback.value);
  assert_int_equal(o.refreshes[0].preferences.checkpoint_count, 3);
  assert_int_equal(o.refreshes[0].preferences.checkpoints[1], 50);
  assert_int_equal(o.refreshes[0].preferences.checkpoint_delay_s.value, 600);
  assert_int_equal(o.refreshes[0].preferences.bake_time_s.value, 900);
  assert_int_equal(o.refreshes[1].preferences.checkpoint_count, 0);
  assert_string_equal(o.refreshes[0].rollback_reason, "failed");
  assert_int_equal(o.refreshes[0].percentage_complete_on_rollback.value, 100);
  assert_false(o.refreshes[0].instances_to_update_on_rollback.set);
  assert_null(o.refreshes[0].end_time);
  assert_false(o.refreshes[1].percentage_complete.set);
  assert_null(o.refreshes[1].rollback_reason);
  assert_null(next);
  assert_int_equal(
      parse(state, &kiln__asg_start_instance_refresh_desc,
            "<StartInstanceRefreshResponse><StartInstanceRefreshResult>"
            "<InstanceRefreshId>abc</InstanceRefreshId>"
            "</StartInstanceRefreshResult></StartInstanceRefreshResponse>",
            &id, sizeof(id), NULL),
      0);
  assert_string_equal(id.instance_refresh_id, "abc");
  assert_int_equal(
      parse(state, &kiln__asg_cancel_instance_refresh_desc,
            "<CancelInstanceRefreshResponse><CancelInstanceRefreshResult/>"
            "</CancelInstanceRefreshResponse>",
            &id, sizeof(id), NULL),
      KILN_EPARSE);
}

static void test_parse_ssm(void **state)
{
  struct kiln_ssm_parameters o;
  struct kiln_ssm_parameter p;

  assert_int_equal(
      parse(state, &kiln__ssm_get_parameters_desc,
            "{\"Parameters\":[{\"Name\":\"/a\",\"Type\":\"String\","
            "\"Value\":\"\\u00e9t\\u00e9 \\\"q\\\"\",\"Version\":7,"
            "\"LastModifiedDate\":1.7e9,\"ARN\":\"arn:p\","
            "\"DataType\":\"aws:ec2:image\"}],"
            "\"InvalidParameters\":[\"/x\",\"/y\"]}",
            &o, sizeof(o), NULL),
      0);
  assert_int_equal(o.count, 1);
  assert_string_equal(o.parameters[0].value, "\xc3\xa9t\xc3\xa9 \"q\"");
  assert_int_equal(o.parameters[0].version, 7);
  assert_string_equal(o.parameters[0].data_type, "aws:ec2:image");
  assert_int_equal(o.invalid_count, 2);
  assert_string_equal(o.invalid[1], "/y");
  assert_int_equal(parse(state, &kiln__ssm_get_parameters_desc,
                         "{\"Parameters\":[],\"InvalidParameters\":[]}", &o,
                         sizeof(o), NULL),
                   0);
  assert_int_equal(o.count + o.invalid_count, 0);
  assert_int_equal(
      parse(state, &kiln__ssm_get_parameters_desc, "{}", &o, sizeof(o), NULL),
      0);
  assert_int_equal(parse(state, &kiln__ssm_get_parameter_desc,
                         "{\"Parameter\":{\"Name\":\"/a\",\"Value\":\"v\"}}",
                         &p, sizeof(p), NULL),
                   0);
  assert_string_equal(p.value, "v");
  assert_null(p.type);
  assert_int_equal(p.version, 0);
  assert_int_equal(
      parse(state, &kiln__ssm_get_parameter_desc, "{}", &p, sizeof(p), NULL),
      KILN_EPARSE);
}

static void test_parse_imagebuilder(void **state)
{
  struct kiln_ib_image im;
  struct kiln_ib_summaries s;
  struct kiln_ib_arn_result a;
  struct kiln_ib_component c;
  const char *next;

  assert_int_equal(
      parse(state, &kiln__ib_get_image_desc,
            "{\"requestId\":\"r\",\"image\":{\"arn\":\"arn:i/1.0.0/1\","
            "\"name\":\"hello\",\"version\":\"1.0.0/1\",\"state\":{\"status\":"
            "\"AVAILABLE\"},\"imageRecipe\":{\"arn\":\"arn:r\"},"
            "\"infrastructureConfiguration\":{\"arn\":\"arn:c\"},"
            "\"outputResources\":{\"amis\":[{\"region\":\"us-east-1\","
            "\"image\":\"ami-1\",\"name\":\"n\",\"accountId\":\"123\"}]},"
            "\"tags\":{\"kiln:digest\":\"d\"}}}",
            &im, sizeof(im), NULL),
      0);
  assert_string_equal(im.state_status, "AVAILABLE");
  assert_null(im.state_reason);
  assert_string_equal(im.image_recipe_arn, "arn:r");
  assert_string_equal(im.infrastructure_configuration_arn, "arn:c");
  assert_int_equal(im.ami_count, 1);
  assert_string_equal(im.amis[0].image, "ami-1");
  assert_string_equal(im.amis[0].region, "us-east-1");
  assert_string_equal(im.amis[0].account_id, "123");
  assert_string_equal(im.tags[0].key, "kiln:digest");
  assert_int_equal(
      parse(state, &kiln__ib_get_image_desc,
            "{\"image\":{\"arn\":\"a\",\"state\":{\"status\":\"FAILED\","
            "\"reason\":\"boom\"}}}",
            &im, sizeof(im), NULL),
      0);
  assert_string_equal(im.state_reason, "boom");
  assert_int_equal(im.ami_count, 0);
  assert_int_equal(
      parse(
          state, &kiln__ib_list_components_desc,
          "{\"componentVersionList\":[{\"arn\":\"arn:c/1.0.0\",\"name\":\"c\","
          "\"version\":\"1.0.0\",\"platform\":\"Linux\",\"owner\":\"123\"}],"
          "\"nextToken\":\"t2\"}",
          &s, sizeof(s), &next),
      0);
  assert_int_equal(s.count, 1);
  assert_string_equal(s.items[0].version, "1.0.0");
  assert_string_equal(next, "t2");
  assert_int_equal(parse(state,
                         &kiln__ib_list_infrastructure_configurations_desc,
                         "{\"infrastructureConfigurationSummaryList\":[]}", &s,
                         sizeof(s), &next),
                   0);
  assert_int_equal(s.count, 0);
  assert_null(next);
  assert_int_equal(parse(state, &kiln__ib_list_image_recipes_desc,
                         "{\"componentVersionList\":[]}", &s, sizeof(s), NULL),
                   KILN_EPARSE);
  assert_int_equal(parse(state, &kiln__ib_create_image_desc,
                         "{\"requestId\":\"r\",\"clientToken\":\"t\","
                         "\"imageBuildVersionArn\":\"arn:b\"}",
                         &a, sizeof(a), NULL),
                   0);
  assert_string_equal(a.arn, "arn:b");
  assert_string_equal(a.client_token, "t");
  assert_int_equal(parse(state, &kiln__ib_create_component_desc,
                         "{\"imageBuildVersionArn\":\"arn:b\"}", &a, sizeof(a),
                         NULL),
                   KILN_EPARSE);
  assert_int_equal(
      parse(state, &kiln__ib_get_component_desc,
            "{\"component\":{\"arn\":\"arn:c\",\"data\":\"x: 1\\n\","
            "\"state\":{\"status\":\"ACTIVE\"},\"tags\":{}}}",
            &c, sizeof(c), NULL),
      0);
  assert_string_equal(c.data, "x: 1\n");
  assert_string_equal(c.state_status, "ACTIVE");
  assert_int_equal(c.tag_count, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ec2_describe_images),
      cmocka_unit_test(test_ec2_create_tags),
      cmocka_unit_test(test_ec2_launch_templates),
      cmocka_unit_test(test_ec2_create_launch_template),
      cmocka_unit_test(test_ec2_describe_instances),
      cmocka_unit_test(test_asg_requests),
      cmocka_unit_test(test_ssm_requests),
      cmocka_unit_test(test_imagebuilder_requests),
      cmocka_unit_test(test_derived_client_tokens),
      cmocka_unit_test_setup_teardown(test_parse_images, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_bad_documents, setup,
                                      teardown),
      cmocka_unit_test(test_parse_size_limits),
      cmocka_unit_test(test_xml_tree),
      cmocka_unit_test_setup_teardown(test_parse_launch_template_versions,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_many_items_grow, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_parse_instances, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_groups, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_refreshes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_activities, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_refresh_versions, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_parse_ssm, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_imagebuilder, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
