"""The layer sweep: Hypothesis accuracy at every layer on a dev set, to choose L."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

from tvlens._example import ICLExample
from tvlens.engine.config import RunConfig
from tvlens.engine.patches import Patches
from tvlens.engine.runner import Runner
from tvlens.evaluation.extract import extract_thetas
from tvlens.evaluation.results import LayerSweepResult
from tvlens.evaluation.scoring import answer_ids, check_examples
from tvlens.hooks import check_layer
from tvlens.prompts import DEFAULT_FORMAT, PromptFormat, zero_shot_prompts
from tvlens.protocol import HookedModel


def layer_sweep(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    layers: Sequence[int] | None = None,
    fmt: PromptFormat = DEFAULT_FORMAT,
    thetas: Float[Tensor, "n n_layers d_model"] | None = None,
    first_token: bool = False,
    run: RunConfig | Runner | None = None,
) -> LayerSweepResult:
    """Hypothesis accuracy at every layer on a dev set; pick the best layer.

    θ(S) of every example comes from one extraction for all layers; then each zero-shot
    prompt runs once per layer, each copy patched at its own layer, all in a few batched
    passes rather than ``n_examples * n_layers`` runs. Where the Runner packs, an example
    is one row: ``x`` once, then one copy of the arrow per layer (:mod:`tvlens.engine.packing`).

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
    check_examples(examples)
    runner = Runner.bind(model, run)
    swept = swept_layers(runner.n_layers, layers)
    answers = answer_ids(model, examples, fmt, first_token=first_token)
    thetas = sweep_thetas(model, examples, swept, thetas, fmt, runner)
    n, k = len(examples), len(swept)
    # One prompt per (example, layer), example-major: each example's copies form a group.
    texts = [t for t in zero_shot_prompts(examples, fmt) for _ in range(k)]
    patches = Patches(thetas.reshape(n * k, -1), torch.tensor(swept, dtype=torch.long).repeat(n))
    predicted = runner.predict(
        texts, fmt, patches=patches, group_size=k, rows_per_pass=runner.config.sweep_batch_size
    )
    return sweep_result(examples, swept, predicted.values.reshape(n, k), answers)


def swept_layers(n_layers: int, layers: Sequence[int] | None) -> list[int]:
    """The layers a sweep covers: all, or ``layers`` checked against ``range(n_layers)``.

    Raises:
        ValueError: for a layer out of range or an empty list.
    """
    swept = list(range(n_layers)) if layers is None else [check_layer(x, n_layers) for x in layers]
    if not swept:
        raise ValueError("no layers to sweep")
    return swept


def sweep_thetas(
    model: HookedModel,
    examples: Sequence[ICLExample],
    swept: Sequence[int],
    thetas: Float[Tensor, "n n_layers d_model"] | None,
    fmt: PromptFormat,
    runner: Runner,
) -> Float[Tensor, "n n_layers d_model"]:
    """θ of every example at the ``swept`` layers: extracted once, or ``thetas`` checked.

    Raises:
        ValueError: for ``thetas`` not ``[n_examples, len(swept), d_model]``.
    """
    if thetas is None:
        return extract_thetas(model, examples, fmt=fmt, layers=list(swept), run=runner)
    if tuple(thetas.shape) != (len(examples), len(swept), runner.d_model):
        raise ValueError(
            "thetas must be [n_examples, n_layers_swept, d_model] = "
            f"[{len(examples)}, {len(swept)}, {runner.d_model}], got {tuple(thetas.shape)}"
        )
    return thetas


def sweep_result(
    examples: Sequence[ICLExample],
    swept: Sequence[int],
    preds: Int[Tensor, "n n_layers"],
    answers: Int[Tensor, " n"],
) -> LayerSweepResult:
    """Per-layer accuracy of greedy tokens ``preds`` against one answer token per example."""
    correct = preds == answers[:, None]
    tasks = {ex.task for ex in examples}
    return LayerSweepResult(
        task=tasks.pop() if len(tasks) == 1 else "mixed",
        layers=tuple(swept),
        accuracy=tuple(float(a) for a in correct.float().mean(0).tolist()),
        correct=correct,
        predicted_token_ids=preds,
    )
