"""Time, injectable: real commands use `Clock()`, tests a fake that advances on sleep()."""

from __future__ import annotations

import datetime as _dt
import time


class Clock:
    def now(self) -> _dt.datetime:
        return _dt.datetime.now(_dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
