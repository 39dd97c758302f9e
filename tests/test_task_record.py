"""A task's record is typed (tvlens.run.task_record): read, written back unchanged, refused
when malformed, with the task and field named (issue 19, item 4)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import build_tiny
from tvlens.run.protocol import ProtocolConfig, run_protocol
from tvlens.run.results_json import Results, read_results
from tvlens.run.task_record import ExampleRow, TaskRecord, task_records

CFG = dict(n_dev=4, n_test=4, n_baseline=4, n_demos=3, n_dummy=2)


@pytest.fixture(scope="module", params=["hooked", "bridge"])
def finished(request, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rec") / "run"
    model = build_tiny(request.param)
    run_protocol(model, ProtocolConfig(tasks=["to_upper", "to_lower"], **CFG), out, progress=False)
    return out


def _tasks(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text())["tasks"]


def test_a_run_reads_back_as_typed_records_equal_to_its_json(finished) -> None:
    raw = _tasks(finished)
    read = read_results(finished / "results.json")
    assert read is not None
    for name, rec in read.results.tasks.items():
        assert isinstance(rec, TaskRecord) and rec.finished and rec.status == "ok"
        assert rec.to_json() == raw[name]  # every field back, none added
        assert TaskRecord.from_json(name, rec.to_json()) == rec
        # typed fields hold what the JSON holds
        assert rec.best_layer == raw[name]["best_layer"]
        assert rec.accuracy == raw[name]["accuracy"]
        assert rec.modes == ("baseline", "hypothesis", "regular")
        assert len(rec.test_examples) == 4 and len(rec.baseline_examples) == 4
        row = rec.test_examples[0]
        assert isinstance(row, ExampleRow) and row.modes == ("regular", "hypothesis")
        assert row.correct("regular") is raw[name]["test_examples"][0]["regular"]["correct"]
        assert row.demos is not None and len(row.demos) == 3
        assert row.answer_token_id == raw[name]["test_examples"][0]["answer_token_id"]
        # the accuracy is the share of correct rows, read through the typed rows
        share = sum(r.correct("hypothesis") for r in rec.test_examples) / 4
        assert math.isclose(rec.accuracy["hypothesis"] or 0.0, share)
        assert rec.counts is not None and rec.counts["hypothesis"] == [round(share * 4), 4]
        # and a read-only mapping of the same JSON, for code written against dicts
        assert rec["accuracy"] == raw[name]["accuracy"] and dict(rec) == raw[name]
        with pytest.raises(KeyError, match=r"no prediction of mode 'tv_multi'.*'regular'"):
            row.correct("tv_multi")


def test_unknown_fields_travel_untouched(finished) -> None:
    raw = _tasks(finished)["to_upper"]
    rec = TaskRecord.from_json("to_upper", {**raw, "added_by_a_later_tvlens": {"x": [1, 2]}})
    assert rec.extra == {"added_by_a_later_tvlens": {"x": [1, 2]}}
    assert rec.to_json()["added_by_a_later_tvlens"] == {"x": [1, 2]}


def test_a_skipped_task_is_a_record_too() -> None:
    data = {"status": "skipped", "reason": "too few pairs", "category": "algorithmic",
            "n_pairs": 3, "n_kept": 0, "n_dropped": 3}  # fmt: skip
    rec = TaskRecord.from_json("t", data)
    assert not rec.finished and rec.reason == "too few pairs" and rec.n_stripped is None
    assert rec.to_json() == data and rec.test_examples == ()


@pytest.mark.parametrize(
    ("edit", "field", "want"),
    [
        (lambda t: t.update(status="done"), "status", "'ok' or 'skipped'"),
        (lambda t: t.update(best_layer="three"), "best_layer", "an integer >= 0"),
        (lambda t: t.update(best_layer=-1), "best_layer", "an integer >= 0"),
        (lambda t: t.update(n_kept=2.5), "n_kept", "an integer >= 0"),
        (lambda t: t["accuracy"].update(regular="high"), "accuracy.regular", "a number"),
        (lambda t: t.update(test_examples={}), "test_examples", "a list"),
        (
            lambda t: t["test_examples"][1].update(regular={"correct": "yes"}),
            "regular",
            "a prediction",
        ),
        (lambda t: t["test_examples"][2].pop("query"), "query", "a string"),
        (lambda t: t.update(fv=[1]), "fv", "an object"),
    ],
)
def test_a_malformed_record_names_the_task_the_field_and_the_fix(
    finished, tmp_path, edit, field, want
) -> None:
    data = json.loads((finished / "results.json").read_text())
    bad = copy.deepcopy(data)
    edit(bad["tasks"]["to_lower"])
    path = tmp_path / "results.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError) as err:
        read_results(path)
    msg = str(err.value)
    assert str(path) in msg and "task 'to_lower'" in msg
    assert f"field {field!r} must be {want}" in msg
    assert "rerun `tvlens run` on another --out, or restore the file" in msg


def test_results_of_records_equals_results_of_their_json(finished) -> None:
    data = json.loads((finished / "results.json").read_text())
    from_json = Results.of(data["meta"], data["tasks"])
    from_records = Results.of(data["meta"], task_records(data["tasks"]))
    assert from_json.to_json() == from_records.to_json() == data
