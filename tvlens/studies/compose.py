"""Do task vectors compose? A composite task ``x -> B(A(x))`` (:mod:`tvlens.studies.composites`)
against its parts, on the composite's own test examples (zero-shot prompts, scored on the
composite's answer):

* ``regular`` (ICL on the composite), ``baseline`` (no demonstrations, no patch);
* ``tv_composite``: θ read from the composite's own demonstrations (the paper's Hypothesis);
* ``tv_a``, ``tv_b``: each part's task-level θ (the mean over its dev examples) alone, at the
  part's own layer (chosen on the part's dev examples);
* ``tv_sum`` and ``tv_mean``: θ_A + θ_B, and their mean, replacing the residual at one layer
  (chosen on the composite's dev examples);
* ``tv_then``: θ_A replacing the residual at A's layer, then θ_B *added* at the best later
  layer of B's dev sweep (replacing there would erase θ_A: the arrow's residual would be θ_B
  alone);
* with ``"fv"``: ``fv_sum``, FV_A + FV_B added at one layer (chosen on the composite's dev).

Each method's accuracy has a Wilson interval and a paired (McNemar) test against
``tv_composite``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from tvlens._compat import RESID_POST_TEMPLATE
from tvlens.engine.patches import Patches
from tvlens.engine.runner import Runner
from tvlens.evaluation.extract import thetas_on
from tvlens.evaluation.methods import Method
from tvlens.evaluation.scorers import NextToken
from tvlens.evaluation.stats import mcnemar_exact, wilson_interval
from tvlens.evaluation.sweep import run_method_on, sweep_on
from tvlens.prompts import PromptFormat, get_format, require_format, zero_shot_prompts
from tvlens.protocol import HookedModel, HookPair
from tvlens.run.protocol import model_meta
from tvlens.studies.common import (
    FV_K,
    StudySettings,
    TooFewPairsError,
    shared_examples,
    study_function_vector,
)
from tvlens.studies.composites import COMPOSITES, check_composites, composite_task, part_task
from tvlens.studies.folder import Study, TaskOutput, run_in_memory, run_study

COMPOSE_METHODS = ("tv", "fv")


@dataclass(frozen=True)
class _Both:
    """Two patches on every prompt (each hook list in turn)."""

    first: Patches
    second: Patches

    def __len__(self) -> int:
        return len(self.first)

    def hooks(self, idx: Sequence[int], positions: Tensor, n_layers: int) -> list[HookPair]:
        return [
            *self.first.hooks(idx, positions, n_layers),
            *self.second.hooks(idx, positions, n_layers),
        ]


@dataclass(frozen=True)
class ThenMethod:
    """``first[L]`` replacing the residual at the swept layer L, then ``second`` added at
    ``layer2`` (a :class:`~tvlens.evaluation.methods.MethodLike`)."""

    name: str
    first: Tensor  # [n_layers, d_model]
    second: Tensor  # [d_model]
    layer2: int

    def prompts(self, examples: Sequence[Any], fmt: PromptFormat) -> list[str]:
        return zero_shot_prompts(examples, fmt)

    def patches(self, runner: Runner, examples: Sequence[Any], layers: Sequence[int]) -> _Both:
        n, k = len(examples), len(layers)
        at = torch.tensor(list(layers), dtype=torch.long).repeat(n)
        first = Patches(self.first[list(layers)].repeat(n, 1), at, "replace", RESID_POST_TEMPLATE)
        second = Patches.at_layer(self.second.expand(n * k, -1), self.layer2, "add")
        return _Both(first, second)


def _scored(result: Any) -> dict[str, Any]:
    hits = [bool(p.correct) for p in result.predictions]
    lo, hi = wilson_interval(sum(hits), len(hits))
    ids = [int(p.predicted_token_id) for p in result.predictions]
    return {"accuracy": sum(hits) / len(hits), "ci": [lo, hi], "correct": hits, "predicted": ids}


def _part(runner: Runner, model: HookedModel, name: str, settings: StudySettings) -> Any:
    ex = shared_examples(model, part_task(name), [runner.fmt], settings)
    sweep = sweep_on(runner, Method.hypothesis(), ex.dev, NextToken())
    theta = thetas_on(runner, ex.dev).mean(0)  # the task-level θ, every layer
    return ex, sweep, theta


def _best(runner: Runner, method: Any, dev: Sequence[Any]) -> int:
    """The layer where ``method`` does best on the composite's dev examples."""
    return int(sweep_on(runner, method, dev, NextToken()).best_layer)


def _later(sw_a: Any, sw_b: Any) -> int | None:
    """B's best dev layer after A's (``None`` if A's is the last)."""
    la, n = int(sw_a.best_layer), len(sw_b.accuracy)
    later = range(la + 1, n)
    return max(later, key=lambda j: (sw_b.accuracy[j], -j)) if later else None


