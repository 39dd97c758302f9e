"""Deterministic ICL sampling from a task's pairs: the logic behind :meth:`Task.sample
<tvlens.tasks.Task.sample>` and :meth:`Task.split_queries <tvlens.tasks.Task.split_queries>`.

Only ``random.Random(seed)`` over the stored pair order is used, so the same seed gives the
same examples on every machine and for every ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from tvlens._example import ICLExample
from tvlens.tasks.pairs import Pair


@runtime_checkable
class PairSource(Protocol):
    """What sampling reads from a task (a :class:`~tvlens.tasks.Task` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def pairs(self) -> tuple[Pair, ...]: ...

    @property
    def input_space(self) -> tuple[str, ...]: ...

    @property
    def inputs(self) -> tuple[str, ...]: ...

    def _size_note(self) -> str: ...


def sample_examples(
    task: PairSource,
    n: int,
    n_demos: int,
    n_dummy: int,
    seed: int,
    exclude_queries: Iterable[str],
) -> list[ICLExample]:
    """``n`` ICL examples of ``task``, deterministically (see :meth:`Task.sample
    <tvlens.tasks.Task.sample>`, which documents the draw and the errors)."""
    if n < 0 or n_demos < 0 or n_dummy < 0:
        raise ValueError(
            f"task {task.name!r}: n, n_demos and n_dummy must be >= 0, "
            f"got n={n}, n_demos={n_demos}, n_dummy={n_dummy}"
        )
    if n == 0:
        return []
    pool = _query_pool(task, n_demos, exclude_queries)
    space = task.input_space
    space_set = set(space)
    rng = random.Random(seed)
    order: list[int] = []
    while len(order) < n:
        perm = list(pool)
        rng.shuffle(perm)
        order.extend(perm)
    return [_draw_example(task, qi, rng, n_demos, n_dummy, space, space_set) for qi in order[:n]]


def _query_pool(task: PairSource, n_demos: int, exclude_queries: Iterable[str]) -> list[int]:
    """The indices of the pairs a query may be drawn from (checked: enough pairs for the
    demonstrations, and some left after ``exclude_queries``)."""
    if len(task.pairs) < n_demos + 1:
        raise ValueError(
            f"task {task.name!r} has {len(task.pairs)} pairs{task._size_note()}, too few "
            f"for {n_demos} demonstrations plus a query (needs {n_demos + 1})"
        )
    if isinstance(exclude_queries, str):
        raise ValueError(
            f"task {task.name!r}: exclude_queries must be a collection of inputs, "
            f"not the string {exclude_queries!r}"
        )
    excluded = set(exclude_queries)
    pool = [i for i, (x, _) in enumerate(task.pairs) if x not in excluded]
    if not pool:
        raise ValueError(
            f"task {task.name!r} has {len(task.pairs)} pairs{task._size_note()} and "
            f"exclude_queries removes all of them; no query is left"
        )
    return pool


def _draw_example(
    task: PairSource,
    qi: int,
    rng: random.Random,
    n_demos: int,
    n_dummy: int,
    space: Sequence[str],
    space_set: set[str],
) -> ICLExample:
    """The example of query ``task.pairs[qi]``: its demonstrations, then its dummy queries."""
    query, answer = task.pairs[qi]
    others = [j for j in range(len(task.pairs)) if j != qi]
    demos = tuple(task.pairs[j] for j in rng.sample(others, n_demos))
    n_space = len(space) - (1 if query in space_set else 0)
    if n_space < n_dummy:
        raise ValueError(
            f"task {task.name!r} has {len(space)} inputs to draw dummy queries from "
            f"({n_space} besides the query {query!r}){task._size_note()}, too few for "
            f"n_dummy={n_dummy}"
        )
    dummies: tuple[str, ...] = ()
    if n_dummy:
        cand = [s for s in space if s != query]
        dummies = tuple(rng.sample(cand, n_dummy))
    return ICLExample(
        demos=demos, query=query, answer=answer, dummy_queries=dummies, task=task.name
    )


def split_query_inputs(
    task: PairSource, n_dev: int, n_test: int, seed: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Two disjoint sets of query inputs of ``task``, for dev and test (see
    :meth:`Task.split_queries <tvlens.tasks.Task.split_queries>`)."""
    if n_dev < 1 or n_test < 1:
        raise ValueError(f"task {task.name!r}: n_dev and n_test must be >= 1")
    n_pairs = len(task.pairs)
    if n_pairs < 2:
        raise ValueError(
            f"task {task.name!r} has {n_pairs} pair{task._size_note()}; disjoint dev and "
            "test queries need at least 2"
        )
    inputs = list(task.inputs)
    random.Random(seed).shuffle(inputs)
    if n_pairs >= n_dev + n_test:
        k_dev, k_test = n_dev, n_test
    else:
        k_dev = min(n_pairs - 1, max(1, round(n_pairs * n_dev / (n_dev + n_test))))
        k_test = n_pairs - k_dev
    return tuple(inputs[:k_dev]), tuple(inputs[k_dev : k_dev + k_test])
