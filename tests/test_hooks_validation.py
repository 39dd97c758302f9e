"""The hook factories refuse bad arguments at the call, with a message naming the fix.

Type errors are tested with jaxtyping's test-time checks switched off (``no_jaxtyping``):
that is how users call tvlens, so tvlens's own checks must answer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import count_fwd_hooks
from tvlens import resid_extractor_hooks, task_vector_hooks, tokenize_prompts
from tvlens.hooks import check_layer, logits_at_hooks

TEXTS = ["a -> A\nb -> B\nc ->", "d -> D\ne ->", "f ->"]


@pytest.fixture()
def no_jaxtyping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Call tvlens without the test-only jaxtyping + beartype layer, as users do."""
    import jaxtyping

    monkeypatch.setattr(jaxtyping.config, "jaxtyping_disable", True)


def _pos(n: int = 3) -> torch.Tensor:
    return torch.arange(n) + 1


def _logits(model, batch, hooks) -> torch.Tensor:
    return model.run_with_hooks(batch.tokens, attention_mask=batch.attention_mask, fwd_hooks=hooks)


# ---- layers --------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["n_layers", -1, 99])
def test_layer_out_of_range_refused(tiny_model, bad) -> None:
    n_layers = tiny_model.cfg.n_layers
    layer = n_layers if bad == "n_layers" else bad
    top = n_layers - 1
    with pytest.raises(ValueError, match=rf"layer {layer} is out of range: .*layers 0\.\.{top}"):
        task_vector_hooks(torch.zeros(tiny_model.cfg.d_model), layer, _pos(), n_layers=n_layers)
    with pytest.raises(ValueError, match=rf"layer {layer} is out of range"):
        check_layer(layer, n_layers)


@pytest.mark.parametrize("bad", [1.5, 1.0, True, "2", None, torch.tensor(1.0), torch.tensor([1])])
def test_layer_of_wrong_type_refused(no_jaxtyping, bad) -> None:
    with pytest.raises(TypeError, match=r"layer must be an int"):
        check_layer(bad, 3)
    if not isinstance(bad, torch.Tensor):  # a 1-D tensor is a per-row layer tensor
        with pytest.raises(TypeError, match=r"layer must be an int.*got"):
            task_vector_hooks(torch.zeros(4), bad, _pos(), n_layers=3)


def test_layer_type_error_names_value_and_fix(no_jaxtyping) -> None:
    with pytest.raises(TypeError, match=r"got 1\.5 \(float\); pass a whole-number layer index"):
        check_layer(1.5, 3)
    with pytest.raises(TypeError, match=r"got the bool True"):
        check_layer(True, 3)


@pytest.mark.parametrize("layer", [np.int64(1), np.int32(1), np.uint8(1), torch.tensor(1)])
def test_int_like_layers_patch_like_an_int(tiny_model, layer) -> None:
    batch = tokenize_prompts(tiny_model, TEXTS)
    n_layers, d = tiny_model.cfg.n_layers, tiny_model.cfg.d_model
    theta = torch.randn(d, generator=torch.Generator().manual_seed(0))
    value = check_layer(layer, n_layers)
    assert value == 1 and type(value) is int
    expected = _logits(
        tiny_model, batch, task_vector_hooks(theta, 1, batch.positions, n_layers=n_layers)
    )
    pairs = task_vector_hooks(theta, layer, batch.positions, n_layers=n_layers)
    assert [name for name, _ in pairs] == ["blocks.1.hook_resid_post"]
    torch.testing.assert_close(_logits(tiny_model, batch, pairs), expected)


def test_per_row_layers_out_of_range_refused(tiny_model) -> None:
    # Unchecked, row 1 (layer 7) would silently stay unpatched on a 3-layer model.
    n_layers = tiny_model.cfg.n_layers
    with pytest.raises(
        ValueError, match=rf"per-row layers \[7\] are out of range.*0\.\.{n_layers - 1}"
    ):
        task_vector_hooks(torch.zeros(2, 4), torch.tensor([1, 7]), _pos(2), n_layers=n_layers)
    with pytest.raises(ValueError, match=r"per-row layers \[-1\] are out of range"):
        task_vector_hooks(torch.zeros(2, 4), torch.tensor([-1, 0]), _pos(2), n_layers=n_layers)


