"""Extractor and patcher hooks against TransformerLens's own cache, on both model classes."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import count_fwd_hooks
from tvlens import resid_extractor_hooks, task_vector_hooks, tokenize_prompts
from tvlens._compat import final_norm, unembed
from tvlens.hooks import logits_at_hooks, resid_hook_name
from tvlens.prompts import DEFAULT_FORMAT
from tvlens.runner import arrow_logits, arrow_resid

TEXTS = ["a -> A\nb -> B\nc ->", "d -> D\ne ->", "f ->"]


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
        fwd_hooks=task_vector_hooks(theta, layer, batch.positions),
    )
    torch.testing.assert_close(patched, plain)


def test_patch_at_last_layer_gives_unembedded_theta(tiny_model) -> None:
    last = tiny_model.cfg.n_layers - 1
    batch = tokenize_prompts(tiny_model, TEXTS)
    theta = torch.randn(
        len(TEXTS), tiny_model.cfg.d_model, generator=torch.Generator().manual_seed(0)
    )
    logits = arrow_logits(tiny_model, batch, task_vector_hooks(theta, last, batch.positions))
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
        fwd_hooks=[*task_vector_hooks(delta, 1, batch.positions, mode="add"), *rec.hooks],
    )
    torch.testing.assert_close(rec.stacked()[:, 0], base + delta)


def test_per_row_layers_equal_separate_runs(tiny_model) -> None:
    batch = tokenize_prompts(tiny_model, TEXTS, padding_side="left")
    gen = torch.Generator().manual_seed(1)
    theta = torch.randn(len(TEXTS), tiny_model.cfg.d_model, generator=gen)
    layers = torch.tensor([0, 2, 1])
    mixed = arrow_logits(tiny_model, batch, task_vector_hooks(theta, layers, batch.positions))
    for i, layer in enumerate(layers.tolist()):
        one = arrow_logits(tiny_model, batch, task_vector_hooks(theta, layer, batch.positions))
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
            fwd_hooks=task_vector_hooks(wrong, 1, batch.positions),
        )
    with (
        pytest.raises(ValueError, match="another model"),
        model.hooks(fwd_hooks=task_vector_hooks(wrong, 2, batch.positions)),
    ):
        model(batch.tokens, attention_mask=batch.attention_mask)
    arrow_resid(model, batch, [1])  # stops the forward early by raising
    assert count_fwd_hooks(model) == before
    fired.clear()
    model(batch.tokens, attention_mask=batch.attention_mask)
    assert fired == [1]


def test_bad_patch_inputs(tiny_model) -> None:
    pos = torch.tensor([1, 2])
    d = tiny_model.cfg.d_model
    with pytest.raises(ValueError, match="out of range"):
        task_vector_hooks(
            torch.zeros(d), tiny_model.cfg.n_layers, pos, n_layers=tiny_model.cfg.n_layers
        )
    with pytest.raises(ValueError, match="out of range"):
        task_vector_hooks(torch.zeros(d), -1, pos, n_layers=tiny_model.cfg.n_layers)
    with pytest.raises(ValueError, match="one per row"):
        task_vector_hooks(torch.zeros(3, d), 0, pos)
    with pytest.raises(ValueError, match="at least one layer"):
        resid_extractor_hooks(pos, [])


@pytest.mark.parametrize("side", ["left", "right"])
def test_patching_batched_equals_one_at_a_time(tiny_model, side) -> None:
    gen = torch.Generator().manual_seed(2)
    theta = torch.randn(len(TEXTS), tiny_model.cfg.d_model, generator=gen)
    batch = tokenize_prompts(tiny_model, TEXTS, padding_side=side)
    batched = arrow_logits(tiny_model, batch, task_vector_hooks(theta, 1, batch.positions))
    for i, text in enumerate(TEXTS):
        one = tokenize_prompts(tiny_model, [text])
        single = arrow_logits(
            tiny_model, one, task_vector_hooks(theta[i : i + 1], 1, one.positions)
        )
        assert (batched[i] - single[0]).abs().max() < 1e-4
