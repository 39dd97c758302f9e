"""Task look-up and example building shared by the analyses.

A task is given as a name (looked up in :mod:`tvlens.tasks`, imported only then) or as any
object with ``.name`` and ``.pairs`` (a sequence of ``(input, output)``), optionally with a
``.sample(n, n_demos=, n_dummy=, seed=)`` method. Examples can always be built from the
pairs alone, with a seeded :class:`random.Random`, so the analyses work without the
registry.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Sequence
from typing import Any

from tvlens._example import ICLExample
from tvlens.prompts import DEFAULT_FORMAT, PromptFormat


def resolve_task(task: Any, model: Any = None, fmt: PromptFormat = DEFAULT_FORMAT) -> Any:
    """A task object: objects pass through; names go through ``tvlens.tasks.get_task``.

    A task given by name is restricted to single-token answers for ``model``'s tokenizer
    (``tvlens.tasks.for_model``), as the task suite scores one answer token.
    """
    if not isinstance(task, str):
        return task
    # Imported on use: the analyses work on task objects without the registry.
    registry = importlib.import_module("tvlens.tasks")
    resolved = registry.get_task(task)
    for_model = getattr(registry, "for_model", None)
    if model is not None and for_model is not None:
        resolved = for_model(resolved, model, fmt)
    return resolved


def task_name(task: Any) -> str:
    """The name of a task given by name or as an object with ``.name``."""
    if isinstance(task, str):
        return task
    name = getattr(task, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"task object {task!r} has no .name; give tasks a name")
    return name


def task_pairs(task: Any) -> list[tuple[str, str]]:
    """The ``(input, output)`` pairs of a task, one per distinct input.

    Raises:
        ValueError: if the object has no ``.pairs``, or an input maps to two outputs.
        TypeError: if a pair is not two strings (``None`` never becomes the text "None").
    """
    name = task_name(task)
    pairs = getattr(task, "pairs", None)
    if pairs is None:
        raise ValueError(f"task {name!r} has no .pairs; pass objects with (input, output) pairs")
    out: dict[str, str] = {}
    for i, pair in enumerate(pairs):
        if (
            isinstance(pair, (str, bytes))
            or len(pair) != 2
            or not all(isinstance(v, str) for v in pair)
        ):
            raise TypeError(f"task {name!r}: pairs[{i}] must be two str, got {pair!r}")
        x, y = pair
        if out.setdefault(x, y) != y:
            raise ValueError(
                f"task {name!r}: input {x!r} maps to {out[x]!r} and {y!r}; resolve it (e.g. "
                "tvlens.tasks.Task.from_pairs(..., on_conflict='first'))"
            )
    return list(out.items())


def task_input_space(task: Any, pairs: Sequence[tuple[str, str]]) -> list[str]:
    """The inputs dummy queries are drawn from: ``task.input_space`` if set, else the pairs'."""
    space = getattr(task, "input_space", None)
    return [str(x) for x in space] if space else [x for x, _ in pairs]


def examples_from_pairs(
    pairs: Sequence[tuple[str, str]],
    n: int,
    *,
    n_demos: int,
    n_dummy: int,
    rng: random.Random,
    task: str,
    queries: Sequence[str] | None = None,
    answers: Sequence[str] | None = None,
    dummy_space: Sequence[str] | None = None,
) -> list[ICLExample]:
    """``n`` examples with demos, query and dummy queries drawn from ``pairs``.

    Args:
        pairs: ``(input, output)`` pairs with distinct inputs.
        n: number of examples.
        n_demos: demonstrations per example; none of them uses the query's input.
        n_dummy: dummy queries per example, distinct from the query and the demo inputs.
        rng: the random source (the caller seeds it).
        task: the task name written into each example.
        queries: fixed queries, one per example (default: drawn from the pairs' inputs).
        answers: fixed answers for ``queries`` (default: the pairs' outputs).
        dummy_space: the inputs dummy queries are drawn from (default: the pairs').

    Raises:
        ValueError: if the task has too few pairs for one example.
    """
    inputs = [x for x, _ in pairs]
    space = list(dict.fromkeys(dummy_space)) if dummy_space is not None else inputs
    if len(pairs) < n_demos + 1 or len(space) < n_dummy + 1:
        raise ValueError(
            f"task {task!r} has {len(pairs)} pairs and {len(space)} inputs for dummy queries; "
            f"an example with {n_demos} demos, a query and {n_dummy} dummy queries needs "
            f"{n_demos + 1} pairs and {n_dummy + 1} inputs"
        )
    lookup = dict(pairs)
    out = []
    for i in range(n):
        query = queries[i] if queries is not None else rng.choice(inputs)
        answer = answers[i] if answers is not None else lookup[query]
        demos = rng.sample([p for p in pairs if p[0] != query], n_demos)
        dummies = rng.sample([x for x in space if x != query], n_dummy)
        out.append(
            ICLExample(
                demos=tuple(demos),
                query=query,
                answer=answer,
                dummy_queries=tuple(dummies),
                task=task,
            )
        )
    return out
