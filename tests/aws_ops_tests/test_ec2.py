"""EC2 operations through Kiln's client, judged by boto3 on the same
emulator: state made with boto3 read through Kiln, and the reverse."""

import base64

from .ops import public_ami, result, run, tags, unique


def make_image(emu, **extra_tags):
    ec2 = emu.client("ec2")
    inst = ec2.run_instances(ImageId=public_ami(emu), MinCount=1, MaxCount=1)
    image_id = ec2.create_image(InstanceId=inst["Instances"][0]["InstanceId"],
                                Name=unique("img"))["ImageId"]
    if extra_tags:
        ec2.create_tags(Resources=[image_id],
                        Tags=[{"Key": k, "Value": v} for k, v in extra_tags.items()])
    return image_id


def test_describe_images_by_owner_and_tag_matches_boto3(awsemu):
    digest = unique("sha256")
    image_id = make_image(awsemu, **{"kiln:digest": digest, "kiln:app": "hello"})
    make_image(awsemu)  # another of ours, without the tag
    got = result(awsemu, "describe_images", {
        "owners": ["self"], "filters": [{"name": "tag:kiln:digest", "values": [digest]}]})
    want = awsemu.client("ec2").describe_images(
        Owners=["self"], Filters=[{"Name": "tag:kiln:digest", "Values": [digest]}])["Images"]
    assert [i["image_id"] for i in got["images"]] == [i["ImageId"] for i in want] == [image_id]
    g, w = got["images"][0], want[0]
    assert g["name"] == w["Name"]
    assert g["state"] == w["State"]
    assert g["creation_date"] == w["CreationDate"]
    assert g["tags"] == tags(w["Tags"])


def test_describe_images_by_ids_and_tag_key(awsemu):
    a, b = make_image(awsemu, **{"kiln:app": "x"}), make_image(awsemu)
    got = result(awsemu, "describe_images", {"image_ids": [a, b]})
    assert sorted(i["image_id"] for i in got["images"]) == sorted([a, b])
    got = result(awsemu, "describe_images", {
        "image_ids": [a, b], "filters": [{"name": "tag-key", "values": ["kiln:app"]}]})
    want = awsemu.client("ec2").describe_images(
        ImageIds=[a, b], Filters=[{"Name": "tag-key", "Values": ["kiln:app"]}])["Images"]
    assert a in [i["image_id"] for i in got["images"]]
    assert sorted(i["image_id"] for i in got["images"]) == sorted(i["ImageId"] for i in want)


def test_describe_images_pages_are_accumulated(awsemu):
    ids = {make_image(awsemu) for _ in range(4)}
    awsemu.reset_requests()
    got = result(awsemu, "describe_images", {"owners": ["self"], "max_results": 2})
    want = {i["ImageId"] for i in awsemu.client("ec2").describe_images(Owners=["self"])["Images"]}
    assert ids <= {i["image_id"] for i in got["images"]}
    assert {i["image_id"] for i in got["images"]} == want
    assert len(got["images"]) == len(want)  # no duplicates across pages
    assert awsemu.counts()["ec2:DescribeImages"] >= 3


def test_create_tags_is_seen_by_boto3(awsemu):
    image_id = make_image(awsemu)
    run(awsemu, "create_tags", {"resource_ids": [image_id], "tags": [
        {"key": "kiln:digest", "value": "sha256:ab/cd+ef=="},
        {"key": "kiln:commit", "value": "héllo wörld ✓"}, {"key": "empty", "value": ""}]})
    got = tags(awsemu.client("ec2").describe_images(ImageIds=[image_id])["Images"][0]["Tags"])
    assert got == {"kiln:digest": "sha256:ab/cd+ef==", "kiln:commit": "héllo wörld ✓",
                   "empty": ""}


FULL_DATA = {
    "instance_type": "t3.micro",
    "user_data": base64.b64encode(b"#!/bin/sh\necho hi & bye\n").decode(),
    "security_group_ids": ["sg-0123456789abcdef0", "sg-0123456789abcdef1"],
    "iam_instance_profile_name": "hello-app",
    "block_devices": [
        {"device_name": "/dev/xvda", "ebs": {"volume_size_gib": 8, "volume_type": "gp3",
                                             "encrypted": True, "delete_on_termination": True,
                                             "iops": 3000, "throughput": 125}},
        {"device_name": "/dev/xvdb", "ebs": {"volume_size_gib": 20, "volume_type": "gp2",
                                             "encrypted": False}}],
    "http_tokens": "required",
    "http_put_response_hop_limit": 2,
    "http_endpoint": "enabled",
    "tag_specs": [{"resource_type": "instance", "tags": [{"key": "kiln:app", "value": "hello"},
                                                        {"key": "Name", "value": "a b&c"}]},
                  {"resource_type": "volume", "tags": [{"key": "kiln:app", "value": "hello"}]}],
}


