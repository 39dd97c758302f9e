"""``tvlens`` command line: ``tvlens run`` (the paper's main experiment), ``tvlens tasks``."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType

QUICK_TASKS = ("to_upper", "next_letter", "en_fr", "country_capital")
QUICK_N = {"n_dev": 12, "n_test": 12, "n_baseline": 12}


def _parser() -> argparse.ArgumentParser:
    from tvlens.experiment import ProtocolConfig
    from tvlens.prompts import FORMATS
    from tvlens.runtasks import ON_CONFLICT

    d = ProtocolConfig.defaults()  # one source of defaults: the protocol's own fields
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
        help="task names or task files (JSON/CSV/TSV); default: the paper's 18 tasks. Each "
        "is stored under its name (a file's stem), which must be unique",
    )
    for name, what in (
        ("n_dev", "dev examples for the sweep"),
        ("n_test", "test examples"),
        ("n_baseline", "baseline queries"),
    ):
        run.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=None,
            help=f"{what} ({d[name]}; {QUICK_N[name]} with --quick)",
        )
    run.add_argument(
        "--n-demos", type=int, default=d["n_demos"], help="demonstrations (%(default)s)"
    )
    run.add_argument(
        "--n-dummy", type=int, default=d["n_dummy"], help="dummy queries (%(default)s)"
    )
    run.add_argument("--format", default=d["format"], choices=sorted(FORMATS), help="(%(default)s)")
    run.add_argument("--seed", type=int, default=d["seed"], help="sampling seed (%(default)s)")
    run.add_argument(
        "--batch-size", type=int, default=d["batch_size"], help="rows per pass (%(default)s)"
    )
    run.add_argument(
        "--on-conflict",
        default=d["on_conflict"],
        choices=list(ON_CONFLICT),
        help="a task file mapping one input to two outputs: error (default), keep the first "
        "output, or drop the input",
    )
    run.add_argument("--quick", action="store_true", help="a few tasks, small n: a smoke run")
    run.add_argument(
        "--out",
        default="results/run",
        help="output folder: resumes the run there; locked while running; files tvlens did "
        "not write are never overwritten",
    )
    run.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if present)")
    run.add_argument("--no-progress", action="store_true")
    tasks = sub.add_parser("tasks", help="list the registered tasks and their sizes")
    tasks.add_argument("--category", default=None)
    sub.add_parser("models", help="list the embedded models")
    return p


#: Exit status of a run in which every task was skipped (files written, no accuracy).
EXIT_ALL_SKIPPED = 3


def _run(args: argparse.Namespace) -> int:
    from tvlens.experiment import ProtocolConfig, preflight, run_protocol
    from tvlens.report import skipped_reasons
    from tvlens.runfiles import prepare_out, run_lock

    d = ProtocolConfig.defaults()
    task_refs = list(args.tasks) if args.tasks else (list(QUICK_TASKS) if args.quick else [])
    sizes = {
        k: getattr(args, k)
        if getattr(args, k) is not None
        else (QUICK_N[k] if args.quick else d[k])
        for k in QUICK_N
    }
    cfg = ProtocolConfig(  # refuses tasks stored under one name
        tasks=task_refs,
        n_demos=args.n_demos,
        n_dummy=args.n_dummy,
        seed=args.seed,
        format=args.format,
        batch_size=args.batch_size,
        on_conflict=args.on_conflict,
        **sizes,
    )
    # Everything that needs no model is checked before the model loads, under the lock.
    out = prepare_out(args.out)
    with run_lock(out):
        preflight(cfg, out)
        from tvlens.models import load_model

        model = load_model(args.model, kind=args.kind, device=args.device)
        results = run_protocol(model, cfg, out, progress=not args.no_progress)
    s = results["summary"]
    if not s["n_tasks_ok"]:
        print(
            f"tvlens: no task ran: all {s['n_tasks_skipped']} task(s) were skipped; "
            f"{out}/summary.md says why:",
            file=sys.stderr,
        )
        for reason in skipped_reasons(results):
            print(f"  {reason}", file=sys.stderr)
        return EXIT_ALL_SKIPPED
    o = s["overall"]
    accs = "  ".join(f"{m} {_fmt(o[m])}" for m in ("baseline", "hypothesis", "regular"))
    print(
        f"{s['n_tasks_ok']} tasks: {accs}  ({results['meta']['wall_time_s']:.0f} s) -> "
        f"{out}/results.json, summary.md, report.html"
    )
    return 0


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


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
    with _sigterm_as_exit():
        try:
            return handler(args)
        except (ValueError, FileNotFoundError, ImportError) as err:
            print(f"tvlens: error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(
                "tvlens: interrupted; results.json keeps the tasks finished so far, and the "
                "same command resumes from them",
                file=sys.stderr,
            )
            return 130


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit, so ``finally`` blocks run (the run's lock is removed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, exit_)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


if __name__ == "__main__":
    raise SystemExit(main())
