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


@pytest.fixture()
def loads(model: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch ``tvlens.models.load_model`` to return the test module's ``model`` fixture.

    The list records each load's model name, so a test can check that a command refused
    its input before loading anything.
    """
    import tvlens.models

    calls: list[str] = []

    def fake(name: str = "gemma-3-270m", **kw: Any) -> Any:
        calls.append(name)
        return model

    monkeypatch.setattr(tvlens.models, "load_model", fake)
    return calls


def count_fwd_hooks(model: Any) -> int:
    """Forward hooks attached to all hook points of ``model``."""
    return sum(len(hp._forward_hooks) for hp in model.hook_dict.values())


@pytest.fixture()
def no_jaxtyping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Call tvlens without the test-only jaxtyping + beartype layer, as users do."""
    import jaxtyping

    monkeypatch.setattr(jaxtyping.config, "jaxtyping_disable", True)


# ---- skips are bounded: CI fails on a skip that is not listed and explained here ----------
# A test may skip only for a reason below (a regular expression on the skip's message). With
# TVLENS_STRICT_SKIPS=1 (set by .ci/run) a skip for any other reason fails the session: a
# failed chromium install, a missing embedded model or a dependency that did not install
# would otherwise pass unnoticed as "skipped".
ALLOWED_SKIPS: dict[str, str] = {
    r"HookedTransformer was removed in transformer-lens 4": (
        "TL 4 has no HookedTransformer: its tests run on the TL 3 line"
    ),
    r"^transformer-lens 3\.x$": "a TL 4-only check, run on the TL 4 line",
    r"HookedTransformer needs transformer-lens 3\.x": "TL 4 has no HookedTransformer",
    r"no KV cache on this model": (
        "generation with a KV cache is tested where tvlens can drive one (HookedTransformer, "
        "a bridge over an HF model); the tiny native bridge recomputes (docs/performance.md)"
    ),
    r"root ignores permissions": "CI runs as root, where unwritable folders cannot be made",
    r"could not import 'ray'": "Ray is installed on the TL 3 line only (the grid's in-process "
    "tests run on both)",
    r"this machine has a GPU": "the CPU-only device check skips where a GPU exists",
}


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


_SKIPPED: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append((report.nodeid, _skip_reason(report)))


def unlisted_skips(skipped: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ``(test, reason)`` pairs whose reason matches no pattern of :data:`ALLOWED_SKIPS`."""
    import re

    return [(t, r) for t, r in skipped if not any(re.search(p, r) for p in ALLOWED_SKIPS)]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("TVLENS_STRICT_SKIPS") != "1":
        return
    bad = unlisted_skips(_SKIPPED)
    if bad:
        lines = "\n".join(f"  {t}: {r}" for t, r in bad[:20])
        print(
            f"\n{len(bad)} test(s) skipped for a reason not listed in tests/conftest.py "
            f"ALLOWED_SKIPS (TVLENS_STRICT_SKIPS=1):\n{lines}"
        )
        session.exitstatus = 1
