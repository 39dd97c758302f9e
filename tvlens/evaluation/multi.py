"""Multi-position task vectors (``tv_multi``): one θ per step of the answer.

The paper reads one θ, at the arrow of ``S + x' ->``, and patches it at the arrow of
``x ->``. That θ carries the answer's first token; the rest of a multi-token answer, and
where it stops, come from positions the paper never patches. A multi-position task vector
reads the ICL run further: with the dummy query's answer ``y'`` appended (teacher-forced),
``θ_t`` is ``blocks.L.hook_resid_post`` at the position of answer step ``t``, that is the
arrow for ``t = 0`` (the paper's θ) and answer token ``t`` for ``t = 1..T`` (the last one is
where the separator is predicted). Each θ_t is averaged over the example's dummy queries
(a dummy with a shorter answer repeats its last θ). Generating from ``x ->``, the position
of step ``t`` gets ``θ_t`` (:class:`~tvlens.engine.patches.StepPatches`; the last θ repeats
past the dummies' answers).

:class:`MultiPosition` is the method (a :class:`~tvlens.evaluation.methods.MethodLike`): under
:class:`~tvlens.evaluation.scorers.NextToken`, or :class:`Generation` with ``at="arrow"``, only
θ_0 is patched and it equals TV Hypothesis; with ``Generation(at="all")`` every step gets its θ.

Example:
    >>> answers = dict(task.pairs)  # a dummy query's answer, looked up  # doctest: +SKIP
    >>> res = run_method(model, MultiPosition(answers), test, Generation(8, at="all"),
    ...                  layer=9)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._compat import RESID_POST_TEMPLATE
from tvlens._compat import n_ctx as context_length
from tvlens._example import ICLExample
from tvlens.engine.batching import chunks, length_sorted
from tvlens.engine.patches import StepPatches
from tvlens.engine.runner import Runner
from tvlens.evaluation.scoring import check_example_list
from tvlens.hooks import PatchMode, StopForward, check_layer
from tvlens.prompts import PromptFormat, dummy_prompts, zero_shot_prompts
from tvlens.protocol import HookPair
from tvlens.tokenization import answer_token_ids, pad_rows, pad_token_id


def _check_runner(runner: Any) -> None:
    if not isinstance(runner, Runner):
        raise TypeError(
            f"runner must be a tvlens Runner, got {type(runner).__name__}: pass Runner(model) "
            "(or use MultiPosition through run_method / sweep, which take the model)"
        )


def _check_answers(answers: Any) -> None:
    if not isinstance(answers, Mapping):
        raise TypeError(
            f"dummy_answers must map each dummy query to its answer, got "
            f"{type(answers).__name__}; e.g. dict(task.pairs)"
        )


def _dummy_answer(answers: Mapping[str, str], dummy: str, ex: ICLExample) -> str:
    if dummy not in answers:
        raise ValueError(
            f"no answer for the dummy query {dummy!r} of the example with query {ex.query!r}: "
            "multi-position task vectors append each dummy query's answer; pass "
            "dummy_answers= a mapping that holds it (e.g. dict(task.pairs))"
        )
    answer = answers[dummy]
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"the answer of dummy query {dummy!r} is not a non-empty str: {answer!r}")
    return answer


def _forced_rows(
    runner: Runner, examples: Sequence[ICLExample], answers: Mapping[str, str]
) -> tuple[list[list[int]], list[int], list[int]]:
    """Per dummy prompt: prompt + answer token ids, the arrow's index, the answer's length."""
    fmt = runner.fmt
    ids = runner.token_ids(dummy_prompts(examples, fmt))
    tok = runner.model.tokenizer
    flat = [(ex, d) for ex in examples for d in ex.dummy_queries]
    rows, arrows, lengths = [], [], []
    limit = context_length(runner.model)
    for prompt, (ex, dummy) in zip(ids, flat, strict=True):
        ans = answer_token_ids(tok, _dummy_answer(answers, dummy, ex), fmt)
        row = [*prompt, *ans]
        if limit and len(row) > limit:
            raise ValueError(
                f"the dummy prompt of {dummy!r} with its answer appended is {len(row)} tokens, "
                f"past the model's context of {limit}: use fewer demonstrations or shorter pairs"
            )
        rows.append(row)
        arrows.append(len(prompt) - 1)
        lengths.append(len(ans))
    return rows, arrows, lengths


@torch.inference_mode()
def _resid_batch(
    runner: Runner, rows: Sequence[list[int]], layers: Sequence[int]
) -> Float[Tensor, "b n_layers width d_model"]:
    """``hook_resid_post`` at ``layers`` over every position of one right-padded batch;
    the pass stops after the last layer."""
    tokens, mask, _ = pad_rows(rows, pad_token_id(runner.model.tokenizer), "right")
    seen: dict[int, Tensor] = {}
    last = max(layers)

    def grab(act: Tensor, hook: Any, layer: int) -> None:
        seen[layer] = act.detach().float().cpu()
        if layer == last:
            raise StopForward

    hooks: list[HookPair] = [
        (RESID_POST_TEMPLATE.format(layer=la), lambda act, hook, la=la: grab(act, hook, la))
        for la in sorted(set(layers))
    ]
    with contextlib.suppress(StopForward):
        runner.run(
            tokens.to(runner.device),
            runner.check_hooks(hooks),
            attention_mask=mask.to(runner.device),
        )
    return torch.stack([seen[la] for la in layers], 1)


def _resid_rows(
    runner: Runner, rows: Sequence[list[int]], layers: Sequence[int]
) -> list[Float[Tensor, "n_layers seq d_model"]]:
    """:func:`_resid_batch` over length-sorted batches; one ``[k, len(row), d]`` per row."""
    out: dict[int, Tensor] = {}
    order = length_sorted([len(r) for r in rows])  # batches of similar token counts
    for sl in chunks(len(order), runner.config.batch_size):
        idx = order[sl]
        stacked = _resid_batch(runner, [rows[i] for i in idx], layers)
        for j, i in enumerate(idx):
            out[i] = stacked[j, :, : len(rows[i])]
    return [out[i] for i in range(len(rows))]


def answer_thetas_on(
    runner: Runner,
    examples: Sequence[ICLExample],
    layers: Sequence[int],
    dummy_answers: Mapping[str, str],
) -> Float[Tensor, "n n_layers n_steps d_model"]:
    """θ_t of every example at each of ``layers``, for ``t = 0..n_steps - 1``.

    ``n_steps`` is one more than the longest answer of any dummy query (in tokens); an
    example whose dummies' answers are shorter repeats its last θ up to it.

    Raises:
        TypeError: ``runner`` not a Runner, ``dummy_answers`` not a mapping.
        ValueError: no layers or one out of range, an example without demonstrations or
            dummy queries, a dummy query with no answer in ``dummy_answers``, or a
            teacher-forced prompt past the context.
    """
    _check_runner(runner)
    _check_answers(dummy_answers)
    check_example_list(examples)
    if len(layers) == 0:
        raise ValueError("no layers: pass at least one layer to read θ_t at")
    for ex in examples:
        if not ex.demos or not ex.dummy_queries:
            raise ValueError(
                f"the example with query {ex.query!r} has no demonstrations or no dummy "
                "queries: a multi-position task vector is read from S + x' -> y'"
            )
    n_layers = runner.n_layers
    wanted = [check_layer(la, n_layers) for la in layers]
    rows, arrows, lengths = _forced_rows(runner, examples, dummy_answers)
    resid = _resid_rows(runner, rows, wanted)
    n_steps = max(lengths) + 1
    per_dummy = []
    for acts, arrow, length in zip(resid, arrows, lengths, strict=True):
        steps = [arrow + min(t, length) for t in range(n_steps)]
        per_dummy.append(acts[:, steps])  # [k, n_steps, d]
    out, start = [], 0
    for ex in examples:
        m = len(ex.dummy_queries)
        out.append(torch.stack(per_dummy[start : start + m]).mean(0))
        start += m
    return torch.stack(out)


@dataclass(frozen=True)
class MultiPosition:
    """Multi-position task vectors as a method: ``x ->`` with θ_t at step ``t`` of layer L.

    Attributes:
        dummy_answers: the answer of every dummy query (e.g. ``dict(task.pairs)``).
        name: the mode name its predictions carry.
        mode: ``"replace"`` the residual (as the paper's θ) or ``"add"`` to it.
    """

    dummy_answers: Mapping[str, str] = field(repr=False)
    name: str = "tv_multi"
    mode: PatchMode = "replace"

    def __post_init__(self) -> None:
        _check_answers(self.dummy_answers)
        if self.mode not in ("replace", "add"):
            raise ValueError(f"mode must be 'replace' or 'add', got {self.mode!r}")

    def prompts(self, examples: Sequence[ICLExample], fmt: PromptFormat) -> list[str]:
        """The zero-shot prompt ``x ->`` of each example."""
        return zero_shot_prompts(examples, fmt)

    def patches(
        self, runner: Runner, examples: Sequence[ICLExample], layers: Sequence[int]
    ) -> StepPatches:
        """One :class:`StepPatches` row per ``(example, layer)``, example-major."""
        thetas = answer_thetas_on(runner, examples, layers, self.dummy_answers)
        n, k, s, d = thetas.shape
        at = torch.tensor(list(layers), dtype=torch.long).repeat(n)
        return StepPatches(thetas.reshape(n * k, s, d), at, self.mode)


__all__ = ["MultiPosition", "answer_thetas_on"]
