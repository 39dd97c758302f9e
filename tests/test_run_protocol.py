"""``run_protocol`` never loses work or silently gives a wrong result (tiny random models)."""

from __future__ import annotations

import dataclasses
import json
import os
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

import tvlens.run.protocol as experiment
import tvlens.tasks
from tests.conftest import build_tiny
from tvlens.run.files import write_output
from tvlens.run.lock import LOCK_NAME
from tvlens.run.protocol import ProtocolConfig, run_protocol
from tvlens.tasks import Task

CFG = dict(n_dev=4, n_test=4, n_baseline=4, n_demos=3, n_dummy=2, format="paper")


def strict_json(path: Path) -> dict:
    """Parse a file as standard JSON: NaN / Infinity raise."""

    def refuse(const: str) -> None:
        raise ValueError(f"non-standard JSON constant {const} in {path}")

    return json.loads(path.read_text(), parse_constant=refuse)


def schema() -> dict:
    return json.loads(files("tvlens").joinpath("results_schema.json").read_text())


@pytest.fixture(scope="module")
def model():
    return build_tiny("bridge")


def letters_file(path: Path, upper: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pairs = {c: (c.upper() if upper else c) for c in "abcdefghijklmnop"}
    path.write_text(json.dumps(pairs))
    return path


# ---- ProtocolConfig ------------------------------------------------------------------------
def test_tasks_must_be_a_list_not_a_string() -> None:
    with pytest.raises(TypeError, match=r"did you mean tasks=\['to_upper'\]"):
        ProtocolConfig(tasks="to_upper")
    with pytest.raises(TypeError, match="a task must be"):
        ProtocolConfig(tasks=["to_upper", 3])
    assert ProtocolConfig(tasks=("to_upper",)).tasks == ["to_upper"]
    assert len(ProtocolConfig().tasks) == 18


@pytest.mark.parametrize("bad", [True, 2.0, "5", None])
def test_int_fields_must_be_ints(bad, no_jaxtyping) -> None:
    with pytest.raises(TypeError, match="n_dev"):
        ProtocolConfig(tasks=["to_upper"], n_dev=bad)
    cfg = ProtocolConfig(tasks=["to_upper"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_dev = bad  # type: ignore[misc]  # frozen: checked once, when made
    with pytest.raises(TypeError, match="n_dev must be an int"):
        dataclasses.replace(cfg, n_dev=bad)  # a changed copy is checked again


def test_sizes_format_and_on_conflict_are_checked() -> None:
    with pytest.raises(ValueError, match="n_demos must be >= 1"):
        ProtocolConfig(tasks=["to_upper"], n_demos=0)
    with pytest.raises(ValueError, match="unknown prompt format 'nope'"):
        ProtocolConfig(tasks=["to_upper"], format="nope")
    with pytest.raises(ValueError, match="on_conflict must be one of"):
        ProtocolConfig(tasks=["to_upper"], on_conflict="last")
    cfg = ProtocolConfig(tasks=["to_upper"])
    with pytest.raises(TypeError):
        dataclasses.replace(cfg, tasks="to_upper")  # frozen: a changed copy is checked again
    with pytest.raises(TypeError):
        run_protocol(None, "not a config", "unused", progress=False)  # type: ignore[arg-type]


def test_defaults_come_from_the_dataclass_fields() -> None:
    d = ProtocolConfig.defaults()
    assert d == {
        "n_demos": 5, "n_dummy": 2, "n_dev": 50, "n_test": 50, "n_baseline": 100,
        "seed": 0, "format": "arrow", "batch_size": 16, "on_conflict": "error",
        "answers": "single", "max_new_tokens": 8, "patch_at": "arrow", "methods": ["tv"],
        "aie": "exact",
    }  # fmt: skip


# ---- task names ------------------------------------------------------------------------------
def test_two_files_with_one_stem_are_refused(tmp_path) -> None:
    a, b = letters_file(tmp_path / "a" / "data.json"), letters_file(tmp_path / "b" / "data.json")
    with pytest.raises(ValueError, match=r"'data' <- .*a/data\.json.*b/data\.json.*Rename"):
        ProtocolConfig(tasks=[str(a), str(b)])


def test_a_file_named_like_a_registered_task_is_refused(tmp_path) -> None:
    f = letters_file(tmp_path / "x" / "to_upper.json")
    with pytest.raises(ValueError, match=r"'to_upper' <- 'to_upper', .*to_upper\.json"):
        ProtocolConfig(tasks=["to_upper", f])
    with pytest.raises(ValueError, match="list a task once"):
        ProtocolConfig(tasks=["to_upper", "to_upper"])


def test_a_task_that_replaces_a_finished_registered_task_is_refused(model, tmp_path) -> None:
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path / "o", progress=False)
    # (a file named like a registered task is refused before: tests/test_run_misuse.py)
    t = Task.from_file(letters_file(tmp_path / "x" / "mine.json", upper=False), name="to_upper")
    with pytest.raises(ValueError, match=r"other data .*registry 'to_upper'.* vs object"):
        run_protocol(model, ProtocolConfig(tasks=[t], **CFG), tmp_path / "o", progress=False)


# ---- the lock ------------------------------------------------------------------------------
def test_a_second_run_into_one_folder_is_refused_naming_the_pid(model, tmp_path) -> None:
    tmp_path.joinpath(LOCK_NAME).write_text(
        json.dumps({"pid": os.getppid(), "hostname": os.uname().nodename, "started": "now"})
    )
    with pytest.raises(ValueError, match=f"in use by another tvlens run: pid {os.getppid()}"):
        run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    assert not (tmp_path / "results.json").exists()


def test_crash_mid_run_keeps_the_first_task_and_removes_the_lock(
    model, tmp_path, monkeypatch
) -> None:
    real = experiment.run_task
    calls = []

    def crash_on_second(model, ref, cfg, **kw):
        calls.append(ref)
        if len(calls) == 2:
            raise RuntimeError("out of memory")
        return real(model, ref, cfg, **kw)

    monkeypatch.setattr(experiment, "run_task", crash_on_second)
    cfg = ProtocolConfig(tasks=["to_upper", "to_lower"], **CFG)
    with pytest.raises(RuntimeError, match="out of memory"):
        run_protocol(model, cfg, tmp_path, progress=False)
    data = strict_json(tmp_path / "results.json")
    jsonschema.validate(data, schema())
    assert list(data["tasks"]) == ["to_upper"] and data["tasks"]["to_upper"]["status"] == "ok"
    assert "| to_upper |" in (tmp_path / "summary.md").read_text()
    assert not (tmp_path / LOCK_NAME).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(experiment, "run_task", real)  # resume finishes the run
    res = run_protocol(model, cfg, tmp_path, progress=False)
    assert res["tasks"]["to_upper"] == data["tasks"]["to_upper"]
    assert res["tasks"]["to_lower"]["status"] == "ok" and (tmp_path / "report.html").exists()


def test_tasks_written_by_another_run_are_merged_not_dropped(model, tmp_path, monkeypatch) -> None:
    other = tmp_path / "other"
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), other, progress=False)
    out = tmp_path / "out"
    real = experiment.run_task

    def meanwhile(model, ref, cfg, **kw):
        # another tvlens process writes results.json holding to_upper into this folder
        write_output(out, "results.json", (other / "results.json").read_bytes())
        return real(model, ref, cfg, **kw)

    monkeypatch.setattr(experiment, "run_task", meanwhile)
    res = run_protocol(model, ProtocolConfig(tasks=["to_lower"], **CFG), out, progress=False)
    assert set(res["tasks"]) == {"to_lower", "to_upper"}
    assert strict_json(out / "results.json")["summary"]["n_tasks_ok"] == 2


