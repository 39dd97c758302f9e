"""ICL prompt building and tokenization, with the arrow position of every row.

The arrow position is the last attended token of each row, computed from the attention
mask (never ``-1``), so it is right under left and right padding alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from jaxtyping import Int
from torch import Tensor

from tvlens._example import ICLExample
from tvlens.protocol import HookedModel

PaddingSide = Literal["left", "right"]


@dataclass(frozen=True)
class PromptFormat:
    """How demonstrations and queries are rendered as text.

    A demo renders as ``{input_prefix}{x}{arrow}{output_prefix}{y}``, the query as
    ``{input_prefix}{x}{arrow}``, and demos and query are joined by ``demo_sep``.

    Example:
        >>> fmt = PromptFormat()
        >>> fmt.icl([("a", "b")], "c")
        'a -> b\\nc ->'
        >>> PAPER_FORMAT.icl([("a", "b")], "c")
        'example:a->b\\nexample:c->'
    """

    input_prefix: str = ""
    arrow: str = " ->"
    output_prefix: str = " "
    demo_sep: str = "\n"
    name: str = "arrow"

    def __post_init__(self) -> None:
        if not self.arrow.strip():
            raise ValueError("PromptFormat.arrow must contain a visible separator, e.g. ' ->'")

    def demo(self, x: str, y: str) -> str:
        """Render one demonstration."""
        return f"{self.input_prefix}{x}{self.arrow}{self.output_prefix}{y}"

    def query(self, x: str) -> str:
        """Render a query: the input followed by the arrow."""
        return f"{self.input_prefix}{x}{self.arrow}"

    def icl(self, demos: Sequence[tuple[str, str]], x: str) -> str:
        """Demonstrations then the query: ``S + x ->`` (zero-shot when ``demos`` is empty)."""
        return self.demo_sep.join([*(self.demo(a, b) for a, b in demos), self.query(x)])

    def zero_shot(self, x: str) -> str:
        """The query alone: ``x ->``."""
        return self.query(x)

    def answer(self, y: str) -> str:
        """The answer as it appears after the arrow (leading space included if any)."""
        return f"{self.output_prefix}{y}"

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready dict (inverse of ``PromptFormat(**d)``)."""
        return asdict(self)


DEFAULT_FORMAT = PromptFormat()
PAPER_FORMAT = PromptFormat(
    input_prefix="example:", arrow="->", output_prefix="", demo_sep="\n", name="paper"
)
FORMATS: dict[str, PromptFormat] = {"arrow": DEFAULT_FORMAT, "paper": PAPER_FORMAT}


def get_format(name_or_format: str | PromptFormat) -> PromptFormat:
    """Look up a format by name (``"arrow"`` or ``"paper"``) or pass one through."""
    if isinstance(name_or_format, PromptFormat):
        return name_or_format
    try:
        return FORMATS[name_or_format]
    except KeyError:
        raise ValueError(
            f"unknown prompt format {name_or_format!r}; choose one of {sorted(FORMATS)}"
        ) from None


def icl_prompts(examples: Sequence[ICLExample], fmt: PromptFormat) -> list[str]:
    """Regular prompts ``S + x ->``, one per example."""
    return [fmt.icl(ex.demos, ex.query) for ex in examples]


def zero_shot_prompts(examples: Sequence[ICLExample], fmt: PromptFormat) -> list[str]:
    """Zero-shot prompts ``x ->``, one per example."""
    return [fmt.zero_shot(ex.query) for ex in examples]


def dummy_prompts(examples: Sequence[ICLExample], fmt: PromptFormat) -> list[str]:
    """Dummy prompts ``S + x' ->``: ``len(ex.dummy_queries)`` per example, in order.

    Raises:
        ValueError: if an example has no demonstrations or no dummy queries.
    """
    out: list[str] = []
    for i, ex in enumerate(examples):
        if not ex.demos:
            raise ValueError(
                f"example {i} has no demonstrations; a task vector needs at least one demo"
            )
        if not ex.dummy_queries:
            raise ValueError(f"example {i} has no dummy queries; sample examples with n_dummy >= 1")
        out.extend(fmt.icl(ex.demos, d) for d in ex.dummy_queries)
    return out


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
    use = (
        bool(getattr(model.cfg, "default_prepend_bos", True))
        if prepend_bos is None
        else (prepend_bos)
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
        ValueError: on an empty batch, a prompt longer than ``n_ctx``, or a row that does
            not end with the arrow.

    Example:
        >>> batch = tokenize_prompts(model, ["a -> b\\nc ->", "d ->"])  # doctest: +SKIP
        >>> batch.positions  # doctest: +SKIP
        tensor([6, 2])
    """
    if len(texts) == 0:
        raise ValueError("empty batch: pass at least one prompt")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    tokenizer = model.tokenizer
    if tokenizer is None:
        raise ValueError("model has no tokenizer; attach one (model.tokenizer) to build prompts")
    sink = sink_token_id(model, prepend_bos)
    rows = [([sink] if sink is not None else []) + encode(tokenizer, t) for t in texts]
    n_ctx = int(getattr(model.cfg, "n_ctx", 0) or 0)
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
                f"prompt {i} does not end with the arrow {fmt.arrow.strip()!r}: {text[-40:]!r}"
            )
    width = max(len(r) for r in rows)
    pad = pad_token_id(tokenizer)
    tokens = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        sl = slice(0, len(row)) if padding_side == "right" else slice(width - len(row), width)
        tokens[i, sl] = torch.tensor(row, dtype=torch.long)
        mask[i, sl] = 1
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
    """Each row's last token must be (the end of) the arrow, not text merged past it."""
    arrow = fmt.arrow.strip()
    for i, pos in enumerate(positions.tolist()):
        piece = tokenizer.decode([int(tokens[i, pos])])
        if not piece.strip() or not arrow.endswith(piece.strip()[-len(arrow) :]):
            raise ValueError(
                f"row {i}: cannot find the arrow {arrow!r} at its last token ({piece!r}); "
                f"the prompt must end with the format's arrow: {texts[i][-40:]!r}"
            )
