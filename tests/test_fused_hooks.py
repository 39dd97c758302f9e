"""Hooks registered as one (tvlens.engine.fused_hooks): the same pass as plain hooks."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.conftest import ALL_KINDS, count_fwd_hooks, tiny_of_kind
from tvlens import DEFAULT_FORMAT, get_task, layer_sweep
from tvlens.engine.fused_hooks import fuse_hooks
from tvlens.engine.runner import Runner
from tvlens.prompts import zero_shot_prompts


def _tokens(model: Any) -> torch.Tensor:
    examples = get_task("antonyms").sample(3, n_demos=1, seed=0)
    return Runner(model).tokenize(zero_shot_prompts(examples, DEFAULT_FORMAT)).tokens


def _pairs(model: Any, calls: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    """Hooks that change the residual in an order-dependent way, two on each point, and
    record their calls (name seen, step), with a reader of what the previous one wrote."""
    d = model.cfg.d_model
    v = torch.linspace(-1, 1, d)

    def add(step: str, scale: float) -> Any:
        def hook(act: torch.Tensor, hook: Any) -> torch.Tensor:
            calls.append((hook.name, step))
            return act + scale * v.to(act.dtype)

        return hook

    def double(step: str) -> Any:
        def hook(act: torch.Tensor, hook: Any) -> torch.Tensor:
            calls.append((hook.name, step))
            return 2 * act

        return hook

    def read(step: str) -> Any:
        def hook(act: torch.Tensor, hook: Any) -> None:
            calls.append((hook.name, f"{step}:{float(act[0, 0, 0]):.6f}"))

        return hook

    last = model.cfg.n_layers - 1
    return [
        ("blocks.0.hook_resid_post", add("a", 0.5)),
        (f"blocks.{last}.hook_resid_post", double("b")),
        ("blocks.0.hook_resid_post", double("c")),
        ("blocks.0.hook_resid_post", read("d")),
        (f"blocks.{last}.hook_resid_post", add("e", -0.25)),
    ]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_fused_hooks_give_the_plain_pass(kind: str) -> None:
    model = tiny_of_kind(kind)
    tokens = _tokens(model)
    plain_calls: list[tuple[str, str]] = []
    fused_calls: list[tuple[str, str]] = []
    with torch.inference_mode():
        plain = model.run_with_hooks(tokens, fwd_hooks=_pairs(model, plain_calls))
        fused_pairs = fuse_hooks(model, _pairs(model, fused_calls))
        assert len(fused_pairs) == 1
        fused = model.run_with_hooks(tokens, fwd_hooks=fused_pairs)
        clean = model(tokens)
    assert not torch.equal(plain, clean)  # the hooks did something
    assert torch.equal(plain, fused)
    assert fused_calls == plain_calls  # same order, same names seen, same values read
    assert count_fwd_hooks(model) == 0


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_no_hook_left_behind_when_a_fused_hook_raises(kind: str) -> None:
    model = tiny_of_kind(kind)

    def boom(act: torch.Tensor, hook: Any) -> None:
        raise RuntimeError("boom")

    pairs = [("blocks.0.hook_resid_post", lambda a, hook: None), ("blocks.0.hook_resid_pre", boom)]
    with pytest.raises(RuntimeError, match="boom"):
        model.run_with_hooks(_tokens(model), fwd_hooks=fuse_hooks(model, pairs))
    assert count_fwd_hooks(model) == 0


def test_an_alias_and_its_hook_point_both_run_once_in_order() -> None:
    model = tiny_of_kind("bridge")
    canonical = model.hook_dict["blocks.0.hook_resid_post"].name
    assert canonical != "blocks.0.hook_resid_post"  # the bridge's alias
    seen: list[str] = []
    pairs = [
        ("blocks.0.hook_resid_post", lambda a, hook: seen.append("alias")),
        (canonical, lambda a, hook: seen.append("canonical")),
    ]
    with torch.inference_mode():
        model.run_with_hooks(_tokens(model)[:1], fwd_hooks=pairs)
        plain, seen[:] = list(seen), []
        model.run_with_hooks(_tokens(model)[:1], fwd_hooks=fuse_hooks(model, pairs))
    assert seen == plain == ["alias", "canonical"]


@pytest.mark.parametrize("kind", ["hooked", "bridge"])
def test_what_could_change_meaning_is_left_to_transformer_lens(kind: str) -> None:
    model = tiny_of_kind(kind)

    def fn(a: torch.Tensor, hook: Any) -> None:
        return None

    one = [("blocks.0.hook_resid_post", fn)]
    cases = [
        one,  # nothing to fuse
        [*one, (lambda name: name.endswith("hook_resid_pre"), fn)],  # a filter
        [*one, ("blocks.0.no_such_hook", fn)],  # an unknown name: TL's own error or no-op
        [*one, ("blocks.0.attn.hook_result", fn)],  # gated off: TL refuses it
    ]
    for pairs in cases:
        assert fuse_hooks(model, pairs) == pairs


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_sweep_registers_one_hook_per_pass(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_of_kind(kind)
    examples = get_task("antonyms").sample(4, n_demos=1, seed=3)
    runner = Runner(model)
    expected = layer_sweep(model, examples, first_token=True, run=runner)
    registered: list[int] = []
    original = model.run_with_hooks

    def spy(*args: Any, **kwargs: Any) -> Any:
        registered.append(len(kwargs.get("fwd_hooks", [])))
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "run_with_hooks", spy)
    got = layer_sweep(model, examples, first_token=True, run=runner)
    assert torch.equal(got.predicted_token_ids, expected.predicted_token_ids)
    assert registered and set(registered) == {1}
