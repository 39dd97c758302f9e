"""The paper's main experiment: layer sweep on dev, then Regular / Hypothesis / Baseline.

``run_protocol`` writes ``results.json``, ``summary.md`` and ``report.html`` to an output
folder and resumes from the tasks already written there.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tvlens._compat import model_name, transformer_lens_version
from tvlens._example import ICLExample
from tvlens._version import __version__
from tvlens.engine.batching import model_dtype
from tvlens.engine.runner import Runner
from tvlens.evaluation.methods import Method
from tvlens.evaluation.modes import regular_and_thetas_on
from tvlens.evaluation.results import ModeResult
from tvlens.evaluation.scorers import NextToken
from tvlens.evaluation.sweep import run_method_on, sweep_on
from tvlens.protocol import HookedModel
from tvlens.run.answers import run_generated
from tvlens.run.files import prepare_out
from tvlens.run.fingerprint import weights_sha256
from tvlens.run.lock import LOCK_NAME, run_lock
from tvlens.run.methods import add_function_vectors, run_function_vectors, write_function_vector
from tvlens.run.plan import RunPlan, preflight
from tvlens.run.protocol_config import ProtocolConfig, protocol_meta, with_defaults
from tvlens.run.results_json import RESULTS_FILE, Results, write_run
from tvlens.run.resume import (
    merge_from_disk,
    refuse_settings,
    settings_diff,
    tokenizer_fingerprint,
)
from tvlens.run.task_record import BUG_FIX, TaskRecord
from tvlens.run.tasks import check_task_data, load_task, special_pattern, task_key

__all__ = [
    "ProtocolConfig",
    "RunPlan",
    "execute",
    "model_meta",
    "preflight",
    "protocol_meta",
    "run_meta",
    "run_protocol",
    "run_task",
    "with_defaults",
]


def run_task(
    model: HookedModel,
    task_ref: Any,
    cfg: ProtocolConfig,
    *,
    on_phase: Callable[[str], None] | None = None,
    run: Runner | None = None,
    vectors: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the protocol on one task; return its JSON record.

    A task with too few single-token pairs is returned as ``status: "skipped"`` with the
    reason (and a warning), not raised. ``run`` is the Runner of ``model`` to use (one is
    made from ``cfg.run`` if ``None``). With ``"fv"`` in ``cfg.methods``, the task's
    :class:`~tvlens.FunctionVector` is put in ``vectors["function_vector"]`` if given.
    """
    runner = Runner.bind(model, run or cfg.run, cfg.prompt_format)
    t0 = time.perf_counter()
    task = load_task(task_ref, cfg.on_conflict)
    record = _task_counts(task)
    try:
        dev, test, base = _sample_sets(task, model, cfg, record)
    except ValueError as err:
        warnings.warn(f"skipping task {task.name}: {err}", stacklevel=2)
        return {"status": "skipped", "reason": str(err), **record}
    times = {"filter_and_sample": time.perf_counter() - t0}
    timed = _phase_timer(times, on_phase or (lambda _: None))
    if cfg.answers == "any":  # the dummy queries' answers from the task (tv_multi, tv_learned)
        generated = run_generated(runner, (dev, test, base), cfg, timed, vectors, dict(task.pairs))
        return {"status": "ok", **record, **generated, "wall_time_s": time.perf_counter() - t0,
                "phase_times_s": times}  # fmt: skip
    sweep = timed("layer_sweep", lambda: sweep_on(runner, Method.hypothesis(), dev, NextToken()))
    # Regular's pass also reads θ(S) where the Runner packs (S shared; "regular" is timed)
    reg, thetas = timed("regular", lambda: regular_and_thetas_on(runner, test, [sweep.best_layer]))
    hyp = timed(
        "hypothesis",
        lambda: run_method_on(
            runner, Method.hypothesis(thetas), test, NextToken(), layer=sweep.best_layer
        ),
    )
    bas = timed("baseline", lambda: run_method_on(runner, Method.baseline(), base, NextToken()))
    out = {
        "status": "ok",
        **record,
        "dev_accuracy_per_layer": list(sweep.accuracy),
        "best_layer": sweep.best_layer,
        "accuracy": {"baseline": bas.accuracy, "hypothesis": hyp.accuracy, "regular": reg.accuracy},
        "wall_time_s": time.perf_counter() - t0,
        "phase_times_s": times,
        "test_examples": _test_records(reg, hyp),
        "baseline_examples": _baseline_records(bas),
    }
    if "fv" in cfg.methods:
        out = _with_function_vectors(out, runner, (dev, test), (reg, hyp, sweep.best_layer),
                                     cfg, timed, vectors)  # fmt: skip
        out["wall_time_s"] = time.perf_counter() - t0
    return out


