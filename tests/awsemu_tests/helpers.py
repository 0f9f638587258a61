"""Builders the emulator tests share. Names are unique per call so tests
can share one emulator."""

import uuid

AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

COMPONENT_DOC = """\
name: hello
schemaVersion: 1.0
parameters:
  - ArtifactUrl:
      type: string
      default: https://example.com/hello.jar
phases:
  - name: build
    steps:
      - name: Install
        action: ExecuteBash
        inputs:
          commands: ["curl -fsSL {{ ArtifactUrl }} -o /opt/hello.jar"]
  - name: validate
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands: ["test -f /opt/hello.jar"]
"""


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def public_amis(emu, n):
    """n distinct public AMIs of moto's catalogue, found through the public
    Amazon Linux SSM parameters (listing all ~1,200 public AMIs takes a
    second)."""
    params = emu.client("ssm").get_parameters_by_path(
        Path="/aws/service/ami-amazon-linux-latest")["Parameters"]
    ids = sorted({p["Value"] for p in params})
    images = emu.client("ec2").describe_images(ImageIds=ids)["Images"]
    found = sorted(i["ImageId"] for i in images)
    assert len(found) >= n, found
    return found[:n]


def group_with_template(emu, capacity, versions=2):
    """A launch template with `versions` versions (each a different AMI) and
    an ASG of `capacity` instances on version 1."""
    ec2 = emu.client("ec2")
    asg = emu.client("autoscaling")
    amis = public_amis(emu, versions)
    name = unique("app")
    lt = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": amis[0], "InstanceType": "t3.micro"})["LaunchTemplate"]
    for ami in amis[1:]:
        ec2.create_launch_template_version(
            LaunchTemplateId=lt["LaunchTemplateId"],
            LaunchTemplateData={"ImageId": ami, "InstanceType": "t3.micro"})
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=capacity * 2 + 2,
        DesiredCapacity=capacity, AvailabilityZones=["us-east-1a"],
        LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"], "Version": "1"})
    return name, lt["LaunchTemplateId"], amis


def group(emu, name):
    return emu.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"][0]


def instance_images(emu, instance_ids):
    """{instance id: AMI id} as EC2 reports them."""
    out = {}
    pages = emu.client("ec2").get_paginator("describe_instances").paginate(
        InstanceIds=instance_ids)
    for page in pages:
        for r in page["Reservations"]:
            for i in r["Instances"]:
                out[i["InstanceId"]] = i["ImageId"]
    return out


def bake_inputs(emu, parent=None):
    """A component, recipe and infrastructure configuration; returns the
    recipe ARN, infrastructure ARN and parent AMI."""
    ib = emu.client("imagebuilder")
    if parent is None:
        parent = emu.client("ssm").get_parameters(Names=[AL2023])["Parameters"][0]["Value"]
    name = unique("hello")
    comp = ib.create_component(name=name, semanticVersion="1.0.0", platform="Linux",
                               data=COMPONENT_DOC, clientToken=unique("t"))
    recipe = ib.create_image_recipe(
        name=name, semanticVersion="1.0.0", parentImage=parent, clientToken=unique("t"),
        components=[{"componentArn": comp["componentBuildVersionArn"],
                     "parameters": [{"name": "ArtifactUrl", "value": ["https://x/y.jar"]}]},
                    {"componentArn": "arn:aws:imagebuilder:us-east-1:aws:component/"
                                     "update-linux/x.x.x"}])
    infra = ib.create_infrastructure_configuration(
        name=name, instanceProfileName="kiln-image-builder", instanceTypes=["t3.small"],
        clientToken=unique("t"))
    return recipe["imageRecipeArn"], infra["infrastructureConfigurationArn"], parent


def own_ami(emu, parent, tags=None):
    """An AMI of the account's own: a copy of `parent`, tagged `tags`."""
    ec2 = emu.client("ec2")
    ami = ec2.copy_image(SourceImageId=parent, SourceRegion="us-east-1",
                         Name=unique("own"))["ImageId"]
    if tags:
        ec2.create_tags(Resources=[ami], Tags=[{"Key": k, "Value": v}
                                              for k, v in tags.items()])
    return ami


def elb_group(emu, images, capacity=2, grace=0, health_type="ELB"):
    """A VPC, a subnet and a target group; a launch template whose versions
    run `images` in order; a group in the target group on version 1.
    Returns (group name, template id, target group ARN)."""
    ec2, asg, elb = emu.client("ec2"), emu.client("autoscaling"), emu.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24",
                               AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    name = unique("elb")
    tg = elb.create_target_group(Name=name[:32], Protocol="HTTP", Port=8080,
                                 VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    lt = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
        "ImageId": images[0], "InstanceType": "t3.micro"})["LaunchTemplate"]["LaunchTemplateId"]
    for image in images[1:]:
        ec2.create_launch_template_version(LaunchTemplateId=lt, LaunchTemplateData={
            "ImageId": image, "InstanceType": "t3.micro"})
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=capacity * 2, DesiredCapacity=capacity,
        VPCZoneIdentifier=subnet, TargetGroupARNs=[tg], HealthCheckType=health_type,
        HealthCheckGracePeriod=grace, LaunchTemplate={"LaunchTemplateId": lt, "Version": "1"})
    return name, lt, tg


def target_health(emu, tg):
    """{instance id: target health state} of target group tg."""
    return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in
            emu.client("elbv2").describe_target_health(
                TargetGroupArn=tg)["TargetHealthDescriptions"]}
