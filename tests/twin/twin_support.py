"""Shared by the twin's scenario tests."""

from __future__ import annotations

CLIENT_ID = "twin-client"  # the client the scenarios seed into the client-keys secret

# Scenario minutes of schedules and alarm evaluation before a scenario's assertions start:
# the alarms with missing data = breaching and 3 evaluation periods (peer/domain-unreachable,
# observed-replication-delay) need 3 minutes of the scheduled functions' data, plus one
# evaluation. Before that they page as a freshly deployed alarm does (see docs/twin.md).
WARM_UP_MINUTES = 5


def warm_up(twin) -> float:
    """Evaluation and schedules on, and the scenario clock at least WARM_UP_MINUTES past their
    start (a no-op when an earlier scenario of the session already warmed the twin up).
    Returns the scenario time at which the warm-up ended."""
    twin.evaluate()
    target = twin.clock.start + WARM_UP_MINUTES * 60
    if twin.clock.now() < target:
        twin.advance(target - twin.clock.now())
    return target
