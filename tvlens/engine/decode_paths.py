"""The two decoding paths behind :func:`tvlens.engine.decoding.greedy_generate`.

*Recompute* (:func:`_recompute`): each step a full forward over prompt + generated tokens;
rows that stopped leave the batch. *KV cache* (:func:`_cached`): a prompt pass filling the
cache, then one token per step. Both push each step's greedy token into a :class:`_Rows`,
which records why each row stopped; both compute the same tokens where the cache is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from tvlens.engine.greedy import greedy_hooks
from tvlens.engine.kv_cache import KVCache
from tvlens.engine.patches import AnyPatches, at_step
from tvlens.engine.runner_like import ForwardRunner
from tvlens.hooks import logits_at_hooks
from tvlens.prompts import PromptBatch, pad_token_id
from tvlens.protocol import HookPair
from tvlens.tokenization import pad_rows


# ---- per-row decoding state --------------------------------------------------------------
class _Rows:
    """Generated tokens of the rows of one batch, and why each stopped."""

    def __init__(self, tokenizer: Any, n: int, stops: tuple[str, ...], max_new_tokens: int):
        self.tokenizer = tokenizer
        self.eos = getattr(tokenizer, "eos_token_id", None)
        self.stops = stops
        self.max_new_tokens = max_new_tokens
        self.gen: list[list[int]] = [[] for _ in range(n)]
        self.reason: list[str | None] = [None] * n

    def active(self) -> list[int]:
        return [j for j, r in enumerate(self.reason) if r is None]

    def text(self, j: int) -> str:
        ids = self.gen[j][:-1] if self.reason[j] == "eos" else self.gen[j]
        return str(self.tokenizer.decode(ids))

    def push(self, j: int, token: int) -> None:
        if self.reason[j] is not None:  # a stopped row never changes
            raise RuntimeError(f"row {j} already stopped ({self.reason[j]})")
        self.gen[j].append(int(token))
        if self.eos is not None and int(token) == int(self.eos):
            self.reason[j] = "eos"
        elif self.stops and any(s in self.text(j) for s in self.stops):
            self.reason[j] = "stop"
        elif len(self.gen[j]) >= self.max_new_tokens:
            self.reason[j] = "length"


def _patch_hooks(
    patches: AnyPatches | None,
    idx: Sequence[int],
    steps: Sequence[tuple[int, Tensor]],
    n_layers: int,
) -> list[HookPair]:
    """The hooks patching rows ``idx``: for each ``(step, positions)``, that step's patch
    (:func:`~tvlens.engine.patches.at_step`) at ``positions``."""
    if patches is None:
        return []
    return [
        pair for step, pos in steps for pair in at_step(patches, step).hooks(idx, pos, n_layers)
    ]


# ---- the recompute path ------------------------------------------------------------------
def _recompute(
    runner: ForwardRunner,
    prompt_ids: Sequence[list[int]],
    idx: Sequence[int],
    rows: _Rows,
    patches: AnyPatches | None,
    at: str,
    side: str,
    fwd_hooks: Sequence[HookPair],
    record: dict[tuple[int, int], Tensor] | None,
) -> None:
    """Decode one batch, each step a full forward over prompt + generated tokens."""
    pad = pad_token_id(runner.model.tokenizer)
    while act := rows.active():
        step = len(rows.gen[act[0]])  # every active row has generated as many tokens
        seqs = [prompt_ids[j] + rows.gen[j] for j in act]
        tokens, mask, offsets = pad_rows(seqs, pad, side)
        arrows = offsets + torch.tensor([len(prompt_ids[j]) - 1 for j in act])
        shifts = range(step + 1) if at == "all" else range(1)
        hooks = _patch_hooks(
            patches, [idx[j] for j in act], [(s, arrows + s) for s in shifts], runner.n_layers
        )
        batch = PromptBatch(tokens, mask, arrows + step, tuple("" for _ in act))
        out = runner.logits(batch, [*hooks, *fwd_hooks], greedy=record is None)
        _push(rows, act, out, step, record)


def _push(
    rows: _Rows,
    act: Sequence[int],
    out: Tensor,
    step: int,
    record: dict[tuple[int, int], Tensor] | None,
) -> None:
    """Push each active row's greedy token: ``out`` holds the tokens, or with ``record``
    the logits (kept, then reduced)."""
    for j, row in zip(act, out, strict=True):
        if record is not None:
            record[(j, step)] = row.cpu()
        rows.push(j, int(row.argmax()) if record is not None else int(row))


# ---- the KV-cache path -------------------------------------------------------------------
@torch.inference_mode()
def _cached_logits(
    runner: ForwardRunner,
    cache: KVCache,
    tokens: Tensor,
    mask: Tensor,
    positions: Tensor,
    hooks: Sequence[HookPair],
    active: Sequence[int],
    greedy: bool = False,
) -> Float[Tensor, "n_active d_vocab"] | Int[Tensor, " n_active"]:
    """The next-token logits of the ``active`` rows only (row ``i`` is batch row
    ``active[i]``; ``greedy``: their greedy tokens): rows that stopped are still fed, for
    the cache, but not unembedded."""
    device = runner.device
    tokens, mask, positions = tokens.to(device), mask.to(device), positions.to(device)
    rows = torch.tensor(list(active), dtype=torch.long, device=device)
    kwargs = cache.kwargs(mask, tokens.shape[1])
    norm_hook = runner.norm_hook
    un = runner.greedy.unembedding if greedy else None
    if norm_hook is not None and un is not None:
        extra, captured = greedy_hooks(un, positions, norm_hook, rows=rows)
        runner.run(tokens, [*hooks, *extra], **kwargs)
        return captured.tokens()
    if norm_hook is not None:
        hooks = [*hooks, *logits_at_hooks(positions, norm_hook, rows=rows)]
        out = runner.run(tokens, hooks, **kwargs)[:, 0]
    else:
        out = runner.run(tokens, hooks, **kwargs)
        out = out[rows, positions[rows]]
    return out.argmax(-1) if greedy else out.float()


def _cached(
    runner: ForwardRunner,
    prompt_ids: Sequence[list[int]],
    idx: Sequence[int],
    rows: _Rows,
    patches: AnyPatches | None,
    at: str,
    side: str,
    fwd_hooks: Sequence[HookPair],
    record: dict[tuple[int, int], Tensor] | None,
) -> None:
    """Decode one batch: a prompt pass filling the cache, then one token per step.

    Rows that stopped keep being fed (the cache holds every row, and rows never see each
    other) but only the active rows are unembedded. On a TransformerBridge over an HF model
    the caller hands the bridge's attention the cache
    (:func:`~tvlens.engine.kv_cache.hf_cache_alias`).
    """
    n = len(prompt_ids)
    tokens, mask, offsets = pad_rows(prompt_ids, pad_token_id(runner.model.tokenizer), side)
    arrows = offsets + torch.tensor([len(p) - 1 for p in prompt_ids])
    cache = KVCache(runner.model, n, runner.device)
    hooks = _patch_hooks(patches, idx, [(0, arrows)], runner.n_layers)
    active = rows.active()
    greedy = record is None
    hooks = [*hooks, *fwd_hooks]
    out = _cached_logits(runner, cache, tokens, mask, arrows, hooks, active, greedy)
    cache.check_filled(tokens.shape[1])
    fed = torch.zeros(n, dtype=torch.long)  # each step's forward holds one token per row
    step = 0
    while True:
        _push(rows, active, out, step, record)
        active = rows.active()
        if not active:
            return
        step += 1
        new = torch.tensor([[g[-1]] for g in rows.gen], dtype=torch.long)
        mask = torch.cat([mask, torch.ones(n, 1, dtype=torch.long)], dim=1)
        step_hooks = _patch_hooks(
            patches if at == "all" else None, idx, [(step, fed)], runner.n_layers
        )
        step_hooks = [*step_hooks, *fwd_hooks]
        out = _cached_logits(runner, cache, new, mask, fed, step_hooks, active, greedy)
