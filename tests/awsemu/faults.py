"""Fault injection: throttling, 5xx, latency, dropped connections, token
buckets, and the "semantic" faults a bake or a refresh consults.

A rule matches a request by service (the SigV4 signing name: ec2,
autoscaling, imagebuilder, ssm, sts) and action ("*" for any), and, when the
rule names them, by the caller's account and the request's region. Each
matching request applies the rule with probability `rate`, at most `count`
times.
"""

import random
import threading
import time

# Kinds decided when a request arrives. throttle, error500, reset, bucket,
# close-idle and gateway (unless "handled") answer instead of the service;
# truncate, slow-body and a "handled" gateway let the service handle the
# request and then spoil its answer.
REQUEST_KINDS = ("throttle", "error500", "latency", "reset", "bucket", "gateway",
                 "close-idle", "truncate", "slow-body")
AFTER_KINDS = ("truncate", "slow-body")
# Kinds consulted later by the emulation itself.
SEMANTIC_KINDS = ("bake-fail", "refresh-fail", "lag", "unhealthy", "bake-cancel",
                  "bake-disable", "copy-fail")
GATEWAY_STATUSES = (502, 503, 504)
KINDS = REQUEST_KINDS + SEMANTIC_KINDS


class FaultSpecError(ValueError):
    pass


class TokenBucket:
    """EC2-style bucket: `burst` tokens, refilled continuously at
    `refill_per_s`; a request that finds it empty is throttled."""

    def __init__(self, burst, refill_per_s, now):
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.refill_per_s = float(refill_per_s)
        self.updated = now

    def take(self, now):
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_s)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Rule:
    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise FaultSpecError("each fault must be an object")
        known = {"service", "action", "kind", "rate", "latency_ms", "count",
                 "burst", "refill_per_s", "status", "body", "handled", "chunk_bytes",
                 "interval_ms", "lag_ms", "image_tags", "account", "region"}
        unknown = set(spec) - known
        if unknown:
            raise FaultSpecError(f"unknown fault fields: {sorted(unknown)}")
        self.service = spec.get("service", "*")
        self.action = spec.get("action", "*")
        # None: any account (region). A string: only requests of that
        # account (the caller's, as its credentials say) or region.
        self.account = spec.get("account")
        self.region = spec.get("region")
        for field in ("account", "region"):
            if getattr(self, field) is not None and not isinstance(getattr(self, field), str):
                raise FaultSpecError(f"{field} must be a string")
        self.kind = spec.get("kind")
        if self.kind not in KINDS:
            raise FaultSpecError(f"kind must be one of {list(KINDS)}, not {self.kind!r}")
        self.rate = float(spec.get("rate", 1.0))
        if not 0.0 <= self.rate <= 1.0:
            raise FaultSpecError("rate must be between 0.0 and 1.0")
        self.latency_ms = int(spec.get("latency_ms", 0))
        if self.kind == "latency" and self.latency_ms <= 0:
            raise FaultSpecError("a latency fault needs latency_ms > 0")
        count = spec.get("count")
        self.remaining = None if count is None else int(count)
        if self.kind == "bucket":
            if "burst" not in spec or "refill_per_s" not in spec:
                raise FaultSpecError("a bucket fault needs burst and refill_per_s")
            self.burst = float(spec["burst"])
            self.refill_per_s = float(spec["refill_per_s"])
            if self.burst < 1 or self.refill_per_s < 0:
                raise FaultSpecError("bucket needs burst >= 1 and refill_per_s >= 0")
        if self.kind == "gateway":
            self.status = spec.get("status")
            if self.status not in GATEWAY_STATUSES:
                raise FaultSpecError(f"a gateway fault needs status in {list(GATEWAY_STATUSES)}")
            self.body = spec.get("body", "html")
            if self.body not in ("html", "empty"):
                raise FaultSpecError('gateway body must be "html" or "empty"')
            self.handled = spec.get("handled", False)
            if not isinstance(self.handled, bool):
                raise FaultSpecError("handled must be true or false")
        self.chunk_bytes = int(spec.get("chunk_bytes", 64))
        self.interval_ms = int(spec.get("interval_ms", 20))
        if self.kind == "slow-body" and (self.chunk_bytes < 1 or self.interval_ms < 1):
            raise FaultSpecError("slow-body needs chunk_bytes >= 1 and interval_ms >= 1")
        self.lag_ms = int(spec.get("lag_ms", 0))
        if self.kind == "lag" and self.lag_ms <= 0:
            raise FaultSpecError("a lag fault needs lag_ms > 0")
        self.image_tags = spec.get("image_tags")
        if self.kind == "unhealthy":
            if (not isinstance(self.image_tags, dict) or not self.image_tags
                    or not all(isinstance(k, str) and isinstance(v, str)
                               for k, v in self.image_tags.items())):
                raise FaultSpecError('an unhealthy fault needs "image_tags": {"Key": "Value"}')
        # One bucket per action: EC2 meters each API action separately, so a
        # rule for "*" behaves like a bucket per action, not one shared bucket.
        self.buckets = {}
        self.spec = dict(spec)

    def matches(self, service, action, account=None, region=None):
        return (self.service in ("*", service) and self.action in ("*", action)
                and self.in_scope(account, region))

    def in_scope(self, account=None, region=None):
        return ((self.account is None or self.account == account)
                and (self.region is None or self.region == region))

    def exhausted(self):
        return self.remaining is not None and self.remaining <= 0

    def consume(self):
        if self.remaining is not None:
            self.remaining -= 1


