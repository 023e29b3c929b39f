"""The one place that reads the wall clock.

Everything else takes `now` as an argument (engine) or asks a Clock once per
operation (adapters), so tests can freeze or drive time without patching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FrozenClock:
    """A clock that only moves when told to (tests, simulator)."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        self.current += delta
        return self.current


system_clock = SystemClock()


def now() -> datetime:
    """Aware UTC now; the only sanctioned call of datetime.now in the project."""
    return system_clock.now()
