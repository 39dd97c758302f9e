"""Transfer across prompt formats: θ (and the FV) extracted under format A, patched into
zero-shot runs under format B, for every (A, B).

For each task, the same dev and test examples run under every format
(:func:`~tvlens.studies.common.shared_examples`). Under each source format A the layer L_A
is chosen on dev (the paper's sweep, in A), and each test example's θ(S) is read at L_A
from A's prompts; it is then patched at L_A into the example's zero-shot prompt in every
target format B, at B's own arrow. The diagonal (A, A) is exactly ``tvlens run --format
A``'s Hypothesis on the same examples. With ``"fv"`` in ``methods`` the function vector is
built under A too (mean head activations and the AIE on A's dev prompts, the top
``fv_k`` heads, its layer chosen on dev in A) and added at B's arrow.

Regular (ICL under A) and Baseline (zero-shot under B, no patch) are recorded per format.

Example:
    >>> doc = transfer_matrix(model, ["en_fr", "to_upper"], ["arrow", "qa"])  # doctest: +SKIP
    >>> doc["tasks"]["en_fr"]["accuracy"]["tv"]["qa"]["arrow"]  # θ from qa, run in arrow
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from tvlens._compat import RESID_POST_TEMPLATE
from tvlens._example import ICLExample
from tvlens.engine.patches import Patches
from tvlens.engine.runner import Runner
from tvlens.evaluation.extract import thetas_on
from tvlens.evaluation.methods import Method
from tvlens.evaluation.scorers import NextToken
from tvlens.evaluation.sweep import run_method_on, sweep_on
from tvlens.hooks import PatchMode
from tvlens.prompts import PromptFormat, zero_shot_prompts
from tvlens.protocol import HookedModel
from tvlens.run.protocol import model_meta
from tvlens.studies.common import (
    FV_K,
    StudySettings,
    TooFewPairsError,
    check_formats,
    shared_examples,
    study_function_vector,
)
from tvlens.studies.folder import Study, TaskOutput, run_in_memory, run_study

#: The methods a transfer study can carry across formats.
TRANSFER_METHODS = ("tv", "fv")


@dataclass(frozen=True, eq=False)
class FromSources:
    """Zero-shot prompts patched with one vector per source format, all in one sweep.

    A :class:`~tvlens.evaluation.methods.MethodLike` for :func:`sweep_on` over ``layers`` =
    each source's layer, in the order of ``vectors``: row ``(i, j)`` carries source ``j``'s
    vector for example ``i`` at ``layers[j]``, so every source is scored on the target's
    prompts in a few passes (packed where the Runner packs: one row per example).

    Attributes:
        name: the name its predictions carry.
        vectors: per source, ``[n_examples, d_model]`` (θ per example) or ``[d_model]``.
        mode: ``"replace"`` (θ) or ``"add"`` (a function vector).
    """

    name: str
    vectors: tuple[Tensor, ...]
    mode: PatchMode = "replace"

    def prompts(self, examples: Sequence[ICLExample], fmt: PromptFormat) -> list[str]:
        return zero_shot_prompts(examples, fmt)

    def patches(
        self, runner: Runner, examples: Sequence[ICLExample], layers: Sequence[int]
    ) -> Patches:
        n, k = len(examples), len(layers)
        if k != len(self.vectors):
            raise ValueError(f"{k} layers for {len(self.vectors)} source vectors")
        rows = torch.stack([v.expand(n, -1) for v in self.vectors], 1).reshape(n * k, -1)
        at = torch.tensor(list(layers), dtype=torch.long).repeat(n)
        return Patches(rows, at, self.mode, RESID_POST_TEMPLATE)


def check_methods(methods: Sequence[str]) -> list[str]:
    """``methods`` checked: a list drawn from :data:`TRANSFER_METHODS`, ``"tv"`` included."""
    if isinstance(methods, str) or not isinstance(methods, (list, tuple)):
        raise TypeError(f"methods must be a list such as ['tv', 'fv'], got {methods!r}")
    bad = [m for m in methods if m not in TRANSFER_METHODS]
    if bad or "tv" not in methods or len(set(methods)) != len(methods):
        raise ValueError(
            f"methods {list(methods)}: each one of {list(TRANSFER_METHODS)}, once, 'tv' included"
        )
    return [m for m in TRANSFER_METHODS if m in methods]


def _correct(result: Any) -> list[bool]:
    return [bool(p.correct) for p in result.predictions]


def _put(store: dict[str, Any], keys: Sequence[str], result: Any, col: int | None = None) -> None:
    """``result``'s correctness and predicted token ids under ``keys`` in ``store`` (column
    ``col`` of a sweep's result)."""
    if col is None:
        pairs = (
            ("correct", _correct(result)),
            ("predicted", [int(p.predicted_token_id) for p in result.predictions]),
        )
    else:
        pairs = (
            ("correct", [bool(x) for x in result.correct[:, col].tolist()]),
            ("predicted", [int(x) for x in result.predicted_token_ids[:, col].tolist()]),
        )
    for part, values in pairs:
        node = store[part]
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = values