class Decision:
    """What the middleware must do to one request before handling it."""

    def __init__(self):
        self.latency_s = 0.0
        # None, "throttle", "error500", "reset", "gateway" or "close-idle":
        # answered instead of the service.
        self.terminal = None
        # None, "truncate", "slow-body" or "gateway": the service answers,
        # then the answer is spoilt.
        self.after = None
        self.rule = None  # the rule behind terminal or after

    @property
    def fault(self):
        return self.terminal or self.after


class Faults:
    def __init__(self, seed=None, clock=time.monotonic):
        self._lock = threading.Lock()
        self._rules = []
        self._rng = random.Random(seed)
        self._clock = clock

    def add(self, specs):
        rules = [Rule(s) for s in specs]  # validate all before adding any
        with self._lock:
            self._rules.extend(rules)

    def clear(self):
        with self._lock:
            self._rules.clear()

    def describe(self):
        with self._lock:
            out = []
            for r in self._rules:
                d = dict(r.spec)
                d["remaining"] = r.remaining
                out.append(d)
            return out

    def _fires(self, rule):
        return not rule.exhausted() and self._rng.random() < rule.rate

    def on_request(self, service, action, reused=False, account=None, region=None):
        """Decides latency and at most one fault that answers or spoils a
        request. `reused`: the request came on a connection that already
        served one (close-idle applies only to those)."""
        decision = Decision()
        with self._lock:
            for rule in self._rules:
                if rule.kind in SEMANTIC_KINDS or not rule.matches(service, action, account,
                                                                   region):
                    continue
                if rule.kind == "close-idle" and not reused:
                    continue
                if rule.kind == "latency":
                    if self._fires(rule):
                        rule.consume()
                        decision.latency_s += rule.latency_ms / 1000.0
                    continue
                if decision.terminal is not None or decision.after is not None:
                    continue
                if rule.kind == "bucket":
                    if rule.exhausted():
                        continue
                    now = self._clock()
                    bucket = rule.buckets.get(action)
                    if bucket is None:
                        bucket = rule.buckets[action] = TokenBucket(
                            rule.burst, rule.refill_per_s, now)
                    if not bucket.take(now):
                        rule.consume()
                        decision.terminal = "throttle"
                        decision.rule = rule
                elif self._fires(rule):
                    rule.consume()
                    decision.rule = rule
                    if rule.kind in AFTER_KINDS or (rule.kind == "gateway" and rule.handled):
                        decision.after = rule.kind
                    else:
                        decision.terminal = rule.kind
        return decision

    def take(self, service, action, kind, account=None, region=None):
        """The rule when a semantic fault (bake-fail, refresh-fail, lag, ...)
        applies to this call, else None; consumes one use of the rule."""
        with self._lock:
            for rule in self._rules:
                if (rule.kind == kind and rule.matches(service, action, account, region)
                        and self._fires(rule)):
                    rule.consume()
                    return rule
        return None

    def active(self, kind):
        """The rules of a kind that still have uses left (for faults that
        are properties of the world, such as unhealthy images)."""
        with self._lock:
            return [r for r in self._rules if r.kind == kind and not r.exhausted()]
