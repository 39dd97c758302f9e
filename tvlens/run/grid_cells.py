"""The cells of a grid: what one (model, format, seed) cell is, the worker that runs cells
of one model, and the bookkeeping of ``grid.json``. Shared by :mod:`tvlens.run.grid` and
:mod:`tvlens.run.grid_ray` (which import this module, never each other's internals)."""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tvlens._version import __version__
from tvlens.run.files import dumps_strict, write_output
from tvlens.run.lock import run_lock
from tvlens.run.names import PAPER_MODES
from tvlens.run.plan import RunPlan, preflight
from tvlens.run.protocol import execute
from tvlens.run.protocol_config import ProtocolConfig
from tvlens.run.results_json import Results
from tvlens.run.seeds import seed_dir
from tvlens.run.tasks import task_key

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

    def run(self, cell: Cell, plan: RunPlan) -> dict[str, Any]:
        """Run one cell's plan (:func:`~tvlens.run.plan.preflight` of its folder) under the
        folder's lock; its record for ``grid.json`` (never raises)."""
        t0 = time.perf_counter()
        rec: dict[str, Any] = {"status": "ok", "error": None, "load_time_s": None}
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.reset_peak_memory_stats()
        try:
            rec["load_time_s"] = self._ensure_model()
            with run_lock(plan.out):
                results = execute(self.model, plan, progress=False)
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


def _results_summary(results: Mapping[str, Any] | Results) -> dict[str, Any]:
    if isinstance(results, Results):
        s, meta = results.summary, results.meta
    else:
        s, meta = results.get("summary", {}), results.get("meta", {})
    return {
        "n_tasks_ok": s.get("n_tasks_ok"),
        "n_tasks_skipped": s.get("n_tasks_skipped"),
        "accuracy": s.get("overall"),
        "model_class": meta.get("model_class"),
        "dtype": meta.get("dtype"),
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


def cell_done(plan: RunPlan) -> bool:
    """Whether a cell's folder holds its finished run (:meth:`RunPlan.complete`)."""
    return plan.complete()


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

    def plan(self, cells: list[Cell]) -> list[tuple[Cell, RunPlan]]:
        """Check every cell once (no model needed); the cells to run with their plans."""
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
            folder = cell.folder(self.out).resolve()  # a Ray worker may start elsewhere
            try:
                plan = preflight(cfg, folder)
            except (ValueError, TypeError, OSError) as err:
                rec.update(status="failed", error=f"{type(err).__name__}: {err}")
            else:
                if plan.previous is not None and cell_done(plan):
                    old = self.previous.get(cell.key, {})
                    kept = old if old.get("status") == "ok" else {}
                    rec = {**kept, **rec, "status": "ok", "error": None}
                    rec.update(_results_summary(plan.previous))
                else:
                    rec.update(status="pending", error=None)
                    todo.append((cell, plan))
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
        from tvlens.report.compare import compare

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
        f"{m} {acc[m]:.2f}" for m in PAPER_MODES
        if isinstance(acc.get(m), (int, float))
    )  # fmt: skip
    rss = rec.get("peak_rss_mb")
    mem = f", peak RSS {rss:.0f} MiB" if isinstance(rss, (int, float)) else ""
    return f"ok, {rec.get('n_tasks_ok')} task(s) {accs} ({rec.get('wall_time_s', 0):.1f} s{mem})"
