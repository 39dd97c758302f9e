"""Extractor and patcher hooks against TransformerLens's own cache, on both model classes."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import pytest
import torch
from torch import Tensor

import tvlens.hooks
from tests.conftest import count_fwd_hooks
from tvlens import PromptBatch, resid_extractor_hooks, task_vector_hooks, tokenize_prompts
from tvlens._compat import final_norm, unembed
from tvlens.hooks import StopForward, logits_at_hooks, resid_hook_name
from tvlens.prompts import DEFAULT_FORMAT

TEXTS = ["a -> A\nb -> B\nc ->", "d -> D\ne ->", "f ->"]


# Plain TransformerLens loops (no tvlens runner), the oracle the hook factories are held to.
def arrow_logits(model: Any, batch: PromptBatch, fwd_hooks: Sequence[Any] = ()) -> Tensor:
    """Full logits with ``fwd_hooks``, read at each row's arrow: ``[batch, d_vocab]``."""
    logits = model.run_with_hooks(
        batch.tokens, attention_mask=batch.attention_mask, fwd_hooks=list(fwd_hooks)
    )
    return logits[torch.arange(len(batch.positions)), batch.positions]


def arrow_resid(model: Any, batch: PromptBatch, layers: Sequence[int]) -> Tensor:
    """``[batch, len(layers), d_model]`` at each row's arrow; the pass stops early."""
    rec = resid_extractor_hooks(batch.positions, layers, stop_after=True)
    with contextlib.suppress(StopForward):
        model.run_with_hooks(batch.tokens, attention_mask=batch.attention_mask, fwd_hooks=rec.hooks)
    return rec.stacked()


@pytest.mark.parametrize("side", ["left", "right"])
def test_extraction_equals_run_with_cache(tiny_model, side) -> None:
    batch = tokenize_prompts(tiny_model, TEXTS, fmt=DEFAULT_FORMAT, padding_side=side)
    n_layers = tiny_model.cfg.n_layers
    rec = resid_extractor_hooks(batch.positions, range(n_layers))
    tiny_model.run_with_hooks(
        batch.tokens, attention_mask=batch.attention_mask, fwd_hooks=rec.hooks
    )
    _, cache = tiny_model.run_with_cache(batch.tokens, attention_mask=batch.attention_mask)
    rows = torch.arange(len(TEXTS))
    for layer in range(n_layers):
        expected = cache[resid_hook_name(layer)][rows, batch.positions]
        torch.testing.assert_close(rec.stacked()[:, layer], expected)
    assert count_fwd_hooks(tiny_model) == 0


def test_early_stopping_extraction_matches_full(tiny_model) -> None:
    batch = tokenize_prompts(tiny_model, TEXTS)
    full = resid_extractor_hooks(batch.positions, [0, 1, 2])
    tiny_model.run_with_hooks(
        batch.tokens, attention_mask=batch.attention_mask, fwd_hooks=full.hooks
    )
    early = arrow_resid(tiny_model, batch, [0, 1])
    torch.testing.assert_close(early, full.stacked()[:, :2])
    assert count_fwd_hooks(tiny_model) == 0


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_replace_patch_with_own_theta_leaves_logits_unchanged(tiny_model, layer) -> None:
    batch = tokenize_prompts(tiny_model, TEXTS, padding_side="left")
    theta = arrow_resid(tiny_model, batch, [layer])[:, 0]
    plain = tiny_model(batch.tokens, attention_mask=batch.attention_mask)
    patched = tiny_model.run_with_hooks(
        batch.tokens,
        attention_mask=batch.attention_mask,
        fwd_hooks=task_vector_hooks(
            theta, layer, batch.positions, n_layers=tiny_model.cfg.n_layers
        ),
    )
    torch.testing.assert_close(patched, plain)


def test_patch_at_last_layer_gives_unembedded_theta(tiny_model) -> None:
    last = tiny_model.cfg.n_layers - 1
    batch = tokenize_prompts(tiny_model, TEXTS)
    theta = torch.randn(
        len(TEXTS), tiny_model.cfg.d_model, generator=torch.Generator().manual_seed(0)
    )
    logits = arrow_logits(
        tiny_model,
        batch,
        task_vector_hooks(theta, last, batch.positions, n_layers=tiny_model.cfg.n_layers),
    )
    with torch.no_grad():
        expected = unembed(tiny_model, final_norm(tiny_model, theta[:, None]))[:, 0]
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def test_add_mode_adds(tiny_model) -> None:
    batch = tokenize_prompts(tiny_model, TEXTS)
    base = arrow_resid(tiny_model, batch, [1])[:, 0]
    delta = torch.ones(tiny_model.cfg.d_model)
    rec = resid_extractor_hooks(batch.positions, [1])
    tiny_model.run_with_hooks(
        batch.tokens,
        attention_mask=batch.attention_mask,
        fwd_hooks=[
            *task_vector_hooks(
                delta, 1, batch.positions, mode="add", n_layers=tiny_model.cfg.n_layers
            ),
            *rec.hooks,
        ],
    )
    torch.testing.assert_close(rec.stacked()[:, 0], base + delta)


def test_per_row_layers_equal_separate_runs(tiny_model) -> None:
    batch = tokenize_prompts(tiny_model, TEXTS, padding_side="left")
    gen = torch.Generator().manual_seed(1)
    theta = torch.randn(len(TEXTS), tiny_model.cfg.d_model, generator=gen)
    layers = torch.tensor([0, 2, 1])
    mixed = arrow_logits(
        tiny_model,
        batch,
        task_vector_hooks(theta, layers, batch.positions, n_layers=tiny_model.cfg.n_layers),
    )
    for i, layer in enumerate(layers.tolist()):
        one = arrow_logits(
            tiny_model,
            batch,
            task_vector_hooks(theta, layer, batch.positions, n_layers=tiny_model.cfg.n_layers),
        )
        torch.testing.assert_close(mixed[i], one[i])


