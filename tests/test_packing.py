"""Shared-prefix packing: layout, attention rule, and where it is (not) used."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import letter_examples
from tvlens import extract_thetas, layer_sweep
from tvlens.packing import common_prefix_length, pack, supports_packing, use_packing


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
    assert packed.input_ids[0] == ((1, 2, 3, 4), (1, 2, 5))


def test_pack_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError, match="same number"):
        pack([[[1, 2]], [[1, 2], [1, 3]]], pad_id=0)


def test_tiny_models_fall_back_and_explicit_packed_is_refused(tiny_model) -> None:
    # Neither tiny model passes the exactness probe, so "auto" runs plain batches.
    assert not supports_packing(tiny_model)
    examples = letter_examples(4)
    auto = extract_thetas(tiny_model, examples)
    batched = extract_thetas(tiny_model, examples, method="batched")
    assert torch.equal(auto, batched)
    with pytest.raises(ValueError, match="method='batched'"):
        layer_sweep(tiny_model, examples, method="packed")


def test_unknown_method(tiny_model) -> None:
    with pytest.raises(ValueError, match="method must be"):
        use_packing(tiny_model, "fast")
