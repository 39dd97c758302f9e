"""The three modes on answers of any length: greedy generation with θ, scored by text.

Each is a :class:`~tvlens.evaluation.methods.Method` under the
:class:`~tvlens.evaluation.scorers.Generation` scorer: the decoding itself is
:meth:`tvlens.engine.runner.Runner.generate` (:mod:`tvlens.engine.decoding`), and each
continuation is scored by :mod:`tvlens.evaluation.answer_scoring` (exact match, first token,
token F1, within k tokens).

Example:
    >>> result = generate_hypothesis(model, examples, 9, max_new_tokens=6)  # doctest: +SKIP
    >>> result.exact_match, result.first_token_accuracy  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

from jaxtyping import Float
from torch import Tensor

from tvlens._example import ICLExample
from tvlens.engine.decoding import At
from tvlens.engine.runner import RunArg
from tvlens.evaluation.answer_scoring import GenerationResult
from tvlens.evaluation.methods import Method
from tvlens.evaluation.scorers import Generation
from tvlens.evaluation.sweep import run_method, sweep
from tvlens.hooks import PatchMode
from tvlens.prompts import PromptFormat
from tvlens.protocol import HookedModel
from tvlens.vectors import TaskVector


def generate_regular(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    fmt: PromptFormat | None = None,
    run: RunArg = None,
    max_new_tokens: int = 8,
    stop: str | Sequence[str] | None = None,
) -> GenerationResult:
    """Regular ICL, generated: the greedy continuation of ``S + x ->``.

    Args:
        run: a :class:`RunConfig` or a :class:`Runner` of ``model``.
        max_new_tokens: the most tokens generated per example (1 is next-token scoring).
        stop: stop string(s); default the format's demo separator.
    """
    scorer = Generation(max_new_tokens, stop=stop)
    return run_method(model, Method.regular(), examples, scorer, fmt=fmt, run=run)


def generate_baseline(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    fmt: PromptFormat | None = None,
    run: RunArg = None,
    max_new_tokens: int = 8,
    stop: str | Sequence[str] | None = None,
) -> GenerationResult:
    """Baseline, generated: the greedy continuation of ``x ->``, no demos, no patch."""
    scorer = Generation(max_new_tokens, stop=stop)
    return run_method(model, Method.baseline(), examples, scorer, fmt=fmt, run=run)


def generate_hypothesis(
    model: HookedModel,
    examples: Sequence[ICLExample],
    layer: int,
    *,
    vector: TaskVector | Float[Tensor, "n d_model"] | None = None,
    fmt: PromptFormat | None = None,
    mode: PatchMode = "replace",
    at: At = "arrow",
    run: RunArg = None,
    max_new_tokens: int = 8,
    stop: str | Sequence[str] | None = None,
) -> GenerationResult:
    """Hypothesis, generated: the continuation of ``x ->`` with θ patched at ``layer``.

    θ(S) per example is extracted as :func:`tvlens.evaluation.modes.hypothesis` extracts it.

    Args:
        vector: ``None`` (each example's own θ(S)), a :class:`TaskVector`, or
            ``[n, d_model]``: as in :func:`tvlens.evaluation.modes.hypothesis`.
        mode: ``"replace"`` the residual (the paper) or ``"add"`` to it.
        at: ``"arrow"`` patches only the arrow (the paper); ``"all"`` also every
            generated position.
        run: a :class:`RunConfig` or a :class:`Runner` of ``model``.
        max_new_tokens: the most tokens generated per example.
        stop: stop string(s); default the format's demo separator.
    """
    scorer = Generation(max_new_tokens, at, stop)
    method = Method.hypothesis(vector, mode=mode)
    return run_method(model, method, examples, scorer, layer=layer, fmt=fmt, run=run)


def generate_sweep(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    layers: Sequence[int] | None = None,
    fmt: PromptFormat | None = None,
    thetas: Float[Tensor, "n n_layers d_model"] | None = None,
    run: RunArg = None,
    max_new_tokens: int = 8,
    stop: str | Sequence[str] | None = None,
) -> dict[int, GenerationResult]:
    """Hypothesis, generated, at every layer: ``{layer: result}`` (exact match per layer).

    θ of every example at every layer comes from one extraction; then all
    ``n_examples * n_layers`` patched zero-shot prompts are decoded together, each patched
    at its own layer, in passes of ``sweep_batch_size`` rows (:func:`sweep` of
    :meth:`Method.hypothesis` under :class:`Generation`).
    """
    scorer = Generation(max_new_tokens, stop=stop)
    method = Method.hypothesis(thetas)
    return sweep(model, method, examples, scorer, layers=layers, fmt=fmt, run=run)
