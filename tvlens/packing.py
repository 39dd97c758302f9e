"""Shared-prefix packing: several continuations of one prefix in one row, via hooks.

A row holds a prefix and then segments ``s_1, s_2, ...``; each segment attends to the
prefix and to itself (causally), never to another segment, and its positions continue the
prefix's. So each segment computes exactly what the separate prompt ``prefix + s_k`` would,
while the prefix runs once. The attention rule is a hook on every
``blocks.{l}.attn.hook_attn_scores``; positions go in as ``position_ids``. tvlens uses it for
the dummy queries of one S (extraction) and for the ``n_layers`` copies of the arrow in the
layer sweep.

Only models whose forward takes ``position_ids`` (a TransformerBridge over an HF model) can
pack; :func:`supports_packing` says so and callers fall back to plain batches elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from jaxtyping import Bool, Int
from torch import Tensor

from tvlens._compat import per_model
from tvlens.protocol import HookedModel, HookPair

SCORES_HOOK = "blocks.{layer}.attn.hook_attn_scores"
Method = Literal["auto", "packed", "batched"]


def supports_packing(model: HookedModel) -> bool:
    """Whether packed rows compute exactly what separate prompts do on ``model``.

    The model must take ``position_ids`` and expose ``attn.hook_attn_scores``; then a small
    probe compares a packed row with the same prompts run apart (residual stream after the
    last layer, relative difference < 1e-4). The answer is cached per model object.
    """
    return per_model(model, "packing", lambda m: _structurally_able(m) and _probe(m))


def _structurally_able(model: HookedModel) -> bool:
    accepts = getattr(model, "_accepts_derived_position_ids", None)
    if accepts is None or getattr(model, "original_model", None) is None:
        return False
    try:
        able = bool(accepts())
    except Exception:  # a model that cannot say is treated as unable
        return False
    return able and SCORES_HOOK.format(layer=0) in getattr(model, "hook_dict", {})


def _probe(model: HookedModel) -> bool:
    from tvlens.prompts import pad_token_id, prompt_ids, tokenize_prompts
    from tvlens.runner import arrow_resid, packed_forward

    texts = ["a -> b\nc -> d\ne ->", "a -> b\nc -> d\nfg ->"]
    last = int(model.cfg.n_layers) - 1
    try:
        ids = prompt_ids(model, texts)
        packed = pack([ids], pad_token_id(model.tokenizer))
        together = packed_forward(model, packed, resid_layers=[last])[0, :, 0]
        apart = arrow_resid(model, tokenize_prompts(model, texts), [last])[:, 0]
    except Exception:  # any failure: do not pack on this model
        return False
    rel = (together - apart).norm(dim=-1) / apart.norm(dim=-1).clamp_min(1e-6)
    return bool(rel.max() < 1e-4)


def use_packing(model: HookedModel, method: str) -> bool:
    """Resolve ``method`` (``"auto"``, ``"packed"`` or ``"batched"``) for ``model``.

    Raises:
        ValueError: for an unknown method, or ``"packed"`` on a model that cannot pack.
    """
    if method not in ("auto", "packed", "batched"):
        raise ValueError(f"method must be 'auto', 'packed' or 'batched', got {method!r}")
    if method == "batched":
        return False
    ok = supports_packing(model)
    if method == "packed" and not ok:
        raise ValueError(
            "method='packed' needs a model whose forward takes position_ids and has "
            "attn.hook_attn_scores hooks (a TransformerBridge over an HF model); "
            "use method='batched'"
        )
    return ok


@dataclass(frozen=True)
class PackedBatch:
    """Rows of ``prefix + segments`` with their positions and attention rule.

    Attributes:
        tokens: ``[batch, width]`` ids (padding at the end).
        position_ids: ``[batch, width]`` positions (segments restart after the prefix).
        allow: ``[batch, width, width]`` which key each query may attend to.
        readout: ``[batch, n_segments]`` index of each segment's last token.
        input_ids: per row and segment, the ids of the equivalent unpacked prompt.
    """

    tokens: Int[Tensor, "batch width"]
    position_ids: Int[Tensor, "batch width"]
    allow: Bool[Tensor, "batch width width"]
    readout: Int[Tensor, "batch n_segments"]
    input_ids: tuple[tuple[tuple[int, ...], ...], ...]


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
    input_ids = tuple(tuple(tuple(int(t) for t in s) for s in r) for r in rows)
    return PackedBatch(tokens, position_ids, allow, readout, input_ids)


def attention_rule_hooks(allow: Bool[Tensor, "batch q k"], n_layers: int) -> list[HookPair]:
    """Hooks masking attention scores so each query sees only the keys ``allow`` permits."""

    def hook(scores: Tensor, hook: Any) -> Tensor:
        keep = allow.to(scores.device)[:, None, : scores.shape[-2], : scores.shape[-1]]
        return scores.masked_fill(~keep, torch.finfo(scores.dtype).min)

    return [(SCORES_HOOK.format(layer=layer), hook) for layer in range(n_layers)]


def fits(model: HookedModel, packed_width: int) -> bool:
    """Whether a packed row of ``packed_width`` tokens computes exactly like its prompts.

    Sliding-window layers mask by distance in the sequence, not by position id, so a packed
    row must stay within the window (and within ``n_ctx``).
    """
    n_ctx = int(getattr(model.cfg, "n_ctx", 0) or 0)
    hf_cfg = getattr(getattr(model, "original_model", None), "config", None)
    window = getattr(hf_cfg, "sliding_window", None) or 0
    limits = [x for x in (n_ctx, int(window)) if x]
    return all(packed_width <= x for x in limits)
