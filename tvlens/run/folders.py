"""The kinds of output folder tvlens writes, so that one kind never writes into another.

A folder holds one of: a ``run`` (``tvlens run``: ``results.json``), a ``seeds`` run
(``tvlens run --seeds``: ``seeds.json``), a ``compare`` report (``tvlens compare``:
``comparison.json``), a ``grid`` (``tvlens grid``: ``grid.json``) or a study of
:mod:`tvlens.studies` (``tvlens transfer``: ``transfer.json``; ``tvlens layers``:
``layers.json``; ``tvlens compose``: ``compose.json``). Each writes its own
``summary.md`` and ``report.html``, so a run into a comparison's folder would overwrite the
comparison's. The kind is recorded in the folder's manifest (:mod:`tvlens.run.files`); a
manifest without one (written before kinds existed) is read by the file that marks a kind,
in the order of :data:`FOLDER_KINDS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Each kind of folder and the file that marks it (in this order of precedence).
FOLDER_KINDS = {
    "compare": "comparison.json",
    "grid": "grid.json",
    "seeds": "seeds.json",
    "run": "results.json",
    "transfer": "transfer.json",
    "layers": "layers.json",
    "compose": "compose.json",
}
_NOUN = {
    "run": "run",
    "seeds": "run over several seeds",
    "compare": "comparison",
    "grid": "grid",
    "transfer": "transfer study",
    "layers": "layers study",
    "compose": "composition study",
}
_RESUME = {
    "transfer": "tvlens transfer resumes it",
    "layers": "tvlens layers resumes it",
    "compose": "tvlens compose resumes it",
    "run": "tvlens run (without --seeds) resumes it",
    "seeds": "pass --seeds to resume it",
    "compare": "tvlens compare rewrites it",
    "grid": "tvlens grid resumes it",
}


def kind_of_file(name: str) -> str | None:
    """The kind of folder the file ``name`` marks (``"results.json"`` -> ``"run"``), or None."""
    return next((k for k, f in FOLDER_KINDS.items() if f == name), None)


def kind_of(out: Path, recorded: Any) -> str | None:
    """The kind of ``out``: ``recorded`` (the manifest's) if it is one, else the kind of the
    first marking file present, else ``None`` (a new folder)."""
    if recorded in FOLDER_KINDS:
        return str(recorded)
    return next((k for k, name in FOLDER_KINDS.items() if (out / name).exists()), None)


def check_kind(out: Path, kind: str, recorded: Any, where: str) -> None:
    """Refuse ``out`` if it is a folder of another kind than ``kind``.

    Args:
        out: the folder.
        kind: the kind about to be written there.
        recorded: the kind its manifest records (``None`` if none).
        where: the manifest's file name, named when only the manifest says the kind.

    Raises:
        ValueError: naming what the folder holds, how to resume that, and the fix.
    """
    if kind not in FOLDER_KINDS:
        raise ValueError(f"unknown folder kind {kind!r}; one of {sorted(FOLDER_KINDS)}")
    found = kind_of(out, recorded)
    if found is None or found == kind:
        return
    marker = FOLDER_KINDS[found]
    why = marker if (out / marker).exists() else f"kind {found!r} in {where}"
    raise ValueError(
        f"{out} holds a {_NOUN[found]} ({why}): {_RESUME[found]}, or pass another --out. "
        f"A {_NOUN[kind]} writes its own summary.md and report.html and would overwrite "
        f"that {_NOUN[found]}'s"
    )
