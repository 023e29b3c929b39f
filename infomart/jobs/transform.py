"""Minimal body until the Info Mart tables exist (issue 4 gives it its real work)."""

from __future__ import annotations

from gimmanager.jobs.context import JobContext


def run(ctx: JobContext) -> None:
    ctx.check_stop()
    ctx.log("no Info Mart source tables are deployed yet: nothing to do")
    ctx.progress(0, 0)
