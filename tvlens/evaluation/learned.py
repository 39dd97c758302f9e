"""Learned task vectors (``tv_learned``): vectors at layer L fit by gradient descent.

How much of a whole answer *can* vectors at layer L carry? :func:`learn_vectors` starts from
extracted θ (one vector for the arrow, or one per answer step as in
:mod:`tvlens.evaluation.multi`) and fits them, the model frozen, to the model's own ICL
answers on the **dev** examples: the zero-shot prompt ``x ->`` with the vectors patched
(step ``t``'s vector replacing ``blocks.L.hook_resid_post`` at the arrow + ``t``), every token
of the answer teacher-forced, the loss the mean cross-entropy of those tokens (the separator
that ends the answer included). A fixed number of Adam steps over shuffled mini-batches of
``batch_size`` examples (seeded); test examples are never seen. The result is an upper bound of
what extracted vectors at L could do, not a method that needs no training.

Example:
    >>> learned = learn_vectors(runner, dev, 9, targets, init=theta[None])  # doctest: +SKIP
    >>> run_method(model, LearnedVectors.method(learned), test, Generation(8, at="all"),
    ...            layer=9)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._compat import RESID_POST_TEMPLATE
from tvlens._example import ICLExample
from tvlens.engine.frozen import frozen
from tvlens.engine.patches import StepPatches
from tvlens.engine.runner import Runner
from tvlens.evaluation.scoring import check_example_list
from tvlens.hooks import PatchMode, check_layer, check_vectors
from tvlens.prompts import PromptFormat, zero_shot_prompts
from tvlens.protocol import HookPair
from tvlens.tokenization import pad_rows, pad_token_id


@dataclass(frozen=True)
class LearnedVectors:
    """Vectors at one layer fit to answers: ``vectors[t]`` patches step ``t``.

    Attributes:
        vectors: ``[n_steps, d_model]`` (one step: the arrow only).
        layer: the layer they were fit at (and must be patched at).
        init: the vectors they started from.
        losses: the training loss before each step, then after the last.
        steps: Adam steps taken; lr: its learning rate, relative to the init's per-coordinate
            scale; seed: the mini-batch order's.
        after: how the steps after the arrow were patched while fitting (and must be):
            ``"replace"`` the generated token's residual, or ``"add"`` to it. The arrow's
            vector always replaces.
    """

    vectors: Float[Tensor, "n_steps d_model"]
    layer: int
    init: Float[Tensor, "n_steps d_model"] = field(repr=False)
    losses: tuple[float, ...]
    steps: int
    lr: float
    seed: int
    after: PatchMode = "replace"

    def method(self, name: str = "tv_learned") -> LearnedMethod:
        """These vectors as a method (zero-shot prompt, :class:`StepPatches`)."""
        return LearnedMethod(self, name)


@dataclass(frozen=True)
class LearnedMethod:
    """A :class:`~tvlens.evaluation.methods.MethodLike`: ``x ->`` with learned vectors at L."""

    learned: LearnedVectors
    name: str = "tv_learned"

    def prompts(self, examples: Sequence[ICLExample], fmt: PromptFormat) -> list[str]:
        """The zero-shot prompt ``x ->`` of each example."""
        return zero_shot_prompts(examples, fmt)

    def patches(
        self, runner: Runner, examples: Sequence[ICLExample], layers: Sequence[int]
    ) -> StepPatches:
        """The same vectors for every example; only at the layer they were learned at.

        Raises:
            ValueError: a layer other than the one the vectors were fit at.
        """
        if any(int(la) != self.learned.layer for la in layers):
            raise ValueError(
                f"these vectors were learned at layer {self.learned.layer}; patch them there "
                f"(layer={self.learned.layer}), not at {list(layers)}"
            )
        n, vec = len(examples) * len(layers), self.learned.vectors
        at = torch.full((n,), self.learned.layer, dtype=torch.long)
        return StepPatches(vec[None].expand(n, -1, -1).clone(), at, after=self.learned.after)


def _batch_loss(
    runner: Runner,
    prompts: Sequence[list[int]],
    targets: Sequence[Sequence[int]],
    vectors: Tensor,
    layer: int,
    after: PatchMode = "replace",
) -> Tensor:
    """Mean cross-entropy of ``targets`` teacher-forced after ``prompts``, vectors patched
    (the arrow's replacing; the later steps' as ``after`` says)."""
    rows = [[*p, *t[:-1]] for p, t in zip(prompts, targets, strict=True)]
    tokens, mask, _ = pad_rows(rows, pad_token_id(runner.model.tokenizer), "right")
    b_idx = torch.tensor([i for i, t in enumerate(targets) for _ in t])
    steps = torch.tensor([s for t in targets for s in range(len(t))])
    pos = torch.tensor([len(prompts[i]) - 1 for i in b_idx.tolist()]) + steps
    s_idx = steps.clamp(max=vectors.shape[0] - 1)
    device = runner.device

    def patch(act: Tensor, hook: object) -> Tensor:
        act = act.clone()
        b, p = b_idx.to(act.device), pos.to(act.device)
        new = vectors[s_idx].to(act.dtype)
        if after == "add":  # the arrow (step 0) replaced, each later step added to
            later = (steps > 0).to(act.device)[:, None]
            new = torch.where(later, act[b, p] + new, new)
        act[b, p] = new
        return act

    hooks: list[HookPair] = [(RESID_POST_TEMPLATE.format(layer=layer), patch)]
    logits = runner.model.run_with_hooks(
        tokens.to(device), attention_mask=mask.to(device), fwd_hooks=runner.check_hooks(hooks)
    )
    picked = logits[b_idx.to(device), pos.to(device)].float()
    want = torch.tensor([tok for t in targets for tok in t], device=device)
    return torch.nn.functional.cross_entropy(picked, want)


def _scale(init: Tensor) -> float:
    """The init's mean per-coordinate scale, over its non-zero rows.

    Raises:
        ValueError: an init of zeros only.
    """
    norms = init.norm(dim=-1)
    if not bool((norms > 0).any()):
        raise ValueError("init is all zeros: start from an extracted θ (e.g. at the arrow)")
    return float(norms[norms > 0].mean()) / math.sqrt(init.shape[-1])


def _check_settings(steps: Any, lr: Any, batch_size: Any, seed: Any, after: Any) -> None:
    if after not in ("replace", "add"):
        raise ValueError(f"after must be 'replace' or 'add', got {after!r}")
    for name, value, low in (("steps", steps, 0), ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")


def learn_vectors(
    runner: Runner,
    dev: Sequence[ICLExample],
    layer: int,
    targets: Sequence[Sequence[int]],
    *,
    init: Float[Tensor, "n_steps d_model"],
    steps: int = 50,
    lr: float = 0.05,
    seed: int = 0,
    batch_size: int = 16,
    after: PatchMode = "replace",
) -> LearnedVectors:
    """Fit vectors at ``layer`` to ``targets`` (token ids of each dev example's answer).

    Args:
        dev: the examples trained on (their zero-shot prompts ``x ->``).
        targets: per dev example, the answer's token ids to teacher-force (the model's own
            ICL answer, ending with the separator's token where it stopped there).
        init: the starting vectors, ``[n_steps, d_model]``: step ``t`` of an answer gets
            ``vectors[min(t, n_steps - 1)]``.
        steps: Adam steps (0: the init itself).
        lr: Adam's learning rate as a share of the init's mean per-coordinate scale
            (``|init| / sqrt(d_model)``, over its non-zero rows).
        seed: the order of the mini-batches.
        after: ``"replace"`` the residual of every step after the arrow (the arrow's way),
            or ``"add"`` to it, so the generated token's own residual stays (an init of zeros
            after the arrow then starts from the arrow's vector alone).

    Raises:
        TypeError: ``runner`` not a Runner.
        ValueError: a layer out of range, a target with no tokens or a token id outside the
            vocabulary, targets not one per dev example, an init of the wrong shape or not
            finite, steps / batch_size / seed / lr out of range, or a non-finite loss.
    """
    layer = _check_inputs(runner, dev, layer, targets, init)
    _check_settings(steps, lr, batch_size, seed, after)
    prompts = runner.token_ids(zero_shot_prompts(dev, runner.fmt))
    start = init.detach().float().cpu()
    vectors = torch.nn.Parameter(start.clone().to(runner.device))
    opt = torch.optim.Adam([vectors], lr=lr * _scale(start))
    gen = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    with frozen(runner.model):
        for step in range(steps + 1):
            order = torch.randperm(len(dev), generator=gen).tolist()
            opt.zero_grad()
            losses.append(_epoch(runner, prompts, targets, (vectors, layer, after), order,
                                 batch_size, backward=step < steps))  # fmt: skip
            if step < steps:
                opt.step()
    return LearnedVectors(
        vectors=vectors.detach().cpu(),
        layer=layer,
        init=start,
        losses=tuple(losses),
        steps=steps,
        lr=lr,
        seed=seed,
        after=after,
    )


def _check_inputs(
    runner: Any, dev: Sequence[ICLExample], layer: int, targets: Sequence[Sequence[int]],
    init: Tensor,
) -> int:  # fmt: skip
    """The checks of :func:`learn_vectors` on what it fits; ``layer`` as an int."""
    if not isinstance(runner, Runner):
        raise TypeError(f"runner must be a tvlens Runner, got {type(runner).__name__}")
    check_example_list(dev)
    layer = check_layer(layer, runner.n_layers)
    vocab = int(runner.model.cfg.d_vocab)
    for i, t in enumerate(targets):
        bad = [x for x in t if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < vocab]
        if bad:
            raise ValueError(
                f"targets[{i}] holds {bad[:3]}: token ids must be ints in [0, {vocab}) "
                "(the model's vocabulary)"
            )
    if len(targets) != len(dev):
        raise ValueError(f"{len(targets)} targets for {len(dev)} dev examples: pass one each")
    if any(len(t) == 0 for t in targets):
        raise ValueError("a target has no tokens: each must hold the answer's token ids")
    if init.dim() != 2 or init.shape[1] != runner.d_model or init.shape[0] < 1:
        raise ValueError(f"init must be [n_steps, {runner.d_model}], got {tuple(init.shape)}")
    check_vectors(init.float())
    return layer


def _epoch(
    runner: Runner, prompts: Sequence[list[int]], targets: Sequence[Sequence[int]],
    patch: tuple[Tensor, int, PatchMode], order: list[int], batch_size: int, *, backward: bool,
) -> float:  # fmt: skip
    """The loss over every example in ``order``'s mini-batches (gradients added if
    ``backward``), ``patch`` the vectors, their layer and ``after``: the mean of the batches'
    losses weighted by their size."""
    total = 0.0
    for lo in range(0, len(order), batch_size):
        idx = order[lo : lo + batch_size]
        loss = _batch_loss(runner, [prompts[i] for i in idx], [targets[i] for i in idx], *patch)
        if not torch.isfinite(loss):
            raise ValueError(f"the loss is {float(loss)}: lower lr")
        share = len(idx) / len(order)
        total += float(loss.detach()) * share
        if backward:
            (loss * share).backward()
    return total


__all__ = ["LearnedMethod", "LearnedVectors", "learn_vectors"]
