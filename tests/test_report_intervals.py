"""Intervals and tests in the result objects, results.json records, summary.md and figures."""

from __future__ import annotations

import copy
import json

import pytest

from tvlens.evaluation.results import EvaluationResult, ModeResult, Prediction
from tvlens.evaluation.stats import PairedTest, UnpairedTest, wilson_interval
from tvlens.report.plots import relative_depth_figure, runs_bars_figure
from tvlens.report.summary import fmt_ci, fmt_p, summary_markdown
from tvlens.run.results_json import SCHEMA_VERSION, upgrade_results
from tvlens.run.statistics import summarize, task_statistics, with_statistics


def mode(name: str, correct: list[bool], queries: list[str] | None = None) -> ModeResult:
    queries = queries or [f"q{i}" for i in range(len(correct))]
    preds = tuple(
        Prediction(
            mode=name, task="t", query=q, answer="A", answer_token_id=1,
            predicted_token_id=1 if c else 2, predicted_token="A" if c else "B", correct=c,
            input_ids=(0, 1),
        )
        for q, c in zip(queries, correct, strict=True)
    )  # fmt: skip
    return ModeResult(mode=name, predictions=preds)


# ---- result objects -----------------------------------------------------------------------
def test_mode_result_interval_and_accuracy_dataframe() -> None:
    m = mode("hypothesis", [True] * 45 + [False] * 5)
    assert (m.n, m.n_correct, m.accuracy) == (50, 45, 0.9)
    assert m.interval == wilson_interval(45, 50)
    lo, hi = m.interval
    assert lo < m.accuracy < hi
    df = m.accuracy_dataframe()
    assert list(df.columns) == ["mode", "task", "n", "n_correct", "accuracy", "ci_low", "ci_high"]
    assert df.iloc[0]["ci_low"] == pytest.approx(0.7864, abs=1e-4)
    assert len(m.to_dataframe()) == 50  # per prediction, as before
    empty = ModeResult(mode="regular", predictions=())
    assert empty.n == 0 and all(x != x for x in empty.interval)


def test_evaluation_result_pairs_same_examples_and_not_others() -> None:
    hyp = mode("hypothesis", [True] * 12 + [False] * 8)
    reg = mode("regular", [False] * 10 + [True] * 2 + [True] * 3 + [False] * 5)
    base = mode("baseline", [False] * 30, queries=[f"b{i}" for i in range(30)])
    res = EvaluationResult(task="t", layer=1, regular=reg, hypothesis=hyp, baseline=base)
    tests = res.comparisons
    hr, hb = tests["hypothesis_vs_regular"], tests["hypothesis_vs_baseline"]
    assert isinstance(hr, PairedTest) and (hr.b, hr.c, hr.n) == (10, 3, 20)
    assert isinstance(hb, UnpairedTest) and (hb.k_a, hb.n_a, hb.k_b, hb.n_b) == (12, 20, 0, 30)
    same = EvaluationResult(task="t", layer=1, regular=hyp, hypothesis=hyp, baseline=hyp)
    assert all(t.p == 1.0 for t in same.comparisons.values())
    df = res.accuracy_dataframe()
    assert list(df["mode"]) == ["baseline", "hypothesis", "regular"]
    assert set(df.columns) >= {"ci_low", "ci_high", "layer", "p_vs_hypothesis"}
    assert res.intervals["hypothesis"] == hyp.interval


# ---- records -------------------------------------------------------------------------------
def pred(correct: bool) -> dict:
    return {
        "input_ids": [0, 1],
        "predicted_token_id": 1,
        "predicted_token": "x",
        "correct": correct,
    }


def record(hyp: list[bool], reg: list[bool], base: list[bool], category: str = "algorithmic"):
    return {
        "status": "ok", "category": category, "n_pairs": 30, "n_kept": 30, "n_dropped": 0,
        "n_conflicts_dropped": 0, "dev_accuracy_per_layer": [0.1, 0.5, 0.2], "best_layer": 1,
        "accuracy": {"baseline": sum(base) / len(base), "hypothesis": sum(hyp) / len(hyp),
                     "regular": sum(reg) / len(reg)},
        "test_examples": [
            {"demos": [["a", "A"]], "query": f"q{i}", "answer": "A", "dummy_queries": ["z"],
             "answer_token_id": 1, "regular": pred(r), "hypothesis": pred(h)}
            for i, (h, r) in enumerate(zip(hyp, reg, strict=True))
        ],
        "baseline_examples": [
            {"query": f"b{i}", "answer": "A", "answer_token_id": 1, "baseline": pred(b)}
            for i, b in enumerate(base)
        ],
    }  # fmt: skip


