"""results.json has one owner (tvlens.run.results_json); a run is set up once (issue 19)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import tvlens.run.lock as lock_module
import tvlens.run.plan as plan_module
import tvlens.run.protocol as protocol_module
import tvlens.run.seeds as seeds_module
from tests.conftest import build_tiny
from tvlens.cli import _parser, main
from tvlens.engine.config import RunConfig
from tvlens.report.compare import compare
from tvlens.report.summary import PAPER_MODES as REPORT_MODES
from tvlens.run.files import write_output
from tvlens.run.names import ALL_MODES, PAPER_MODES
from tvlens.run.protocol import ProtocolConfig, run_protocol
from tvlens.run.results_json import SCHEMA_VERSION, Results, read_results, validate_results

CFG = dict(n_dev=4, n_test=4, n_baseline=4, n_demos=3, n_dummy=2)
SMALL = ["--n-dev", "4", "--n-test", "4", "--n-baseline", "4", "--n-demos", "3", "--no-progress"]


@pytest.fixture(scope="module")
def model():
    return build_tiny("bridge")


@pytest.fixture(scope="module")
def finished(model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rec") / "run"
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), out, progress=False)
    return out


# ---- the one reader ------------------------------------------------------------------------
def test_results_round_trip_through_the_typed_envelope(finished) -> None:
    data = json.loads((finished / "results.json").read_text())
    read = read_results(finished / "results.json")
    assert read is not None and read.read_version == SCHEMA_VERSION == data["schema_version"]
    assert read.results.to_json() == data
    assert Results.from_json(data, "x").to_json() == data
    assert read_results(finished / "nothing.json") is None
    assert set(read.results.tasks["to_upper"]["accuracy"]) <= set(ALL_MODES)
    assert tuple(REPORT_MODES) == PAPER_MODES  # the report and the run: one list of modes


def test_a_newer_results_json_is_refused_by_resume_and_compare_alike(
    model, finished, tmp_path
) -> None:
    data = json.loads((finished / "results.json").read_text())
    data["schema_version"] = SCHEMA_VERSION + 5
    out = tmp_path / "run"
    out.mkdir()
    write_output(out, "results.json", json.dumps(data))  # tvlens's own file, from the future
    cfg = ProtocolConfig(tasks=["to_upper"], **CFG)
    newer = f"schema_version {SCHEMA_VERSION + 5}, newer than this tvlens"
    with pytest.raises(ValueError, match=newer):  # resume used to take it and overwrite it
        run_protocol(model, cfg, out, progress=False)
    assert json.loads((out / "results.json").read_text())["schema_version"] == SCHEMA_VERSION + 5
    with pytest.raises(ValueError, match=newer):
        compare([out])


def test_resume_reads_an_old_schema_upgraded(model, finished, tmp_path) -> None:
    old = json.loads((finished / "results.json").read_text())
    old["schema_version"] = 1
    for t in old["tasks"].values():
        for key in ("counts", "accuracy_ci", "comparisons"):
            del t[key]
    del old["summary"]["intervals"]
    out = tmp_path / "old"
    out.mkdir()
    write_output(out, "results.json", json.dumps(old))
    plan = plan_module.preflight(ProtocolConfig(tasks=["to_upper"], **CFG), out)
    assert plan.previous is not None and "counts" in plan.previous.tasks["to_upper"]
    new = json.loads((finished / "results.json").read_text())
    assert plan.previous.tasks["to_upper"]["accuracy_ci"] == new["tasks"]["to_upper"]["accuracy_ci"]


# ---- the one writer: checked against the schema ----------------------------------------------
def test_every_write_is_checked_against_the_schema(model, tmp_path, monkeypatch) -> None:
    real = protocol_module.run_task

    def broken(*args: Any, **kw: Any) -> dict[str, Any]:
        record = real(*args, **kw)
        # a prediction's field the schema types and the typed record leaves to it
        record["test_examples"][0]["regular"]["predicted_token_id"] = "three"
        return record

    monkeypatch.setattr(protocol_module, "run_task", broken)
    with pytest.raises(ValueError, match=r"does not match .*results_schema\.json at tasks/to_upper/"
                       r"test_examples/0/regular/predicted_token_id: 'three' is not of type "
                       r"'integer'.*bug in tvlens"):  # fmt: skip
        run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    assert not (tmp_path / "results.json").exists()
    with pytest.raises(ValueError, match=r"x\.json: .* at \(the top level\): 'meta' is a required"):
        validate_results({"schema_version": 2, "tasks": {}, "summary": {}}, "x.json")


# ---- set-up once ---------------------------------------------------------------------------
def test_protocol_config_is_frozen_and_holds_its_run_config(no_jaxtyping) -> None:
    cfg = ProtocolConfig(tasks=["to_upper"], run=RunConfig(batch_size=3, method="batched"))
    assert cfg.batch_size == 3 and cfg.run.method == "batched"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 2  # type: ignore[misc]
    with pytest.raises(TypeError, match="batch_size"):
        ProtocolConfig(tasks=["to_upper"], batch_size=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="run=RunConfig"):
        ProtocolConfig(tasks=["to_upper"], run={"batch_size": 3})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="default_prepend_bos"):
        ProtocolConfig(tasks=["to_upper"], run=RunConfig(prepend_bos=False))
    assert "run" not in cfg.comparable() and "batch_size" not in cfg.comparable()


@contextmanager
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count each folder's lock and each task's preflight load."""
    counts: Counter[str] = Counter()
    real_lock, real_load = lock_module.run_lock, plan_module.load_task

    @contextmanager
    def lock(out: Any) -> Iterator[Any]:
        counts[f"lock {Path(out).resolve().name}"] += 1
        with real_lock(out) as path:
            yield path

    def load(ref: Any, on_conflict: str) -> Any:
        counts["preflight"] += 1
        return real_load(ref, on_conflict)

    for module in (lock_module, protocol_module, seeds_module):
        monkeypatch.setattr(module, "run_lock", lock)
    monkeypatch.setattr(plan_module, "load_task", load)
    yield counts


