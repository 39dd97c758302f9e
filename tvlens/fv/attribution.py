"""Every head's indirect effect estimated from one forward and one backward pass per prompt.

The exact causal indirect effect (:func:`tvlens.fv.indirect_effect.indirect_effects`) patches
one head at a time: one forward pass per (prompt, head). Attribution patching (Nanda 2023;
AtP, Kramár et al. 2024) takes its first-order Taylor estimate instead::

    CIE(l, h) ≈ ∂P(answer) / ∂z[l, h] · (mean clean z[l, h] − corrupted z[l, h])

with ``z`` the head's ``hook_z`` at the arrow of the corrupted prompt, the gradient taken on
the unpatched corrupted run. Every head's estimate comes from the same pass, so the cost is
that of ~3 forward passes per prompt, whatever the number of heads. The estimate is exact
for a head whose effect is linear in its activation; attention and the final softmax are
not, so it can miss a head whose patch saturates or opens an attention pattern.
``method="attribution+verify"`` of :func:`indirect_effects` (``tvlens run --aie
attribution+verify``; the protocol's default stays ``exact``) therefore recomputes the exact
effect of the top candidates: the heads it ranks first are those the exact AIE ranks first
among them.

The gradient is taken with respect to a zero added to each layer's ``hook_z`` at the arrow
(:func:`torch.autograd.grad`, the model's parameters frozen), so nothing of the model's state
changes: no ``.grad`` is written, and every hook is removed on every exit path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens import _compat
from tvlens._example import ICLExample
from tvlens.engine.frozen import frozen
from tvlens.engine.runner import Runner
from tvlens.evaluation.scoring import answer_ids
from tvlens.fv.heads import HeadActivations
from tvlens.hooks import logits_at_hooks
from tvlens.prompts import icl_prompts
from tvlens.protocol import HookPair
from tvlens.tokenization import pad_rows, pad_token_id

__all__ = ["attribution_scores"]


def attribution_scores(
    runner: Runner,
    examples: Sequence[ICLExample],
    activations: HeadActivations,
    *,
    first_token: bool = False,
) -> tuple[Float[Tensor, "n n_layers n_heads"], Float[Tensor, " n"], Tensor, Tensor]:
    """The attribution estimate of every head's CIE on each corrupted example.

    Prompts run ``runner.config.batch_size`` at a time, right-padded; each row's arrow is
    its last real token (from the attention mask).

    Returns:
        ``(cie, corrupted_prob, corrupted_correct, answers)``: the estimates ``[n, n_layers,
        n_heads]``, P(answer) and whether the greedy token is the answer on each unpatched
        corrupted prompt, and the answer token of each.
    """
    model, fmt = runner.model, runner.fmt
    answers = answer_ids(model, examples, fmt, first_token=first_token)
    ids = runner.token_ids(icl_prompts(examples, fmt))
    n_layers, n_heads = activations.n_layers, activations.n_heads
    mean_z = activations.z.float()
    cie = torch.zeros(len(examples), n_layers, n_heads)
    prob = torch.zeros(len(examples))
    correct = torch.zeros(len(examples), dtype=torch.bool)
    size = runner.config.batch_size  # RunConfig checked it is an int >= 1
    with frozen(model):
        for lo in range(0, len(ids), size):
            rows = range(lo, min(lo + size, len(ids)))
            est, p, ok = _batch(runner, [ids[i] for i in rows], answers[lo : rows.stop], mean_z)
            cie[lo : rows.stop], prob[lo : rows.stop], correct[lo : rows.stop] = est, p, ok
    return cie, prob, correct, answers


def _batch(
    runner: Runner, rows: Sequence[list[int]], answers: Tensor, mean_z: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """One batch of :func:`attribution_scores`: estimates, P(answer), greedy == answer."""
    device = runner.device
    tokens, mask, _ = pad_rows(rows, pad_token_id(runner.model.tokenizer), "right")
    arrow = (mask.sum(1) - 1).to(device)
    b = torch.arange(len(rows), device=device)
    n_layers, n_heads, d_head = mean_z.shape
    zero = [torch.zeros(len(rows), n_heads, d_head, device=device, requires_grad=True)
            for _ in range(n_layers)]  # fmt: skip
    seen: dict[int, Tensor] = {}

    def make(layer: int) -> Any:
        def hook(z: Tensor, hook: Any) -> Tensor:
            seen[layer] = z[b, arrow].detach().float()
            z = z.clone()
            z[b, arrow] = z[b, arrow] + zero[layer].to(z.dtype)
            return z

        return hook

    hooks: list[HookPair] = [
        (_compat.HOOK_Z_TEMPLATE.format(layer=la), make(la)) for la in range(n_layers)
    ]
    norm_hook = runner.norm_hook  # logits (and their backward) at the arrow only
    if norm_hook is not None:
        hooks = [*hooks, *logits_at_hooks(arrow, norm_hook)]
    with torch.enable_grad():
        logits = runner.run(
            tokens.to(device), runner.check_hooks(hooks), attention_mask=mask.to(device)
        )
        last = (logits[:, 0] if norm_hook is not None else logits[b, arrow]).float()
        ans = answers.to(device)
        p = (last.gather(1, ans[:, None])[:, 0] - last.logsumexp(-1)).exp()
        grads = torch.autograd.grad(p.sum(), zero)
    if len(seen) != n_layers:
        raise RuntimeError(f"hook_z ran at {len(seen)} of {n_layers} layers; report this")
    est = torch.stack(
        [(g.float() * (mean_z[la].to(device) - seen[la])).sum(-1) for la, g in enumerate(grads)],
        dim=1,
    )
    return est.cpu(), p.detach().cpu(), (last.argmax(-1) == ans).cpu()
