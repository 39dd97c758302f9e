"""The output folder of ``tvlens run``: checks, lock, atomic writes, manifest, strict JSON."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time

import pytest

import tvlens.run.files as runfiles
from tvlens.run.files import (
    MANIFEST_NAME,
    atomic_write,
    check_outputs_ours,
    dumps_strict,
    is_ours,
    prepare_out,
    write_output,
)
from tvlens.run.lock import LOCK_NAME, run_lock


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_lock(out, pid: int, host: str | None = None) -> None:
    info = {"pid": pid, "hostname": host or socket.gethostname(), "started": "then", "token": "x"}
    (out / LOCK_NAME).write_text(json.dumps(info))


# ---- prepare_out ------------------------------------------------------------------------
def test_prepare_out_creates_the_folder(tmp_path) -> None:
    out = prepare_out(tmp_path / "a" / "b")
    assert out.is_dir() and list(out.iterdir()) == []  # the write probe left nothing


def test_prepare_out_refuses_a_file_and_a_path_under_a_file(tmp_path) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        prepare_out(f)
    with pytest.raises(ValueError, match="a part of its path is a file"):
        prepare_out(f / "sub")
    assert f.read_text() == "x"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_prepare_out_refuses_a_read_only_folder(tmp_path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="not writable"):
            prepare_out(ro)
    finally:
        ro.chmod(0o700)


def test_prepare_out_reports_a_failed_write_probe(tmp_path, monkeypatch) -> None:
    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(runfiles.tempfile, "mkstemp", denied)
    with pytest.raises(ValueError, match=r"is not writable: .*Permission denied"):
        prepare_out(tmp_path)


# ---- the lock ---------------------------------------------------------------------------
def test_lock_is_created_and_removed(tmp_path) -> None:
    with run_lock(tmp_path) as path:
        info = json.loads(path.read_text())
        assert info["pid"] == os.getpid() and info["hostname"] == socket.gethostname()
        assert info["started"]
    assert not (tmp_path / LOCK_NAME).exists()


def test_lock_is_removed_when_the_body_raises(tmp_path) -> None:
    with pytest.raises(KeyboardInterrupt), run_lock(tmp_path):
        raise KeyboardInterrupt
    assert not (tmp_path / LOCK_NAME).exists()


def test_lock_held_by_a_live_process_is_refused_naming_its_pid(tmp_path) -> None:
    write_lock(tmp_path, os.getppid())
    with pytest.raises(ValueError, match=f"pid {os.getppid()} on"), run_lock(tmp_path):
        pass
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getppid()  # kept


def test_lock_of_another_host_is_refused(tmp_path) -> None:
    write_lock(tmp_path, dead_pid(), host="some-other-host.example")
    with pytest.raises(ValueError, match="another host"), run_lock(tmp_path):
        pass


def test_stale_lock_is_taken_over_with_a_warning(tmp_path) -> None:
    pid = dead_pid()
    write_lock(tmp_path, pid)
    with pytest.warns(UserWarning, match=f"stale lock .*pid {pid}"), run_lock(tmp_path) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()


def test_unreadable_lock_fresh_is_refused_old_is_taken_over(tmp_path) -> None:
    lock = tmp_path / LOCK_NAME
    lock.write_text("")  # a run is creating it right now
    with pytest.raises(ValueError, match="starting"), run_lock(tmp_path):
        pass
    old = time.time() - 3600
    os.utime(lock, (old, old))
    with pytest.warns(UserWarning, match="unreadable"), run_lock(tmp_path):
        pass
    assert not lock.exists()


def test_lock_is_taken_once_even_in_one_thread(tmp_path) -> None:
    # issue 19: the run takes its lock once; a second take in the same thread is a bug or a
    # second run, and is refused without touching the first one's lock
    with run_lock(tmp_path) as outer:
        with (
            pytest.raises(ValueError, match="in use by another run in this process"),
            run_lock(tmp_path),
        ):
            pass
        assert outer.exists()
    assert not outer.exists()
    with run_lock(tmp_path):  # released: it can be taken again
        pass


def test_lock_is_not_removed_if_it_is_no_longer_ours(tmp_path) -> None:
    with run_lock(tmp_path) as path:
        write_lock(tmp_path, os.getppid())  # someone replaced it
    assert path.exists()


# ---- atomic writes and the manifest ------------------------------------------------------
def test_atomic_write_fsyncs_and_leaves_no_temp_file(tmp_path, monkeypatch) -> None:
    synced = []
    real = os.fsync
    monkeypatch.setattr(runfiles.os, "fsync", lambda fd: synced.append(fd) or real(fd))
    atomic_write(tmp_path / "a.txt", "hello")
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert synced and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path) -> None:
    (tmp_path / "a.txt").write_text("old")

    def broken(path):
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(tmp_path / "a.txt", broken)
    assert (tmp_path / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_write_output_records_the_file_and_accepts_its_own_files(tmp_path) -> None:
    write_output(tmp_path, "summary.md", "one\n")
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert manifest["files"]["summary.md"]["sha256"]
    assert is_ours(tmp_path, "summary.md")
    write_output(tmp_path, "summary.md", "two\n")  # its own file: overwritten
    assert (tmp_path / "summary.md").read_text() == "two\n"
    check_outputs_ours(tmp_path)


def test_foreign_and_edited_files_are_refused_and_never_overwritten(tmp_path) -> None:
    (tmp_path / "summary.md").write_text("my own notes\n")
    with pytest.raises(ValueError, match=r"summary\.md.*not written by tvlens"):
        check_outputs_ours(tmp_path)
    with pytest.warns(UserWarning, match="writing .*summary.tvlens-"):
        side = write_output(tmp_path, "summary.md", "tvlens\n")
    assert (tmp_path / "summary.md").read_text() == "my own notes\n"
    assert side.read_text() == "tvlens\n" and side.name == f"summary.tvlens-{os.getpid()}.md"
    write_output(tmp_path, "results.json", "{}\n")
    (tmp_path / "results.json").write_text('{"edited": true}\n')
    with pytest.raises(ValueError, match=r"results\.json.*changed since"):
        check_outputs_ours(tmp_path, ["results.json"])


def test_crash_between_manifest_and_rename_still_vouches_for_the_old_file(
    tmp_path, monkeypatch
) -> None:
    write_output(tmp_path, "results.json", "{}\n")

    def crash(src, dst):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(
            runfiles.os,
            "replace",
            lambda s, d: os.rename(s, d) if "tvlens-run" in str(d) else crash(s, d),
        )
        with pytest.raises(KeyboardInterrupt):
            write_output(tmp_path, "results.json", '{"new": 1}\n')
    assert (tmp_path / "results.json").read_text() == "{}\n"
    check_outputs_ours(tmp_path)  # the manifest still vouches for the file on disk
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST_NAME, "results.json"]


# ---- JSON ----------------------------------------------------------------------------------
def test_dumps_strict_writes_null_for_nan_and_infinity() -> None:
    text = dumps_strict({"a": math.nan, "b": [1.0, math.inf, (2, -math.inf)], "c": "x"})

    def refuse(const):
        raise AssertionError(f"non-standard JSON: {const}")

    assert json.loads(text, parse_constant=refuse) == {
        "a": None,
        "b": [1.0, None, [2, None]],
        "c": "x",
    }


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_written_files_follow_the_umask(tmp_path) -> None:
    old = os.umask(0o022)
    try:
        path = write_output(tmp_path, "summary.md", "x\n")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
