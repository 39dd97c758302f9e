"""Keep only the pairs whose answer is a single token for a given tokenizer.

Accuracy in tvlens compares the model's greedy next token at the arrow with the
answer's single token. An answer that is several tokens (``" Buenos Aires"`` ->
``" Buenos"``, ``" Aires"``) is **dropped** by this filter, never scored on its first
token, so predicting ``" Buenos"`` can't count as a correct ``"Buenos Aires"``.
"""

from __future__ import annotations

from typing import Any

from tvlens.prompts import DEFAULT_FORMAT, PromptFormat, require_format
from tvlens.tasks.task import FilteredTask, Task, tokenizer_name

__all__ = ["FilteredTask", "filter_single_token", "for_model", "tokenizer_name"]


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
    if not isinstance(task, Task):
        raise TypeError(f"task must be a tvlens Task, got {type(task).__name__}")
    return task.single_token(tokenizer, require_format(fmt))


def for_model(
    task: Task, model: Any, fmt: PromptFormat = DEFAULT_FORMAT, *, max_tokens: int = 1
) -> FilteredTask:
    """:func:`filter_single_token` with ``model.tokenizer`` (answers of 1 to ``max_tokens``
    tokens with ``max_tokens`` > 1, for the generation modes).

    Raises:
        ValueError: if the model has no tokenizer, or as :func:`filter_single_token`.
    """
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ValueError(
            f"task {task.name!r}: the model has no tokenizer to filter answers with; "
            "attach one (model.tokenizer) or use filter_single_token(task, tokenizer)"
        )
    if max_tokens == 1:
        return filter_single_token(task, tokenizer, fmt)
    if not isinstance(task, Task):
        raise TypeError(f"task must be a tvlens Task, got {type(task).__name__}")
    return task.short_answers(tokenizer, require_format(fmt), max_tokens=max_tokens)
