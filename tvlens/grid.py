"""``tvlens grid``: the protocol over models x formats x seeds, one results folder per cell.

A grid is every combination of its models, prompt formats and seeds; each combination is a
*cell* whose tasks run with :func:`~tvlens.experiment.run_protocol` into its own folder,
``<out>/<model>/<format>/seed-<s>/``, so a cell has the lock, atomic writes and resume of
``tvlens run``. A model is loaded once and runs all its cells one after another:

- with Ray installed (``pip install 'tvlens[ray]'``), in one Ray actor per model
  (:mod:`tvlens.grid_ray`), the models in parallel: on a local Ray instance sized to the
  machine, or on a cluster (``address=``);
- without Ray, in this process, one model after another.

A rerun schedules only the cells that are not finished (a cell whose ``results.json`` holds
every task and whose ``report.html`` is written is skipped; a cell stopped half-way resumes
from its finished tasks). A cell that fails (a bad task file, an out-of-memory model load,
any exception, a worker that died) is recorded as failed with its error and does not stop
the others. ``<out>/grid.json`` lists every cell (status, error, wall time, peak memory of
the process that ran it: ``ru_maxrss`` of the model's Ray actor, or of this process in-process,
where a cell also shows the peak of the models before it; and the CUDA peak of the cell), and
``<out>/compare/`` holds :func:`tvlens.compare.compare` over every finished cell.

Example:
    >>> res = grid(["gemma-3-270m", "smollm2-135m"], ["to_upper"], [0, 1],
    ...            out="results/grid", n_dev=20, n_test=20)  # doctest: +SKIP
    >>> res.failed, res.comparison.summaries  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tvlens._version import __version__
from tvlens.experiment import ProtocolConfig, preflight, run_protocol
from tvlens.prompts import FORMATS
from tvlens.runfiles import check_outputs_ours, dumps_strict, prepare_out, run_lock, write_output
from tvlens.runtasks import is_file_ref, task_key
from tvlens.seeds import check_seeds, seed_dir

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

GRID_FILE = "grid.json"
GRID_SCHEMA_VERSION = 1
COMPARE_DIR = "compare"
BACKENDS = ("auto", "ray", "local")
INSTALL_HINT = "pip install 'tvlens[ray]'"
# ProtocolConfig fields a grid sets per cell, or from its own arguments.
_CELL_FIELDS = ("tasks", "seed", "format")

Loader = Callable[[str], Any]
OnCell = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Cell:
    """One (model, format, seed) of a grid; its tasks run in ``<out>/<model>/<format>/seed-<s>``."""

    model: str
    format: str
    seed: int

    @property
    def key(self) -> str:
        """``<model>/<format>/seed-<s>``: the cell's folder relative to the grid's."""
        return f"{_folder_name(self.model)}/{self.format}/seed-{self.seed}"

    def folder(self, out: str | Path) -> Path:
        """The cell's results folder under the grid folder ``out``."""
        return seed_dir(Path(out) / _folder_name(self.model) / self.format, self.seed)


def _folder_name(model: str) -> str:
    # Hub names hold a slash; "EleutherAI/pythia-70m" -> "EleutherAI--pythia-70m", as HF caches do
    return model.replace("/", "--")


