"""The lock of an output folder: one process writes a run folder at a time.

:func:`run_lock` holds ``<out>/.tvlens.lock`` (pid, hostname, start time) for the run, so a
second run into the same folder is refused; a lock whose process is gone (same host) is
taken over with a warning. The lock is removed on every exit path, and taken once per
process (a second take of the same folder by this process is refused, not re-entered).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["LOCK_NAME", "run_lock"]

LOCK_NAME = ".tvlens.lock"
# A lock file with no readable content yet may be one being written right now.
_FRESH_LOCK_S = 10.0

_held: set[Path] = set()  # lock files this process holds (a second take is refused)
_held_guard = threading.Lock()


def _pid_alive(pid: int) -> bool:
    if os.name == "nt" or pid <= 0:  # Windows' os.kill terminates; assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    except OSError:
        return False
    return True


def _read_lock(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _describe(holder: dict[str, Any]) -> str:
    return f"pid {holder.get('pid')} on {holder.get('hostname')}, started {holder.get('started')}"


def _try_create(path: Path, info: dict[str, Any]) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(info, f)
        f.flush()
        os.fsync(f.fileno())
    return True


def _acquire(path: Path) -> dict[str, Any]:
    host = socket.gethostname()
    info = {
        "pid": os.getpid(),
        "hostname": host,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "token": os.urandom(8).hex(),
    }
    for _ in range(3):
        if _try_create(path, info):
            return info
        holder = _read_lock(path)
        if holder is None:
            try:
                age = time.time() - path.stat().st_mtime
            except FileNotFoundError:
                continue
            if age < _FRESH_LOCK_S:
                raise ValueError(
                    f"{path.parent} is locked by another tvlens run that is starting "
                    f"({path} is being written); wait for it or pass another --out"
                )
            stale = "unreadable"
        else:
            pid = holder.get("pid")
            same_host = holder.get("hostname") == host
            mine = pid == os.getpid()  # a lock of this process that it no longer holds
            if not isinstance(pid, int) or not same_host or (_pid_alive(pid) and not mine):
                where = "" if same_host else " (another host: tvlens cannot check it)"
                raise ValueError(
                    f"{path.parent} is in use by another tvlens run: {_describe(holder)}"
                    f"{where}. Wait for it to finish or pass another --out; if no run is "
                    f"active, delete {path}"
                )
            stale = _describe(holder)
        warnings.warn(
            f"taking over the stale lock {path} ({stale}: that process is gone)", stacklevel=3
        )
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    raise ValueError(f"could not take the lock {path}; another run keeps creating it")


def check_unlocked(folder: Path, then: str) -> None:
    """Refuse a folder a run still holds (its lock file exists), saying ``then`` what to do
    once it has finished.

    Raises:
        ValueError: ``folder`` holds a lock file.
    """
    lock = Path(folder) / LOCK_NAME
    if lock.exists():
        raise ValueError(
            f"{lock} exists: a run is still writing {folder} (or died; then delete the lock "
            f"after checking). {then}"
        )


@contextlib.contextmanager
def run_lock(out: str | Path) -> Iterator[Path]:
    """Hold ``<out>/.tvlens.lock`` for the duration of the ``with`` block.

    Taken once per run (the CLI, :func:`~tvlens.run.protocol.run_protocol` and the grid's
    workers each take it once, then run a plan that takes none). A second take of the same
    folder in this process, from any thread, is refused like one from another process: the
    lock file names this pid, which is alive, so it could not tell the two apart. The file
    is removed in ``finally`` if it is still this run's.

    Raises:
        ValueError: if another live run holds the lock, naming its pid and host.
    """
    path = Path(out).resolve() / LOCK_NAME
    with _held_guard:
        if path in _held:
            raise ValueError(
                f"{path.parent} is in use by another run in this process; pass another --out"
            )
        _held.add(path)
    try:
        info = _acquire(path)
    except BaseException:
        with _held_guard:
            _held.discard(path)
        raise
    try:
        yield path
    finally:
        with _held_guard:
            _held.discard(path)
        holder = _read_lock(path)
        if holder is not None and holder.get("token") == info["token"]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


# ---- the manifest -------------------------------------------------------------------------
