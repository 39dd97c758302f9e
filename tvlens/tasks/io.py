"""Read custom task files: JSON (three shapes) and two-column CSV/TSV.

Supported formats:

* ``.json`` with an ``{input: output}`` object;
* ``.json`` with a list of ``{"input": ..., "output": ...}`` objects (the
  function-vectors datasets' format; other keys are ignored);
* ``.json`` in the tvlens schema: an object with ``"pairs": [[input, output], ...]`` and
  optional ``"name"``, ``"category"``, ``"description"``, ``"source"``;
* ``.csv`` (comma) or ``.tsv`` / ``.tab`` (tab): two columns per row, an optional
  ``input,output`` header row (skipped), blank lines skipped, cells stripped.

Identical duplicate pairs are merged; anything malformed raises ``ValueError`` naming
the file and the problem.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from tvlens.tasks.task import Task, normalize_pairs

DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
SUFFIXES = (".json", *DELIMITERS)
_META = ("description", "source")


def read_task_file(
    path: str | Path, *, name: str | None = None, category: str | None = None
) -> Task:
    """Read a task from a JSON, CSV or TSV file (see the module docstring).

    Args:
        path: the file.
        name: the task name (default: the tvlens schema's ``"name"``, else the file
            stem).
        category: the category (default: the schema's ``"category"``, else
            ``"custom"``).

    Raises:
        ValueError: naming the file, if it is missing, of an unknown type, empty, not
            JSON, of the wrong shape, or has bad pairs (non-string, empty, conflicting
            duplicates, a CSV row without exactly 2 columns).
    """
    path = Path(path)
    where = f"task file {str(path)!r}"
    if not path.is_file():
        raise ValueError(f"{where}: no such file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{where}: unsupported file type {suffix!r}; use one of {SUFFIXES}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{where}: not UTF-8 text ({e})") from None
    if not text.strip():
        raise ValueError(f"{where}: the file is empty")
    meta: dict[str, Any] = {}
    if suffix == ".json":
        raw, meta = _json_pairs(text, where)
    else:
        raw = _csv_pairs(text, DELIMITERS[suffix], where)
    pairs = normalize_pairs(raw, where)
    for key in ("name", "category", *_META):
        if key in meta and not isinstance(meta[key], str):
            raise ValueError(f"{where}: {key!r} must be a string, got {meta[key]!r}")
    return Task(
        name=name or meta.get("name") or path.stem,
        category=category or meta.get("category") or "custom",
        pairs=pairs,
        description=meta.get("description", ""),
        source=meta.get("source", "") or str(path),
    )


def _json_pairs(text: str, where: str) -> tuple[list[Any], dict[str, Any]]:
    """Pairs and metadata from a JSON document in any of the three shapes."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON ({e})") from None
    if isinstance(data, dict) and isinstance(data.get("pairs"), list):
        meta = {k: v for k, v in data.items() if k != "pairs"}
        pairs = data["pairs"]
        if not pairs:
            raise ValueError(f'{where}: "pairs" is empty')
        for i, p in enumerate(pairs):
            if not isinstance(p, list) or len(p) != 2:
                raise ValueError(f"{where}: pairs[{i}] must be [input, output], got {p!r}")
        return pairs, meta
    if isinstance(data, dict):
        if not data:
            raise ValueError(f"{where}: the JSON object is empty; no pairs")
        return list(data.items()), {}
    if isinstance(data, list):
        if not data:
            raise ValueError(f"{where}: the JSON list is empty; no pairs")
        out = []
        for i, item in enumerate(data):
            if not isinstance(item, dict) or "input" not in item or "output" not in item:
                raise ValueError(
                    f'{where}: item {i} must be an object with "input" and "output", got {item!r}'
                )
            out.append((item["input"], item["output"]))
        return out, {}
    raise ValueError(
        f"{where}: wrong shape: expected an {{input: output}} object, a list of "
        f'{{"input", "output"}} objects or a tvlens task with "pairs"; got '
        f"{type(data).__name__}"
    )


def _csv_pairs(text: str, delimiter: str, where: str) -> list[tuple[str, str]]:
    """Two-column rows; an ``input,output`` header row is skipped."""
    out: list[tuple[str, str]] = []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    first = True
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        cells = [c.strip() for c in row]
        if len(cells) != 2:
            raise ValueError(
                f"{where}: line {line} has {len(cells)} columns, expected 2 (input, output): "
                f"{row!r}"
            )
        if first and [c.lower() for c in cells] == ["input", "output"]:
            first = False
            continue
        first = False
        if not cells[0] or not cells[1]:
            raise ValueError(f"{where}: line {line} has an empty cell: {row!r}")
        out.append((cells[0], cells[1]))
    if not out:
        raise ValueError(f"{where}: no rows besides the header; no pairs")
    return out
