"""Time `simulate` over a whole year of the seed's sample schedule (aim: < 5 s).

    .venv/bin/python bench/bench_simulate.py [--zone Europe/Berlin] [--year 2026]

A script, not a test: it prints the elapsed time and the number of events.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gimmanager.options import ScheduleOptions  # noqa: E402
from scheduler.simulator import simulate  # noqa: E402

SAMPLE = {
    "run-scheduler": "true",
    "etl-start-time": "06:30",
    "etl-end-time": "00:30",
    "etl-frequency": "30",
    "run-maintain": "true",
    "maintain-start-time": "03:00",
    "run-aggregates": "true",
    "aggregate-schedule": "0 4",
    "aggregate-duration": "23:00",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zone", default="America/New_York")
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--update-stats", action="store_true", help="also run Job_UpdateStats every 10 minutes")
    args = parser.parse_args()
    schedule = {**SAMPLE, "timezone": args.zone}
    if args.update_stats:
        schedule["run-update-stats"] = "true"
    opts = ScheduleOptions.from_values({"schedule": schedule})
    tz = ZoneInfo(args.zone)
    start, end = datetime(args.year, 1, 1, tzinfo=tz), datetime(args.year + 1, 1, 1, tzinfo=tz)
    began = time.perf_counter()
    events = simulate(opts, start, end)
    elapsed = time.perf_counter() - began
    kinds = Counter((e.job.value, e.event) for e in events)
    verdict = "OK" if elapsed < 5 else "SLOW"
    print(f"simulated {start:%Y-%m-%d} to {end:%Y-%m-%d} ({args.zone}) in {elapsed:.2f} s "
          f"(target < 5 s: {verdict}): {len(events)} events")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _db import summary

    summary(f"gim_simulate, a year of the sample schedule ({len(events):,} events)", f"{elapsed:.2f} s", "< 5 s")
    for (job, event), n in sorted(kinds.items()):
        print(f"  {job:<17} {event:<10} {n}")
    return 0 if elapsed < 5 else 1


if __name__ == "__main__":
    sys.exit(main())
