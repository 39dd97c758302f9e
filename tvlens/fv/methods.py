"""Task vectors beside function vectors and two baselines, on the same test examples.

:func:`compare_methods` runs, for one task, under one protocol (same prompts, arrow
positions, layer choice on a dev set and single-token scoring):

* ``regular``: ICL ``S + x ->``; ``baseline``: ``x ->`` alone;
* ``tv_hypothesis``: θ(S) of each example patched (replaced) after the TV layer (the paper);
* ``fv_zero_shot``: the function vector added after the FV layer at ``x ->``'s arrow;
* ``shuffled`` / ``fv_shuffled``: ICL with shuffled labels, without / with the FV added;
* ``layer_average``: the mean residual at the arrow of clean ICL prompts added at its layer
  (the FV paper's baseline); ``mean_difference``: that mean minus the mean residual of the
  zero-shot prompts, added at its layer.

Every method gets its own best layer from a sweep on the dev examples (``fv_shuffled`` on
the dev examples with shuffled labels); where no layer helps (all dev accuracies 0) the
sweep's "best" layer is layer 0, and the test accuracy shows the failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._example import ICLExample
from tvlens.engine.config import RunConfig
from tvlens.engine.patches import Patches
from tvlens.engine.runner import Runner
from tvlens.evaluation.modes import baseline, hypothesis, regular
from tvlens.evaluation.results import LayerSweepResult, ModeResult
from tvlens.evaluation.scoring import answer_ids, check_examples, mode_result
from tvlens.evaluation.sweep import layer_sweep, sweep_result, swept_layers
from tvlens.fv.heads import HeadActivations, HeadOutput, mean_head_activations, shuffle_labels
from tvlens.fv.indirect_effect import IndirectEffects, indirect_effects
from tvlens.fv.vector import DEFAULT_KS, FunctionVector, build_function_vector
from tvlens.hooks import check_layer
from tvlens.prompts import DEFAULT_FORMAT, PromptFormat, icl_prompts, zero_shot_prompts
from tvlens.protocol import HookedModel

METHODS = (
    "baseline",
    "shuffled",
    "fv_shuffled",
    "layer_average",
    "mean_difference",
    "fv_zero_shot",
    "tv_hypothesis",
    "regular",
)
"""The methods of a :class:`MethodComparison`, roughly from least to most information."""

Vector = Float[Tensor, " d_model"] | Float[Tensor, "n_layers d_model"]


def _per_layer(vector: Vector, n_layers: int) -> Tensor:
    if vector.dim() == 1:
        return vector.expand(n_layers, -1)
    if vector.shape[0] != n_layers:
        raise ValueError(f"a per-layer vector needs {n_layers} layers, got {vector.shape[0]}")
    return vector


def additive_sweep(
    model: HookedModel,
    examples: Sequence[ICLExample],
    vector: Vector,
    *,
    icl: bool = False,
    layers: Sequence[int] | None = None,
    fmt: PromptFormat = DEFAULT_FORMAT,
    run: RunConfig | Runner | None = None,
) -> LayerSweepResult:
    """Accuracy per layer with ``vector`` added to ``hook_resid_post`` at the arrow.

    Like :func:`tvlens.layer_sweep`: each prompt runs once per layer, each copy patched at
    its own layer, in a few batched (or packed) passes.

    Args:
        vector: ``[d_model]`` (the same at every layer, e.g. a function vector) or
            ``[n_layers, d_model]`` (one per layer, e.g. the layer-average baseline).
        icl: add it to the examples' ICL prompts (e.g. shuffled labels) instead of ``x ->``.
    """
    check_examples(examples)
    runner = Runner.bind(model, run)
    n_layers = runner.n_layers
    swept = swept_layers(n_layers, layers)
    per_layer = _per_layer(vector, n_layers)[swept]
    n, k = len(examples), len(swept)
    answers = answer_ids(model, examples, fmt)
    base = icl_prompts(examples, fmt) if icl else zero_shot_prompts(examples, fmt)
    texts = [t for t in base for _ in range(k)]
    patches = Patches(
        per_layer.repeat(n, 1), torch.tensor(swept, dtype=torch.long).repeat(n), mode="add"
    )
    preds = runner.predict(
        texts, fmt, patches=patches, group_size=k, rows_per_pass=runner.config.sweep_batch_size
    ).values.reshape(n, k)
    return sweep_result(examples, swept, preds, answers)


def add_at_layer(
    model: HookedModel,
    examples: Sequence[ICLExample],
    vector: Vector,
    layer: int,
    *,
    icl: bool = False,
    name: str = "added",
    fmt: PromptFormat = DEFAULT_FORMAT,
    run: RunConfig | Runner | None = None,
) -> ModeResult:
    """Predictions with ``vector`` (or its row ``layer``) added after ``layer`` at the arrow.

    Args:
        icl: patch the examples' ICL prompts instead of their zero-shot prompts.
        name: the mode name the predictions carry.
    """
    check_examples(examples)
    runner = Runner.bind(model, run)
    layer = check_layer(layer, runner.n_layers)
    vec = _per_layer(vector, runner.n_layers)[layer]
    answers = answer_ids(model, examples, fmt)
    texts = icl_prompts(examples, fmt) if icl else zero_shot_prompts(examples, fmt)
    patches = Patches.at_layer(vec.expand(len(examples), -1), layer, mode="add")
    predicted = runner.predict(texts, fmt, patches=patches)
    return mode_result(runner, name, examples, predicted, answers, layer)


@dataclass(frozen=True)
class MethodComparison:
    """All methods on one task's test examples (see the module docstring).

    Attributes:
        modes: method -> predictions on the test examples (:data:`METHODS`).
        layers: method -> the layer its vector is added or patched at (dev sweep).
        sweeps: ``"tv"``, ``"fv"`` (zero-shot), ``"fv_shuffled"`` (on shuffled-label dev
            prompts), ``"layer_average"``, ``"mean_difference"`` -> dev accuracy per layer.
        function_vector: the FV (its ``layer`` set to the chosen one).
        effects, activations: the AIE and mean head activations it came from.
        k_dev: each candidate k -> (best dev layer, its dev accuracy), zero-shot.
        times: phase -> wall seconds.
    """

    task: str
    modes: dict[str, ModeResult]
    layers: dict[str, int]
    sweeps: dict[str, LayerSweepResult]
    function_vector: FunctionVector
    effects: IndirectEffects
    activations: HeadActivations
    k_dev: dict[int, tuple[int, float]] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)

    @property
    def accuracies(self) -> dict[str, float]:
        """Method -> test accuracy, in :data:`METHODS` order."""
        return {m: self.modes[m].accuracy for m in METHODS if m in self.modes}

    def to_dataframe(self) -> Any:
        """One row per method: ``task``, ``method``, ``layer``, ``accuracy``, ``n``."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "task": self.task,
                    "method": m,
                    "layer": self.layers.get(m),
                    "accuracy": acc,
                    "n": len(self.modes[m].predictions),
                }
                for m, acc in self.accuracies.items()
            ]
        )

    def predictions_dataframe(self) -> Any:
        """Every prediction of every method, one row each."""
        import pandas as pd

        return pd.DataFrame([p.to_dict() for m in self.modes.values() for p in m.predictions])

    def figure(self, *, title: str | None = None) -> Any:
        """Bars of every method's accuracy (plotly)."""
        from tvlens.report.plots import comparison_figure

        return comparison_figure({self.task: self.accuracies}, title=title)

    def vectors_record(self, *, k_aie: int = 10) -> dict[str, Any]:
        """The JSON record of how the vectors were chosen: dev curves, the FV, the AIE, k."""
        fv = self.function_vector
        return {
            "dev_accuracy_per_layer": {k: list(s.accuracy) for k, s in self.sweeps.items()},
            "function_vector": {**fv.metadata(), "k": fv.k, "norm": float(fv.vector.norm())},
            "indirect_effect": self.effects.to_record(k_aie),
            "k_dev": {
                str(kk): {"layer": la, "dev_accuracy": a} for kk, (la, a) in self.k_dev.items()
            },
            "clean_accuracy": float(self.activations.clean_correct.float().mean()),
            "resid_norm_per_layer": self.activations.resid.norm(dim=-1).tolist(),
            "phase_times_s": dict(self.times),
        }

    def to_record(self, *, k_aie: int = 10) -> dict[str, Any]:
        """The JSON record of this task (for ``results.json``): methods, vectors, examples."""
        methods = {
            m: {"accuracy": acc, "layer": self.layers.get(m)} for m, acc in self.accuracies.items()
        }
        test = []
        first = next(iter(self.modes.values())).predictions
        for i, p in enumerate(first):
            row: dict[str, Any] = {
                "query": p.query,
                "answer": p.answer,
                "answer_token_id": p.answer_token_id,
            }
            for m, res in self.modes.items():
                q = res.predictions[i]
                row[m] = {
                    "predicted_token_id": q.predicted_token_id,
                    "predicted_token": q.predicted_token,
                    "correct": q.correct,
                }
            test.append(row)
        return {"methods": methods, **self.vectors_record(k_aie=k_aie), "test_examples": test}


