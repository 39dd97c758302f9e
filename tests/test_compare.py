"""``tvlens compare``: several tiny-model runs in one report, old files, errors, rendering."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import build_tiny
from tvlens.cli import main
from tvlens.compare import Comparison, compare
from tvlens.experiment import ProtocolConfig, run_protocol
from tvlens.report import chromium_command
from tvlens.runfiles import MANIFEST_NAME

CFG = dict(n_dev=4, n_test=5, n_baseline=4, n_demos=3, n_dummy=2, format="paper")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Two runs of models of different depth on different task sets (one skipped task)."""
    root = tmp_path_factory.mktemp("runs")
    deep, shallow = build_tiny("bridge", n_layers=4), build_tiny("bridge")
    with pytest.warns(UserWarning, match="skipping task country_capital"):
        tasks = ["to_upper", "to_lower", "country_capital"]
        run_protocol(deep, ProtocolConfig(tasks=tasks, **CFG), root / "deep", progress=False)
    cfg = ProtocolConfig(tasks=["next_letter", "to_upper", "to_lower"], **CFG)
    run_protocol(shallow, cfg, root / "shallow", progress=False)
    return {"deep": root / "deep", "shallow": root / "shallow", "root": root}


def test_compare_aligns_on_shared_tasks_and_says_what_it_dropped(runs, tmp_path) -> None:
    comp = compare([runs["deep"], runs["shallow"]], tmp_path / "cmp")
    assert isinstance(comp, Comparison)
    assert comp.tasks == ("to_upper", "to_lower")
    assert [r.label for r in comp.runs] == ["tiny-bridge-4x64", "tiny-bridge-3x64"]
    assert set(comp.dropped) == {"country_capital", "next_letter"}
    assert any("skipped" in why for why in comp.dropped["country_capital"])
    assert comp.dropped["next_letter"] == ["tiny-bridge-4x64: not in the run"]
    for name in ("summary.md", "report.html", "comparison.json"):
        assert (tmp_path / "cmp" / name).exists()
    md = (tmp_path / "cmp" / "summary.md").read_text()
    assert "Aligned on the 2 tasks every run finished. Dropped from the comparison: " in md
    assert "next_letter (tiny-bridge-4x64: not in the run)" in md
    assert "| to_upper | algorithmic | tiny-bridge-4x64 | " in md
    assert "|  |  | tiny-bridge-3x64 | " in md and "paper (7 models" in md
    assert "**all 2 shared tasks**" in md
    data = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert data["tasks"] == ["to_upper", "to_lower"] and len(data["runs"]) == 2
    assert data["averages"]["tiny-bridge-3x64"]["n_tasks_ok"] == 2
    html = (tmp_path / "cmp" / "report.html").read_text()
    assert "<script src=" not in html and "relative depth" in html and "error_y" in html
    # per-layer curves: 4 and 3 layers on one axis from 0 to 1
    df = comp.to_dataframe()
    assert set(df["run"]) == {"tiny-bridge-4x64", "tiny-bridge-3x64"}
    assert {"accuracy", "ci_low", "ci_high", "best_depth"} <= set(df.columns)
    assert (df["ci_low"] <= df["accuracy"]).all() and (df["accuracy"] <= df["ci_high"]).all()
    assert set(df.loc[df["run"] == "tiny-bridge-4x64", "n_layers"]) == {4}


def test_compare_again_into_its_own_folder(runs, tmp_path) -> None:
    compare([runs["deep"], runs["shallow"]], tmp_path)
    comp = compare([runs["shallow"], runs["deep"]], tmp_path)  # its own files
    assert comp.runs[0].label == "tiny-bridge-3x64"
    assert compare([runs["deep"]]).tasks == ("to_upper", "to_lower")  # out=None writes nothing


