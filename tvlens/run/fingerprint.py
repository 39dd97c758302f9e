"""A fingerprint of a model's weights, so a run resumes only with the weights it started with.

``results.json`` names the model, its class and its tokenizer; two checkpoints of one model
(a fine-tune, another revision) share all three. :func:`weights_sha256` hashes every
parameter's name, shape, dtype and bytes, so any change to any weight gives another value.
It reads every parameter once (about a second per GB) and is cached per model until a
parameter changes (in place, or replaced).
"""

from __future__ import annotations

import contextlib
import hashlib
import weakref
from typing import Any

# model -> (the parameters' identity and version counters, the digest)
_CACHE: weakref.WeakKeyDictionary[Any, tuple[tuple[Any, ...], str]] = weakref.WeakKeyDictionary()


def _state(params: list[tuple[str, Any]]) -> tuple[Any, ...]:
    """What changes when a parameter does: its storage, shape, dtype, device, in-place writes."""
    return tuple(
        (n, p.data_ptr(), p._version, tuple(p.shape), str(p.dtype), str(p.device))
        for n, p in params
    )


def weights_sha256(model: Any) -> str:
    """The sha256 of ``model``'s parameters: each one's name, shape, dtype and bytes, in order.

    Any change to any weight changes it; so may another ``transformer_lens`` version (it can
    name or process the weights differently). Cached per model while no parameter changes.

    Example:
        >>> from tvlens.testing import tiny_bridge
        >>> len(weights_sha256(tiny_bridge()))
        64
    """
    import torch

    params = list(model.named_parameters())
    state = _state(params)
    try:
        hit = _CACHE.get(model)
    except TypeError:  # not weak-referenceable or unhashable: no cache
        hit = None
    if hit is not None and hit[0] == state:
        return hit[1]
    h = hashlib.sha256()
    for name, p in params:
        h.update(f"{name}\0{tuple(p.shape)}\0{p.dtype}\0".encode())
        if p.is_meta:  # not loaded (offloaded): nothing to read
            h.update(b"meta\0")
            continue
        t = p.detach().to("cpu").contiguous().reshape(-1)
        if t.numel():
            h.update(t.view(torch.uint8).numpy())  # the raw bytes, without a copy
    digest = h.hexdigest()
    with contextlib.suppress(TypeError):
        _CACHE[model] = (state, digest)
    return digest
