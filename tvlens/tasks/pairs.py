"""``(input, output)`` pairs: checking, duplicates and conflicts, and reading them from files.

The bottom of :mod:`tvlens.tasks`: it imports nothing else from the package, so
:mod:`~tvlens.tasks.task` and :mod:`~tvlens.tasks.io` can both use it without a cycle.

An input given twice with the same output is merged silently. An input given with two
different outputs (``'SNES-CD' -> 'Nintendo'`` and ``'Sony'``) is a *conflict*, handled by
the ``on_conflict`` policy:

* ``"error"`` (default): refuse, listing the conflicting inputs and their outputs;
* ``"first"``: keep each input's first output and drop the later ones;
* ``"drop"``: drop every pair of each conflicting input.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

Pair = tuple[str, str]
OnConflict = Literal["error", "first", "drop"]
ON_CONFLICT: tuple[str, ...] = get_args(OnConflict)
#: Conflicting inputs listed in the error message.
MAX_LISTED = 5

DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
SUFFIXES = (".json", *DELIMITERS)
META_KEYS = ("name", "category", "description", "source")
#: Column names: a first row whose two cells are both among them (case-insensitive) is a
#: header, skipped (with a warning unless it is ``input, output``). ``x, y`` and ``in, out``
#: are not among them: they are pairs of real tasks (next_letter, antonyms).
HEADER_WORDS = frozenset(
    {"input", "output", "inputs", "outputs", "source", "target", "src", "tgt", "question",
     "answer", "prompt", "completion", "query", "response", "text", "label"}
)  # fmt: skip


def check_on_conflict(on_conflict: Any) -> OnConflict:
    """``on_conflict`` if it is one of :data:`ON_CONFLICT`, else a ``ValueError``."""
    if on_conflict not in ON_CONFLICT:
        raise ValueError(
            f"on_conflict must be one of {', '.join(map(repr, ON_CONFLICT))}, got {on_conflict!r}"
        )
    return on_conflict


def _check_pair(pair: Any, i: int, where: str) -> Pair:
    if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise ValueError(f"{where}: pair {i} is not an (input, output) pair: {pair!r}")
    x, y = pair
    for role, s in (("input", x), ("output", y)):
        if not isinstance(s, str):
            raise ValueError(
                f"{where}: pair {i} has a non-string {role} {s!r} ({type(s).__name__})"
            )
        if not s.strip():
            raise ValueError(f"{where}: pair {i} has an empty {role}: {pair!r}")
        if s != s.strip():
            raise ValueError(
                f"{where}: pair {i} has leading/trailing whitespace in its {role} {s!r}; "
                "the prompt format adds the spaces, strip the strings"
            )
        if "\n" in s or "\r" in s:
            raise ValueError(
                f"{where}: pair {i} has a line break in its {role} {s!r}; "
                "line breaks separate demonstrations in a prompt"
            )
        bad = next((c for c in s if unicodedata.category(c) == "Cc"), None)
        if bad is not None:
            raise ValueError(
                f"{where}: pair {i} has the control character {bad!r} in its {role} {s!r}; "
                "remove it from the data"
            )
    return str(x), str(y)


def _conflict_error(where: str, conflicts: dict[str, list[str]]) -> ValueError:
    shown = [
        f"{x!r} -> {' | '.join(map(repr, ys))}" for x, ys in list(conflicts.items())[:MAX_LISTED]
    ]
    more = f" (and {len(conflicts) - MAX_LISTED} more)" if len(conflicts) > MAX_LISTED else ""
    n = len(conflicts)
    return ValueError(
        f"{where}: {n} conflicting duplicate input{'s' if n != 1 else ''} map"
        f"{'' if n != 1 else 's'} to more than one output: {'; '.join(shown)}{more}. "
        'A task maps each input to one output: fix the data, or pass on_conflict="first" '
        'to keep each input\'s first output, or on_conflict="drop" to drop every '
        "conflicting input (tvlens run: --on-conflict first|drop)"
    )


def resolve_pairs(
    raw: Iterable[Any], where: str, on_conflict: OnConflict = "error"
) -> tuple[tuple[Pair, ...], int]:
    """Check and de-duplicate pairs under a conflict policy.

    Args:
        raw: the pairs (each a 2-sequence of strings).
        where: what the pairs come from, starting every error message
            (e.g. ``"task 'foo'"`` or ``"task file 'data.csv'"``).
        on_conflict: ``"error"``, ``"first"`` or ``"drop"`` (see the module docstring).

    Returns:
        The pairs in first-seen order with unique inputs, and the number of distinct
        ``(input, output)`` pairs dropped because their input has another output.

    Raises:
        ValueError: on no pairs (before or after dropping conflicts), a pair that is not
            two strings, an empty or whitespace-padded string, a string with a line break
            or control character, or (with ``"error"``) conflicting inputs, listing up to
            five of them with their outputs and how to proceed.
    """
    policy = check_on_conflict(on_conflict)
    outputs: dict[str, list[str]] = {}
    for i, pair in enumerate(raw):
        x, y = _check_pair(pair, i, where)
        ys = outputs.setdefault(x, [])
        if y not in ys:
            ys.append(y)
    if not outputs:
        raise ValueError(f"{where}: no pairs")
    conflicts = {x: ys for x, ys in outputs.items() if len(ys) > 1}
    if conflicts and policy == "error":
        raise _conflict_error(where, conflicts)
    if policy == "drop":
        kept = tuple((x, ys[0]) for x, ys in outputs.items() if len(ys) == 1)
        n_dropped = sum(len(ys) for ys in conflicts.values())
    else:
        kept = tuple((x, ys[0]) for x, ys in outputs.items())
        n_dropped = sum(len(ys) - 1 for ys in conflicts.values())
    if not kept:
        raise ValueError(
            f"{where}: no pairs left after on_conflict='drop' dropped all {n_dropped} "
            f"pairs ({len(conflicts)} conflicting inputs)"
        )
    return kept, n_dropped


def strip_pairs(raw: Iterable[Any]) -> tuple[list[Any], int]:
    """``raw`` with the whitespace around each input and output removed, and how many pairs
    had some.

    Surrounding whitespace (``'mäßig\\n'``, a space after a CSV comma) is not a task's
    content: the prompt format places the spaces. What stays broken (a line break or an
    arrow inside) is refused later; an item that is not two strings is passed on as it is
    (:func:`resolve_pairs` refuses it). Pairs that become equal are merged, and inputs that
    then have two outputs follow ``on_conflict``, as any others.
    """
    out: list[Any] = []
    n = 0
    for pair in raw:
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            x, y = pair
            if isinstance(x, str) and isinstance(y, str) and (x != x.strip() or y != y.strip()):
                n += 1
                pair = (x.strip(), y.strip())
        out.append(pair)
    return out, n


def normalize_pairs(
    raw: Iterable[Any], where: str, on_conflict: OnConflict = "error"
) -> tuple[Pair, ...]:
    """Check and de-duplicate ``(input, output)`` pairs, keeping first-seen order.

    :func:`resolve_pairs` without the count. Identical duplicate pairs are merged
    silently; conflicting ones follow ``on_conflict`` (default: an error).
    """
    return resolve_pairs(raw, where, on_conflict)[0]


# ------------------------------------------------------------------------------ files
class _JSONObject(dict[str, Any]):
    """A JSON object that remembers every key-value item, duplicates included."""

    items_list: list[tuple[str, Any]]


def _json_object(items: list[tuple[str, Any]]) -> _JSONObject:
    obj = _JSONObject(items)
    obj.items_list = items
    return obj


def _no_duplicate_keys(obj: Any, where: str, what: str) -> None:
    if isinstance(obj, _JSONObject) and len(obj.items_list) != len(obj):
        keys = [k for k, _ in obj.items_list]
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"{where}: {what} has the key {dup!r} twice")


def read_pairs_file(path: str | Path) -> tuple[list[Any], dict[str, Any], str]:
    """The raw pairs and metadata of a task file (see :mod:`tvlens.tasks.io`).

    Returns:
        ``(raw_pairs, meta, where)``: the pairs as read (checked later by
        :func:`resolve_pairs`), the tvlens schema's string metadata (``name``,
        ``category``, ``description``, ``source``; empty for other shapes), and the
        ``"task file '...'"`` prefix of error messages.

    Raises:
        ValueError: naming the file, if it is missing or a folder, of an unknown type,
            not UTF-8, empty, not JSON, of the wrong shape, or a CSV row without exactly
            2 columns or with an empty cell.
    """
    path = Path(path)
    where = f"task file {str(path)!r}"
    if path.is_dir():
        raise ValueError(f"{where}: is a folder, not a file")
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
    for key in META_KEYS:
        if key in meta and not isinstance(meta[key], str):
            raise ValueError(f"{where}: {key!r} must be a string, got {meta[key]!r}")
    return raw, meta, where


def _json_pairs(text: str, where: str) -> tuple[list[Any], dict[str, Any]]:
    """Pairs and metadata from a JSON document in any of the three shapes."""
    try:
        data = json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON ({e})") from None
    # {"pairs": "pair"} is an {input: output} object (plural_singular), not the schema
    if isinstance(data, dict) and "pairs" in data and not isinstance(data["pairs"], str):
        _no_duplicate_keys(data, where, "the task object")
        pairs = data["pairs"]
        if not isinstance(pairs, list):
            raise ValueError(
                f'{where}: "pairs" must be a list of [input, output] pairs, got '
                f"{type(pairs).__name__}"
            )
        if not pairs:
            raise ValueError(f'{where}: "pairs" is empty')
        for i, p in enumerate(pairs):
            if not isinstance(p, list) or len(p) != 2:
                raise ValueError(f"{where}: pairs[{i}] must be [input, output], got {p!r}")
        meta = {k: v for k, v in data.items() if k != "pairs"}
        return pairs, meta
    if isinstance(data, dict):
        if not data:
            raise ValueError(f"{where}: the JSON object is empty; no pairs")
        # every item, a repeated key included, so conflicts follow on_conflict
        items = data.items_list if isinstance(data, _JSONObject) else list(data.items())
        return list(items), {}
    if isinstance(data, list):
        if not data:
            raise ValueError(f"{where}: the JSON list is empty; no pairs")
        out = []
        for i, item in enumerate(data):
            if not isinstance(item, dict) or "input" not in item or "output" not in item:
                raise ValueError(
                    f'{where}: item {i} must be an object with "input" and "output", got {item!r}'
                )
            _no_duplicate_keys(item, where, f"item {i}")
            out.append((item["input"], item["output"]))
        return out, {}
    raise ValueError(
        f"{where}: wrong shape: expected an {{input: output}} object, a list of "
        f'{{"input", "output"}} objects or a tvlens task with "pairs"; got '
        f"{type(data).__name__}"
    )


def _csv_pairs(text: str, delimiter: str, where: str) -> list[tuple[str, str]]:
    """Two-column rows, cells as written (:func:`strip_pairs` strips and counts them).

    A comma-separated file is read with CSV quoting (``"a, b",c``); a tab-separated one
    without (a quote is a character like any other there). A first row of column names
    (:data:`HEADER_WORDS`) is skipped. Errors name the line where the row starts.
    """
    out: list[tuple[str, str]] = []
    if delimiter == ",":
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    else:  # a tab-separated file has no quoting
        reader = csv.reader(io.StringIO(text), delimiter=delimiter, quoting=csv.QUOTE_NONE)
    first = True
    start = 1  # the line the next row starts on
    try:
        for row in reader:
            line, end, start = start, reader.line_num, reader.line_num + 1
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 2:
                spans = (
                    f'; the quote (") that opens a field on line {line} runs it to line {end}: '
                    'close it, or write a quote inside a quoted field as ""'
                    if end > line
                    else ""
                )
                raise ValueError(
                    f"{where}: line {line} has {len(row)} columns, expected 2 (input, output): "
                    f"{row!r}{spans}"
                )
            if first and _is_header(row, where, line):
                first = False
                continue
            first = False
            if not row[0].strip() or not row[1].strip():
                raise ValueError(f"{where}: line {line} has an empty cell: {row!r}")
            out.append((row[0], row[1]))
    except csv.Error as e:
        raise ValueError(f"{where}: line {start}: not valid CSV ({e})") from None
    if not out:
        raise ValueError(f"{where}: no rows besides the header; no pairs")
    return out


def _is_header(row: list[str], where: str, line: int) -> bool:
    """Whether the first row names the columns; a warning for names other than input, output."""
    names = [c.strip().lower() for c in row]
    if names == ["input", "output"]:
        return True
    if names[0] == names[1] or not all(n in HEADER_WORDS for n in names):
        return False
    warnings.warn(
        f"{where}: line {line} {row!r} read as a header (column names), not a pair, and "
        "skipped; if it is a pair, move it below the first row",
        stacklevel=5,
    )
    return True
