"""The studies beyond the paper (issue 22): the transfer matrix and the layer profile, on the
tiny models of both classes, checked against the protocol and against plain hooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.conftest import ALL_KINDS, tiny_of_kind
from tvlens.engine.config import RunConfig
from tvlens.oracles import answer_token, reference_theta, render
from tvlens.prompts import FORMATS
from tvlens.run.protocol import ProtocolConfig, run_protocol
from tvlens.studies.common import StudySettings, shared_examples
from tvlens.studies.layers import layer_profile, lens_ranks, probe_accuracy
from tvlens.studies.transfer import transfer_matrix, transfer_task

SIZES: dict[str, Any] = {"n_dev": 5, "n_test": 6, "n_demos": 3, "n_dummy": 2}
KINDS = [k for k in ("hooked", "bridge") if k in ALL_KINDS]


@pytest.fixture(params=KINDS)
def model(request: pytest.FixtureRequest) -> Any:
    return tiny_of_kind(request.param)


def test_the_diagonal_is_the_runs_hypothesis_prediction_for_prediction(
    model: Any, tmp_path: Path
) -> None:
    # arrow and equals share the answer prefix, so the run's examples are the study's
    rec = transfer_task(model, "to_upper", ["arrow", "equals"], StudySettings(**SIZES))
    for fmt in ("arrow", "equals"):
        cfg = ProtocolConfig(tasks=["to_upper"], format=fmt, n_baseline=4, **SIZES)
        res = run_protocol(model, cfg, tmp_path / fmt, progress=False)["tasks"]["to_upper"]
        assert rec["layers"]["tv"][fmt] == res["best_layer"]
        assert rec["dev_accuracy_per_layer"]["tv"][fmt] == res["dev_accuracy_per_layer"]
        rows = res["test_examples"]
        assert rec["queries"] == [r["query"] for r in rows]
        for mode in ("hypothesis", "regular"):
            got = (
                rec["predicted"]["tv"][fmt][fmt]
                if mode == "hypothesis"
                else rec["predicted"][mode][fmt]
            )
            assert got == [r[mode]["predicted_token_id"] for r in rows], (fmt, mode)
        assert rec["accuracy"]["tv"][fmt][fmt] == res["accuracy"]["hypothesis"]


@pytest.mark.parametrize("kind", [*KINDS, "hf-llama"])
def test_an_off_diagonal_cell_is_theta_of_a_patched_into_bs_prompt_by_plain_hooks(
    kind: str,
) -> None:
    model = tiny_of_kind(kind)
    a, b = FORMATS["qa"], FORMATS["paper"]
    settings = StudySettings(**SIZES)
    rec = transfer_task(model, "next_letter", ["qa", "paper"], settings)
    ex = shared_examples(model, "next_letter", [a, b], settings)
    layer = rec["layers"]["tv"]["qa"]
    hook = f"blocks.{layer}.hook_resid_post"
    for i, e in enumerate(ex.test[:3]):
        theta = reference_theta(model, e, a)[layer]  # its own θ, from its own prompts in A

        def put(resid: torch.Tensor, hook: Any, theta: torch.Tensor = theta) -> torch.Tensor:
            resid[:, -1] = theta.to(resid.dtype)
            return resid

        tokens = model.to_tokens(render(b, (), e.query))  # zero-shot, in B
        logits = model.run_with_hooks(tokens, fwd_hooks=[(hook, put)])[0, -1]
        assert rec["predicted"]["tv"]["qa"]["paper"][i] == int(logits.argmax())
        want = answer_token(model, e.answer, b) == int(logits.argmax())
        assert rec["correct"]["tv"]["qa"]["paper"][i] == want


def test_the_function_vector_travels_too_and_batching_changes_nothing(model: Any) -> None:
    one = transfer_task(
        model,
        "to_upper",
        ["arrow", "qa"],
        StudySettings(**SIZES, run=RunConfig(batch_size=1, sweep_batch_size=1)),
        methods=["tv", "fv"],
        aie="exact",
    )
    many = transfer_task(
        model,
        "to_upper",
        ["arrow", "qa"],
        StudySettings(**SIZES),
        methods=["tv", "fv"],
        aie="exact",
    )
    assert one["predicted"] == many["predicted"] and one["layers"] == many["layers"]
    assert set(many["predicted"]["fv"]) == {"arrow", "qa"}
    assert set(many["predicted"]["fv"]["arrow"]) == {"arrow", "qa"}
    assert len(many["fv_heads"]["qa"]) == 10


def test_packed_and_batched_give_the_same_transfer_on_an_hf_bridge() -> None:
    model = tiny_of_kind("hf-llama")
    runs = [
        transfer_task(
            model,
            "to_upper",
            ["arrow", "instruction"],
            StudySettings(**SIZES, run=RunConfig(method=m)),
        )
        for m in ("packed", "batched")
    ]
    assert runs[0]["predicted"] == runs[1]["predicted"]


def test_bad_study_arguments_are_refused_with_the_fix(model: Any, no_jaxtyping: None) -> None:
    with pytest.raises(ValueError, match=r"unknown prompt format 'yaml'.*'qa'"):
        transfer_matrix(model, ["to_upper"], ["arrow", "yaml"])
    with pytest.raises(ValueError, match=r"at least 2 formats"):
        transfer_matrix(model, ["to_upper"], ["arrow"])
    with pytest.raises(ValueError, match=r"name a format twice"):
        transfer_matrix(model, ["to_upper"], ["arrow", "arrow"])
    with pytest.raises(ValueError, match=r"'tv' included"):
        transfer_matrix(model, ["to_upper"], ["arrow", "qa"], methods=["fv"])
    with pytest.raises(ValueError, match=r"unknown task"):
        transfer_matrix(model, ["no_such_task"], ["arrow", "qa"])
    with pytest.raises(ValueError, match=r"n_test must be >= 1"):
        layer_profile(model, ["to_upper"], n_test=0)
    with pytest.raises(TypeError, match=r"tasks must be a list"):
        StudySettings(tasks="to_upper")


def test_a_task_too_small_for_the_sizes_is_skipped_with_its_reason(model: Any) -> None:
    doc = transfer_matrix(model, ["to_upper"], ["arrow", "qa"], n_demos=40, n_dev=2, n_test=2)
    rec = doc["tasks"]["to_upper"]
    assert rec["status"] == "skipped" and "to_upper" in rec["reason"]
    assert doc["summary"] == {"n_tasks": 0}


def test_the_layer_profile_matches_plain_hooks(model: Any) -> None:
    doc = layer_profile(model, ["to_upper", "next_letter"], **SIZES)
    settings = StudySettings(**SIZES)
    fmt = FORMATS["arrow"]
    ex = shared_examples(model, "to_upper", [fmt], settings)
    rec = doc["tasks"]["to_upper"]
    n_layers = int(model.cfg.n_layers)
    assert len(rec["patch_accuracy"]) == len(rec["answer_topk"]) == n_layers
    # the answer's rank at each layer, by hand: the dummy prompt's residual at its arrow
    ranks = []
    for e in ex.test:
        for d in e.dummy_queries:
            tokens = model.to_tokens(render(fmt, e.demos, d))
            _, cache = model.run_with_cache(tokens)
            want = answer_token(model, ex.answers[d], fmt)
            row = []
            for la in range(n_layers):
                resid = cache[f"blocks.{la}.hook_resid_post"][0, -1]
                logits = model.unembed(model.ln_final(resid[None, None]))[0, 0]
                row.append(int((logits > logits[want]).sum()))
            ranks.append(row)
    by_layer = torch.tensor(ranks, dtype=torch.float).T
    assert rec["answer_topk"] == pytest.approx((by_layer < 10).float().mean(1).tolist())
    assert rec["answer_median_rank"] == pytest.approx(by_layer.median(1).values.tolist())
    # patch accuracy per layer: the hypothesis at each layer, by the plain sweep oracle
    from tvlens.oracles import reference_sweep

    preds = reference_sweep(model, ex.test, fmt)  # [n, n_layers] greedy next tokens
    answers = torch.tensor([answer_token(model, e.answer, fmt) for e in ex.test])
    hits = (preds == answers[:, None]).float().mean(0)
    assert rec["patch_accuracy"] == pytest.approx(hits.tolist())
    assert len(doc["probe"]["accuracy_per_layer"]) == n_layers
    assert doc["summary"]["n_tasks"] == 2


def test_lens_ranks_counts_the_tokens_above() -> None:
    model = tiny_of_kind(KINDS[0])
    resid = torch.randn(3, int(model.cfg.d_model))
    logits = model.unembed(model.ln_final(resid[:, None]))[:, 0]
    top = logits.argmax(-1)
    ranks = lens_ranks(model, resid, torch.stack([top, logits.argmin(-1)], 1))
    assert ranks[:, 0].tolist() == [0, 0, 0]
    assert ranks[:, 1].tolist() == [int(model.cfg.d_vocab) - 1] * 3


def test_the_probe_separates_separable_tasks_and_not_identical_ones() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20, 2, 8, generator=g)
    b = torch.randn(20, 2, 8, generator=g)
    b[:, 1] += 5.0  # apart at layer 1 only
    acc = probe_accuracy({"a": a[:10], "b": b[:10]}, {"a": a[10:], "b": b[10:]})
    assert acc[1] == 1.0 and acc[0] < 0.9
    with pytest.raises(ValueError, match=r">= 2 tasks"):
        probe_accuracy({"a": a}, {"a": a})


def test_a_study_folder_is_written_resumed_and_guarded(model: Any, tmp_path: Path) -> None:
    out = tmp_path / "t"
    doc = transfer_matrix(model, ["to_upper"], ["arrow", "qa"], out=str(out), **SIZES)
    names = {p.name for p in out.iterdir()}
    assert {"transfer.json", "summary.md", "report.html"} <= names
    assert json.loads((out / "transfer.json").read_text())["tasks"] == doc["tasks"]
    assert "| **qa** |" in (out / "summary.md").read_text()
    # a rerun with one more task computes only that one, and keeps the first as it was
    more = transfer_matrix(
        model, ["to_upper", "next_letter"], ["arrow", "qa"], out=str(out), **SIZES
    )
    assert more["tasks"]["to_upper"] == doc["tasks"]["to_upper"]
    assert more["summary"]["n_tasks"] == 2
    with pytest.raises(ValueError, match=r"other settings.*n_test: 6 \(in transfer.json\) vs 7"):
        transfer_matrix(
            model, ["to_upper"], ["arrow", "qa"], out=str(out), **{**SIZES, "n_test": 7}
        )
    with pytest.raises(ValueError, match=r"holds a transfer study.*tvlens transfer resumes it"):
        layer_profile(model, ["to_upper"], out=str(out), **SIZES)
    (out / "summary.md").write_text("my notes\n")
    with pytest.raises(ValueError, match=r"summary.md: not written by tvlens"):
        transfer_matrix(model, ["to_upper"], ["arrow", "qa"], out=str(out), **SIZES)
    assert (out / "summary.md").read_text() == "my notes\n"


def test_a_locked_study_folder_is_refused(model: Any, tmp_path: Path) -> None:
    from tvlens.run.lock import run_lock

    with run_lock(tmp_path), pytest.raises(ValueError, match=r"in use by another run"):
        layer_profile(model, ["to_upper"], out=str(tmp_path), **SIZES)


def test_the_layers_folder_keeps_each_tasks_theta_for_the_probe(model: Any, tmp_path: Path) -> None:
    doc = layer_profile(model, ["to_upper", "next_letter"], out=str(tmp_path), **SIZES)
    mem = layer_profile(model, ["to_upper", "next_letter"], **SIZES)
    assert doc["tasks"]["to_upper"]["files"] == ["to_upper.thetas.safetensors"]
    assert doc["probe"] == mem["probe"] and doc["summary"] == mem["summary"]
    again = layer_profile(model, ["to_upper", "next_letter"], out=str(tmp_path), **SIZES)
    assert again["probe"] == doc["probe"]  # resumed: the probe read the θ files back


def test_the_cli_runs_both_studies(
    loads: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tvlens.cli import main

    small = ["--n-dev", "4", "--n-test", "4", "--n-demos", "2", "--no-progress"]
    rc = main(
        [
            "transfer",
            "--tasks",
            "to_upper",
            "--formats",
            "arrow",
            "colon",
            "--out",
            str(tmp_path / "t"),
            *small,
        ]
    )
    assert rc == 0 and "1 tasks x 2 formats: tv: diagonal" in capsys.readouterr().out
    rc = main(
        ["layers", "--tasks", "to_upper", "next_letter", "--out", str(tmp_path / "l"), *small]
    )
    assert rc == 0 and "2 tasks: θ steers best at layer" in capsys.readouterr().out
    assert main(["transfer", "--formats", "arrow", "--out", str(tmp_path / "x")]) == 2
    assert "at least 2 formats" in capsys.readouterr().err
    assert loads == ["gemma-3-270m", "gemma-3-270m"]  # the refused one loaded nothing


# ---- composition ---------------------------------------------------------------------------
def test_composite_tasks_apply_a_then_b() -> None:
    from tvlens.studies.composites import COMPOSITES, composite_task, part_task
    from tvlens.tasks import get_task

    assert composite_task("next_next_letter").as_dict()["a"] == "c"
    ant = get_task("antonyms").as_dict()
    up = composite_task("antonyms_upper").as_dict()
    assert up["hot"] == ant["hot"].upper() == "COLD"
    words = part_task("word_upper")
    assert all(y == x.upper() != x for x, y in words.pairs)
    assert "PARIS" in words.outputs and set(COMPOSITES["en_fr_upper"]) == {"en_fr", "word_upper"}
    with pytest.raises(
        ValueError, match=r"unknown composite task\(s\) \['upper_upper'\].*antonyms_upper"
    ):
        composite_task("upper_upper")


def test_the_composites_theta_is_the_runs_hypothesis(model: Any, tmp_path: Path) -> None:
    from tvlens.studies.compose import compose
    from tvlens.studies.composites import composite_task

    doc = compose(model, ["next_next_letter"], **SIZES)
    rec = doc["tasks"]["next_next_letter"]
    cfg = ProtocolConfig(tasks=[composite_task("next_next_letter")], n_baseline=4, **SIZES)
    res = run_protocol(model, cfg, tmp_path, progress=False)["tasks"]["next_next_letter"]
    rows = res["test_examples"]
    assert rec["layers"]["tv_composite"] == res["best_layer"]
    for mine, theirs in (("tv_composite", "hypothesis"), ("regular", "regular")):
        assert rec["methods"][mine]["predicted"] == [r[theirs]["predicted_token_id"] for r in rows]


@pytest.mark.parametrize("kind", [*KINDS, "hf-llama"])
def test_theta_a_then_theta_b_patches_both_layers_as_plain_hooks_do(kind: str) -> None:
    from tvlens.studies.compose import compose_task
    from tvlens.studies.composites import composite_task, part_task

    model = tiny_of_kind(kind)
    settings = StudySettings(**SIZES)
    rec = compose_task(model, "next_letter_upper", settings)
    fmt = FORMATS["arrow"]
    th = {}
    for part in ("next_letter", "to_upper"):  # the parts' task-level θ, by the oracle
        dev = shared_examples(model, part_task(part), [fmt], settings).dev
        th[part] = torch.stack([reference_theta(model, e, fmt) for e in dev]).mean(0)
    la, lb2 = rec["layers"]["tv_then"], rec["layers"]["tv_then_second"]
    lsum = rec["layers"]["tv_sum"]
    test = shared_examples(model, composite_task("next_letter_upper"), [fmt], settings).test

    def hook(vec: torch.Tensor, add: bool) -> Any:
        def fn(resid: torch.Tensor, hook: Any) -> torch.Tensor:
            v = vec.to(resid.dtype)
            resid[:, -1] = resid[:, -1] + v if add else v
            return resid

        return fn

    for i, e in enumerate(test):
        tokens = model.to_tokens(render(fmt, (), e.query))
        then = [(f"blocks.{la}.hook_resid_post", hook(th["next_letter"][la], False)),
                (f"blocks.{lb2}.hook_resid_post", hook(th["to_upper"][lb2], True))]  # fmt: skip
        got = int(model.run_with_hooks(tokens, fwd_hooks=then)[0, -1].argmax())
        assert rec["methods"]["tv_then"]["predicted"][i] == got
        both = th["next_letter"][lsum] + th["to_upper"][lsum]
        summed = [(f"blocks.{lsum}.hook_resid_post", hook(both, False))]
        got = int(model.run_with_hooks(tokens, fwd_hooks=summed)[0, -1].argmax())
        assert rec["methods"]["tv_sum"]["predicted"][i] == got


def test_composition_batched_equals_one_at_a_time_and_is_validated(model: Any) -> None:
    from tvlens.studies.compose import compose, compose_task

    one = compose_task(model, "next_next_letter",
                       StudySettings(**SIZES, run=RunConfig(batch_size=1, sweep_batch_size=1)),
                       methods=["tv", "fv"], aie="exact")  # fmt: skip
    many = compose_task(model, "next_next_letter", StudySettings(**SIZES), methods=["tv", "fv"],
                        aie="exact")  # fmt: skip
    assert {k: v["predicted"] for k, v in one["methods"].items()} == {
        k: v["predicted"] for k, v in many["methods"].items()
    }
    assert "fv_sum" in many["methods"] and many["layers"] == one["layers"]
    assert "vs_tv_composite" in many["methods"]["tv_sum"]
    with pytest.raises(ValueError, match=r"unknown composite task\(s\) \['antonyms'\]"):
        compose(model, ["antonyms"])
    with pytest.raises(ValueError, match=r"'tv' included"):
        compose(model, ["next_next_letter"], methods=["fv"])


def test_the_cli_runs_the_composition_study_and_resumes(
    loads: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tvlens.cli import main

    args = [
        "compose",
        "--tasks",
        "next_next_letter",
        "next_letter_upper",
        "--out",
        str(tmp_path),
        "--n-dev",
        "4",
        "--n-test",
        "4",
        "--n-demos",
        "2",
        "--no-progress",
    ]
    assert main(args) == 0
    assert "2 composites: regular" in capsys.readouterr().out
    first = json.loads((tmp_path / "compose.json").read_text())
    assert main(args) == 0  # resumed: nothing recomputed, the same record
    again = json.loads((tmp_path / "compose.json").read_text())
    assert again["tasks"] == first["tasks"]
    assert "| next_next_letter |" in (tmp_path / "summary.md").read_text()
    assert main(["compose", "--tasks", "antonyms", "--out", str(tmp_path / "x")]) == 2
    assert "unknown composite task(s) ['antonyms']" in capsys.readouterr().err
