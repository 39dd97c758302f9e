"""The ICL example value: demonstrations, a query, its answer and dummy queries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any


def _text(field: str, value: Any) -> str:
    """``value`` as a plain ``str``; a ``TypeError`` naming ``field`` otherwise."""
    if not isinstance(value, str):
        raise TypeError(
            f"ICLExample.{field} must be a str, got {value!r} ({type(value).__name__}); "
            "convert it to text yourself (None is not the text 'None')"
        )
    return str(value)


def _visible(field: str, value: str) -> str:
    if not value.strip():
        raise ValueError(f"ICLExample.{field} is empty or whitespace: {value!r}")
    return value


def _ordered(raw: Any) -> bool:
    """An iterable with a defined order that is not itself text or a mapping."""
    return not isinstance(raw, (str, bytes, Mapping, Set)) and hasattr(raw, "__iter__")


def _demos(raw: Any) -> tuple[tuple[str, str], ...]:
    if not _ordered(raw):
        raise TypeError(
            f"ICLExample.demos must be a sequence of (input, output) pairs, got "
            f"{type(raw).__name__} {raw!r:.80}; e.g. demos=(('a', 'A'), ('b', 'B'))"
        )
    out: list[tuple[str, str]] = []
    for i, pair in enumerate(raw):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(
                f"ICLExample.demos[{i}] must be an (input, output) pair of two str, got {pair!r}"
            )
        x, y = pair
        out.append((_text(f"demos[{i}][0]", x), _text(f"demos[{i}][1]", y)))
        _visible(f"demos[{i}][0] (a demo input)", out[-1][0])
        _visible(f"demos[{i}][1] (a demo output)", out[-1][1])
    return tuple(out)


def _dummies(raw: Any, query: str) -> tuple[str, ...]:
    if isinstance(raw, (str, bytes)):
        raise TypeError(
            f"ICLExample.dummy_queries must be a sequence of str, got the single string {raw!r} "
            f"(it would be read as {len(raw)} one-character queries); "
            f"write dummy_queries=({raw!r},)"
        )
    if not _ordered(raw):
        raise TypeError(
            f"ICLExample.dummy_queries must be a sequence of str (in a fixed order), got "
            f"{type(raw).__name__} {raw!r:.80}"
        )
    out = tuple(
        _visible(f"dummy_queries[{i}]", _text(f"dummy_queries[{i}]", d)) for i, d in enumerate(raw)
    )
    for i, d in enumerate(out):
        if d == query:
            raise ValueError(
                f"ICLExample.dummy_queries[{i}] is the query itself ({d!r}); a dummy query x' "
                "must differ from the query x (the paper reads θ on S + x' with x' != x)"
            )
    return out


@dataclass(frozen=True)
class ICLExample:
    """One in-context-learning example.

    Attributes:
        demos: ``(input, output)`` demonstration pairs, in prompt order.
        query: the real query ``x``.
        answer: the expected output for ``query`` (without the format's separator).
        dummy_queries: the dummy queries ``x'`` used to read the task vector; they
            differ from ``query``.
        task: name of the task this example came from (informational).

    Raises:
        TypeError: if a field is not text (``None`` included), ``demos`` is not a
            sequence of pairs of ``str``, or ``dummy_queries`` is a single ``str``
            instead of a sequence of them; a set is refused for both, as their order
            is part of the prompt (each message names the field or index).
        ValueError: on an empty or whitespace-only query, answer, demo string or dummy
            query, or a dummy query equal to the query.

    Example:
        >>> ex = ICLExample(demos=(("a", "b"),), query="c", answer="d", dummy_queries=("e",))
        >>> ex.n_demos
        1
    """

    demos: tuple[tuple[str, str], ...]
    query: str
    answer: str
    dummy_queries: tuple[str, ...] = ()
    task: str = ""

    def __post_init__(self) -> None:
        query = _visible("query", _text("query", self.query))
        object.__setattr__(self, "query", query)
        object.__setattr__(self, "answer", _visible("answer", _text("answer", self.answer)))
        object.__setattr__(self, "task", _text("task", self.task))
        object.__setattr__(self, "demos", _demos(self.demos))
        object.__setattr__(self, "dummy_queries", _dummies(self.dummy_queries, query))

    @property
    def n_demos(self) -> int:
        """Number of demonstrations."""
        return len(self.demos)
