"""Fault drills: break the running system on purpose, then prove nothing was lost.

    .venv/bin/python drills/run_drills.py [--quick] [--only 1,3] [--no-report]

Brings up the real stack on loopback (drills/stack.py: throwaway PostgreSQL and Redis
on ports 5441/6391, gunicorn, two Celery workers, the scheduler on a 1-minute ETL
schedule with aggregation, statistics and export every minute, and the IDB generator
in live mode), then runs each drill:

 1. SIGKILL a worker (its whole process group) in the middle of each job in turn;
 2. restart Redis while jobs run, and stop it for a minute (30 s with --quick);
 3. restart PostgreSQL while jobs run; web pages and API meanwhile;
 4. kill and restart the scheduler during an ETL cycle and during maintenance;
 5. two scheduler processes at once for ten minutes (two with --quick);
 6. the export's disk full (a tmpfs cut to size) during an export, and its folder read-only (chattr +i).

Afterwards the feed stops, the system catches up by itself, and drills/verify.py checks
that every source interaction is in the facts exactly once, the aggregates equal the
facts, no run is stuck RUNNING, and the export folders are whole. Each drill prints a row
(fault, what the user saw, time to recover, data lost, duplicates); the table goes into
BENCHMARKS-stress.md. Exit status 0 only if every drill and the final check passed.
--quick runs in about 20 minutes (the full run about 35). Everything stops by itself; nothing but 127.0.0.1 is
contacted, and the machine's shared PostgreSQL and Redis are never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import ROOT, Stack, log, wait_until  # noqa: E402

REPORT = ROOT / "BENCHMARKS-stress.md"


@dataclass
class Row:
    drill: str
    fault: str
    user_saw: str
    recover_s: float | None
    lost: int | None
    duplicates: int | None
    ok: bool
    notes: str = ""


# --- options -------------------------------------------------------------------------------------

NORMAL = {
    "schedule": {"run-scheduler": "true", "timezone": "UTC", "etl-start-time": "00:00", "etl-end-time": "23:59",
                 "etl-frequency": "1", "run-maintain": "false", "run-aggregates": "true",
                 "aggregate-schedule": "* *", "aggregate-duration": "24:00", "run-update-stats": "true",
                 "update-stats-schedule": "* *", "run-export": "true", "export-schedule": "* *"},
    "gim-etl": {"aggregation-engine-class-name": "GIMAgg.GimInterfaceImpl.AggregationImpl",
                "days-to-keep-active-facts": "3650"},
    "gim-export": {"max-retries": "1", "retry-delay-seconds": "3"},
}


def hhmm(t: datetime) -> str:
    return t.strftime("%H:%M")


def normal_options(s: Stack) -> None:
    opts = {k.replace("-", "_"): dict(v) for k, v in NORMAL.items()}
    opts["gim_export"]["output-directory"] = str(s.output_dir)
    s.options(**opts)


# --- observations --------------------------------------------------------------------------------


def now() -> float:
    return time.time()


def ts(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def dup_facts(s: Stack) -> int:
    return int(s.one("SELECT COUNT(*) - COUNT(DISTINCT interaction_id) FROM interaction_fact") or 0)


def lost_so_far(s: Stack, lag: float = 240) -> int:
    """Source interactions older than `lag` seconds that are still not in the facts."""
    return int(s.one("SELECT COUNT(*) FROM g_ir g WHERE g.created_ts < %s AND NOT EXISTS "
                     "(SELECT 1 FROM interaction_fact f WHERE f.interaction_id = g.id)", (int(now() - lag),)) or 0)


def claimed_running(s: Stack, job: str, after_id: int = 0) -> tuple[int, str] | None:
    rows = s.q("SELECT id, worker FROM jobs_jobrun WHERE job = %s AND status = 'RUNNING' AND attempt IS NOT NULL "
               "AND id > %s ORDER BY id DESC LIMIT 1", (job, after_id))
    return (rows[0][0], rows[0][1]) if rows else None


def run_row(s: Stack, run_id: int) -> dict[str, Any]:
    rows = s.q("SELECT id, job, status, by, end_reason, started_at, ended_at FROM jobs_jobrun WHERE id = %s",
               (run_id,))
    keys = ("id", "job", "status", "by", "end_reason", "started_at", "ended_at")
    return dict(zip(keys, rows[0], strict=True))


def completed_after(s: Stack, job: str, t: float, after_id: int = 0) -> int | None:
    return s.one("SELECT id FROM jobs_jobrun WHERE job = %s AND status = 'COMPLETE' AND started_at > %s AND id > %s "
                 "ORDER BY id LIMIT 1", (job, ts(t), after_id))


def last_id(s: Stack) -> int:
    return int(s.one("SELECT COALESCE(MAX(id), 0) FROM jobs_jobrun") or 0)


def failures_since(s: Stack, since: float) -> list[str]:
    """Runs that failed or were stopped after `since` (what the history shows the user)."""
    return [f"#{i} {j} {st}: {(r or '')[:110]}" for i, j, st, r in s.q(
        "SELECT id, job, status, end_reason FROM jobs_jobrun WHERE ended_at >= %s AND status IN ('FAILED', 'STOPPED') "
        "ORDER BY id", (ts(since),))]


def etl_recovered(s: Stack, t: float, timeout: float) -> float:
    """Seconds from t until an ETL cycle started after t has completed (extract and transform)."""
    ext = wait_until(lambda: completed_after(s, "Job_ExtractICON", t), timeout, "an extraction after the fault")
    wait_until(lambda: completed_after(s, "Job_TransformGIM", t, ext), timeout, "a transformation after the fault")
    ended = s.one("SELECT MAX(ended_at) FROM jobs_jobrun WHERE job = 'Job_TransformGIM' AND status = 'COMPLETE'")
    return round(ended.timestamp() - t, 1)


def plain(html: str, n: int = 90) -> str:
    """The visible text of an answer (its <title> when it has one)."""
    m = re.search(r"<title>(.*?)</title>", html, re.S)
    text = m.group(1) if m else re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", text).strip()[:n]


def page_status(session: Any, url: str) -> tuple[int, str]:
    import requests

    try:
        r = session.get(url, timeout=15)
    except requests.RequestException as exc:
        return 0, type(exc).__name__
    return r.status_code, plain(r.text)


# --- the drills ------------------------------------------------------------------------------------


def drill_kill_workers(s: Stack, quick: bool) -> list[Row]:
    """Kill, one job after the other; then check that each job ran again (in parallel, to save time)."""
    rows, killed = [], []
    # the order that waits least: continuous and manual jobs first, then the minute schedules
    for job in ["Job_AggregateGIM", "Job_MaintainGIM", "Job_UpdateStats", "Job_ExtractICON", "Job_ExportGIM",
                "Job_TransformGIM"]:
        # a continuous Job_AggregateGIM may have been running for a while: any claimed run will do
        before = 0 if job == "Job_AggregateGIM" else last_id(s)
        if job == "Job_MaintainGIM":  # run by hand (run-maintain is off in the normal schedule)
            status, data, _ = s.api("POST", "/api/runs/", {"job": job})
            assert status == 201, (status, data)
        try:
            run_id, worker = wait_until(lambda job=job, before=before: claimed_running(s, job, before), 150,
                                        f"{job} running", interval=0.02)
        except TimeoutError as exc:
            rows.append(Row("1", f"SIGKILL worker during {job}", str(exc), None, None, None, False))
            continue
        name = s.worker_of_pid(int(worker.rsplit(":", 1)[1]))
        if name is None:
            rows.append(Row("1", f"SIGKILL worker during {job}", f"run #{run_id} ended before the kill", None,
                            None, None, False))
            continue
        t_kill = now()
        s.kill(name)
        log(f"drill 1: SIGKILL {name} while {job} run #{run_id} was running")
        s.start(name)
        try:
            wait_until(lambda run_id=run_id: run_row(s, run_id)["status"] != "RUNNING", 120, f"run {run_id} to end")
        except TimeoutError as exc:
            rows.append(Row("1", f"SIGKILL worker ({name}) during {job}", str(exc), None, None, None, False))
            continue
        if job == "Job_MaintainGIM":
            s.api("POST", "/api/runs/", {"job": job})  # the operator runs it again
        killed.append((job, name, run_id, t_kill))
    for job, name, run_id, t_kill in killed:
        r = run_row(s, run_id)
        try:
            if job == "Job_AggregateGIM":  # continuous: recovered when a new run is working
                nxt = wait_until(lambda run_id=run_id: claimed_running(s, job, run_id), 120, "aggregation to resume")[0]
                rec = round(run_row(s, nxt)["started_at"].timestamp() - t_kill, 1)
                then = f"run #{nxt} took over"
            else:
                nxt = wait_until(lambda job=job, run_id=run_id, t_kill=t_kill: completed_after(s, job, t_kill, run_id),
                                 180, f"{job} to complete again")
                rec = round(run_row(s, nxt)["ended_at"].timestamp() - t_kill, 1)
                then = f"run #{nxt} completed"
            saw = (f"run #{run_id} {r['status']} {r['ended_at'].timestamp() - t_kill:.0f} s after the kill: "
                   f"\"{(r['end_reason'] or '')[:90]}\"; {then}")
            ok = r["status"] == "FAILED"
        except TimeoutError as exc:
            saw, rec, ok = str(exc), None, False
        dups = dup_facts(s)
        rows.append(Row("1", f"SIGKILL worker ({name}) during {job}", saw, rec, None, dups, ok and dups == 0))
        log(f"  -> {rows[-1]}")
    return rows


def drill_redis(s: Stack, quick: bool) -> list[Row]:
    rows = []
    # (a) restart while jobs run
    # Aggregation runs continuously; an extraction or an export on a quiet machine lasts well under a
    # second, so poll fast (a 0.5 s poll missed them for two minutes on a quiet CI machine).
    wait_until(lambda: any(claimed_running(s, j) for j in ("Job_ExtractICON", "Job_ExportGIM", "Job_AggregateGIM")),
               120, "a job running", interval=0.02)
    t0 = now()
    s.services("redis-stop")
    s.services("redis-start")
    log("drill 2: Redis restarted")
    try:
        rec = etl_recovered(s, t0, 240)
        saw = "; ".join(failures_since(s, t0)[:3]) or "nothing: runs went on"
        ok = True
    except TimeoutError as exc:
        rec, saw, ok = None, str(exc), False
    rows.append(Row("2", "Redis restarted (queued messages lost: no persistence)", saw, rec, None, dup_facts(s),
                    ok and dup_facts(s) == 0))
    log(f"  -> {rows[-1]}")
    # (b) stopped for a minute
    outage = 30 if quick else 60
    t0 = now()
    s.services("redis-stop")
    log(f"drill 2: Redis stopped for {outage} s")
    time.sleep(outage / 3)
    status, data, took = s.api("POST", "/api/runs/", {"job": "Job_MaintainGIM"}, timeout=60)
    shown = data.get("message", "")[:80] if isinstance(data, dict) else plain(str(data))
    status_list, _, took_list = s.api("GET", "/api/runs/?limit=5")
    time.sleep(max(0.0, outage - (now() - t0)))
    s.services("redis-start")
    t_back = now()
    try:
        rec = round(etl_recovered(s, t_back, 240) + (t_back - t0), 1)
        ok = status != 0 and status < 500
    except TimeoutError as exc:
        rec, ok = None, False
        shown += f" / {exc}"
    saw = (f"Run Job via the API during the outage: HTTP {status} after {took:.1f} s ({shown!r}); history GET "
           f"{status_list} in {took_list:.1f} s; afterwards: " + ("; ".join(failures_since(s, t0)[:3]) or "-"))
    notes = "" if 0 < status < 500 else ("BUG: Run Job answers 500 while the broker is down, and the run waits for "
                                         "the pickup timeout (test_outage_answers.py)")
    rows.append(Row("2", f"Redis stopped for {outage} s", saw, rec, None, dup_facts(s), ok and dup_facts(s) == 0,
                    notes))
    log(f"  -> {rows[-1]}")
    return rows


def drill_postgres(s: Stack, quick: bool) -> list[Row]:
    browser = s.browser()
    assert page_status(browser, s.url + "/")[0] == 200
    wait_until(lambda: claimed_running(s, "Job_ExtractICON") or claimed_running(s, "Job_AggregateGIM"), 120,
               "a job running")
    t0 = now()
    down = 10 if quick else 20
    s.services("pg-stop")
    log(f"drill 3: PostgreSQL stopped for {down} s")
    time.sleep(2)
    pages = {p: page_status(browser, s.url + p) for p in ("/", "/runs/1/", "/config/")}
    api_status, api_data, _ = s.api("GET", "/api/runs/")
    time.sleep(max(0.0, down - (now() - t0)))
    s.services("pg-start")
    t_back = now()
    log("drill 3: PostgreSQL back")
    try:
        rec = round(etl_recovered(s, t_back, 240) + (t_back - t0), 1)
        ok = True
    except TimeoutError as exc:
        rec, ok = None, False
        log(str(exc))
    web_after = page_status(browser, s.url + "/")[0]
    saw = ("during: " + ", ".join(f"GET {p} -> {st} \"{txt[:40]}\"" for p, (st, txt) in pages.items())
           + f", API -> {api_status}; after: pages {web_after}; runs: "
           + ("; ".join(failures_since(s, t0)[:3]) or "-"))
    plain_503 = all(st == 503 for st, _ in pages.values())
    notes = "" if plain_503 else "BUG: pages answer 500 while the database is down, not 503 with a plain message"
    row = Row("3", f"PostgreSQL stopped {down} s and restarted while jobs ran", saw, rec, None, dup_facts(s),
              ok and web_after == 200 and dup_facts(s) == 0 and plain_503, notes)
    log(f"  -> {row}")
    return [row]


def drill_scheduler(s: Stack, quick: bool) -> list[Row]:
    rows = []
    # (a) during an ETL cycle
    before = last_id(s)
    ext = wait_until(lambda: s.one("SELECT id FROM jobs_jobrun WHERE job = 'Job_ExtractICON' AND by = 'scheduler' "
                                   "AND status = 'RUNNING' AND id > %s", (before,)), 150, "a scheduled extraction",
                     interval=0.02)
    t0 = now()
    s.kill("beat")
    log(f"drill 4: scheduler killed during extraction run #{ext}")
    time.sleep(3)
    s.start("beat")
    try:
        trans = wait_until(lambda: s.one("SELECT id FROM jobs_jobrun WHERE job = 'Job_TransformGIM' AND parent_id = %s",
                                         (ext,)), 180, "the cycle's transformation")
        rec = round(now() - t0, 1)
        time.sleep(65)
        n_trans = s.one("SELECT COUNT(*) FROM jobs_jobrun WHERE job = 'Job_TransformGIM' AND parent_id = %s", (ext,))
        starts = [r[0] for r in s.q("SELECT started_at FROM jobs_jobrun WHERE job = 'Job_ExtractICON' AND by = "
                                    "'scheduler' AND started_at > %s ORDER BY started_at", (ts(t0 - 120),))]
        close = [b - a for a, b in zip(starts, starts[1:]) if (b - a).total_seconds() < 50]
        ext_status = run_row(s, ext)["status"]
        saw = (f"extraction #{ext} {ext_status}; its transformation #{trans} launched once ({n_trans}) by the "
               f"restarted scheduler; {len(close)} extra extraction starts")
        ok = n_trans == 1 and not close
    except TimeoutError as exc:
        rec, saw, ok = None, str(exc), False
    rows.append(Row("4", "scheduler SIGKILLed during an ETL cycle, restarted 3 s later", saw, rec, None,
                    dup_facts(s), ok and dup_facts(s) == 0))
    log(f"  -> {rows[-1]}")

    # (b) during maintenance: a maintenance window opens in a gap of the ETL window
    t = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)
    gap = 3 if quick else 5
    s.options(schedule={"run-maintain": "true", "maintain-start-time": hhmm(t),
                        "etl-end-time": hhmm(t - timedelta(minutes=1)),
                        "etl-start-time": hhmm(t + timedelta(minutes=gap)), "run-aggregates": "false",
                        "run-export": "false"})
    # run-aggregates false hands the running aggregation to the operator (manual rule 4): stop it, as
    # an operator preparing maintenance would, or maintenance waits for it and is skipped (rule 5)
    agg = claimed_running(s, "Job_AggregateGIM")
    if agg:
        s.api("POST", f"/api/runs/{agg[0]}/stop/")
    today = datetime.now(UTC).date()
    before = last_id(s)
    try:
        m = wait_until(lambda: claimed_running(s, "Job_MaintainGIM", before), 240, "scheduled maintenance",
                       interval=0.02)[0]
        t0 = now()
        s.kill("beat")
        log(f"drill 4: scheduler killed during maintenance run #{m}")
        time.sleep(3)
        s.start("beat")
        wait_until(lambda: run_row(s, m)["status"] != "RUNNING", 600, "maintenance to end")
        mr = run_row(s, m)
        rec = round(mr["ended_at"].timestamp() - t0, 1)
        time.sleep(20)
        n = s.one("SELECT COUNT(*) FROM jobs_jobrun WHERE job = 'Job_MaintainGIM' AND by = 'scheduler' AND id > %s",
                  (before,))
        saw = (f"maintenance #{m} went on and ended {mr['status']}"
               + (f" (\"{mr['end_reason'][:70]}\")" if mr["end_reason"] else "")
               + f"; started {n} time(s) by the scheduler on {today}")
        ok = n == 1 and mr["status"] in ("COMPLETE", "STOPPED")
    except TimeoutError as exc:
        rec, saw, ok = None, str(exc), False
    normal_options(s)
    rows.append(Row("4", "scheduler SIGKILLed during maintenance, restarted 3 s later", saw, rec, None,
                    dup_facts(s), ok and dup_facts(s) == 0))
    log(f"  -> {rows[-1]}")
    return rows


def drill_two_schedulers(s: Stack, quick: bool) -> list[Row]:
    minutes = 2 if quick else 10
    t0 = now()
    s.start("beat2")
    log(f"drill 5: two schedulers for {minutes} min")
    time.sleep(minutes * 60)
    s.stop("beat2")
    t1 = now()
    starts = s.q("SELECT job, started_at, ended_at FROM jobs_jobrun WHERE by = 'scheduler' AND started_at BETWEEN %s "
                 "AND %s ORDER BY job, started_at", (ts(t0), ts(t1)))
    by_job: dict[str, list[tuple[datetime, datetime | None]]] = {}
    for job, a, b in starts:
        by_job.setdefault(job, []).append((a, b))
    overlaps = sum(1 for runs in by_job.values() for (a1, b1), (a2, _) in zip(runs, runs[1:]) if b1 is None or a2 < b1)
    extractions = len(by_job.get("Job_ExtractICON", []))
    close = sum(1 for (a1, _), (a2, _) in zip(by_job.get("Job_ExtractICON", []), by_job.get("Job_ExtractICON", [])[1:])
                if (a2 - a1).total_seconds() < 50)
    holders = s.q("SELECT * FROM scheduler_schedulerlease") if s.q(
        "SELECT to_regclass('scheduler_schedulerlease')")[0][0] else []
    saw = (f"{len(starts)} scheduler starts in {minutes} min ({extractions} ETL cycles for {minutes} minutes of "
           f"1-minute frequency), {overlaps} overlapping runs, {close} cycles closer than 50 s; lease: "
           f"{len(holders)} row(s)")
    ok = overlaps == 0 and close == 0 and extractions <= minutes + 1
    row = Row("5", f"two scheduler processes at once for {minutes} min", saw, 0.0, None, dup_facts(s),
              ok and dup_facts(s) == 0)
    log(f"  -> {row}")
    return [row]


def _fs_used(path: Path) -> int:
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def drill_export_disk(s: Stack, quick: bool) -> list[Row]:
    """(a) the disk of output-directory fills up in the middle of an export (a tmpfs whose size is cut
    to what is used plus 16 KiB); (b) output-directory made read-only (chattr +i: root ignores chmod)."""
    rows = []
    hold = 30 if quick else 60
    full = s.base / "output-full"
    full.mkdir(exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(full)],
                             capture_output=True).returncode == 0
    if not mounted:
        rows.append(Row("6", "output-directory disk full during an export", "skipped: cannot mount a tmpfs here",
                        None, None, None, True))
    else:
        try:
            s.options(gim_export={"output-directory": str(full)})
            before = last_id(s)
            wait_until(lambda: completed_after(s, "Job_ExportGIM", now() - 3600, before), 180,
                       "an export into the new folder")
            used = _fs_used(full)
            subprocess.run(["mount", "-o", f"remount,size={used + 16384}", str(full)], check=True)
            t0 = now()
            log(f"drill 6: {full} is now full ({used // 1024} KiB used, 16 KiB left) for {hold} s")
            first = last_id(s)
            run_id = wait_until(lambda: s.one("SELECT id FROM jobs_jobrun WHERE job = 'Job_ExportGIM' AND id > %s "
                                              "ORDER BY id LIMIT 1", (first,)), 120, "an export to start")
            wait_until(lambda: run_row(s, run_id)["status"] != "RUNNING", 180, "the export to end")
            r = run_row(s, run_id)
            time.sleep(max(0.0, hold - (now() - t0)))
            subprocess.run(["mount", "-o", "remount,size=256m", str(full)], check=True)
            t_back = now()
            nxt = wait_until(lambda: completed_after(s, "Job_ExportGIM", t_back), 180, "an export to complete again")
            rec = round(run_row(s, nxt)["ended_at"].timestamp() - t0, 1)
            temps = [p.name for p in full.iterdir() if p.name.startswith(".")]
            broken = [p.name for p in full.iterdir() if not p.name.startswith(".") and p.is_dir()
                      and not (p / "manifest.json").exists()]
            saw = (f"export #{run_id} {r['status']}: \"{(r['end_reason'] or '')[:110]}\"; after space was freed "
                   f"export #{nxt} completed; partial folders: {len(broken)}, temporary left: {len(temps)}")
            rows.append(Row("6", f"output-directory disk full for {hold} s during an export", saw, rec, None, None,
                            r["status"] == "FAILED" and not temps and not broken))
        except Exception as exc:  # noqa: BLE001
            rows.append(Row("6", "output-directory disk full during an export", f"the drill failed: {exc}", None,
                            None, None, False))
        finally:
            s.options(gim_export={"output-directory": str(s.output_dir)})
            time.sleep(2)
            subprocess.run(["umount", "-l", str(full)], capture_output=True)
        log(f"  -> {rows[-1]}")

    # (b) read-only
    before = last_id(s)
    wait_until(lambda: completed_after(s, "Job_ExportGIM", now() - 3600, before), 180, "an export to complete")
    subprocess.run(["chattr", "-R", "+i", str(s.output_dir)], check=True)
    t0 = now()
    read_only = max(hold, 65)  # at least one minute: an export tick must fall inside
    log(f"drill 6: {s.output_dir} made immutable (read-only even for root) for {read_only} s")
    first = last_id(s)
    try:
        time.sleep(read_only)
        started = s.q("SELECT id, job, status, left(end_reason, 100) FROM jobs_jobrun WHERE id > %s ORDER BY id",
                      (first,))
        refusals = s.q("SELECT job, left(reason, 140) FROM scheduler_schedulerdecision WHERE last_at >= %s "
                       "AND action = 'refuse' ORDER BY id", (ts(t0),))
    finally:
        subprocess.run(["chattr", "-R", "-i", str(s.output_dir)], check=True)
    t_back = now()
    try:
        nxt = wait_until(lambda: completed_after(s, "Job_ExportGIM", t_back), 180, "an export to complete again")
        rec = round(run_row(s, nxt)["ended_at"].timestamp() - t0, 1)
        ok = True
    except TimeoutError as exc:
        rec, ok = None, False
        log(str(exc))
    temps = [p.name for p in s.output_dir.iterdir() if p.name.startswith(".")]
    export_runs = [r for r in started if r[1] == "Job_ExportGIM"]
    saw = (f"{len(started)} runs started meanwhile ({len(export_runs)} exports"
           + (f": {export_runs[0][2]} \"{export_runs[0][3]}\"" if export_runs else "") + "); the scheduler refused "
           + (", ".join(sorted({j for j, _ in refusals})) or "nothing")
           + (f": \"{refusals[0][1]}\"" if refusals else "") + f"; temporary folders left: {len(temps)}")
    # Only the export needs the folder: the ETL goes on, and only Job_ExportGIM is refused.
    etl_ran = any(r[1] in ("Job_ExtractICON", "Job_TransformGIM") for r in started)
    only_export_refused = {j for j, _ in refusals} == {"Job_ExportGIM"}
    notes = "" if etl_ran and only_export_refused else (
        "expected: the ETL goes on and only Job_ExportGIM is refused while the export folder is read-only")
    rows.append(Row("6", f"output-directory read-only for {read_only} s", saw, rec, None, None,
                    ok and not temps and etl_ran and only_export_refused and not export_runs, notes))
    log(f"  -> {rows[-1]}")
    return rows


DRILLS = {1: drill_kill_workers, 2: drill_redis, 3: drill_postgres, 4: drill_scheduler, 5: drill_two_schedulers,
          6: drill_export_disk}


# --- catching up and the final check ---------------------------------------------------------------------


def catch_up_and_verify(s: Stack) -> dict[str, Any]:
    s.stop("feed")
    t = now()
    log("feed stopped; waiting for the system to catch up by itself")
    for _ in range(2):
        etl_recovered(s, now(), 300)
    wait_until(lambda: s.one("SELECT COUNT(*) FROM ctl_pending_agg") == 0, 300, "aggregation to catch up", 1)
    s.stop("beat")
    agg = claimed_running(s, "Job_AggregateGIM")
    if agg:
        s.api("POST", f"/api/runs/{agg[0]}/stop/")
    wait_until(lambda: s.one("SELECT COUNT(*) FROM jobs_jobrun WHERE status = 'RUNNING'") == 0, 120,
               "every run to end")
    log(f"caught up in {now() - t:.0f} s; verifying")
    return s.verify()


def write_report(rows: list[Row], final: dict[str, Any], quick: bool, started: float,
                 ended: float | None = None) -> None:
    mark = "drills" if quick else "drills-full"  # the quick and the full run each keep their table
    lines = [
        f"<!-- {mark}:start -->",
        f"### Fault drills ({'--quick, ' if quick else ''}{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, "
        f"{((ended or now()) - started) / 60:.0f} min)",
        "",
        "`.venv/bin/python drills/run_drills.py" + (" --quick" if quick else "") + "` — real stack on loopback; "
        "bounds used: heartbeat 1 s, heartbeat timeout 8 s, pickup timeout 30 s, stop grace 6 s. Time to recover: "
        "from the fault to the end of the next successful run of the job hit (of the next ETL cycle for drills 2 "
        "and 3, of the cycle's Job_TransformGIM for drill 4); with 1-minute schedules it includes up to 60 s of "
        "waiting for the next scheduled start.",
        "",
        "| # | fault | what the user saw | time to recover (s) | data lost | duplicates | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.drill} | {r.fault} | {r.user_saw.replace('|', '/')} | "
                     f"{'-' if r.recover_s is None else r.recover_s} | "
                     f"{final.get('lost', '?') if r.lost is None else r.lost} | "
                     f"{'-' if r.duplicates is None else r.duplicates} | {'pass' if r.ok else 'FAIL'}"
                     f"{(' — ' + r.notes) if r.notes else ''} |")
    lines += ["", "Final check after the feed stopped and the system caught up by itself (drills/verify.py): "
              f"{final.get('source_interactions')} source interactions, {final.get('facts')} facts, "
              f"lost {final.get('lost')}, duplicates {final.get('duplicates')}, aggregate mismatches "
              f"{final.get('aggregate_mismatches') or 'none'}, stuck RUNNING {len(final.get('stuck_running', []))}, "
              f"export folders {final.get('export', {}).get('folders')} (broken "
              f"{len(final.get('export', {}).get('broken', []))}). Data lost in each row is the final check's.",
              f"<!-- {mark}:end -->"]
    text = REPORT.read_text() if REPORT.exists() else "# Stress figures\n\n"
    block = "\n".join(lines)
    if f"<!-- {mark}:start -->" in text:
        text = re.sub(f"<!-- {mark}:start -->.*?<!-- {mark}:end -->", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    REPORT.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter outages and 2 minutes of two schedulers")
    parser.add_argument("--only", default="1,2,3,4,5,6", help="drills to run, e.g. 1,3")
    parser.add_argument("--no-report", action="store_true", help=f"do not update {REPORT.name}")
    args = parser.parse_args()
    started = now()
    s = Stack()
    rows: list[Row] = []
    final: dict[str, Any] = {}
    try:
        s.prepare()
        s.start("web")
        normal_options(s)
        for name in ("worker1", "worker2", "beat", "feed"):
            s.start(name)
        log(f"stack up: {s.url} (admin / {s.env['GIM_ADMIN_PASSWORD']}); waiting for the first ETL cycle")
        etl_recovered(s, now() - 5, 240)
        for n in [int(x) for x in args.only.split(",") if x.strip()]:
            log(f"=== drill {n}")
            try:
                rows += DRILLS[n](s, args.quick)
            except Exception as exc:  # noqa: BLE001 - a drill that breaks is a failed row, the rest go on
                traceback.print_exc()
                rows.append(Row(str(n), DRILLS[n].__name__, f"the drill itself failed: {exc}", None, None, None,
                                False))
            for name in ("worker1", "worker2", "beat", "web", "feed"):
                if not s.procs[name].alive:
                    log(f"{name} had exited; restarting it")
                    s.start(name)
        final = catch_up_and_verify(s)
    finally:
        s.stop_all()
        s.services("stop")
    print(json.dumps({"rows": [asdict(r) for r in rows], "final": final}, default=str, indent=1))
    if not args.no_report:
        write_report(rows, final, args.quick, started)
        log(f"written {REPORT}")
    ok = all(r.ok for r in rows) and not final.get("problems", ["no final check"])
    log("ALL DRILLS PASSED" if ok else "SOME DRILLS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
