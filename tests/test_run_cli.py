"""``tvlens run`` end to end on tiny models: a fake ``load_model`` loads no real model."""

from __future__ import annotations

import json
import os
import socket
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

import tvlens.models
import tvlens.tasks
from tests.conftest import build_tiny
from tvlens.cli import EXIT_ALL_SKIPPED, QUICK_N, _parser, main
from tvlens.run.lock import LOCK_NAME
from tvlens.run.protocol import ProtocolConfig

SMALL = ["--n-dev", "4", "--n-test", "4", "--n-baseline", "4", "--n-demos", "3", "--no-progress"]


def strict_json(path: Path) -> dict:
    def refuse(const: str) -> None:
        raise ValueError(f"non-standard JSON constant {const} in {path}")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture(scope="module")
def bridge():
    return build_tiny("bridge")


@pytest.fixture()
def loads(bridge, monkeypatch):
    """Patch ``tvlens.models.load_model``; the list records each call's ``kind``."""
    calls: list[str] = []

    def fake(name="gemma-3-270m", *, kind="bridge", device=None, **kw):
        calls.append(kind)
        if kind == "hooked":
            hooked = build_tiny("hooked")
            hooked.cfg.model_name = bridge.cfg.model_name
            return hooked
        return bridge

    monkeypatch.setattr(tvlens.models, "load_model", fake)
    return calls


def run(out: Path, *args: str) -> int:
    return main(["run", "--out", str(out), *SMALL, *args])


def test_cli_run_writes_the_three_files(loads, tmp_path, capsys) -> None:
    assert run(tmp_path, "--tasks", "to_upper") == 0
    assert loads == ["bridge"]
    assert "1 tasks: baseline" in capsys.readouterr().out
    data = strict_json(tmp_path / "results.json")
    schema = json.loads(files("tvlens").joinpath("results_schema.json").read_text())
    jsonschema.validate(data, schema)
    assert (tmp_path / "summary.md").exists() and (tmp_path / "report.html").exists()
    assert not (tmp_path / LOCK_NAME).exists()


def test_cli_defaults_are_the_protocol_defaults() -> None:
    args = _parser().parse_args(["run"])
    d = ProtocolConfig.defaults()
    for k in ("n_demos", "n_dummy", "seed", "format", "batch_size", "on_conflict"):
        assert getattr(args, k) == d[k]
    assert args.n_dev is None and set(QUICK_N) == {"n_dev", "n_test", "n_baseline"}


def test_stem_collision_is_refused_before_the_model_loads(loads, tmp_path, capsys) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "data.csv").write_text("a,A\nb,B\nc,C\n")
    code = run(
        tmp_path / "o", "--tasks", str(tmp_path / "a/data.csv"), str(tmp_path / "b/data.csv")
    )
    assert code == 2 and loads == []
    err = capsys.readouterr().err
    assert "'data' <- " in err and "a/data.csv" in err and "b/data.csv" in err and "Rename" in err
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "to_upper.csv").write_text("a,A\n")
    assert run(tmp_path / "o", "--tasks", "to_upper", str(tmp_path / "x/to_upper.csv")) == 2
    assert "'to_upper' <- 'to_upper'" in capsys.readouterr().err and loads == []


def test_second_run_into_one_out_is_refused_naming_the_pid(loads, tmp_path, capsys) -> None:
    info = {"pid": os.getppid(), "hostname": socket.gethostname(), "started": "earlier"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(info))
    assert run(tmp_path, "--tasks", "to_upper") == 2
    assert f"pid {os.getppid()}" in capsys.readouterr().err
    assert loads == [] and (tmp_path / LOCK_NAME).exists()


def test_users_summary_is_not_overwritten(loads, tmp_path, capsys) -> None:
    (tmp_path / "summary.md").write_text("# my notes\n")
    assert run(tmp_path, "--tasks", "to_upper") == 2
    assert "summary.md: not written by tvlens" in capsys.readouterr().err
    assert (tmp_path / "summary.md").read_text() == "# my notes\n" and loads == []


@pytest.mark.parametrize("where", ["file", "under_file"])
def test_invalid_out_is_found_before_the_model_loads(loads, tmp_path, capsys, where) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert run(f if where == "file" else f / "sub", "--tasks", "to_upper") == 2
    assert "--out" in capsys.readouterr().err and loads == []


def test_all_skipped_run_exits_3_with_valid_files(loads, tmp_path, capsys) -> None:
    with pytest.warns(UserWarning, match="skipping task country_capital"):
        code = run(tmp_path, "--tasks", "country_capital")
    assert code == EXIT_ALL_SKIPPED == 3
    err = capsys.readouterr().err
    assert "no task ran" in err and "country_capital:" in err
    data = strict_json(tmp_path / "results.json")
    assert data["summary"]["overall"]["regular"] is None
    assert "No task ran" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "report.html").exists() and not (tmp_path / LOCK_NAME).exists()


