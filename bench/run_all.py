"""Run every benchmark script in bench/ and write BENCHMARKS-latest.md: a summary table of the
figures and ratios (the scripts' SUMMARY lines), the machine, then each script's whole output.

    python bench/run_all.py [--quick] [--only etl,tick]

The default sizes are the issues' (1,000,000 history rows; 1,000,000 interactions for the ETL,
10,000,000 in the incremental benchmark's big mart): about half an hour on 2 cores. --quick passes
smaller sizes to the scripts that accept them (a smoke run of a few minutes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from _db import machine

HERE = Path(__file__).resolve().parent
FULL_ARGS = {"bench_etl.py": ["--interactions", "1000000", "--big", "10000000"]}
QUICK_ARGS = {
    "bench_tick.py": ["--rows", "100000", "--ticks", "50"],
    "bench_history_page.py": ["--rows", "100000", "--requests", "30", "--seconds", "5"],
    "bench_control_latency.py": ["--runs", "10"],
    "bench_etl.py": ["--interactions", "50000", "--big", "200000"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated parts of script names, e.g. etl,tick")
    args = parser.parse_args()
    started = time.time()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(part in s.name for part in args.only.split(","))]
    summary: list[tuple[str, ...]] = []
    sections: list[str] = []
    failed = 0
    for script in scripts:
        extra = (QUICK_ARGS if args.quick else FULL_ARGS).get(script.name, [])
        print(f"== {script.name} {' '.join(extra)}", flush=True)
        t0 = time.monotonic()
        result = subprocess.run([sys.executable, str(script), *extra], cwd=HERE.parent, capture_output=True,
                                text=True)
        lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
        print("\n".join(lines), flush=True)
        summary += [(*ln.split("\t")[1:4], script.name) for ln in lines if ln.startswith("SUMMARY\t")]
        command = " ".join(["python", f"bench/{script.name}", *extra])
        sections += [f"## {script.name}", "", f"`{command}` ({time.monotonic() - t0:.0f} s)", "", "```",
                     *[ln for ln in lines if not ln.startswith("SUMMARY\t")], "```", ""]
        if result.returncode:
            failed += 1
            tail = result.stderr.strip().splitlines()[-1:]
            sections.append(f"FAILED (exit {result.returncode}): {tail}")
            summary.append((script.name, f"FAILED (exit {result.returncode})", "", script.name))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    out = [f"# Benchmarks, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}"
           f"{' (--quick sizes)' if args.quick else ''}", "",
           f"machine: {machine()}; load average at the end {load}", "",
           "Every figure is measured side by side in one run; the ratios matter more than the times.", "",
           "| what | figure | aim | script |", "|---|---|---|---|",
           *[f"| {what} | {figure} | {aim} | {script} |" for what, figure, aim, script in summary], "",
           *sections]
    (HERE.parent / "BENCHMARKS-latest.md").write_text("\n".join(out) + "\n")
    print("written BENCHMARKS-latest.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
