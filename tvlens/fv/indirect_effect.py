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
from dataclasses import dataclass
from typing import Any

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
        """The ``k`` heads of largest AIE, as ``(layer, head, aie)``, largest first."""
        return top_heads(self.aie, k)

    def to_dataframe(self) -> Any:
        """One row per head: ``task``, ``layer``, ``head``, ``aie``, ``rank``."""
        import pandas as pd

        aie = self.aie
        ranked = {(la, h): r for r, (la, h, _) in enumerate(top_heads(aie, aie.numel()))}
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
        scored on each (examples as :func:`example_pairs`)."""
        return {
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
        }


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
) -> IndirectEffects:
    """The causal indirect effect of every head (or of ``heads``) on each prompt.

    Args:
        examples: the corrupted examples, usually ``shuffle_labels(clean_examples)``; their
            ICL prompts are patched and their answers scored.
        activations: mean head activations over clean prompts (what is patched in).
        heads: the heads to patch (default: all, layer-major); the CIE of the others is 0.
        run: a :class:`RunConfig` or a :class:`Runner` of ``model``; its
            ``sweep_batch_size`` sets the (prompt, head) rows per pass.
        first_token: P(the answer's first token), for answers of several tokens.

    Example:
        >>> acts = mean_head_activations(model, clean)  # doctest: +SKIP
        >>> effects = indirect_effects(model, shuffle_labels(clean), acts)  # doctest: +SKIP
        >>> effects.top_heads(3)  # doctest: +SKIP
        [(9, 3, 0.32), (11, 2, 0.10), (10, 3, 0.06)]
    """
    check_example_list(examples)
    runner = Runner.bind(model, run, fmt)
    fmt = runner.fmt
    n_layers, n_heads = activations.n_layers, activations.n_heads
    if activations.model_name != model_name(model) or n_layers != runner.n_layers:
        raise ValueError(
            f"activations come from {activations.model_name!r} ({n_layers} layers), not this "
            f"model ({model_name(model)!r}, {runner.n_layers} layers); compute them on it"
        )
    chosen = all_heads(n_layers, n_heads) if heads is None else [tuple(h) for h in heads]
    for la, h in chosen:
        if not (0 <= la < n_layers and 0 <= h < n_heads):
            raise ValueError(f"head ({la}, {h}) is out of range: {n_layers} x {n_heads} heads")
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
    tasks = {ex.task for ex in examples}
    return IndirectEffects(
        task=tasks.pop() if len(tasks) == 1 else "mixed",
        model_name=model_name(model),
        cie=cie,
        corrupted_prob=prob[:, -1],
        corrupted_correct=values[:, -1, 1] > 0.5,
        clean_prob=activations.clean_prob,
        examples=tuple(examples),
        answer_token_ids=tuple(int(a) for a in answers.tolist()),
        clean_examples=activations.examples,
    )
