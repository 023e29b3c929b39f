"""The drills' final check, run on the drill database (DATABASE_URL) after the system has
caught up. Prints one JSON line; exit 0 when everything holds, 1 when something does not.

- every source interaction (g_ir) is in INTERACTION_FACT exactly once (data lost, duplicates);
- every AG2 view at every level equals the same figures computed straight from the facts
  (tests/infomart/expect.py, the Info Mart tests' own reference);
- no run is stuck RUNNING (every RUNNING run has a fresh heartbeat);
- every exported folder is whole (each file of its manifest exists, with the SHA-1 it lists),
  and no temporary folder is left;
- the job history tells what happened: every FAILED or STOPPED run has its reason (listed, with
  the counts by job and status).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gimmanager.settings")


def main() -> int:
    import django

    django.setup()
    from django.conf import settings

    from gimmanager import clock
    from gimmanager.config.services import current_values, output_directory
    from gimmanager.jobs.models import JobRun
    from infomart import hierarchies
    from tests.infomart import expect

    out: dict[str, object] = {}
    src = [r["id"] for r in expect.fetch("SELECT id FROM g_ir")]
    facts = Counter(r["interaction_id"] for r in expect.fetch("SELECT interaction_id FROM interaction_fact"))
    out["source_interactions"] = len(src)
    out["facts"] = sum(facts.values())
    out["lost"] = len(set(src) - set(facts))
    out["duplicates"] = sum(n - 1 for n in facts.values() if n > 1)
    out["facts_without_source"] = len(set(facts) - set(src))

    tz = ZoneInfo(current_values()["schedule"]["timezone"])
    mismatches = {}
    for name, fn in expect.EXPECTED.items():
        hier = hierarchies.BY_NAME[name]
        for level in hierarchies.LEVELS:
            want = expect.normalized(fn(level, tz), hier)
            got = expect.actual(hier, level)
            bad = {k for k in set(want) | set(got) if want.get(k) != got.get(k)}
            if bad:
                mismatches[f"{name}.{level}"] = len(bad)
    out["aggregate_mismatches"] = mismatches
    out["pending_aggregation_ranges"] = expect.fetch("SELECT COUNT(*) AS n FROM ctl_pending_agg")[0]["n"]

    now = clock.now()
    stale = now - timedelta(seconds=settings.GIM_HEARTBEAT_TIMEOUT * 2)
    stuck = [str(r) for r in JobRun.objects.filter(status="RUNNING") if (r.heartbeat_at or r.started_at) < stale]
    out["stuck_running"] = stuck
    out["runs"] = {f"{j} {s}": n for (j, s), n in Counter(JobRun.objects.values_list("job", "status")).items()}
    out["end_reasons"] = sorted({f"{r.job} {r.status}: {r.end_reason[:160]}"
                                 for r in JobRun.objects.filter(status__in=["FAILED", "STOPPED"])})
    # the history tells what happened: every failed or stopped run says why
    out["ended_without_reason"] = [str(r) for r in JobRun.objects.filter(status__in=["FAILED", "STOPPED"],
                                                                          end_reason="")]

    outdir = output_directory(current_values())
    broken, temps, folders = [], [], 0
    if outdir.exists():
        for entry in sorted(outdir.iterdir()):
            if entry.name.startswith("."):
                temps.append(entry.name)
                continue
            if not entry.is_dir():
                continue
            folders += 1
            try:
                manifest = json.loads((entry / "manifest.json").read_text())
            except (OSError, ValueError) as exc:
                broken.append(f"{entry.name}: manifest {exc}")
                continue
            for fname, meta in manifest.get("files", {}).items():
                path = entry / fname
                data = path.read_bytes() if path.exists() else None
                if data is None or (meta.get("sha1") and hashlib.sha1(data).hexdigest() != meta["sha1"]):
                    broken.append(f"{entry.name}/{fname}: missing or checksum differs")
    out["export"] = {"folders": folders, "broken": broken, "temporary_left": temps}

    problems = []
    if out["lost"] or out["duplicates"] or out["facts_without_source"]:
        problems.append("facts differ from the source")
    if mismatches:
        problems.append("aggregates differ from the facts")
    if stuck:
        problems.append("runs stuck RUNNING")
    if broken:
        problems.append("broken export folders")
    if out["ended_without_reason"]:
        problems.append("failed or stopped runs without a reason")
    out["problems"] = problems
    print(json.dumps(out, default=str))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
