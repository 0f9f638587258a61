"""Request accounting: a per-action counter and a log of every AWS request.

Tests assert exact request counts ("observing N apps costs K requests"), so
every AWS request that reaches the emulator is recorded exactly once, with
the status it was answered with, including requests answered by a fault.
"""

import threading
import time


class Accounting:
    def __init__(self):
        self._lock = threading.Lock()
        self._counts = {}
        self._by_account = {}  # account -> {"service:Action": n}
        self._log = []

    def record(self, service, action, status, fault=None, account=None, region=None):
        """Records one request. status is the HTTP status, or 0 when the
        connection was dropped without an answer (the "reset" fault); fault
        names the injected fault that answered it ("throttle", "error500",
        "reset"), None when the emulator handled it. account is the
        caller's (as its credentials say), region the request's."""
        key = f"{service}:{action}"
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            per = self._by_account.setdefault(account, {})
            per[key] = per.get(key, 0) + 1
            self._log.append(
                {"t": time.time(), "service": service, "action": action, "status": status,
                 "fault": fault, "account": account, "region": region}
            )

    def snapshot(self, account=None):
        """{"counts", "log"}: of every request, or of the requests of one
        account when `account` is given."""
        with self._lock:
            if account is None:
                return {"counts": dict(self._counts), "log": list(self._log)}
            return {"counts": dict(self._by_account.get(account, {})),
                    "log": [e for e in self._log if e["account"] == account]}

    def reset(self):
        with self._lock:
            self._counts.clear()
            self._by_account.clear()
            self._log.clear()
