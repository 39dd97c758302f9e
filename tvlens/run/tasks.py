"""The task references of a ``tvlens run``: the name each is stored under, and where it came from.

A task is stored in ``results.json`` under its registry name, a file's stem, or a
:class:`~tvlens.tasks.Task`'s name. Two references with one name would overwrite each
other's results, so :func:`check_task_keys` refuses them before any model loads.

:func:`check_task_data` checks every pair of a task against the prompt format (no arrow or
demo separator inside) before the model loads, and against the tokenizer's special tokens
once it has loaded, before the first task runs: a bad pair stops the run up front, whatever
the seed would have sampled, naming the task, its file, the pair and the fix.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tvlens.tasks import ON_CONFLICT

if TYPE_CHECKING:
    from tvlens.prompts import PromptFormat
    from tvlens.tasks import OnConflict, Task

__all__ = [
    "ON_CONFLICT",
    "check_task_data",
    "check_task_keys",
    "load_task",
    "special_pattern",
    "task_key",
    "task_source",
]


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
    """Refuse task references that would be stored under one name, and task files named
    like a registered task (alone or beside others: ``results.json`` would store the file's
    data under the registered task's name, and resume and ``tvlens compare`` would take one
    for the other).

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
    registered = _registry_names()
    for ref in refs:
        key = task_key(ref)
        if isinstance(ref, (str, os.PathLike)) and is_file_ref(ref) and key in registered:
            path = Path(ref)
            raise ValueError(
                f"the task file {str(ref)!r} is named like the registered task {key!r}: its "
                "results would be stored under that name and taken for the registered task's "
                f"(on resume, in tvlens compare). Rename the file (e.g. to "
                f"{path.with_stem('my_' + key).name!r}), or in Python pass "
                f"Task.from_file({str(ref)!r}, name='my_{key}') as the task"
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


def special_pattern(tokenizer: Any) -> re.Pattern[str] | None:
    """A pattern matching any special-token string of ``tokenizer`` (None if it has none)."""
    from tvlens.prompts import special_token_strings

    specials = special_token_strings(tokenizer) if tokenizer is not None else ()
    return re.compile("|".join(map(re.escape, specials))) if specials else None


def _format_problem(x: str, y: str, fmt: PromptFormat) -> str | None:
    """What ``fmt``'s prompt checks say of the pair ``x -> y`` (None if nothing)."""
    from tvlens._example import ICLExample
    from tvlens.prompts import check_examples

    try:
        check_examples([ICLExample(demos=(), query=x, answer=y)], fmt)
    except ValueError as err:
        msg = str(err).removeprefix("example 0: ")
        for field, role in (("query ", "input "), ("answer ", "output ")):
            if msg.startswith(field):
                return role + msg[len(field) :]
        return msg
    return None


def check_task_data(
    ref: Any, task: Task, fmt: PromptFormat, specials: re.Pattern[str] | None = None
) -> None:
    """Refuse a task with a pair that would break a prompt of ``fmt`` (an arrow or demo
    separator inside, an input ending with the arrow: :func:`tvlens.prompts.check_examples`)
    or, given ``specials`` (:func:`special_pattern`), holding a special-token string.

    Every pair is checked (and every other input dummy queries are drawn from), not only
    those a seed samples.

    Raises:
        ValueError: naming the task, its file, the pair's index and the pair, and the fix.
    """
    where = f"task {task_key(ref)!r}"
    if isinstance(ref, (str, os.PathLike)) and is_file_ref(ref):
        where += f" (file {str(ref)!r})"
    arrow, sep = fmt.arrow.strip(), fmt.demo_sep
    inputs = set(task.inputs)
    y0 = task.pairs[0][1]  # checked first: a clean output for the inputs of input_space
    items = [(f"pair {i}", x, y, True) for i, (x, y) in enumerate(task.pairs)]
    items += [
        (f"input_space item {j}", d, y0, False)
        for j, d in enumerate(task.input_space)
        if d not in inputs
    ]
    for label, x, y, is_pair in items:
        shown = f"{label} ({x!r} -> {y!r})" if is_pair else f"{label} {x!r}"
        if arrow in x or sep in x or arrow in y or sep in y:
            problem = _format_problem(x, y, fmt)
            if problem is not None:
                raise ValueError(f"{where}: {shown}: its {problem}")
        if specials is None:
            continue
        for role, text in (("input", x), ("output", y)):
            m = specials.search(text)
            if m is not None:
                raise ValueError(
                    f"{where}: {shown}: its {role} contains {m.group()!r}, a special token of "
                    "the model's tokenizer: it would be read as a control token, not as text. "
                    "Remove it from the data (or drop that pair)"
                )
