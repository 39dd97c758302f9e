"""Shared-prefix packing: layout, the attention rule, and packed == batched where it is used."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import letter_examples
from tvlens import extract_thetas, hypothesis, layer_sweep
from tvlens.engine.packing import common_prefix_length, pack
from tvlens.engine.runner import RunConfig, Runner

PACKED, BATCHED = RunConfig(method="packed"), RunConfig(method="batched")


def test_common_prefix_leaves_each_prompt_a_token() -> None:
    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 5]]) == 2
    assert common_prefix_length([[7, 8], [7, 8]]) == 1  # identical: the last token is a segment
    assert common_prefix_length([[1], [2]]) == 0


def test_pack_layout_positions_and_attention() -> None:
    packed = pack([[[1, 2, 3, 4], [1, 2, 5]], [[9, 8], [9, 8]]], pad_id=0)
    assert packed.tokens.tolist() == [[1, 2, 3, 4, 5], [9, 8, 8, 0, 0]]
    assert packed.position_ids[0].tolist() == [0, 1, 2, 3, 2]  # segment 2 restarts after prefix
    assert packed.position_ids[1, :3].tolist() == [0, 1, 1]
    assert packed.readout.tolist() == [[3, 4], [1, 2]]
    allow = packed.allow[0].int().tolist()
    assert allow[4] == [1, 1, 0, 0, 1]  # segment 2 sees the prefix and itself, not segment 1
    assert allow[3] == [1, 1, 1, 1, 0]  # segment 1 is causal over prefix + itself


def test_pack_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError, match="same number"):
        pack([[[1, 2]], [[1, 2], [1, 3]]], pad_id=0)


def test_tiny_tl_models_fall_back_and_explicit_packed_is_refused(tiny_model) -> None:
    # The HookedTransformer takes no position_ids; the natively booted bridge fails the probe.
    verdict = Runner(tiny_model).packing
    assert not verdict.exact
    assert "position_ids" in verdict.reason or "differ (rel." in verdict.reason
    examples = letter_examples(4)
    assert torch.equal(
        extract_thetas(tiny_model, examples), extract_thetas(tiny_model, examples, run=BATCHED)
    )
    with pytest.raises(
        ValueError, match=r"method='packed' cannot be used on this model: (.*position_ids|.*differ)"
    ):
        layer_sweep(tiny_model, examples, run=PACKED)


@pytest.fixture(scope="module")
def hf_bridge():
    from tvlens.testing import tiny_hf_bridge

    return tiny_hf_bridge()


EXAMPLES = letter_examples(7, n_demos=3, n_dummy=2, seed=4)


def test_the_hf_backed_bridge_passes_the_probe(hf_bridge) -> None:
    verdict = Runner(hf_bridge).packing
    assert verdict.exact, verdict.reason


def test_packed_extraction_equals_batched(hf_bridge) -> None:
    packed = extract_thetas(hf_bridge, EXAMPLES, run=RunConfig(method="packed", batch_size=2))
    batched = extract_thetas(hf_bridge, EXAMPLES, run=BATCHED)
    rel = (packed - batched).norm(dim=-1) / batched.norm(dim=-1)
    assert rel.max() < 1e-4


def test_packed_sweep_equals_batched_and_plain_hypothesis(hf_bridge) -> None:
    thetas = extract_thetas(hf_bridge, EXAMPLES, run=BATCHED)
    # sweep_batch_size=12 -> 12 // (2 * n_layers) examples per packed pass: several passes.
    packed = layer_sweep(
        hf_bridge, EXAMPLES, thetas=thetas, run=RunConfig(method="packed", sweep_batch_size=12)
    )
    batched = layer_sweep(hf_bridge, EXAMPLES, thetas=thetas, run=BATCHED)
    assert torch.equal(packed.predicted_token_ids, batched.predicted_token_ids)
    for j, layer in enumerate(packed.layers):
        plain = hypothesis(hf_bridge, EXAMPLES, layer, vector=thetas[:, j], run=BATCHED)
        assert packed.predicted_token_ids[:, j].tolist() == [
            p.predicted_token_id for p in plain.predictions
        ]


def test_rows_longer_than_the_limit_fall_back_to_batches(hf_bridge, monkeypatch) -> None:
    runner = Runner(hf_bridge, RunConfig(method="packed"))
    assert runner.packing.exact  # probed before the patches below
    monkeypatch.setattr(Runner, "max_packed_width", property(lambda self: 3))
    calls = []
    monkeypatch.setattr(Runner, "packed_resid", lambda *a, **k: calls.append(1))
    out = extract_thetas(hf_bridge, EXAMPLES, run=runner)
    assert not calls  # every packed row was too wide: all ran as plain batches
    assert torch.allclose(out, extract_thetas(hf_bridge, EXAMPLES, run=BATCHED), atol=1e-5)
