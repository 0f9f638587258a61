"""AWS's pagination for the EC2 describe calls Kiln uses.

moto answers some of them with a silently truncated list (15 launch
templates, 100 reservations) and no NextToken, and DescribeImages without
any paging. The emulator asks moto for everything, then cuts the page
itself, with AWS's MaxResults limits and an opaque NextToken that is only
valid for the same request.

DescribeImages, DescribeLaunchTemplates and DescribeLaunchTemplateVersions
are cut before moto renders them (motoglue.PageWindow): moto finds every
item, renders only the page, and the items found are kept for the pages
that follow, so a listing of N items costs one search and N renderings
however it is paged. A chain of pages therefore sees the items as they were
at its first page, as a cursor does; a token whose kept items are gone
(expired, or more chains than are kept) is answered by searching again.
"""

import base64
import collections
import hashlib
import io
import json
import time
import urllib.parse
import uuid
from xml.etree import ElementTree as ET

from . import motoglue
from .errors import ApiError

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
ET.register_namespace("", EC2_NS)

# action -> (smallest, largest MaxResults AWS accepts, raise moto's own cap)
PAGED = {
    "DescribeImages": (1, 1000, False),
    "DescribeLaunchTemplates": (1, 200, True),
    "DescribeLaunchTemplateVersions": (1, 200, True),
    "DescribeInstances": (5, 1000, True),
}
UNLIMITED = "1000000"
# DescribeInstances with InstanceIds (no MaxResults allowed): instances per page.
IDS_PAGE = 100
# Cut before rendering: action -> the list member of moto's result.
WINDOWED = {
    "DescribeImages": "Images",
    "DescribeLaunchTemplates": "LaunchTemplates",
    "DescribeLaunchTemplateVersions": "LaunchTemplateVersions",
}
# Items kept for the pages after the first: how many chains, how long.
KEPT_CHAINS = 32
KEPT_SECONDS = 600


class Pagination:
    def __init__(self, emulator):
        self.emulator = emulator
        # chain id -> (time kept, account, region, the items of the chain)
        self.kept = collections.OrderedDict()

    def applies(self, req):
        return req.service == "ec2" and req.action in PAGED

    def check(self, req):
        """Limits AWS enforces where moto pages by itself.
        DescribeAutoScalingGroups: moto pages correctly but answers a
        foreign NextToken with a 500 (MaxRecords is checked in checks.py)."""
        if req.service != "autoscaling" or req.action != "DescribeAutoScalingGroups":
            return
        token = req.params.get("NextToken")
        if token is not None:
            backend = motoglue.autoscaling(req.account_id, req.region)
            groups = backend.describe_auto_scaling_groups(
                req.params.get("AutoScalingGroupNames") or [],
                filters=req.params.get("Filters") or [])
            if token not in [g.name for g in groups]:
                raise ApiError("InvalidNextToken", "The token provided is not valid.")

    def handle(self, req, environ):
        low, high, lift_cap = PAGED[req.action]
        max_results = req.params.get("MaxResults")
        if max_results is not None and not low <= max_results <= high:
            raise ApiError("InvalidParameterValue",
                           f"Value ( {max_results} ) for parameter maxResults is invalid. "
                           f"Expecting a value between {low} and {high}.")
        has_ids = bool(req.params.get("InstanceIds"))
        if req.action == "DescribeInstances" and has_ids and max_results is not None:
            raise ApiError("InvalidParameterCombination",
                           "The parameter instancesSet cannot be used with the parameter "
                           "maxResults")
        fingerprint = _fingerprint(req.form)
        offset, chain = 0, None
        if req.params.get("NextToken") is not None:
            offset, chain = _decode_token(req.params["NextToken"], fingerprint)
        if req.action == "DescribeInstances" and has_ids:
            page_size = IDS_PAGE
        elif max_results is not None:
            page_size = max_results
        elif req.params.get("NextToken") is not None:
            page_size = high
        else:
            page_size = None  # everything, as AWS answers without MaxResults

        form = [(k, v) for k, v in req.form if k not in ("MaxResults", "NextToken")]
        if lift_cap and not (req.action == "DescribeInstances" and has_ids):
            form.append(("MaxResults", UNLIMITED))
        if req.action in WINDOWED:
            return self._windowed(req, environ, form, fingerprint, offset, chain, page_size)
        status, headers, body = self._moto(environ, form)
        if status != 200:
            return status, headers, body

        root = ET.fromstring(body)
        items_el = _child(root, _list_wire_name(req.op))
        items = list(items_el) if items_el is not None else []
        units = _instances(items) if req.action == "DescribeInstances" else items
        if page_size is None:
            page_size = len(units)
        page = units[offset:offset + page_size]
        if items_el is not None:
            # All at once: Element.remove searches, one item at a time it
            # would cost the square of the answer's length.
            del items_el[:]
            items_el.extend(_reservations(page) if req.action == "DescribeInstances" else page)
        return status, headers, _with_token(root, offset + page_size < len(units),
                                            offset + page_size, fingerprint, None)

    def _windowed(self, req, environ, form, fingerprint, offset, chain, page_size):
        kept = self._kept(chain, req)
        window = motoglue.PageWindow(WINDOWED[req.action], offset, page_size, kept)
        with motoglue.page_window(window):
            status, headers, body = self._moto(environ, form)
        if status != 200 or window.found is None:
            return status, headers, body
        more = page_size is not None and offset + page_size < len(window.found)
        if more and kept is None:
            chain = self._keep(req, window.found)
        elif not more and chain is not None:
            self.kept.pop(chain, None)
        root = ET.fromstring(body)
        return status, headers, _with_token(root, more, offset + (page_size or 0), fingerprint,
                                            chain if chain in self.kept else None)

    def _keep(self, req, found):
        """Keeps the items of a chain's first page's search for its next
        pages; returns the chain id its tokens carry."""
        now = time.time()
        for chain, entry in list(self.kept.items()):
            if now - entry[0] > KEPT_SECONDS:
                del self.kept[chain]
        while len(self.kept) >= KEPT_CHAINS:
            self.kept.popitem(last=False)
        chain = uuid.uuid4().hex[:16]
        self.kept[chain] = (now, req.account_id, req.region, found)
        return chain

    def _kept(self, chain, req):
        entry = self.kept.get(chain) if chain is not None else None
        if entry is None or entry[1] != req.account_id or entry[2] != req.region:
            return None
        if time.time() - entry[0] > KEPT_SECONDS:
            del self.kept[chain]
            return None
        return entry[3]

    def _moto(self, environ, form):
        body = urllib.parse.urlencode(form).encode()
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        env["CONTENT_LENGTH"] = str(len(body))
        env["CONTENT_TYPE"] = "application/x-www-form-urlencoded; charset=utf-8"
        return self.emulator.call_moto(env)