def _function_vector(
    runner: Runner, dev: list[ICLExample], seed: int, aie: str
) -> tuple[torch.Tensor, int, list[float], list[list[int]]]:
    """The FV of ``dev`` under the Runner's format: (vector, layer, dev curve, heads)."""
    fv = study_function_vector(runner, dev, seed, aie)
    swept = sweep_on(runner, Method.add(fv.vector, "fv_zero_shot"), dev, NextToken())
    heads = [[int(la), int(h)] for la, h in fv.heads]
    return fv.vector, int(swept.best_layer), [float(a) for a in swept.accuracy], heads


def transfer_task(
    model: HookedModel,
    task: str,
    formats: Sequence[str | PromptFormat],
    settings: StudySettings | None = None,
    *,
    methods: Sequence[str] = ("tv",),
    aie: str = "attribution+verify",
) -> dict[str, Any]:
    """One task's transfer record (see the module docstring).

    Returns:
        ``{"status": "ok", "category", "n_pairs", "n_kept", "formats", "layers": {method:
        {A: L_A}}, "dev_accuracy_per_layer": {method: {A: [...]}}, "accuracy": {"regular":
        {A: acc}, "baseline": {B: acc}, method: {A: {B: acc}}}, "correct" and "predicted"
        (the same, one bool / token id per test example), "queries", "answers"}``; or
        ``status: "skipped"`` with the
        reason when the task has too few pairs left under every format.
    """
    settings = settings or StudySettings()
    fmts = check_formats(formats)
    methods = check_methods(methods)
    try:
        ex = shared_examples(model, task, fmts, settings)
    except TooFewPairsError as err:
        return {"status": "skipped", "reason": str(err)}
    base = Runner(model, settings.run)  # one Runner's facts (packing, KV cache) for all
    runners = {f.name: base.with_format(f) for f in fmts}
    layers: dict[str, dict[str, int]] = {m: {} for m in methods}
    curves: dict[str, dict[str, list[float]]] = {m: {} for m in methods}
    store: dict[str, Any] = {"correct": {}, "predicted": {}}
    vectors: dict[str, dict[str, Tensor]] = {m: {} for m in methods}
    heads: dict[str, list[list[int]]] = {}
    for a, runner in runners.items():
        sweep = sweep_on(runner, Method.hypothesis(), ex.dev, NextToken())
        layers["tv"][a], curves["tv"][a] = int(sweep.best_layer), list(sweep.accuracy)
        theta = thetas_on(runner, ex.test, [layers["tv"][a]])[:, 0]
        vectors["tv"][a] = theta
        _put(store, ("regular", a), run_method_on(runner, Method.regular(), ex.test, NextToken()))
        if "fv" in methods:
            vec, layer, curve, heads[a] = _function_vector(runner, ex.dev, settings.seed, aie)
            layers["fv"][a], curves["fv"][a] = layer, curve
            vectors["fv"][a] = vec
    for b, runner in runners.items():
        _put(store, ("baseline", b), run_method_on(runner, Method.baseline(), ex.test, NextToken()))
        for m in methods:
            _into(store, runner, m, ex.test, vectors[m], layers[m])
    out: dict[str, Any] = {
        "status": "ok", "category": ex.category, "n_pairs": ex.n_pairs, "n_kept": ex.n_kept,
        "formats": list(runners), "layers": layers, "dev_accuracy_per_layer": curves,
        "accuracy": _accuracies(store["correct"]), **store,
        "queries": [e.query for e in ex.test], "answers": [e.answer for e in ex.test],
    }  # fmt: skip
    if heads:
        out["fv_heads"] = heads
    return out


