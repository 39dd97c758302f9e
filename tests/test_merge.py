"""``tvlens merge``: runs that split a protocol's tasks, joined, equal the single run."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from tests.conftest import build_tiny
from tvlens.cli import main
from tvlens.fv.vector import FunctionVector
from tvlens.run.lock import LOCK_NAME
from tvlens.run.merge import merge_runs, untimed
from tvlens.run.protocol import ProtocolConfig, run_protocol

CFG = dict(n_dev=4, n_test=5, n_baseline=4, n_demos=3, n_dummy=2, methods=["tv", "fv"])
TASKS = ["to_upper", "to_lower", "next_letter"]


@pytest.fixture(scope="module", params=["hooked", "bridge"])
def runs(request, tmp_path_factory) -> dict[str, Path]:
    """The whole run, and the same protocol split over two runs (one task in both)."""
    root = tmp_path_factory.mktemp(f"merge-{request.param}")
    model = build_tiny(request.param)
    for name, tasks in (("whole", TASKS), ("a", TASKS[:2]), ("b", TASKS[1:])):
        run_protocol(model, ProtocolConfig(tasks=tasks, **CFG), root / name, progress=False)
    return {"root": root, "whole": root / "whole", "a": root / "a", "b": root / "b"}


def _tasks(folder: Path) -> dict:
    data = json.loads((folder / "results.json").read_text())
    return {k: untimed(t) for k, t in data["tasks"].items()}


def _untimed_md(path: Path) -> str:
    return re.sub(r"wall time \d+ s", "wall time", path.read_text())


def test_merged_runs_equal_the_single_run(runs, tmp_path) -> None:
    out = tmp_path / "merged"
    merged = merge_runs([runs["a"], runs["b"]], out)
    whole = json.loads((runs["whole"] / "results.json").read_text())
    assert set(merged["tasks"]) == set(TASKS)
    assert _tasks(out) == _tasks(runs["whole"])  # every record, statistics included
    assert merged["summary"] == whole["summary"]
    for key in ("model", "weights_sha256", "methods", "n_test", "format"):
        assert merged["meta"][key] == whole["meta"][key]
    parts = [json.loads((runs[p] / "results.json").read_text()) for p in "ab"]
    assert merged["meta"]["wall_time_s"] == pytest.approx(
        sum(p["meta"]["wall_time_s"] for p in parts)
    )
    for task in TASKS:  # each task's function vector travels with its record
        stem = merged["tasks"][task]["fv"]["file"]
        got, want = FunctionVector.load(out / stem), FunctionVector.load(runs["whole"] / stem)
        torch.testing.assert_close(got.vector, want.vector)
    # summary.md equal but for the wall time (the runs' sum against the single run's)
    assert _untimed_md(out / "summary.md") == _untimed_md(runs["whole"] / "summary.md")
    assert (out / "report.html").is_file() and not (out / LOCK_NAME).exists()


def test_merge_refuses_other_settings_naming_them(runs, tmp_path) -> None:
    other = tmp_path / "other"
    model = build_tiny("bridge")
    cfg = ProtocolConfig(tasks=["to_upper"], **{**CFG, "n_test": 3})
    run_protocol(model, cfg, other, progress=False)
    with pytest.raises(ValueError, match=r"n_test: 3 \(in .*other\) vs 5 \(in .*a\)"):
        merge_runs([runs["a"], other], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_merge_refuses_a_task_computed_twice_with_other_results(runs, tmp_path) -> None:
    edited = tmp_path / "edited"
    shutil.copytree(runs["b"], edited)
    data = json.loads((edited / "results.json").read_text())
    row = data["tasks"]["to_lower"]["test_examples"][0]
    row["hypothesis"]["predicted_token_id"] += 1
    (edited / "results.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"'to_lower' is in .* with different results"):
        merge_runs([runs["a"], edited], tmp_path / "out")


def test_merge_refuses_a_locked_run_an_existing_out_and_too_few_runs(runs, tmp_path) -> None:
    locked = tmp_path / "locked"
    shutil.copytree(runs["b"], locked)
    (locked / LOCK_NAME).write_text("{}")
    with pytest.raises(ValueError, match="a run is still writing"):
        merge_runs([runs["a"], locked], tmp_path / "out")
    with pytest.raises(ValueError, match="at least two run folders"):
        merge_runs([runs["a"]], tmp_path / "out")
    with pytest.raises(ValueError, match="one of the runs merged"):
        merge_runs([runs["a"], runs["b"]], runs["b"])
    with pytest.raises(ValueError, match=r"holds no results\.json"):
        merge_runs([runs["a"], tmp_path], tmp_path / "out")
    done = tmp_path / "done"
    merge_runs([runs["a"], runs["b"]], done)
    before = (done / "results.json").read_bytes()
    with pytest.raises(ValueError, match=r"already holds a results\.json"):
        merge_runs([runs["a"], runs["b"]], done)
    assert (done / "results.json").read_bytes() == before and not (done / LOCK_NAME).exists()


def test_cli_merge(runs, tmp_path, capsys) -> None:
    out = tmp_path / "cli"
    assert main(["merge", str(runs["a"]), str(runs["b"]), "--out", str(out)]) == 0
    assert "merged 3 tasks of 2 runs" in capsys.readouterr().out
    assert _tasks(out) == _tasks(runs["whole"])
    assert main(["merge", str(runs["a"]), "--out", str(tmp_path / "x")]) == 2
    assert "at least two run folders" in capsys.readouterr().err
