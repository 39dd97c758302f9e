"""The output folder of ``tvlens run``: atomic writes and a manifest of what tvlens wrote.

- :func:`prepare_out` finds an unusable ``--out`` (a file, a path under a file, a folder
  without write permission) before any model loads.
- The folder's lock is :mod:`tvlens.run.lock`.
- :func:`write_output` writes a file atomically (temp file in the same folder, flush,
  ``fsync``, ``os.replace``; :mod:`tvlens.files`) and records its sha256 in
  ``<out>/.tvlens-run.json``; :func:`write_outputs` does so for files that belong together
  (a function vector's safetensors + JSON pair), all or none. A file
  that the manifest does not vouch for (the user's own, or edited since) is never
  overwritten: :func:`check_outputs_ours` refuses it before the run, and a write that
  finds one later writes next to it instead.
- Every folder has one *kind*, recorded in the manifest (``"kind"``): ``run``
  (``results.json``), ``seeds`` (``seeds.json``), ``compare`` (``comparison.json``) or
  ``grid`` (``grid.json``). A manifest without one (written before kinds) is read by the
  file present. :func:`check_folder_kind` refuses a folder of another kind, and
  :func:`write_output` never writes into one: a run into a comparison's folder would
  overwrite its summary.md and report.html.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tvlens.files import atomic_write, replace_together, sha256_file
from tvlens.files import json_safe as _json_safe  # NaN as null: tvlens.files.json_safe(nan=)
from tvlens.run.folders import check_kind, kind_of, kind_of_file

__all__ = [
    "MANIFEST_NAME",
    "OUTPUT_FILES",
    "atomic_write",
    "check_folder_kind",
    "check_outputs_ours",
    "dumps_strict",
    "folder_kind",
    "is_ours",
    "prepare_out",
    "read_manifest",
    "write_output",
    "write_outputs",
]

MANIFEST_NAME = ".tvlens-run.json"
OUTPUT_FILES = ("results.json", "summary.md", "report.html")


def prepare_out(out: str | Path) -> Path:
    """Create ``out`` if missing and check that files can be written in it.

    Raises:
        ValueError: if ``out`` is a file, lies under a file, or is not writable.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; pass a folder (it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise ValueError(
            f"--out {out} cannot be created: a part of its path is a file ({err})"
        ) from err
    except OSError as err:
        raise ValueError(f"--out {out} cannot be created: {err}") from err
    try:
        fd, probe = tempfile.mkstemp(dir=out, prefix=".tvlens-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(f"--out {out} is not writable: {err}") from err
    return out


# ---- the lock ----------------------------------------------------------------------------
def read_manifest(out: Path) -> dict[str, Any]:
    """``<out>/.tvlens-run.json``: ``{"files": {name: {"sha256", "previous_sha256"}}}``."""
    try:
        data = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": {}}
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return {"files": {}}
    return data


def _vouched(entry: Any) -> set[str]:
    # previous_sha256 covers a crash between recording a new hash and replacing the file
    if not isinstance(entry, dict):
        return set()
    return {h for h in (entry.get("sha256"), entry.get("previous_sha256")) if isinstance(h, str)}


def is_ours(out: Path, name: str, manifest: dict[str, Any] | None = None) -> bool:
    """Whether ``out/name`` is absent or holds exactly what tvlens last wrote there."""
    digest = sha256_file(out / name)
    if digest is None:
        return True
    manifest = read_manifest(out) if manifest is None else manifest
    return digest in _vouched(manifest["files"].get(name))


def check_outputs_ours(out: Path, names: Sequence[str] = OUTPUT_FILES) -> None:
    """Refuse a folder holding output files tvlens did not write (or that were edited since).

    Raises:
        ValueError: naming each such file and the fix.
    """
    manifest = read_manifest(out)
    foreign = [n for n in names if not is_ours(out, n, manifest)]
    if not foreign:
        return
    listed = ", ".join(str(out / n) for n in foreign)
    raise ValueError(
        f"{listed}: not written by tvlens, or changed since tvlens wrote it (its sha256 is not "
        f"in {out / MANIFEST_NAME}); tvlens does not overwrite it. Pass another --out, or "
        "move the file away"
    )


def folder_kind(out: Path, manifest: dict[str, Any] | None = None) -> str | None:
    """The kind of ``out`` (:mod:`tvlens.run.folders`), or None for a new folder."""
    return kind_of(out, (read_manifest(out) if manifest is None else manifest).get("kind"))


def check_folder_kind(out: Path, kind: str, manifest: dict[str, Any] | None = None) -> None:
    """Refuse ``out`` if it holds a folder of another kind than ``kind``.

    Raises:
        ValueError: naming what the folder holds, how to resume it, and the fix.
    """
    recorded = (read_manifest(out) if manifest is None else manifest).get("kind")
    check_kind(out, kind, recorded, MANIFEST_NAME)


def _sibling(path: Path) -> Path:
    return path.with_name(f"{path.stem}.tvlens-{os.getpid()}{path.suffix}")


def write_output(
    out: Path,
    name: str,
    data: bytes | str | Callable[[Path], Any],
    *,
    beside: bool = False,
    kind: str | None = None,
) -> Path:
    """Write ``out/name`` atomically and record its sha256 in the manifest.

    A file already there that tvlens did not write (or that was edited since), or any
    file if ``beside``, is kept: the new content goes next to it
    (``<stem>.tvlens-<pid><suffix>``), with a warning.

    ``kind`` is the folder's kind (:mod:`tvlens.run.folders`; default: the kind ``name`` marks,
    if any, else the folder's), recorded in the manifest.

    Raises:
        ValueError: if ``out`` holds a folder of another kind (:func:`check_folder_kind`).

    Returns:
        The path written.
    """
    return write_outputs(out, [(name, data)], beside=beside, kind=kind)[0]


def write_outputs(
    out: Path,
    items: Sequence[tuple[str, bytes | str | Callable[[Path], Any]]],
    *,
    beside: bool = False,
    kind: str | None = None,
) -> list[Path]:
    """Write the files ``out/name`` together (all or none) and record their sha256s.

    The order is: every file to a durable temp file, then the manifest (each entry keeps the
    file's previous sha256, so a crash before the renames leaves the old files vouched
    for), then the renames (:func:`tvlens.files.replace_together`). If any of the files is
    one tvlens did not write (or was edited since), or if ``beside``, all of them go next
    to theirs (``<stem>.tvlens-<pid><suffix>``, one stem for the set), with a warning.

    Args:
        out: the folder.
        items: ``(name, data)``: bytes, text, or a function that writes a given path.
        beside: write next to the files, whatever they hold.
        kind: as for :func:`write_output` (default: the kind the first marking name marks).

    Raises:
        ValueError: if ``out`` holds a folder of another kind (:func:`check_folder_kind`).

    Returns:
        The paths written, in the order of ``items``.
    """
    raws = [(name, data.encode("utf-8") if isinstance(data, str) else data) for name, data in items]
    manifest = read_manifest(out)
    kind = kind or next((k for k in (kind_of_file(n) for n, _ in raws) if k), None)
    if kind is not None:
        check_folder_kind(out, kind, manifest)
    kind = kind or folder_kind(out, manifest)
    foreign = [name for name, _ in raws if not is_ours(out, name, manifest)]
    if beside or foreign:
        sides = [_sibling(out / name) for name, _ in raws]
        kept = [str(out / name) for name in ([n for n, _ in raws] if beside else foreign)]
        many = len(kept) > 1
        if beside:
            why = "hold another run" if many else "holds another run"
        else:
            why = f"{'were' if many else 'was'} changed by something other than tvlens"
        written = ", ".join(map(str, sides))
        warnings.warn(f"{', '.join(kept)} {why}; writing {written} instead", stacklevel=3)
        replace_together([(side, raw) for side, (_, raw) in zip(sides, raws, strict=True)])
        return sides
    paths = [out / name for name, _ in raws]

    def record(temps: list[Path]) -> None:
        files = dict(manifest["files"])
        for path, tmp in zip(paths, temps, strict=True):
            files[path.name] = {"sha256": sha256_file(tmp), "previous_sha256": sha256_file(path)}
        body = {"tool": "tvlens", "manifest_version": 1, **({"kind": kind} if kind else {})}
        body["files"] = files
        atomic_write(out / MANIFEST_NAME, json.dumps(body, indent=1) + "\n")

    replace_together([(out / name, raw) for name, raw in raws], before_replace=record)
    return paths


# ---- JSON without NaN ---------------------------------------------------------------------
def dumps_strict(obj: Any) -> str:
    """Standard JSON (never ``NaN`` / ``Infinity``: those become ``null``), indented."""
    return json.dumps(_json_safe(obj, nan="null"), indent=1, allow_nan=False) + "\n"
