"""``tvlens grid``: the protocol over models x formats x seeds, one results folder per cell.

A grid is every combination of its models, prompt formats and seeds; each combination is a
*cell* whose tasks run with :func:`~tvlens.run.protocol.run_protocol` into its own folder,
``<out>/<model>/<format>/seed-<s>/``, so a cell has the lock, atomic writes and resume of
``tvlens run``. A model is loaded once and runs all its cells one after another:

- with Ray installed (``pip install 'tvlens[ray]'``), in one Ray actor per model
  (:mod:`tvlens.run.grid_ray`), the models in parallel: on a local Ray instance sized to the
  machine, or on a cluster (``address=``);
- without Ray, in this process, one model after another.

A rerun schedules only the cells that are not finished (a cell whose ``results.json`` holds
every task and whose ``report.html`` is written is skipped; a cell stopped half-way resumes
from its finished tasks). A cell that fails (a bad task file, an out-of-memory model load,
any exception, a worker that died) is recorded as failed with its error and does not stop
the others. ``<out>/grid.json`` lists every cell (status, error, wall time, peak memory of
the process that ran it: ``ru_maxrss`` of the model's Ray actor, or of this process in-process,
where a cell also shows the peak of the models before it; and the CUDA peak of the cell), and
``<out>/compare/`` holds :func:`tvlens.report.compare.compare` over every finished cell.

Example:
    >>> cfg = ProtocolConfig(tasks=["to_upper"], n_dev=20, n_test=20)
    >>> res = grid(["gemma-3-270m", "smollm2-135m"], cfg, [0, 1],
    ...            out="results/grid")  # doctest: +SKIP
    >>> res.failed, res.comparison.summaries  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tvlens.prompts import FORMATS
from tvlens.run.files import check_folder_kind, check_outputs_ours, prepare_out
from tvlens.run.grid_cells import (
    BACKENDS,
    GRID_FILE,
    INSTALL_HINT,
    Cell,
    CellWorker,
    Loader,
    OnCell,
    _Book,
    _folder_name,
    cell_done,
    peak_rss_mb,
    tiny_load,
)
from tvlens.run.lock import run_lock
from tvlens.run.plan import RunPlan
from tvlens.run.protocol_config import ProtocolConfig
from tvlens.run.seeds import check_seeds
from tvlens.run.tasks import is_file_ref

__all__ = [
    "BACKENDS",
    "GRID_FILE",
    "INSTALL_HINT",
    "Cell",
    "CellWorker",
    "GridResult",
    "cell_done",
    "grid",
    "peak_rss_mb",
    "tiny_load",
]


def _check_names(what: str, values: Any) -> list[str]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        hint = f"; did you mean [{values!r}]?" if isinstance(values, str) else ""
        raise TypeError(f"{what} must be a non-empty list of names, got {values!r}{hint}")
    out = list(values)
    for v in out:
        if not isinstance(v, str) or not v.strip():
            raise TypeError(f"{what} must hold non-empty names (str), got {v!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"{what} repeat: {out}; list each once")
    return out


def _check_models(models: Any) -> list[str]:
    out = _check_names("models", models)
    for m in out:
        parts = m.split("/")
        if any(p in ("", ".", "..") or p.startswith(".") for p in parts) or "\\" in m:
            raise ValueError(f"model name {m!r} cannot name a folder; pass a plain model name")
    folders = [_folder_name(m) for m in out]
    if len(set(folders)) != len(folders):
        raise ValueError(f"models {out} share a folder name; rename one")
    return out


def _task_refs(tasks: Sequence[Any]) -> list[Any]:
    """Task files as absolute paths (a Ray worker may start in another folder)."""
    return [
        str(Path(t).resolve())
        if isinstance(t, (str, os.PathLike)) and is_file_ref(t) and Path(t).exists()
        else t
        for t in tasks
    ]


def base_config(protocol: Any) -> ProtocolConfig:
    """The grid's protocol: ``protocol`` with its task files as absolute paths (the grid
    sets the seed and format per cell).

    Raises:
        TypeError: if ``protocol`` is not a :class:`ProtocolConfig`, naming the fix.
    """
    if not isinstance(protocol, ProtocolConfig):
        raise TypeError(
            f"grid() takes the protocol as a ProtocolConfig, got {type(protocol).__name__} "
            f"{protocol!r}: pass ProtocolConfig(tasks=[...], n_dev=..., ...) (its seed and "
            "format are the defaults of seeds= and formats=)"
        )
    return dataclasses.replace(protocol, tasks=_task_refs(protocol.tasks))


def _pick_backend(backend: str, address: str | None) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    has_ray = importlib.util.find_spec("ray") is not None
    if backend == "local":
        if address is not None:
            raise ValueError("address= joins a Ray cluster; it needs backend='ray' or 'auto'")
        return "local"
    if not has_ray and (backend == "ray" or address is not None):
        raise ImportError(
            f"Ray is not installed; {INSTALL_HINT} (needed for "
            f"{'address=' if address is not None else 'backend=ray'})"
        )
    return "ray" if has_ray else "local"


# ---- the result --------------------------------------------------------------------------
@dataclass(frozen=True)
class GridResult:
    """What :func:`grid` did.

    Attributes:
        out: the grid folder.
        cells: cell key (``<model>/<format>/seed-<s>``) -> its record in ``grid.json``.
        ran: the cells run by this call (the others were finished before, or failed their
            checks).
        backend: ``"ray"`` or ``"local"``.
        comparison: :func:`tvlens.report.compare.compare` over the finished cells (``None``
            if none).
        wall_time_s: this call's wall time.
    """

    out: Path
    cells: dict[str, dict[str, Any]]
    ran: tuple[str, ...]
    backend: str
    comparison: Any
    wall_time_s: float

    @property
    def ok(self) -> list[str]:
        """The finished cells."""
        return [k for k, c in self.cells.items() if c["status"] == "ok"]

    @property
    def failed(self) -> list[str]:
        """The failed cells (each record holds its ``error``)."""
        return [k for k, c in self.cells.items() if c["status"] == "failed"]

    def folders(self) -> list[Path]:
        """The results folder of every finished cell."""
        return [self.out / k for k in self.ok]


# ---- the grid ----------------------------------------------------------------------------
def grid(
    models: Sequence[str],
    protocol: ProtocolConfig,
    seeds: Sequence[int] | None = None,
    formats: Sequence[str] | None = None,
    *,
    out: str | Path,
    address: str | None = None,
    num_cpus: int | float | None = None,
    num_gpus: int | float = 0,
    dtype: str = "float32",
    device: str | None = None,
    kind: str = "bridge",
    load: Loader | None = None,
    backend: str = "auto",
    progress: bool = True,
    on_cell: OnCell | None = None,
) -> GridResult:
    """Run the protocol on every (model, format, seed) cell; compare the finished cells.

    Each cell writes ``<out>/<model>/<format>/seed-<s>/`` with
    :func:`~tvlens.run.protocol.run_protocol`; ``<out>/grid.json`` lists the cells (status,
    error, wall time, peak memory) and is rewritten atomically after each cell;
    ``<out>/compare/`` holds the comparison of the finished cells. A rerun with the same
    arguments runs only the unfinished cells. ``out`` is locked for the call.

    Args:
        models: model names, each loaded once by ``load``.
        protocol: the protocol of every cell (its tasks, sizes, answers, methods, and the
            RunConfig that says how it executes); each cell replaces its seed and format.
        seeds: sampling seeds (default: ``[protocol.seed]``).
        formats: prompt format names, ``"arrow"``, ``"paper"`` (default:
            ``[protocol.format]``).
        out: the grid folder.
        address: a Ray cluster to join (``"auto"``, ``"ray://host:10001"``...). Without
            it, a local Ray instance sized to this machine is started (and stopped after);
            a Ray already initialized in this process is used as is.
        num_cpus: CPUs per model's actor (default: this machine's / cluster node's CPUs
            shared among the models); also its torch threads when on CPU.
        num_gpus: GPUs per model's actor (fractions share a GPU).
        dtype, device, kind: passed to :func:`tvlens.models.load_model` when ``load`` is
            ``None``.
        load: ``load(name) -> model``; a Ray worker must be able to import it (a function
            of an installed module, e.g. :func:`tiny_load`).
        backend: ``"auto"`` (Ray if installed, else in-process), ``"ray"`` or ``"local"``.
        progress: print a line per finished cell (and the in-process hint) to stderr.
        on_cell: called in this process with each finished cell's record.

    Raises:
        TypeError, ValueError: on bad arguments, or an ``out`` that is locked, holds a
            folder of another kind (a run, a ``--seeds`` run, a comparison), or holds a
            ``grid.json`` tvlens did not write; before any model loads. A cell's own
            problems (its task data, its folder, its model) are recorded in ``grid.json``
            instead.
        ImportError: for ``backend="ray"`` or ``address=`` without Ray installed.
    """
    t0 = time.perf_counter()
    model_names = _check_models(models)
    cfg = base_config(protocol)
    fmts = _check_formats([cfg.format] if formats is None else formats)
    seed_list = check_seeds([cfg.seed] if seeds is None else seeds)
    if load is not None and (dtype != "float32" or device is not None or kind != "bridge"):
        raise ValueError(
            "dtype=, device= and kind= go to tvlens.models.load_model; with your own load= "
            "set them in that loader"
        )
    if num_gpus < 0 or (num_cpus is not None and num_cpus <= 0):
        raise ValueError(f"need num_cpus > 0 and num_gpus >= 0, got {num_cpus}, {num_gpus}")
    chosen = _pick_backend(backend, address)
    loader = load or _default_loader(dtype=dtype, device=device, kind=kind, backend=chosen)
    out = prepare_out(out)
    cells = [Cell(m, f, s) for m in model_names for f in fmts for s in seed_list]
    with run_lock(out):
        _check_grid_folder(out)
        book = _Book(out, cfg, model_names, fmts, seed_list, chosen, on_cell, progress)
        todo = book.plan(cells)
        if todo and chosen == "local":
            if backend == "auto" and progress:
                print(
                    f"tvlens grid: Ray is not installed: running {len(todo)} cell(s) in this "
                    f"process, one model after another. To run the models in parallel (or on "
                    f"a cluster with --address): {INSTALL_HINT}",
                    file=sys.stderr,
                )
            _run_local(todo, loader, book)
        elif todo:
            from tvlens.run.grid_ray import run_on_ray

            info = run_on_ray(
                todo, loader, book, address=address, num_cpus=num_cpus, num_gpus=num_gpus
            )
            book.backend_info.update(info)
        comparison = book.finish(time.perf_counter() - t0)
    return GridResult(
        out=out,
        cells=book.cells,
        ran=tuple(c.key for c, _ in todo),
        backend=chosen,
        comparison=comparison,
        wall_time_s=time.perf_counter() - t0,
    )


def _check_formats(formats: Sequence[str]) -> list[str]:
    fmts = _check_names("formats", formats)
    for f in fmts:
        if f not in FORMATS:
            raise ValueError(f"unknown prompt format {f!r}; choose one of {sorted(FORMATS)}")
    return fmts


def _default_loader(*, dtype: str, device: str | None, kind: str, backend: str) -> Loader:
    """:func:`tvlens.models.load_model` with these settings, checked before any model loads."""
    from tvlens.models import load_model, resolve_device, resolve_dtype

    resolve_dtype(dtype)
    if kind not in ("bridge", "hooked"):
        raise ValueError(f"kind must be 'bridge' or 'hooked', got {kind!r}")
    if backend == "local":  # on Ray, the device is the actor's, checked where it loads
        resolve_device(device)  # a device this machine lacks fails before any model loads
    return functools.partial(load_model, kind=kind, dtype=dtype, device=device)


def _check_grid_folder(out: Path) -> None:
    check_folder_kind(out, "grid")  # not a run's, a --seeds run's or a comparison's folder
    check_outputs_ours(out, (GRID_FILE,))


def _run_local(todo: list[tuple[Cell, RunPlan]], load: Loader, book: _Book) -> None:
    """One model after another in this process: load it, run its cells, free it."""
    import gc

    for name in dict.fromkeys(c.model for c, _ in todo):
        worker = CellWorker(load, name, backend="local")
        try:
            for cell, plan in (x for x in todo if x[0].model == name):
                book.running(cell)
                book.record(cell, worker.run(cell, plan))
        finally:
            worker.close()
            del worker
            gc.collect()