def _plan(
    runner: Runner, dev: Sequence[Any], thetas: tuple[Tensor, Tensor], sweeps: tuple[Any, Any]
) -> dict[str, tuple[Any, int | None]]:
    """Each θ method with the layer it runs at (see the module docstring)."""
    (th_a, th_b), (sw_a, sw_b) = thetas, sweeps
    la, lb, lb2 = int(sw_a.best_layer), int(sw_b.best_layer), _later(sw_a, sw_b)
    plan: dict[str, tuple[Any, int | None]] = {
        "regular": (Method.regular(), None),
        "baseline": (Method.baseline(), None),
        "tv_composite": (Method.hypothesis(), _best(runner, Method.hypothesis(), dev)),
        "tv_a": (Method("tv_a", "zero_shot", "vector", th_a), la),
        "tv_b": (Method("tv_b", "zero_shot", "vector", th_b), lb),
    }
    for key, vec in (("tv_sum", th_a + th_b), ("tv_mean", (th_a + th_b) / 2)):
        m = Method(key, "zero_shot", "vector", vec)
        plan[key] = (m, _best(runner, m, dev))
    if lb2 is not None:
        plan["tv_then"] = (ThenMethod("tv_then", th_a, th_b[lb2], lb2), la)
    return plan


def compose_task(
    model: HookedModel,
    name: str,
    settings: StudySettings | None = None,
    fmt: str | PromptFormat = "arrow",
    *,
    methods: Sequence[str] = ("tv",),
    aie: str = "attribution+verify",
) -> dict[str, Any]:
    """One composite's record: each method's accuracy, interval, predictions and paired test
    against ``tv_composite``, and the layers used (see the module docstring)."""
    settings = settings or StudySettings()
    f = get_format(fmt) if isinstance(fmt, str) else require_format(fmt)
    check_composites([name])
    runner = Runner(model, settings.run, fmt=f)
    a_name, b_name = COMPOSITES[name]
    try:
        ex = shared_examples(model, composite_task(name), [f], settings)
        (ex_a, sw_a, th_a), (ex_b, sw_b, th_b) = (
            _part(runner, model, p, settings) for p in (a_name, b_name)
        )
    except TooFewPairsError as err:
        return {"status": "skipped", "reason": str(err), "parts": [a_name, b_name]}
    dev, test = ex.dev, ex.test

    plan = _plan(runner, dev, (th_a, th_b), (sw_a, sw_b))
    if "fv" in methods:
        fv = sum(
            study_function_vector(runner, e.dev, settings.seed, aie).vector for e in (ex_a, ex_b)
        )
        m = Method.add(fv, "fv_sum")
        plan["fv_sum"] = (m, _best(runner, m, dev))
    scored = {k: _scored(run_method_on(runner, m, test, NextToken(), layer=la_))
              for k, (m, la_) in plan.items()}  # fmt: skip
    own = scored["tv_composite"]["correct"]
    for k, s in scored.items():
        if k != "tv_composite":
            t = mcnemar_exact(s["correct"], own)
            s["vs_tv_composite"] = {"difference": t.difference, "p": t.p}
    return {
        "status": "ok", "category": "composite", "parts": [a_name, b_name],
        "n_pairs": ex.n_pairs, "n_kept": ex.n_kept,
        "layers": {k: la_ for k, (_, la_) in plan.items()} | {"tv_then_second": _later(sw_a, sw_b)},
        "part_dev_accuracy": {a_name: float(sw_a.best_accuracy), b_name: float(sw_b.best_accuracy)},
        "methods": scored,
        "queries": [e.query for e in test], "answers": [e.answer for e in test],
    }  # fmt: skip


def compose_study(
    model: HookedModel,
    settings: StudySettings | None = None,
    fmt: str | PromptFormat = "arrow",
    *,
    methods: Sequence[str] = ("tv",),
    aie: str = "attribution+verify",
) -> Study:
    """The composition study as a :class:`~tvlens.studies.folder.Study` (tasks: composites)."""
    from tvlens.studies.compose_report import compose_averages, compose_figures, compose_summary

    settings = settings or StudySettings(tasks=tuple(COMPOSITES))
    f = get_format(fmt) if isinstance(fmt, str) else require_format(fmt)
    bad = [m for m in methods if m not in COMPOSE_METHODS]
    if bad or "tv" not in methods:
        raise ValueError(f"methods {list(methods)}: from {list(COMPOSE_METHODS)}, 'tv' included")
    check_composites(settings.tasks)
    meta = {**model_meta(model), **settings.comparable(), "format": f.to_dict(),
            "methods": list(methods), "execution": settings.execution(),
            **({"fv": {"k": FV_K, "aie": aie}} if "fv" in methods else {})}  # fmt: skip

    def compute(task: str) -> TaskOutput:
        return compose_task(model, task, settings, f, methods=methods, aie=aie), ()

    def finish(tasks: dict[str, Any], _: Any) -> dict[str, Any]:
        return {"summary": compose_averages({"tasks": tasks})}

    keys = list(settings.tasks)
    return Study("compose", meta, keys, compute, compose_summary, compose_figures, finish)


def compose(
    model: HookedModel,
    tasks: Sequence[str] = (),
    fmt: str | PromptFormat = "arrow",
    *,
    out: str | None = None,
    methods: Sequence[str] = ("tv",),
    progress: bool = False,
    **sizes: Any,
) -> dict[str, Any]:
    """The composition study on ``tasks`` (composite names; default: all of
    :data:`~tvlens.studies.composites.COMPOSITES`), in memory or written to ``out``
    (``compose.json``, ``summary.md``, ``report.html``; locked and resumable)."""
    settings = StudySettings(tasks=tuple(tasks) or tuple(COMPOSITES), **sizes)
    study = compose_study(model, settings, fmt, methods=methods)
    if out is not None:
        return run_study(study, out, progress=progress)
    return run_in_memory(study)
