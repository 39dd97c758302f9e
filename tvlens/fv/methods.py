"""Task vectors beside function vectors and two baselines, on the same test examples.

:func:`compare_methods` runs, for one task, under one protocol (same prompts, arrow
positions, layer choice on a dev set and one scorer):

* ``regular``: ICL ``S + x ->``; ``baseline``: ``x ->`` alone;
* ``hypothesis``: θ(S) of each example patched (replaced) after the TV layer (the paper's
  TV Hypothesis, named as in ``results.json``);
* ``fv_zero_shot``: the function vector added after the FV layer at ``x ->``'s arrow;
* ``shuffled`` / ``fv_shuffled``: ICL with shuffled labels, without / with the FV added;
* ``layer_average``: the mean residual at the arrow of clean ICL prompts added at its layer
  (the FV paper's baseline); ``mean_difference``: that mean minus the mean residual of the
  zero-shot prompts, added at its layer.

Every method gets its own best layer from a sweep on the dev examples (``fv_shuffled`` on
the dev examples with shuffled labels); where no layer helps (all dev accuracies 0) the
sweep's "best" layer is layer 0, and the test accuracy shows the failure.

Each method is a :class:`~tvlens.evaluation.methods.Method`, run by the one sweep
(:func:`~tvlens.evaluation.sweep.sweep`) on dev and by
:func:`~tvlens.evaluation.sweep.run_method` on test. Under ``scorer=Generation(...)`` (the
FV paper scores generated answers too) the test predictions are generations scored by exact
match, first token and F1; the dev layers, the head activations and the AIE then score the
answer's first token (as ``tvlens run --answers any`` chooses the TV layer).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from tvlens._example import ICLExample
from tvlens.engine.config import RunConfig
from tvlens.engine.runner import Runner
from tvlens.evaluation.methods import Method, Vector
from tvlens.evaluation.results import LayerSweepResult, ModeResult
from tvlens.evaluation.scorers import Generation, NextToken
from tvlens.evaluation.scoring import check_example_list
from tvlens.evaluation.sweep import (
    run_method,
    run_method_on,
    run_methods_on,
    sweep,
    sweep_on,
    sweeps_on,
)
from tvlens.fv.comparison import COMPARED_MODES, MethodComparison, Scored, comparison_table
from tvlens.fv.heads import HeadActivations, HeadOutput, mean_head_activations, shuffle_labels
from tvlens.fv.indirect_effect import AIEMethod, IndirectEffects, indirect_effects
from tvlens.fv.vector import DEFAULT_KS, FunctionVector, build_function_vector
from tvlens.hooks import check_layer
from tvlens.prompts import PromptFormat, zero_shot_prompts
from tvlens.protocol import HookedModel

__all__ = [
    "COMPARED_MODES",
    "MethodComparison",
    "add_at_layer",
    "additive_sweep",
    "compare_methods",
    "comparison_table",
]

T = TypeVar("T")


def additive_sweep(
    model: HookedModel,
    examples: Sequence[ICLExample],
    vector: Vector,
    *,
    icl: bool = False,
    layers: Sequence[int] | None = None,
    fmt: PromptFormat | None = None,
    run: RunConfig | Runner | None = None,
) -> LayerSweepResult:
    """Accuracy per layer with ``vector`` added to ``hook_resid_post`` at the arrow.

    :func:`~tvlens.evaluation.sweep.sweep` of :meth:`Method.add` under
    :class:`NextToken`: each prompt runs once per layer, each copy patched at its own layer,
    in a few batched (or packed) passes.

    Args:
        vector: ``[d_model]`` (the same at every layer, e.g. a function vector) or
            ``[n_layers, d_model]`` (one per layer, e.g. the layer-average baseline).
        icl: add it to the examples' ICL prompts (e.g. shuffled labels) instead of ``x ->``.
    """
    method = Method.add(vector, "added", prompt="icl" if icl else "zero_shot")
    return sweep(model, method, examples, NextToken(), layers=layers, fmt=fmt, run=run)


def add_at_layer(
    model: HookedModel,
    examples: Sequence[ICLExample],
    vector: Vector,
    layer: int,
    *,
    icl: bool = False,
    name: str = "added",
    fmt: PromptFormat | None = None,
    run: RunConfig | Runner | None = None,
) -> ModeResult:
    """Predictions with ``vector`` (or its row ``layer``) added after ``layer`` at the arrow.

    Args:
        icl: patch the examples' ICL prompts instead of their zero-shot prompts.
        name: the mode name the predictions carry.
    """
    method = Method.add(vector, name, prompt="icl" if icl else "zero_shot")
    return run_method(model, method, examples, NextToken(), layer=layer, fmt=fmt, run=run)


@dataclass
class _Context:
    """What every phase of :func:`compare_methods` shares."""

    runner: Runner
    scorer: NextToken | Generation
    times: dict[str, float] = field(default_factory=dict)

    @property
    def dev_scorer(self) -> NextToken:
        """Next token on dev; the answer's first token where test answers are generated."""
        return NextToken(first_token=isinstance(self.scorer, Generation))

    def timed(self, phase: str, fn: Callable[[], T]) -> T:
        """``fn()``, its wall seconds added to ``phase``."""
        start = time.perf_counter()
        out = fn()
        self.times[phase] = self.times.get(phase, 0.0) + time.perf_counter() - start
        return out

    def dev_sweep(self, method: Method, dev: Sequence[ICLExample]) -> LayerSweepResult:
        """``method``'s dev accuracy per layer (timed as ``sweeps``)."""
        return self.timed("sweeps", lambda: sweep_on(self.runner, method, dev, self.dev_scorer))

    def test_many(
        self, runs: Sequence[tuple[Method, int | None]], examples: Sequence[ICLExample]
    ) -> list[Scored]:
        """Each ``(method, layer)`` on the test examples, sharing passes where they can."""
        if isinstance(self.scorer, Generation):
            return [self.test(m, examples, layer) for m, layer in runs]
        return list(run_methods_on(self.runner, runs, examples, self.scorer))

    def test(self, method: Method, examples: Sequence[ICLExample], layer: int | None) -> Scored:
        """``method`` on the test examples at ``layer``, under the scorer."""
        scorer = self.scorer
        if isinstance(scorer, Generation):
            return run_method_on(self.runner, method, examples, scorer, layer=layer)
        return run_method_on(self.runner, method, examples, scorer, layer=layer)


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
    known: Mapping[str, Scored] | None = None,
    seed: int = 0,
    scorer: NextToken | Generation | None = None,
    fmt: PromptFormat | None = None,
    run: RunConfig | Runner | None = None,
    aie: AIEMethod = "exact",
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
            ``"hypothesis"`` at ``tv_layer``) under the same scorer, taken as they are.
        seed: seed of the label shuffles.
        scorer: how test predictions are scored: :class:`NextToken` (default, single-token
            answers) or :class:`Generation` (exact match, first token, F1; the dev sweeps,
            head activations and AIE then score the answer's first token).
        aie: how the AIE ranks heads (:func:`~tvlens.fv.indirect_effect.indirect_effects`'s
            ``method``): ``"exact"``, ``"attribution"`` or ``"attribution+verify"`` (its
            ``n_verify`` twice the largest ``k``).

    Example:
        >>> dev, test = get_task("antonyms").dev_test(50, 50)  # doctest: +SKIP
        >>> result = compare_methods(model, test, dev=dev)  # doctest: +SKIP
        >>> result.to_dataframe()  # doctest: +SKIP
    """
    check_example_list(test)
    given = _check_known(known, test, tv_layer)
    ctx = _Context(Runner.bind(model, run, fmt), scorer or NextToken())
    source = list(extraction if extraction is not None else dev)
    ks = [k] if isinstance(k, int) else list(k)
    acts, effects = _head_effects(ctx, source, n_corrupted, seed, (aie, 2 * max(ks, default=1)))
    settings = {"head_output": head_output, "n_demos": max(ex.n_demos for ex in source)}
    baselines = _baseline_vectors(ctx, source, acts)
    fv, sweeps, k_dev = _choose_fv(
        ctx, dev, (acts, effects), k, {**settings, "seed": seed}, baselines
    )
    vectors = {"fv": fv.vector, **baselines}
    sweeps, layers = _dev_layers(ctx, dev, vectors, sweeps, tv_layer, seed)
    modes = ctx.timed("test_modes", lambda: _test_modes(ctx, test, vectors, layers, given, seed))
    tasks = {ex.task for ex in test}
    return MethodComparison(
        task=tasks.pop() if len(tasks) == 1 else "mixed",
        modes=modes,
        layers=layers,
        sweeps=sweeps,
        function_vector=fv.at(layers["fv_zero_shot"]),
        effects=effects,
        activations=acts,
        k_dev=k_dev,
        times=ctx.times,
    )


def _dev_layers(
    ctx: _Context,
    dev: Sequence[ICLExample],
    vectors: dict[str, Vector],
    sweeps: dict[str, LayerSweepResult],
    tv_layer: int | None,
    seed: int,
) -> tuple[dict[str, LayerSweepResult], dict[str, int]]:
    """Each method's dev sweep (those of the FV and the two baselines given) and its best
    layer (shuffled dev: seed + 2)."""
    if tv_layer is None:
        sweeps["tv"] = ctx.dev_sweep(Method.hypothesis(), dev)
        tv_layer = sweeps["tv"].best_layer
    shuffled = Method.add(vectors["fv"], "fv_shuffled", prompt="shuffled_icl", seed=seed + 2)
    sweeps["fv_shuffled"] = ctx.dev_sweep(shuffled, dev)
    order = ("fv", "tv", "layer_average", "mean_difference", "fv_shuffled")  # as recorded
    sweeps = {key: sweeps[key] for key in order if key in sweeps}
    layers = {
        "hypothesis": check_layer(tv_layer, ctx.runner.n_layers),
        "fv_zero_shot": sweeps["fv"].best_layer,
        "fv_shuffled": sweeps["fv_shuffled"].best_layer,
        "layer_average": sweeps["layer_average"].best_layer,
        "mean_difference": sweeps["mean_difference"].best_layer,
    }
    return sweeps, layers


def _head_effects(
    ctx: _Context,
    source: list[ICLExample],
    n_corrupted: int | None,
    seed: int,
    aie: tuple[AIEMethod, int],
) -> tuple[HeadActivations, IndirectEffects]:
    """Mean head activations on clean ``source`` and the AIE on its shuffled labels
    (``aie``: the method and the heads it verifies)."""
    model, first = ctx.runner.model, isinstance(ctx.scorer, Generation)
    opts: dict[str, Any] = {"run": ctx.runner, "first_token": first}
    acts = ctx.timed("head_activations", lambda: mean_head_activations(model, source, **opts))
    corrupted = shuffle_labels(source[:n_corrupted] if n_corrupted else source, seed)
    method, n_verify = aie
    effects = ctx.timed(
        "indirect_effect",
        lambda: indirect_effects(model, corrupted, acts, **opts, method=method, n_verify=n_verify),
    )
    return acts, effects


def _choose_fv(
    ctx: _Context,
    dev: Sequence[ICLExample],
    made: tuple[HeadActivations, IndirectEffects],
    ks: int | Sequence[int],
    settings: dict[str, Any],
    baselines: dict[str, Vector],
) -> tuple[FunctionVector, dict[str, LayerSweepResult], dict[int, tuple[int, float]]]:
    """The FV of the candidate k with the best dev accuracy (ties: the smaller k), and the
    dev sweeps of the FV and the two baseline vectors: every candidate and both baselines
    add a vector to the same zero-shot prompts, so they sweep in one set of passes."""
    acts, effects = made
    total = acts.n_layers * acts.n_heads
    kks = sorted({min(ks, total)} if isinstance(ks, int) else {min(x, total) for x in ks})
    if not kks:
        raise ValueError("pass at least one k")
    cands = [build_function_vector(acts, effects, k=kk, **settings) for kk in kks]
    methods = [Method.add(c.vector, "fv_zero_shot") for c in cands]
    methods += [Method.add(vec, key) for key, vec in baselines.items()]
    swept = ctx.timed("sweeps", lambda: sweeps_on(ctx.runner, methods, dev, ctx.dev_scorer))
    fvs = swept[: len(cands)]
    k_dev = {kk: (r.best_layer, r.best_accuracy) for kk, r in zip(kks, fvs, strict=True)}
    best = 0
    for i, res in enumerate(fvs):
        if res.best_accuracy > fvs[best].best_accuracy:
            best = i  # ties keep the smaller k
    sweeps = {"fv": fvs[best], **dict(zip(baselines, swept[len(cands) :], strict=True))}
    return cands[best], sweeps, k_dev


def _baseline_vectors(
    ctx: _Context, source: list[ICLExample], acts: HeadActivations
) -> dict[str, Vector]:
    """The layer average and the mean difference (``[n_layers, d_model]``)."""
    runner = ctx.runner
    zero = ctx.timed(
        "baseline_vectors",
        lambda: runner.resid_at_arrows(
            zero_shot_prompts(source, runner.fmt), range(runner.n_layers)
        ),
    )
    return {"layer_average": acts.resid, "mean_difference": acts.resid - zero.mean(0)}


def _test_modes(
    ctx: _Context,
    test: Sequence[ICLExample],
    vectors: dict[str, Vector],
    layers: dict[str, int],
    given: dict[str, Scored],
    seed: int,
) -> dict[str, Scored]:
    """Every mode of :data:`COMPARED_MODES`, in order, on the test examples (shuffled
    labels: seed + 1)."""
    modes: dict[str, Scored] = {}
    fv_shuffled = Method.add(vectors["fv"], "fv_shuffled", prompt="shuffled_icl", seed=seed + 1)
    shuffled = ctx.test_many(
        [(Method.shuffled(seed + 1), None), (fv_shuffled, layers["fv_shuffled"])], test
    )
    zero: list[tuple[Method, int | None]] = (
        [] if "baseline" in given else [(Method.baseline(), None)]
    )
    zero += [(Method.add(vectors[k], k), layers[k]) for k in ("layer_average", "mean_difference")]
    zero.append((Method.add(vectors["fv"], "fv_zero_shot"), layers["fv_zero_shot"]))
    zero_shot = ctx.test_many(zero, test)
    modes["baseline"] = given["baseline"] if "baseline" in given else zero_shot.pop(0)
    modes["shuffled"], modes["fv_shuffled"] = shuffled
    modes["layer_average"], modes["mean_difference"], modes["fv_zero_shot"] = zero_shot
    hyp = given.get("hypothesis") or ctx.test(Method.hypothesis(), test, layers["hypothesis"])
    modes["hypothesis"] = replace(hyp, mode="hypothesis")
    modes["regular"] = given.get("regular") or ctx.test(Method.regular(), test, None)
    return modes


def _check_known(
    known: Mapping[str, Scored] | None, test: Sequence[ICLExample], tv_layer: int | None
) -> dict[str, Scored]:
    given = dict(known or {})
    for name, res in given.items():
        if name not in ("regular", "baseline", "hypothesis"):
            raise ValueError(f"known modes are regular, baseline, hypothesis; got {name!r}")
        if [(p.query, p.answer) for p in res.predictions] != [(e.query, e.answer) for e in test]:
            raise ValueError(f"known[{name!r}] was not run on these test examples")
    if "hypothesis" in given:
        layer = given["hypothesis"].predictions[0].layer
        if tv_layer is None or layer != tv_layer:
            raise ValueError(f"known['hypothesis'] ran at layer {layer}: pass tv_layer={layer}")
    return given
