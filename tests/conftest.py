"""Shared fixtures: tiny HookedTransformer and TransformerBridge models (no downloads)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tvlens._compat import hooked_transformer_class
from tvlens.testing import tiny_bridge, tiny_hf_bridge, tiny_hooked_transformer

MODEL_KINDS = ["hooked", "bridge"]


def build_tiny(kind: str, **kwargs: Any) -> Any:
    """A tiny model of the given class; skips ``hooked`` where TransformerLens lacks it."""
    if kind == "hooked":
        if hooked_transformer_class() is None:
            pytest.skip("HookedTransformer was removed in transformer-lens 4")
        return tiny_hooked_transformer(**kwargs)
    return tiny_bridge(**kwargs)


# The two classes and the HF-backed bridges (grouped-query Llama, post-norm Gemma 3).
ALL_KINDS = ["hooked", "bridge", "hf-llama", "hf-gemma3"]


@cache
def tiny_of_kind(kind: str) -> Any:
    """One shared tiny model per kind of :data:`ALL_KINDS` (tests must not leave hooks)."""
    if kind.startswith("hf-"):
        return tiny_hf_bridge(arch=kind[3:])  # type: ignore[arg-type]
    return build_tiny(kind)


@pytest.fixture(scope="session", params=MODEL_KINDS)
def tiny_model(request: pytest.FixtureRequest) -> Any:
    """A tiny model of each class (session-scoped; tests must not leave hooks on it)."""
    return build_tiny(request.param)


@pytest.fixture()
def fresh_tiny_model(request: pytest.FixtureRequest) -> Any:
    """A new tiny model for tests that add hooks of their own."""
    return build_tiny(request.param)


def count_fwd_hooks(model: Any) -> int:
    """Forward hooks attached to all hook points of ``model``."""
    return sum(len(hp._forward_hooks) for hp in model.hook_dict.values())


@pytest.fixture()
def no_jaxtyping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Call tvlens without the test-only jaxtyping + beartype layer, as users do."""
    import jaxtyping

    monkeypatch.setattr(jaxtyping.config, "jaxtyping_disable", True)
