"""What a drill watches: the timeline of first events and the alarms raised and cleared."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drctl.clock import Clock
from drctl.drill.models import DrillPorts
from drctl.log import EventLog


class Timeline:
    """First occurrence of each event, with seconds since the fault started."""

    def __init__(self, clock: Clock, log: EventLog):
        self.clock, self.log = clock, log
        self.events: list[dict[str, Any]] = []
        self._first: dict[str, float] = {}
        self.fault_start: float | None = None

    def mark(self, event: str, **detail: Any) -> bool:
        if event in self._first:
            return False
        now = self.clock.monotonic()
        self._first[event] = now
        if event == "fault_start":
            self.fault_start = now
        record = {"event": event, "at": self.clock.now().isoformat(timespec="seconds"),
                  "t_s": self.since_fault(now), **detail}
        self.events.append(record)
        self.log.info("drill_event", **{("drill_" + k if k == "event" else k): v
                                        for k, v in record.items()})
        return True

    def since_fault(self, mono: float | None) -> float | None:
        if mono is None or self.fault_start is None:
            return None
        return round(mono - self.fault_start, 3)

    def at(self, event: str) -> float | None:
        return self._first.get(event)

    def finished_events(self) -> list[dict[str, Any]]:
        """Events with their offsets, the ones before the fault negative."""
        return [{**e, "t_s": self.since_fault(self._first[e["event"]])} for e in self.events]

    def seen(self, event: str) -> bool:
        return event in self._first


class AlarmWatch:
    """Alarms raised (-> ALARM) and cleared (ALARM -> OK) during the drill, per region."""

    def __init__(self, ports: DrillPorts, regions: Iterable[str], prefix: str, timeline: Timeline,
                 log: EventLog):
        self.ports, self.prefix, self.timeline, self.log = ports, prefix, timeline, log
        self.regions = list(dict.fromkeys(regions))
        self.baseline: dict[tuple[str, str], str] = {}
        self.raised: dict[tuple[str, str], float] = {}
        self.cleared: dict[tuple[str, str], float] = {}
        self.errors: dict[str, int] = {}  # region -> failed polls

    def poll(self, *, baseline: bool = False) -> None:
        now = self.timeline.clock.monotonic()
        for region in self.regions:
            try:
                states = self.ports.alarms(region, self.prefix)
            except Exception as error:
                self.errors[region] = self.errors.get(region, 0) + 1
                self.log.warning("alarm_poll_failed", region=region, error=str(error))
                continue
            for name, state in states.items():
                key = (region, name)
                if baseline:
                    self.baseline[key] = state
                elif state == "ALARM" and key not in self.raised and self.baseline.get(key) != "ALARM":
                    self.raised[key] = now
                    self.log.info("alarm_raised", alarm=name, region=region)
                elif state == "OK" and key in self.raised and key not in self.cleared:
                    self.cleared[key] = now
                    self.log.info("alarm_cleared", alarm=name, region=region)

    def pending(self) -> list[tuple[str, str]]:
        return [k for k in self.raised if k not in self.cleared]

    def rows(self) -> list[dict[str, Any]]:
        return [{"name": name, "region": region,
                 "raised_t_s": self.timeline.since_fault(at),
                 "cleared_t_s": self.timeline.since_fault(self.cleared.get((region, name)))}
                for (region, name), at in sorted(self.raised.items(), key=lambda kv: kv[1])]
