"""Seeded generator of requests to sign, shaped like the four AWS protocols
Kiln speaks. Used by test_sigv4_oracle.py and bench/sigv4/run.

Every request is a dict: protocol, method, url, host, path (wire form,
encoded once), query (wire form), headers ([name, value] in send order),
body (bytes), access_key, secret_key, token ("" for none), region, service,
time (unix seconds), odd_path (bool) and raw_text (the unencoded text that
went into it, to measure UTF-8 coverage).
"""

import json
import string
from urllib.parse import quote, urlencode

PROTOCOLS = ("ec2-query", "autoscaling-query", "json-1.1", "rest-json")

REGIONS = (
    "us-east-1", "us-west-2", "eu-west-1", "eu-central-2", "ap-southeast-3",
    "sa-east-1", "us-gov-west-1", "cn-north-1", "il-central-1",
)

# Text pieces with which the generator builds names and values: plain,
# reserved and sub-delimiter ASCII, and UTF-8 from 2 to 4 bytes.
ASCII_WORDS = ("web", "app-1", "v0.1.0", "a_b", "x~y", "AMI", "Name", "42")
ODD_ASCII = (" ", "+", "=", "&", "/", "%", "!", "*", "'", "(", ")", ":", "@",
             ",", ";", "$", "?", "#", "[", "]", "%20", "%2F", "..", ".")
UTF8 = ("é", "ü", "ß", "ñ", "Ω", "日本", "中文", "テスト", "🚀", "𝄞", "Ä", "ø")
# Header values avoid Unicode whitespace: HTTP header values are bytes, and
# what is whitespace there is ASCII whitespace.
HEADER_UTF8 = ("café", "naïve", "日本語", "🚀", "Øre")

SSM_OPS = ("GetParameter", "GetParameters", "GetParametersByPath",
           "DescribeParameters", "PutParameter")
EC2_ACTIONS = ("DescribeImages", "DescribeInstances", "DescribeLaunchTemplates",
               "DescribeLaunchTemplateVersions", "CreateLaunchTemplateVersion",
               "ModifyLaunchTemplate", "CreateTags", "DescribeTags")
ASG_ACTIONS = ("DescribeAutoScalingGroups", "UpdateAutoScalingGroup",
               "StartInstanceRefresh", "CancelInstanceRefresh",
               "DescribeInstanceRefreshes", "CreateAutoScalingGroup")


def text(rng, utf8=True, max_parts=4):
    parts = []
    for _ in range(rng.randint(1, max_parts)):
        pool = rng.choice(
            (ASCII_WORDS, ODD_ASCII, UTF8) if utf8 else (ASCII_WORDS, ODD_ASCII)
        )
        parts.append(rng.choice(pool))
    return "".join(parts)


def b64ish(rng, n):
    alphabet = string.ascii_letters + string.digits + "+/"
    return "".join(rng.choice(alphabet) for _ in range(n))


def credentials(rng):
    token = ""
    if rng.random() < 0.5:
        token = b64ish(rng, rng.randint(100, 900)) + rng.choice(("", "=", "=="))
    prefix = "ASIA" if token else "AKIA"
    akid = prefix + "".join(
        rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)
    )
    return akid, b64ish(rng, 40), token


def endpoint(rng, service, region):
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    choice = rng.random()
    if choice < 0.55:
        return "https", f"{service}.{region}.{suffix}", None
    if choice < 0.7:
        return "https", f"{service}.{region}.{suffix}", 443
    if choice < 0.85:
        return "http", "localhost", rng.choice((4566, 5000, 80))
    return "http", "127.0.0.1", rng.choice((5000, 8080))


def host_value(scheme, host, port):
    default = {"http": 80, "https": 443}[scheme]
    return host if port is None or port == default else f"{host}:{port}"


def random_body_bytes(rng):
    n = rng.choice((1, 7, 64, 255, 1024, 4099))
    # Starts with NUL and a byte invalid in UTF-8 so it is surely binary.
    return b"\x00\xff" + rng.randbytes(n)


