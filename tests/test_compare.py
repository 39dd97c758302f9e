"""``tvlens compare``: several tiny-model runs in one report, old files, errors, rendering."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import build_tiny
from tvlens.cli import main
from tvlens.report.compare import FV_TABLE_MODES, Comparison, compare
from tvlens.report.numbers import fmt_ci, fmt_test
from tvlens.report.summary import chromium_command
from tvlens.run.files import MANIFEST_NAME
from tvlens.run.methods import FV_MODES
from tvlens.run.protocol import ProtocolConfig, run_protocol
from tvlens.run.statistics import mean_interval, with_statistics

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


@pytest.fixture(scope="module")
def fv_runs(tmp_path_factory) -> dict[str, Path]:
    """Two ``--methods tv,fv`` runs of models of different depth on the same two tasks."""
    root = tmp_path_factory.mktemp("fv_runs")
    cfg = ProtocolConfig(tasks=["to_upper", "to_lower"], methods=["tv", "fv"], **CFG)
    for name, n_layers in (("deep", 4), ("shallow", 3)):
        run_protocol(build_tiny("bridge", n_layers=n_layers), cfg, root / name, progress=False)
    return {"deep": root / "deep", "shallow": root / "shallow"}


def varied(src: Path, dst: Path, shift: int) -> dict:
    """A copy of the run ``src`` whose FV methods and Hypothesis score distinct accuracies.

    Tiny random models score 0 everywhere; here method ``i`` of task ``j`` gets its first
    ``(i + j + shift) % (n + 1)`` of ``n`` test examples right, so a mixed-up column shows.
    """
    data = json.loads((src / "results.json").read_text())
    for j, t in enumerate(data["tasks"].values()):
        rows = t["test_examples"]
        for i, m in enumerate((*FV_MODES, "hypothesis")):
            right = (i + j + shift) % (len(rows) + 1)
            for r, row in enumerate(rows):
                row[m]["correct"] = r < right
            t["accuracy"][m] = right / len(rows)
    dst.mkdir()
    (dst / "results.json").write_text(json.dumps(data))
    return data


def without_fv(run: Path) -> None:
    """Rewrite the run ``run`` as ``--methods tv`` would have written it."""
    data = json.loads((run / "results.json").read_text())
    data["meta"]["methods"] = ["tv"]
    del data["meta"]["fv"]
    for t in data["tasks"].values():
        del t["fv"]
        for m in FV_MODES:
            del t["accuracy"][m]
            for row in t["test_examples"]:
                del row[m]
    (run / "results.json").write_text(json.dumps(data))


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


def test_compare_shows_function_vectors_where_every_run_has_them(fv_runs, tmp_path) -> None:
    files = {"deep": varied(fv_runs["deep"], tmp_path / "a", 0),
             "shallow": varied(fv_runs["shallow"], tmp_path / "b", 2)}  # fmt: skip
    comp = compare([tmp_path / "a", tmp_path / "b"], tmp_path / "cmp")
    assert comp.fv_shown() and comp.fv_note() is None
    labels = {"deep": "tiny-bridge-4x64", "shallow": "tiny-bridge-3x64"}
    md = (tmp_path / "cmp" / "summary.md").read_text()
    tv_part, fv_part = md.split("\n## Function vectors beside task vectors (`--methods tv,fv`)\n")
    data = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    fv = data["function_vectors"]
    assert fv["modes"] == list(FV_TABLE_MODES) == [
        "shuffled", "fv_shuffled", "layer_average", "mean_difference", "fv_zero_shot",
        "hypothesis",
    ]  # fmt: skip
    for run, res in files.items():
        tasks = with_statistics(res["tasks"])  # counts from the per-example rows
        label = labels[run]
        for name, t in tasks.items():
            got = fv["per_task"][name][label]
            assert got["accuracy"] == {m: t["accuracy"][m] for m in FV_TABLE_MODES}
            assert got["accuracy_ci"] == {m: t["accuracy_ci"][m] for m in FV_TABLE_MODES}
            assert got["layers"] == t["fv"]["layers"]
            test = t["comparisons"]["fv_zero_shot_vs_hypothesis"]
            assert got["fv_zero_shot_vs_hypothesis"] == test
            cells = " | ".join(
                fmt_ci(t["accuracy"][m], t["accuracy_ci"][m]) for m in FV_TABLE_MODES
            )
            assert (
                f"| {label} | {t['best_layer']} | {t['fv']['layers']['fv_zero_shot']} " in fv_part
            )
            assert f"| {cells} | {fmt_test(test)} |" in fv_part
        avg = fv["averages"][label]
        for m in FV_TABLE_MODES:
            mean = sum(t["accuracy"][m] for t in tasks.values()) / 2
            assert avg["overall"][m] == pytest.approx(mean)
            assert avg["intervals"]["overall"][m] == mean_interval(list(tasks.values()), m)
        row = " | ".join(
            fmt_ci(avg["overall"][m], avg["intervals"]["overall"][m], bold=True)
            for m in FV_TABLE_MODES
        )
        assert f"| {label} | {row} |" in fv_part
    assert len({fv["averages"][labels["deep"]]["overall"][m] for m in FV_TABLE_MODES}) > 3
    html = (tmp_path / "cmp" / "report.html").read_text()
    assert "Function vectors beside task vectors" in html and "FV zero-shot" in html
    # the task vectors' part is that of the same runs made without function vectors
    without_fv(tmp_path / "a")
    without_fv(tmp_path / "b")
    compare([tmp_path / "a", tmp_path / "b"], tmp_path / "tv_cmp")
    assert (tmp_path / "tv_cmp" / "summary.md").read_text() == tv_part
    tv_data = json.loads((tmp_path / "tv_cmp" / "comparison.json").read_text())
    assert (
        "function_vectors" not in tv_data
        and "Function vectors" not in (tmp_path / "tv_cmp" / "report.html").read_text()
    )


def test_compare_leaves_function_vectors_out_unless_every_run_has_them(
    runs, fv_runs, tmp_path
) -> None:
    comp = compare([fv_runs["deep"], runs["shallow"]], tmp_path / "cmp")
    assert comp.tasks == ("to_upper", "to_lower") and not comp.fv_shown()
    md = (tmp_path / "cmp" / "summary.md").read_text()
    assert "## Function vectors" not in md and "FV zero-shot" not in md
    tv_label = comp.runs[1].label
    note = (
        "Function vectors (`--methods tv,fv`) are shown only when every run has them on "
        f"every shared task; not here: {tv_label}.\n"
    )
    assert md.endswith("seed 0).\n\n" + note)
    assert "function_vectors" not in json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    html = (tmp_path / "cmp" / "report.html").read_text()
    assert "shown only when every run has them" in html
    assert "Function vectors beside task vectors" not in html
    # runs without function vectors: no word of them
    comp = compare([runs["deep"], runs["shallow"]], tmp_path / "tv")
    assert comp.fv_note() is None
    assert "Function vectors" not in (tmp_path / "tv" / "summary.md").read_text()


@pytest.mark.browser
def test_compare_report_renders_in_headless_chromium(runs, tmp_path) -> None:
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    compare([runs["deep"], runs["shallow"]], tmp_path / "cmp")
    cmd = chromium_command(tmp_path / "cmp" / "report.html", tmp_path / "profile", "--dump-dom")
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    assert dom.count('class="main-svg"') >= 5  # three modes, depth curves, averages
    assert "plot-container" in dom and "errorbar" in dom
