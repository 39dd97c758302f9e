"""Everything that differs between TransformerLens 3 and 4 and between model classes.

tvlens code outside this module never imports a concrete TransformerLens model class and
never checks a TransformerLens version.
"""

from __future__ import annotations

import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path
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


SCORES_HOOK = "blocks.{layer}.attn.hook_attn_scores"


def n_ctx(model: HookedModel) -> int | None:
    """The model's context length, or ``None`` where its config does not say."""
    value = int(getattr(model.cfg, "n_ctx", 0) or 0)
    return value or None


def _hf_config(model: HookedModel) -> Any:
    """The Hugging Face config of a bridge's wrapped model (``None`` elsewhere)."""
    return getattr(getattr(model, "original_model", None), "config", None)


def sliding_window(model: HookedModel) -> int | None:
    """The sliding-window length of a bridge's HF model, if it has sliding layers.

    Sliding-window layers mask by distance in the sequence, not by position id, so a
    packed row must stay within the window to compute what separate prompts do.
    """
    window = getattr(_hf_config(model), "sliding_window", None)
    return int(window) if window else None


def packing_blocker(model: HookedModel) -> str:
    """Why ``model`` cannot run packed rows at all ("" when it structurally can).

    Packing needs a forward that takes ``position_ids`` (a TransformerBridge over an HF
    model) and an ``attn.hook_attn_scores`` hook point in every block.
    """
    accepts = getattr(model, "_accepts_derived_position_ids", None)
    if accepts is None or getattr(model, "original_model", None) is None:
        return (
            f"{type(model).__name__} does not take position_ids "
            "(only a TransformerBridge over a Hugging Face model does)"
        )
    try:
        able = bool(accepts())
    except Exception as err:
        return f"the bridge could not say whether it takes position_ids ({err!r})"
    if not able:
        return "this bridge's HF model does not take position_ids"
    if SCORES_HOOK.format(layer=0) not in hook_names(model):
        return f"the model has no {SCORES_HOOK.format(layer=0)!r} hook"
    return ""


def position_ids_kwargs(position_ids: Tensor) -> dict[str, Tensor]:
    """The forward keyword that passes explicit position ids to a bridge."""
    return {"position_ids": position_ids}


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


def require_hooked_transformer() -> Any:
    """The ``HookedTransformer`` class; a ValueError on TL 4+ (removed there)."""
    cls = hooked_transformer_class()
    if cls is None:
        raise ValueError(
            "kind='hooked' needs HookedTransformer, which was removed in transformer-lens "
            f"4.0 (installed: {transformer_lens_version()}); install transformer-lens 3.x "
            "(pip install 'transformer-lens<4') or use kind='bridge'."
        )
    return cls


def hooked_known_names() -> set[str]:
    """(TL 3 only) Official model names HookedTransformer can load by name."""
    from transformer_lens import loading_from_pretrained as loading

    return set(loading.OFFICIAL_MODEL_NAMES)


def hooked_from_local_dir(
    model_dir: Path,
    hf_model: Any,
    tokenizer: Any,
    *,
    device: str,
    dtype: torch.dtype,
) -> Any:
    """(TL 3 only) A HookedTransformer for a model TL does not know by name.

    ``HookedTransformer.from_pretrained`` only accepts names TransformerLens knows, but its
    config loader also accepts a local Hugging Face folder. This follows ``from_pretrained``
    with every weight-processing flag off, so logits match Hugging Face. TL guesses the
    architecture from substrings of the path ("llama", "gemma"), so the config is read from
    a copy in a neutrally named temporary folder.
    """
    hooked_cls = require_hooked_transformer()
    from transformer_lens import loading_from_pretrained as loading

    with tempfile.TemporaryDirectory(prefix="tvlens-cfg-") as tmp:
        shutil.copy(model_dir / "config.json", Path(tmp) / "config.json")
        cfg = loading.get_pretrained_model_config(
            tmp,
            hf_cfg=hf_model.config.to_dict(),
            fold_ln=False,
            device=device,
            default_prepend_bos=True,
            dtype=dtype,
        )
        state_dict = loading.get_pretrained_state_dict(tmp, cfg, hf_model, dtype=dtype)
    model = hooked_cls(cfg, tokenizer, move_to_device=False)
    model.load_and_process_state_dict(
        state_dict,
        fold_ln=False,
        center_writing_weights=False,
        center_unembed=False,
        fold_value_biases=False,
        refactor_factored_attn_matrices=False,
    )
    model.move_model_modules_to_device()
    return model
