"""The paper's main experiment: layer sweep on dev, then Regular / Hypothesis / Baseline.

``run_protocol`` writes ``results.json``, ``summary.md`` and ``report.html`` to an output
folder and resumes from the tasks already written there.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tvlens._compat import model_name, transformer_lens_version
from tvlens.evaluate import ModeResult, baseline, hypothesis, layer_sweep, regular
from tvlens.prompts import PromptFormat, get_format
from tvlens.protocol import HookedModel

SCHEMA_VERSION = 1


@dataclass
class ProtocolConfig:
    """The paper's protocol; the defaults are the paper's settings."""

    tasks: Sequence[str] = ()
    n_demos: int = 5
    n_dummy: int = 2
    n_dev: int = 50
    n_test: int = 50
    n_baseline: int = 100
    seed: int = 0
    format: str = "arrow"
    batch_size: int = 16

    def __post_init__(self) -> None:
        if not self.tasks:
            from tvlens.tasks import PAPER_TASKS

            self.tasks = list(PAPER_TASKS)
        for name in ("n_dev", "n_test", "n_baseline", "n_demos", "n_dummy", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def prompt_format(self) -> PromptFormat:
        """The :class:`PromptFormat` named by ``format``."""
        return get_format(self.format)

    def comparable(self) -> dict[str, Any]:
        """The settings a resumed run must share with the run it resumes."""
        d = asdict(self)
        d.pop("tasks")
        d.pop("batch_size")
        return d


@dataclass
class TaskOutcome:
    """What :func:`run_task` produced for one task (a JSON-ready record)."""

    name: str
    record: dict[str, Any] = field(default_factory=dict)


def _prediction(p: Any) -> dict[str, Any]:
    return {
        "input_ids": list(p.input_ids),
        "predicted_token_id": p.predicted_token_id,
        "predicted_token": p.predicted_token,
        "correct": p.correct,
    }


def run_task(
    model: HookedModel,
    task_ref: Any,
    cfg: ProtocolConfig,
    *,
    on_phase: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the protocol on one task; return its JSON record.

    A task with too few single-token pairs is returned as ``status: "skipped"`` with the
    reason (and a warning), not raised.
    """
    from tvlens.tasks import filter_single_token, get_task

    fmt = cfg.prompt_format
    phase = on_phase or (lambda _: None)
    t0 = time.perf_counter()
    task = (
        get_task(task_ref if isinstance(task_ref, str) else Path(task_ref))
        if isinstance(task_ref, (str, os.PathLike))
        else task_ref
    )
    record: dict[str, Any] = {
        "category": task.category,
        "n_pairs": len(task),
        "n_kept": 0,
        "n_dropped": len(task),
    }
    try:
        kept = filter_single_token(task, model.tokenizer, fmt)
        record.update(n_kept=kept.n_kept, n_dropped=kept.n_dropped)
        # Dev and test queries are disjoint; a task with fewer than n_dev + n_test pairs
        # (the 25 letters of next_letter) splits its queries in proportion and repeats them.
        dev, test = kept.dev_test(
            cfg.n_dev, cfg.n_test, n_demos=cfg.n_demos, n_dummy=cfg.n_dummy, seed=cfg.seed
        )
        base = kept.sample(cfg.n_baseline, n_demos=1, n_dummy=1, seed=cfg.seed + 2)
    except ValueError as err:
        warnings.warn(f"skipping task {task.name}: {err}", stacklevel=2)
        return {"status": "skipped", "reason": str(err), **record}
    opts: dict[str, Any] = {"fmt": fmt, "batch_size": cfg.batch_size}
    times = {"filter_and_sample": time.perf_counter() - t0}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        phase(name)
        start = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - start
        return out

    sweep = timed("layer_sweep", lambda: layer_sweep(model, dev, **opts))
    reg = timed("regular", lambda: regular(model, test, **opts))
    hyp = timed("hypothesis", lambda: hypothesis(model, test, sweep.best_layer, **opts))
    bas = timed("baseline", lambda: baseline(model, base, **opts))
    return {
        "status": "ok",
        **record,
        "dev_accuracy_per_layer": list(sweep.accuracy),
        "best_layer": sweep.best_layer,
        "accuracy": {"baseline": bas.accuracy, "hypothesis": hyp.accuracy, "regular": reg.accuracy},
        "wall_time_s": time.perf_counter() - t0,
        "phase_times_s": times,
        "test_examples": _test_records(reg, hyp),
        "baseline_examples": [
            {
                "query": p.query,
                "answer": p.answer,
                "answer_token_id": p.answer_token_id,
                "baseline": _prediction(p),
            }
            for p in bas.predictions
        ],
    }


