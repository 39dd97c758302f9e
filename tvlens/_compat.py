"""Everything that differs between TransformerLens 3 and 4 and between model classes.

tvlens code outside this module never imports a concrete TransformerLens model class and
never checks a TransformerLens version.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import torch
from torch import Tensor

from tvlens.protocol import HookedModel

RESID_POST_TEMPLATE = "blocks.{layer}.hook_resid_post"
FINAL_NORM_HOOK = "ln_final.hook_normalized"
# The bridge also exposes the final norm's output; hooking it keeps HF's native norm forward
# (editing hook_normalized makes the bridge rebuild the output and warn about it).
FINAL_NORM_OUT_HOOK = "ln_final.hook_out"


def transformer_lens_version() -> str:
    """The installed transformer-lens version string."""
    return version("transformer-lens")


def hooked_transformer_class() -> Any | None:
    """``HookedTransformer`` where this TransformerLens line has it (3.x), else ``None``."""
    try:
        from transformer_lens import HookedTransformer
    except ImportError:
        return None
    return HookedTransformer


def hooked_transformer_config_class() -> Any | None:
    """``HookedTransformerConfig`` where this TransformerLens line has it, else ``None``."""
    try:
        from transformer_lens import HookedTransformerConfig
    except ImportError:
        return None
    return HookedTransformerConfig


def bridge_class() -> Any:
    """``TransformerBridge`` (present on 3.x and 4.x)."""
    from transformer_lens.model_bridge import TransformerBridge

    return TransformerBridge


def bridge_config_class() -> Any:
    """``TransformerBridgeConfig``."""
    from transformer_lens.config import TransformerBridgeConfig

    return TransformerBridgeConfig


def model_name(model: HookedModel) -> str:
    """A stable name for ``model``, used to check task-vector provenance."""
    return str(getattr(model.cfg, "model_name", "") or "unknown")


def hook_names(model: HookedModel) -> set[str]:
    """All hook names a model accepts (aliases included where the class has them)."""
    names = set(getattr(model, "hook_dict", {}).keys())
    aliases = getattr(model, "hook_aliases", None)
    if isinstance(aliases, dict):
        names |= set(aliases.keys())
    return names


def has_hook(model: HookedModel, name: str) -> bool:
    """Whether ``name`` is a hook point of ``model``."""
    names = hook_names(model)
    if name in names:
        return True
    # The bridge resolves block-level aliases such as ``hook_resid_post`` per block.
    try:
        getter = getattr(model, "get_hook_point", None)
        if getter is not None and getter(name) is not None:
            return True
    except Exception:  # any failure means "not a hook point"
        return False
    return False


def final_norm_hook(model: HookedModel) -> str | None:
    """The hook after the final norm where logits can be narrowed to some positions.

    ``None`` for a model without a final norm (logits are then gathered after the pass).
    """
    for name in (FINAL_NORM_OUT_HOOK, FINAL_NORM_HOOK):
        if has_hook(model, name):
            return name
    return None


def final_norm(model: HookedModel, resid: Tensor) -> Tensor:
    """Apply the model's final normalization (identity for a model without one)."""
    ln_final = getattr(model, "ln_final", None)
    if ln_final is None:
        return resid
    out: Tensor = ln_final(resid)
    return out


def unembed(model: HookedModel, normalized: Tensor) -> Tensor:
    """Map normalized residuals ``[..., d_model]`` to logits ``[..., d_vocab]``.

    On a bridge around an HF model, final-logit soft-capping (e.g. Gemma 2) is applied when
    the config asks for it, so the result equals the model's own logits.
    """
    module = getattr(model, "unembed", None)
    if module is None:
        raise ValueError("model has no `unembed` module; cannot map residuals to logits")
    squeeze = normalized.dim() == 2
    x = normalized.unsqueeze(1) if squeeze else normalized
    logits: Tensor = module(x)
    cap = _final_softcap(model)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits.squeeze(1) if squeeze else logits


def _final_softcap(model: HookedModel) -> float | None:
    # HookedTransformer keeps the cap in its config; a bridge keeps it in the HF config.
    cap = getattr(model.cfg, "output_logits_soft_cap", None)
    if cap is not None and float(cap) > 0:
        return float(cap)
    hf = getattr(model, "original_model", None)
    hf_cap = getattr(getattr(hf, "config", None), "final_logit_softcapping", None)
    return float(hf_cap) if hf_cap else None