def test_task_statistics_from_the_records() -> None:
    rec = record([True] * 9 + [False], [True] * 5 + [False] * 5, [False] * 20)
    s = task_statistics(rec)
    assert s["counts"] == {"regular": [5, 10], "hypothesis": [9, 10], "baseline": [0, 20]}
    assert s["accuracy_ci"]["hypothesis"] == list(wilson_interval(9, 10))
    hr = s["comparisons"]["hypothesis_vs_regular"]
    assert hr["test"] == "mcnemar_exact" and (hr["b"], hr["c"]) == (4, 0)
    assert s["comparisons"]["hypothesis_vs_baseline"]["test"] == "fisher_exact"
    assert with_statistics(with_statistics({"t": rec})) == with_statistics({"t": rec})


def test_summary_intervals_contain_the_means() -> None:
    tasks = with_statistics({
        "a": record([True] * 8 + [False] * 2, [True] * 9 + [False], [False] * 9 + [True]),
        "b": record([True] * 3 + [False] * 7, [True] * 6 + [False] * 4, [False] * 10),
        "c": record([True] * 5 + [False] * 5, [True] * 5 + [False] * 5, [False] * 10, "knowledge"),
        "d": {"status": "skipped", "reason": "too few", "category": "knowledge"},
    })  # fmt: skip
    s = summarize(tasks)
    assert s["n_tasks_ok"] == 3 and s["n_tasks_skipped"] == 1
    for m in ("baseline", "hypothesis", "regular"):
        lo, hi = s["intervals"]["overall"][m]
        assert lo <= s["overall"][m] <= hi
        for cat, acc in s["per_category"].items():
            lo, hi = s["intervals"]["per_category"][cat][m]
            assert lo <= acc[m] <= hi
    assert s["per_category"]["algorithmic"]["hypothesis"] == pytest.approx(0.55)


def v2_results() -> dict:
    tasks = with_statistics({"a": record([True] * 7 + [False] * 3, [True] * 8 + [False] * 2,
                                         [False] * 10)})  # fmt: skip
    meta = {"model": "m", "n_demos": 5, "n_dummy": 2, "n_dev": 4, "n_test": 10,
            "n_baseline": 10, "seed": 0, "format": {"name": "arrow"},
            "wall_time_s": 1.0}  # fmt: skip
    return {"schema_version": SCHEMA_VERSION, "meta": meta, "tasks": tasks,
            "summary": summarize(tasks)}  # fmt: skip


def as_v1(results: dict) -> dict:
    old = copy.deepcopy(results)
    old["schema_version"] = 1
    for t in old["tasks"].values():
        for k in ("counts", "accuracy_ci", "comparisons"):
            t.pop(k, None)
    old["summary"].pop("intervals")
    return old


def test_upgrade_v1_gives_the_same_numbers_and_refuses_what_it_cannot() -> None:
    new = v2_results()
    assert upgrade_results(as_v1(new), "old/results.json") == json.loads(json.dumps(new))
    future = {**new, "schema_version": SCHEMA_VERSION + 1}
    with pytest.raises(ValueError, match=r"x/results\.json has schema_version 3, newer"):
        upgrade_results(future, "x/results.json")
    bare = as_v1(new)
    del bare["tasks"]["a"]["baseline_examples"]
    with pytest.raises(ValueError, match=r"old/results\.json: task 'a' has no per-example .*base"):
        upgrade_results(bare, "old/results.json")


# ---- rendering -----------------------------------------------------------------------------
def test_summary_markdown_shows_intervals_and_tests() -> None:
    md = summary_markdown(v2_results())
    lo, hi = wilson_interval(7, 10)
    assert f"0.70 [{lo:.2f}, {hi:.2f}]" in md
    assert "| H − R | H − B |" in md and "(p 1)" in md and "McNemar" in md
    assert "paper (7 models, 2.8B–30B) | 0.13 | 0.74 | 0.84 |" in md
    assert fmt_ci(None, [0.1, 0.2]) == "–" and fmt_ci(0.5, None) == "0.50"
    assert fmt_p(0.0001) == "<0.001" and fmt_p(0.0386) == "0.039"


def test_figures_with_error_bars() -> None:
    fig = runs_bars_figure(
        {"A": {"t1": (0.5, [0.4, 0.7]), "t2": (0.2, None)}, "B": {"t1": (0.9, [0.8, 1.0])}},
        reference={"t1": 0.74},
    )
    assert [t.name for t in fig.data] == ["A", "B", "paper"]
    assert list(fig.data[0].error_y.array) == pytest.approx([0.2, 0.0])
    assert list(fig.data[0].error_y.arrayminus) == pytest.approx([0.1, 0.0])
    assert fig.data[1].y[1] != fig.data[1].y[1]  # B has no t2: NaN, no bar
    depth = relative_depth_figure({"deep": {"t": [0.0] * 5}, "shallow": {"t": [0.0, 1.0, 0.5]}})
    xs = {t.name: list(t.x) for t in depth.data if t.showlegend is not False}
    assert xs["deep (mean, 5 layers)"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert xs["shallow (mean, 3 layers)"] == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="no runs"):
        runs_bars_figure({})
