"""What a job body sees while it runs: options, log, progress and stop checks.

Job bodies are plain functions `run(ctx: JobContext) -> None`. They call
`ctx.check_stop()` at safe points (between committed chunks); it raises
StopRequested when a user or the scheduler asked the run to stop, or RunLost
when this worker no longer owns the run. Log lines and progress are buffered
and written by the heartbeat thread on its own connection, so they are never
rolled back with the job's data and cost the job no round trips.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gimmanager.catalog import Job
from gimmanager.options import BY_KEY, Values


class StopRequested(Exception):
    """The run was asked to stop; the body's open transaction must roll back."""


class RunLost(Exception):
    """This worker no longer owns the run (declared lost, or ended elsewhere)."""


@dataclass
class JobContext:
    run_id: int
    job: Job
    params: str
    values: Values  # option values read when the run started ("changes take effect at the next job")
    started_at: datetime
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _log: list[tuple[datetime, str, str]] = field(default_factory=list, repr=False)
    _progress: tuple[int, int | None, str] | None = field(default=None, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    stop_reason: str = ""
    lost: bool = False

    def option(self, section: str, name: str) -> Any:
        """Parsed value of an option as it was when the run started."""
        spec = BY_KEY[(section, name)]
        return spec.parse(self.values.get(section, {}).get(name, spec.default))

    def log(self, message: str, level: str = "INFO") -> None:
        from gimmanager import clock

        with self._lock:
            self._log.append((clock.now(), level, message))

    def progress(self, done: int, total: int | None = None, text: str = "") -> None:
        with self._lock:
            self._progress = (done, total, text)

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def check_stop(self) -> None:
        if self._stop.is_set():
            raise RunLost(self.stop_reason) if self.lost else StopRequested(self.stop_reason)

    def wait(self, seconds: float) -> bool:
        """Idle for up to `seconds` (a continuous job with nothing to do); True if asked to stop."""
        return self._stop.wait(seconds)

    # --- used by the runner's heartbeat ------------------------------------
    def request_stop(self, reason: str, *, lost: bool = False) -> None:
        self.stop_reason = reason
        self.lost = lost
        self._stop.set()

    def drain(self) -> tuple[list[tuple[datetime, str, str]], tuple[int, int | None, str] | None]:
        with self._lock:
            log, self._log = self._log, []
            progress, self._progress = self._progress, None
        return log, progress
