"""EC2 CopyImage across regions and accounts, which takes time and can fail.

moto copies an AMI of the caller's own account at once, `available`, with no
tags and no client token. AWS's copy is a new AMI owned by the caller, in
the region the request went to, with snapshots of its own; it is `pending`
while the snapshots are copied, then `available` (or `failed`, with a
StateReason). The source may be the caller's, public, or shared with the
caller's account; another account's AMI can be copied only if its snapshots
also grant the caller CreateVolumePermission.

A copy lasts `--copy-seconds` (emulator seconds) or COPY_AWS_S AWS seconds
under --time-scale. The `copy-fail` fault makes a copy end `failed`.
"""

import time

from . import motoglue, protocol
from .errors import ApiError

SERVICE = "ec2"
FAIL_REASON = {"Code": "Server.InternalError",
               "Message": "Copy of the image failed because of an internal error."}
NO_STORAGE = "You do not have permission to access the storage of this ami"


class Copies:
    def __init__(self, emulator, copy_seconds):
        self.emulator = emulator
        self.copy_seconds = max(0.0, float(copy_seconds))
        self.pending = []  # {"account", "region", "image", "done_at", "fail"}

    # ------------------------------------------------------------- request

    def handle(self, req):
        p = req.params
        account, region = req.account_id, req.region
        for unsupported in ("DestinationOutpostArn", "DestinationAvailabilityZone",
                            "DestinationAvailabilityZoneId"):
            if p.get(unsupported) is not None:
                raise ApiError("UnsupportedOperation",
                               f"awsemu copies AMIs between Regions only ({unsupported}).")
        source_region = p["SourceRegion"]
        if source_region not in motoglue.ec2_regions(account):
            raise ApiError("InvalidParameterValue",
                           f"Value ( {source_region} ) for parameter SourceRegion is invalid. "
                           "It is not a known Region.")
        if p.get("KmsKeyId") and not p.get("Encrypted"):
            raise ApiError("InvalidParameterDependency",
                           "The parameter KmsKeyId requires the parameter Encrypted to be set.")
        tags = {"image": {}, "snapshot": {}}
        for spec in p.get("TagSpecifications") or []:
            kind = spec.get("ResourceType")
            if kind not in tags:
                raise ApiError("InvalidParameterValue",
                               f"'{kind}' is not a valid taggable resource type for this "
                               "operation.")
            tags[kind].update({t["Key"]: t.get("Value", "") for t in spec.get("Tags") or []})
        if p.get("DryRun"):
            raise ApiError("DryRunOperation",
                           "Request would have succeeded, but DryRun flag is set.", 412)

        source_id = p["SourceImageId"]
        source, owner = motoglue.find_source_image(account, source_region, source_id)
        if source is None:
            raise ApiError("InvalidAMIID.NotFound",
                           f"The image id '[{source_id}]' does not exist")
        if source.state != "available":
            raise ApiError("InvalidAMIID.Unavailable",
                           f"The image id '[{source_id}]' is not available (state: "
                           f"{source.state})")
        if owner.account_id != account and not motoglue.snapshot_readable_by(
                source.ebs_snapshot, account):
            raise ApiError("InvalidRequest", NO_STORAGE)
        dest = motoglue.ec2(account, region)
        taken = motoglue.image_named(dest, p["Name"])
        if taken is not None:
            raise ApiError("InvalidAMIName.Duplicate",
                           f"AMI name {p['Name']} is already in use by AMI {taken.id}")

        image_tags = {}
        if p.get("CopyImageTags"):
            # The caller's own user-defined tags on the source: for an AMI
            # of another account, only the tags the caller put on it.
            image_tags = {k: v for k, v in motoglue.own_tags(account, source_region,
                                                             source_id).items()
                          if not k.lower().startswith("aws:")}
        image_tags.update(tags["image"])

        ami = motoglue.new_copy(dest, source, source_region, p["Name"], p.get("Description"),
                                bool(p.get("Encrypted")), p.get("KmsKeyId"))
        if image_tags:
            dest.create_tags([ami.id], image_tags)
        if tags["snapshot"]:
            dest.create_tags([ami.ebs_snapshot.id], tags["snapshot"])
        fail = self.emulator.faults.take(SERVICE, "CopyImage", "copy-fail", account,
                                         region) is not None
        self.pending.append({"account": account, "region": region, "image": ami.id,
                             "done_at": time.time() + self.copy_seconds, "fail": fail})
        return protocol.render_ec2_result(req, {"ImageId": ami.id})

    # ---------------------------------------------------------------- time

    def tick(self, now):
        due = [c for c in self.pending if now >= c["done_at"]]
        if not due:
            return
        self.pending = [c for c in self.pending if now < c["done_at"]]
        for c in due:
            ami = motoglue.ec2(c["account"], c["region"]).amis.get(c["image"])
            if ami is None or ami.state != "pending":
                continue  # deregistered while it was being copied
            if c["fail"]:
                ami.state = "failed"
                ami.state_reason = dict(FAIL_REASON)
                ami.ebs_snapshot.status = "error"
            else:
                ami.state = "available"
                ami.ebs_snapshot.status = "completed"