def test_old_schema_v1_results_load_with_the_same_numbers(runs, tmp_path) -> None:
    new = json.loads((runs["shallow"] / "results.json").read_text())
    old = json.loads(json.dumps(new))
    old["schema_version"] = 1
    for t in old["tasks"].values():
        for key in ("counts", "accuracy_ci", "comparisons"):
            del t[key]
    del old["summary"]["intervals"]
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "results.json").write_text(json.dumps(old))
    comp = compare([tmp_path / "old", runs["deep"]], tmp_path / "cmp")
    assert comp.runs[0].read_version == 1 and comp.runs[1].read_version == 2
    t = comp.runs[0].results["tasks"]["to_upper"]
    assert t["accuracy_ci"] == new["tasks"]["to_upper"]["accuracy_ci"]
    assert t["comparisons"] == new["tasks"]["to_upper"]["comparisons"]
    assert "(schema 1, upgraded)" in (tmp_path / "cmp" / "summary.md").read_text()
    # a v1 file without per-example records is refused, naming the file and the task
    for t in old["tasks"].values():
        t.pop("test_examples", None)
    (tmp_path / "old" / "results.json").write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"old/results\.json: task 'next_letter' has no per-ex"):
        compare([tmp_path / "old"])
    old["schema_version"] = 7
    (tmp_path / "old" / "results.json").write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"schema_version 7, newer than this tvlens"):
        compare([tmp_path / "old"])


def test_cli_compare_errors_are_clear(runs, tmp_path, capsys) -> None:
    out = str(tmp_path / "cmp")
    assert main(["compare", str(tmp_path / "nowhere"), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "nowhere: no such folder" in err and "tvlens run --out" in err
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty"), "--out", out]) == 2
    assert "empty holds no results.json" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text("{not json")
    assert main(["compare", str(tmp_path / "bad"), "--out", out]) == 2
    assert "bad/results.json cannot be read as JSON" in capsys.readouterr().err
    assert main(["compare", str(runs["deep"]), "--out", str(runs["deep"])]) == 2
    assert "is one of the run folders compared" in capsys.readouterr().err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "summary.md").write_text("my notes\n")
    assert main(["compare", str(runs["deep"]), "--out", str(tmp_path / "mine")]) == 2
    assert "summary.md: not written by tvlens" in capsys.readouterr().err
    assert (tmp_path / "mine" / "summary.md").read_text() == "my notes\n"
    assert main(["compare", str(runs["deep"]), str(runs["shallow"]), "--out", out]) == 0
    assert "2 runs on 2 shared tasks (2 dropped)" in capsys.readouterr().out
    assert (tmp_path / "cmp" / MANIFEST_NAME).exists()
    with pytest.raises(SystemExit):
        main(["compare", str(runs["deep"])])  # --out is required
    with pytest.raises(TypeError, match="did you mean"):
        compare(str(runs["deep"]))  # type: ignore[arg-type]


def test_labels_name_the_settings_that_differ(runs, tmp_path) -> None:
    shutil.copytree(runs["shallow"], tmp_path / "copy")
    comp = compare([runs["shallow"], tmp_path / "copy"])
    assert [r.label for r in comp.runs] == ["shallow", "copy"]  # nothing differs: folders
    data = json.loads((tmp_path / "copy" / "results.json").read_text())
    data["meta"]["seed"] = 3
    data["meta"]["format"]["name"] = "arrow"
    (tmp_path / "copy" / "results.json").write_text(json.dumps(data))
    comp = compare([runs["shallow"], tmp_path / "copy"])
    assert [r.label for r in comp.runs] == ["format paper, seed 0", "format arrow, seed 3"]
    data["meta"]["answers"] = "single"  # a setting the older run does not record
    (tmp_path / "copy" / "results.json").write_text(json.dumps(data))
    comp = compare([runs["shallow"], tmp_path / "copy"])
    assert [r.label for r in comp.runs] == ["format paper, seed 0", "format arrow, seed 3"]


@pytest.mark.browser
def test_compare_report_renders_in_headless_chromium(runs, tmp_path) -> None:
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    compare([runs["deep"], runs["shallow"]], tmp_path / "cmp")
    cmd = chromium_command(tmp_path / "cmp" / "report.html", tmp_path / "profile", "--dump-dom")
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    assert dom.count('class="main-svg"') >= 5  # three modes, depth curves, averages
    assert "plot-container" in dom and "errorbar" in dom
