"""The main experiment on a tiny model: files, schema, resume, skipped tasks, CLI errors."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

import tvlens.run.protocol as experiment
from tests.conftest import build_tiny
from tvlens.cli import main
from tvlens.report.summary import chromium_command
from tvlens.run.protocol import ProtocolConfig, run_protocol

CFG = dict(n_dev=4, n_test=4, n_baseline=4, n_demos=3, n_dummy=2, format="paper")


def schema() -> dict:
    return json.loads(files("tvlens").joinpath("results_schema.json").read_text())


def _no_nan(const: str) -> None:
    raise ValueError(f"results.json holds {const}: not standard JSON")


@pytest.fixture(scope="module")
def model():
    return build_tiny("bridge")


def test_run_writes_three_files_valid_schema(model, tmp_path) -> None:
    cfg = ProtocolConfig(tasks=["to_upper", "to_lower"], **CFG)
    res = run_protocol(model, cfg, tmp_path, progress=False)
    for name in ("results.json", "summary.md", "report.html"):
        assert (tmp_path / name).exists()
    data = json.loads((tmp_path / "results.json").read_text(), parse_constant=_no_nan)
    jsonschema.validate(data, schema())
    assert data == json.loads(json.dumps(res))
    t = data["tasks"]["to_upper"]
    assert t["status"] == "ok" and len(t["dev_accuracy_per_layer"]) == model.cfg.n_layers
    assert len(t["test_examples"]) == 4 and len(t["baseline_examples"]) == 4
    assert set(t["phase_times_s"]) == {
        "filter_and_sample",
        "layer_sweep",
        "regular",
        "hypothesis",
        "baseline",
    }
    ex = t["test_examples"][0]
    # the exact input ids fed: Regular has the demos, Hypothesis only `x ->` plus the sink
    assert len(ex["regular"]["input_ids"]) > len(ex["hypothesis"]["input_ids"])
    assert ex["hypothesis"]["input_ids"][0] == model.tokenizer.bos_token_id
    md = (tmp_path / "summary.md").read_text()
    assert "| to_upper | algorithmic |" in md and "paper (7 models" in md
    html = (tmp_path / "report.html").read_text()
    assert "<script src=" not in html


def test_small_task_splits_dev_and_test_queries(model, tmp_path) -> None:
    cfg = ProtocolConfig(tasks=["to_upper"], **{**CFG, "n_dev": 20, "n_test": 20})
    res = run_protocol(model, cfg, tmp_path, progress=False)
    t = res["tasks"]["to_upper"]  # 26 pairs < 20 + 20: queries split in proportion
    assert t["status"] == "ok" and len(t["test_examples"]) == 20
    assert len({e["query"] for e in t["test_examples"]}) <= 13


def test_resume_skips_finished_tasks(model, tmp_path, monkeypatch) -> None:
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    first = json.loads((tmp_path / "results.json").read_text())["tasks"]["to_upper"]
    calls = []
    real = experiment.run_task

    def counting(model, ref, cfg, **kw):
        calls.append(ref)
        return real(model, ref, cfg, **kw)

    monkeypatch.setattr(experiment, "run_task", counting)
    res = run_protocol(
        model, ProtocolConfig(tasks=["to_upper", "to_lower"], **CFG), tmp_path, progress=False
    )
    assert calls == ["to_lower"]
    assert res["tasks"]["to_upper"] == first
    assert list(res["tasks"]) == ["to_upper", "to_lower"]


def test_resume_with_other_settings_refused(model, tmp_path) -> None:
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    other = {**CFG, "seed": 5}
    with pytest.raises(ValueError, match="other settings"):
        run_protocol(model, ProtocolConfig(tasks=["to_upper"], **other), tmp_path, progress=False)


def test_task_with_too_few_single_token_pairs_is_skipped(model, tmp_path) -> None:
    cfg = ProtocolConfig(tasks=["to_upper", "country_capital"], **CFG)
    with pytest.warns(UserWarning, match="skipping task country_capital"):
        res = run_protocol(model, cfg, tmp_path, progress=False)
    skipped = res["tasks"]["country_capital"]
    assert skipped["status"] == "skipped" and "country_capital" in skipped["reason"]
    assert res["summary"]["n_tasks_skipped"] == 1 and res["summary"]["n_tasks_ok"] == 1
    assert "skipped" in (tmp_path / "summary.md").read_text()
    jsonschema.validate(res, schema())


def test_custom_task_file(model, tmp_path) -> None:
    f = tmp_path / "caps.json"
    f.write_text(json.dumps({c: c.upper() for c in "abcdefghijklmnop"}))
    res = run_protocol(model, ProtocolConfig(tasks=[str(f)], **CFG), tmp_path / "o", progress=False)
    assert res["tasks"]["caps"]["status"] == "ok"


def test_out_is_a_file(model, tmp_path) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), f, progress=False)


def test_cli_errors(tmp_path, capsys) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert main(["run", "--out", str(f)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["run", "--tasks", "no_such_task", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no_such_task" in err and "to_upper" in err
    assert (
        main(
            ["run", "--model", "not a model!", "--tasks", "to_upper", "--out", str(tmp_path / "o")]
        )
        == 2
    )
    assert "gemma-3-270m" in capsys.readouterr().err


def test_cli_tasks_lists_paper_tasks(capsys) -> None:
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert "country_capital" in out and "location_religion" in out


@pytest.mark.browser
def test_report_renders_in_headless_chromium(model, tmp_path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    cmd = chromium_command(tmp_path / "report.html", tmp_path / "profile", "--dump-dom")
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    # plotly draws each figure as an SVG inside a .plot-container
    assert dom.count('class="main-svg"') >= 2
    assert "plot-container" in dom


def test_schema_file_is_packaged() -> None:
    assert Path(str(files("tvlens").joinpath("results_schema.json"))).exists()
