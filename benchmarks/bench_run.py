"""Benchmark: wall time of the paper's full protocol, with a per-phase breakdown.

Runs `tvlens run` (18 tasks, 5 demos, 2 dummy queries, 50 dev + 50 test + 100 baseline by
default) into a fresh folder, or reads an existing `results.json`, and prints the time spent
in each phase summed over tasks, peak RSS, and as its last line `protocol_s=<seconds>`.

    python benchmarks/bench_run.py                      # the full protocol (minutes)
    python benchmarks/bench_run.py --results results/gemma-3-270m/results.json
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def breakdown(results: dict) -> dict[str, float]:
    """Seconds per phase, summed over the tasks that ran."""
    totals: dict[str, float] = defaultdict(float)
    for task in results["tasks"].values():
        for phase, seconds in task.get("phase_times_s", {}).items():
            totals[phase] += seconds
    return dict(totals)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--results", default=None, help="read this results.json instead of running")
    p.add_argument("--model", default="gemma-3-270m")
    p.add_argument("--tasks", nargs="+", default=None)
    args = p.parse_args(argv)
    if args.results:
        results = json.loads(Path(args.results).read_text())
        load_s = float("nan")
    else:
        from tvlens.models import load_model
        from tvlens.run.protocol import ProtocolConfig, run_protocol

        t = time.perf_counter()
        model = load_model(args.model)
        load_s = time.perf_counter() - t
        cfg = ProtocolConfig(tasks=args.tasks or ())
        with tempfile.TemporaryDirectory() as out:
            results = run_protocol(model, cfg, out, progress=False)
    total = results["meta"]["wall_time_s"]
    print(f"model={results['meta']['model']} tasks={len(results['tasks'])} load={load_s:.1f} s")
    for phase, seconds in sorted(breakdown(results).items(), key=lambda kv: -kv[1]):
        print(f"  {phase:18s} {seconds:7.1f} s  {seconds / total:6.1%}")
    if not args.results:
        print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.2f} GB")
    print(f"protocol_s={total:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
