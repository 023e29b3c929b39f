"""Run every benchmark script in bench/ and write BENCHMARKS-latest.txt with their output.

    python bench/run_all.py [--quick]

--quick passes smaller sizes to the scripts that accept them (for a smoke run).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from _db import machine

HERE = Path(__file__).resolve().parent
QUICK_ARGS = {"bench_tick.py": ["--rows", "100000", "--ticks", "50"]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    out = [f"# Benchmarks, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", f"machine: {machine()}", ""]
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        extra = QUICK_ARGS.get(script.name, []) if args.quick else []
        print(f"== {script.name}", flush=True)
        result = subprocess.run([sys.executable, str(script), *extra], cwd=HERE.parent, capture_output=True,
                                text=True)
        lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
        print("\n".join(lines), flush=True)
        out += [f"## {script.name}", "```", *lines, "```", ""]
        if result.returncode:
            failed += 1
            out.append(f"FAILED (exit {result.returncode}): {result.stderr.strip().splitlines()[-1:]}")
    (HERE.parent / "BENCHMARKS-latest.md").write_text("\n".join(out) + "\n")
    print("written BENCHMARKS-latest.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