def test_logits_at_hooks_equal_full_logits(tiny_model) -> None:
    batch = tokenize_prompts(tiny_model, TEXTS, padding_side="right")
    full = tiny_model(batch.tokens, attention_mask=batch.attention_mask)
    narrow = tiny_model.run_with_hooks(
        batch.tokens,
        attention_mask=batch.attention_mask,
        fwd_hooks=logits_at_hooks(batch.positions),
    )
    assert narrow.shape == (len(TEXTS), 1, full.shape[-1])
    torch.testing.assert_close(narrow[:, 0], full[torch.arange(len(TEXTS)), batch.positions])
    rows = torch.tensor([2, 0])  # some rows only, in the order asked
    some = tiny_model.run_with_hooks(
        batch.tokens,
        attention_mask=batch.attention_mask,
        fwd_hooks=logits_at_hooks(batch.positions, rows=rows),
    )
    assert some.shape == (2, 1, full.shape[-1])
    torch.testing.assert_close(some[:, 0], full[rows, batch.positions[rows]])


@pytest.mark.parametrize("fresh_tiny_model", ["hooked", "bridge"], indirect=True)
def test_raising_hook_leaves_no_tvlens_hook_and_keeps_users(fresh_tiny_model) -> None:
    model = fresh_tiny_model
    fired = []
    user_hook = resid_hook_name(0)
    model.add_hook(user_hook, lambda act, hook: fired.append(1))
    before = count_fwd_hooks(model)
    batch = tokenize_prompts(model, TEXTS)
    wrong = torch.zeros(model.cfg.d_model + 1)  # raises inside the hook, mid-forward
    with pytest.raises(ValueError, match="another model"):
        model.run_with_hooks(
            batch.tokens,
            attention_mask=batch.attention_mask,
            fwd_hooks=task_vector_hooks(wrong, 1, batch.positions, n_layers=model.cfg.n_layers),
        )
    with (
        pytest.raises(ValueError, match="another model"),
        model.hooks(
            fwd_hooks=task_vector_hooks(wrong, 2, batch.positions, n_layers=model.cfg.n_layers)
        ),
    ):
        model(batch.tokens, attention_mask=batch.attention_mask)
    arrow_resid(model, batch, [1])  # stops the forward early by raising
    assert count_fwd_hooks(model) == before
    fired.clear()
    model(batch.tokens, attention_mask=batch.attention_mask)
    assert fired == [1]


@pytest.mark.parametrize("side", ["left", "right"])
def test_patching_batched_equals_one_at_a_time(tiny_model, side) -> None:
    gen = torch.Generator().manual_seed(2)
    theta = torch.randn(len(TEXTS), tiny_model.cfg.d_model, generator=gen)
    batch = tokenize_prompts(tiny_model, TEXTS, padding_side=side)
    batched = arrow_logits(
        tiny_model,
        batch,
        task_vector_hooks(theta, 1, batch.positions, n_layers=tiny_model.cfg.n_layers),
    )
    for i, text in enumerate(TEXTS):
        one = tokenize_prompts(tiny_model, [text])
        single = arrow_logits(
            tiny_model,
            one,
            task_vector_hooks(theta[i : i + 1], 1, one.positions, n_layers=tiny_model.cfg.n_layers),
        )
        assert (batched[i] - single[0]).abs().max() < 1e-4


@pytest.mark.parametrize(
    "template", ["blocks.{layer}.hook_resid_pre", "blocks.{layer:d}.hook_resid_pre"]
)
def test_hook_template_patches_another_hook(tiny_model, template) -> None:
    # resid_pre of block L + 1 is resid_post of block L: patching either gives one result.
    batch = tokenize_prompts(tiny_model, TEXTS, padding_side="left")
    n_layers = tiny_model.cfg.n_layers
    theta = torch.randn(
        len(TEXTS), tiny_model.cfg.d_model, generator=torch.Generator().manual_seed(3)
    )
    post = task_vector_hooks(theta, 0, batch.positions, n_layers=n_layers)
    pre = task_vector_hooks(theta, 1, batch.positions, n_layers=n_layers, hook_template=template)
    assert [name for name, _ in pre] == ["blocks.1.hook_resid_pre"]
    plain = arrow_logits(tiny_model, batch)
    patched = arrow_logits(tiny_model, batch, pre)
    assert (patched - plain).abs().max() > 1e-3  # the patch did something
    torch.testing.assert_close(patched, arrow_logits(tiny_model, batch, post))
    assert count_fwd_hooks(tiny_model) == 0


def test_recorder_names_layers_that_never_fired(tiny_model) -> None:
    batch = tokenize_prompts(tiny_model, TEXTS)
    rec = resid_extractor_hooks(batch.positions, [0])
    with pytest.raises(ValueError, match=r"layers \[0\] were not recorded: no forward pass"):
        rec.stacked()
    beyond = resid_extractor_hooks(batch.positions, [0, 99])
    # HookedTransformer refuses the unknown hook name; a TransformerBridge skips it silently.
    with contextlib.suppress(KeyError):
        tiny_model.run_with_hooks(
            batch.tokens, attention_mask=batch.attention_mask, fwd_hooks=beyond.hooks
        )
    with pytest.raises(ValueError, match=r"layers \[.*99\] were not recorded"):
        beyond.stacked()
    assert count_fwd_hooks(tiny_model) == 0


def test_combine_helper_is_gone() -> None:
    assert not hasattr(tvlens.hooks, "combine")