# ---- the process that runs a model's cells --------------------------------------------------
def peak_rss_mb() -> float | None:
    """The peak resident memory of this process so far, in MiB (``getrusage``'s ``ru_maxrss``)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes there, KiB here


def _gpu_peak_mb() -> float | None:
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return float(torch.cuda.max_memory_allocated()) / 2**20


class CellWorker:
    """Loads one model on first use and runs that model's cells, one call per cell.

    The plain-Python worker of both backends: the in-process backend calls it directly, the
    Ray backend wraps it in ``ray.remote`` (one actor per model). A model that fails to load
    fails every cell of that worker with the same error, without loading again.

    Args:
        load: ``load(model_name) -> model``, importable by a Ray worker.
        model: the model name passed to ``load``.
        threads: torch CPU threads for this process (``None``: leave as is).
        backend: ``"ray"`` or ``"local"``, recorded with each cell.
        actor: the Ray actor's name, recorded with each cell.
    """

    def __init__(
        self,
        load: Loader,
        model: str,
        *,
        threads: int | None = None,
        backend: str = "local",
        actor: str | None = None,
    ) -> None:
        self.load, self.model_name = load, model
        self.backend, self.actor = backend, actor
        self.model: Any = None
        self.load_error: str | None = None
        if threads is not None:
            import torch

            torch.set_num_threads(max(1, int(threads)))

    def _ensure_model(self) -> float | None:
        """Load the model if not yet loaded; the seconds it took (``None`` if loaded before)."""
        if self.load_error is not None:
            raise RuntimeError(f"loading {self.model_name!r} failed earlier: {self.load_error}")
        if self.model is not None:
            return None
        t0 = time.perf_counter()
        try:
            self.model = self.load(self.model_name)
        except Exception as err:
            self.load_error = f"{type(err).__name__}: {err}"
            raise
        return time.perf_counter() - t0

    def run(self, cell: Cell, cfg: ProtocolConfig, folder: str) -> dict[str, Any]:
        """Run one cell into ``folder``; its record for ``grid.json`` (never raises)."""
        t0 = time.perf_counter()
        rec: dict[str, Any] = {"status": "ok", "error": None, "load_time_s": None}
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.reset_peak_memory_stats()
        try:
            rec["load_time_s"] = self._ensure_model()
            results = run_protocol(self.model, cfg, folder, progress=False)
            rec.update(_results_summary(results))
        except Exception as err:  # recorded in grid.json; the grid goes on
            tb = "".join(traceback.format_exception(type(err), err, err.__traceback__))
            rec.update(status="failed", error=f"{type(err).__name__}: {err}", traceback=tb[-4000:])
            if torch is not None and torch.cuda.is_available():
                torch.cuda.empty_cache()  # after a CUDA OOM, give the next cell what is free
        rec.update(
            wall_time_s=time.perf_counter() - t0,
            peak_rss_mb=peak_rss_mb(),
            peak_gpu_mb=_gpu_peak_mb(),
            worker={
                "backend": self.backend,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "actor": self.actor,
            },
        )
        return rec

    def close(self) -> None:
        """Drop the model (the in-process backend frees it before loading the next)."""
        self.model = None


def _results_summary(results: Mapping[str, Any]) -> dict[str, Any]:
    s = results.get("summary", {})
    return {
        "n_tasks_ok": s.get("n_tasks_ok"),
        "n_tasks_skipped": s.get("n_tasks_skipped"),
        "accuracy": s.get("overall"),
        "model_class": results.get("meta", {}).get("model_class"),
        "dtype": results.get("meta", {}).get("dtype"),
    }


# ---- tiny models by name, for tests and dry runs -----------------------------------------
def tiny_load(name: str) -> Any:
    """A tiny random model by name (no download), importable by Ray workers.

    ``"tiny-bridge"`` (3 layers), ``"tiny-bridge-4"`` (4 layers), ``"tiny-hf-llama"`` and
    ``"tiny-hf-gemma3"`` (bridges over tiny HF models), ``"tiny-hooked"`` (TL 3 only):
    from :mod:`tvlens.testing`. Pass ``load=tiny_load`` to :func:`grid` to try a grid in
    seconds.

    Raises:
        ValueError: for another name, listing these.
    """
    from tvlens import testing

    builders: dict[str, Callable[[], Any]] = {
        "tiny-bridge": testing.tiny_bridge,
        "tiny-bridge-4": lambda: testing.tiny_bridge(n_layers=4),
        "tiny-hf-llama": lambda: testing.tiny_hf_bridge(arch="llama"),
        "tiny-hf-gemma3": lambda: testing.tiny_hf_bridge(arch="gemma3"),
        "tiny-hooked": testing.tiny_hooked_transformer,
    }
    if name not in builders:
        raise ValueError(f"unknown tiny model {name!r}; choose one of {sorted(builders)}")
    return builders[name]()


# ---- planning ----------------------------------------------------------------------------
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
    if not isinstance(tasks, (list, tuple)):
        return tasks  # type: ignore[return-value]  # ProtocolConfig says what is wrong
    return [
        str(Path(t).resolve())
        if isinstance(t, (str, os.PathLike)) and is_file_ref(t) and Path(t).exists()
        else t
        for t in tasks
    ]


def base_config(tasks: Sequence[Any], settings: Mapping[str, Any]) -> ProtocolConfig:
    """The grid's protocol: ``tasks`` plus ``settings`` (every ProtocolConfig field but the
    cell's own: tasks, seed, format).

    Raises:
        TypeError: on an unknown setting or one a cell sets, naming the allowed ones.
    """
    allowed = {f.name for f in dataclasses.fields(ProtocolConfig)} - set(_CELL_FIELDS)
    wrong = sorted(set(settings) - allowed)
    if wrong:
        raise TypeError(
            f"grid() got unknown protocol settings {wrong}; the grid sets tasks, seed and "
            f"format per cell, and accepts {sorted(allowed)}"
        )
    return ProtocolConfig(tasks=_task_refs(tasks), **settings)


def cell_done(cfg: ProtocolConfig, folder: Path) -> bool:
    """Whether a cell's folder holds a finished run of ``cfg``: every task in
    ``results.json`` (``ok``, or ``skipped`` for a reason that does not change on a rerun),
    and ``report.html`` (written last)."""
    tasks = _read_json(folder / "results.json").get("tasks")
    if not isinstance(tasks, dict) or not (folder / "report.html").exists():
        return False
    return all(tasks.get(task_key(r), {}).get("status") in ("ok", "skipped") for r in cfg.tasks)


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
        comparison: :func:`tvlens.compare.compare` over the finished cells (``None`` if none).
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
    tasks: Sequence[Any],
    seeds: Sequence[int],
    formats: Sequence[str] = ("arrow",),
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
    **settings: Any,
) -> GridResult:
    """Run the protocol on every (model, format, seed) cell; compare the finished cells.

    Each cell writes ``<out>/<model>/<format>/seed-<s>/`` with
    :func:`~tvlens.experiment.run_protocol`; ``<out>/grid.json`` lists the cells (status,
    error, wall time, peak memory) and is rewritten atomically after each cell;
    ``<out>/compare/`` holds the comparison of the finished cells. A rerun with the same
    arguments runs only the unfinished cells. ``out`` is locked for the call.

    Args:
        models: model names, each loaded once by ``load``.
        tasks: task names or files (empty: the paper's 18 tasks), run in every cell.
        seeds: sampling seeds.
        formats: prompt format names (``"arrow"``, ``"paper"``).
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
        **settings: protocol settings (``n_dev``, ``n_test``, ``n_baseline``, ``n_demos``,
            ``n_dummy``, ``answers``, ``max_new_tokens``, ``batch_size``, ``on_conflict``).

    Raises:
        TypeError, ValueError: on bad arguments, or an ``out`` that is locked, holds a
            single run, or holds a ``grid.json`` tvlens did not write; before any model
            loads. A cell's own problems (its task data, its folder, its model) are
            recorded in ``grid.json`` instead.
        ImportError: for ``backend="ray"`` or ``address=`` without Ray installed.
    """
    t0 = time.perf_counter()
    model_names = _check_models(models)
    fmts = _check_names("formats", formats)
    for f in fmts:
        if f not in FORMATS:
            raise ValueError(f"unknown prompt format {f!r}; choose one of {sorted(FORMATS)}")
    seed_list = check_seeds(seeds)
    cfg = base_config(tasks, settings)
    if load is not None and (dtype != "float32" or device is not None or kind != "bridge"):
        raise ValueError(
            "dtype=, device= and kind= go to tvlens.models.load_model; with your own load= "
            "set them in that loader"
        )
    if num_gpus < 0 or (num_cpus is not None and num_cpus <= 0):
        raise ValueError(f"need num_cpus > 0 and num_gpus >= 0, got {num_cpus}, {num_gpus}")
    chosen = _pick_backend(backend, address)
    if load is None:
        from tvlens.models import resolve_device, resolve_dtype

        resolve_dtype(dtype)
        if kind not in ("bridge", "hooked"):
            raise ValueError(f"kind must be 'bridge' or 'hooked', got {kind!r}")
        if chosen == "local":  # on Ray, the device is the actor's, checked where it loads
            resolve_device(device)  # a device this machine lacks fails before any model loads
    loader: Loader = load or _default_loader(dtype=dtype, device=device, kind=kind)
    out = prepare_out(out)
    cells = [Cell(m, f, s) for m in model_names for f in fmts for s in seed_list]
    with run_lock(out):
        _check_grid_folder(out)
        book = _Book(out, cfg, model_names, fmts, seed_list, chosen, on_cell, progress)
        todo = book.plan(cells)
        if todo and chosen == "local" and backend == "auto" and progress:
            print(
                f"tvlens grid: Ray is not installed: running {len(todo)} cell(s) in this "
                f"process, one model after another. To run the models in parallel (or on a "
                f"cluster with --address): {INSTALL_HINT}",
                file=sys.stderr,
            )
        if todo and chosen == "local":
            _run_local(todo, loader, book)
        elif todo:
            from tvlens.grid_ray import run_on_ray

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


def _default_loader(*, dtype: str, device: str | None, kind: str) -> Loader:
    from tvlens.models import load_model

    return functools.partial(load_model, kind=kind, dtype=dtype, device=device)


def _check_grid_folder(out: Path) -> None:
    for name in ("results.json", "seeds.json"):
        if (out / name).exists():
            raise ValueError(
                f"{out} holds a run ({name}); a grid writes <model>/<format>/seed-<s>/ "
                "folders and grid.json: pass another --out"
            )
    check_outputs_ours(out, (GRID_FILE,))


def _run_local(todo: list[tuple[Cell, ProtocolConfig]], load: Loader, book: _Book) -> None:
    """One model after another in this process: load it, run its cells, free it."""
    import gc

    for name in dict.fromkeys(c.model for c, _ in todo):
        worker = CellWorker(load, name, backend="local")
        try:
            for cell, cfg in (x for x in todo if x[0].model == name):
                book.running(cell)
                book.record(cell, worker.run(cell, cfg, str(cell.folder(book.out))))
        finally:
            worker.close()
            del worker
            gc.collect()


class _Book:
    """``grid.json``: the cells' records, written atomically after every change."""

    def __init__(
        self,
        out: Path,
        cfg: ProtocolConfig,
        models: list[str],
        formats: list[str],
        seeds: list[int],
        backend: str,
        on_cell: OnCell | None,
        progress: bool,
    ) -> None:
        self.out, self.cfg, self.on_cell, self.progress = out, cfg, on_cell, progress
        self.head: dict[str, Any] = {
            "schema_version": GRID_SCHEMA_VERSION,
            "kind": "tvlens-grid",
            "tvlens_version": __version__,
            "models": models,
            "formats": formats,
            "seeds": seeds,
            "tasks": [task_key(r) for r in cfg.tasks],
            "settings": {k: v for k, v in cfg.comparable().items() if k not in _CELL_FIELDS},
        }
        self.backend_info: dict[str, Any] = {"name": backend}
        self.cells: dict[str, dict[str, Any]] = {}
        self.n_done = 0
        self.previous = self._read_previous()

    def _read_previous(self) -> dict[str, Any]:
        cells = _read_json(self.out / GRID_FILE).get("cells")
        return cells if isinstance(cells, dict) else {}

    def plan(self, cells: list[Cell]) -> list[tuple[Cell, ProtocolConfig]]:
        """Check every cell (no model needed); the cells to run, in order."""
        todo = []
        for cell in cells:
            cfg = dataclasses.replace(self.cfg, seed=cell.seed, format=cell.format)
            rec: dict[str, Any] = {
                "model": cell.model,
                "format": cell.format,
                "seed": cell.seed,
                "dir": cell.key,
                "ran": False,
            }
            folder = cell.folder(self.out)
            try:
                preflight(cfg, folder)
            except (ValueError, TypeError, OSError) as err:
                rec.update(status="failed", error=f"{type(err).__name__}: {err}")
            else:
                if cell_done(cfg, folder):
                    old = self.previous.get(cell.key, {})
                    kept = old if old.get("status") == "ok" else {}
                    rec = {**kept, **rec, "status": "ok", "error": None}
                    rec.update(_results_summary(_read_json(folder / "results.json")))
                else:
                    rec.update(status="pending", error=None)
                    todo.append((cell, cfg))
            self.cells[cell.key] = rec
        self.write()
        return todo

    def running(self, cell: Cell) -> None:
        self.cells[cell.key]["status"] = "running"
        self.write()

    def record(self, cell: Cell, result: Mapping[str, Any]) -> None:
        """Store a finished cell's record, write ``grid.json``, report it."""
        rec = {**self.cells[cell.key], **result, "ran": True}
        self.cells[cell.key] = rec
        self.write()
        self.n_done += 1
        if self.progress:
            n = sum(1 for c in self.cells.values() if c.get("ran"))
            total = n + sum(1 for c in self.cells.values() if c["status"] in ("pending", "running"))
            print(f"tvlens grid [{n}/{total}] {cell.key}: {_describe(rec)}", file=sys.stderr)
        if self.on_cell is not None:
            self.on_cell(rec)

    def write(self, extra: Mapping[str, Any] | None = None) -> None:
        counts = {s: 0 for s in ("ok", "failed", "pending", "running")}
        for c in self.cells.values():
            counts[c["status"]] = counts.get(c["status"], 0) + 1
        body = {
            **self.head,
            "backend": self.backend_info,
            **(extra or {}),
            "summary": {"n_cells": len(self.cells), **{f"n_{k}": v for k, v in counts.items()}},
            "cells": self.cells,
        }
        write_output(self.out, GRID_FILE, dumps_strict(body))

    def finish(self, wall: float) -> Any:
        """Compare the finished cells into ``<out>/compare``; write the final ``grid.json``."""
        from tvlens.compare import compare

        for c in self.cells.values():  # a worker lost with its cell in flight
            if c["status"] in ("pending", "running"):
                c.update(status="failed", error=c.get("error") or "the grid stopped first")
        dirs = [self.out / k for k, c in self.cells.items()
                if c["status"] == "ok" and c.get("n_tasks_ok", 1)]  # fmt: skip
        comparison, error = None, None
        if dirs:
            try:
                comparison = compare(dirs, self.out / COMPARE_DIR)
            except (ValueError, OSError) as err:
                error = f"{type(err).__name__}: {err}"
        self.write({
            "wall_time_s": wall,
            "compare": COMPARE_DIR if comparison is not None else None,
            "compare_error": error,
        })  # fmt: skip
        return comparison


def _read_json(path: Path) -> dict[str, Any]:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(rec: Mapping[str, Any]) -> str:
    if rec["status"] != "ok":
        return f"FAILED: {rec.get('error')}"
    acc = rec.get("accuracy") or {}
    accs = " ".join(
        f"{m} {acc[m]:.2f}" for m in ("baseline", "hypothesis", "regular")
        if isinstance(acc.get(m), (int, float))
    )  # fmt: skip
    rss = rec.get("peak_rss_mb")
    mem = f", peak RSS {rss:.0f} MiB" if isinstance(rss, (int, float)) else ""
    return f"ok, {rec.get('n_tasks_ok')} task(s) {accs} ({rec.get('wall_time_s', 0):.1f} s{mem})"
