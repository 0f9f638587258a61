"""DescribeScalingActivities, which moto answers with an empty list: the
launches the emulator records (motoglue), newest first."""

import base64
import json

from . import motoglue, protocol
from .errors import ApiError


def handle(req):
    p = req.params
    name = p.get("AutoScalingGroupName")
    max_records = p.get("MaxRecords") or 100  # 1-100, checked in checks.py
    found = []
    for (account, region, group_name), acts in motoglue.ACTIVITIES.items():
        if account == req.account_id and region == req.region and name in (None, group_name):
            found += acts
    found.sort(key=lambda a: a["StartTime"], reverse=True)
    ids = p.get("ActivityIds")
    if ids:
        found = [a for a in found if a["ActivityId"] in ids]
    start = 0
    if p.get("NextToken"):
        try:
            start, owner = json.loads(base64.urlsafe_b64decode(p["NextToken"].encode()))
            assert owner == name and isinstance(start, int) and start >= 0
        except Exception:
            raise ApiError("InvalidNextToken", "The token provided is not valid.")
    page = found[start:start + max_records]
    result = {"Activities": page}
    if start + max_records < len(found):
        result["NextToken"] = base64.urlsafe_b64encode(
            json.dumps([start + max_records, name]).encode()).decode()
    return protocol.render_query_result(req, result)
