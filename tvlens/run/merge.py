"""``tvlens merge``: one run folder from runs that split a protocol's tasks between them.

A run's tasks are independent, so one protocol can run in several processes or on several
machines at once, each ``tvlens run --tasks ...`` into its own folder with the same
settings; :func:`merge_runs` then writes the folder the single run would have written:
``results.json`` with every finished task (its statistics and the summary recomputed over
all of them), ``summary.md``, ``report.html`` and each task's function-vector files.

It refuses what a single run would not hold: runs with other settings or another model
(each difference named, as a resume names it), a task that two runs computed on different
data or with different results, a folder a run still holds (its lock), and an output folder
holding another run or files tvlens did not write. ``meta.wall_time_s`` is the sum over the
runs (the compute time, not the elapsed time). The output folder is locked while it is
written and every file goes in atomically; the runs merged are only read.

Example:
    >>> merge_runs(["results/part-a", "results/part-b"], "results/all")  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tvlens.run.files import prepare_out, write_outputs
from tvlens.run.lock import check_unlocked, run_lock
from tvlens.run.protocol_config import with_defaults
from tvlens.run.results_json import RESULTS_FILE, Results, read_results, write_run
from tvlens.run.resume import settings_diff
from tvlens.run.task_record import TaskRecord
from tvlens.run.tasks import source_mismatch

__all__ = ["add_parser", "merge_command", "merge_runs"]

FV_SUFFIXES = (".safetensors", ".json")
"""The two files of a task's function vector (``<stem>.safetensors`` and ``<stem>.json``)."""


def _read(folder: Path) -> Results:
    """The finished run in ``folder``, refused while a run still holds it."""
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder: pass the folders `tvlens run --out` wrote")
    check_unlocked(folder, "Merge it once that run has finished")
    read = read_results(folder / RESULTS_FILE)
    if read is None:
        raise ValueError(f"{folder} holds no {RESULTS_FILE}: pass a folder `tvlens run` wrote")
    return read.results


def _settings(results: Results) -> dict[str, Any]:
    """A run's settings as a resume compares them (its meta but the wall time)."""
    return {k: v for k, v in with_defaults(results.meta).items() if k != "wall_time_s"}


TIMES = ("wall_time_s", "phase_times_s")
"""What two runs of the same task may differ in: how long it took (at any depth)."""


def untimed(obj: Any) -> Any:
    """``obj`` without its :data:`TIMES` keys, at any depth."""
    if isinstance(obj, dict):
        return {k: untimed(v) for k, v in obj.items() if k not in TIMES}
    if isinstance(obj, list):
        return [untimed(v) for v in obj]
    return obj


def _same_task(key: str, kept: tuple[Path, TaskRecord], new: tuple[Path, TaskRecord]) -> None:
    """Refuse a task two runs hold unless both computed the same record."""
    (a, rec_a), (b, rec_b) = kept, new
    if source_mismatch(key, rec_a.get("source"), dict(rec_b.get("source") or {})):
        raise ValueError(
            f"task {key!r} ran on other task data in {a} than in {b} (its source's kind or "
            "sha256 differ): runs of different task data cannot be merged"
        )
    if untimed(rec_a.to_json()) != untimed(rec_b.to_json()):
        raise ValueError(
            f"task {key!r} is in {a} and in {b} with different results: merge runs of "
            "disjoint tasks, or leave one of the two folders out"
        )


def merge_runs(runs: Sequence[str | Path], out: str | Path) -> dict[str, Any]:
    """Merge the finished tasks of ``runs`` (folders of ``tvlens run``) into ``out``.

    Args:
        runs: two or more run folders with the same settings and model.
        out: the folder to write (created; a folder already holding a run is refused).

    Returns:
        The merged ``results.json`` object.

    Raises:
        ValueError: fewer than two runs, ``out`` among them, a run still locked, runs with
            other settings or another model, a task computed twice with different data or
            results, or ``out`` holding a run or files tvlens did not write.
    """
    folders = [Path(r) for r in runs]
    if len(folders) < 2:
        raise ValueError(f"pass at least two run folders to merge, got {len(folders)}")
    target = Path(out)
    if any(f.resolve() == target.resolve() for f in folders if target.exists()):
        raise ValueError(f"{target} is one of the runs merged: pass a new --out")
    parts = [(f, _read(f)) for f in folders]
    (first, base), meta = parts[0], _settings(parts[0][1])
    tasks: dict[str, tuple[Path, TaskRecord]] = {}
    wall = 0.0
    for folder, res in parts:
        if diff := settings_diff(_settings(res), meta, (f"in {folder}", f"in {first}")):
            raise ValueError(
                f"{folder} holds a run with other settings than {first}: {'; '.join(diff)}. "
                "Merge runs of one protocol (the same command but --tasks and --out)"
            )
        wall += float(res.meta.get("wall_time_s") or 0.0)
        for key, rec in res.tasks.items():
            if not rec.finished:
                continue
            if key in tasks:
                _same_task(key, tasks[key], (folder, rec))
            else:
                tasks[key] = (folder, rec)
    if not tasks:
        raise ValueError(f"none of {', '.join(map(str, folders))} holds a finished task")
    target = prepare_out(target)
    with run_lock(target):
        if (target / RESULTS_FILE).exists():
            raise ValueError(f"{target} already holds a {RESULTS_FILE}: pass a new --out")
        return _write(target, {**base.meta, "wall_time_s": wall}, tasks)


def _write(out: Path, meta: dict[str, Any], tasks: dict[str, tuple[Path, TaskRecord]]) -> Any:
    """Each task's function-vector files, then results.json, summary.md, report.html."""
    for _, (folder, rec) in tasks.items():
        stem = (rec.get("fv") or {}).get("file")
        if stem:  # the pair keeps its stem (FunctionVector.load(out / stem))
            names = [f"{stem}{s}" for s in FV_SUFFIXES]
            write_outputs(out, [(n, (folder / n).read_bytes()) for n in names])
    return write_run(out, Results.of(meta, {k: rec for k, (_, rec) in tasks.items()}))


def add_parser(sub: Any) -> None:
    """Add ``merge`` to the ``tvlens`` subparsers ``sub``."""
    m = sub.add_parser(
        "merge",
        help="one run folder from runs of the same settings that split the tasks between "
        "them (e.g. several processes); writes results.json, summary.md, report.html",
    )
    m.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="folders of tvlens run")
    m.add_argument("--out", required=True, help="the new folder for the merged run")


def merge_command(args: argparse.Namespace) -> int:
    """``tvlens merge RUN_DIR ... --out OUT``."""
    results = merge_runs(args.run_dirs, args.out)
    print(f"merged {len(results['tasks'])} tasks of {len(args.run_dirs)} runs into {args.out}")
    return 0
