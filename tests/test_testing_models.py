"""Tests of tvlens.testing.tiny_hf_bridge: tiny HF-backed bridges on which packing is exact."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tvlens.engine import packing
from tvlens.testing import (
    BOS,
    HF_ARCHS,
    TINY_SLIDING_WINDOW,
    HFArch,
    tiny_hf_bridge,
    tiny_hf_model,
)

# The last prompt is longer than Gemma's sliding window, so local layers really mask.
PROMPTS = [
    "a -> b\nc -> d\ne ->",
    "cat dog house -> sun",
    " ".join(f"{a} -> {b}" for a, b in zip("abcdefghijklmnop", "ponmlkjihgfedcba", strict=True)),
]


@pytest.fixture(scope="module", params=HF_ARCHS)
def arch(request: pytest.FixtureRequest) -> HFArch:
    value: HFArch = request.param
    return value


@pytest.fixture(scope="module")
def bridge(arch: HFArch) -> Any:
    """One tiny HF bridge per architecture (tests must not leave hooks on it)."""
    return tiny_hf_bridge(arch=arch)


def test_logits_equal_hf(arch: HFArch, bridge: Any) -> None:
    # An independently built HF model with the same seed: the bridge must not change it.
    reference = tiny_hf_model(arch=arch)
    tokens = bridge.to_tokens(PROMPTS)
    if arch == "gemma3":
        assert tokens.shape[1] > TINY_SLIDING_WINDOW
    with torch.no_grad():
        expected = reference(tokens).logits
        logits = bridge(tokens)
    assert logits.shape == expected.shape == (len(PROMPTS), tokens.shape[1], len(bridge.tokenizer))
    assert (logits - expected).abs().max().item() < 1e-5


def test_same_seed_same_weights_and_fresh_models(arch: HFArch) -> None:
    a, b = tiny_hf_model(arch=arch, seed=3), tiny_hf_model(arch=arch, seed=3)
    c = tiny_hf_model(arch=arch, seed=4)
    pa, pb, pc = (dict(m.named_parameters()) for m in (a, b, c))
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not all(torch.equal(pa[k], pc[k]) for k in pa)
    state = torch.random.get_rng_state()
    first = tiny_hf_bridge(arch=arch, n_layers=1, d_model=32)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    assert first is not tiny_hf_bridge(arch=arch, n_layers=1, d_model=32)
    assert first.cfg.n_layers == 1 and first.cfg.d_model == 32


def test_packing_is_exact(bridge: Any) -> None:
    rel = _probe_rel(bridge, with_rule=True)
    assert rel.max().item() < 1e-4, f"packed vs separate relative difference {rel.tolist()}"


def test_tvlens_packing_probe_passes(bridge: Any) -> None:
    exact, reason = _tvlens_packing_verdict(bridge)
    assert exact, reason


def test_probe_is_sensitive_to_the_attention_rule(bridge: Any) -> None:
    # Without the attention-scores hook the second segment sees the first one: the probe
    # then fails, so its passing above shows the hook really masks on this adapter.
    rel = _probe_rel(bridge, with_rule=False)
    assert rel[0].item() < 1e-4 < rel[1].item()


def test_sliding_window_limits_packing(arch: HFArch, bridge: Any) -> None:
    # Sliding-window layers mask by distance in the row, not by position id: a packed row
    # wider than Gemma's window is not exact (tvlens then does not pack it); Llama's is.
    prefix = " ".join(f"{a} -> {b}" for a, b in zip("abcdefgh", "hgfedcba", strict=True))
    texts = [f"{prefix} x -> y z ->", f"{prefix} u -> v w ->"]
    rel = _probe_rel(bridge, with_rule=True, texts=texts)
    width = sum(len(bridge.to_tokens(t)[0]) for t in texts)
    assert width > TINY_SLIDING_WINDOW
    if arch == "gemma3":
        assert rel[1].item() > 1e-4
    else:
        assert rel.max().item() < 1e-4


def test_hooks_and_bos(bridge: Any) -> None:
    names = set(bridge.hook_dict)
    for layer in range(bridge.cfg.n_layers):
        assert f"blocks.{layer}.attn.hook_attn_scores" in names
        assert f"blocks.{layer}.hook_resid_post" in names
    assert bridge.cfg.default_prepend_bos is True
    assert bridge.tokenizer.bos_token == BOS
    bos_id = bridge.tokenizer.bos_token_id
    tokens = bridge.to_tokens("a")[0].tolist()
    assert tokens[0] == bos_id and tokens.count(bos_id) == 1
    assert bridge.cfg.model_name.startswith("tiny-hf-")


def test_gemma3_is_gemma_like() -> None:
    hf = tiny_hf_model(arch="gemma3")
    assert type(hf).__name__ == "Gemma3ForCausalLM"
    assert set(hf.config.layer_types) == {"sliding_attention", "full_attention"}
    layer = hf.model.layers[0]
    for norm in ("post_attention_layernorm", "pre_feedforward_layernorm"):
        assert hasattr(layer, norm)
    assert hf.config.num_key_value_heads == 1
    assert hf.config._attn_implementation == "eager"


def test_llama_is_gqa() -> None:
    hf = tiny_hf_model(arch="llama")
    assert type(hf).__name__ == "LlamaForCausalLM"
    assert hf.config.num_key_value_heads == 2 < hf.config.num_attention_heads
    assert hf.config._attn_implementation == "eager"


def test_unknown_arch_raises() -> None:
    # A TypeError where jaxtyping checks annotations at run time, else a ValueError.
    with pytest.raises((ValueError, TypeError), match="arch"):
        tiny_hf_model(arch="gpt2")  # type: ignore[arg-type]


def _tvlens_packing_verdict(model: Any) -> tuple[bool, str]:
    """tvlens's own packing check on ``model``: ``(exact, why)``."""
    from tvlens.engine.runner import Runner

    verdict = Runner(model).packing
    return bool(verdict.exact), str(verdict.reason)


def _last_resid(model: Any, tokens: torch.Tensor, hooks: list[Any], **kwargs: Any) -> Any:
    """``blocks.{last}.hook_resid_post`` of a forward pass with ``hooks`` added."""
    seen: list[torch.Tensor] = []
    name = f"blocks.{int(model.cfg.n_layers) - 1}.hook_resid_post"

    def record(resid: torch.Tensor, hook: Any) -> None:
        seen.append(resid.detach().clone())

    with torch.no_grad():
        model.run_with_hooks(tokens, fwd_hooks=[*hooks, (name, record)], **kwargs)
    assert len(seen) == 1
    return seen[0]


def _probe_rel(
    model: Any,
    *,
    with_rule: bool,
    texts: tuple[str, ...] | list[str] = ("a -> b\nc -> d\ne ->", "a -> b\nc -> d\nfg ->"),
) -> torch.Tensor:
    """Per segment, the relative difference of packed and separate residuals (as the probe)."""
    ids = [model.to_tokens(t)[0].tolist() for t in texts]
    packed = packing.pack([ids], int(model.tokenizer.pad_token_id))
    rules = packing.attention_rule_hooks(packed.allow, model.cfg.n_layers) if with_rule else []
    resid = _last_resid(model, packed.tokens, rules, position_ids=packed.position_ids)
    together = resid[0, packed.readout[0]]
    apart = torch.stack([_last_resid(model, torch.tensor([row]), [])[0, -1] for row in ids])
    return (together - apart).norm(dim=-1) / apart.norm(dim=-1).clamp_min(1e-6)
