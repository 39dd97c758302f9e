"""Causal indirect effect of every attention head, batched over heads (Todd et al. 2024).

On a corrupted prompt (demonstrations with shuffled labels), head ``(L, h)``'s ``hook_z`` at
the arrow is replaced by its mean over clean prompts
(:func:`tvlens.fv.heads.mean_head_activations`);
its causal indirect effect (CIE) is the rise in the probability of the correct answer token
over the unpatched corrupted run. The average indirect effect (AIE) is the mean over prompts.

All heads of a prompt run together: the prompt is repeated once per head plus once
unpatched, each copy patching its own head, and :meth:`Runner.predict` runs the copies as
one group. Where the Runner packs (a bridge over an HF model), a group is one row: the
prompt's tokens once, then one copy of the arrow per head, since a patch at the arrow can
change nothing before it. Elsewhere the copies are plain batched rows. Either way no Python
loop runs a forward pass per head (tested equal to that loop,
:func:`tvlens.oracles.reference_head_effects`, which computes the mean
``hook_z`` itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._compat import model_name
from tvlens._example import ICLExample
from tvlens.engine.config import RunConfig
from tvlens.engine.runner import Runner
from tvlens.evaluation.scoring import answer_ids, check_example_list
from tvlens.fv.heads import Head, HeadActivations, HeadPatches
from tvlens.prompts import PromptFormat, icl_prompts
from tvlens.protocol import HookedModel

AIEMethod = Literal["exact", "attribution", "attribution+verify"]
"""How :func:`indirect_effects` computes each head's effect."""
AIE_METHODS: tuple[AIEMethod, ...] = ("exact", "attribution", "attribution+verify")


