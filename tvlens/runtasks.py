"""The task references of a ``tvlens run``: the name each is stored under, and where it came from.

A task is stored in ``results.json`` under its registry name, a file's stem, or a
:class:`~tvlens.tasks.Task`'s name. Two references with one name would overwrite each
other's results, so :func:`check_task_keys` refuses them before any model loads.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tvlens.tasks import ON_CONFLICT

if TYPE_CHECKING:
    from tvlens.tasks import OnConflict

__all__ = ["ON_CONFLICT", "check_task_keys", "load_task", "task_key", "task_source"]


def _registry_names() -> set[str]:
    from tvlens.tasks import ALGORITHMIC_TASKS, PAPER_TASKS, list_tasks

    return {*ALGORITHMIC_TASKS, *PAPER_TASKS, *list_tasks()}


def is_file_ref(ref: Any) -> bool:
    """Whether ``ref`` names a task file (as :func:`tvlens.tasks.get_task` reads it)."""
    if isinstance(ref, os.PathLike):
        return True
    return isinstance(ref, str) and ref not in _registry_names()


def task_key(ref: Any) -> str:
    """The name a task is stored under: its registry name, a file's stem, a Task's name."""
    if isinstance(ref, (str, os.PathLike)):
        return Path(ref).stem
    return str(getattr(ref, "name", ref))


def check_task_keys(refs: Sequence[Any]) -> None:
    """Refuse task references that would be stored under one name.

    Raises:
        ValueError: listing each shared name, its references, and the fix.
    """
    by_key: dict[str, list[str]] = {}
    for ref in refs:
        shown = str(ref) if isinstance(ref, (str, os.PathLike)) else f"Task {ref.name!r}"
        by_key.setdefault(task_key(ref), []).append(shown)
    clashes = {k: v for k, v in by_key.items() if len(v) > 1}
    if clashes:
        listed = "; ".join(f"{k!r} <- {', '.join(map(repr, v))}" for k, v in clashes.items())
        raise ValueError(
            "tasks are stored in results.json under their name (a file's stem), and these "
            f"would overwrite each other: {listed}. Rename the files so that every task has its "
            "own name (a file must not be named like a registered task), or list a task once"
        )


def load_task(ref: Any, on_conflict: str = "error") -> Any:
    """The :class:`~tvlens.tasks.Task` for ``ref``; ``on_conflict`` applies to task files.

    Raises:
        ValueError: on an unknown task or a malformed file (from ``get_task``), or an
            ``on_conflict`` other than ``"error"`` where ``get_task`` has no such option.
    """
    from tvlens.tasks import Task, get_task

    if isinstance(ref, Task):
        return ref
    if not is_file_ref(ref):
        return get_task(ref)
    # a str goes as is: get_task names the registered tasks when it is no file either
    path = ref if isinstance(ref, str) else Path(ref)
    if "on_conflict" in inspect.signature(get_task).parameters:
        return get_task(path, on_conflict=cast("OnConflict", on_conflict))
    if on_conflict != "error":
        raise ValueError(
            f"on_conflict={on_conflict!r} needs tvlens.tasks.get_task(..., on_conflict=...), "
            "which this tvlens lacks; use 'error'"
        )
    return get_task(path)


def task_source(ref: Any, task: Any) -> dict[str, Any]:
    """Where a task came from, with a hash of its content (compared when a run resumes)."""
    kind = "object" if not isinstance(ref, (str, os.PathLike)) else "file"
    if kind == "file" and not is_file_ref(ref):
        kind = "registry"
    content = json.dumps(
        [task.category, [list(p) for p in task.pairs], list(task.input_space)],
        ensure_ascii=False,
    )
    return {
        "kind": kind,
        "ref": str(ref) if kind != "object" else task.name,
        "sha256": hashlib.sha256(content.encode("utf-8")).hexdigest(),
    }


def source_mismatch(key: str, before: Any, now: dict[str, Any]) -> str | None:
    """Why the task stored under ``key`` is not the task this run means, or None."""
    if isinstance(before, dict) and all(before.get(k) == now[k] for k in ("kind", "sha256")):
        return None

    def show(s: Any) -> str:
        if not isinstance(s, dict):
            return "(not recorded)"
        return f"{s.get('kind')} {s.get('ref')!r} (content sha256 {str(s.get('sha256'))[:12]})"

    return f"{key!r}: {show(before)} (in results.json) vs {show(now)} (this run)"
