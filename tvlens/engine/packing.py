"""Shared-prefix packing: several continuations of one prefix in one row, via hooks.

A row holds a prefix and then segments ``s_1, s_2, ...``; each segment attends to the
prefix and to itself (causally), never to another segment, and its positions continue the
prefix's. So each segment computes exactly what the separate prompt ``prefix + s_k`` would,
while the prefix runs once. The attention rule is a hook on every
``blocks.{l}.attn.hook_attn_scores``; positions go in as ``position_ids``. tvlens uses it for
the dummy queries of one S (extraction) and for the ``n_layers`` copies of the arrow in the
layer sweep.

This module is layout only: it builds rows and the attention rule and runs nothing.
Whether a model packs exactly is the :class:`tvlens.engine.runner.Runner`'s to find out (only a
TransformerBridge over an HF model takes ``position_ids``); it falls back to plain batches
elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Bool, Int
from torch import Tensor

from tvlens._compat import SCORES_HOOK
from tvlens.protocol import HookPair


@dataclass(frozen=True)
class PackedBatch:
    """Rows of ``prefix + segments`` with their positions and attention rule.

    Attributes:
        tokens: ``[batch, width]`` ids (padding at the end).
        position_ids: ``[batch, width]`` positions (segments restart after the prefix).
        allow: ``[batch, width, width]`` which key each query may attend to.
        readout: ``[batch, n_segments]`` index of each segment's last token.
    """

    tokens: Int[Tensor, "batch width"]
    position_ids: Int[Tensor, "batch width"]
    allow: Bool[Tensor, "batch width width"]
    readout: Int[Tensor, "batch n_segments"]


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix shared by all ``rows``, leaving each >= 1 token."""
    shortest = min(len(r) for r in rows)
    n = 0
    while n < shortest - 1 and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n


def pack(rows: Sequence[Sequence[Sequence[int]]], pad_id: int) -> PackedBatch:
    """Pack, per row, several token sequences that share a prefix.

    Args:
        rows: for each row, the full token ids of each of its prompts.
        pad_id: id written into padding (never attended by real tokens).
    """
    if not rows or any(len(r) == 0 for r in rows):
        raise ValueError("pack needs at least one prompt per row")
    n_seg = len(rows[0])
    if any(len(r) != n_seg for r in rows):
        raise ValueError("every row must hold the same number of prompts")
    layouts = []
    for prompts in rows:
        p = common_prefix_length(prompts)
        layouts.append((list(prompts[0][:p]), [list(s[p:]) for s in prompts]))
    width = max(len(pre) + sum(len(s) for s in segs) for pre, segs in layouts)
    batch = len(rows)
    tokens = torch.full((batch, width), pad_id, dtype=torch.long)
    position_ids = torch.zeros((batch, width), dtype=torch.long)
    allow = torch.zeros((batch, width, width), dtype=torch.bool)
    readout = torch.zeros((batch, n_seg), dtype=torch.long)
    idx = torch.arange(width)
    allow[:, idx, idx] = True  # padding attends to itself: no all-masked row
    for b, (pre, segs) in enumerate(layouts):
        p = len(pre)
        tokens[b, :p] = torch.tensor(pre, dtype=torch.long)
        position_ids[b, :p] = torch.arange(p)
        allow[b, :p, :p] = torch.tril(torch.ones(p, p, dtype=torch.bool))
        start = p
        for k, seg in enumerate(segs):
            n = len(seg)
            sl = slice(start, start + n)
            tokens[b, sl] = torch.tensor(seg, dtype=torch.long)
            position_ids[b, sl] = torch.arange(p, p + n)
            allow[b, sl, :p] = True
            allow[b, sl, sl] = torch.tril(torch.ones(n, n, dtype=torch.bool))
            readout[b, k] = start + n - 1
            start += n
    return PackedBatch(tokens, position_ids, allow, readout)


def attention_rule_hooks(allow: Bool[Tensor, "batch q k"], n_layers: int) -> list[HookPair]:
    """Hooks masking attention scores so each query sees only the keys ``allow`` permits."""

    def hook(scores: Tensor, hook: Any) -> Tensor:
        keep = allow.to(scores.device)[:, None, : scores.shape[-2], : scores.shape[-1]]
        return scores.masked_fill(~keep, torch.finfo(scores.dtype).min)

    return [(SCORES_HOOK.format(layer=layer), hook) for layer in range(n_layers)]
