"""tvlens run --answers any: the protocol on answers of any length, by generation."""

from __future__ import annotations

import json
from importlib.resources import files

import jsonschema
import pytest

from tests.conftest import build_tiny
from tvlens.run.protocol import ProtocolConfig, run_protocol

SMALL = dict(n_dev=4, n_test=4, n_baseline=4, n_demos=3, n_dummy=2)


@pytest.fixture(scope="module")
def model():
    return build_tiny("bridge")


def test_answers_any_records_generations_and_both_metrics(model, tmp_path) -> None:
    cfg = ProtocolConfig(tasks=["country_capital"], answers="any", max_new_tokens=6, **SMALL)
    res = run_protocol(model, cfg, tmp_path, progress=False)
    data = json.loads((tmp_path / "results.json").read_text())
    jsonschema.validate(
        data, json.loads(files("tvlens").joinpath("results_schema.json").read_text())
    )
    t = res["tasks"]["country_capital"]
    assert t["status"] == "ok" and t["metric"] == "exact_match"
    assert t["dev_metric"] == "first_token"
    # Answers of several tokens are kept (most capitals are several tokens on this tokenizer).
    single = ProtocolConfig(tasks=["country_capital"], **SMALL)
    assert (
        t["n_kept"]
        > run_protocol(model, single, tmp_path / "s", progress=False)["tasks"]["country_capital"][
            "n_kept"
        ]
    )
    for mode in ("baseline", "hypothesis", "regular"):
        assert set(t) >= {"accuracy", "first_token_accuracy", "f1"}
        assert 0.0 <= t["first_token_accuracy"][mode] <= 1.0
    ex = t["test_examples"][0]
    gen = ex["hypothesis"]
    assert len(gen["generated_token_ids"]) <= 6 and isinstance(gen["generated_text"], str)
    assert gen["correct"] == (gen["predicted"] == ex["answer"])
    assert "meta" in data and data["meta"]["answers"] == "any"


def test_one_token_answers_any_first_token_equals_single(model, tmp_path) -> None:
    # With one generated token, first-token accuracy is next-token accuracy (the paper's).
    base = dict(tasks=["to_upper", "to_lower"], **SMALL)
    single = run_protocol(model, ProtocolConfig(**base), tmp_path / "a", progress=False)
    anyway = run_protocol(
        model,
        ProtocolConfig(answers="any", max_new_tokens=1, **base),
        tmp_path / "b",
        progress=False,
    )
    for name in ("to_upper", "to_lower"):
        a, b = single["tasks"][name], anyway["tasks"][name]
        assert a["best_layer"] == b["best_layer"]
        assert a["dev_accuracy_per_layer"] == b["dev_accuracy_per_layer"]
        assert a["accuracy"] == b["first_token_accuracy"]


def test_resume_with_other_answers_is_refused(model, tmp_path) -> None:
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **SMALL), tmp_path, progress=False)
    with pytest.raises(ValueError, match="answers"):
        run_protocol(
            model,
            ProtocolConfig(tasks=["to_upper"], answers="any", **SMALL),
            tmp_path,
            progress=False,
        )


def test_answers_must_be_known() -> None:
    with pytest.raises(ValueError, match="answers must be"):
        ProtocolConfig(tasks=["to_upper"], answers="many")


def test_reports_name_their_metric_and_any_runs_show_first_token_and_f1(model, tmp_path) -> None:
    # issue 18 item 7: summary.md and report.html showed exact match under the headings of
    # next-token runs, with no first-token or F1 column.
    base = dict(tasks=["to_upper", "to_lower"], **SMALL)
    run_protocol(model, ProtocolConfig(**base), tmp_path / "single", progress=False)
    run_protocol(
        model, ProtocolConfig(answers="any", max_new_tokens=3, **base), tmp_path / "any",
        progress=False,
    )  # fmt: skip
    single = (tmp_path / "single" / "summary.md").read_text()
    generated = (tmp_path / "any" / "summary.md").read_text()
    assert "Metric: next-token accuracy" in single and "exact match" not in single
    assert "Metric: exact match of the generated answer" in generated
    assert "up to 3 new tokens" in generated
    assert "| task | Baseline first token |" in generated and "Regular F1 |" in generated
    data = json.loads((tmp_path / "any" / "results.json").read_text())
    upper = data["tasks"]["to_upper"]
    data_row = [ln for ln in generated.splitlines() if ln.startswith("| to_upper |")][-1]
    cells = [c.strip() for c in data_row.strip("|").split("|")]
    assert cells[1:] == [
        f"{upper[k][m]:.2f}"
        for k in ("first_token_accuracy", "f1")
        for m in ("baseline", "hypothesis", "regular")
    ]
    html_any = (tmp_path / "any" / "report.html").read_text()
    assert "Exact match of generated answers per task" in html_any
    assert "Word F1 per task" in html_any
    assert "Next-token accuracy per task" in (tmp_path / "single" / "report.html").read_text()
