"""DescribeScalingActivities, which moto answers with an empty list: the
launches the emulator records (motoglue), newest first."""

import base64
import json

from . import motoglue, protocol
from .errors import ApiError


def handle(req):
    p = req.params
    name = p.get("AutoScalingGroupName")
    max_records = p.get("MaxRecords")
    if max_records is not None and not 1 <= max_records <= 100:
        bound = ("greater than or equal to 1" if max_records < 1
                 else "less than or equal to 100")
        raise ApiError("ValidationError",
                       f"1 validation error detected: Value '{max_records}' at 'maxRecords' "
                       f"failed to satisfy constraint: Member must have value {bound}")
    max_records = max_records or 100
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
