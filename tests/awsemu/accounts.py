"""Accounts: who may become whom through STS AssumeRole.

moto's AssumeRole hands out credentials for any role ARN, even one that
does not exist, and those credentials then act in the account the ARN
names. AWS first checks the role: it must exist in IAM of its account, and
its trust policy must let the caller in (here: the caller's account, and the
`sts:ExternalId` condition). Otherwise the answer is 403 `AccessDenied`,
"User: <caller> is not authorized to perform: sts:AssumeRole on resource:
<role>", for a role that does not exist as for one that does not trust the
caller. The emulator checks that before moto issues the credentials.

Every account also has `OrganizationAccountAccessRole`, as the member
accounts of an AWS Organization do, so a test can act in any account: it is
created the first time the account is named (an AssumeRole into it, an IAM
request from it).
"""

import fnmatch
import json
import re

from . import motoglue
from .errors import ApiError

ORG_ROLE = "OrganizationAccountAccessRole"
# The trust policy of ORG_ROLE. AWS's trusts the organization's management
# account; the emulator's trusts every account, so any test can reach any
# account without setting up an organization.
ORG_ROLE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}
ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role/.+")
ARN_ACCOUNT = re.compile(r"arn:aws[\w-]*:(?:iam|sts)::(\d{12}):")
CHAINED_MAX_S = 3600  # AWS: a role session assuming a role gets at most one hour


def ensure_org_role(account):
    """Creates the account's OrganizationAccountAccessRole if it has none."""
    motoglue.ensure_role(account, ORG_ROLE, json.dumps(ORG_ROLE_TRUST),
                         "Grants full access to the account to the organization "
                         "(created by awsemu for every account).")


def check_assume_role(req):
    """Raises AWS's error when the caller may not assume the role the
    request names; returns when moto may issue the credentials."""
    p = req.params
    role_arn = p.get("RoleArn") or ""
    caller = motoglue.caller_arn(req.account_id, req.access_key, req.region)
    denied = ApiError("AccessDenied",
                      f"User: {caller} is not authorized to perform: sts:AssumeRole on "
                      f"resource: {role_arn}", status=403)
    m = ROLE_ARN.fullmatch(role_arn)
    if m is None:
        raise denied
    account = m.group(1)
    ensure_org_role(account)
    role = motoglue.find_role(account, role_arn)
    if role is None:
        raise denied
    try:
        policy = json.loads(role.assume_role_policy_document or "")
    except (TypeError, ValueError):
        raise denied
    if not trusts(policy, req.account_id, p.get("ExternalId")):
        raise denied
    duration = p.get("DurationSeconds")
    if duration is not None:
        if motoglue.is_role_session(req.account_id, req.access_key) and \
                duration > CHAINED_MAX_S:
            raise ApiError("ValidationError",
                           "The requested DurationSeconds exceeds the 1 hour session limit "
                           "for roles assuming other roles.")
        if duration > int(role.max_session_duration or 3600):
            raise ApiError("ValidationError",
                           "The requested DurationSeconds exceeds the MaxSessionDuration set "
                           "for this role.")


# ------------------------------------------------------------ trust policy

def trusts(policy, caller_account, external_id):
    """Whether a trust policy lets a caller of `caller_account` assume the
    role with `external_id` (None when the request has none). An explicit
    Deny wins; otherwise an Allow whose action, principal and conditions
    match is needed."""
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for st in statements or []:
        if not isinstance(st, dict):
            continue
        if not (_action_matches(st.get("Action"))
                and _principal_matches(st.get("Principal"), caller_account)
                and _conditions_hold(st.get("Condition"), external_id)):
            continue
        if st.get("Effect") == "Deny":
            return False
        if st.get("Effect") == "Allow":
            allowed = True
    return allowed


def _listed(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _action_matches(action):
    return any(isinstance(a, str) and fnmatch.fnmatchcase("sts:assumerole", a.lower())
               for a in _listed(action))


def _principal_matches(principal, caller_account):
    """"*", or an AWS principal of the caller's account: its id, its root,
    or any user or role ARN in it (the emulator does not tell the users and
    roles of one account apart). Service and federated principals never
    match a caller with credentials."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for p in _listed(principal.get("AWS")):
        if not isinstance(p, str):
            continue
        if p == "*" or p == caller_account:
            return True
        m = ARN_ACCOUNT.match(p)
        if m and m.group(1) == caller_account:
            return True
    return False


def _conditions_hold(conditions, external_id):
    """Only conditions on sts:ExternalId are evaluated (StringEquals,
    StringLike, Null); other condition keys are taken as satisfied."""
    if not conditions:
        return True
    if not isinstance(conditions, dict):
        return False
    for operator, clauses in conditions.items():
        if not isinstance(clauses, dict):
            return False
        for key, values in clauses.items():
            if key.lower() != "sts:externalid":
                continue
            values = [str(v) for v in _listed(values)]
            op = operator.lower()
            if op == "stringequals":
                ok = external_id is not None and external_id in values
            elif op == "stringlike":
                ok = external_id is not None and any(
                    fnmatch.fnmatchcase(external_id, v) for v in values)
            elif op == "null":
                ok = (external_id is None) == (values[:1] == ["true"])
            else:
                ok = False
            if not ok:
                return False
    return True
