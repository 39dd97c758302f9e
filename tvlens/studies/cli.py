"""``tvlens transfer``, ``tvlens layers``, ``tvlens compose`` (:mod:`tvlens.studies`), and the
listings ``tvlens tasks`` / ``tvlens models``: declared or handled here, dispatched by
:mod:`tvlens.cli`."""

from __future__ import annotations

import argparse
from typing import Any


def _common(p: argparse.ArgumentParser, out: str, tasks: str = "the paper's 18") -> None:
    from tvlens.engine.config import ARGMAX_MODES, EXECUTION_METHODS
    from tvlens.studies.common import StudySettings

    d = StudySettings()
    p.add_argument("--model", default="gemma-3-270m", help="embedded name or a TL model name")
    p.add_argument("--kind", default="bridge", choices=["bridge", "hooked"])
    p.add_argument(
        "--tasks", nargs="+", default=None, help=f"task names or files (default: {tasks})"
    )
    for name in ("n_dev", "n_test", "n_demos", "n_dummy", "seed"):
        p.add_argument(
            f"--{name.replace('_', '-')}", type=int, default=getattr(d, name), help="(%(default)s)"
        )
    p.add_argument(
        "--batch-size",
        type=int,
        default=d.run.batch_size,
        help="prompts per pass (%(default)s); changes no result",
    )
    p.add_argument(
        "--method",
        default=d.run.method,
        choices=list(EXECUTION_METHODS),
        help="how prompts run (%(default)s); changes no result",
    )
    p.add_argument(
        "--argmax",
        default=d.run.argmax,
        choices=list(ARGMAX_MODES),
        help="greedy tokens: bf16 verified in fp32, or fp32 (%(default)s); changes no result",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if present)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument(
        "--out",
        default=out,
        help="output folder (%(default)s): locked while running, resumed on rerun",
    )
    p.add_argument("--no-progress", action="store_true")


def add_parsers(sub: Any) -> None:
    """Add ``transfer`` and ``layers`` to the ``tvlens`` subparsers ``sub``."""
    from tvlens.prompts import FORMATS
    from tvlens.studies.composites import COMPOSITES

    t = sub.add_parser(
        "transfer",
        help="θ (and the FV) extracted under one prompt format, patched into zero-shot runs "
        "under another, for every pair; writes transfer.json, summary.md, report.html",
    )
    _common(t, "results/transfer")
    t.add_argument(
        "--formats",
        nargs="+",
        default=sorted(FORMATS),
        choices=sorted(FORMATS),
        help="two or more formats (default: all)",
    )
    t.add_argument(
        "--methods",
        default="tv",
        choices=["tv", "tv,fv"],
        help="tv, or tv,fv: the function vector too (%(default)s)",
    )
    t.add_argument(
        "--aie",
        default="attribution+verify",
        choices=["exact", "attribution", "attribution+verify"],
        help="how the FV's heads are ranked (%(default)s)",
    )
    layers = sub.add_parser(
        "layers",
        help="per layer: θ_L's patch accuracy, the logit-lens rank of the answer and of task "
        "words, and a probe telling tasks apart; writes layers.json, summary.md, report.html",
    )
    _common(layers, "results/layers")
    layers.add_argument("--format", default="arrow", choices=sorted(FORMATS), help="(%(default)s)")
    c = sub.add_parser(
        "compose",
        help="composite tasks (A then B) against their parts: ICL, the composite's θ, θ_A + "
        "θ_B, θ_A then θ_B, each part alone; writes compose.json, summary.md, report.html",
    )
    _common(c, "results/compose", "every composite: " + ", ".join(COMPOSITES))
    c.add_argument("--format", default="arrow", choices=sorted(FORMATS), help="(%(default)s)")
    c.add_argument(
        "--methods",
        default="tv",
        choices=["tv", "tv,fv"],
        help="tv, or tv,fv: FV_A + FV_B too (%(default)s)",
    )


def _settings(args: argparse.Namespace, default_tasks: tuple[str, ...] = ()) -> Any:
    from tvlens.engine.config import RunConfig
    from tvlens.studies.common import StudySettings

    return StudySettings(
        tasks=tuple(args.tasks or default_tasks),
        n_dev=args.n_dev,
        n_test=args.n_test,
        n_demos=args.n_demos,
        n_dummy=args.n_dummy,
        seed=args.seed,
        run=RunConfig(batch_size=args.batch_size, method=args.method, argmax=args.argmax),
    )


