"""``tvlens run --methods tv,fv``: function vectors in results.json, summary.md, report.html."""

from __future__ import annotations

import json
from importlib.resources import files

import jsonschema
import pytest
import torch

import tvlens.models
from tests.conftest import build_tiny
from tvlens.cli import main, methods_arg
from tvlens.fv.vector import FunctionVector
from tvlens.report.fv import FV_COLUMNS, fv_markdown, weak_corruptions
from tvlens.run.files import dumps_strict, write_output
from tvlens.run.methods import FV_SETTINGS
from tvlens.run.names import FV_MODES
from tvlens.run.protocol import ProtocolConfig, preflight, run_protocol

CFG = dict(tasks=["to_upper"], n_dev=4, n_test=4, n_baseline=4, n_demos=3, n_dummy=2)
SMALL = ["--n-dev", "4", "--n-test", "4", "--n-baseline", "4", "--n-demos", "3", "--no-progress"]


@pytest.fixture(scope="module")
def model():
    return build_tiny("bridge")


@pytest.fixture(scope="module")
def runs(model, tmp_path_factory):
    """One run with ``--methods tv`` and one with ``tv,fv`` on the same settings."""
    root = tmp_path_factory.mktemp("methods")
    tv = run_protocol(model, ProtocolConfig(**CFG), root / "tv", progress=False)
    both = run_protocol(
        model, ProtocolConfig(**CFG, methods=["tv", "fv"]), root / "fv", progress=False
    )
    return root, tv, both


# ---- settings ------------------------------------------------------------------------------
def test_methods_default_to_the_paper_and_are_checked() -> None:
    assert ProtocolConfig(tasks=["to_upper"]).methods == ["tv"]
    assert ProtocolConfig(tasks=["to_upper"], methods=("fv", "tv")).methods == ["tv", "fv"]
    with pytest.raises(TypeError, match=r"did you mean \['tv', 'fv'\]"):
        ProtocolConfig(tasks=["to_upper"], methods="tv,fv")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown method"):
        ProtocolConfig(tasks=["to_upper"], methods=["tv", "fvs"])
    with pytest.raises(ValueError, match="twice"):
        ProtocolConfig(tasks=["to_upper"], methods=["tv", "tv"])
    with pytest.raises(ValueError, match="must include 'tv'"):
        ProtocolConfig(tasks=["to_upper"], methods=["fv"])
    assert ProtocolConfig(tasks=["to_upper"], methods=["tv", "fv"], answers="any").methods == [
        "tv",
        "fv",
    ]


def test_cli_reads_methods_with_commas_or_spaces() -> None:
    assert methods_arg(None) == ["tv"]
    assert methods_arg(["tv,fv"]) == methods_arg(["tv", "fv"]) == ["tv", "fv"]
    assert methods_arg(["tv, fv"]) == ["tv", "fv"]


# ---- the run's files ---------------------------------------------------------------------
def test_results_hold_every_method_on_the_same_test_examples(runs) -> None:
    root, _, both = runs
    schema = json.loads(files("tvlens").joinpath("results_schema.json").read_text())
    on_disk = json.loads((root / "fv" / "results.json").read_text())
    jsonschema.validate(on_disk, schema)
    assert on_disk["meta"]["methods"] == ["tv", "fv"]
    assert on_disk["meta"]["fv"] == {**FV_SETTINGS, "aie": "exact"}  # the default --aie
    t = both["tasks"]["to_upper"]
    assert set(FV_MODES) <= set(t["accuracy"])
    for m in FV_MODES:
        rows = [r[m] for r in t["test_examples"]]
        assert len(rows) == 4 and all(isinstance(r["correct"], bool) for r in rows)
        # the accuracy, counts and interval come from those same rows
        assert t["accuracy"][m] == pytest.approx(sum(r["correct"] for r in rows) / 4)
        assert t["counts"][m] == [sum(r["correct"] for r in rows), 4]
        assert t["accuracy_ci"][m] is not None
    test = t["comparisons"]["fv_zero_shot_vs_hypothesis"]
    assert test["paired"] and test["n"] == 4
    fv = t["fv"]
    assert fv["layers"]["hypothesis"] == t["best_layer"]
    assert fv["function_vector"]["k"] in FV_SETTINGS["k"] or fv["function_vector"]["k"] == len(
        fv["function_vector"]["heads"]
    )
    assert len(fv["indirect_effect"]["aie"]) == 3  # [n_layers][n_heads]
    for m in FV_MODES:
        assert both["summary"]["overall"][m] == pytest.approx(t["accuracy"][m])


