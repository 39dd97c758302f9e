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
    """The model's context length, or ``None`` where its config does not say.

    The smaller of TransformerLens's ``cfg.n_ctx`` and, on a bridge, the wrapped HF model's
    ``max_position_embeddings``: a bridge runs past the latter without a word.
    """
    limits = [
        int(getattr(model.cfg, "n_ctx", 0) or 0),
        int(getattr(_hf_config(model), "max_position_embeddings", 0) or 0),
    ]
    return min((x for x in limits if x > 0), default=None)


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
    cap = final_softcap(model)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits.squeeze(1) if squeeze else logits


def final_softcap(model: HookedModel) -> float | None:
    """The final-logit soft-cap of ``model`` (``None`` where it has none)."""
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


# ---- attention heads (tvlens.fv.heads, tvlens.fv.vector) ---------------------------------
# Both model classes expose these names: on a bridge, ``attn.hook_z`` is an alias of the input
# of the output projection (``attn.o.hook_in``), ``[batch, pos, n_heads, d_head]`` with one
# slice per *query* head also under grouped-query attention; ``hook_attn_out`` is what the
# attention block adds to the residual stream, after the post-attention norm where there is one.
HOOK_Z_TEMPLATE = "blocks.{layer}.attn.hook_z"
ATTN_OUT_TEMPLATE = "blocks.{layer}.hook_attn_out"
POST_ATTN_SCALE_TEMPLATE = "blocks.{layer}.ln1_post.hook_scale"


def n_heads(model: HookedModel) -> int:
    """The number of query heads per layer (``cfg.n_heads``)."""
    return int(model.cfg.n_heads)


def n_key_value_heads(model: HookedModel) -> int:
    """Key/value heads per layer: ``cfg.n_key_value_heads`` under grouped-query attention."""
    value = getattr(model.cfg, "n_key_value_heads", None)
    return int(value) if value else n_heads(model)


def head_out_weights(model: HookedModel, layer: int) -> Tensor:
    """``W_O`` of ``layer``: ``[n_heads, d_head, d_model]``, one slice per query head."""
    w: Tensor = model.blocks[layer].attn.W_O  # type: ignore[attr-defined]
    return w.detach()


def attn_out_bias(model: HookedModel, layer: int) -> Tensor | None:
    """``b_O`` of ``layer`` (``[d_model]``), or ``None`` where the projection has none."""
    b = getattr(model.blocks[layer].attn, "b_O", None)  # type: ignore[attr-defined]
    return None if b is None else b.detach()


def post_attention_norm(model: HookedModel, layer: int) -> Any | None:
    """The norm between attention and the residual stream (Gemma 2/3's ``ln1_post``), or None."""
    return getattr(model.blocks[layer], "ln1_post", None)  # type: ignore[attr-defined]


def post_attention_gain(model: HookedModel, layer: int) -> Tensor | None:
    """The per-channel gain ``g`` of the post-attention RMS norm, ``out = x / rms(x) * g``.

    Read by calling the norm on a constant vector ``c·1`` (its RMS is ``c``), so it is the
    gain the model applies whatever the storage convention: Gemma's HF norm stores ``w`` and
    multiplies by ``1 + w``, TransformerLens's ``HookedTransformer`` folds the 1 into ``w``.
    ``None`` for a model without a post-attention norm.
    """
    norm = post_attention_norm(model, layer)
    if norm is None:
        return None
    w_o = head_out_weights(model, layer)
    c = 1e3  # rms(c·1) = sqrt(c² + eps) = c to 1e-12 for any eps below 1e-6
    probe = torch.full((1, 1, w_o.shape[-1]), c, dtype=w_o.dtype, device=w_o.device)
    with torch.inference_mode():
        out: Tensor = norm(probe)
    return out[0, 0].detach().float()
