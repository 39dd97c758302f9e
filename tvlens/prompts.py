"""ICL prompt building and tokenization, with the arrow position of every row.

The arrow position is the last attended token of each row, computed from the attention
mask (never ``-1``), so it is right under left and right padding alike.

Building the prompt texts lives here (:func:`icl_prompts`, :func:`zero_shot_prompts`,
:func:`dummy_prompts`); the format and its checks in :mod:`tvlens.prompt_format` and
tokenization in :mod:`tvlens.tokenization`, both re-exported here, so
``from tvlens.prompts import ...`` reaches every prompt name.
"""

from __future__ import annotations

from collections.abc import Sequence

from tvlens._example import ICLExample
from tvlens.prompt_format import (
    DEFAULT_FORMAT,
    FORMATS,
    PAPER_FORMAT,
    PromptFormat,
    _checked,
    check_examples,
    get_format,
    require_format,
)
from tvlens.tokenization import (
    PaddingSide,
    PromptBatch,
    answer_token_ids,
    check_special_tokens,
    encode,
    last_positions,
    pad_token_id,
    prompt_ids,
    single_answer_token,
    sink_token_id,
    special_token_strings,
    tokenize_prompts,
)

__all__ = [
    "DEFAULT_FORMAT",
    "FORMATS",
    "PAPER_FORMAT",
    "PaddingSide",
    "PromptBatch",
    "PromptFormat",
    "answer_token_ids",
    "check_examples",
    "check_special_tokens",
    "dummy_prompts",
    "encode",
    "get_format",
    "icl_prompts",
    "last_positions",
    "pad_token_id",
    "prompt_ids",
    "require_format",
    "single_answer_token",
    "sink_token_id",
    "special_token_strings",
    "tokenize_prompts",
    "zero_shot_prompts",
]


def icl_prompts(examples: Sequence[ICLExample], fmt: PromptFormat) -> list[str]:
    """Regular prompts ``S + x ->``, one per example (checked by :func:`check_examples`)."""
    return [fmt.icl(ex.demos, ex.query) for ex in _checked(examples, fmt)]


def zero_shot_prompts(examples: Sequence[ICLExample], fmt: PromptFormat) -> list[str]:
    """Zero-shot prompts ``x ->``, one per example (checked by :func:`check_examples`)."""
    return [fmt.zero_shot(ex.query) for ex in _checked(examples, fmt)]


def dummy_prompts(examples: Sequence[ICLExample], fmt: PromptFormat) -> list[str]:
    """Dummy prompts ``S + x' ->``: ``len(ex.dummy_queries)`` per example, in order.

    Raises:
        ValueError: if an example has no demonstrations or no dummy queries, or as
            :func:`check_examples`.
    """
    out: list[str] = []
    for i, ex in enumerate(_checked(examples, fmt)):
        if not ex.demos:
            raise ValueError(
                f"example {i} has no demonstrations; a task vector needs at least one demo"
            )
        if not ex.dummy_queries:
            raise ValueError(f"example {i} has no dummy queries; sample examples with n_dummy >= 1")
        out.extend(fmt.icl(ex.demos, d) for d in ex.dummy_queries)
    return out
