"""`idb_generate --live` rides out a database outage: it says so, closes the connection,
waits with a growing back-off and goes live again from the committed state; Ctrl-C still
stops it (here a real SIGINT to this process, which the command handles)."""

from __future__ import annotations

import os
import signal
from io import StringIO
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError

from infomart import generator
from infomart.management.commands import idb_generate


def test_it_retries_after_a_back_off_and_stops_on_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks: list[str] = []
    lives: list[Any] = []
    closed: list[bool] = []
    now = [0.0]  # the command's monotonic clock: its waits advance it, nothing sleeps

    class FlakyLive:
        def __init__(self, **kwargs: Any):
            lives.append(self)

        def tick(self, at: float) -> Any:
            ticks.append("tick")
            if len(ticks) <= 2:
                raise OperationalError("server closed the connection unexpectedly")
            if len(ticks) == 4:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C
            return SimpleNamespace(written={"g_ir": 3})

        def stop(self, at: float) -> Any:
            return SimpleNamespace(written={"g_ir": 0}, deferred=0)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(generator, "Live", FlakyLive)
    monkeypatch.setattr(generator, "load_state", lambda: SimpleNamespace(last_end_ts=None))
    monkeypatch.setattr(idb_generate, "time", SimpleNamespace(monotonic=lambda: now[0], sleep=sleep))
    monkeypatch.setattr(idb_generate, "connection", SimpleNamespace(close=lambda: closed.append(True)))
    before = signal.getsignal(signal.SIGINT)
    out, err = StringIO(), StringIO()

    call_command("idb_generate", "--live", "--tz", "UTC", "--tick", "0.5", stdout=out, stderr=err)

    assert err.getvalue().splitlines() == [
        "live: the database is not reachable (server closed the connection unexpectedly); retrying in 1 s",
        "live: the database is not reachable (server closed the connection unexpectedly); retrying in 2 s",
    ]
    assert len(closed) == 2 and len(lives) == 3  # a fresh stream after each failure
    assert "stopped cleanly; 6 interactions written" in out.getvalue()
    assert now[0] == pytest.approx(1 + 2 + 0.5)  # the back-offs, then one tick before Ctrl-C
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C is pytest's again