def test_resume_kind_hooked_into_a_bridge_folder_is_refused(loads, tmp_path, capsys) -> None:
    assert run(tmp_path, "--tasks", "to_upper") == 0
    before = (tmp_path / "results.json").read_bytes()
    assert run(tmp_path, "--tasks", "to_upper", "to_lower", "--kind", "hooked") == 2
    err = capsys.readouterr().err
    assert (
        "model_class: 'TransformerBridge' (in results.json) vs 'HookedTransformer' (this run)"
        in err
    )
    assert (tmp_path / "results.json").read_bytes() == before


def test_resume_with_other_protocol_settings_is_refused_before_loading(
    loads, tmp_path, capsys
) -> None:
    assert run(tmp_path, "--tasks", "to_upper") == 0
    assert run(tmp_path, "--tasks", "to_upper", "--seed", "3") == 2
    assert "seed: 0 (in results.json) vs 3 (this run)" in capsys.readouterr().err
    assert loads == ["bridge"]  # the second run never loaded a model


def test_on_conflict_flag_reaches_get_task(loads, tmp_path, monkeypatch) -> None:
    f = tmp_path / "caps.csv"
    f.write_text("".join(f"{c},{c.upper()}\n" for c in "abcdefghijklmnop"))
    real = tvlens.tasks.get_task
    seen = []

    def get_task(ref, on_conflict="error"):
        seen.append(on_conflict)
        task = real(ref)
        object.__setattr__(task, "n_conflicts_dropped", 1)
        return task

    monkeypatch.setattr(tvlens.tasks, "get_task", get_task)
    assert run(tmp_path / "o", "--tasks", str(f), "--on-conflict", "first") == 0
    assert seen and set(seen) == {"first"}
    data = strict_json(tmp_path / "o" / "results.json")
    assert data["tasks"]["caps"]["n_conflicts_dropped"] == 1
    assert data["meta"]["on_conflict"] == "first"
    assert "conflicting pairs: `first`" in (tmp_path / "o" / "summary.md").read_text()


def test_unknown_task_is_refused_before_loading(loads, tmp_path, capsys) -> None:
    assert run(tmp_path, "--tasks", "no_such_task") == 2
    err = capsys.readouterr().err
    assert "no_such_task" in err and "to_upper" in err and loads == []


def test_on_conflict_on_a_real_conflicting_file(loads, tmp_path, capsys) -> None:
    f = tmp_path / "caps.csv"
    rows = [f"{c},{c.upper()}" for c in "abcdefghijklmnop"] + ["a,Z"]  # 'a' has two outputs
    f.write_text("\n".join(rows) + "\n")
    assert run(tmp_path / "o", "--tasks", str(f)) == 2  # default "error": refused, no load
    assert "caps.csv" in capsys.readouterr().err and loads == []
    assert run(tmp_path / "o", "--tasks", str(f), "--on-conflict", "drop") == 0
    task = strict_json(tmp_path / "o" / "results.json")["tasks"]["caps"]
    assert task["status"] == "ok" and task["n_conflicts_dropped"] >= 1
    assert task["n_pairs"] == 15  # 'a' dropped


@pytest.mark.parametrize("how", ["ctrl_c", "sigterm"])
def test_interrupted_run_keeps_finished_tasks_and_removes_the_lock(
    loads, tmp_path, monkeypatch, capsys, how
) -> None:
    import signal

    import tvlens.run.protocol as experiment

    real = experiment.run_task

    def interrupt_second(model, ref, cfg, **kw):
        if ref == "to_lower":
            if how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
            raise KeyboardInterrupt
        return real(model, ref, cfg, **kw)

    monkeypatch.setattr(experiment, "run_task", interrupt_second)
    handler = signal.getsignal(signal.SIGTERM)
    if how == "sigterm":
        with pytest.raises(SystemExit) as exc:
            run(tmp_path, "--tasks", "to_upper", "to_lower")
        assert exc.value.code == 128 + signal.SIGTERM
    else:
        assert run(tmp_path, "--tasks", "to_upper", "to_lower") == 130
        assert "same command resumes" in capsys.readouterr().err
    assert list(strict_json(tmp_path / "results.json")["tasks"]) == ["to_upper"]
    assert not (tmp_path / LOCK_NAME).exists()
    assert signal.getsignal(signal.SIGTERM) == handler  # restored
