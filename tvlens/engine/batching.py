"""Small batching helpers: index chunks, length order, and a model's device."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from tvlens.protocol import HookedModel


def chunks(n: int, size: int) -> Iterator[slice]:
    """Slices covering ``range(n)`` in pieces of ``size``."""
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def length_sorted(lengths: Sequence[int]) -> list[int]:
    """Indices ordering items by length (stable), so batches hold similar lengths."""
    return sorted(range(len(lengths)), key=lambda i: lengths[i])


def model_device(model: HookedModel) -> torch.device:
    """The device of the model's parameters (``cfg.device`` as a fallback)."""
    params = getattr(model, "parameters", None)
    if params is not None:
        try:
            return next(iter(params())).device
        except StopIteration:
            pass
    return torch.device(str(getattr(model.cfg, "device", None) or "cpu"))


def model_dtype(model: HookedModel) -> torch.dtype:
    """The dtype of the model's parameters (float32 for a model without any)."""
    params = getattr(model, "parameters", None)
    if params is not None:
        for param in params():
            return param.dtype
    return torch.float32