def is_binary(body):
    if b"\x00" in body:
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def extra_headers(rng, raw):
    """Headers that exercise canonicalisation: padded, repeated, mixed
    case, empty, UTF-8, and the ones SigV4 must leave unsigned."""
    hs = []
    if rng.random() < 0.4:
        hs.append(["X-Kiln-Padded", rng.choice(
            ("  a   b \t c  ", "\tleading", "trailing   ", "   ",
             "x  \t  y", " one two  three ")
        )])
    if rng.random() < 0.35:
        n = rng.randint(2, 3)
        for i in range(n):
            name = rng.choice(("X-Kiln-Rep", "x-kiln-rep", "X-KILN-REP"))
            hs.append([name, rng.choice(("a", " b ", "c,d", "", "z  z"))])
    if rng.random() < 0.2:
        v = rng.choice(HEADER_UTF8)
        raw.append(v)
        hs.append(["X-Kiln-Utf8", v])
    if rng.random() < 0.15:
        hs.append(["X-Kiln-Empty", ""])
    if rng.random() < 0.3:
        hs.append(["User-Agent", "kiln/0.1.0 test"])
    if rng.random() < 0.15:
        hs.append(["Expect", "100-continue"])
    if rng.random() < 0.1:
        hs.append(["X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793"])
    if rng.random() < 0.2:
        hs.append(["X-Amz-Client-Context", b64ish(rng, 24)])
    rng.shuffle(hs)
    return hs


def query_protocol(rng, service, actions, version, raw, member_style):
    action = rng.choice(actions)
    params = [("Action", action), ("Version", version)]
    for i in range(1, rng.randint(1, 4)):
        name = text(rng, utf8=False, max_parts=2)
        params.append((f"Filter.{i}.Name", name))
        raw.append(name)
        for j in range(1, rng.randint(1, 4)):
            v = text(rng)
            raw.append(v)
            key = (f"Filter.{i}.Value.{j}" if member_style == "item"
                   else f"Filters.member.{i}.Values.member.{j}")
            params.append((key, v))
    if rng.random() < 0.3:
        params.append(("ClientToken", b64ish(rng, 32)))
    return "POST", "/", "", urlencode(params).encode("utf-8"), [
        ["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"]
    ]


def json_protocol(rng, raw):
    op = rng.choice(SSM_OPS)
    doc = {}
    if rng.random() < 0.8:
        name = "/" + "/".join(text(rng) for _ in range(rng.randint(1, 3)))
        raw.append(name)
        doc = {"Name": name, "WithDecryption": rng.random() < 0.5}
        if rng.random() < 0.3:
            doc["NextToken"] = b64ish(rng, 40)
    if rng.random() < 0.25:
        body = random_body_bytes(rng)
    else:
        body = json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode("utf-8")
    headers = [
        ["X-Amz-Target", f"AmazonSSM.{op}"],
        ["Content-Type", "application/x-amz-json-1.1"],
    ]
    return "POST", "/", "", body, headers


REST_ROUTES = (
    ("GET", "/GetImage", False),
    ("GET", "/ListImages", False),
    ("PUT", "/CreateImage", False),
    ("PUT", "/CreateImageRecipe", False),
    ("DELETE", "/DeleteImage", False),
    ("GET", "/tags/{resourceArn}", True),
    ("POST", "/tags/{resourceArn}", True),
    ("DELETE", "/tags/{resourceArn}", True),
    ("GET", "/images/{name}/{version}", True),
    ("POST", "/objects/{key+}", True),
)