def _into(
    store: dict[str, Any],
    runner: Runner,
    method: str,
    test: Sequence[ICLExample],
    vectors: dict[str, Tensor],
    layers: dict[str, int],
) -> None:
    """Every source's vector of ``method`` on the test prompts of ``runner``'s format (the
    target), in one sweep; each source's predictions put in ``store``."""
    sources = list(vectors)
    kind: PatchMode = "replace" if method == "tv" else "add"
    how = FromSources(f"{method}_into_{runner.fmt.name}", tuple(vectors.values()), kind)
    res = sweep_on(runner, how, test, NextToken(), layers=[layers[a] for a in sources])
    for j, a in enumerate(sources):
        _put(store, (method, a, runner.fmt.name), res, j)


def _accuracies(correct: dict[str, Any]) -> dict[str, Any]:
    def acc(x: Any) -> Any:
        return sum(x) / len(x) if isinstance(x, list) else {k: acc(v) for k, v in x.items()}

    return {k: acc(v) for k, v in correct.items()}


def transfer_study(
    model: HookedModel,
    formats: Sequence[str | PromptFormat],
    settings: StudySettings | None = None,
    *,
    methods: Sequence[str] = ("tv",),
    aie: str = "attribution+verify",
) -> Study:
    """The transfer study as a :class:`~tvlens.studies.folder.Study` (for ``run_study``)."""
    from tvlens.studies.transfer_report import (
        transfer_averages,
        transfer_figures,
        transfer_summary,
    )

    settings = settings or StudySettings()
    fmts = check_formats(formats, at_least=2)
    methods = check_methods(methods)
    meta = {
        **model_meta(model),
        **settings.comparable(),
        "formats": [f.to_dict() for f in fmts],
        "methods": methods,
        **({"fv": {"k": FV_K, "aie": aie}} if "fv" in methods else {}),
        "execution": settings.execution(),
    }

    def compute(task: str) -> TaskOutput:
        return transfer_task(model, task, fmts, settings, methods=methods, aie=aie), ()

    def finish(tasks: dict[str, Any], _: Any) -> dict[str, Any]:
        return {"summary": transfer_averages({"meta": meta, "tasks": tasks})}

    keys = list(settings.tasks)
    return Study("transfer", meta, keys, compute, transfer_summary, transfer_figures, finish)


def transfer_matrix(
    model: HookedModel,
    tasks: Sequence[str],
    formats: Sequence[str | PromptFormat],
    *,
    out: str | None = None,
    methods: Sequence[str] = ("tv",),
    progress: bool = False,
    **sizes: Any,
) -> dict[str, Any]:
    """The transfer matrix of ``tasks`` across ``formats`` (every ordered pair).

    With ``out`` the study is written there (``transfer.json``, ``summary.md``,
    ``report.html``; locked and resumable, as ``tvlens transfer`` does); without it, it runs
    in memory. ``sizes`` are :class:`~tvlens.studies.common.StudySettings` fields
    (``n_dev``, ``n_test``, ``n_demos``, ``n_dummy``, ``seed``, ``run``).

    Returns:
        ``{"meta", "tasks": {task: record}}`` (see :func:`transfer_task`), and the
        averages over tasks in ``"summary"``.
    """
    study = transfer_study(
        model, formats, StudySettings(tasks=tuple(tasks), **sizes), methods=methods
    )
    if out is not None:
        return run_study(study, out, progress=progress)
    return run_in_memory(study)
