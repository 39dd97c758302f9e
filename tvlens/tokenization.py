"""Tokenization of prompts: padded batches with the arrow position of every row.

The arrow position is the last attended token of each row, computed from the attention
mask (never ``-1``), so it is right under left and right padding alike. Special-token
strings inside the data are refused, and answers are tokenized as they appear after the
arrow. :mod:`tvlens.prompts` re-exports every name here.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from jaxtyping import Int
from torch import Tensor

from tvlens import _compat
from tvlens.prompt_format import PromptFormat, require_format
from tvlens.protocol import HookedModel

PaddingSide = Literal["left", "right"]


def _text_rows(texts: Any, arg: str) -> list[str]:
    """``texts`` as a list of ``str``: a ``TypeError`` for one bare string or a non-str row."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"{arg} must be a sequence of str, got the single string {texts[:40]!r} (it would "
            "be read as one row per character): wrap it in a list for one row"
        )
    if isinstance(texts, Mapping) or not isinstance(texts, Iterable):
        raise TypeError(f"{arg} must be a sequence of str, got {type(texts).__name__}")
    rows = list(texts)
    for i, t in enumerate(rows):
        if not isinstance(t, str):
            raise TypeError(f"{arg}[{i}] must be a str, got {t!r} ({type(t).__name__})")
    return rows


def special_token_strings(tokenizer: Any) -> tuple[str, ...]:
    """The texts that ``tokenizer`` reads as special (control) tokens, longest first.

    ``tokenizer.all_special_tokens`` plus the added tokens marked special, and added tokens
    written like control tokens (``<...>``: Gemma's ``<start_of_image>`` is not marked
    special, yet reads as its image token).
    """
    found = {str(s) for s in (getattr(tokenizer, "all_special_tokens", None) or ())}
    added = getattr(tokenizer, "added_tokens_decoder", None)
    if isinstance(added, Mapping):
        for t in added.values():
            content = str(t.content)
            control_like = len(content) > 2 and content[0] == "<" and content[-1] == ">"
            if getattr(t, "special", False) or control_like:
                found.add(content)
    return tuple(sorted((s for s in found if s), key=lambda s: (-len(s), s)))


# tokenizer -> (what the special tokens depend on, their pattern); a tokenizer with
# thousands of added tokens (Gemma) takes tens of ms to list them, once per batch otherwise
_SPECIAL_PATTERNS: weakref.WeakKeyDictionary[Any, tuple[Any, re.Pattern[str] | None]] = (
    weakref.WeakKeyDictionary()
)


def _special_pattern(tokenizer: Any) -> re.Pattern[str] | None:
    try:
        key = (len(tokenizer), tuple(getattr(tokenizer, "all_special_tokens", None) or ()))
        hit = _SPECIAL_PATTERNS.get(tokenizer)
    except TypeError:  # no len, unhashable or not weak-referenceable: no cache
        key, hit = None, None
    if hit is not None and hit[0] == key:
        return hit[1]
    specials = special_token_strings(tokenizer)
    pattern = re.compile("|".join(map(re.escape, specials))) if specials else None
    if key is not None:
        _SPECIAL_PATTERNS[tokenizer] = (key, pattern)
    return pattern


def check_special_tokens(tokenizer: Any, texts: Sequence[str]) -> None:
    """Refuse texts that contain one of ``tokenizer``'s special-token strings.

    A string like ``"<eos>"`` or ``"<|endoftext|>"`` inside a prompt is tokenized as
    the control token, not as the text, so the model would not see the data.

    Raises:
        TypeError: if ``texts`` is one string or holds a non-string.
        ValueError: naming the text's index, the special token and the text.
    """
    rows = _text_rows(texts, "texts")
    pattern = _special_pattern(tokenizer)
    if pattern is None:
        return
    for i, text in enumerate(rows):
        m = pattern.search(text)
        if m is not None:
            raise ValueError(
                f"text {i} contains {m.group()!r}, a special token of this tokenizer "
                f"({type(tokenizer).__name__}); it would be read as a control token, not as "
                f"text: remove it from the data: {text[max(0, m.start() - 30) : m.end() + 30]!r}"
            )


@dataclass(frozen=True)
class PromptBatch:
    """A tokenized, padded batch of prompts.

    Attributes:
        tokens: ``[batch, pos]`` token ids (padding where ``attention_mask`` is 0).
        attention_mask: ``[batch, pos]``, 1 for real tokens.
        positions: ``[batch]`` index of the final arrow token of each row.
        texts: the prompts as text.
    """

    tokens: Int[Tensor, "batch pos"]
    attention_mask: Int[Tensor, "batch pos"]
    positions: Int[Tensor, " batch"]
    texts: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def row_ids(self, i: int) -> list[int]:
        """The real (unpadded) token ids of row ``i``."""
        return [int(t) for t, m in zip(self.tokens[i], self.attention_mask[i], strict=True) if m]


