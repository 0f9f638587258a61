"""Auto Scaling health checks outside an instance refresh, which moto does
not run.

A group whose HealthCheckType is ELB (and that has target groups) replaces
an InService instance its target groups report `unhealthy` once the
health check grace period is over: AWS terminates it in one scaling
activity ("... taken out of service in response to an ELB system health
check failure.") and launches a replacement from the group's launch
template in another. A group with HealthCheckType EC2 ignores what its
load balancer thinks, as AWS does. While an instance refresh is active the
refresh judges its replacements itself, so the group is left alone.
"""

from . import motoglue


class HealthChecks:
    def __init__(self, emulator):
        self.emulator = emulator

    def tick(self, now):
        """Called by the emulator's ticker, under its lock."""
        # Only an `unhealthy` fault makes an instance fail its checks: with
        # none, nothing can be replaced, and a fleet of thousands of groups
        # is not walked twenty times a second for nothing.
        if not self.emulator.faults.active("unhealthy"):
            return
        for group in motoglue.every_group():
            if not motoglue.elb_health_checked(group) or self._refreshing(group):
                continue
            for state in list(group.instance_states):
                if motoglue.failing_elb_health(state, now):
                    motoglue.replace_unhealthy(group, state, now)

    def _refreshing(self, group):
        return any(r.active() and r.group_name == group.name
                   and r.account_id == group.account_id and r.region == group.region
                   for r in self.emulator.refreshes.live)