def expected_data(req):
    """A request's launch template data in the form Kiln reports it."""
    ebs_keys = ["volume_size_gib", "volume_type", "encrypted", "delete_on_termination",
                "iops", "throughput"]
    return {
        "image_id": req.get("image_id"), "instance_type": req.get("instance_type"),
        "user_data": req.get("user_data"),
        "security_group_ids": req.get("security_group_ids", []),
        "iam_instance_profile_name": req.get("iam_instance_profile_name"),
        "iam_instance_profile_arn": req.get("iam_instance_profile_arn"),
        "block_devices": [{"device_name": b["device_name"],
                           **({"ebs": {k: b["ebs"].get(k) for k in ebs_keys}}
                              if "ebs" in b else {})}
                          for b in req.get("block_devices", [])],
        "http_tokens": req.get("http_tokens"), "http_endpoint": req.get("http_endpoint"),
        "http_put_response_hop_limit": req.get("http_put_response_hop_limit"),
        "tag_specs": [{"resource_type": s["resource_type"],
                       "tags": {t["key"]: t["value"] for t in s["tags"]}}
                      for s in req.get("tag_specs", [])],
    }


def compare_data(kiln, boto):
    """Kiln's launch template data against boto3's LaunchTemplateData."""
    assert kiln["image_id"] == boto.get("ImageId")
    assert kiln["instance_type"] == boto.get("InstanceType")
    assert kiln["user_data"] == boto.get("UserData")
    assert kiln["security_group_ids"] == boto.get("SecurityGroupIds", [])
    assert kiln["iam_instance_profile_name"] == boto.get("IamInstanceProfile", {}).get("Name")
    assert kiln["iam_instance_profile_arn"] == boto.get("IamInstanceProfile", {}).get("Arn")
    want_bd = []
    for b in boto.get("BlockDeviceMappings", []):
        e = {"device_name": b["DeviceName"]}
        if "Ebs" in b:
            ebs = b["Ebs"]
            e["ebs"] = {"volume_size_gib": ebs.get("VolumeSize"),
                        "volume_type": ebs.get("VolumeType"),
                        "encrypted": ebs.get("Encrypted"),
                        "delete_on_termination": ebs.get("DeleteOnTermination"),
                        "iops": ebs.get("Iops"), "throughput": ebs.get("Throughput")}
        want_bd.append(e)
    assert kiln["block_devices"] == want_bd
    md = boto.get("MetadataOptions", {})
    assert kiln["http_tokens"] == md.get("HttpTokens")
    assert kiln["http_put_response_hop_limit"] == md.get("HttpPutResponseHopLimit")
    assert kiln["http_endpoint"] == md.get("HttpEndpoint")
    assert kiln["tag_specs"] == [{"resource_type": t["ResourceType"], "tags": tags(t["Tags"])}
                                 for t in boto.get("TagSpecifications", [])]


def test_create_launch_template_through_kiln_is_seen_by_boto3(awsemu):
    ec2 = awsemu.client("ec2")
    name = unique("lt")
    data = {**FULL_DATA, "image_id": public_ami(awsemu)}
    t = result(awsemu, "create_launch_template", {
        "name": name, "client_token": unique("tok"), "version_description": "commit abc",
        "data": data, "tags": [{"key": "kiln:app", "value": "hello"}]})["template"]
    assert t["name"] == name and t["id"].startswith("lt-")
    assert t["default_version"] == 1 and t["latest_version"] == 1
    desc = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"][0]
    assert desc["LaunchTemplateId"] == t["id"]
    assert tags(desc.get("Tags")) == {"kiln:app": "hello"}
    v = ec2.describe_launch_template_versions(LaunchTemplateId=t["id"])["LaunchTemplateVersions"]
    assert len(v) == 1 and v[0]["VersionDescription"] == "commit abc"
    # Kiln reads back what boto3 reads ...
    back = result(awsemu, "describe_launch_template_versions",
                  {"launch_template_id": t["id"], "versions": ["$Latest"]})["versions"][0]
    compare_data(back["data"], v[0]["LaunchTemplateData"])
    # ... which is what Kiln wrote. (moto also copies the template's own
    # launch-template tags into the data's TagSpecifications; AWS does not.)
    back["data"]["tag_specs"] = [s for s in back["data"]["tag_specs"]
                                 if s["resource_type"] != "launch-template"]
    assert back["data"] == expected_data(data)


