"""Composite tasks for the composition study: task A, then task B on its output.

Each composite is built from the repo's own task data (the paper tasks of
:mod:`tvlens.tasks`), as the algorithmic tasks are, so nothing is downloaded or copied:
``antonyms_upper`` maps ``hot`` to ``COLD`` (an antonym, then upper case). Upper-casing a word
is a part of its own, ``word_upper``, whose words are the outputs of the composites' first
parts (so θ of ``word_upper`` is read from the words it is composed with).

Example:
    >>> task = composite_task("next_next_letter")
    >>> task.as_dict()["a"], COMPOSITES["next_next_letter"]
    ('c', ('next_letter', 'next_letter'))
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from tvlens.tasks import Task, get_task

#: Each composite task and its parts ``(A, B)``: the composite applies A, then B.
COMPOSITES: dict[str, tuple[str, str]] = {
    "antonyms_upper": ("antonyms", "word_upper"),
    "country_capital_upper": ("country_capital", "word_upper"),
    "en_fr_upper": ("en_fr", "word_upper"),
    "next_letter_upper": ("next_letter", "to_upper"),
    "next_next_letter": ("next_letter", "next_letter"),
}
SOURCE = "tvlens.studies.composites (composed from the repo's paper tasks)"


def _upper_source(word: str) -> bool:
    return word.isalpha() and word.upper() != word


@cache
def part_task(name: str) -> Task:
    """A part: a paper task by name, or ``word_upper`` (a word -> the word in upper case).

    Raises:
        ValueError: an unknown task, naming the parts there are.
    """
    if name != "word_upper":
        return get_task(name)
    words = sorted(
        {y for a, _ in COMPOSITES.values() if a != "next_letter" for _, y in get_task(a).pairs}
    )
    pairs = [(w, w.upper()) for w in words if _upper_source(w)]
    return Task.from_pairs(
        "word_upper", pairs, "algorithmic",
        description="word -> the word in upper case (the words the composites' first parts output)",
        source=SOURCE,
    )  # fmt: skip


def check_composites(names: Sequence[str]) -> list[str]:
    """``names`` if each is a composite of :data:`COMPOSITES`.

    Raises:
        ValueError: naming the unknown ones and the composites there are.
    """
    unknown = [n for n in names if n not in COMPOSITES]
    if unknown:
        raise ValueError(f"unknown composite task(s) {unknown}; choose from {sorted(COMPOSITES)}")
    return list(names)


@cache
def composite_task(name: str) -> Task:
    """The composite task ``name`` of :data:`COMPOSITES`: ``x -> B(A(x))``.

    Only the inputs A maps to an output B knows are kept; A's inputs are the inputs.

    Raises:
        ValueError: an unknown composite, naming those there are.
    """
    check_composites([name])
    a_name, b_name = COMPOSITES[name]
    a, b = part_task(a_name), part_task(b_name).as_dict()
    pairs = [(x, b[y]) for x, y in a.pairs if y in b]
    what = f"{a_name}, then {b_name}"
    return Task.from_pairs(name, pairs, "composite", description=what, source=SOURCE)
