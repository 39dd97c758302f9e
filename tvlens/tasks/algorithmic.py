"""Algorithmic tasks, generated in code (deterministic, no data files).

* ``next_letter``: ``a -> b`` ... ``y -> z`` (no wrap-around), 25 pairs;
* ``prev_letter``: ``b -> a`` ... ``z -> y`` (no wrap-around), 25 pairs;
* ``to_upper``: ``a -> A`` ... ``z -> Z``, 26 pairs;
* ``to_lower``: ``A -> a`` ... ``Z -> z``, 26 pairs;
* ``list_first`` / ``list_last``: ``a,c,d -> a`` / ``a,c,d -> d``, 500 pairs each;
* ``list_min`` / ``list_max``: ``d,a,c -> a`` / ``d,a,c -> d`` (alphabetically
  smallest / largest letter), 500 pairs each;
* ``list_length``: ``d,a,c -> 3`` (number of letters, as a digit 1-5), 500 pairs.

The list tasks share one seeded pool of 500 comma-joined lists (no spaces) of 2-4
distinct lowercase letters; list_length uses its own pool of lists of 1-5 distinct
letters (all 26 one-letter lists, then lengths 2-5 in turn).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from functools import cache, lru_cache
from itertools import pairwise

from tvlens.tasks.task import Task

LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
LIST_POOL_SIZE = 500
_LIST_SEED = 2023
_LENGTH_SEED = 2024
SOURCE = "generated in code (tvlens.tasks.algorithmic)"


@lru_cache(maxsize=1)
def letter_lists() -> tuple[str, ...]:
    """The fixed pool of 500 distinct lists of 2-4 distinct lowercase letters."""
    rng = random.Random(_LIST_SEED)
    seen: dict[str, None] = {}
    while len(seen) < LIST_POOL_SIZE:
        k = rng.randint(2, 4)
        seen.setdefault(",".join(rng.sample(LOWER, k)), None)
    return tuple(seen)


@lru_cache(maxsize=1)
def length_lists() -> tuple[str, ...]:
    """The fixed pool of 500 distinct lists of 1-5 distinct lowercase letters."""
    rng = random.Random(_LENGTH_SEED)
    seen: dict[str, None] = dict.fromkeys(LOWER)
    k = 2
    while len(seen) < LIST_POOL_SIZE:
        seen.setdefault(",".join(rng.sample(LOWER, k)), None)
        k = 2 + (k - 1) % 4  # 2, 3, 4, 5, 2, ...
    return tuple(seen)


def _list_task(name: str, description: str, fn: Callable[[list[str]], str]) -> Task:
    return Task(
        name=name,
        category="algorithmic",
        pairs=tuple((s, fn(s.split(","))) for s in letter_lists()),
        description=description,
        source=SOURCE,
    )


def _build(name: str) -> Task:
    if name == "next_letter":
        pairs = tuple(pairwise(LOWER))
        return Task(name, "algorithmic", pairs, "letter -> the next letter (a..y)", SOURCE)
    if name == "prev_letter":
        pairs = tuple((b, a) for a, b in pairwise(LOWER))
        return Task(name, "algorithmic", pairs, "letter -> the previous letter (b..z)", SOURCE)
    if name == "to_upper":
        pairs = tuple(zip(LOWER, UPPER, strict=True))
        return Task(name, "algorithmic", pairs, "lowercase letter -> uppercase", SOURCE)
    if name == "to_lower":
        pairs = tuple(zip(UPPER, LOWER, strict=True))
        return Task(name, "algorithmic", pairs, "uppercase letter -> lowercase", SOURCE)
    if name == "list_first":
        return _list_task(name, "list of letters -> its first letter", lambda xs: xs[0])
    if name == "list_last":
        return _list_task(name, "list of letters -> its last letter", lambda xs: xs[-1])
    if name == "list_min":
        return _list_task(name, "list of letters -> the alphabetically smallest", min)
    if name == "list_max":
        return _list_task(name, "list of letters -> the alphabetically largest", max)
    if name == "list_length":
        pairs = tuple((s, str(len(s.split(",")))) for s in length_lists())
        return Task(name, "algorithmic", pairs, "list of 1-5 letters -> its length", SOURCE)
    raise ValueError(f"unknown algorithmic task {name!r}; choose one of {ALGORITHMIC_TASKS}")


ALGORITHMIC_TASKS: tuple[str, ...] = (
    "next_letter",
    "prev_letter",
    "list_first",
    "list_last",
    "to_upper",
    "to_lower",
    "list_min",
    "list_max",
    "list_length",
)


@cache
def algorithmic_task(name: str) -> Task:
    """The generated algorithmic task ``name`` (cached; tasks are immutable)."""
    return _build(name)