def test_fv_leaves_the_task_vector_results_unchanged(runs) -> None:
    _, tv, both = runs
    a, b = tv["tasks"]["to_upper"], both["tasks"]["to_upper"]
    assert a["accuracy"] == {m: b["accuracy"][m] for m in ("baseline", "hypothesis", "regular")}
    assert a["best_layer"] == b["best_layer"]
    assert a["dev_accuracy_per_layer"] == b["dev_accuracy_per_layer"]
    for ra, rb in zip(a["test_examples"], b["test_examples"], strict=True):
        assert ra["regular"] == rb["regular"] and ra["hypothesis"] == rb["hypothesis"]
    assert "fv" not in a and not set(FV_MODES) & set(a["accuracy"])
    assert "methods" in tv["meta"] and "fv" not in tv["meta"]


def test_summary_and_report_show_the_comparison(runs) -> None:
    root, tv, _ = runs
    md = (root / "fv" / "summary.md").read_text()
    assert "## Function vectors beside task vectors" in md
    assert all(title in md for title in FV_COLUMNS.values())
    assert "| to_upper |" in md.split("## Function vectors")[1]
    assert "Heads of largest AIE" in md
    assert "Function vectors" not in (root / "tv" / "summary.md").read_text()
    assert fv_markdown(tv) == []
    page = (root / "fv" / "report.html").read_text()
    assert "Average indirect effect per head" in page
    assert "FV zero-shot accuracy per layer" in page
    assert "Average indirect effect" not in (root / "tv" / "report.html").read_text()


# ---- resuming ------------------------------------------------------------------------------
def test_a_run_is_resumed_only_with_its_methods(runs) -> None:
    root, _, _ = runs
    with pytest.raises(
        ValueError, match=r"methods: \['tv'\] \(in results.json\) vs \['tv', 'fv'\]"
    ):
        preflight(ProtocolConfig(**CFG, methods=["tv", "fv"]), root / "tv")
    with pytest.raises(ValueError, match="methods"):
        preflight(ProtocolConfig(**CFG), root / "fv")
    preflight(ProtocolConfig(**CFG, methods=["tv", "fv"]), root / "fv")


def test_a_run_from_before_methods_resumes_as_tv(model, tmp_path) -> None:
    out = tmp_path / "old"
    run_protocol(model, ProtocolConfig(**CFG), out, progress=False)
    old = json.loads((out / "results.json").read_text())
    del old["meta"]["methods"]  # what a tvlens without --methods wrote
    write_output(out, "results.json", dumps_strict(old))
    preflight(ProtocolConfig(**CFG), out)  # same settings: resumes
    again = run_protocol(model, ProtocolConfig(**CFG), out, progress=False)
    assert again["tasks"]["to_upper"]["accuracy"] == old["tasks"]["to_upper"]["accuracy"]
    with pytest.raises(ValueError, match="methods"):
        preflight(ProtocolConfig(**CFG, methods=["tv", "fv"]), out)