def compare_methods(
    model: HookedModel,
    test: Sequence[ICLExample],
    *,
    dev: Sequence[ICLExample],
    extraction: Sequence[ICLExample] | None = None,
    k: int | Sequence[int] = DEFAULT_KS,
    head_output: HeadOutput = "residual",
    tv_layer: int | None = None,
    n_corrupted: int | None = None,
    known: Mapping[str, ModeResult] | None = None,
    seed: int = 0,
    fmt: PromptFormat = DEFAULT_FORMAT,
    run: RunConfig | Runner | None = None,
) -> MethodComparison:
    """Regular, TV Hypothesis, FV (zero-shot and shuffled labels), two baselines, Baseline.

    Args:
        test: the test examples every method is scored on.
        dev: examples for the layer sweeps (each method's layer is its best dev layer).
        extraction: clean examples for the mean head activations, the AIE (their labels
            shuffled) and the two baseline vectors (default: ``dev``).
        k: heads in the function vector, or several k to choose from (default
            :data:`~tvlens.fv.vector.DEFAULT_KS`): each candidate FV gets a dev sweep
            and the best (k, layer) on dev wins (ties: the smaller k).
        head_output: what a head's output is (:mod:`tvlens.fv.heads`).
        tv_layer: the TV layer, if already chosen (skips the TV sweep).
        n_corrupted: shuffled-label prompts of the AIE (the first of ``extraction``;
            default all). The AIE costs one unembedding per (prompt, head): Todd et al. use 25.
        known: modes already run on these test examples (``"regular"``, ``"baseline"``,
            ``"tv_hypothesis"`` at ``tv_layer``), taken as they are instead of rerun.
        seed: seed of the label shuffles.

    Example:
        >>> dev, test = get_task("antonyms").dev_test(50, 50)  # doctest: +SKIP
        >>> result = compare_methods(model, test, dev=dev)  # doctest: +SKIP
        >>> result.to_dataframe()  # doctest: +SKIP
    """
    check_examples(test)
    given = _check_known(known, test, tv_layer)
    runner = Runner.bind(model, run)
    n_layers = runner.n_layers
    source = list(extraction if extraction is not None else dev)
    opts: dict[str, Any] = {"fmt": fmt, "run": runner}
    times: dict[str, float] = {}

    def timed(phase: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = fn()
        times[phase] = times.get(phase, 0.0) + time.perf_counter() - start
        return out

    acts = timed("head_activations", lambda: mean_head_activations(model, source, **opts))
    corrupted = shuffle_labels(source[:n_corrupted] if n_corrupted else source, seed)
    effects = timed("indirect_effect", lambda: indirect_effects(model, corrupted, acts, **opts))
    n_demos = max(ex.n_demos for ex in source)
    sweeps: dict[str, LayerSweepResult] = {}
    k_dev: dict[int, tuple[int, float]] = {}
    fv: FunctionVector | None = None
    total = acts.n_layers * acts.n_heads
    for kk in sorted({min(k, total)} if isinstance(k, int) else {min(x, total) for x in k}):
        cand = build_function_vector(
            acts, effects, k=kk, head_output=head_output, n_demos=n_demos, seed=seed
        )
        start = time.perf_counter()
        sweep = additive_sweep(model, dev, cand.vector, **opts)
        times["sweeps"] = times.get("sweeps", 0.0) + time.perf_counter() - start
        k_dev[kk] = (sweep.best_layer, sweep.best_accuracy)
        if fv is None or sweep.best_accuracy > sweeps["fv"].best_accuracy:
            fv, sweeps["fv"] = cand, sweep  # ties keep the smaller k
    if fv is None:
        raise ValueError("pass at least one k")
    chosen: FunctionVector = fv
    zero = timed(
        "baseline_vectors",
        lambda: runner.resid_at_arrows(zero_shot_prompts(source, fmt), range(n_layers), fmt),
    )
    vectors = {
        "fv": chosen.vector,
        "layer_average": acts.resid,
        "mean_difference": acts.resid - zero.mean(0),
    }
    if tv_layer is None:
        sweeps["tv"] = timed("sweeps", lambda: layer_sweep(model, dev, **opts))
        tv_layer = sweeps["tv"].best_layer
    for key, vec in vectors.items():
        if key == "fv":
            continue
        start = time.perf_counter()
        sweeps[key] = additive_sweep(model, dev, vec, **opts)
        times["sweeps"] = times.get("sweeps", 0.0) + time.perf_counter() - start
    shuffled_dev = shuffle_labels(dev, seed + 2)
    sweeps["fv_shuffled"] = timed(
        "sweeps", lambda: additive_sweep(model, shuffled_dev, chosen.vector, icl=True, **opts)
    )
    layers = {
        "tv_hypothesis": check_layer(tv_layer, n_layers),
        "fv_zero_shot": sweeps["fv"].best_layer,
        "fv_shuffled": sweeps["fv_shuffled"].best_layer,
        "layer_average": sweeps["layer_average"].best_layer,
        "mean_difference": sweeps["mean_difference"].best_layer,
    }
    shuffled_test = shuffle_labels(test, seed + 1)
    chosen = chosen.at(layers["fv_zero_shot"])

    def add(name: str, key: str, examples: Sequence[ICLExample], icl: bool) -> ModeResult:
        return add_at_layer(model, examples, vectors[key], layers[name], icl=icl, name=name, **opts)

    modes: dict[str, ModeResult] = {}
    start = time.perf_counter()
    modes["baseline"] = given.get("baseline") or baseline(model, test, **opts)
    shuffled = regular(model, shuffled_test, **opts)
    modes["shuffled"] = ModeResult("shuffled", shuffled.predictions)
    modes["fv_shuffled"] = add("fv_shuffled", "fv", shuffled_test, True)
    modes["layer_average"] = add("layer_average", "layer_average", test, False)
    modes["mean_difference"] = add("mean_difference", "mean_difference", test, False)
    modes["fv_zero_shot"] = add("fv_zero_shot", "fv", test, False)
    hyp = given.get("tv_hypothesis") or hypothesis(model, test, layers["tv_hypothesis"], **opts)
    modes["tv_hypothesis"] = ModeResult("tv_hypothesis", hyp.predictions)
    modes["regular"] = given.get("regular") or regular(model, test, **opts)
    times["test_modes"] = time.perf_counter() - start
    tasks = {ex.task for ex in test}
    return MethodComparison(
        task=tasks.pop() if len(tasks) == 1 else "mixed",
        modes=modes,
        layers=layers,
        sweeps=sweeps,
        function_vector=chosen,
        effects=effects,
        activations=acts,
        k_dev=k_dev,
        times=times,
    )


def _check_known(
    known: Mapping[str, ModeResult] | None, test: Sequence[ICLExample], tv_layer: int | None
) -> dict[str, ModeResult]:
    given = dict(known or {})
    for name, res in given.items():
        if name not in ("regular", "baseline", "tv_hypothesis"):
            raise ValueError(f"known modes are regular, baseline, tv_hypothesis; got {name!r}")
        if [(p.query, p.answer) for p in res.predictions] != [(e.query, e.answer) for e in test]:
            raise ValueError(f"known[{name!r}] was not run on these test examples")
    if "tv_hypothesis" in given:
        layer = given["tv_hypothesis"].predictions[0].layer
        if tv_layer is None or layer != tv_layer:
            raise ValueError(f"known['tv_hypothesis'] ran at layer {layer}: pass tv_layer={layer}")
    return given


def comparison_table(results: Sequence[MethodComparison]) -> Any:
    """A DataFrame: one row per task, one column per method's accuracy, plus the mean row."""
    import pandas as pd

    frame = pd.DataFrame({r.task: r.accuracies for r in results}).T[list(METHODS)]
    frame.loc["mean"] = frame.mean()
    return frame
