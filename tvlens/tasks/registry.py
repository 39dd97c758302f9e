"""The task registry: generated algorithmic tasks plus the packaged JSON data files.

Data files live in ``tvlens/tasks/data/<name>.json`` (package data, read with
:mod:`importlib.resources`). Whatever files exist are listed; the 18 paper tasks are
always known, so requesting one whose file is missing names that file.
"""

from __future__ import annotations

import difflib
import json
import os
from functools import cache
from importlib import resources
from pathlib import Path

try:
    from importlib.resources.abc import Traversable
except ImportError:  # Python 3.10
    from importlib.abc import Traversable

from tvlens.tasks.algorithmic import ALGORITHMIC_TASKS, algorithmic_task
from tvlens.tasks.io import SUFFIXES, read_task_file
from tvlens.tasks.pairs import OnConflict, check_on_conflict
from tvlens.tasks.task import Task

CATEGORIES: tuple[str, ...] = ("algorithmic", "translation", "linguistic", "knowledge")

#: The 18 tasks of Hendel, Geva and Globerson (2023), in the paper's order.
PAPER_TASKS: tuple[str, ...] = (
    "next_letter",
    "prev_letter",
    "list_first",
    "list_last",
    "to_upper",
    "to_lower",
    "fr_en",
    "es_en",
    "en_fr",
    "en_es",
    "present_simple_gerund",
    "present_simple_past_simple",
    "plural_singular",
    "antonyms",
    "country_capital",
    "person_language",
    "location_continent",
    "location_religion",
)
PAPER_CATEGORIES: dict[str, str] = {
    **dict.fromkeys(PAPER_TASKS[:6], "algorithmic"),
    **dict.fromkeys(PAPER_TASKS[6:10], "translation"),
    **dict.fromkeys(PAPER_TASKS[10:14], "linguistic"),
    **dict.fromkeys(PAPER_TASKS[14:], "knowledge"),
}


def data_dir() -> Traversable:
    """The packaged data folder (``tvlens/tasks/data``)."""
    return resources.files("tvlens.tasks") / "data"


def _data_file(name: str) -> Traversable:
    return data_dir() / f"{name}.json"


def data_task_names() -> list[str]:
    """Names of the data files present, sorted."""
    folder = data_dir()
    if not folder.is_dir():
        return []
    return sorted(
        p.name[: -len(".json")]
        for p in folder.iterdir()
        if p.name.endswith(".json") and p.is_file()
    )


def _known_names() -> set[str]:
    return {*ALGORITHMIC_TASKS, *PAPER_TASKS, *data_task_names()}


@cache
def _load_data_task(name: str) -> Task:
    """Load and check a packaged data file (cached; tasks are immutable)."""
    ref = _data_file(name)
    if not ref.is_file():
        raise ValueError(
            f"task {name!r} is a paper task but its data file {str(ref)!r} is missing; "
            "reinstall tvlens or regenerate it with the scripts/build_*_data.py scripts"
        )
    with resources.as_file(ref) as path:
        task = read_task_file(path)
    if task.name != name:
        raise ValueError(f"data file {str(ref)!r} names its task {task.name!r}, expected {name!r}")
    expected = PAPER_CATEGORIES.get(name)
    if expected is not None and task.category != expected:
        raise ValueError(
            f"data file {str(ref)!r} has category {task.category!r}, expected {expected!r}"
        )
    return task


@cache
def _file_category(name: str) -> str:
    """A data file's category, read without building the task."""
    data = json.loads(_data_file(name).read_text(encoding="utf-8"))
    return str(data.get("category", "custom")) if isinstance(data, dict) else "custom"


def task_category(name: str) -> str:
    """The category of a registered task."""
    if name in ALGORITHMIC_TASKS:
        return "algorithmic"
    if name in PAPER_CATEGORIES:
        return PAPER_CATEGORIES[name]
    return _file_category(name)


def list_tasks(category: str | None = None) -> list[str]:
    """Names of the available tasks, by category, paper tasks first within each.

    Lists the generated algorithmic tasks and every data file present (a paper task
    whose file is missing is not listed, but :func:`get_task` still knows it).

    Args:
        category: keep only this category (one of :data:`CATEGORIES`, or a category
            used by an extra data file).

    Raises:
        ValueError: on an unknown category.
    """
    available = [*ALGORITHMIC_TASKS, *(n for n in data_task_names() if n not in ALGORITHMIC_TASKS)]
    cats = {n: task_category(n) for n in available}
    order = [*CATEGORIES, *sorted(set(cats.values()) - set(CATEGORIES))]
    if category is not None and category not in order:
        raise ValueError(f"unknown task category {category!r}; choose one of {order}")
    out: list[str] = []
    for cat in order if category is None else [category]:
        names = [n for n in available if cats[n] == cat]
        out += [n for n in PAPER_TASKS if n in names]
        out += sorted(n for n in names if n not in PAPER_TASKS)
    return out


def get_task(name_or_path: str | Path | Task, *, on_conflict: OnConflict = "error") -> Task:
    """A registered task by name, or a custom task from a file.

    Args:
        name_or_path: a registered name (see :func:`list_tasks`), a path to a
            ``.json`` / ``.csv`` / ``.tsv`` task file (see :mod:`tvlens.tasks.io`), or a
            :class:`Task` (returned as is).
        on_conflict: for a task file, what to do with an input given two different
            outputs: ``"error"`` (default), ``"first"`` or ``"drop"`` (see
            :func:`~tvlens.tasks.read_task_file`). Registered tasks have no conflicts
            and ignore it.

    Raises:
        ValueError: on an unknown name (listing the available names and the closest
            match), a paper task whose data file is missing (naming the file), or a
            malformed file.

    Example:
        >>> task = get_task("to_upper")
        >>> len(task), task.pairs[0]
        (26, ('a', 'A'))
        >>> examples = task.sample(50, n_demos=5, seed=0)
    """
    policy = check_on_conflict(on_conflict)
    if isinstance(name_or_path, Task):
        return name_or_path
    if isinstance(name_or_path, os.PathLike):
        return read_task_file(Path(name_or_path), on_conflict=policy)
    if not isinstance(name_or_path, str):
        raise TypeError(
            f"get_task takes a task name, a path or a Task, got {name_or_path!r} "
            f"({type(name_or_path).__name__})"
        )
    name = name_or_path
    if name in ALGORITHMIC_TASKS:
        return algorithmic_task(name)
    if name in _known_names():
        return _load_data_task(name)
    if os.sep in name or "/" in name or name.lower().endswith(SUFFIXES) or Path(name).is_file():
        return read_task_file(name, on_conflict=policy)
    available = list_tasks()
    close = difflib.get_close_matches(name, sorted(_known_names()), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(
        f"unknown task {name!r}{hint}. Available tasks: {', '.join(available)}. "
        f"Or pass a path to a task file ({', '.join(SUFFIXES)})."
    )


def task_table(category: str | None = None) -> list[tuple[str, str, int]]:
    """``(name, category, n_pairs)`` for every available task, in :func:`list_tasks` order."""
    return [(n, task_category(n), len(get_task(n))) for n in list_tasks(category)]


def task_table_markdown(category: str | None = None) -> str:
    """:func:`task_table` as a Markdown table (paper tasks marked with ``*``)."""
    lines = ["| task | category | pairs |", "|---|---|---:|"]
    for name, cat, n in task_table(category):
        mark = "*" if name in PAPER_TASKS else ""
        lines.append(f"| `{name}`{mark} | {cat} | {n} |")
    return "\n".join(lines)
