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


def length_sorted_batches(
    prompts: Sequence[str], todo: list[int], size: int
) -> Iterator[list[int]]:
    """``todo`` in length-sorted batches of ``size`` (the one batch loop of tvlens)."""
    order = [todo[i] for i in length_sorted([len(prompts[i]) for i in todo])]
    for sl in chunks(len(order), size):
        yield order[sl]


def check_device(device: str | None, model: HookedModel) -> None:
    """Refuse a ``RunConfig.device`` that is not a torch device, or not the model's.

    Raises:
        ValueError: naming the device and the fix (move the model, or ``device=None``).
    """
    if device is None:
        return
    try:
        want = torch.device(device)
    except RuntimeError as err:
        raise ValueError(
            f"RunConfig.device={device!r} is not a torch device (e.g. 'cpu', 'cuda', 'cuda:1')"
        ) from err
    have = model_device(model)
    if want.type != have.type or (want.type != "cpu" and want.index not in (None, have.index)):
        raise ValueError(
            f"RunConfig.device={device!r} but the model is on {have}; "
            f"move the model first (model.to({device!r})) or leave device=None"
        )
