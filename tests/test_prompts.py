"""Prompt rendering, tokenization and arrow positions."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
import torch

from tvlens import PAPER_FORMAT, ICLExample, PromptFormat, tokenize_prompts
from tvlens.prompts import (
    DEFAULT_FORMAT,
    answer_token_ids,
    check_examples,
    check_special_tokens,
    dummy_prompts,
    get_format,
    icl_prompts,
    last_positions,
    prompt_ids,
    single_answer_token,
    special_token_strings,
    zero_shot_prompts,
)
from tvlens.testing import tiny_tokenizer


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


# ------------------------------------------------------------------- input validation
def bare(fn: Any) -> Any:
    """``fn`` without the test session's jaxtyping + beartype wrapper (what users call).

    Under the wrapper a wrong type fails with beartype's own ``TypeError`` before
    tvlens's check can name the fix.
    """
    return inspect.unwrap(fn)


def construct(cls: type, *args: Any, **kwargs: Any) -> Any:
    """``cls(*args, **kwargs)`` without the test-time wrapper of its ``__init__``."""
    obj = object.__new__(cls)
    bare(cls.__init__)(obj, *args, **kwargs)
    return obj


def ex(**changes: Any) -> ICLExample:
    fields: dict[str, Any] = {
        "demos": (("a", "A"), ("b", "B")),
        "query": "c",
        "answer": "C",
        "dummy_queries": ("d",),
    }
    return ICLExample(**{**fields, **changes})


@pytest.mark.parametrize("field", ["input_prefix", "arrow", "output_prefix", "demo_sep", "name"])
def test_format_fields_must_be_str(field: str) -> None:
    with pytest.raises(TypeError, match=rf"PromptFormat\.{field} must be a str, got None"):
        construct(PromptFormat, **{field: None})


def test_format_separator_rules() -> None:
    with pytest.raises(ValueError, match="demo_sep must be non-empty"):
        PromptFormat(demo_sep="")
    with pytest.raises(ValueError, match=r"arrow ' ->' contains the demo separator ' '"):
        PromptFormat(demo_sep=" ")
    with pytest.raises(ValueError, match=r"arrow '->\\n' contains the demo separator '\\n'"):
        PromptFormat(arrow="->\n")
    assert PromptFormat(arrow=" =>", demo_sep=" | ").icl([("a", "b")], "c") == "a => b | c =>"


@pytest.mark.parametrize("fmt", [DEFAULT_FORMAT, PAPER_FORMAT])
@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"query": "France ->"}, r"example 0: query 'France ->' already ends with the arrow '->'"),
        (
            {"query": "France->"},
            r"query 'France->' already ends with the arrow.*bare input 'France'",
        ),
        (
            {"dummy_queries": ("d", "e ->")},
            r"dummy_queries\[1\] 'e ->' already ends with the arrow",
        ),
        ({"demos": (("a ->", "A"),)}, r"demos\[0\] input 'a ->' already ends with the arrow"),
        ({"demos": (("a", "A"), ("x -> y", "B"))}, r"demos\[1\] input 'x -> y' contains the arrow"),
        ({"demos": (("a", "-> A"),)}, r"demos\[0\] output '-> A' contains the arrow '->'"),
        ({"answer": "C ->"}, r"answer 'C ->' contains the arrow '->'"),
        (
            {"demos": (("a", "A\nb"),)},
            r"demos\[0\] output 'A\\nb' contains the demo separator '\\n'",
        ),
        ({"demos": (("a\nb", "A"),)}, r"demos\[0\] input 'a\\nb' contains the demo separator"),
        ({"query": "c\nd"}, r"query 'c\\nd' contains the demo separator '\\n'"),
        ({"answer": "C\n"}, r"answer 'C\\n' contains the demo separator"),
    ],
)
def test_check_examples_refuses_text_that_breaks_the_format(
    fmt: PromptFormat, changes: dict[str, Any], problem: str
) -> None:
    examples = [ex(), ex(**changes)]
    for fn in (check_examples, icl_prompts, zero_shot_prompts, dummy_prompts):
        # zero-shot prompts carry no demos, yet the examples are checked as a whole
        with pytest.raises(ValueError, match=problem.replace("example 0", "example 1")):
            fn(examples, fmt)


def test_check_examples_follows_the_format() -> None:
    other = PromptFormat(arrow=" =>", demo_sep=" | ", name="other")
    weird = [ex(query="x -> y", demos=(("a\nb", "A"),))]
    assert icl_prompts(weird, other) == ["a\nb => A | x -> y =>"]
    with pytest.raises(ValueError, match=r"query 'c \| d' contains the demo separator ' \| '"):
        check_examples([ex(query="c | d")], other)
    check_examples([ex(), ex()], DEFAULT_FORMAT)  # valid input passes


def test_builders_read_a_generator_once() -> None:
    # typed Sequence (beartype refuses a generator in this session), but users may pass one
    examples = [ex(), ex(query="e")]
    assert bare(icl_prompts)(iter(examples), DEFAULT_FORMAT) == icl_prompts(
        examples, DEFAULT_FORMAT
    )
    assert bare(zero_shot_prompts)(iter(examples), DEFAULT_FORMAT) == ["c ->", "e ->"]
    assert len(bare(dummy_prompts)((e for e in examples), DEFAULT_FORMAT)) == 2


def test_check_examples_types() -> None:
    with pytest.raises(TypeError, match=r"examples\[1\] must be an ICLExample, got dict"):
        bare(check_examples)([ex(), {"query": "c"}], DEFAULT_FORMAT)
    with pytest.raises(
        TypeError, match="examples must be a sequence of ICLExample, got ICLExample"
    ):
        bare(check_examples)(ex(), DEFAULT_FORMAT)
    for fn in (check_examples, icl_prompts, zero_shot_prompts, dummy_prompts):
        with pytest.raises(TypeError, match=r"fmt must be a PromptFormat, got 'paper' \(str\)"):
            bare(fn)([ex()], "paper")
        with pytest.raises(TypeError):  # beartype's, in this test session
            fn([ex()], "paper")


def test_check_special_tokens_on_tokenizer() -> None:
    tok = tiny_tokenizer()
    check_special_tokens(tok, ["a -> A\nb ->", "plain <b> text"])
    with pytest.raises(ValueError, match=r"text 1 contains '<\|pad\|>', a special token"):
        check_special_tokens(tok, ["a ->", "x<|pad|>y ->"])
    tok.add_special_tokens({"additional_special_tokens": ["<eos>"]})
    assert "<eos>" in special_token_strings(tok)
    with pytest.raises(ValueError, match=r"text 0 contains '<eos>'.*control token"):
        check_special_tokens(tok, ["France <eos> ->"])
    with pytest.raises(TypeError, match="single string"):
        check_special_tokens(tok, "<eos>")


def test_tokenize_prompts_refuses_special_token_text(tiny_model) -> None:
    bos = tiny_model.tokenizer.bos_token
    with pytest.raises(ValueError, match=rf"text 1 contains {re.escape(repr(bos))}"):
        tokenize_prompts(tiny_model, ["a ->", f"a -> A\nb{bos} ->"])
    with pytest.raises(ValueError, match="special token"):
        prompt_ids(tiny_model, [f"{bos}b ->"])


def test_tokenize_prompts_text_types(tiny_model) -> None:
    with pytest.raises(TypeError, match=r"texts must be a sequence of str, got the single string"):
        tokenize_prompts(tiny_model, "abc")
    with pytest.raises(TypeError, match=r"texts\[1\] must be a str, got 3"):
        bare(tokenize_prompts)(tiny_model, ["a ->", 3])
    with pytest.raises(TypeError, match=r"texts\[0\] must be a str, got None"):
        bare(tokenize_prompts)(tiny_model, (t for t in [None]))
    with pytest.raises(TypeError, match=r"fmt must be a PromptFormat, got 'arrow'"):
        bare(tokenize_prompts)(tiny_model, ["a ->"], fmt="arrow")
    # any sequence of str still works, generators included
    a = tokenize_prompts(tiny_model, ("a ->", "b ->"))
    b = bare(tokenize_prompts)(tiny_model, (t for t in ["a ->", "b ->"]))
    assert torch.equal(a.tokens, b.tokens) and a.texts == b.texts == ("a ->", "b ->")


def test_single_answer_token() -> None:
    tok = tiny_tokenizer()
    assert (
        single_answer_token(tok, "B", DEFAULT_FORMAT)
        == answer_token_ids(tok, "B", DEFAULT_FORMAT)[0]
    )
    assert tok.decode([single_answer_token(tok, "A", PAPER_FORMAT)]) == "A"
    ids = answer_token_ids(tok, "Buenos Aires", DEFAULT_FORMAT)
    assert len(ids) > 1
    with pytest.raises(ValueError) as info:
        single_answer_token(tok, "Buenos Aires", DEFAULT_FORMAT)
    msg = str(info.value)
    assert msg.startswith(
        f"answer 'Buenos Aires' is {len(ids)} tokens under this tokenizer ([' B', 'u',"
    )
    assert "cannot be scored" in msg and "for_model / filter_single_token" in msg
    assert "generation modes" in msg
    # never scored as its first token; the pieces are listed as the tokenizer splits them
    pieces = [tok.decode([i]) for i in answer_token_ids(tok, "Paris", DEFAULT_FORMAT)]
    assert len(pieces) > 1
    expected = f"answer 'Paris' is {len(pieces)} tokens under this tokenizer ({pieces})"
    with pytest.raises(ValueError, match=re.escape(expected)):
        single_answer_token(tok, "Paris", DEFAULT_FORMAT)
    with pytest.raises(TypeError, match="fmt must be a PromptFormat"):
        bare(single_answer_token)(tok, "B", "arrow")
    with pytest.raises(TypeError, match="answer must be a str, got None"):
        bare(single_answer_token)(tok, None, DEFAULT_FORMAT)