def test_cli_checks_once_and_locks_once(loads, tmp_path, monkeypatch) -> None:
    with counting(monkeypatch) as counts:
        assert main(["run", "--out", str(tmp_path / "one"), *SMALL, "--tasks", "to_upper"]) == 0
    assert counts == {"lock one": 1, "preflight": 1}
    with counting(monkeypatch) as counts:
        args = ["run", "--out", str(tmp_path / "many"), *SMALL, "--tasks", "to_upper"]
        assert main([*args, "--seeds", "0", "1"]) == 0
    assert counts == {"lock many": 1, "lock seed-0": 1, "lock seed-1": 1, "preflight": 2}


def test_speed_settings_reach_the_runner_are_recorded_and_never_block_resume(
    loads, tmp_path
) -> None:
    args = ["run", "--out", str(tmp_path), *SMALL, "--tasks", "to_upper"]
    speed = ["--batch-size", "3", "--method", "batched", "--sweep-batch-size", "7"]
    assert main([*args, *speed, "--argmax", "bf16"]) == 0
    meta = json.loads((tmp_path / "results.json").read_text())["meta"]
    assert meta["execution"] == {"batch_size": 3, "sweep_batch_size": 7, "method": "batched",
                                 "device": None, "argmax": "bf16",
                                 "generate_batch_size": 64}  # fmt: skip
    assert "batch_size" not in meta  # the protocol's keys are as before
    assert main([*args, "--tasks", "to_upper", "to_lower", "--batch-size", "5"]) == 0
    meta = json.loads((tmp_path / "results.json").read_text())["meta"]
    assert meta["execution"]["batch_size"] == 5 and meta["execution"]["method"] == "auto"
    assert meta["execution"]["argmax"] == "auto"


def test_run_and_grid_declare_the_protocol_flags_once() -> None:
    p = _parser()
    subs = next(a for a in p._actions if a.dest == "command").choices  # type: ignore[attr-defined]

    def flags(name: str) -> set[str]:
        return {o for a in subs[name]._actions for o in a.option_strings}

    shared = {"--tasks", "--n-dev", "--n-test", "--n-baseline", "--n-demos", "--n-dummy",
              "--on-conflict", "--answers", "--max-new-tokens", "--methods", "--batch-size",
              "--sweep-batch-size", "--method", "--kind", "--device", "--dtype"}  # fmt: skip
    assert shared <= flags("run") and shared <= flags("grid")
    args = p.parse_args(["grid", "--models", "m", "--out", "o", "--method", "packed"])
    assert args.method == "packed" and args.sweep_batch_size == RunConfig().sweep_batch_size