def _with_function_vectors(
    out: dict[str, Any],
    runner: Runner,
    sets: tuple[list[ICLExample], list[ICLExample]],
    tv: tuple[ModeResult, ModeResult, int],
    cfg: ProtocolConfig,
    timed: Callable[[str, Callable[[], Any]], Any],
    vectors: dict[str, Any] | None,
) -> dict[str, Any]:
    """``out`` with the ``--methods fv`` results on ``(dev, test)`` beside the task vector's
    ``(regular, hypothesis, layer)``; the function vector put in ``vectors`` if given."""
    (dev, test), (reg, hyp, layer) = sets, tv
    fv = timed(
        "function_vectors",
        lambda: run_function_vectors(
            runner, dev, test, regular=reg, hypothesis=hyp, tv_layer=layer, seed=cfg.seed,
            aie=cfg.aie,
        ),
    )  # fmt: skip
    out = add_function_vectors(out, fv)
    if vectors is not None:
        vectors["function_vector"] = fv.function_vector
    return out


def _task_counts(task: Any) -> dict[str, Any]:
    """A task record's counts before filtering: every pair dropped until some are kept."""
    return {
        "category": task.category,
        "n_pairs": len(task),
        "n_kept": 0,
        "n_dropped": len(task),
        "n_conflicts_dropped": int(getattr(task, "n_conflicts_dropped", 0)),
        "n_stripped": int(getattr(task, "n_stripped", 0)),
    }


def _sample_sets(
    task: Any, model: HookedModel, cfg: ProtocolConfig, record: dict[str, Any]
) -> tuple[list[ICLExample], list[ICLExample], list[ICLExample]]:
    """The task's ``(dev, test, baseline)`` examples; ``record``'s kept/dropped counts set.

    Raises:
        ValueError: too few pairs the model can answer (the task is skipped).
    """
    from tvlens.tasks import for_model

    # Single-token answers for next-token scoring (the paper); with answers="any", every
    # answer the generation can produce within max_new_tokens.
    max_tokens = cfg.max_new_tokens if cfg.answers == "any" else 1
    kept = for_model(task, model, cfg.prompt_format, max_tokens=max_tokens)
    record.update(n_kept=kept.n_kept, n_dropped=kept.n_dropped)
    # Dev and test queries are disjoint; a task with fewer than n_dev + n_test pairs
    # (the 25 letters of next_letter) splits its queries in proportion and repeats them.
    dev, test = kept.dev_test(
        cfg.n_dev, cfg.n_test, n_demos=cfg.n_demos, n_dummy=cfg.n_dummy, seed=cfg.seed
    )
    base = kept.sample(cfg.n_baseline, n_demos=1, n_dummy=1, seed=cfg.seed + 2)
    return dev, test, base


def _phase_timer(
    times: dict[str, float], phase: Callable[[str], None]
) -> Callable[[str, Callable[[], Any]], Any]:
    """``timed(name, fn)``: announce phase ``name``, run ``fn``, put its seconds in ``times``."""

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        phase(name)
        start = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - start
        return out

    return timed


def _baseline_records(bas: ModeResult) -> list[dict[str, Any]]:
    return [
        {
            "query": p.query,
            "answer": p.answer,
            "answer_token_id": p.answer_token_id,
            "baseline": p.to_record(),
        }
        for p in bas.predictions
    ]


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
                "regular": r.to_record(),
                "hypothesis": h.to_record(),
            }
        )
    return out


def model_meta(model: HookedModel) -> dict[str, Any]:
    """The model and library fingerprint a run or a study records: name, versions, class,
    dtype, tokenizer and weights (a folder resumes only with the same model)."""
    import torch

    return {
        "model": model_name(model),
        "tvlens_version": __version__,
        "transformer_lens_version": transformer_lens_version(),
        "torch_version": torch.__version__,
        "model_class": type(model).__name__,
        "dtype": str(model_dtype(model)).removeprefix("torch."),
        "tokenizer": tokenizer_fingerprint(model),
        "weights_sha256": weights_sha256(model),
    }


def run_meta(model: HookedModel, cfg: ProtocolConfig) -> dict[str, Any]:
    """``results.json``'s ``meta`` (without ``wall_time_s``): versions and every setting."""
    return {**model_meta(model), **protocol_meta(cfg)}


