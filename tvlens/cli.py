"""``tvlens`` command line: ``tvlens run`` (the paper's main experiment), ``tvlens compare``
(one report over several runs), ``tvlens grid`` (models x formats x seeds, one Ray actor per
model), ``tvlens transfer`` / ``tvlens layers`` (:mod:`tvlens.studies`), ``tvlens tasks``."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any

from tvlens.run.names import PAPER_MODES

QUICK_TASKS = ("to_upper", "next_letter", "en_fr", "country_capital")
QUICK_N = {"n_dev": 12, "n_test": 12, "n_baseline": 12}


def _parser() -> argparse.ArgumentParser:
    from tvlens.prompts import FORMATS
    from tvlens.run.merge import add_parser as merge_parser
    from tvlens.run.protocol import ProtocolConfig
    from tvlens.studies.cli import add_parsers as study_parsers

    d = ProtocolConfig.defaults()  # one source of defaults: the protocol's own fields
    p = argparse.ArgumentParser(prog="tvlens", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="layer sweep + Regular / Hypothesis / Baseline on tasks; writes results.json, "
        "summary.md, report.html",
    )
    run.add_argument("--model", default="gemma-3-270m", help="embedded name or a TL model name")
    protocol_arguments(run, d, quick=True)
    run.add_argument("--format", default=d["format"], choices=sorted(FORMATS), help="(%(default)s)")
    seeds = run.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=d["seed"], help="sampling seed (%(default)s)")
    seeds.add_argument(
        "--seeds", type=int, nargs="+", default=None,
        help="run once per seed into OUT/seed-<s>/ and write the mean and spread across "
        "seeds to OUT/seeds.json, summary.md, report.html",
    )  # fmt: skip
    run.add_argument("--quick", action="store_true", help="a few tasks, small n: a smoke run")
    run.add_argument(
        "--out", default="results/run",
        help="output folder: resumes the run there; locked while running; files tvlens did "
        "not write are never overwritten",
    )  # fmt: skip
    run.add_argument("--no-progress", action="store_true")
    tasks = sub.add_parser("tasks", help="list the registered tasks and their sizes")
    tasks.add_argument("--category", default=None)
    sub.add_parser("models", help="list the embedded models")
    cmp = sub.add_parser(
        "compare",
        help="one summary.md + report.html over several run folders (models, formats, seeds), "
        "aligned on their shared tasks",
    )
    cmp.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="folders of tvlens run")
    cmp.add_argument(
        "--out", required=True, help="folder for summary.md, report.html, comparison.json"
    )
    _grid_parser(sub, d)
    study_parsers(sub)
    merge_parser(sub)
    return p


def protocol_arguments(p: argparse.ArgumentParser, d: dict[str, Any], *, quick: bool) -> None:
    """The protocol's flags, one declaration for ``tvlens run`` and ``tvlens grid``.

    Everything :func:`protocol_config` reads, and how the model loads (``--kind``,
    ``--device``, ``--dtype``), but the axes a grid spans (``--format`` / ``--formats``,
    ``--seed`` / ``--seeds``), which each command declares itself. The sizes default to
    ``None``: the protocol's, or with ``quick`` (``tvlens run``) smaller ones on ``--quick``.
    """
    from tvlens.engine.config import ARGMAX_MODES, EXECUTION_METHODS, RunConfig
    from tvlens.run.names import ANSWERS
    from tvlens.run.tasks import ON_CONFLICT

    r = RunConfig()
    p.add_argument("--kind", default="bridge", choices=["bridge", "hooked"])
    p.add_argument(
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
        p.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=None,
            help=f"{what} ({d[name]}" + (f"; {QUICK_N[name]} with --quick)" if quick else ")"),
        )
    p.add_argument("--n-demos", type=int, default=d["n_demos"], help="demonstrations (%(default)s)")
    p.add_argument("--n-dummy", type=int, default=d["n_dummy"], help="dummy queries (%(default)s)")
    p.add_argument(
        "--on-conflict",
        default=d["on_conflict"],
        choices=list(ON_CONFLICT),
        help="a task file mapping one input to two outputs: error (default), keep the first "
        "output, or drop the input",
    )
    p.add_argument(
        "--answers",
        default=d["answers"],
        choices=list(ANSWERS),
        help="single: one-token answers scored on the next token (the paper, default); any: "
        "answers of up to --max-new-tokens tokens, generated and scored by exact match",
    )
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=d["max_new_tokens"],
        help="tokens generated per answer with --answers any (%(default)s)",
    )
    p.add_argument(
        "--patch-at",
        default=d["patch_at"],
        choices=["arrow", "all"],
        help="with --answers any, where θ and the function vectors are patched while an "
        "answer is generated: arrow (the paper, default) or all (the arrow and every "
        "generated position)",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        default=None,
        metavar="METHOD",
        help="tv: the paper's task vectors (default); tv,fv: also function vectors, "
        "shuffled-label ICL, the layer-average and mean-difference vectors on the same test "
        "examples, scored as --answers says; tv,tv_multi (with --answers any): also "
        "multi-position task vectors, one θ per generated step. "
        f"Default: {','.join(d['methods'])}",
    )
    p.add_argument(
        "--aie", default=d["aie"], choices=["exact", "attribution", "attribution+verify"],
        help="with --methods tv,fv, how the AIE ranks heads: exact (default), attribution (one "
        "forward + backward pass per prompt) or attribution+verify (exact for its top heads)",
    )  # fmt: skip
    speed = "; changes no result: a run resumes with another value"
    for flag, default, what in (
        ("--batch-size", d["batch_size"], "prompts per forward pass"),
        ("--sweep-batch-size", r.sweep_batch_size, "(example, layer) rows per sweep pass"),
        ("--generate-batch-size", r.generate_batch_size, "prompts decoded together"),
    ):
        p.add_argument(flag, type=int, default=default, help=f"{what} (%(default)s){speed}")
    p.add_argument(
        "--method", default=r.method, choices=list(EXECUTION_METHODS),
        help="auto: pack prompts sharing a prefix where a probe shows it exact; packed: "
        f"insist on it; batched: never pack (%(default)s){speed}",
    )  # fmt: skip
    p.add_argument(
        "--argmax", default=r.argmax, choices=list(ARGMAX_MODES),
        help=f"greedy tokens from bf16 logits verified in fp32, or fp32 (%(default)s){speed}",
    )  # fmt: skip
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if present)")
    p.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "bfloat16", "float16"],
        help="model parameter dtype (%(default)s); θ is stored in float32",
    )


def protocol_config(args: argparse.Namespace, **axes: Any) -> Any:
    """The :class:`~tvlens.run.protocol.ProtocolConfig` of :func:`protocol_arguments`'
    flags; ``axes`` holds what the command sets itself (``seed``, ``format``)."""
    from tvlens.engine.config import RunConfig
    from tvlens.run.protocol import ProtocolConfig

    d = ProtocolConfig.defaults()
    quick = bool(getattr(args, "quick", False))
    task_refs = list(args.tasks) if args.tasks else (list(QUICK_TASKS) if quick else [])
    sizes: dict[str, Any] = {k: getattr(args, k) if getattr(args, k) is not None
                             else (QUICK_N[k] if quick else d[k]) for k in QUICK_N}  # fmt: skip
    return ProtocolConfig(  # refuses tasks stored under one name
        tasks=task_refs,
        n_demos=args.n_demos,
        n_dummy=args.n_dummy,
        on_conflict=args.on_conflict,
        answers=args.answers,
        max_new_tokens=args.max_new_tokens,
        patch_at=args.patch_at,
        methods=methods_arg(args.methods),
        aie=args.aie,
        run=RunConfig(
            batch_size=args.batch_size,
            sweep_batch_size=args.sweep_batch_size,
            generate_batch_size=args.generate_batch_size,
            method=args.method,
            argmax=args.argmax,
        ),
        **sizes,
        **axes,
    )


def methods_arg(values: Sequence[str] | None) -> list[str]:
    """``--methods tv,fv`` or ``--methods tv fv`` as a list (the default ``["tv"]``)."""
    if values is None:
        return ["tv"]
    return [m.strip() for v in values for m in v.split(",") if m.strip()]


def _grid_parser(sub: Any, d: dict[str, Any]) -> None:
    """``tvlens grid``: models x formats x seeds, one results folder per cell (tvlens.run.grid)."""
    from tvlens.prompts import FORMATS

    g = sub.add_parser(
        "grid",
        help="the protocol on every (model, format, seed) cell, one Ray actor per model "
        "(in this process without Ray); writes OUT/<model>/<format>/seed-<s>/, grid.json, "
        "compare/",
    )
    g.add_argument("--models", nargs="+", required=True, help="model names, each loaded once")
    protocol_arguments(g, d, quick=False)
    g.add_argument("--seeds", type=int, nargs="+", default=[d["seed"]], help="(%(default)s)")
    g.add_argument(
        "--formats", nargs="+", default=[d["format"]], choices=sorted(FORMATS),
        help="prompt formats (%(default)s)",
    )  # fmt: skip
    g.add_argument("--out", required=True, help="grid folder; a rerun runs only missing cells")
    g.add_argument(
        "--address", default=None,
        help="join this Ray cluster ('auto', 'ray://head:10001'); default: a local Ray "
        "instance sized to this machine",
    )  # fmt: skip
    g.add_argument(
        "--num-cpus",
        type=float,
        default=None,
        help="CPUs per model's actor (default: the machine's shared among models)",
    )
    g.add_argument("--num-gpus", type=float, default=0, help="GPUs per model's actor (0)")
    g.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "ray", "local"],
        help="auto: Ray if installed, else one cell after another in this process",
    )
    g.add_argument("--quiet", action="store_true", help="no line per finished cell")


#: Exit status of a run in which every task was skipped (files written, no accuracy).
EXIT_ALL_SKIPPED = 3


def _run(args: argparse.Namespace) -> int:
    from tvlens.models import resolve_device
    from tvlens.report.summary import skipped_reasons
    from tvlens.run.files import prepare_out
    from tvlens.run.lock import run_lock
    from tvlens.run.protocol import execute, preflight

    resolve_device(args.device)  # a device this machine lacks fails here, not after loading
    cfg = protocol_config(args, seed=args.seed, format=args.format)
    if args.seeds is not None:
        return _run_seeds(args, cfg)
    # Everything that needs no model is checked once before the model loads, under the lock.
    out = prepare_out(args.out)
    with run_lock(out):
        plan = preflight(cfg, out)
        from tvlens.models import load_model

        model = load_model(args.model, kind=args.kind, device=args.device, dtype=args.dtype)
        results = execute(model, plan, progress=not args.no_progress)
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
    accs = "  ".join(f"{m} {_fmt(o[m])}" for m in PAPER_MODES)
    print(
        f"{s['n_tasks_ok']} tasks: {accs}  ({results['meta']['wall_time_s']:.0f} s) -> "
        f"{out}/results.json, summary.md, report.html"
    )
    return 0


def _run_seeds(args: argparse.Namespace, cfg: Any) -> int:
    from tvlens.run.seeds import execute_seeds, preflight_seeds, seeds_lock

    with seeds_lock(args.out, args.seeds) as out:
        plan = preflight_seeds(cfg, args.seeds, out)  # every seed's folder, before the model
        from tvlens.models import load_model

        model = load_model(args.model, kind=args.kind, device=args.device, dtype=args.dtype)
        agg = execute_seeds(model, plan, progress=not args.no_progress)
    if not agg["tasks"]:
        print(
            f"tvlens: no task ran in every seed; {out}/seed-*/summary.md say why", file=sys.stderr
        )
        return EXIT_ALL_SKIPPED
    o = agg["summary"]["overall"]
    accs = "  ".join(f"{m} {_fmt(o[m]['mean'])} ± {_fmt(o[m].get('sd'))}" for m in PAPER_MODES)
    print(
        f"{len(agg['tasks'])} tasks x {len(agg['seeds'])} seeds: {accs} (mean ± sd across "
        f"seeds; {agg['meta']['wall_time_s']:.0f} s) -> {out}/seeds.json, summary.md, "
        "report.html, seed-*/"
    )
    return 0


def _compare(args: argparse.Namespace) -> int:
    from tvlens.report.compare import compare

    comp = compare(args.run_dirs, args.out)
    print(
        f"{len(comp.runs)} runs on {len(comp.tasks)} shared tasks ({len(comp.dropped)} "
        f"dropped) -> {args.out}/summary.md, report.html, comparison.json"
    )
    return 0


def _grid(args: argparse.Namespace) -> int:
    from tvlens.run.grid import grid

    res = grid(
        args.models, protocol_config(args), args.seeds, args.formats, out=args.out,
        address=args.address, num_cpus=args.num_cpus, num_gpus=args.num_gpus,
        dtype=args.dtype, device=args.device, kind=args.kind, backend=args.backend,
        progress=not args.quiet,
    )  # fmt: skip
    print(
        f"{len(res.ok)} of {len(res.cells)} cells finished ({len(res.ran)} run now, "
        f"{res.backend}, {res.wall_time_s:.0f} s) -> {res.out}/grid.json"
        + (f", {res.out}/compare/summary.md" if res.comparison is not None else "")
    )
    for key in res.failed:
        print(f"tvlens grid: {key} failed: {res.cells[key]['error']}", file=sys.stderr)
    return 1 if res.failed else 0


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tvlens`` console script and ``python -m tvlens``."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = _parser().parse_args(argv)
    from tvlens.run.merge import merge_command
    from tvlens.studies.cli import HANDLERS

    handlers = {"run": _run, "compare": _compare, "grid": _grid, "merge": merge_command}
    handler = {**handlers, **HANDLERS}[args.command]
    with _sigterm_as_exit():
        try:
            return handler(args)
        except (ValueError, FileNotFoundError, ImportError) as err:
            print(f"tvlens: error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(
                "tvlens: interrupted; the output folder keeps the tasks finished so far, and the "
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
