"""Job bodies for the browser tests' worker (swapped in through GIM_JOB_BODIES):
slow enough for a person, or a browser, to watch them run and stop."""

from __future__ import annotations

import time

from gimmanager.jobs.context import JobContext


def four_seconds(ctx: JobContext) -> None:
    """Eight chunks of half a second, with progress and a log line each."""
    for i in range(8):
        ctx.check_stop()
        ctx.progress(i, 8, "test chunks")
        ctx.log(f"chunk {i + 1} of 8")
        time.sleep(0.5)
    ctx.progress(8, 8, "test chunks")


def continuous(ctx: JobContext) -> None:
    """Runs until stopped, in chunks of two seconds: a stop is honoured between
    chunks, as a real job's is, so the console shows "stopping…" for a moment."""
    n = 0
    while True:
        ctx.check_stop()
        n += 1
        ctx.log(f"chunk {n}")
        ctx.progress(n, None, "continuous")
        time.sleep(2)