def _load(args: argparse.Namespace) -> Any:
    from tvlens.models import load_model, resolve_device

    resolve_device(args.device)
    return load_model(args.model, kind=args.kind, device=args.device, dtype=args.dtype)


def transfer_command(args: argparse.Namespace) -> int:
    """``tvlens transfer``: check the folder, load the model, run (resuming), print means."""
    from tvlens.studies.common import check_formats
    from tvlens.studies.folder import check_study_folder, run_study
    from tvlens.studies.transfer import check_methods, transfer_study

    settings = _settings(args)  # everything checkable before the model loads
    check_formats(args.formats, at_least=2)
    methods = check_methods(args.methods.split(","))
    check_study_folder(args.out, "transfer")
    study = transfer_study(_load(args), args.formats, settings, methods=methods, aie=args.aie)
    doc = run_study(study, args.out, progress=not args.no_progress)
    s = doc["summary"]
    if not s.get("n_tasks"):
        print(f"tvlens: no task ran; {args.out}/summary.md says why")
        return 3
    means = "  ".join(
        f"{m}: diagonal {s[m]['diagonal_mean']:.2f}, off-diagonal {s[m]['off_diagonal_mean']:.2f}"
        for m in methods
    )
    print(
        f"{s['n_tasks']} tasks x {len(s['formats'])} formats: {means} -> {args.out}/"
        "transfer.json, summary.md, report.html"
    )
    return 0


def layers_command(args: argparse.Namespace) -> int:
    """``tvlens layers``: check the folder, load the model, run (resuming), print peaks."""
    from tvlens.prompts import get_format
    from tvlens.studies.folder import check_study_folder, run_study
    from tvlens.studies.layers import layers_study

    settings = _settings(args)
    get_format(args.format)
    check_study_folder(args.out, "layers")
    doc = run_study(
        layers_study(_load(args), settings, args.format), args.out, progress=not args.no_progress
    )
    s = doc["summary"]
    if not s["n_tasks"]:
        print(f"tvlens: no task ran; {args.out}/summary.md says why")
        return 3
    steer = s["patch_accuracy"]
    top = max(range(len(steer)), key=lambda i: steer[i])
    print(
        f"{s['n_tasks']} tasks: θ steers best at layer {top} ({steer[top]:.2f}) -> "
        f"{args.out}/layers.json, summary.md, report.html"
    )
    return 0


def tasks_command(args: argparse.Namespace) -> int:
    """``tvlens tasks``: each registered task, its category and its number of pairs."""
    from tvlens.tasks import get_task, list_tasks

    for name in list_tasks(args.category):
        t = get_task(name)
        print(f"{name:32s} {t.category:12s} {len(t):5d}")
    return 0


def models_command(_: argparse.Namespace) -> int:
    """``tvlens models``: the embedded models."""
    from tvlens.models import list_models

    for name in list_models():
        print(name)
    return 0


def compose_command(args: argparse.Namespace) -> int:
    """``tvlens compose``: check the folder, load the model, run (resuming), print means."""
    from tvlens.studies.compose import compose_study
    from tvlens.studies.composites import COMPOSITES, check_composites
    from tvlens.studies.folder import check_study_folder, run_study

    settings = _settings(args, tuple(COMPOSITES))
    check_composites(settings.tasks)  # before the model loads
    check_study_folder(args.out, "compose")
    study = compose_study(_load(args), settings, args.format, methods=args.methods.split(","))
    doc = run_study(study, args.out, progress=not args.no_progress)
    s = doc["summary"]
    if not s["n_tasks"]:
        print(f"tvlens: no composite ran; {args.out}/summary.md says why")
        return 3
    means = "  ".join(
        f"{m} {s[m]['mean']:.2f}"
        for m in ("regular", "tv_composite", "tv_sum", "tv_then")
        if m in s
    )
    print(f"{s['n_tasks']} composites: {means} -> {args.out}/compose.json, summary.md, report.html")
    return 0


HANDLERS = {
    "compose": compose_command,
    "transfer": transfer_command,
    "layers": layers_command,
    "tasks": tasks_command,
    "models": models_command,
}
