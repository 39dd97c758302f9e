"""``tvlens`` command line: ``tvlens run`` (the paper's main experiment), ``tvlens tasks``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

QUICK_TASKS = ("to_upper", "next_letter", "en_fr", "country_capital")
QUICK_N = {"n_dev": 12, "n_test": 12, "n_baseline": 12}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tvlens", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="layer sweep + Regular / Hypothesis / Baseline on tasks; writes results.json, "
        "summary.md, report.html",
    )
    run.add_argument("--model", default="gemma-3-270m", help="embedded name or a TL model name")
    run.add_argument("--kind", default="bridge", choices=["bridge", "hooked"])
    run.add_argument(
        "--tasks",
        nargs="+",
        default=None,
        help="task names or task files (JSON/CSV/TSV); default: the paper's 18 tasks",
    )
    run.add_argument("--n-dev", type=int, default=None, help="dev examples for the sweep (50)")
    run.add_argument("--n-test", type=int, default=None, help="test examples (50)")
    run.add_argument("--n-baseline", type=int, default=None, help="baseline queries (100)")
    run.add_argument("--n-demos", type=int, default=5)
    run.add_argument("--n-dummy", type=int, default=2)
    run.add_argument("--format", default="arrow", choices=["arrow", "paper"])
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--batch-size", type=int, default=16)
    run.add_argument("--quick", action="store_true", help="a few tasks, small n: a smoke run")
    run.add_argument("--out", default="results/run", help="output folder (resumes if present)")
    run.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if present)")
    run.add_argument("--no-progress", action="store_true")
    tasks = sub.add_parser("tasks", help="list the registered tasks and their sizes")
    tasks.add_argument("--category", default=None)
    sub.add_parser("models", help="list the embedded models")
    return p


def _run(args: argparse.Namespace) -> int:
    from tvlens.experiment import ProtocolConfig, run_protocol
    from tvlens.tasks import get_task

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; pass a folder (it is created if missing)")
    task_refs = list(args.tasks) if args.tasks else (list(QUICK_TASKS) if args.quick else [])
    for ref in task_refs:  # fail on an unknown task before the model loads
        get_task(ref)
    sizes = {
        k: getattr(args, k) if getattr(args, k) is not None else (QUICK_N[k] if args.quick else d)
        for k, d in (("n_dev", 50), ("n_test", 50), ("n_baseline", 100))
    }
    cfg = ProtocolConfig(
        tasks=task_refs,
        n_demos=args.n_demos,
        n_dummy=args.n_dummy,
        seed=args.seed,
        format=args.format,
        batch_size=args.batch_size,
        **sizes,
    )
    from tvlens.models import load_model

    model = load_model(args.model, kind=args.kind, device=args.device)
    results = run_protocol(model, cfg, out, progress=not args.no_progress)
    o = results["summary"]["overall"]
    print(
        f"{results['summary']['n_tasks_ok']} tasks: baseline {o['baseline']:.2f}  "
        f"hypothesis {o['hypothesis']:.2f}  regular {o['regular']:.2f}  "
        f"({results['meta']['wall_time_s']:.0f} s) -> {out}/results.json, summary.md, report.html"
    )
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from tvlens.tasks import get_task, list_tasks

    for name in list_tasks(args.category):
        t = get_task(name)
        print(f"{name:32s} {t.category:12s} {len(t):5d}")
    return 0


def _models(_: argparse.Namespace) -> int:
    from tvlens.models import list_models

    for name in list_models():
        print(name)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tvlens`` console script and ``python -m tvlens``."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = _parser().parse_args(argv)
    handler = {"run": _run, "tasks": _tasks, "models": _models}[args.command]
    try:
        return handler(args)
    except (ValueError, FileNotFoundError, ImportError) as err:
        print(f"tvlens: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
