"""The ICL example value: demonstrations, a query, its answer and dummy queries."""

from __future__ import annotations

from dataclasses import dataclass


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
        object.__setattr__(self, "demos", tuple((str(x), str(y)) for x, y in self.demos))
        object.__setattr__(self, "dummy_queries", tuple(self.dummy_queries))

    @property
    def n_demos(self) -> int:
        """Number of demonstrations."""
        return len(self.demos)
