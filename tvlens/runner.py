"""Batched forward passes: activations and next-token logits at each row's arrow."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._compat import final_norm_hook, per_model
from tvlens.hooks import StopForward, logits_at_hooks, resid_extractor_hooks
from tvlens.packing import PackedBatch, attention_rule_hooks
from tvlens.prompts import PaddingSide, PromptBatch, PromptFormat, tokenize_prompts
from tvlens.protocol import HookedModel, HookPair

T = TypeVar("T")


def model_device(model: HookedModel) -> torch.device:
    """The device of the model's parameters (``cfg.device`` as a fallback)."""
    params = getattr(model, "parameters", None)
    if params is not None:
        try:
            return next(iter(params())).device
        except StopIteration:
            pass
    return torch.device(str(getattr(model.cfg, "device", None) or "cpu"))


def chunks(n: int, size: int) -> Iterator[slice]:
    """Slices covering ``range(n)`` in pieces of ``size``."""
    if size < 1:
        raise ValueError(f"batch_size must be >= 1, got {size}")
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def length_sorted(lengths: Sequence[int]) -> list[int]:
    """Indices ordering items by length, so batches hold prompts of similar length."""
    return sorted(range(len(lengths)), key=lambda i: lengths[i])


def run_batched(
    texts: Sequence[str],
    fn: Callable[[list[int]], Tensor],
    batch_size: int,
) -> Tensor:
    """Apply ``fn`` to index chunks of ``texts`` sorted by length; results in input order."""
    order = length_sorted([len(t) for t in texts])
    parts: list[Tensor] = []
    for sl in chunks(len(order), batch_size):
        parts.append(fn(order[sl]))
    out = torch.cat(parts)
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order, dtype=torch.long)] = torch.arange(len(order))
    return out[inverse]


def _norm_hook(model: HookedModel) -> str | None:
    """:func:`final_norm_hook`, looked up once per model object (the bridge's is slow)."""
    return per_model(model, "final_norm_hook", final_norm_hook)


@torch.inference_mode()
def arrow_logits(
    model: HookedModel,
    batch: PromptBatch,
    fwd_hooks: Sequence[HookPair] = (),
) -> Float[Tensor, "batch d_vocab"]:
    """Next-token logits at each row's arrow, computed only at that position.

    ``fwd_hooks`` (e.g. task-vector patches) are added for this pass only.
    """
    device = model_device(model)
    tokens, mask = batch.tokens.to(device), batch.attention_mask.to(device)
    positions = batch.positions.to(device)
    norm_hook = _norm_hook(model)
    if norm_hook is not None:
        hooks = [*fwd_hooks, *logits_at_hooks(positions, norm_hook)]
        logits = model.run_with_hooks(tokens, attention_mask=mask, fwd_hooks=hooks)
        return logits[:, 0].float()
    logits = model.run_with_hooks(tokens, attention_mask=mask, fwd_hooks=list(fwd_hooks))
    return logits[torch.arange(len(positions), device=device), positions].float()


@torch.inference_mode()
def arrow_resid(
    model: HookedModel,
    batch: PromptBatch,
    layers: Sequence[int],
) -> Float[Tensor, "batch n_layers d_model"]:
    """``blocks.L.hook_resid_post`` at each row's arrow for ``layers``, one forward pass.

    The pass stops after the last layer read: no later block and no unembedding runs.
    """
    device = model_device(model)
    recorder = resid_extractor_hooks(batch.positions.to(device), layers, stop_after=True)
    with contextlib.suppress(StopForward):
        model.run_with_hooks(
            batch.tokens.to(device),
            attention_mask=batch.attention_mask.to(device),
            fwd_hooks=recorder.hooks,
        )
    return recorder.stacked().float()


def resid_for_texts(
    model: HookedModel,
    texts: Sequence[str],
    layers: Sequence[int],
    *,
    fmt: PromptFormat | None,
    batch_size: int = 16,
    prepend_bos: bool | None = None,
    padding_side: PaddingSide = "right",
) -> Float[Tensor, "n n_layers d_model"]:
    """:func:`arrow_resid` over many prompts, batched by length; rows in input order."""

    def one(idx: list[int]) -> Tensor:
        batch = tokenize_prompts(
            model,
            [texts[i] for i in idx],
            fmt=fmt,
            prepend_bos=prepend_bos,
            padding_side=padding_side,
        )
        return arrow_resid(model, batch, layers).cpu()

    return run_batched(texts, one, batch_size)


@torch.inference_mode()
def packed_forward(
    model: HookedModel,
    packed: PackedBatch,
    fwd_hooks: Sequence[HookPair] = (),
    *,
    resid_layers: Sequence[int] | None = None,
) -> Tensor:
    """One pass over packed rows: logits at every segment end, or the residual stream there.

    Returns ``[batch, n_segments, d_vocab]`` logits, or with ``resid_layers``
    ``[batch, n_segments, len(resid_layers), d_model]`` residuals (the pass then stops
    after the last of those layers).
    """
    device = model_device(model)
    readout = packed.readout.to(device)
    rules = attention_rule_hooks(packed.allow.to(device), int(model.cfg.n_layers))
    kwargs = {"position_ids": packed.position_ids.to(device)}
    tokens = packed.tokens.to(device)
    if resid_layers is not None:
        recorder = resid_extractor_hooks(readout, resid_layers, stop_after=True)
        with contextlib.suppress(StopForward):
            model.run_with_hooks(tokens, fwd_hooks=[*rules, *recorder.hooks], **kwargs)
        return recorder.stacked().float()
    norm_hook = _norm_hook(model)
    if norm_hook is None:
        raise ValueError("packing needs a final-norm hook to read logits at segment ends")
    hooks = [*rules, *fwd_hooks, *logits_at_hooks(readout, norm_hook)]
    return model.run_with_hooks(tokens, fwd_hooks=hooks, **kwargs).float()
