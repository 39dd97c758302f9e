"""The paper's main experiment: layer sweep on dev, then Regular / Hypothesis / Baseline.

``run_protocol`` writes ``results.json``, ``summary.md`` and ``report.html`` to an output
folder and resumes from the tasks already written there.
"""

from __future__ import annotations

import numbers
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from tvlens._compat import model_name, transformer_lens_version
from tvlens._version import __version__
from tvlens.engine.batching import model_dtype
from tvlens.engine.config import RunConfig
from tvlens.engine.runner import Runner
from tvlens.evaluation.modes import baseline, hypothesis, regular
from tvlens.evaluation.results import ModeResult
from tvlens.evaluation.sweep import layer_sweep
from tvlens.prompts import FORMATS, PromptFormat, get_format
from tvlens.protocol import HookedModel
from tvlens.run.answers import ANSWERS, run_generated
from tvlens.run.files import (
    check_folder_kind,
    check_outputs_ours,
    dumps_strict,
    prepare_out,
    run_lock,
    write_output,
)
from tvlens.run.fingerprint import weights_sha256
from tvlens.run.methods import (
    FV_SETTINGS,
    add_function_vectors,
    check_methods,
    run_function_vectors,
    write_function_vector,
)
from tvlens.run.resume import (
    merge_from_disk,
    read_results,
    refuse_settings,
    settings_diff,
    tokenizer_fingerprint,
)
from tvlens.run.statistics import SCHEMA_VERSION, with_statistics
from tvlens.run.tasks import (
    ON_CONFLICT,
    check_task_data,
    check_task_keys,
    load_task,
    source_mismatch,
    special_pattern,
    task_key,
    task_source,
)

_INT_FIELDS = (
    "n_demos",
    "n_dummy",
    "n_dev",
    "n_test",
    "n_baseline",
    "seed",
    "batch_size",
    "max_new_tokens",
)


