"""A model's parameters frozen for a gradient that only tvlens's own tensors need."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["frozen"]


@contextlib.contextmanager
def frozen(model: Any) -> Iterator[None]:
    """``model``'s parameters with ``requires_grad`` off, restored on every exit path.

    Raises:
        TypeError: if ``model`` is not a torch module.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"a gradient through the model needs a torch module, got {type(model).__name__}"
        )
    params = list(model.parameters())
    before = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, g in zip(params, before, strict=True):
            p.requires_grad_(g)
