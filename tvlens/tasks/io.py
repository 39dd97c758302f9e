"""Read custom task files: JSON (three shapes) and two-column CSV/TSV.

Supported formats:

* ``.json`` with an ``{input: output}`` object;
* ``.json`` with a list of ``{"input": ..., "output": ...}`` objects (the
  function-vectors datasets' format; other keys are ignored);
* ``.json`` in the tvlens schema: an object with ``"pairs": [[input, output], ...]`` and
  optional ``"name"``, ``"category"``, ``"description"``, ``"source"``;
* ``.csv`` (comma, with CSV quoting: ``"a, b",c``) or ``.tsv`` / ``.tab`` (tab, without
  quoting: a ``"`` is a character like any other, so ``"Hello" world<TAB>...`` keeps its
  quotes and a lone quote never swallows the lines after it): two columns per row, blank
  lines skipped. A first row of column names is skipped: ``input,output`` silently, and
  other names from :data:`~tvlens.tasks.pairs.HEADER_WORDS` (``source,target``,
  ``question,answer``, ``prompt,completion``...) with a warning. Errors name the line a row
  starts on.

Whitespace around every input and output (``'mäßig\\n'``, a space after a comma), in JSON
files too, is stripped and counted (:attr:`Task.n_stripped`, ``n_stripped`` in
``results.json``); what stays broken after that (an empty string, a line break, a control
character inside; an arrow or demo separator, found by ``tvlens run`` before the model
loads) is refused.

Identical duplicate pairs are merged; an input with two different outputs follows
``on_conflict`` (``"error"``, ``"first"`` or ``"drop"``, see :mod:`tvlens.tasks.pairs`);
anything malformed raises ``ValueError`` naming the file and the problem. The parsing
itself lives in :mod:`tvlens.tasks.pairs` and :meth:`Task.from_file`, so that ``task``
does not import this module.
"""

from __future__ import annotations

from pathlib import Path

from tvlens.tasks.pairs import DELIMITERS, SUFFIXES, OnConflict, check_on_conflict
from tvlens.tasks.task import Task

__all__ = ["DELIMITERS", "SUFFIXES", "read_task_file"]


def read_task_file(
    path: str | Path,
    *,
    name: str | None = None,
    category: str | None = None,
    on_conflict: OnConflict = "error",
) -> Task:
    """Read a task from a JSON, CSV or TSV file (see the module docstring).

    Args:
        path: the file.
        name: the task name (default: the tvlens schema's ``"name"``, else the file
            stem).
        category: the category (default: the schema's ``"category"``, else
            ``"custom"``).
        on_conflict: an input with two different outputs: ``"error"`` (default)
            refuses the file listing the conflicts, ``"first"`` keeps each input's first
            output, ``"drop"`` drops every conflicting input; the count dropped is the
            task's ``n_conflicts_dropped``. Surrounding whitespace is stripped (the
            count is the task's ``n_stripped``).

    Raises:
        ValueError: naming the file, if it is missing, of an unknown type, empty, not
            JSON, of the wrong shape, or has bad pairs (non-string, empty, conflicting
            duplicates under ``"error"``, a CSV row without exactly 2 columns).

    Example:
        >>> task = read_task_file("sets.csv", on_conflict="first")  # doctest: +SKIP
        >>> task.n_conflicts_dropped  # doctest: +SKIP
        1
    """
    policy = check_on_conflict(on_conflict)
    return Task.from_file(path, name=name, category=category, on_conflict=policy)
