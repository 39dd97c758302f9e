"""The checks a :class:`~tvlens.tasks.Task` runs on its fields when it is built.

Every check raises naming the task, the field and the bad value; the pairs are normalized
(:func:`~tvlens.tasks.pairs.normalize_pairs`) and the input space deduplicated in place.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from tvlens.tasks.pairs import Pair, normalize_pairs


@runtime_checkable
class TaskFields(Protocol):
    """The fields of a :class:`~tvlens.tasks.Task` that are checked when it is built."""

    @property
    def name(self) -> str: ...

    @property
    def category(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def pairs(self) -> tuple[Pair, ...]: ...

    @property
    def input_space(self) -> tuple[str, ...]: ...

    @property
    def n_conflicts_dropped(self) -> int: ...

    @property
    def n_stripped(self) -> int: ...


def check_task_fields(task: TaskFields) -> None:
    """Check a new task's fields, then normalize its ``pairs`` and ``input_space``.

    ``task`` is a frozen :class:`~tvlens.tasks.Task` in its ``__post_init__``; its
    ``pairs`` and ``input_space`` are set with ``object.__setattr__``.

    Raises:
        ValueError, TypeError: naming the task, the field and the value.
    """
    if not task.name or not isinstance(task.name, str):
        raise ValueError(f"a task needs a non-empty string name, got {task.name!r}")
    for attr in ("category", "description", "source"):
        value = getattr(task, attr)
        if not isinstance(value, str):
            raise TypeError(
                f"task {task.name!r}: {attr} must be a str, got {value!r} ({type(value).__name__})"
            )
    for count in ("n_conflicts_dropped", "n_stripped"):
        n = getattr(task, count)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"task {task.name!r}: {count} must be an int >= 0, got {n!r}")
    if isinstance(task.input_space, str):
        raise TypeError(
            f"task {task.name!r}: input_space must be a collection of inputs, not the "
            f"string {task.input_space!r}"
        )
    object.__setattr__(task, "pairs", normalize_pairs(task.pairs, f"task {task.name!r}"))
    space = task.input_space or tuple(x for x, _ in task.pairs)
    for s in space:
        if not isinstance(s, str) or not s.strip():
            raise ValueError(f"task {task.name!r}: input_space has an empty or non-string {s!r}")
    object.__setattr__(task, "input_space", tuple(dict.fromkeys(space)))