# ---- the command line ----------------------------------------------------------------------
def test_cli_run_with_methods(model, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(tvlens.models, "load_model", lambda *a, **k: model)
    out = tmp_path / "cli"
    argv = ["run", "--out", str(out), *SMALL, "--tasks", "to_upper"]
    assert main([*argv, "--methods", "tv,fv"]) == 0
    data = json.loads((out / "results.json").read_text())
    assert data["meta"]["methods"] == ["tv", "fv"] and "fv" in data["tasks"]["to_upper"]
    capsys.readouterr()
    assert main([*argv[:2], str(tmp_path / "x"), *argv[3:], "--methods", "fv"]) == 2
    assert "must include 'tv'" in capsys.readouterr().err


def test_fv_with_generated_answers_scores_every_method_by_exact_match(model, tmp_path) -> None:
    cfg = ProtocolConfig(
        **{**CFG, "tasks": ["country_capital"]}, methods=["tv", "fv"], answers="any",
        max_new_tokens=6,
    )  # fmt: skip
    res = run_protocol(model, cfg, tmp_path / "any", progress=False)
    on_disk = json.loads((tmp_path / "any" / "results.json").read_text())
    schema = json.loads(files("tvlens").joinpath("results_schema.json").read_text())
    jsonschema.validate(on_disk, schema)
    t = res["tasks"]["country_capital"]
    assert t["status"] == "ok" and t["metric"] == "exact_match"
    rows = t["test_examples"]
    for m in ("hypothesis", "regular", *FV_MODES):
        recs = [r[m] for r in rows]
        assert len(recs) == 4 and all("generated_text" in r for r in recs)
        # every method's accuracy is the exact match of its per-example records
        assert t["accuracy"][m] == pytest.approx(sum(r["correct"] for r in recs) / 4)
        assert t["counts"][m] == [sum(r["correct"] for r in recs), 4]
        assert t["first_token_accuracy"][m] == pytest.approx(
            sum(r["first_token"] for r in recs) / 4
        )
        assert t["f1"][m] == pytest.approx(sum(r["f1"] for r in recs) / 4)
        assert res["summary"]["overall"][m] == pytest.approx(t["accuracy"][m])
    assert t["fv"]["layers"]["hypothesis"] == t["best_layer"]
    saved = FunctionVector.load(tmp_path / "any" / t["fv"]["file"], model=model)
    assert saved.layer == t["fv"]["layers"]["fv_zero_shot"]
    md = (tmp_path / "any" / "summary.md").read_text()
    assert "## Function vectors beside task vectors" in md


def test_a_corruption_that_does_not_corrupt_is_reported() -> None:
    def task(clean: float, corrupted: float) -> dict:
        return {
            "fv": {"clean_accuracy": clean, "indirect_effect": {"corrupted_accuracy": corrupted}}
        }

    tasks = {"to_upper": task(1.0, 0.72), "antonyms": task(0.3, 0.02), "none": task(0.0, 0.0)}
    assert weak_corruptions(tasks) == {"to_upper": (0.72, 1.0)}


def test_summary_flags_weak_corruption(runs) -> None:
    root, _, both = runs
    t = both["tasks"]["to_upper"]["fv"]
    weak = t["indirect_effect"]["corrupted_accuracy"] >= 0.5 * t["clean_accuracy"] > 0
    assert ("Weak corruption" in (root / "fv" / "summary.md").read_text()) == weak


def test_cli_seeds_run_function_vectors_in_every_seed(model, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tvlens.models, "load_model", lambda *a, **k: model)
    out = tmp_path / "seeds"
    argv = ["run", "--out", str(out), *SMALL, "--tasks", "to_upper", "--seeds", "0", "1"]
    assert main([*argv, "--methods", "tv,fv"]) == 0
    for seed in (0, 1):
        res = json.loads((out / f"seed-{seed}" / "results.json").read_text())
        assert res["meta"]["methods"] == ["tv", "fv"] and res["meta"]["seed"] == seed
        assert "fv_zero_shot" in res["tasks"]["to_upper"]["accuracy"]
        assert "## Function vectors" in (out / f"seed-{seed}" / "summary.md").read_text()
    assert main([*argv]) == 2  # the seed folders hold a tv,fv run: refused, named


def test_the_run_equals_compare_methods_called_directly(model, runs) -> None:
    from tvlens.fv.methods import compare_methods
    from tvlens.run.tasks import load_task
    from tvlens.tasks import for_model

    root, _, both = runs
    cfg = ProtocolConfig(**CFG, methods=["tv", "fv"])
    kept = for_model(load_task("to_upper", "error"), model, cfg.prompt_format, max_tokens=1)
    dev, test = kept.dev_test(4, 4, n_demos=3, n_dummy=2, seed=0)
    direct = compare_methods(
        model,
        test,
        dev=dev,
        k=FV_SETTINGS["k"],
        n_corrupted=FV_SETTINGS["n_corrupted"],
        head_output=FV_SETTINGS["head_output"],
        seed=0,
        fmt=cfg.prompt_format,
    )
    t = both["tasks"]["to_upper"]
    assert direct.layers == t["fv"]["layers"]
    for m in FV_MODES:
        assert [p.correct for p in direct.modes[m].predictions] == [
            r[m]["correct"] for r in t["test_examples"]
        ]
        assert [p.predicted_token_id for p in direct.modes[m].predictions] == [
            r[m]["predicted_token_id"] for r in t["test_examples"]
        ]
    assert direct.function_vector.heads == tuple(
        tuple(h) for h in t["fv"]["function_vector"]["heads"]
    )
    saved = FunctionVector.load(root / "fv" / t["fv"]["file"], model=model)
    assert torch.equal(saved.vector, direct.function_vector.vector)
    assert saved.layer == t["fv"]["layers"]["fv_zero_shot"] and saved.task == "to_upper"


def test_a_users_file_named_like_a_vector_is_kept(model, tmp_path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "to_upper.fv.json").write_text("my notes")
    with pytest.warns(UserWarning, match="to_upper.fv.json"):
        res = run_protocol(model, ProtocolConfig(**CFG, methods=["tv", "fv"]), out, progress=False)
    assert (out / "to_upper.fv.json").read_text() == "my notes"
    stem = res["tasks"]["to_upper"]["fv"]["file"]
    assert stem.startswith("to_upper.fv.tvlens-")
    assert FunctionVector.load(out / stem, model=model).task == "to_upper"
    assert (out / "to_upper.fv.safetensors").exists() is False
