"""One method under one scorer: at one layer (:func:`run_method`) or every layer (:func:`sweep`).

:func:`sweep` runs a method's prompt once per ``(example, layer)``, each copy patched at its
own layer, all in a few batched passes rather than ``n_examples * n_layers`` runs (where the
Runner packs and the scorer reads one token, an example is one row: ``x`` once, then one copy
of the arrow per layer, :mod:`tvlens.engine.packing`). :func:`layer_sweep` is the paper's:
Hypothesis accuracy per layer on a dev set, to choose L.

Example:
    >>> result = sweep(model, Method.hypothesis(), dev, NextToken())  # doctest: +SKIP
    >>> result.best_layer  # doctest: +SKIP
    >>> fv = sweep(model, Method.add(vec, "fv_zero_shot"), dev, Generation(6))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._example import ICLExample
from tvlens.engine.patches import Patches, Predictions
from tvlens.engine.runner import RunArg, Runner
from tvlens.evaluation.methods import Method, MethodLike
from tvlens.evaluation.results import LayerSweepResult
from tvlens.evaluation.scorers import NextToken, Rows, Scorer
from tvlens.evaluation.scoring import answer_ids, check_example_list, mode_result
from tvlens.hooks import check_layer
from tvlens.prompts import PromptFormat
from tvlens.protocol import HookedModel

One = TypeVar("One")
Many = TypeVar("Many")


def _shown(method: MethodLike, examples: Sequence[ICLExample]) -> Sequence[ICLExample]:
    return method.shown(examples) if isinstance(method, Method) else examples


def run_method(
    model: HookedModel,
    method: MethodLike,
    examples: Sequence[ICLExample],
    scorer: Scorer[One, Many],
    *,
    layer: int | None = None,
    fmt: PromptFormat | None = None,
    run: RunArg = None,
) -> One:
    """``method`` on ``examples`` at ``layer``, scored by ``scorer``.

    Args:
        method: a :class:`~tvlens.evaluation.methods.Method` or your own
            :class:`~tvlens.evaluation.methods.MethodLike`.
        scorer: :class:`~tvlens.evaluation.scorers.NextToken` (a ``ModeResult``) or
            :class:`~tvlens.evaluation.scorers.Generation` (a ``GenerationResult``).
        layer: where the method's patch goes; ``None`` for a method with no patch (its
            patches are then not asked for).
        fmt: the prompt format (``None``: ``run``'s, else the default format).
        run: a :class:`RunConfig` or a :class:`Runner` of ``model``.

    Raises:
        ValueError: a built-in method with a patch and no ``layer``.
    """
    return run_method_on(Runner.bind(model, run, fmt), method, examples, scorer, layer=layer)


def run_method_on(
    runner: Runner,
    method: MethodLike,
    examples: Sequence[ICLExample],
    scorer: Scorer[One, Many],
    *,
    layer: int | None = None,
) -> One:
    """:func:`run_method` on a Runner (its model and prompt format)."""
    check_example_list(examples)
    fmt = runner.fmt
    if layer is None and isinstance(method, Method) and method.patch != "none":
        raise ValueError(f"method {method.name!r} patches a layer: pass layer=")
    if layer is not None:
        layer = check_layer(layer, runner.n_layers)
    scorer.check(runner, examples)
    shown = _shown(method, examples)
    patches = None if layer is None else method.patches(runner, shown, [layer])
    at = (layer if patches is not None else None,)
    rows = Rows(method.name, shown, method.prompts(shown, fmt), patches, at)
    return scorer.score(runner, rows)


def run_methods_on(
    runner: Runner,
    runs: Sequence[tuple[MethodLike, int | None]],
    examples: Sequence[ICLExample],
    scorer: Scorer[One, Many],
) -> list[One]:
    """:func:`run_method_on` of each ``(method, layer)``, sharing passes where they can.

    Methods that add a vector to the same prompts, or leave them unpatched (shuffled-label
    ICL with and without the function vector; the zero-shot vectors), run together under
    :class:`NextToken`: each example's prompt is one group of rows, one per method, so its
    prefix runs once for all of them where the Runner packs (an unpatched row gets a zero
    vector added, which changes no number). Any other mix runs one method at a time.
    """
    shared = _shared_rows(runner, runs, examples, scorer)
    if shared is None:
        return [run_method_on(runner, m, examples, scorer, layer=la) for m, la in runs]
    shown, texts, patches = shared
    m = len(runs)
    size = 2 * runner.config.batch_size * m
    predicted = runner.predict(texts, patches=patches, group_size=m, rows_per_pass=size)
    first = isinstance(scorer, NextToken) and scorer.first_token
    answers = answer_ids(runner.model, shown, runner.fmt, first_token=first)
    values = predicted.values.reshape(len(shown), m)
    out: list[Any] = []
    for j, (method, layer) in enumerate(runs):
        own = Predictions(values[:, j], predicted.input_ids[j::m])
        at = None if isinstance(method, Method) and method.patch == "none" else layer
        out.append(mode_result(runner, method.name, shown, own, answers, at))
    return out


def _shared_rows(
    runner: Runner,
    runs: Sequence[tuple[MethodLike, int | None]],
    examples: Sequence[ICLExample],
    scorer: Scorer[Any, Any],
) -> tuple[Sequence[ICLExample], list[str], Patches] | None:
    """The rows of ``runs`` run together (example-major, then method), or ``None``."""
    methods = [m for m, _ in runs]
    if len(runs) < 2 or type(scorer) is not NextToken:
        return None
    if not all(isinstance(m, Method) and m.patch in ("vector", "none") for m in methods):
        return None
    built = [cast(Method, m) for m in methods]
    if any(m.patch == "vector" and m.mode != "add" for m in built):
        return None
    if all(m.patch == "none" for m in built):
        return None
    same = _same_prompts(runner, built, examples, scorer)
    if same is None:
        return None
    shown, prompt_texts = same
    n, d = len(examples), runner.d_model
    vectors, layers = torch.zeros(n, len(runs), d), torch.zeros(n, len(runs), dtype=torch.long)
    for j, (method, (_, layer)) in enumerate(zip(built, runs, strict=True)):
        if method.patch == "none":
            continue  # a zero vector added at layer 0: the row as it was
        if layer is None:
            raise ValueError(f"method {method.name!r} patches a layer: pass layer=")
        at = [check_layer(layer, runner.n_layers)]
        part = cast(Patches, method.patches(runner, shown, at))
        vectors[:, j], layers[:, j] = part.vectors.float(), part.layers
    patches = Patches(vectors.flatten(0, 1), layers.flatten(), "add")
    return shown, [t for t in prompt_texts for _ in runs], patches


def sweep(
    model: HookedModel,
    method: MethodLike,
    examples: Sequence[ICLExample],
    scorer: Scorer[One, Many],
    *,
    layers: Sequence[int] | None = None,
    fmt: PromptFormat | None = None,
    run: RunArg = None,
) -> Many:
    """``method`` on ``examples`` patched at each of ``layers`` (default: all), scored.

    Returns what ``scorer`` gives over layers: a :class:`LayerSweepResult` for
    :class:`~tvlens.evaluation.scorers.NextToken`, ``{layer: GenerationResult}`` for
    :class:`~tvlens.evaluation.scorers.Generation`.

    Args:
        fmt: the prompt format (``None``: ``run``'s, else the default format).
        run: a :class:`RunConfig` or a :class:`Runner` of ``model``; its
            ``sweep_batch_size`` sets the ``(example, layer)`` rows per pass.

    Raises:
        ValueError: a layer out of range, no layers, or a method with no patch.
    """
    return sweep_on(Runner.bind(model, run, fmt), method, examples, scorer, layers=layers)


def sweep_on(
    runner: Runner,
    method: MethodLike,
    examples: Sequence[ICLExample],
    scorer: Scorer[One, Many],
    *,
    layers: Sequence[int] | None = None,
) -> Many:
    """:func:`sweep` on a Runner (its model and prompt format)."""
    check_example_list(examples)
    fmt = runner.fmt
    swept = swept_layers(runner.n_layers, layers)
    scorer.check(runner, examples)
    shown = _shown(method, examples)
    patches = method.patches(runner, shown, swept)
    if patches is None:
        raise ValueError(
            f"method {method.name!r} carries no patch, so every layer gives the same: "
            "run it once with run_method(...)"
        )
    k = len(swept)
    texts = [t for t in method.prompts(shown, fmt) for _ in range(k)]
    return scorer.score_sweep(runner, Rows(method.name, shown, texts, patches, tuple(swept)))


def sweeps_on(
    runner: Runner,
    methods: Sequence[MethodLike],
    examples: Sequence[ICLExample],
    scorer: Scorer[One, Many],
    *,
    layers: Sequence[int] | None = None,
) -> list[Many]:
    """:func:`sweep_on` of each of ``methods``, sharing passes where they can.

    Methods that add vectors to the same prompts (several function-vector candidates, the
    layer-average and mean-difference vectors) run together under :class:`NextToken`: each
    example is one group of ``len(methods) * len(layers)`` rows, so its prompt's prefix
    runs once for all of them where the Runner packs. Any other mix runs one sweep per
    method. The results are each method's own sweep either way.
    """
    shared = _shared_patches(runner, methods, examples, scorer, layers)
    if shared is None:
        return [sweep_on(runner, m, examples, scorer, layers=layers) for m in methods]
    shown, texts, patches, swept = shared
    k = len(swept)
    rows = Rows(
        "+".join(m.name for m in methods), shown, texts, patches, tuple(swept) * len(methods)
    )
    both = scorer.score_sweep(runner, rows)
    assert isinstance(both, LayerSweepResult)
    out: list[Any] = []
    for m in range(len(methods)):
        correct = both.correct[:, m * k : (m + 1) * k]
        acc = tuple(float(a) for a in correct.float().mean(0).tolist())
        preds = both.predicted_token_ids[:, m * k : (m + 1) * k]
        out.append(LayerSweepResult(both.task, tuple(swept), acc, correct, preds))
    return out


def _shared_patches(
    runner: Runner,
    methods: Sequence[MethodLike],
    examples: Sequence[ICLExample],
    scorer: Scorer[Any, Any],
    layers: Sequence[int] | None,
) -> tuple[Sequence[ICLExample], list[str], Patches, list[int]] | None:
    """The rows of ``methods`` run together (example-major, then method, then layer), or
    ``None`` where they cannot share: another scorer, other prompts, other patches."""
    if len(methods) < 2 or type(scorer) is not NextToken:
        return None
    if not all(isinstance(m, Method) and m.patch == "vector" for m in methods):
        return None
    swept = swept_layers(runner.n_layers, layers)
    same = _same_prompts(runner, methods, examples, scorer)
    if same is None:
        return None
    shown, prompt_texts = same
    parts = [m.patches(runner, shown, swept) for m in methods]
    modes = {(p.mode, p.hook_template) for p in parts if isinstance(p, Patches)}
    if len(modes) != 1 or not all(isinstance(p, Patches) for p in parts):
        return None
    n, k, first = len(examples), len(swept), cast(Patches, parts[0])
    vectors = torch.stack([cast(Patches, p).vectors.reshape(n, k, -1) for p in parts], 1)
    at = torch.stack([cast(Patches, p).layers.reshape(n, k) for p in parts], 1)
    patches = Patches(vectors.flatten(0, 2), at.flatten(), first.mode, first.hook_template)
    texts = [t for t in prompt_texts for _ in range(len(methods) * k)]
    return shown, texts, patches, swept


def _same_prompts(
    runner: Runner,
    methods: Sequence[MethodLike],
    examples: Sequence[ICLExample],
    scorer: Scorer[Any, Any],
) -> tuple[Sequence[ICLExample], list[str]] | None:
    """The examples as every method shows them and their prompts, if all methods show the
    same prompts (checked as one method's run checks them); ``None`` otherwise."""
    check_example_list(examples)
    shown = [_shown(m, examples) for m in methods]
    prompts = [m.prompts(s, runner.fmt) for m, s in zip(methods, shown, strict=True)]
    if any(p != prompts[0] for p in prompts):
        return None
    scorer.check(runner, examples)
    return shown[0], prompts[0]


def layer_sweep(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    layers: Sequence[int] | None = None,
    fmt: PromptFormat | None = None,
    thetas: Float[Tensor, "n n_layers d_model"] | None = None,
    first_token: bool = False,
    run: RunArg = None,
) -> LayerSweepResult:
    """Hypothesis accuracy at every layer on a dev set; pick the best layer.

    θ(S) of every example comes from one extraction for all layers; then each zero-shot
    prompt runs once per layer, each copy patched at its own layer, all in a few batched
    passes (:func:`sweep` of :meth:`Method.hypothesis` under :class:`NextToken`).

    Args:
        layers: the layers to sweep (default: all).
        thetas: θ already extracted for these examples at ``layers``
            (``[n_examples, n_layers_swept, d_model]``), to skip the extraction.
        first_token: score the next token against the answer's first token (first-token
            accuracy), so answers of several tokens can choose a layer for the generation
            modes; by default an answer must be one token.
        run: a :class:`RunConfig` or a :class:`Runner` of ``model``; its
            ``sweep_batch_size`` sets the ``(example, layer)`` rows per pass.

    Example:
        >>> sweep = layer_sweep(model, dev_examples)  # doctest: +SKIP
        >>> sweep.best_layer, sweep.best_accuracy  # doctest: +SKIP
        (9, 0.94)
    """
    method = Method.hypothesis(thetas)
    return sweep_on(
        Runner.bind(model, run, fmt), method, examples, NextToken(first_token), layers=layers
    )


def swept_layers(n_layers: int, layers: Sequence[int] | None) -> list[int]:
    """The layers a sweep covers: all, or ``layers`` checked against ``range(n_layers)``.

    Raises:
        ValueError: for a layer out of range or an empty list.
    """
    swept = list(range(n_layers)) if layers is None else [check_layer(x, n_layers) for x in layers]
    if not swept:
        raise ValueError("no layers to sweep")
    return swept