def last_positions(attention_mask: Int[Tensor, "batch pos"]) -> Int[Tensor, " batch"]:
    """Index of the last attended token per row, for any padding side.

    Raises:
        ValueError: if a row has no attended token.
    """
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be [batch, pos], got {tuple(attention_mask.shape)}")
    mask = attention_mask.long()
    if bool((mask.sum(-1) == 0).any()):
        raise ValueError("a row of the attention mask is all padding; it has no arrow token")
    idx = torch.arange(mask.shape[1], device=mask.device)
    return (mask * (idx + 1)).argmax(-1)


def sink_token_id(model: HookedModel, prepend_bos: bool | None) -> int | None:
    """The token prepended to every prompt, or ``None``.

    ``prepend_bos=None`` follows ``model.cfg.default_prepend_bos``; the token is the
    tokenizer's ``bos_token_id`` (model loaders set it to the model's attention sink).
    """
    if prepend_bos is not None and not isinstance(prepend_bos, bool):
        raise TypeError(f"prepend_bos must be True, False or None, got {prepend_bos!r}")
    use = (
        bool(getattr(model.cfg, "default_prepend_bos", True))
        if prepend_bos is None
        else prepend_bos
    )
    if not use:
        return None
    bos = getattr(model.tokenizer, "bos_token_id", None)
    if bos is None:
        raise ValueError(
            "prepend_bos is on but the tokenizer has no bos_token; set tokenizer.bos_token to "
            "the model's attention-sink token or pass prepend_bos=False"
        )
    return int(bos)