def _test_records(reg: ModeResult, hyp: ModeResult) -> list[dict[str, Any]]:
    out = []
    for r, h in zip(reg.predictions, hyp.predictions, strict=True):
        out.append(
            {
                "demos": [list(d) for d in r.demos],
                "query": r.query,
                "answer": r.answer,
                "dummy_queries": list(h.dummy_queries),
                "answer_token_id": r.answer_token_id,
                "regular": _prediction(r),
                "hypothesis": _prediction(h),
            }
        )
    return out


def _meta(model: HookedModel, cfg: ProtocolConfig, wall: float) -> dict[str, Any]:
    import torch

    import tvlens

    return {
        "model": model_name(model),
        "tvlens_version": tvlens.__version__,
        "transformer_lens_version": transformer_lens_version(),
        "torch_version": torch.__version__,
        "model_class": type(model).__name__,
        "format": cfg.prompt_format.to_dict(),
        **{k: v for k, v in cfg.comparable().items() if k != "format"},
        "wall_time_s": wall,
    }


def load_previous(out: Path, model: HookedModel, cfg: ProtocolConfig) -> dict[str, Any]:
    """Tasks already finished in ``out/results.json`` by a run with the same settings."""
    path = out / "results.json"
    if not path.exists():
        return {}
    try:
        prev = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    meta = prev.get("meta", {})
    same = meta.get("model") == model_name(model) and all(
        meta.get(k) == v for k, v in cfg.comparable().items() if k != "format"
    )
    if not same or meta.get("format") != cfg.prompt_format.to_dict():
        raise ValueError(
            f"{path} holds a run with other settings (model or protocol); "
            "pass another --out or delete that folder"
        )
    done = {n: t for n, t in prev.get("tasks", {}).items() if t.get("status") == "ok"}
    return {"tasks": done, "wall_time_s": float(meta.get("wall_time_s", 0.0))}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def run_protocol(
    model: HookedModel,
    cfg: ProtocolConfig,
    out: str | Path,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every task of ``cfg`` and write ``results.json``, ``summary.md``, ``report.html``.

    ``results.json`` is rewritten after each task, so an interrupted run started again
    with the same ``out`` resumes from the tasks already written.

    Raises:
        ValueError: if ``out`` is a file, or holds a run with other settings.
    """
    from tvlens.report import summarize, summary_markdown, write_report_html

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; pass a folder (it is created if missing)")
    out.mkdir(parents=True, exist_ok=True)
    previous = load_previous(out, model, cfg)
    tasks: dict[str, Any] = dict(previous.get("tasks", {}))
    wall0 = previous.get("wall_time_s", 0.0)
    start = time.perf_counter()
    names = [str(t) for t in cfg.tasks]
    todo = [t for t in cfg.tasks if _task_key(t) not in tasks]
    results: dict[str, Any] = {}

    def build(wall: float) -> dict[str, Any]:
        ordered = {n: tasks[n] for n in map(_task_key, names) if n in tasks}
        return {
            "schema_version": SCHEMA_VERSION,
            "meta": _meta(model, cfg, wall),
            "tasks": ordered,
            "summary": summarize(ordered),
        }

    from tqdm.auto import tqdm

    bar = tqdm(todo, desc="tasks", unit="task", disable=not progress)
    for ref in bar:
        key = _task_key(ref)
        bar.set_description(key)

        def on_phase(phase: str, key: str = key) -> None:
            bar.set_description(f"{key}: {phase}")

        tasks[key] = run_task(model, ref, cfg, on_phase=on_phase)
        results = build(wall0 + time.perf_counter() - start)
        _atomic_write(out / "results.json", json.dumps(results, indent=1) + "\n")
    results = build(wall0 + time.perf_counter() - start)
    _atomic_write(out / "results.json", json.dumps(results, indent=1) + "\n")
    _atomic_write(out / "summary.md", summary_markdown(results))
    write_report_html(results, out / "report.html")
    return results


def _task_key(ref: Any) -> str:
    """The name a task is stored under: its registry name, or a file's stem."""
    if isinstance(ref, (str, os.PathLike)) and Path(ref).suffix:
        return Path(ref).stem
    return str(getattr(ref, "name", ref))
