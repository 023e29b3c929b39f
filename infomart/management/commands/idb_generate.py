"""Fill the Interaction Database with simulated contact-center traffic.

    idb_generate --days 7 --interactions-per-hour 600 --agents 50 --queues 8 --seed 1 [--end ISO] [--tz ZONE]
    idb_generate --resume [--end ISO]        traffic from where the last run stopped
    idb_generate --live --rate 20            "now" traffic, 20 interactions a minute, until Ctrl-C / SIGTERM
                                             (rides out a database outage: it retries, with a back-off)

Same arguments, same rows (see infomart.generator for the traffic model).
"""

from __future__ import annotations

import signal
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from gimmanager import clock
from infomart import generator


MAX_BACKOFF = 30.0  # seconds between attempts while the database stays unreachable


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Command(BaseCommand):
    help = "Generate Interaction Database traffic (deterministic batches, or a live stream)."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shutdown = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=float, default=7.0, help="days of traffic ending at --end (default 7)")
        parser.add_argument("--interactions-per-hour", type=float, default=600.0,
                            help="average arrivals per hour over a week (default 600)")
        parser.add_argument("--agents", type=int, default=50)
        parser.add_argument("--queues", type=int, default=8)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--end", type=_instant, default=None,
                            help="end of the generated period, ISO (UTC unless an offset is given); default now")
        parser.add_argument("--tz", default=None,
                            help="zone of the daily traffic profile (default: the [schedule] timezone option)")
        parser.add_argument("--resume", action="store_true", help="start where the last generation ended")
        parser.add_argument("--live", action="store_true", help="keep appending now-traffic until stopped")
        parser.add_argument("--rate", type=float, default=20.0, help="live mode: interactions per minute")
        parser.add_argument("--tick", type=float, default=1.0, help="live mode: seconds between writes")

    def _stop(self, signum: int, frame: object) -> None:
        self.shutdown = True

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["agents"] < 1 or opts["queues"] < 1:
            raise CommandError("--agents and --queues must be at least 1")
        tz = self._zone(opts["tz"])
        layout = generator.Layout(agents=opts["agents"], queues=opts["queues"])
        if opts["live"]:
            self._live(layout, tz, opts)
            return
        end = opts["end"] or clock.now()
        state = generator.load_state()
        if opts["resume"]:
            if state.last_end_ts is None:
                raise CommandError("--resume: nothing was generated yet")
            start = state.last_end_ts
        else:
            start = int((end - timedelta(days=opts["days"])).timestamp())
        began = time.monotonic()
        try:
            out = generator.generate(start=start, end=int(end.timestamp()), layout=layout, seed=opts["seed"],
                                     interactions_per_hour=opts["interactions_per_hour"], tz=tz)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        rows = sum(out.rows.values())
        self.stdout.write(
            f"{out.interactions} interactions from {datetime.fromtimestamp(out.start, UTC):%Y-%m-%d %H:%M} to "
            f"{datetime.fromtimestamp(out.end, UTC):%Y-%m-%d %H:%M} UTC: {rows} IDB rows written "
            f"({', '.join(f'{t} {n}' for t, n in sorted(out.rows.items()))}), {out.deferred} later changes "
            f"deferred, {out.applied} earlier ones applied, in {time.monotonic() - began:.1f} s")

    def _zone(self, name: str | None) -> ZoneInfo:
        if name is None:
            from gimmanager.config.services import current_values

            name = current_values()["schedule"].get("timezone", "GMT")
        try:
            return ZoneInfo(name)
        except Exception:
            raise CommandError(f"--tz: unknown time zone {name!r}") from None

    def _live(self, layout: generator.Layout, tz: ZoneInfo, opts: dict[str, Any]) -> None:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._live_loop(layout, tz, opts)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _live_loop(self, layout: generator.Layout, tz: ZoneInfo, opts: dict[str, Any]) -> None:
        """1. go live (fill the gap since the last write first); 2. write a tick of traffic;
        3. if the database is unreachable, close the connection, wait (1, 2, 4 ... 30 s) and
        go live again from the last committed state, as a restart would; 4. stop on a signal."""
        live: generator.Live | None = None
        total, backoff = 0, 1.0
        while not self.shutdown:
            try:
                if live is None:
                    live = self._go_live(layout, tz, opts)
                total += live.tick(clock.now().timestamp()).written.get("g_ir", 0)
                backoff = 1.0
            except (OperationalError, InterfaceError) as exc:
                # Each write is one transaction: what this stream had not written yet is
                # dropped, and the next one starts from the committed state.
                live = None
                self.stderr.write(f"live: the database is not reachable ({str(exc).strip()}); "
                                  f"retrying in {backoff:g} s")
                with suppress(DatabaseError):
                    connection.close()  # never reuse the broken connection
                self._wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            self._wait(opts["tick"])
        if live is None:
            self.stdout.write(f"live: stopped; {total} interactions written")
            return
        try:
            out = live.stop(clock.now().timestamp())
        except (OperationalError, InterfaceError) as exc:
            self.stderr.write(f"live: stopped; the last changes were not written ({str(exc).strip()})")
            return
        self.stdout.write(f"live: stopped cleanly; {total + out.written.get('g_ir', 0)} interactions written, "
                          f"{out.deferred} changes deferred to a later run")

    def _go_live(self, layout: generator.Layout, tz: ZoneInfo, opts: dict[str, Any]) -> generator.Live:
        state = generator.load_state()
        now = clock.now().timestamp()
        if state.last_end_ts and now - state.last_end_ts < 2 * 86400:
            # Fill the gap since the last run first, at the hourly profile, then go live.
            generator.generate(start=state.last_end_ts, end=int(now), layout=layout, seed=opts["seed"],
                               interactions_per_hour=opts["rate"] * 60, tz=tz)
            now = clock.now().timestamp()
        live = generator.Live(layout=layout, seed=opts["seed"], rate_per_minute=opts["rate"], tz=tz, start=now)
        self.stdout.write(f"live: {opts['rate']:g} interactions a minute, {layout.agents} agents, "
                          f"{layout.queues} queues; Ctrl-C or SIGTERM stops")
        return live

    def _wait(self, seconds: float) -> None:
        """Sleep in short steps: a signal only sets a flag, and Ctrl-C must not wait out a back-off."""
        deadline = time.monotonic() + seconds
        while not self.shutdown and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.2))
