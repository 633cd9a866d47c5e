"""Structured, timestamped event log on stderr: one JSON object per line.

Operators read the human report on stdout; the stderr log is the audit trail of what drctl
did and when (pipe it to a file during an incident: `2>>drctl-$(date +%F).log`).
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from drctl.clock import Clock


class EventLog:
    def __init__(self, stream: TextIO | None = None, clock: Clock | None = None,
                 command: str = "", quiet: bool = False):
        self._stream = stream
        self.clock = clock or Clock()
        self.command = command
        self.quiet = quiet
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # status probes regions in parallel

    def _emit(self, level: str, event: str, fields: dict[str, Any]) -> None:
        record = {"ts": self.clock.now().isoformat(timespec="milliseconds"), "level": level,
                  "command": self.command, "event": event, **fields}
        with self._lock:
            self.events.append(record)
            if not self.quiet:
                stream = self._stream or sys.stderr
                stream.write(json.dumps(record, default=str, sort_keys=False) + "\n")
                stream.flush()

    def info(self, event: str, **fields: Any) -> None:
        self._emit("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit("error", event, fields)

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]
