"""KV caches for generation: TransformerLens's own (HookedTransformer) and the HF cache of a
TransformerBridge over a Hugging Face model (:mod:`tvlens.engine.decode_paths` drives them;
:func:`tvlens.engine.decoding.probe_kv_cache` decides, per model, whether one is exact)."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from tvlens._compat import hooked_transformer_class
from tvlens.protocol import HookedModel

__all__ = ["KVCache", "hf_cache_alias", "hooked_cache_class", "kv_cache_kind"]


def kv_cache_kind(model: HookedModel) -> str:
    """``"hooked"`` (TransformerLens's own cache), ``"hf"`` (a bridge's HF model) or ``""``."""
    hooked = hooked_transformer_class()
    if hooked is not None and isinstance(model, hooked):
        return "hooked"
    hf = getattr(model, "original_model", None)
    try:
        from transformers import PreTrainedModel
    except ImportError:  # pragma: no cover - transformers is a TransformerLens dependency
        return ""
    return "hf" if isinstance(hf, PreTrainedModel) else ""


def hooked_cache_class() -> Any:
    """TransformerLens's KV-cache class (it moved within the 3.x line)."""
    for module, name in (
        ("transformer_lens.cache.key_value_cache", "TransformerLensKeyValueCache"),
        ("transformer_lens.past_key_value_caching", "HookedTransformerKeyValueCache"),
    ):
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ValueError("this TransformerLens has no KV-cache class tvlens knows")


def _cache_as_past_key_values(
    module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    if kwargs.get("past_key_values") is None and kwargs.get("cache") is not None:
        return args, {**kwargs, "past_key_values": kwargs["cache"]}
    return None


@contextlib.contextmanager
def hf_cache_alias(model: HookedModel) -> Iterator[None]:
    """Within this context a TransformerBridge's attention fills the HF KV cache it is given.

    transformers 5 hands each attention module the cache as ``cache``; the bridge's attention
    (TransformerLens 3.9 and 4.3) reads it only as ``past_key_values`` (or ``layer_past``), so
    a cached generation would see an empty cache. A forward pre-hook on each of the bridge's
    attention modules passes ``cache`` on as ``past_key_values`` where that is missing. Only
    these hooks are added, and they are removed on every exit path; a model of another kind
    is left alone. Whether the cache is then exact is the KV-cache probe's verdict
    (:func:`tvlens.engine.decoding.probe_kv_cache`).
    """
    if kv_cache_kind(model) != "hf" or not isinstance(model, torch.nn.Module):
        yield
        return
    handles: list[Any] = []
    try:
        for module in model.modules():
            if callable(getattr(type(module), "_update_kv_cache", None)):
                handles.append(
                    module.register_forward_pre_hook(_cache_as_past_key_values, with_kwargs=True)
                )
        yield
    finally:
        for handle in handles:
            handle.remove()


def _takes(module: Any, name: str) -> bool:
    """Whether ``module.forward`` names the parameter ``name``."""
    import inspect

    try:
        return name in inspect.signature(module.forward).parameters
    except (TypeError, ValueError):
        return False


class KVCache:
    """A fresh KV cache for one batch, and the forward keywords that use it."""

    def __init__(self, model: HookedModel, batch_size: int, device: torch.device) -> None:
        self.kind = kv_cache_kind(model)
        if self.kind == "hooked":
            self.cache: Any = hooked_cache_class().init_cache(model.cfg, device, batch_size)
        elif self.kind == "hf":
            from transformers import DynamicCache

            hf = model.original_model  # type: ignore[attr-defined]
            config = hf.config
            # transformers 5 renamed the forward's ``past_key_values`` to ``cache`` (the old
            # name warns on every call and goes in 5.40)
            self.keyword = "cache" if _takes(hf, "cache") else "past_key_values"
            try:
                self.cache = DynamicCache(config=config)
            except TypeError:  # transformers 4.x takes no config
                self.cache = DynamicCache()
        else:
            raise ValueError(f"{type(model).__name__} has no KV cache tvlens can drive")

    def kwargs(self, mask: Tensor, n_new: int) -> dict[str, Any]:
        """Forward keywords for ``n_new`` new tokens; ``mask`` covers cached + new tokens."""
        if self.kind == "hooked":  # TransformerLens appends the new part of the mask itself
            return {"past_kv_cache": self.cache, "attention_mask": mask[:, -n_new:]}
        return {self.keyword: self.cache, "use_cache": True, "attention_mask": mask}

    def check_filled(self, n_tokens: int) -> None:
        """Refuse a cache the prompt pass left empty (the bridge's attention ignored it)."""
        if self.kind != "hf":
            return
        if int(self.cache.get_seq_length()) == 0:
            raise RuntimeError(
                f"a prompt pass of {n_tokens} tokens left the Hugging Face KV cache empty: this "
                "TransformerBridge's attention does not update the cache the HF layers pass it"
            )
