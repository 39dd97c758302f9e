"""Durable files and plain JSON: the one copy that saved vectors and run folders share.

- :func:`replace_together` puts files in place together, or none of them (a saved vector's
  safetensors + JSON pair): each is written to a temp file in its folder, flushed and
  fsynced, then renamed over its target, and the folder is fsynced; :func:`atomic_write`
  does so for one file.
- :func:`write_temp` is the durable temp file both are built on (its mode follows the umask).
- :func:`sha256_bytes` and :func:`sha256_file` hash contents; :func:`json_safe` turns a value
  into plain JSON data (strict for a vector's provenance, NaN as ``null`` for a run's results).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str | None:
    """The hex sha256 of the file at ``path`` (read in chunks), or None if it does not exist."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def fsync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _side_path(target: Path, kind: str) -> Path:
    """A hidden, unique path next to ``target`` (same folder, so ``os.replace`` is atomic)."""
    return target.parent / f".{target.name}.{os.urandom(6).hex()}.{kind}"


def write_temp(target: Path, data: bytes | Callable[[Path], Any]) -> Path:
    """A durable temp file next to ``target`` holding ``data`` (or what ``data(path)`` wrote).

    Not ``mkstemp``: its files are 0600, and the umask should decide, as for any other file.
    The temp file is removed if writing fails.
    """
    tmp = _side_path(target, "tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    try:
        if callable(data):
            os.close(fd)
            data(tmp)
            fd = os.open(tmp, os.O_RDWR)
        else:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def atomic_write(path: str | Path, data: bytes | str | Callable[[Path], Any]) -> Path:
    """Write ``path`` atomically: temp file in the same folder, flush, fsync, ``os.replace``.

    ``data`` is the bytes or text (UTF-8) to write, or a function that writes a given path.
    If anything fails, the previous file (if any) is left as it was.

    Returns:
        ``path``.
    """
    path = Path(path)
    replace_together([(path, data.encode("utf-8") if isinstance(data, str) else data)])
    return path


def replace_together(
    items: Sequence[tuple[Path, bytes | Callable[[Path], Any]]],
    *,
    before_replace: Callable[[list[Path]], Any] | None = None,
) -> None:
    """Put every ``(target, data)`` in place, or (on any failure) none of them.

    Each file is first written to a durable temp file in its folder (``data``: bytes, or a
    function that writes a given path), then moved over its target with ``os.replace``. A
    target already replaced when a later step fails is restored from a hard link (or copy)
    of its old contents, or removed if it did not exist.

    Args:
        items: the files to write.
        before_replace: called with the temp files (in the order of ``items``) once all are
            durable and before any target is replaced (e.g. to record their hashes); if it
            raises, nothing is replaced.
    """
    temps: list[tuple[Path, Path]] = []
    backups: dict[Path, Path] = {}
    replaced: list[Path] = []
    try:
        for target, data in items:
            temps.append((write_temp(target, data), target))
        if before_replace is not None:
            before_replace([tmp for tmp, _ in temps])
        for i, (tmp, target) in enumerate(temps):
            if i < len(temps) - 1 and target.exists():  # the last one has no later step to fail
                backup = _side_path(target, "bak")
                try:
                    os.link(target, backup)
                except OSError:
                    shutil.copy2(target, backup)
                backups[target] = backup
            os.replace(tmp, target)
            replaced.append(target)
    except BaseException:
        for target in reversed(replaced):
            with contextlib.suppress(OSError):
                if target in backups:
                    os.replace(backups.pop(target), target)
                else:
                    target.unlink()
        raise
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        for backup in backups.values():
            with contextlib.suppress(OSError):
                backup.unlink(missing_ok=True)
    for folder in {target.parent for target, _ in items}:
        fsync_dir(folder)


def json_safe(value: Any, where: str = "value", *, nan: Literal["raise", "null"] = "raise") -> Any:
    """``value`` as plain JSON data: numpy scalars as Python ones, tuples as lists, dicts.

    Args:
        value: the data.
        where: its name in error messages (e.g. ``extra``: ``extra['ids'][2] is a set``).
        nan: ``"raise"`` (a vector's provenance: a NaN or inf float, a non-string key or a
            value JSON cannot hold is an error) or ``"null"`` (a run's results: NaN and inf
            become ``None``; anything else is left for ``json.dumps`` to judge).

    Raises:
        TypeError: naming ``where`` for a value JSON cannot hold (with ``nan="raise"``).
        ValueError: for a NaN or infinite float (with ``nan="raise"``).
    """
    strict = nan == "raise"
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        if strict:
            raise ValueError(f"{where} is {value}: JSON has no NaN or inf; store a finite number")
        return None
    if isinstance(value, (list, tuple)):
        return [json_safe(item, f"{where}[{i}]", nan=nan) for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if strict and not isinstance(key, str):
                raise TypeError(
                    f"{where} has the key {key!r} ({type(key).__name__}); JSON keys are "
                    f"strings: use str({key!r})"
                )
            out[key] = json_safe(item, f"{where}[{key!r}]", nan=nan)
        return out
    if not strict:
        return value
    raise TypeError(
        f"{where} is a {type(value).__name__}, which JSON cannot store; use str, int, float, "
        "bool, None, or lists / dicts of them (e.g. .tolist() for an array or tensor)"
    )