def test_describe_launch_template_versions_matches_boto3(awsemu):
    ec2 = awsemu.client("ec2")
    name = unique("lt")
    boto_data = {
        "ImageId": public_ami(awsemu), "InstanceType": "t3.small", "UserData": "IyEvYmluL3No",
        "SecurityGroupIds": ["sg-0123456789abcdef0"],
        "IamInstanceProfile": {"Arn": "arn:aws:iam::123456789012:instance-profile/x"},
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda",
                                 "Ebs": {"VolumeSize": 16, "VolumeType": "gp3",
                                         "Encrypted": True, "Throughput": 250}}],
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 1},
        "TagSpecifications": [{"ResourceType": "instance",
                               "Tags": [{"Key": "kiln:app", "Value": "hello"}]}]}
    lt = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=boto_data,
                                    VersionDescription="v1")["LaunchTemplate"]
    ec2.create_launch_template_version(LaunchTemplateId=lt["LaunchTemplateId"],
                                       LaunchTemplateData={"ImageId": boto_data["ImageId"],
                                                           "InstanceType": "t3.large"},
                                       VersionDescription="v2")
    for req in ({"launch_template_id": lt["LaunchTemplateId"]},
                {"launch_template_name": name, "versions": ["1", "2"]}):
        got = result(awsemu, "describe_launch_template_versions", req)["versions"]
        want = ec2.describe_launch_template_versions(
            LaunchTemplateId=lt["LaunchTemplateId"])["LaunchTemplateVersions"]
        assert sorted(v["version_number"] for v in got) == [1, 2]
        by_number = {v["VersionNumber"]: v for v in want}
        for v in got:
            w = by_number[v["version_number"]]
            assert v["launch_template_id"] == w["LaunchTemplateId"]
            assert v["launch_template_name"] == w["LaunchTemplateName"]
            assert v["default_version"] == w["DefaultVersion"]
            assert v["description"] == w.get("VersionDescription")
            compare_data(v["data"], w["LaunchTemplateData"])
    default = result(awsemu, "describe_launch_template_versions",
                     {"launch_template_name": name, "versions": ["$Default"]})["versions"]
    assert [v["version_number"] for v in default] == [1] and default[0]["default_version"]
    latest = result(awsemu, "describe_launch_template_versions",
                    {"launch_template_name": name, "versions": ["$Latest"]})["versions"]
    assert [v["version_number"] for v in latest] == [2]
    assert latest[0]["data"]["instance_type"] == "t3.large"
    assert latest[0]["data"]["block_devices"] == [] and latest[0]["data"]["tag_specs"] == []


def test_create_version_and_set_default_through_kiln(awsemu):
    ec2 = awsemu.client("ec2")
    name = unique("lt")
    ami = public_ami(awsemu)
    lt = ec2.create_launch_template(LaunchTemplateName=name,
                                    LaunchTemplateData={"ImageId": ami})["LaunchTemplate"]
    token = unique("tok")
    req = {"launch_template_id": lt["LaunchTemplateId"], "client_token": token,
           "version_description": "commit 123 digest sha256:ff",
           "data": {**FULL_DATA, "image_id": ami}}
    v = result(awsemu, "create_launch_template_version", req)["version"]
    assert v["version_number"] == 2 and not v["default_version"]
    assert v["launch_template_id"] == lt["LaunchTemplateId"]
    assert v["description"] == "commit 123 digest sha256:ff"
    w = ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"],
                                              Versions=["2"])["LaunchTemplateVersions"][0]
    compare_data(v["data"], w["LaunchTemplateData"])
    t = result(awsemu, "modify_launch_template", {
        "launch_template_name": name, "default_version": "2",
        "client_token": unique("tok")})["template"]
    assert t["id"] == lt["LaunchTemplateId"] and t["default_version"] == 2
    desc = ec2.describe_launch_templates(LaunchTemplateIds=[lt["LaunchTemplateId"]])
    assert desc["LaunchTemplates"][0]["DefaultVersionNumber"] == 2