def rest_json(rng, raw):
    method, template, has_labels = rng.choice(REST_ROUTES)
    path = template
    if has_labels:
        for label in ("{resourceArn}", "{name}", "{version}", "{key+}"):
            if label not in path:
                continue
            if label == "{resourceArn}":
                v = (f"arn:aws:imagebuilder:us-east-1:123456789012:image/"
                     f"{text(rng)}/1.0.{rng.randint(0, 9)}")
            else:
                v = text(rng)
            raw.append(v)
            # Labels are encoded once on the wire; a greedy label keeps '/'.
            safe = "/~" if label.endswith("+}") else "~"
            path = path.replace(label, quote(v, safe=safe))
    odd = False
    if rng.random() < 0.35:
        odd = True
        mutation = rng.choice(("double", "dot", "dotdot", "trailing", "mixed"))
        if mutation == "double":
            path = "/" + path
            path = path.replace("/", "//", 1)
        elif mutation == "dot":
            path = path + "/./x"
        elif mutation == "dotdot":
            path = "/extra/.." + path
        elif mutation == "trailing":
            path = path + "/"
        else:
            path = "//a/./b/../" + path.lstrip("/") + "//"
    query = ""
    if rng.random() < 0.6 or method == "GET":
        pairs = []
        for _ in range(rng.randint(1, 5)):
            k = rng.choice(("imageBuildVersionArn", "maxResults", "nextToken",
                            "filter", "owner", "tagKeys", text(rng, max_parts=2)))
            v = rng.choice(("", "10", text(rng), b64ish(rng, 20) + "=="))
            raw.extend((k, v))
            pairs.append((k, v))
            if rng.random() < 0.3:
                pairs.append((k, text(rng)))  # repeated key, other value
        rng.shuffle(pairs)
        query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs
        )
    if method in ("GET", "DELETE") and rng.random() < 0.85:
        body = b""
    elif rng.random() < 0.4:
        body = random_body_bytes(rng)
    else:
        doc = {"name": text(rng), "semanticVersion": "1.0.0",
               "clientToken": b64ish(rng, 16)}
        raw.append(doc["name"])
        body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    headers = [["Content-Type", "application/json"]] if body else []
    return method, path, query, body, headers, odd


def generate(rng, count):
    out = []
    for i in range(count):
        protocol = PROTOCOLS[i % len(PROTOCOLS)]
        raw = []
        odd = False
        region = rng.choice(REGIONS)
        if protocol == "ec2-query":
            service = "ec2"
            method, path, query, body, headers = query_protocol(
                rng, service, EC2_ACTIONS, "2016-11-15", raw, "item")
        elif protocol == "autoscaling-query":
            service = "autoscaling"
            method, path, query, body, headers = query_protocol(
                rng, service, ASG_ACTIONS, "2011-01-01", raw, "member")
        elif protocol == "json-1.1":
            service = "ssm"
            method, path, query, body, headers = json_protocol(rng, raw)
        else:
            service = "imagebuilder"
            method, path, query, body, headers, odd = rest_json(rng, raw)
        if protocol != "rest-json" and rng.random() < 0.1:
            body = b""  # empty bodies in every protocol
        scheme, hostname, port = endpoint(rng, service, region)
        host = host_value(scheme, hostname, port)
        headers = headers + extra_headers(rng, raw)
        if rng.random() < 0.2:
            # An explicit Host header, sometimes in odd case, is signed as is.
            headers.insert(rng.randint(0, len(headers)),
                           [rng.choice(("Host", "host", "HOST")), host])
        url = f"{scheme}://{hostname}" + (f":{port}" if port else "") + path
        if query:
            url += "?" + query
        akid, secret, token = credentials(rng)
        out.append({
            "protocol": protocol,
            "method": method,
            "url": url,
            "host": host,
            "path": path,
            "query": query,
            "headers": headers,
            "body": body,
            "access_key": akid,
            "secret_key": secret,
            "token": token,
            "region": region,
            "service": service,
            "time": rng.randint(946684800, 4102444799),
            "odd_path": odd,
            "raw_text": "".join(raw),
        })
    return out


def has_repeated_header(r):
    names = [n.lower() for n, _ in r["headers"]]
    return len(names) != len(set(names))


def has_padded_header(r):
    return any(v != " ".join(v.split()) for _, v in r["headers"])


def has_odd_path(r):
    return r["odd_path"] or "%25" in r["path"] or "//" in r["path"]