@dataclass(frozen=True)
class IndirectEffects:
    """Causal indirect effects of every head on a set of corrupted prompts.

    Attributes:
        cie: ``[n, n_layers, n_heads]`` rise in P(answer) when the head is patched.
        corrupted_prob: ``[n]`` P(answer) on the unpatched corrupted prompts.
        corrupted_correct: ``[n]`` whether the corrupted prompt's greedy token is the answer
            (a task whose corruption leaves this high has a small, untrustworthy AIE).
        clean_prob: ``[n_clean]`` P(answer) on the clean prompts of the mean activations.
        examples: the corrupted examples, in the order of ``cie``'s rows.
        answer_token_ids: the token whose probability was measured on each of them.
        clean_examples: the clean examples of the mean activations (what was patched in).
        method: how ``cie`` was computed: ``"exact"`` (a pass per head),
            ``"attribution"`` (the first-order estimate, :mod:`tvlens.fv.attribution`) or
            ``"attribution+verify"`` (exact for the heads in ``verified``, estimated for the
            rest).
        verified: ``[n_layers, n_heads]`` which heads' CIE is exact (None: every head's with
            ``"exact"``, none with ``"attribution"``).
        estimate: ``[n, n_layers, n_heads]`` the attribution estimate of every head's CIE
            (None with ``"exact"``).
    """

    task: str
    model_name: str
    cie: Float[Tensor, "n n_layers n_heads"]
    corrupted_prob: Float[Tensor, " n"]
    corrupted_correct: Tensor
    clean_prob: Float[Tensor, " n_clean"]
    examples: tuple[ICLExample, ...] = ()
    answer_token_ids: tuple[int, ...] = ()
    clean_examples: tuple[ICLExample, ...] = ()
    method: AIEMethod = "exact"
    verified: Tensor | None = None
    estimate: Float[Tensor, "n n_layers n_heads"] | None = None

    @property
    def aie(self) -> Float[Tensor, "n_layers n_heads"]:
        """The average indirect effect of each head (mean CIE over prompts)."""
        return self.cie.mean(0)

    @property
    def n_prompts(self) -> int:
        """Corrupted prompts averaged."""
        return int(self.cie.shape[0])

    @property
    def corrupted_accuracy(self) -> float:
        """Accuracy of the corrupted prompts (low when the corruption corrupts)."""
        return float(self.corrupted_correct.float().mean())

    @property
    def prob_drop(self) -> float:
        """Mean P(answer) on clean minus corrupted prompts: near 0, the corruption does not
        corrupt (e.g. uppercase letters in any order still teach to_upper's format) and the
        AIE measures little."""
        return float(self.clean_prob.mean() - self.corrupted_prob.mean())

    def top_heads(self, k: int) -> list[tuple[int, int, float]]:
        """The ``k`` heads of largest AIE, as ``(layer, head, aie)``, largest first.

        With ``"attribution+verify"`` the verified heads (exact AIE) come before the others
        (estimated): a head the exact AIE did not confirm never outranks one it did.
        """
        if self.method != "attribution+verify" or self.verified is None:
            return top_heads(self.aie, k)
        if not 1 <= k <= self.aie.numel():
            raise ValueError(f"k must be in 1..{self.aie.numel()} (every head), got {k}")
        aie, n_heads = self.aie.flatten().tolist(), self.aie.shape[1]
        ver = self.verified.flatten().tolist()
        order = sorted(range(len(aie)), key=lambda i: (not ver[i], -aie[i]))[:k]
        return [(i // n_heads, i % n_heads, float(aie[i])) for i in order]

    def to_dataframe(self) -> Any:
        """One row per head: ``task``, ``layer``, ``head``, ``aie``, ``rank`` (as
        :meth:`top_heads` ranks them)."""
        import pandas as pd

        aie = self.aie
        ranked = {(la, h): r for r, (la, h, _) in enumerate(self.top_heads(aie.numel()))}
        rows = [
            {
                "task": self.task,
                "layer": la,
                "head": h,
                "aie": float(aie[la, h]),
                "rank": ranked[(la, h)],
            }
            for la in range(aie.shape[0])
            for h in range(aie.shape[1])
        ]
        return pd.DataFrame(rows)

    def figure(self, *, k: int = 10, title: str | None = None) -> Any:
        """A plotly heatmap of the AIE, the top ``k`` heads marked."""
        from tvlens.report.plots import aie_figure

        top = self.top_heads(min(k, self.aie.numel()))
        return aie_figure(self.aie, top=top, title=title or f"AIE: {self.task}")

    def to_record(self, k: int = 10) -> dict[str, Any]:
        """A JSON-ready summary: the AIE matrix, top heads, the corruption's strength, and
        what the AIE was computed from: the clean examples whose mean ``hook_z`` was patched
        in, the corrupted (shuffled-label) examples it was patched into and the answer token
        scored on each (examples as :func:`example_pairs`), how the effects were computed
        (``method``) and, by attribution, which heads' effect is exact (``verified_heads``)."""
        out: dict[str, Any] = {
            "aie": self.aie.tolist(),
            "top_heads": [[la, h, s] for la, h, s in self.top_heads(min(k, self.aie.numel()))],
            "n_corrupted": self.n_prompts,
            "corrupted_accuracy": self.corrupted_accuracy,
            "corrupted_prob": float(self.corrupted_prob.mean()),
            "clean_prob": float(self.clean_prob.mean()),
            "prob_drop": self.prob_drop,
            "clean_examples": [example_pairs(ex) for ex in self.clean_examples],
            "corrupted_examples": [example_pairs(ex) for ex in self.examples],
            "answer_token_ids": list(self.answer_token_ids),
            "method": self.method,
        }
        if self.verified is not None:
            out["verified_heads"] = self.verified.nonzero().tolist()
        return out


def example_pairs(example: ICLExample) -> list[list[str]]:
    """``example`` as ``[input, output]`` pairs: its demonstrations, then ``[query, answer]``.

    Example:
        >>> example_pairs(ICLExample(demos=(("a", "A"), ("b", "B")), query="c", answer="C"))
        [['a', 'A'], ['b', 'B'], ['c', 'C']]
    """
    return [[x, y] for x, y in example.demos] + [[example.query, example.answer]]


def top_heads(aie: Float[Tensor, "n_layers n_heads"], k: int) -> list[tuple[int, int, float]]:
    """The ``k`` heads of largest score in ``aie``, as ``(layer, head, score)``.

    Raises:
        ValueError: unless ``1 <= k <= n_layers * n_heads``.
    """
    if not 1 <= k <= aie.numel():
        raise ValueError(f"k must be in 1..{aie.numel()} (every head), got {k}")
    vals, flat = aie.flatten().topk(k)
    n_heads = aie.shape[1]
    return [
        (int(i) // n_heads, int(i) % n_heads, float(v))
        for v, i in zip(vals.tolist(), flat.tolist(), strict=True)
    ]


def mean_aie(effects: Sequence[IndirectEffects]) -> Float[Tensor, "n_layers n_heads"]:
    """The AIE averaged over tasks (each task weighs the same), for heads shared by tasks."""
    if not effects:
        raise ValueError("no indirect effects to average")
    return torch.stack([e.aie for e in effects]).mean(0)


def all_heads(n_layers: int, n_heads: int) -> list[Head]:
    """Every ``(layer, head)`` in layer-major order (the order of the CIE rows of a prompt)."""
    return [(la, h) for la in range(n_layers) for h in range(n_heads)]


def indirect_effects(
    model: HookedModel,
    examples: Sequence[ICLExample],
    activations: HeadActivations,
    *,
    heads: Sequence[Head] | None = None,
    fmt: PromptFormat | None = None,
    run: RunConfig | Runner | None = None,
    first_token: bool = False,
    method: AIEMethod = "exact",
    n_verify: int = 32,
) -> IndirectEffects:
    """The causal indirect effect of every head (or of ``heads``) on each prompt.

    Args:
        examples: the corrupted examples, usually ``shuffle_labels(clean_examples)``; their
            ICL prompts are patched and their answers scored.
        activations: mean head activations over clean prompts (what is patched in).
        heads: the heads to patch (default: all, layer-major); the CIE of the others is 0.
            Only with ``method="exact"``.
        run: a :class:`RunConfig` or a :class:`Runner` of ``model``; its
            ``sweep_batch_size`` sets the (prompt, head) rows per pass.
        first_token: P(the answer's first token), for answers of several tokens.
        method: ``"exact"`` (one pass per prompt and head), ``"attribution"`` (the
            first-order estimate of every head from one forward and one backward pass per
            prompt, :mod:`tvlens.fv.attribution`) or ``"attribution+verify"`` (the exact
            effect of the ``n_verify`` heads the estimate ranks first, which then rank
            before the rest).
        n_verify: heads recomputed exactly by ``"attribution+verify"`` (at most all).

    Example:
        >>> acts = mean_head_activations(model, clean)  # doctest: +SKIP
        >>> effects = indirect_effects(model, shuffle_labels(clean), acts)  # doctest: +SKIP
        >>> effects.top_heads(3)  # doctest: +SKIP
        [(9, 3, 0.32), (11, 2, 0.10), (10, 3, 0.06)]

    Raises:
        ValueError: activations of another model, a head out of range, an unknown
            ``method``, ``heads`` with an attribution method, or ``n_verify`` < 1.
    """
    check_example_list(examples)
    runner = Runner.bind(model, run, fmt)
    n_layers, n_heads = activations.n_layers, activations.n_heads
    if activations.model_name != model_name(model) or n_layers != runner.n_layers:
        raise ValueError(
            f"activations come from {activations.model_name!r} ({n_layers} layers), not this "
            f"model ({model_name(model)!r}, {runner.n_layers} layers); compute them on it"
        )
    if method not in AIE_METHODS:
        raise ValueError(f"method must be one of {', '.join(AIE_METHODS)}, got {method!r}")
    if method != "exact" and heads is not None:
        raise ValueError(f"heads= picks the heads of method='exact'; {method!r} ranks them all")
    if isinstance(n_verify, bool) or not isinstance(n_verify, int) or n_verify < 1:
        raise ValueError(f"n_verify must be an int >= 1, got {n_verify!r}")
    if heads is not None and any(len(tuple(h)) != 2 for h in heads):
        raise ValueError("each of heads must be a (layer, head) pair, e.g. heads=[(9, 3)]")
    chosen = all_heads(n_layers, n_heads) if heads is None else [(h[0], h[1]) for h in heads]
    for la, h in chosen:
        if not (0 <= la < n_layers and 0 <= h < n_heads):
            raise ValueError(f"head ({la}, {h}) is out of range: {n_layers} x {n_heads} heads")
    if method == "exact":
        return _exact(runner, examples, activations, chosen, first_token)
    return _attributed(runner, examples, activations, first_token, method, n_verify)


def _attributed(
    runner: Runner,
    examples: Sequence[ICLExample],
    activations: HeadActivations,
    first_token: bool,
    method: AIEMethod,
    n_verify: int,
) -> IndirectEffects:
    """:func:`indirect_effects` by attribution, the top ``n_verify`` verified if asked."""
    from tvlens.fv.attribution import attribution_scores

    est, prob, correct, answers = attribution_scores(
        runner, examples, activations, first_token=first_token
    )
    base = IndirectEffects(
        task=_task_name(examples),
        model_name=model_name(runner.model),
        cie=est,
        corrupted_prob=prob,
        corrupted_correct=correct,
        clean_prob=activations.clean_prob,
        examples=tuple(examples),
        answer_token_ids=tuple(int(a) for a in answers.tolist()),
        clean_examples=activations.examples,
        method="attribution",
        verified=torch.zeros(est.shape[1:], dtype=torch.bool),
        estimate=est,
    )
    if method == "attribution":
        return base
    top = [(la, h) for la, h, _ in top_heads(est.mean(0), min(n_verify, est[0].numel()))]
    exact = _exact(runner, examples, activations, top, first_token)
    verified = torch.zeros(est.shape[1:], dtype=torch.bool)
    verified[[la for la, _ in top], [h for _, h in top]] = True
    return replace(
        exact,
        cie=torch.where(verified, exact.cie, est),
        method="attribution+verify",
        verified=verified,
        estimate=est,
    )


def _task_name(examples: Sequence[ICLExample]) -> str:
    tasks = {ex.task for ex in examples}
    return tasks.pop() if len(tasks) == 1 else "mixed"


def _exact(
    runner: Runner,
    examples: Sequence[ICLExample],
    activations: HeadActivations,
    chosen: Sequence[Head],
    first_token: bool,
) -> IndirectEffects:
    """:func:`indirect_effects` of ``chosen`` heads, one patched row per (prompt, head)."""
    fmt, model = runner.fmt, runner.model
    n_layers, n_heads = activations.n_layers, activations.n_heads
    group = len(chosen) + 1  # every chosen head, then the unpatched prompt
    n = len(examples)
    answers = answer_ids(model, examples, fmt, first_token=first_token)
    layer_idx = torch.tensor([la for la, _ in chosen] + [-1], dtype=torch.long)
    head_idx = torch.tensor([h for _, h in chosen] + [0], dtype=torch.long)
    z = torch.cat([activations.z[layer_idx[:-1], head_idx[:-1]], activations.z[:1, 0]])
    patches = HeadPatches(
        vectors=z.repeat(n, 1), layers=layer_idx.repeat(n), heads=head_idx.repeat(n)
    )
    texts = [t for t in icl_prompts(examples, fmt) for _ in range(group)]

    def reduce(logits: Tensor, idx: Sequence[int]) -> Tensor:
        ans = answers[torch.as_tensor(list(idx)) // group].to(logits.device)
        # exp(logit - logsumexp): P(answer) without a second [rows, d_vocab] tensor.
        prob = (logits.gather(1, ans[:, None])[:, 0] - logits.logsumexp(-1)).exp()
        return torch.stack([prob, (logits.argmax(-1) == ans).float()], -1)

    values = runner.predict(
        texts,
        fmt,
        patches=patches,
        group_size=group,
        rows_per_pass=runner.config.sweep_batch_size,
        reduce=reduce,
    ).values.reshape(n, group, 2)
    prob = values[..., 0]
    cie = torch.zeros(n, n_layers, n_heads)
    cie[:, layer_idx[:-1], head_idx[:-1]] = prob[:, :-1] - prob[:, -1:]
    return IndirectEffects(
        task=_task_name(examples),
        model_name=model_name(model),
        cie=cie,
        corrupted_prob=prob[:, -1],
        corrupted_correct=values[:, -1, 1] > 0.5,
        clean_prob=activations.clean_prob,
        examples=tuple(examples),
        answer_token_ids=tuple(int(a) for a in answers.tolist()),
        clean_examples=activations.examples,
    )