def test_describe_launch_templates_follows_every_page(awsemu):
    ec2 = awsemu.client("ec2")
    prefix = unique("page")
    ami = public_ami(awsemu)
    names = [f"{prefix}-{i:02d}" for i in range(23)]
    for n in names:
        ec2.create_launch_template(LaunchTemplateName=n, LaunchTemplateData={"ImageId": ami},
                                   TagSpecifications=[{"ResourceType": "launch-template",
                                                       "Tags": [{"Key": "n", "Value": n}]}])
    awsemu.reset_requests()
    got = result(awsemu, "describe_launch_templates", {"max_results": 5})["templates"]
    assert awsemu.counts()["ec2:DescribeLaunchTemplates"] >= 5
    boto_all = [t for p in ec2.get_paginator("describe_launch_templates").paginate()
                for t in p["LaunchTemplates"]]
    assert sorted(t["id"] for t in got) == sorted(t["LaunchTemplateId"] for t in boto_all)
    mine = {t["name"]: t for t in got if t["name"].startswith(prefix)}
    assert sorted(mine) == names
    assert all(t["tags"] == {"n": t["name"]} and t["default_version"] == 1
               for t in mine.values())
    # By name: only those, in one call.
    some = result(awsemu, "describe_launch_templates", {"names": names[:3]})["templates"]
    assert sorted(t["name"] for t in some) == names[:3]


def test_default_versions_across_all_templates(awsemu):
    """DescribeLaunchTemplateVersions without a template: every template's
    $Default version, over several pages."""
    ec2 = awsemu.client("ec2")
    prefix = unique("all")
    ami = public_ami(awsemu)
    for i in range(7):
        lt = ec2.create_launch_template(LaunchTemplateName=f"{prefix}-{i}",
                                        LaunchTemplateData={"ImageId": ami,
                                                            "InstanceType": "t3.micro"})
        ec2.create_launch_template_version(
            LaunchTemplateId=lt["LaunchTemplate"]["LaunchTemplateId"],
            LaunchTemplateData={"ImageId": ami, "InstanceType": "t3.large"})
    out = run(awsemu, "describe_launch_template_versions",
              {"versions": ["$Default"], "max_results": 3}, expect_ok=None)
    assert out["ok"], out.get("message")
    got = [v for v in out["result"]["versions"] if v["launch_template_name"].startswith(prefix)]
    assert sorted(v["launch_template_name"] for v in got) == [f"{prefix}-{i}" for i in range(7)]
    assert all(v["version_number"] == 1 and v["default_version"] and
               v["data"]["instance_type"] == "t3.micro" for v in got)


def test_describe_instances_by_ids(awsemu):
    ec2 = awsemu.client("ec2")
    ami = public_ami(awsemu)
    lt = ec2.create_launch_template(LaunchTemplateName=unique("lt"),
                                    LaunchTemplateData={"ImageId": ami})["LaunchTemplate"]
    insts = ec2.run_instances(LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"],
                                              "Version": "1"},
                              MinCount=3, MaxCount=3)["Instances"]
    ids = [i["InstanceId"] for i in insts]
    got = result(awsemu, "describe_instances", {"instance_ids": ids})["instances"]
    want = {i["InstanceId"]: i for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
            for i in r["Instances"]}
    assert sorted(i["instance_id"] for i in got) == sorted(ids)
    for i in got:
        w = want[i["instance_id"]]
        assert i["state"] == w["State"]["Name"]
        assert i["image_id"] == w["ImageId"]
        assert i["subnet_id"] == w.get("SubnetId")
        t = tags(w.get("Tags"))
        assert i["launch_template_id"] == t.get("aws:ec2launchtemplate:id")
        assert i["launch_template_version"] == t.get("aws:ec2launchtemplate:version")


def test_describe_instances_pages(awsemu):
    ec2 = awsemu.client("ec2")
    ec2.run_instances(ImageId=public_ami(awsemu), MinCount=6, MaxCount=6)
    awsemu.reset_requests()
    got = result(awsemu, "describe_instances", {"max_results": 5})["instances"]
    want = [i["InstanceId"] for p in ec2.get_paginator("describe_instances").paginate()
            for r in p["Reservations"] for i in r["Instances"]]
    assert sorted(i["instance_id"] for i in got) == sorted(want)
    assert awsemu.counts()["ec2:DescribeInstances"] >= 2


def test_client_token_makes_create_version_idempotent(awsemu):
    ec2 = awsemu.client("ec2")
    ami = public_ami(awsemu)
    lt = ec2.create_launch_template(LaunchTemplateName=unique("lt"),
                                    LaunchTemplateData={"ImageId": ami})["LaunchTemplate"]
    req = {"launch_template_id": lt["LaunchTemplateId"], "client_token": unique("tok"),
           "data": {"image_id": ami, "instance_type": "t3.nano"}}
    first = result(awsemu, "create_launch_template_version", req)["version"]
    again = result(awsemu, "create_launch_template_version", req)["version"]
    assert first["version_number"] == again["version_number"] == 2
    versions = ec2.describe_launch_template_versions(
        LaunchTemplateId=lt["LaunchTemplateId"])["LaunchTemplateVersions"]
    assert sorted(v["VersionNumber"] for v in versions) == [1, 2]