def pad_token_id(tokenizer: Any) -> int:
    """The id used for padding (pad, else eos, else 0); its value never affects results."""
    for attr in ("pad_token_id", "eos_token_id"):
        val = getattr(tokenizer, attr, None)
        if val is not None:
            return int(val)
    return 0


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` without any special tokens."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return [int(i) for i in ids]


def answer_token_ids(tokenizer: Any, answer: str, fmt: PromptFormat) -> list[int]:
    """Token ids of ``answer`` as it appears after the arrow in ``fmt``."""
    return encode(tokenizer, fmt.answer(answer))


def single_answer_token(tokenizer: Any, answer: str, fmt: PromptFormat) -> int:
    """The token id of ``answer`` after the arrow, when that is exactly one token.

    Single-token scoring compares one greedy next token with this id; an answer of
    several tokens is refused rather than scored on its first token.

    Raises:
        TypeError: if ``answer`` is not a str or ``fmt`` not a :class:`PromptFormat`.
        ValueError: if ``fmt.answer(answer)`` is not exactly one token, naming the
            pieces and the fix.

    Example:
        >>> single_answer_token(model.tokenizer, "Paris", DEFAULT_FORMAT)  # doctest: +SKIP
    """
    fmt = require_format(fmt)
    if not isinstance(answer, str):
        raise TypeError(f"answer must be a str, got {answer!r} ({type(answer).__name__})")
    ids = answer_token_ids(tokenizer, answer, fmt)
    if len(ids) != 1:
        pieces = [tokenizer.decode([i]) for i in ids]
        raise ValueError(
            f"answer {answer!r} is {len(ids)} tokens under this tokenizer ({pieces}); "
            "single-token modes score one next token, so it cannot be scored: filter the "
            "task with tvlens.tasks.for_model / filter_single_token, or use multi-token "
            "scoring (the generation modes)"
        )
    return ids[0]


def pad_rows(
    rows: Sequence[Sequence[int]], pad: int, side: str = "right"
) -> tuple[Int[Tensor, "n width"], Int[Tensor, "n width"], Int[Tensor, " n"]]:
    """Token rows as one batch padded with ``pad`` on ``side`` (``"left"`` or ``"right"``):
    the tokens, the attention mask and each row's offset (where its first token sits)."""
    width = max(len(r) for r in rows)
    tokens = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    offsets = torch.zeros(len(rows), dtype=torch.long)
    for i, row in enumerate(rows):
        start = 0 if side == "right" else width - len(row)
        tokens[i, start : start + len(row)] = torch.tensor(list(row), dtype=torch.long)
        mask[i, start : start + len(row)] = 1
        offsets[i] = start
    return tokens, mask, offsets


def _check_rows(
    rows: Sequence[Sequence[int]], texts: Sequence[str], n_ctx: int | None, fmt: PromptFormat | None
) -> None:
    """Refuse a prompt empty after tokenization, longer than ``n_ctx``, or (with ``fmt``)
    not ending with the arrow."""
    for i, (row, text) in enumerate(zip(rows, texts, strict=True)):
        if not row:
            raise ValueError(f"prompt {i} is empty after tokenization: {text!r}")
        if n_ctx and len(row) > n_ctx:
            raise ValueError(
                f"prompt {i} is {len(row)} tokens, longer than the model's context n_ctx={n_ctx}; "
                "use fewer demonstrations or shorter inputs"
            )
        if fmt is not None and not text.rstrip().endswith(fmt.arrow.strip()):
            raise ValueError(
                f"prompt {i} does not end with the arrow {fmt.arrow.strip()!r}: {text[-40:]!r}; "
                "end it with the arrow, or pass fmt= (the prompt format) for another one"
            )


def tokenize_prompts(
    model: HookedModel,
    texts: Sequence[str],
    *,
    fmt: PromptFormat | None = None,
    prepend_bos: bool | None = None,
    padding_side: PaddingSide = "right",
) -> PromptBatch:
    """Tokenize prompts into a padded batch and find the arrow position of each row.

    Args:
        model: the model whose tokenizer and context length are used.
        texts: prompts ending in the format's arrow.
        fmt: the prompt format; when given, each row is checked to end with its arrow.
        prepend_bos: lead each prompt with the attention-sink token (``None``: the
            model's ``cfg.default_prepend_bos``).
        padding_side: ``"left"`` or ``"right"``; results do not depend on it.

    Raises:
        TypeError: if ``texts`` is one string instead of a sequence of them, holds a
            non-string, or ``fmt`` is not a :class:`PromptFormat`.
        ValueError: on an empty batch, a prompt longer than ``n_ctx``, a row that does
            not end with the arrow, or text holding a special-token string (see
            :func:`check_special_tokens`).

    Example:
        >>> batch = tokenize_prompts(model, ["a -> b\\nc ->", "d ->"])  # doctest: +SKIP
        >>> batch.positions  # doctest: +SKIP
        tensor([6, 2])
    """
    texts = _text_rows(texts, "texts")
    if fmt is not None:
        require_format(fmt)
    if len(texts) == 0:
        raise ValueError("empty batch: pass at least one prompt")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    tokenizer = model.tokenizer
    if tokenizer is None:
        raise ValueError("model has no tokenizer; attach one (model.tokenizer) to build prompts")
    check_special_tokens(tokenizer, texts)
    sink = sink_token_id(model, prepend_bos)
    rows = [([sink] if sink is not None else []) + encode(tokenizer, t) for t in texts]
    _check_rows(rows, texts, _compat.n_ctx(model), fmt)
    tokens, mask, _ = pad_rows(rows, pad_token_id(tokenizer), padding_side)
    positions = last_positions(mask)
    if fmt is not None:
        _check_arrows(tokenizer, tokens, positions, fmt, texts)
    return PromptBatch(tokens=tokens, attention_mask=mask, positions=positions, texts=tuple(texts))


def prompt_ids(
    model: HookedModel,
    texts: Sequence[str],
    fmt: PromptFormat | None = None,
    prepend_bos: bool | None = None,
) -> list[list[int]]:
    """The token ids of each prompt, unpadded, checked as :func:`tokenize_prompts` does."""
    batch = tokenize_prompts(model, texts, fmt=fmt, prepend_bos=prepend_bos)
    return [batch.row_ids(i) for i in range(len(batch))]


def _check_arrows(
    tokenizer: Any,
    tokens: Tensor,
    positions: Tensor,
    fmt: PromptFormat,
    texts: Sequence[str],
) -> None:
    """Each row's last token must be (the end of) the arrow, not text merged past it.

    A byte-level tokenizer may split a character of the arrow (``"→"``) into several
    tokens, none of which decodes alone: the last tokens are then decoded together, the
    fewest that give whole characters.
    """
    arrow = fmt.arrow.strip()
    for i, pos in enumerate(positions.tolist()):
        piece = tokenizer.decode([int(tokens[i, pos])])
        for k in range(2, min(pos, 4) + 2):
            if "\ufffd" not in piece:
                break
            piece = tokenizer.decode([int(t) for t in tokens[i, pos + 1 - k : pos + 1]])
        if not piece.strip() or not arrow.endswith(piece.strip()[-len(arrow) :]):
            raise ValueError(
                f"row {i}: cannot find the arrow {arrow!r} at its last token ({piece!r}); "
                f"the prompt must end with the format's arrow: {texts[i][-40:]!r}"
            )
