"""``tvlens run --answers any --methods tv,tv_multi``: multi-position task vectors beside the
paper's, on the same test examples, in results.json, summary.md and report.html."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import build_tiny
from tvlens._example import ICLExample
from tvlens.cli import main
from tvlens.evaluation.multi import MultiPosition
from tvlens.evaluation.scorers import Generation
from tvlens.evaluation.sweep import run_method
from tvlens.run.protocol import ProtocolConfig, run_protocol
from tvlens.tasks import get_task

SMALL: dict[str, Any] = dict(n_dev=4, n_test=4, n_baseline=4, n_demos=3, n_dummy=2)


@pytest.fixture(scope="module")
def model() -> Any:
    return build_tiny("bridge")


def test_tv_multi_needs_generated_answers() -> None:
    with pytest.raises(ValueError, match=r"'tv_multi'.*pass --answers any"):
        ProtocolConfig(methods=["tv", "tv_multi"])
    with pytest.raises(ValueError, match="unknown method"):
        ProtocolConfig(answers="any", methods=["tv", "tv_multiple"])
    cfg = ProtocolConfig(answers="any", methods=["tv_multi", "fv", "tv"])
    assert list(cfg.methods) == ["tv", "fv", "tv_multi"]


def test_the_run_records_tv_multi_as_the_library_computes_it(model: Any, tmp_path: Path) -> None:
    cfg = ProtocolConfig(
        tasks=["to_upper", "to_lower"], answers="any", max_new_tokens=3,
        methods=["tv", "tv_multi"], **SMALL,
    )  # fmt: skip
    res = run_protocol(model, cfg, tmp_path, progress=False)
    for name, t in res["tasks"].items():
        assert t["status"] == "ok"
        assert {"tv_multi", "hypothesis", "regular"} <= set(t["accuracy"])
        assert "tv_multi_vs_hypothesis" in t["comparisons"]
        assert set(t["stop_reasons"]["tv_multi"]) == {"separator", "early", "ran_on", "eos"}
        rows = t["test_examples"]
        test = [
            ICLExample(
                demos=tuple((x, y) for x, y in r["demos"]), query=r["query"],
                answer=r["answer"], dummy_queries=tuple(r["dummy_queries"]), task=name,
            )
            for r in rows
        ]  # fmt: skip
        answers = dict(get_task(name).pairs)
        want = run_method(
            model, MultiPosition(answers), test, Generation(3, at="all"), layer=t["best_layer"]
        )
        assert [r["tv_multi"]["generated_token_ids"] for r in rows] == [
            list(p.generated_token_ids) for p in want.predictions
        ]
        assert t["accuracy"]["tv_multi"] == want.exact_match
        assert t["counts"]["tv_multi"] == [sum(p.correct for p in want.predictions), len(rows)]
    assert "tv_multi" in res["summary"]["overall"]
    summary = (tmp_path / "summary.md").read_text()
    assert "## Whole-answer task vectors (`--methods tv,tv_multi,tv_learned`)" in summary
    assert "| TV multi-position |" in summary  # the stop-reason table
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["meta"]["methods"] == ["tv", "tv_multi"]


def test_the_cli_runs_tv_multi(model: Any, loads: list[str], tmp_path: Path) -> None:
    args = ["run", "--out", str(tmp_path), "--tasks", "to_upper", "--answers", "any",
            "--max-new-tokens", "2", "--methods", "tv,tv_multi", "--n-dev", "4", "--n-test",
            "4", "--n-baseline", "4", "--n-demos", "3"]  # fmt: skip
    assert main(args) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert "tv_multi" in data["tasks"]["to_upper"]["accuracy"]
    assert (tmp_path / "report.html").exists()


def test_tv_learned_is_fit_on_dev_only_and_recorded(
    model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tvlens.run.answers as answers_mod

    seen: list[list[str]] = []
    real = answers_mod.learn_vectors

    def spy(runner: Any, dev: Any, *args: Any, **kw: Any) -> Any:
        seen.append([ex.query for ex in dev])
        return real(runner, dev, *args, **kw)

    monkeypatch.setattr(answers_mod, "learn_vectors", spy)
    cfg = ProtocolConfig(
        tasks=["to_upper"], answers="any", max_new_tokens=3,
        methods=["tv", "tv_learned"], **SMALL,
    )  # fmt: skip
    res = run_protocol(model, cfg, tmp_path, progress=False)
    t = res["tasks"]["to_upper"]
    assert res["meta"]["tv_learned"]["steps"] == 50
    rec = t["tv_learned"]
    assert rec["n_train"] == SMALL["n_dev"] and len(rec["losses"]) == 51
    assert rec["losses"][-1] < rec["losses"][0]
    test_queries = {r["query"] for r in t["test_examples"]}
    assert len(seen) == 1 and not set(seen[0]) & test_queries  # never trained on test
    assert "tv_learned_vs_hypothesis" in t["comparisons"]
    assert {r["query"] for r in t["test_examples"]} == test_queries
    assert all("tv_learned" in r for r in t["test_examples"])
    assert "tv_learned" in t["stop_reasons"]


def test_compare_reads_runs_with_whole_answer_methods(model: Any, tmp_path: Path) -> None:
    for seed in (0, 1):
        cfg = ProtocolConfig(
            tasks=["to_upper"], answers="any", max_new_tokens=2, methods=["tv", "tv_multi"],
            seed=seed, **SMALL,
        )  # fmt: skip
        run_protocol(model, cfg, tmp_path / f"s{seed}", progress=False)
    out = tmp_path / "cmp"
    assert main(["compare", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(out)]) == 0
    md = (out / "summary.md").read_text()
    assert "exact match" in md.lower()
    assert "## Whole-answer task vectors" in md and "| TV Hypothesis | TV multi-position |" in md