def test_per_row_layers_of_wrong_dtype_or_shape_refused(no_jaxtyping) -> None:
    with pytest.raises(ValueError, match="3 layers for 2 rows"):
        task_vector_hooks(torch.zeros(2, 4), torch.tensor([0, 1, 2]), _pos(2), n_layers=3)
    with pytest.raises(TypeError, match="per-row layer tensor must have an integer dtype"):
        task_vector_hooks(torch.zeros(2, 4), torch.tensor([1.0, 2.0]), _pos(2), n_layers=3)
    with pytest.raises(TypeError, match="integer dtype"):
        task_vector_hooks(torch.zeros(2, 4), torch.tensor([True, False]), _pos(2), n_layers=3)
    with pytest.raises(ValueError, match=r"got shape \(2, 1\)"):
        task_vector_hooks(torch.zeros(2, 4), torch.tensor([[1], [2]]), _pos(2), n_layers=3)


def test_n_layers_required_and_checked(no_jaxtyping) -> None:
    with pytest.raises(TypeError, match="n_layers"):
        task_vector_hooks(torch.zeros(4), 1, _pos())
    with pytest.raises(ValueError, match=r"n_layers must be >= 1, got 0"):
        task_vector_hooks(torch.zeros(4), 0, _pos(), n_layers=0)
    for bad in ("3", 3.0, True, None):
        with pytest.raises(TypeError, match=r"n_layers must be an int.*n_layers=model\.cfg"):
            task_vector_hooks(torch.zeros(4), 0, _pos(), n_layers=bad)
    assert task_vector_hooks(torch.zeros(4), 0, _pos(), n_layers=np.int64(3))


# ---- positions -----------------------------------------------------------------------------
def test_negative_position_refused(tiny_model) -> None:
    n_layers = tiny_model.cfg.n_layers
    bad = torch.tensor([2, -1, 3])
    with pytest.raises(ValueError, match=r"positions has a negative entry \(-1\).*padding"):
        task_vector_hooks(torch.zeros(4), 1, bad, n_layers=n_layers)
    with pytest.raises(ValueError, match="negative entry"):
        resid_extractor_hooks(bad, [0])
    with pytest.raises(ValueError, match="negative entry"):
        resid_extractor_hooks(torch.tensor([[1, -2]]), [0])
    with pytest.raises(ValueError, match="negative entry"):
        logits_at_hooks(bad)


@pytest.mark.parametrize(
    "bad", [[1, 2, 3], torch.tensor([1.0, 2.0]), torch.tensor([True, False]), np.array([1, 2])]
)
def test_positions_of_wrong_type_refused(no_jaxtyping, bad) -> None:
    with pytest.raises(TypeError, match=r"positions must be .*integer tensor"):
        task_vector_hooks(torch.zeros(4), 1, bad, n_layers=3)
    with pytest.raises(TypeError, match=r"positions must be .*integer tensor"):
        resid_extractor_hooks(bad, [0])
    with pytest.raises(TypeError, match=r"positions must be .*integer tensor"):
        logits_at_hooks(bad)


def test_positions_of_wrong_rank_refused(no_jaxtyping) -> None:
    with pytest.raises(ValueError, match=r"positions must be \[batch\] .*got shape \(1, 2\)"):
        task_vector_hooks(torch.zeros(4), 1, torch.tensor([[1, 2]]), n_layers=3)
    with pytest.raises(ValueError, match=r"\[batch\] or \[batch, k\].*got shape \(\)"):
        resid_extractor_hooks(torch.tensor(1), [0])
    with pytest.raises(ValueError, match=r"\[batch\] or \[batch, k\].*got shape \(1, 1, 1\)"):
        logits_at_hooks(torch.ones(1, 1, 1, dtype=torch.long))


@pytest.mark.parametrize("factory", ["patch", "extract", "logits"])
def test_position_beyond_sequence_refused_in_the_hook(tiny_model, factory) -> None:
    batch = tokenize_prompts(tiny_model, TEXTS)
    seq_len = batch.tokens.shape[1]
    far = batch.positions.clone()
    far[0] = seq_len
    if factory == "patch":
        hooks = task_vector_hooks(
            torch.zeros(tiny_model.cfg.d_model), 1, far, n_layers=tiny_model.cfg.n_layers
        )
    elif factory == "extract":
        hooks = resid_extractor_hooks(far, [1]).hooks
    else:
        hooks = logits_at_hooks(far)
    with pytest.raises(ValueError, match=rf"entry {seq_len} but the sequence has only {seq_len}"):
        _logits(tiny_model, batch, hooks)
    assert count_fwd_hooks(tiny_model) == 0