@dataclass
class ProtocolConfig:
    """The paper's protocol; the defaults are the paper's settings (and the CLI's).

    Args:
        tasks: a list or tuple of registered task names, task files (``str`` or path), or
            :class:`~tvlens.tasks.Task` objects; empty means the paper's 18 tasks. Each
            is stored under its name (a file's stem), which must be unique.
        on_conflict: what a task file with conflicting duplicate inputs does:
            ``"error"``, ``"first"`` (keep the first output) or ``"drop"`` (drop the input).
        answers: ``"single"`` (the paper: single-token answers, next-token scoring) or
            ``"any"`` (answers of up to ``max_new_tokens`` tokens, generated and scored by
            exact match; :mod:`tvlens.run.answers`).
        max_new_tokens: the most tokens generated per answer with ``answers="any"``.
        methods: ``["tv"]`` (the paper) or ``["tv", "fv"]``: function vectors and two
            baselines beside task vectors on the same test examples
            (:mod:`tvlens.run.methods`).

    Raises:
        TypeError: on ``tasks`` that is not a list or tuple (a plain ``"to_upper"`` is
            refused), or a size that is not an ``int``.
        ValueError: on a size below 1, an unknown format or ``on_conflict``, ``"fv"`` with
            fewer than 2 demonstrations, two tasks stored under one name, or a task file
            named like a registered task.
    """

    tasks: Sequence[Any] = ()
    n_demos: int = 5
    n_dummy: int = 2
    n_dev: int = 50
    n_test: int = 50
    n_baseline: int = 100
    seed: int = 0
    format: str = "arrow"
    batch_size: int = 16
    on_conflict: str = "error"
    answers: str = "single"
    max_new_tokens: int = 8
    methods: Sequence[str] = field(default_factory=lambda: ["tv"])

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field (run again by :func:`run_protocol`, as fields are mutable)."""
        from tvlens.tasks import PAPER_TASKS, Task

        if not isinstance(self.tasks, (list, tuple)):
            hint = f"; did you mean tasks=[{self.tasks!r}]?" if isinstance(self.tasks, str) else ""
            raise TypeError(
                f"tasks must be a list or tuple of task names or files, "
                f"got {type(self.tasks).__name__} {self.tasks!r}{hint}"
            )
        for ref in self.tasks:
            if not isinstance(ref, (str, os.PathLike, Task)):
                raise TypeError(f"a task must be a name, a file path or a Task, got {ref!r}")
        self.tasks = list(self.tasks) if self.tasks else list(PAPER_TASKS)
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
            setattr(self, name, int(value))
            if name != "seed" and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not isinstance(self.format, str) or self.format not in FORMATS:
            raise ValueError(
                f"unknown prompt format {self.format!r}; choose one of {sorted(FORMATS)}"
            )
        if self.answers not in ANSWERS:
            raise ValueError(
                f"answers must be 'single' (one-token answers, next-token scoring: the "
                f"paper) or 'any' (generation, exact match), got {self.answers!r}"
            )
        if self.on_conflict not in ON_CONFLICT:
            raise ValueError(f"on_conflict must be one of {ON_CONFLICT}, got {self.on_conflict!r}")
        self.methods = check_methods(self.methods, self.answers)
        if "fv" in self.methods and self.n_demos < 2:
            raise ValueError(
                f"methods 'fv' (function vectors) corrupt each prompt by shuffling its "
                f"demonstrations' labels, which needs at least 2 demonstrations, got "
                f"n_demos={self.n_demos}: pass --n-demos 2 or more (n_demos=2), or drop fv "
                "from --methods"
            )
        check_task_keys(self.tasks)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The default of every field but ``tasks`` (the CLI's defaults)."""
        return {
            f.name: f.default_factory() if f.default_factory is not MISSING else f.default
            for f in fields(cls)
            if f.name != "tasks"
        }

    @property
    def prompt_format(self) -> PromptFormat:
        """The :class:`PromptFormat` named by ``format``."""
        return get_format(self.format)

    def comparable(self) -> dict[str, Any]:
        """The settings a resumed run must share with the run it resumes."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("tasks", "batch_size")
        }


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
    made from ``cfg.batch_size`` if ``None``). With ``"fv"`` in ``cfg.methods``, the task's
    :class:`~tvlens.FunctionVector` is put in ``vectors["function_vector"]`` if given.
    """
    runner = Runner.bind(model, run or RunConfig(batch_size=cfg.batch_size))
    from tvlens.tasks import for_model

    fmt = cfg.prompt_format
    phase = on_phase or (lambda _: None)
    t0 = time.perf_counter()
    task = load_task(task_ref, cfg.on_conflict)
    record: dict[str, Any] = {
        "category": task.category,
        "n_pairs": len(task),
        "n_kept": 0,
        "n_dropped": len(task),
        "n_conflicts_dropped": int(getattr(task, "n_conflicts_dropped", 0)),
        "n_stripped": int(getattr(task, "n_stripped", 0)),
    }
    # Single-token answers for next-token scoring (the paper); with answers="any", every
    # answer the generation can produce within max_new_tokens.
    max_tokens = cfg.max_new_tokens if cfg.answers == "any" else 1
    try:
        kept = for_model(task, model, fmt, max_tokens=max_tokens)
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
    opts: dict[str, Any] = {"fmt": fmt, "run": runner}
    times = {"filter_and_sample": time.perf_counter() - t0}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        phase(name)
        start = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - start
        return out

    if cfg.answers == "any":
        generated = run_generated(model, (dev, test, base), cfg, runner, timed)
        return {
            "status": "ok",
            **record,
            **generated,
            "wall_time_s": time.perf_counter() - t0,
            "phase_times_s": times,
        }
    sweep = timed("layer_sweep", lambda: layer_sweep(model, dev, **opts))
    reg = timed("regular", lambda: regular(model, test, **opts))
    hyp = timed("hypothesis", lambda: hypothesis(model, test, sweep.best_layer, **opts))
    bas = timed("baseline", lambda: baseline(model, base, **opts))
    out = {
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
                "baseline": p.to_record(),
            }
            for p in bas.predictions
        ],
    }
    if "fv" in cfg.methods:
        fv = timed(
            "function_vectors",
            lambda: run_function_vectors(
                model,
                dev,
                test,
                regular=reg,
                hypothesis=hyp,
                tv_layer=sweep.best_layer,
                seed=cfg.seed,
                runner=runner,
                fmt=fmt,
            ),
        )
        out = add_function_vectors(out, fv)
        if vectors is not None:
            vectors["function_vector"] = fv.function_vector
        out["wall_time_s"] = time.perf_counter() - t0
    return out


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


def protocol_meta(cfg: ProtocolConfig) -> dict[str, Any]:
    """The protocol settings as ``results.json``'s ``meta`` records them."""
    meta = {
        "format": cfg.prompt_format.to_dict(),
        **{k: v for k, v in cfg.comparable().items() if k != "format"},
    }
    if "fv" in cfg.methods:
        meta["fv"] = dict(FV_SETTINGS)
    return meta


def with_defaults(meta: dict[str, Any]) -> dict[str, Any]:
    """A results.json ``meta`` written before a setting existed, with that setting's default.

    So a run of an older tvlens (no ``methods``, ``answers``, ...) resumes under the
    defaults it ran with, instead of being refused for settings it never had.
    """
    defaults = ProtocolConfig.defaults()
    return {**{k: v for k, v in defaults.items() if k != "format"}, **meta}


def run_meta(model: HookedModel, cfg: ProtocolConfig) -> dict[str, Any]:
    """``results.json``'s ``meta`` (without ``wall_time_s``): versions and every setting."""
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
        **protocol_meta(cfg),
    }


@dataclass
class RunPlan:
    """What :func:`preflight` found: each task's source and the results already in ``out``,
    and each task reference with its task (checked again once the tokenizer is known)."""

    out: Path
    sources: dict[str, dict[str, Any]]
    previous: dict[str, Any] | None
    tasks: list[tuple[Any, Any]] = field(default_factory=list)


