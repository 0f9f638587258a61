"""Fault injection: throttling, 5xx, latency, dropped connections, token
buckets, and the "semantic" faults a bake or a refresh consults.

A rule matches a request by service (the SigV4 signing name: ec2,
autoscaling, imagebuilder, ssm, sts) and action ("*" for any). Each matching
request applies the rule with probability `rate`, at most `count` times.
"""

import random
import threading
import time

# Kinds decided when a request arrives, before it is handled.
REQUEST_KINDS = ("throttle", "error500", "latency", "reset", "bucket")
# Kinds consulted later by the Image Builder and instance-refresh emulation.
SEMANTIC_KINDS = ("bake-fail", "refresh-fail")
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
                 "burst", "refill_per_s"}
        unknown = set(spec) - known
        if unknown:
            raise FaultSpecError(f"unknown fault fields: {sorted(unknown)}")
        self.service = spec.get("service", "*")
        self.action = spec.get("action", "*")
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
        # One bucket per action: EC2 meters each API action separately, so a
        # rule for "*" behaves like a bucket per action, not one shared bucket.
        self.buckets = {}
        self.spec = dict(spec)

    def matches(self, service, action):
        return self.service in ("*", service) and self.action in ("*", action)

    def exhausted(self):
        return self.remaining is not None and self.remaining <= 0

    def consume(self):
        if self.remaining is not None:
            self.remaining -= 1


class Decision:
    """What the middleware must do to one request before handling it."""

    def __init__(self):
        self.latency_s = 0.0
        self.terminal = None  # None, "throttle", "error500" or "reset"


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

    def on_request(self, service, action):
        """Decides latency and at most one terminal fault for a request."""
        decision = Decision()
        with self._lock:
            for rule in self._rules:
                if rule.kind in SEMANTIC_KINDS or not rule.matches(service, action):
                    continue
                if rule.kind == "latency":
                    if self._fires(rule):
                        rule.consume()
                        decision.latency_s += rule.latency_ms / 1000.0
                    continue
                if decision.terminal is not None:
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
                elif self._fires(rule):
                    rule.consume()
                    decision.terminal = rule.kind
        return decision

    def take(self, service, action, kind):
        """True when a semantic fault (bake-fail, refresh-fail) applies to
        this call; consumes one use of the rule."""
        with self._lock:
            for rule in self._rules:
                if rule.kind == kind and rule.matches(service, action) and self._fires(rule):
                    rule.consume()
                    return True
        return False
