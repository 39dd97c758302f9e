"""``--patch-at arrow|all`` under ``--answers any`` and where generated answers stop.

The run's Hypothesis (and every function-vector method) is patched where ``patch_at`` says:
its generations equal the library's ``run_method`` under ``Generation(at=...)`` on the same
examples (whose patch sites the engine tests pin down with a recording hook). The stop-reason
shares are recomputed here from the per-example records by a classification of their own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import build_tiny
from tvlens._example import ICLExample
from tvlens.cli import main
from tvlens.evaluation.methods import Method
from tvlens.evaluation.scorers import Generation
from tvlens.evaluation.sweep import run_method
from tvlens.run.answers import STOP_KINDS, stop_kind
from tvlens.run.protocol import ProtocolConfig, run_protocol

SMALL: dict[str, Any] = dict(n_dev=4, n_test=4, n_baseline=4, n_demos=3, n_dummy=2)


@pytest.fixture(scope="module")
def model() -> Any:
    return build_tiny("bridge")


def test_patch_at_is_checked_when_the_config_is_made() -> None:
    with pytest.raises(ValueError, match=r"patch_at='all'.*pass --answers any"):
        ProtocolConfig(patch_at="all")
    with pytest.raises(ValueError, match=r"patch_at must be 'arrow'.*or 'all'.*got 'every'"):
        ProtocolConfig(answers="any", patch_at="every")
    assert ProtocolConfig().patch_at == "arrow"


def _examples(rows: list[dict[str, Any]]) -> list[ICLExample]:
    return [
        ICLExample(
            demos=tuple((x, y) for x, y in r["demos"]),
            query=r["query"],
            answer=r["answer"],
            dummy_queries=tuple(r["dummy_queries"]),
            task="to_upper",
        )
        for r in rows
    ]


@pytest.mark.parametrize("at", ["arrow", "all"])
def test_the_run_patches_where_patch_at_says(model: Any, tmp_path: Path, at: str) -> None:
    cfg = ProtocolConfig(
        tasks=["to_upper"], answers="any", max_new_tokens=3, patch_at=at,
        methods=["tv", "fv"], **SMALL,
    )  # fmt: skip
    res = run_protocol(model, cfg, tmp_path, progress=False)
    assert res["meta"]["patch_at"] == at
    t = res["tasks"]["to_upper"]
    test = _examples(t["test_examples"])
    want = run_method(model, Method.hypothesis(), test, Generation(3, at=at), layer=t["best_layer"])
    got = [r["hypothesis"]["generated_token_ids"] for r in t["test_examples"]]
    assert got == [list(p.generated_token_ids) for p in want.predictions]
    summary = (tmp_path / "summary.md").read_text()
    assert ("`--patch-at all`" in summary) == (at == "all")
    assert "| mode | exact match | stopped at the separator |" in summary


def test_patch_at_all_changes_what_a_patched_mode_generates(model: Any, tmp_path: Path) -> None:
    # the same run twice, arrow and all: Regular is unpatched (identical), Hypothesis is not
    runs = {}
    for at in ("arrow", "all"):
        cfg = ProtocolConfig(
            tasks=["to_upper"], answers="any", max_new_tokens=4, patch_at=at, **SMALL
        )
        runs[at] = run_protocol(model, cfg, tmp_path / at, progress=False)["tasks"]["to_upper"]

    def gens(at: str, mode: str) -> list[Any]:
        return [r[mode]["generated_token_ids"] for r in runs[at]["test_examples"]]

    assert gens("arrow", "regular") == gens("all", "regular")
    assert gens("arrow", "hypothesis") != gens("all", "hypothesis")


def _kind(gen: dict[str, Any], answer: str) -> str:
    # the test's own reading of the four kinds
    if gen["stop_reason"] == "length":
        return "ran_on"
    text, want = gen["predicted"], answer.strip()
    if text != want and want[: len(text)] == text:
        return "early"
    return {"stop": "separator", "eos": "eos"}[gen["stop_reason"]]


def test_stop_reasons_are_the_shares_of_the_per_example_records(model: Any, tmp_path: Path) -> None:
    cfg = ProtocolConfig(
        tasks=["to_upper", "to_lower"], answers="any", max_new_tokens=3,
        methods=["tv", "fv"], **SMALL,
    )  # fmt: skip
    res = run_protocol(model, cfg, tmp_path, progress=False)
    for t in res["tasks"].values():
        if t["status"] != "ok":
            continue
        shares = t["stop_reasons"]
        assert set(shares) >= {"regular", "hypothesis", "baseline", "fv_zero_shot", "shuffled"}
        for mode, kinds in shares.items():
            rows = t["baseline_examples"] if mode == "baseline" else t["test_examples"]
            seen = [_kind(r[mode], r["answer"]) for r in rows]
            assert kinds == {k: seen.count(k) / len(seen) for k in STOP_KINDS}, mode
    page = (tmp_path / "report.html").read_text()
    assert "Where generated answers stop" in page and "stopped early" in page
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["tasks"]["to_upper"]["stop_reasons"] == res["tasks"]["to_upper"]["stop_reasons"]


def test_stop_kind_names_each_way_an_answer_ends() -> None:
    def gen(text: str, reason: str) -> dict[str, Any]:
        return {"predicted": text, "stop_reason": reason}

    assert stop_kind(gen("Paris, the", "length"), "Paris") == "ran_on"
    assert stop_kind(gen("Paris", "length"), "Paris") == "ran_on"  # no separator: ran on
    assert stop_kind(gen("Buenos", "stop"), "Buenos Aires") == "early"
    assert stop_kind(gen("", "eos"), "Lima") == "early"
    assert stop_kind(gen("Lima", "stop"), "Lima") == "separator"
    assert stop_kind(gen("Quito", "stop"), "Lima") == "separator"  # whole, but wrong
    assert stop_kind(gen("Lima", "eos"), "Lima") == "eos"


def test_resuming_under_another_patch_at_is_refused(model: Any, tmp_path: Path) -> None:
    base = dict(tasks=["to_upper"], answers="any", max_new_tokens=2, **SMALL)
    run_protocol(model, ProtocolConfig(**base), tmp_path, progress=False)
    with pytest.raises(ValueError, match="patch_at"):
        run_protocol(model, ProtocolConfig(patch_at="all", **base), tmp_path, progress=False)


def test_the_cli_refuses_patch_at_all_without_generation(tmp_path: Path, capsys: Any) -> None:
    code = main(["run", "--out", str(tmp_path), "--patch-at", "all", "--tasks", "to_upper"])
    assert code != 0
    err = capsys.readouterr().err
    assert "patch_at='all'" in err and "--answers any" in err
    assert not (tmp_path / "results.json").exists()