def preflight(cfg: ProtocolConfig, out: str | Path) -> RunPlan:
    """Every check that needs no model, so a doomed run fails before a model loads.

    Checks the settings, the task names (unique) and data (every pair, against the prompt
    format: :func:`~tvlens.run.tasks.check_task_data`), that ``out`` is a writable
    folder holding no output files tvlens did not write and no folder of another kind (a
    comparison, a grid, a ``--seeds`` run), and that a run already there has
    the same protocol settings and the same data for the tasks it finished.

    Raises:
        TypeError, ValueError: naming what is wrong and the fix.
    """
    cfg.validate()
    out = prepare_out(out)
    check_folder_kind(out, "run")  # not a comparison's, a grid's or a --seeds folder
    check_outputs_ours(out)
    loaded = [(r, load_task(r, cfg.on_conflict)) for r in cfg.tasks]
    for ref, task in loaded:  # every pair, not only those a seed samples
        check_task_data(ref, task, cfg.prompt_format)
    sources = {task_key(r): task_source(r, task) for r, task in loaded}
    path = out / "results.json"
    previous = read_results(path)
    if previous is not None:
        diff = settings_diff(with_defaults(previous["meta"]), protocol_meta(cfg))
        if diff:
            raise refuse_settings(path, diff)
        changed = [
            why
            for key, t in previous.get("tasks", {}).items()
            if key in sources and t.get("status") == "ok"
            if (why := source_mismatch(key, t.get("source"), sources[key]))
        ]
        if changed:
            raise ValueError(
                f"{path} holds results for other data under these task names: "
                f"{'; '.join(changed)}. Pass another --out, or rename the task file"
            )
    return RunPlan(out=out, sources=sources, previous=previous, tasks=loaded)


def run_protocol(
    model: HookedModel,
    cfg: ProtocolConfig,
    out: str | Path,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every task of ``cfg`` and write ``results.json``, ``summary.md``, ``report.html``.

    With ``"fv"`` in ``cfg.methods``, each task's function vector is written too, as
    ``<task>.fv.safetensors`` + ``<task>.fv.json`` (``FunctionVector.load(out / "<task>.fv")``).

    The folder is locked for the run (``out/.tvlens.lock``). ``results.json`` and
    ``summary.md`` are rewritten after each task (atomically, merging the finished tasks
    already on disk), so an interrupted run started again with the same ``out`` resumes
    from the tasks already written. A run whose tasks are all skipped still writes the
    three files, saying so (its accuracies are ``null``).

    A run resumes only with the model it started with: ``meta.weights_sha256``
    (:func:`~tvlens.run.fingerprint.weights_sha256`) must match, beside the name, class and
    tokenizer. A ``results.json`` of an older tvlens, without it, resumes and records it.

    Raises:
        ValueError: if ``out`` is not a writable folder, is locked by another run, holds
            files tvlens did not write, a folder of another kind, or a run with other
            settings or weights (each named), or if a task's pair holds a special token
            of the model's tokenizer (before any task runs).
    """
    from tqdm.auto import tqdm

    from tvlens.report.summary import report_html_writer, summarize, summary_markdown
    from tvlens.run.files import json_safe

    cfg.validate()
    out = prepare_out(out)
    with run_lock(out):
        plan = preflight(cfg, out)
        meta = run_meta(model, cfg)
        prev = plan.previous or {"meta": {}, "tasks": {}}
        if plan.previous is not None and (diff := settings_diff(with_defaults(prev["meta"]), meta)):
            raise refuse_settings(out / "results.json", diff)
        specials = special_pattern(getattr(model, "tokenizer", None))
        for ref, task in plan.tasks:  # the tokenizer's special tokens, before any task runs
            check_task_data(ref, task, cfg.prompt_format, specials)
        tasks: dict[str, Any] = dict(prev.get("tasks", {}))
        wall0 = float(prev["meta"].get("wall_time_s") or 0.0)
        keys = [task_key(r) for r in cfg.tasks]
        start = time.perf_counter()

        def save(final: bool) -> dict[str, Any]:
            keep = not merge_from_disk(out, meta, tasks, plan.sources, with_defaults)
            order = [*keys, *(k for k in tasks if k not in keys)]
            # counts, Wilson intervals and paired tests per task, from its per-example records
            ordered = with_statistics({k: tasks[k] for k in order if k in tasks})
            results: dict[str, Any] = json_safe(
                {
                    "schema_version": SCHEMA_VERSION,
                    "meta": {**meta, "wall_time_s": wall0 + time.perf_counter() - start},
                    "tasks": ordered,
                    "summary": summarize(ordered),
                }
            )
            write_output(out, "results.json", dumps_strict(results), beside=keep)
            write_output(out, "summary.md", summary_markdown(results), beside=keep)
            if final:
                write_output(out, "report.html", report_html_writer(results), beside=keep)
            return results

        def done(key: str) -> bool:
            return bool(tasks.get(key, {}).get("status") == "ok")

        todo = [r for r in cfg.tasks if not done(task_key(r))]
        runner = Runner(model, RunConfig(batch_size=cfg.batch_size))  # one for every task
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
            tasks[key] = {**record, "source": plan.sources[key]}
            save(final=False)
        return save(final=True)
