"""Prompt rendering, tokenization and arrow positions."""

from __future__ import annotations

import pytest
import torch

from tvlens import PAPER_FORMAT, PromptFormat, tokenize_prompts
from tvlens.prompts import DEFAULT_FORMAT, get_format, last_positions


def test_default_format_renders_demos_and_query() -> None:
    assert DEFAULT_FORMAT.icl([("a", "b"), ("c", "d")], "e") == "a -> b\nc -> d\ne ->"
    assert DEFAULT_FORMAT.zero_shot("e") == "e ->"
    assert DEFAULT_FORMAT.answer("E") == " E"


def test_paper_format_matches_paper_code() -> None:
    assert PAPER_FORMAT.icl([("a", "b")], "c") == "example:a->b\nexample:c->"
    assert PAPER_FORMAT.answer("d") == "d"
    assert get_format("paper") is PAPER_FORMAT


def test_unknown_format_name() -> None:
    with pytest.raises(ValueError, match="unknown prompt format 'nope'"):
        get_format("nope")


def test_last_positions_from_mask_any_padding() -> None:
    right = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1]])
    assert last_positions(right).tolist() == [2, 3]
    assert last_positions(left).tolist() == [3, 3]
    with pytest.raises(ValueError, match="all padding"):
        last_positions(torch.tensor([[0, 0]]))


@pytest.mark.parametrize("side", ["left", "right"])
def test_arrow_positions_point_at_arrow(tiny_model, side) -> None:
    texts = ["a -> A\nb -> B\nc ->", "d ->"]
    batch = tokenize_prompts(tiny_model, texts, fmt=DEFAULT_FORMAT, padding_side=side)
    tok = tiny_model.tokenizer
    for i in range(2):
        assert tok.decode([int(batch.tokens[i, batch.positions[i]])]).strip() == "->"
        # the sink token leads each row
        assert batch.row_ids(i)[0] == tok.bos_token_id
    assert batch.attention_mask.sum().item() == sum(len(batch.row_ids(i)) for i in range(2))


def test_prepend_bos_false_drops_sink(tiny_model) -> None:
    batch = tokenize_prompts(tiny_model, ["a ->"], prepend_bos=False)
    assert tiny_model.tokenizer.bos_token_id not in batch.row_ids(0)


def test_empty_batch_raises(tiny_model) -> None:
    with pytest.raises(ValueError, match="empty batch"):
        tokenize_prompts(tiny_model, [])


def test_prompt_longer_than_context_raises(tiny_model) -> None:
    long = "\n".join(["a -> A"] * 200) + "\nb ->"
    with pytest.raises(ValueError, match=r"longer than the model's context n_ctx=128"):
        tokenize_prompts(tiny_model, [long])


def test_row_without_arrow_raises(tiny_model) -> None:
    with pytest.raises(ValueError, match="does not end with the arrow"):
        tokenize_prompts(tiny_model, ["a -> A\nb"], fmt=DEFAULT_FORMAT)


def test_format_needs_visible_arrow() -> None:
    with pytest.raises(ValueError, match="visible separator"):
        PromptFormat(arrow="  ")
