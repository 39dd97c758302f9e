"""Keep only the pairs whose answer is a single token for a given tokenizer.

Accuracy in tvlens compares the model's greedy next token at the arrow with the
answer's single token. An answer that is several tokens (``" Buenos Aires"`` ->
``" Buenos"``, ``" Aires"``) is **dropped** by this filter, never scored on its first
token, so predicting ``" Buenos"`` can't count as a correct ``"Buenos Aires"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tvlens.prompts import DEFAULT_FORMAT, PromptFormat, answer_token_ids
from tvlens.tasks.task import Pair, Task


def tokenizer_name(tokenizer: Any) -> str:
    """A readable name for a tokenizer: its ``name_or_path``, else its class name."""
    name = getattr(tokenizer, "name_or_path", None)
    return str(name) if name else type(tokenizer).__name__


@dataclass(frozen=True)
class FilteredTask(Task):
    """A :class:`Task` restricted to single-token answers, with what was dropped.

    Attributes:
        dropped: the ``(input, output)`` pairs removed because the output is not one
            token (in the original order).
        tokenizer_name: the tokenizer's ``name_or_path``.
        format_name: the :class:`~tvlens.PromptFormat` name the answers were
            tokenized under.
    """

    dropped: tuple[Pair, ...] = ()
    tokenizer_name: str = ""
    format_name: str = ""

    @property
    def n_kept(self) -> int:
        """Number of pairs kept (``len(self)``)."""
        return len(self.pairs)

    @property
    def n_dropped(self) -> int:
        """Number of pairs dropped for a multi-token answer."""
        return len(self.dropped)

    @property
    def n_original(self) -> int:
        """Number of pairs before filtering."""
        return self.n_kept + self.n_dropped

    def summary(self) -> str:
        """One line, e.g. ``"country_capital: kept 150 of 193 pairs (43 dropped) ..."``."""
        return (
            f"{self.name}: kept {self.n_kept} of {self.n_original} pairs ({self.n_dropped} "
            f"dropped: multi-token answers) for tokenizer {self.tokenizer_name!r}, "
            f"format {self.format_name!r}"
        )

    def _size_note(self) -> str:
        return (
            f" after single-token filtering (kept {self.n_kept}, dropped {self.n_dropped} "
            f"of {self.n_original}; tokenizer {self.tokenizer_name!r})"
        )


def filter_single_token(
    task: Task, tokenizer: Any, fmt: PromptFormat = DEFAULT_FORMAT
) -> FilteredTask:
    """Keep the pairs whose answer, as it appears after the arrow, is exactly one token.

    The answer is tokenized with :func:`tvlens.prompts.answer_token_ids` (``fmt``'s
    ``output_prefix`` included, e.g. the leading space of ``" Paris"``). Pairs whose
    answer is several tokens are dropped, not scored on their first token. Dummy
    queries keep drawing from the original task's ``input_space``.

    Raises:
        ValueError: if no pair is left (naming the task, the counts and tokenizer).
            Asking a filtered task for more pairs than it kept also raises, from
            :meth:`Task.sample`, with the kept and dropped counts.

    Example:
        >>> ft = filter_single_token(get_task("country_capital"), tokenizer)  # doctest: +SKIP
        >>> ft.n_kept, ft.n_dropped  # doctest: +SKIP
        (150, 43)
    """
    kept: list[Pair] = []
    dropped: list[Pair] = []
    for x, y in task.pairs:
        (kept if len(answer_token_ids(tokenizer, y, fmt)) == 1 else dropped).append((x, y))
    name = tokenizer_name(tokenizer)
    if not kept:
        raise ValueError(
            f"task {task.name!r}: no answer is a single token for tokenizer {name!r} "
            f"(kept 0, dropped {len(dropped)} of {len(task)}; format {fmt.name!r})"
        )
    return FilteredTask(
        name=task.name,
        category=task.category,
        pairs=tuple(kept),
        description=task.description,
        source=task.source,
        input_space=task.input_space,
        dropped=tuple(dropped),
        tokenizer_name=name,
        format_name=fmt.name,
    )


def for_model(task: Task, model: Any, fmt: PromptFormat = DEFAULT_FORMAT) -> FilteredTask:
    """:func:`filter_single_token` with ``model.tokenizer``.

    Raises:
        ValueError: if the model has no tokenizer, or as :func:`filter_single_token`.
    """
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ValueError(
            f"task {task.name!r}: the model has no tokenizer to filter answers with; "
            "attach one (model.tokenizer) or use filter_single_token(task, tokenizer)"
        )
    return filter_single_token(task, tokenizer, fmt)