def _with_token(root, more, offset, fingerprint, chain):
    """The answer, with moto's own nextToken replaced by the emulator's
    when there is more."""
    old = _child(root, "nextToken")
    if old is not None:
        root.remove(old)
    if more:
        ET.SubElement(root, f"{{{EC2_NS}}}nextToken").text = _encode_token(offset, fingerprint,
                                                                        chain)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _instances(reservations):
    """DescribeInstances pages count instances, as AWS does, not
    reservations: (reservation, instance) for every instance, in order."""
    out = []
    for res in reservations:
        instances = _child(res, "instancesSet")
        for inst in (list(instances) if instances is not None else []):
            out.append((res, inst))
    return out


def _reservations(page):
    """The reservations of a page of (reservation, instance), each holding
    only its instances on the page."""
    keep = {}
    for res, inst in page:
        keep.setdefault(res, []).append(inst)
    for res, instances in keep.items():
        holder = _child(res, "instancesSet")
        for inst in list(holder):
            if inst not in instances:
                holder.remove(inst)
    return list(keep)


def _list_wire_name(op):
    shape = op.output_shape
    for name, member in shape.members.items():
        if member.type_name == "list":
            return member.serialization.get("name", name)
    raise AssertionError(f"{op.name} has no list in its output")


def _child(root, local_name):
    for el in root:
        if el.tag.rsplit("}", 1)[-1] == local_name:
            return el
    return None


def _fingerprint(form):
    # A token is only good for the request that produced it (same filters,
    # same ids); AWS rejects it otherwise.
    rest = sorted((k, v) for k, v in form if k not in ("MaxResults", "NextToken"))
    return hashlib.sha256(json.dumps(rest).encode()).hexdigest()[:16]


def _encode_token(offset, fingerprint, chain=None):
    doc = {"o": offset, "f": fingerprint}
    if chain is not None:
        doc["c"] = chain
    raw = json.dumps(doc).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token, fingerprint):
    """(offset, chain id or None) of a token made for this request."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
        if doc["f"] == fingerprint and isinstance(doc["o"], int) and doc["o"] >= 0:
            chain = doc.get("c")
            return doc["o"], chain if isinstance(chain, str) else None
    except (ValueError, KeyError, TypeError):
        pass
    raise ApiError("InvalidPaginationToken",
                   "The specified pagination token is not valid or is expired.")
