"""The skip bound of tests/conftest.py: an unlisted skip reason is caught, listed ones pass."""

from __future__ import annotations

from tests.conftest import ALLOWED_SKIPS, unlisted_skips


def test_an_unlisted_skip_is_caught_and_listed_ones_pass() -> None:
    skipped = [
        ("tests/test_compare.py::test_browser", "Debian's chromium is not installed"),
        ("tests/test_generation.py::test_kv[bridge]", "no KV cache on this model: ..."),
        ("tests/test_models.py::test_x", "HookedTransformer was removed in transformer-lens 4"),
    ]
    assert unlisted_skips(skipped) == [skipped[0]]
    assert all(reason for reason in ALLOWED_SKIPS.values())