def run_protocol(
    model: HookedModel,
    cfg: ProtocolConfig,
    out: str | Path,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every task of ``cfg`` and write ``results.json``, ``summary.md``, ``report.html``.

    Locks ``out`` (``out/.tvlens.lock``), checks it once (:func:`~tvlens.run.plan.preflight`)
    and runs the plan (:func:`execute`). With ``"fv"`` in ``cfg.methods``, each task's
    function vector is written too, as ``<task>.fv.safetensors`` + ``<task>.fv.json``
    (``FunctionVector.load(out / "<task>.fv")``).

    ``results.json`` and ``summary.md`` are rewritten after each task (atomically, merging
    the finished tasks already on disk), so an interrupted run started again with the same
    ``out`` resumes from the tasks already written. A run whose tasks are all skipped still
    writes the three files, saying so (its accuracies are ``null``).

    A run resumes only with the model it started with: ``meta.weights_sha256``
    (:func:`~tvlens.run.fingerprint.weights_sha256`) must match, beside the name, class and
    tokenizer. A ``results.json`` of an older tvlens, without it, resumes and records it.
    How the Runner executes (``cfg.run``: batch sizes, packing) changes no result: a run
    resumes with other such settings.

    Raises:
        ValueError: if ``out`` is not a writable folder, is locked by another run, holds
            files tvlens did not write, a folder of another kind, or a run with other
            settings or weights (each named), or if a task's pair holds a special token
            of the model's tokenizer (before any task runs).
    """
    out = prepare_out(out)
    with run_lock(out):
        return execute(model, preflight(cfg, out), progress=progress)


def _check_locked(out: Path) -> None:
    try:
        holder = json.loads((out / LOCK_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        holder = None
    if not isinstance(holder, dict) or holder.get("pid") != os.getpid():
        raise ValueError(
            f"{out} is not locked by this process: hold tvlens.run.lock.run_lock({str(out)!r}) "
            "from preflight to the end of execute, or call run_protocol"
        )


def _check_with_model(model: HookedModel, plan: RunPlan, meta: dict[str, Any]) -> None:
    """The checks of :func:`execute` that need the model: ``meta`` (its class, tokenizer
    and weights) against a run already in ``plan.out``, every task's pairs against its
    tokenizer's special tokens (before any task runs)."""
    prev_meta = plan.previous.meta if plan.previous is not None else {}
    if plan.previous is not None and (diff := settings_diff(with_defaults(prev_meta), meta)):
        raise refuse_settings(plan.out / RESULTS_FILE, diff)
    specials = special_pattern(getattr(model, "tokenizer", None))
    for ref, task in plan.tasks:
        check_task_data(ref, task, plan.cfg.prompt_format, specials)


def execute(model: HookedModel, plan: RunPlan, *, progress: bool = True) -> dict[str, Any]:
    """Run ``plan`` (from :func:`~tvlens.run.plan.preflight`) on ``model``; as
    :func:`run_protocol`, whose lock on ``plan.out`` the caller holds.

    Checks what needs the model first: its class, tokenizer and weights against a run
    already in ``plan.out``, and every task's pairs against its special tokens.

    Raises:
        ValueError: if ``plan.out`` is not locked by this process, holds a run of another
            model, or a task's pair holds a special token of the model's tokenizer.
    """
    from tqdm.auto import tqdm

    cfg, out = plan.cfg, plan.out
    _check_locked(out)
    meta = run_meta(model, cfg)
    prev_meta = plan.previous.meta if plan.previous is not None else {}
    _check_with_model(model, plan, meta)
    tasks: dict[str, TaskRecord] = dict(plan.previous.tasks) if plan.previous is not None else {}
    wall0 = float(prev_meta.get("wall_time_s") or 0.0)
    keys = plan.keys
    start = time.perf_counter()

    def save(final: bool) -> dict[str, Any]:
        keep = not merge_from_disk(out, meta, tasks, plan.sources, with_defaults)
        order = [*keys, *(k for k in tasks if k not in keys)]
        wall = {"wall_time_s": wall0 + time.perf_counter() - start}
        record = Results.of({**meta, **wall}, {k: tasks[k] for k in order if k in tasks})
        return write_run(out, record, beside=keep, report=final)

    def done(key: str) -> bool:
        return key in tasks and tasks[key].finished

    todo = [r for r, _ in plan.tasks if not done(task_key(r))]
    runner = Runner(model, cfg.run, fmt=cfg.prompt_format)  # one for every task
    bar = tqdm(todo, desc="tasks", unit="task", disable=not progress)
    for ref in bar:
        key = task_key(ref)
        if done(key):  # finished meanwhile by a run that wrote results.json
            continue
        bar.set_description(key)

        def on_phase(phase: str, key: str = key) -> None:
            bar.set_description(f"{key}: {phase}")

        vectors: dict[str, Any] = {}
        record = run_task(model, ref, cfg, on_phase=on_phase, run=runner, vectors=vectors)
        if "function_vector" in vectors:  # before results.json says the task is done
            record["fv"]["file"] = write_function_vector(out, key, vectors["function_vector"])
        tasks[key] = TaskRecord.from_json(key, {**record, "source": plan.sources[key]}, fix=BUG_FIX)
        save(final=False)
    return save(final=True)
