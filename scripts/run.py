"""Start the web server, a Celery worker, the scheduler (and the live IDB
feed of the demo) together; Ctrl-C or SIGTERM stops them all cleanly.

A tiny supervisor so that `make run` needs nothing beyond the pinned
requirements: if one process dies, the others are stopped and the exit
status says which.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def commands(port: str, live_feed: bool) -> dict[str, list[str]]:
    var = os.environ.get("GIM_VAR_DIR", str(ROOT / "var"))
    cmds = {
        # --keep-alive 5: longer than the console's 2 s live polls, so the server does not close an
        # idle connection just as the browser reuses it.
        "web": [PY, "-m", "gunicorn", "gimmanager.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--threads", "4",
                "--keep-alive", "5", "--access-logfile", "-"],
        "worker": [PY, "-m", "celery", "-A", "gimmanager.celery", "worker", "-l", "info", "-c",
                   os.environ.get("GIM_WORKER_CONCURRENCY", "4"), "-Q", os.environ.get("GIM_CELERY_QUEUE", "gim"),
                   "--without-gossip", "--without-mingle"],
        "scheduler": [PY, "-m", "celery", "-A", "gimmanager.celery", "beat", "-l", "info",
                      "-S", "scheduler.beat:GimScheduler", "--pidfile=", "-s", f"{var}/celerybeat-schedule"],
    }
    if live_feed:
        cmds["idb-feed"] = [PY, "manage.py", "idb_generate", "--live", "--rate", os.environ.get("GIM_LIVE_RATE", "20")]
    return cmds


def main() -> int:
    port = os.environ.get("PORT", "8000")
    live = os.environ.get("GIM_LIVE_FEED", "1") == "1"  # GIM_LIVE_FEED=0: no demo traffic
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(signum: int = signal.SIGTERM, frame: object = None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, cmd in commands(port, live).items():
        procs[name] = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
        print(f"[run] started {name} (pid {procs[name].pid})", flush=True)
    print(f"[run] GIM Manager is at http://127.0.0.1:{port}/  (Ctrl-C stops everything)", flush=True)
    failed = ""
    while not stopping:
        for name, p in procs.items():
            if p.poll() is not None:
                failed, stopping = name, True
                print(f"[run] {name} exited with {p.returncode}; stopping the others", flush=True)
                break
        time.sleep(0.5)
    for name, p in procs.items():
        if p.poll() is None:
            # The main process only: a Celery worker or gunicorn master stops its own
            # children (a worker whose pool processes were killed under it hangs).
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for name, p in procs.items():
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        print(f"[run] {name} stopped", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