def test_tasks_of_an_earlier_run_not_listed_now_are_kept(model, tmp_path) -> None:
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    res = run_protocol(model, ProtocolConfig(tasks=["to_lower"], **CFG), tmp_path, progress=False)
    assert list(res["tasks"]) == ["to_lower", "to_upper"]


# ---- files tvlens did not write -------------------------------------------------------------
@pytest.mark.parametrize("name", ["summary.md", "results.json", "report.html"])
def test_a_users_file_is_not_overwritten(model, tmp_path, name) -> None:
    (tmp_path / name).write_text("mine\n")
    with pytest.raises(ValueError, match=f"{name}: not written by tvlens"):
        run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    assert (tmp_path / name).read_text() == "mine\n"
    assert not (tmp_path / LOCK_NAME).exists()


def test_an_edited_summary_is_not_overwritten(model, tmp_path) -> None:
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    with (tmp_path / "summary.md").open("a") as f:
        f.write("my note\n")
    with pytest.raises(ValueError, match=r"summary\.md: .*changed since tvlens wrote it"):
        run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    assert (tmp_path / "summary.md").read_text().endswith("my note\n")


# ---- resume settings ----------------------------------------------------------------------
def test_resume_with_another_model_class_is_refused(model, tmp_path) -> None:
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    hooked = build_tiny("hooked")
    hooked.cfg.model_name = model.cfg.model_name  # same name and tokenizer, other class
    with pytest.raises(ValueError) as err:
        run_protocol(hooked, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    msg = str(err.value)
    assert f"model_class: '{type(model).__name__}' (in results.json) vs " in msg
    assert f"'{type(hooked).__name__}' (this run)" in msg
    assert "tokenizer" not in msg and "seed" not in msg


def test_resume_with_another_tokenizer_or_setting_is_refused(model, tmp_path, monkeypatch) -> None:
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    fp = experiment.tokenizer_fingerprint(model)
    monkeypatch.setattr(
        experiment, "tokenizer_fingerprint", lambda m: {**fp, "vocab_sha256": "0" * 64}
    )
    with pytest.raises(ValueError, match=r"tokenizer\.vocab_sha256: '[0-9a-f]{64}' \(in results"):
        run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    monkeypatch.undo()
    cfg = ProtocolConfig(tasks=["to_upper"], **{**CFG, "seed": 5, "format": "arrow"})
    with pytest.raises(ValueError, match="other settings") as err:
        run_protocol(model, cfg, tmp_path, progress=False)
    assert "seed: 0 (in results.json) vs 5 (this run)" in str(err.value)
    assert "format.name: 'paper' (in results.json) vs 'arrow' (this run)" in str(err.value)


def test_meta_records_model_class_tokenizer_and_policy(model, tmp_path) -> None:
    res = run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    meta = res["meta"]
    assert meta["model_class"] == type(model).__name__ and meta["on_conflict"] == "error"
    assert meta["tokenizer"]["vocab_size"] == len(model.tokenizer.get_vocab())
    assert res["tasks"]["to_upper"]["source"]["kind"] == "registry"
    assert res["tasks"]["to_upper"]["n_conflicts_dropped"] == 0
    jsonschema.validate(strict_json(tmp_path / "results.json"), schema())


# ---- all tasks skipped ------------------------------------------------------------------------
def test_all_skipped_run_writes_valid_files_that_say_so(model, tmp_path) -> None:
    with pytest.warns(UserWarning, match="skipping task country_capital"):
        res = run_protocol(
            model, ProtocolConfig(tasks=["country_capital"], **CFG), tmp_path, progress=False
        )
    data = strict_json(tmp_path / "results.json")
    jsonschema.validate(data, schema())
    assert data == res
    assert data["summary"]["overall"] == {"baseline": None, "hypothesis": None, "regular": None}
    assert data["summary"]["n_tasks_ok"] == 0 and data["summary"]["n_tasks_skipped"] == 1
    md = (tmp_path / "summary.md").read_text()
    assert "No task ran: all 1 task(s) were skipped" in md and "country_capital:" in md
    assert "No task ran" in (tmp_path / "report.html").read_text()


# ---- on_conflict -------------------------------------------------------------------------------
def test_on_conflict_reaches_get_task_for_files_and_is_recorded(model, tmp_path, monkeypatch):
    f = letters_file(tmp_path / "caps.json")
    real = tvlens.tasks.get_task
    seen = []

    def get_task(ref, on_conflict="error"):
        seen.append((ref, on_conflict))
        task = real(ref)
        object.__setattr__(task, "n_conflicts_dropped", 2)
        return task

    monkeypatch.setattr(tvlens.tasks, "get_task", get_task)
    cfg = ProtocolConfig(tasks=[str(f)], on_conflict="drop", **CFG)
    res = run_protocol(model, cfg, tmp_path / "o", progress=False)
    assert seen and all(oc == "drop" for _, oc in seen)
    assert res["tasks"]["caps"]["n_conflicts_dropped"] == 2 and res["meta"]["on_conflict"] == "drop"
    assert "caps (2)" in (tmp_path / "o" / "summary.md").read_text()


def test_on_conflict_without_support_in_get_task_is_refused(model, tmp_path, monkeypatch):
    f = letters_file(tmp_path / "caps.json")
    real = tvlens.tasks.get_task
    monkeypatch.setattr(tvlens.tasks, "get_task", lambda ref: real(ref))
    cfg = ProtocolConfig(tasks=[str(f)], on_conflict="first", **CFG)
    with pytest.raises(ValueError, match="on_conflict='first' needs"):
        run_protocol(model, cfg, tmp_path / "o", progress=False)
    res = run_protocol(model, ProtocolConfig(tasks=[str(f)], **CFG), tmp_path / "p", progress=False)
    assert res["tasks"]["caps"]["status"] == "ok"


def test_task_objects_are_accepted(model, tmp_path) -> None:
    task = Task.from_pairs("shout", {c: c.upper() for c in "abcdefghijklmnop"})
    res = run_protocol(model, ProtocolConfig(tasks=[task], **CFG), tmp_path, progress=False)
    assert res["tasks"]["shout"]["source"]["kind"] == "object"


def test_a_task_merged_from_disk_must_have_the_same_data(model, tmp_path, monkeypatch) -> None:
    f = letters_file(tmp_path / "x" / "mine.json", upper=False)
    other = tmp_path / "other"
    t = Task.from_file(f, name="to_upper")
    run_protocol(model, ProtocolConfig(tasks=[t], **CFG), other, progress=False)
    out = tmp_path / "out"
    real = experiment.run_task

    def meanwhile(model, ref, cfg, **kw):
        if ref == "to_lower":  # another run writes its file-based 'to_upper' here
            write_output(out, "results.json", (other / "results.json").read_bytes())
        return real(model, ref, cfg, **kw)

    monkeypatch.setattr(experiment, "run_task", meanwhile)
    cfg = ProtocolConfig(tasks=["to_lower", "to_upper"], **CFG)
    res = run_protocol(model, cfg, out, progress=False)
    assert res["tasks"]["to_upper"]["source"]["kind"] == "registry"  # ran, not taken
