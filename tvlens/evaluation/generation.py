"""The three modes on answers of any length: greedy generation with θ, scored by text.

The decoding itself is :meth:`tvlens.engine.runner.Runner.generate`
(:mod:`tvlens.engine.decoding`); this module builds the prompts and θ as
:mod:`tvlens.evaluation.modes` does and scores each continuation
(:mod:`tvlens.evaluation.answer_scoring`: exact match, first token, token F1, within k
tokens).

Example:
    >>> result = generate_hypothesis(model, examples, 9, max_new_tokens=6)  # doctest: +SKIP
    >>> result.exact_match, result.first_token_accuracy  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._example import ICLExample
from tvlens.engine.config import RunConfig
from tvlens.engine.decoding import At, Generations, check_generation_args
from tvlens.engine.patches import Patches
from tvlens.engine.runner import Runner
from tvlens.evaluation.answer_scoring import (
    GeneratedPrediction,
    GenerationResult,
    as_stops,
    score_answer,
)
from tvlens.evaluation.extract import hypothesis_thetas
from tvlens.evaluation.scoring import check_examples
from tvlens.evaluation.sweep import sweep_thetas, swept_layers
from tvlens.hooks import PatchMode, check_layer
from tvlens.prompts import (
    DEFAULT_FORMAT,
    PromptFormat,
    answer_token_ids,
    icl_prompts,
    zero_shot_prompts,
)
from tvlens.protocol import HookedModel
from tvlens.vectors import TaskVector

Run = RunConfig | Runner | None


# ---- the three modes ---------------------------------------------------------------------
def _result(
    runner: Runner,
    mode: str,
    examples: Sequence[ICLExample],
    gens: Generations,
    fmt: PromptFormat,
    stops: tuple[str, ...],
    max_new_tokens: int,
    layer: int | None = None,
    at: str | None = None,
) -> GenerationResult:
    # Normalization is the format's: cut at its separator as well as at the stop strings.
    cut = tuple(dict.fromkeys((fmt.demo_sep, *stops)))
    tok = runner.model.tokenizer
    out = []
    for i, ex in enumerate(examples):
        g = gens[i]
        answer_ids = tuple(answer_token_ids(tok, ex.answer, fmt))
        out.append(
            GeneratedPrediction(
                mode=mode,
                task=ex.task,
                query=ex.query,
                answer=ex.answer,
                answer_token_ids=answer_ids,
                generated_token_ids=g.token_ids,
                generated_text=g.text,
                stop_reason=g.stop_reason,
                score=score_answer(g.text, g.token_ids, ex.answer, answer_ids, cut),
                input_ids=g.input_ids,
                demos=ex.demos if mode != "baseline" else (),
                dummy_queries=ex.dummy_queries if mode == "hypothesis" else (),
                layer=layer,
            )
        )
    return GenerationResult(mode, tuple(out), max_new_tokens, cut, layer, at)


def _unpatched(
    model: HookedModel,
    mode: str,
    examples: Sequence[ICLExample],
    fmt: PromptFormat,
    run: Run,
    max_new_tokens: int,
    stop: str | Sequence[str] | None,
) -> GenerationResult:
    check_examples(examples)
    check_generation_args(max_new_tokens, "arrow")
    runner = Runner.bind(model, run)
    stops = as_stops(fmt.demo_sep if stop is None else stop)
    texts = icl_prompts(examples, fmt) if mode == "regular" else zero_shot_prompts(examples, fmt)
    gens = runner.generate(texts, fmt, max_new_tokens=max_new_tokens, stop=stops)
    return _result(runner, mode, examples, gens, fmt, stops, max_new_tokens)


def generate_regular(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    fmt: PromptFormat = DEFAULT_FORMAT,
    run: Run = None,
    max_new_tokens: int = 8,
    stop: str | Sequence[str] | None = None,
) -> GenerationResult:
    """Regular ICL, generated: the greedy continuation of ``S + x ->``.

    Args:
        run: a :class:`RunConfig` or a :class:`Runner` of ``model``.
        max_new_tokens: the most tokens generated per example (1 is next-token scoring).
        stop: stop string(s); default the format's demo separator.
    """
    return _unpatched(model, "regular", examples, fmt, run, max_new_tokens, stop)


def generate_baseline(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    fmt: PromptFormat = DEFAULT_FORMAT,
    run: Run = None,
    max_new_tokens: int = 8,
    stop: str | Sequence[str] | None = None,
) -> GenerationResult:
    """Baseline, generated: the greedy continuation of ``x ->``, no demos, no patch."""
    return _unpatched(model, "baseline", examples, fmt, run, max_new_tokens, stop)


def generate_hypothesis(
    model: HookedModel,
    examples: Sequence[ICLExample],
    layer: int,
    *,
    vector: TaskVector | Float[Tensor, "n d_model"] | None = None,
    fmt: PromptFormat = DEFAULT_FORMAT,
    mode: PatchMode = "replace",
    at: At = "arrow",
    run: Run = None,
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
    check_examples(examples)
    check_generation_args(max_new_tokens, at)
    runner = Runner.bind(model, run)
    layer = check_layer(layer, runner.n_layers)
    stops = as_stops(fmt.demo_sep if stop is None else stop)
    thetas, template = hypothesis_thetas(model, examples, layer, vector, fmt, runner)
    patches = Patches.at_layer(thetas, layer, mode, template)
    gens = runner.generate(
        zero_shot_prompts(examples, fmt),
        fmt,
        patches=patches,
        at=at,
        max_new_tokens=max_new_tokens,
        stop=stops,
    )
    return _result(runner, "hypothesis", examples, gens, fmt, stops, max_new_tokens, layer, at)


def generate_sweep(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    layers: Sequence[int] | None = None,
    fmt: PromptFormat = DEFAULT_FORMAT,
    thetas: Float[Tensor, "n n_layers d_model"] | None = None,
    run: Run = None,
    max_new_tokens: int = 8,
    stop: str | Sequence[str] | None = None,
) -> dict[int, GenerationResult]:
    """Hypothesis, generated, at every layer: ``{layer: result}`` (exact match per layer).

    θ of every example at every layer comes from one extraction; then all
    ``n_examples * n_layers`` patched zero-shot prompts are decoded together, each patched
    at its own layer, in passes of ``sweep_batch_size`` rows, as :func:`tvlens.layer_sweep`
    does for one token.
    """
    check_examples(examples)
    check_generation_args(max_new_tokens, "arrow")
    runner = Runner.bind(model, run)
    swept = swept_layers(runner.n_layers, layers)
    thetas = sweep_thetas(model, examples, swept, thetas, fmt, runner)
    stops = as_stops(fmt.demo_sep if stop is None else stop)
    n, k = len(examples), len(swept)
    texts = [t for t in zero_shot_prompts(examples, fmt) for _ in range(k)]
    patches = Patches(thetas.reshape(n * k, -1), torch.tensor(swept, dtype=torch.long).repeat(n))
    gens = runner.generate(
        texts,
        fmt,
        patches=patches,
        max_new_tokens=max_new_tokens,
        stop=stops,
        rows_per_pass=runner.config.sweep_batch_size,
    )
    out = {}
    for j, layer in enumerate(swept):
        rows = list(range(j, n * k, k))
        part = Generations(
            token_ids=tuple(gens.token_ids[r] for r in rows),
            texts=tuple(gens.texts[r] for r in rows),
            input_ids=tuple(gens.input_ids[r] for r in rows),
            stop_reasons=tuple(gens.stop_reasons[r] for r in rows),
            kv_cache=gens.kv_cache,
        )
        out[layer] = _result(
            runner, "hypothesis", examples, part, fmt, stops, max_new_tokens, layer, "arrow"
        )
    return out
