"""EC2 DeleteLaunchTemplateVersions, which moto lacks.

AWS deletes up to 200 versions of one template a call and answers, per
version, whether it was deleted; the default version is refused
(`launchTemplateVersionIsDefaultVersion`), as is a version the template
does not have (`launchTemplateVersionDoesNotExist`). A deleted version is
gone from DescribeLaunchTemplateVersions; its number is never reused.

moto keeps a template's versions in a list indexed by number, so a deleted
version stays in that list marked `awsemu_deleted` and every listing skips
it (install() wraps moto's backend call).
"""

from moto.ec2.models import launch_templates as lt_models

from . import motoglue, protocol
from .errors import ApiError

MAX_VERSIONS = 200


def install():
    cls = lt_models.LaunchTemplateBackend
    if getattr(cls, "_awsemu_deletions", False):
        return
    original = cls.describe_launch_template_versions

    def describe(self, *args, **kwargs):
        return [(t, v) for t, v in original(self, *args, **kwargs)
                if not getattr(v, "awsemu_deleted", False)]

    cls.describe_launch_template_versions = describe
    cls._awsemu_deletions = True


def _refusal(template, number, code, message):
    return {"LaunchTemplateId": template.id, "LaunchTemplateName": template.name,
            "VersionNumber": number, "ResponseError": {"Code": code, "Message": message}}


def handle(req):
    p = req.params
    backend = motoglue.ec2(req.account_id, req.region)
    template = motoglue.find_template(backend, p.get("LaunchTemplateId"),
                                      p.get("LaunchTemplateName"))
    versions = p.get("Versions") or []
    if template is None:
        raise ApiError("InvalidLaunchTemplateId.NotFound"
                       if p.get("LaunchTemplateId") else "InvalidLaunchTemplateName.NotFoundException",
                       "The specified launch template, with template "
                       f"{'ID ' + p['LaunchTemplateId'] if p.get('LaunchTemplateId') else 'name ' + str(p.get('LaunchTemplateName'))}, "
                       "does not exist.")
    if not versions or len(versions) > MAX_VERSIONS:
        raise ApiError("InvalidParameterValue",
                       f"Give between 1 and {MAX_VERSIONS} launch template versions.")
    deleted, refused = [], []
    for raw in versions:
        try:
            number = int(raw)
        except (TypeError, ValueError):
            raise ApiError("InvalidParameterValue",
                           f"'{raw}' is not a launch template version number.") from None
        version = template.versions[number - 1] if 0 < number <= len(template.versions) else None
        if version is None or getattr(version, "awsemu_deleted", False):
            refused.append(_refusal(template, number, "launchTemplateVersionDoesNotExist",
                                    "The specified launch template version does not exist."))
        elif template.is_default(version):
            refused.append(_refusal(template, number, "launchTemplateVersionIsDefaultVersion",
                                    "Cannot delete the default version of a launch "
                                    "template."))
        else:
            version.awsemu_deleted = True
            deleted.append({"LaunchTemplateId": template.id,
                            "LaunchTemplateName": template.name, "VersionNumber": number})
    return protocol.render_ec2_result(req, {
        "SuccessfullyDeletedLaunchTemplateVersions": deleted,
        "UnsuccessfullyDeletedLaunchTemplateVersions": refused})