# ---- vectors, mode, template ---------------------------------------------------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_vectors_refused(bad) -> None:
    vec = torch.zeros(2, 4)
    vec[1, 2] = bad
    with pytest.raises(ValueError, match=r"vectors has 1 NaN or inf entries \(of 8\)"):
        task_vector_hooks(vec, 1, _pos(2), n_layers=3)


def test_vectors_of_wrong_type_or_rank_refused(no_jaxtyping) -> None:
    with pytest.raises(TypeError, match="vectors must be a floating-point tensor, got dtype"):
        task_vector_hooks(torch.zeros(4, dtype=torch.long), 1, _pos(), n_layers=3)
    with pytest.raises(TypeError, match=r"vectors must be a float tensor .*got list"):
        task_vector_hooks([0.0] * 4, 1, _pos(), n_layers=3)
    with pytest.raises(ValueError, match=r"got shape \(1, 2, 4\)"):
        task_vector_hooks(torch.zeros(1, 2, 4), 1, _pos(), n_layers=3)
    with pytest.raises(ValueError, match="3 vectors for 2 positions"):
        task_vector_hooks(torch.zeros(3, 4), 0, _pos(2), n_layers=3)


def test_mode_checked(no_jaxtyping) -> None:
    with pytest.raises(ValueError, match=r"mode must be 'replace' or 'add', got 'swap'"):
        task_vector_hooks(torch.zeros(4), 1, _pos(), mode="swap", n_layers=3)


@pytest.mark.parametrize(
    "template", ["blocks.hook_resid_post", "blocks.{layer}.{site}", "blocks.{}.x", "{layer"]
)
def test_bad_hook_template_refused(template) -> None:
    with pytest.raises(ValueError, match="hook_template"):
        task_vector_hooks(torch.zeros(4), 1, _pos(), n_layers=3, hook_template=template)


def test_hook_template_must_be_str(no_jaxtyping) -> None:
    with pytest.raises(TypeError, match="hook_template must be a str"):
        task_vector_hooks(torch.zeros(4), 1, _pos(), n_layers=3, hook_template=None)


# ---- extractor layers ----------------------------------------------------------------------
def test_extractor_layers_checked(no_jaxtyping) -> None:
    for bad in (1.5, True, "2"):
        with pytest.raises(TypeError, match=r"layers entry must be an int"):
            resid_extractor_hooks(_pos(), [0, bad])
    with pytest.raises(ValueError, match=r"layers entry -1 is negative"):
        resid_extractor_hooks(_pos(), [-1])
    for bad in ("12", 3, torch.tensor(2)):
        with pytest.raises(TypeError, match="layers must be an iterable of ints"):
            resid_extractor_hooks(_pos(), bad)
    with pytest.raises(ValueError, match="at least one layer"):
        resid_extractor_hooks(_pos(), [])
    rec = resid_extractor_hooks(_pos(), [np.int64(2), torch.tensor(0)])
    assert rec.layers == (2, 0) and all(type(x) is int for x in rec.layers)
    assert resid_extractor_hooks(_pos(), torch.tensor([1, 2])).layers == (1, 2)


def test_hook_name_str_checked(no_jaxtyping) -> None:
    with pytest.raises(TypeError, match="hook_name must be a str"):
        logits_at_hooks(_pos(), hook_name=3)


def test_logits_rows_checked(tiny_model, no_jaxtyping) -> None:
    with pytest.raises(ValueError, match="holds an index twice"):
        logits_at_hooks(_pos(), rows=torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="rows has a negative entry"):
        logits_at_hooks(_pos(), rows=torch.tensor([-1]))
    with pytest.raises(TypeError, match="rows must be"):
        logits_at_hooks(_pos(), rows=[0])
    tokens = tiny_model.to_tokens(["a ->", "b ->"])
    far = logits_at_hooks(torch.zeros(2, dtype=torch.long), rows=torch.tensor([5]))
    with pytest.raises(ValueError, match="rows has an entry 5"):
        tiny_model.run_with_hooks(tokens, fwd_hooks=far)
    assert count_fwd_hooks(tiny_model) == 0
