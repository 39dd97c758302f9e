"""``tvlens run --seeds``: one folder, one run per seed, mean and spread beside the intervals."""

from __future__ import annotations

import json
import statistics
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

import tvlens.run.protocol as experiment
from tests.conftest import build_tiny
from tvlens.cli import main
from tvlens.report.compare import FV_TABLE_MODES, compare
from tvlens.run.lock import LOCK_NAME
from tvlens.run.methods import FV_MODES
from tvlens.run.protocol import ProtocolConfig, run_protocol
from tvlens.run.seeds import SEEDS_FILE, aggregate_seeds, check_seeds, run_seeds, seeds_markdown

CFG = dict(n_dev=4, n_test=5, n_baseline=4, n_demos=3, n_dummy=2, format="paper")
SMALL = ["--n-dev", "4", "--n-test", "5", "--n-baseline", "4", "--n-demos", "3", "--no-progress"]


@pytest.fixture(scope="module")
def model():
    return build_tiny("bridge")


def schema() -> dict:
    return json.loads(files("tvlens").joinpath("results_schema.json").read_text())


def test_run_seeds_layout_and_aggregate(model, tmp_path) -> None:
    cfg = ProtocolConfig(tasks=["to_upper", "to_lower"], **CFG)
    agg = run_seeds(model, cfg, [0, 1, 2], tmp_path, progress=False)
    assert agg == json.loads((tmp_path / SEEDS_FILE).read_text())
    assert agg["seeds"] == [0, 1, 2] and agg["runs"] == {
        "0": "seed-0",
        "1": "seed-1",
        "2": "seed-2",
    }
    per_seed = []
    for s in (0, 1, 2):
        data = json.loads((tmp_path / f"seed-{s}" / "results.json").read_text())
        jsonschema.validate(data, schema())
        assert data["meta"]["seed"] == s
        per_seed.append(data)
    queries = [tuple(e["query"] for e in d["tasks"]["to_upper"]["test_examples"]) for d in per_seed]
    assert len(set(queries)) > 1  # each seed samples its own examples
    t = agg["tasks"]["to_upper"]
    accs = [d["tasks"]["to_upper"]["accuracy"]["hypothesis"] for d in per_seed]
    h = t["accuracy"]["hypothesis"]
    assert h["values"] == accs and h["mean"] == pytest.approx(sum(accs) / 3)
    assert h["ci_per_seed"] == [
        d["tasks"]["to_upper"]["accuracy_ci"]["hypothesis"] for d in per_seed
    ]
    assert h["mean_ci_halfwidth"] > 0 and h["sd"] >= 0
    assert t["best_layer"] == [d["tasks"]["to_upper"]["best_layer"] for d in per_seed]
    overall = agg["summary"]["overall"]["regular"]
    assert overall["values"] == [d["summary"]["overall"]["regular"] for d in per_seed]
    assert set(agg["summary"]["per_seed"]) == {"0", "1", "2"}
    md = (tmp_path / "summary.md").read_text()
    assert "3 seed(s): 0, 1, 2" in md and "± " in md and "(±" in md and "[seed-1/summary.md]" in md
    assert "| to_upper | algorithmic |" in md and "paper (7 models" in md
    html = (tmp_path / "report.html").read_text()
    assert "<script src=" not in html and "seed 2" in html
    assert not (tmp_path / LOCK_NAME).exists()


def test_seeds_resume_and_the_folder_compares_as_one_run_per_seed(model, tmp_path, monkeypatch):
    cfg = ProtocolConfig(tasks=["to_upper"], **CFG)
    run_seeds(model, cfg, [0, 1], tmp_path, progress=False)
    calls = []
    real = experiment.run_task

    def counting(model, ref, cfg, **kw):
        calls.append(cfg.seed)
        return real(model, ref, cfg, **kw)

    monkeypatch.setattr(experiment, "run_task", counting)
    agg = run_seeds(model, cfg, [0, 1, 2], tmp_path, progress=False)
    assert calls == [2] and agg["seeds"] == [0, 1, 2]
    comp = compare([tmp_path])
    assert [r.label for r in comp.runs] == ["seed 0", "seed 1", "seed 2"]


def test_single_and_multi_seed_folders_do_not_mix(model, tmp_path) -> None:
    cfg = ProtocolConfig(tasks=["to_upper"], **CFG)
    run_protocol(model, cfg, tmp_path / "single", progress=False)
    with pytest.raises(ValueError, match="holds a single-seed run"):
        run_seeds(model, cfg, [0, 1], tmp_path / "single", progress=False)
    run_seeds(model, cfg, [0], tmp_path / "multi", progress=False)
    with pytest.raises(ValueError, match=r"several seeds \(seeds.json\): pass --seeds"):
        run_protocol(model, cfg, tmp_path / "multi", progress=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "summary.md").write_text("notes\n")
    with pytest.raises(ValueError, match="not written by tvlens"):
        run_seeds(model, cfg, [0], tmp_path / "mine", progress=False)
    assert not (tmp_path / "mine" / "seed-0").exists()


def test_seeds_aggregate_function_vectors(model, tmp_path) -> None:
    cfg = ProtocolConfig(tasks=["to_upper", "to_lower"], methods=["tv", "fv"], **CFG)
    agg = run_seeds(model, cfg, [0, 1], tmp_path, progress=False)
    per_seed = [json.loads((tmp_path / f"seed-{s}" / "results.json").read_text()) for s in (0, 1)]
    for name, t in agg["tasks"].items():
        recs = [d["tasks"][name] for d in per_seed]
        assert set(t["accuracy"]) == {"baseline", "hypothesis", "regular", *FV_MODES}
        for m in FV_MODES:
            accs = [r["accuracy"][m] for r in recs]
            assert t["accuracy"][m]["values"] == accs
            assert t["accuracy"][m]["mean"] == pytest.approx(sum(accs) / 2)
            assert t["accuracy"][m]["ci_per_seed"] == [r["accuracy_ci"][m] for r in recs]
        assert t["fv_layer"] == [r["fv"]["layers"]["fv_zero_shot"] for r in recs]
        assert t["fv_k"] == [r["fv"]["function_vector"]["k"] for r in recs]
    for m in FV_MODES:
        overall = agg["summary"]["overall"][m]
        assert overall["values"] == [d["summary"]["overall"][m] for d in per_seed]
    md = (tmp_path / "summary.md").read_text()
    tv_part, fv_part = md.split("\n## Function vectors beside task vectors (`--methods tv,fv`)\n")
    assert "FV zero-shot" not in tv_part and "| to_upper | algorithmic |" in fv_part
    assert "| **all tasks** |" in fv_part and "FV zero-shot" in fv_part
    assert "Function vectors beside task vectors" in (tmp_path / "report.html").read_text()
    # the task vectors' numbers are those of the same seeds without function vectors
    tv_only = aggregate_seeds({s: without_fv(d) for s, d in zip((0, 1), per_seed, strict=True)})
    assert {n: {m: t["accuracy"][m] for m in ("baseline", "hypothesis", "regular")}
            for n, t in agg["tasks"].items()} == {
        n: t["accuracy"] for n, t in tv_only["tasks"].items()
    }  # fmt: skip
    assert seeds_markdown(tv_only) == tv_part


def without_fv(results: dict) -> dict:
    """``results`` as a ``--methods tv`` run would have written them (accuracies only)."""
    out = json.loads(json.dumps(results))
    for t in out["tasks"].values():
        t.pop("fv", None)
        for m in FV_MODES:
            t["accuracy"].pop(m, None)
    return out


def test_seeds_fv_mean_and_sd_are_those_of_the_seeds() -> None:
    """Distinct accuracies (tiny models score 0): mean and sd across seeds, per mode."""

    def seed_results(seed: int, fv: bool = True) -> dict:
        modes = ("baseline", "hypothesis", "regular", *(FV_MODES if fv else ()))

        def task(j: int) -> dict:
            acc = {m: round(0.1 * i + 0.3 * seed * j, 2) for i, m in enumerate(modes)}
            return {"status": "ok", "category": "algorithmic", "best_layer": 1, "accuracy": acc}

        return {"meta": {"model": "m", "seed": seed}, "tasks": {"a": task(0), "b": task(1)}}

    agg = aggregate_seeds({s: seed_results(s) for s in (0, 1, 2)})
    for m in FV_MODES:
        got = agg["tasks"]["b"]["accuracy"][m]
        values = [seed_results(s)["tasks"]["b"]["accuracy"][m] for s in (0, 1, 2)]
        assert got["values"] == values
        assert got["mean"] == pytest.approx(statistics.mean(values))
        assert got["sd"] == pytest.approx(statistics.stdev(values))
        overall = [(seed_results(s)["tasks"]["a"]["accuracy"][m] + v) / 2
                   for s, v in zip((0, 1, 2), values, strict=True)]  # fmt: skip
        assert agg["summary"]["overall"][m]["mean"] == pytest.approx(statistics.mean(overall))
        assert agg["summary"]["overall"][m]["sd"] == pytest.approx(statistics.stdev(overall))
    assert agg["tasks"]["a"]["fv_layer"] == [None, None, None]  # no fv record here
    md = seeds_markdown({**agg, "meta": META})
    fv_part = md.split("## Function vectors beside task vectors")[1]
    cells = [f"{agg['tasks']['b']['accuracy'][m]['mean']:.2f} ± "
             f"{agg['tasks']['b']['accuracy'][m]['sd']:.2f}" for m in FV_TABLE_MODES]  # fmt: skip
    row = next(line for line in fv_part.splitlines() if line.startswith("| b |"))
    assert row == f"| b | algorithmic | –, –, – | {' | '.join(cells)} |"
    # one seed without function vectors: the paper's modes only, and one line saying why
    mixed = aggregate_seeds({0: seed_results(0), 1: seed_results(1, fv=False)})
    assert set(mixed["tasks"]["a"]["accuracy"]) == {"baseline", "hypothesis", "regular"}
    assert "fv_layer" not in mixed["tasks"]["a"]
    md = seeds_markdown({**mixed, "meta": META})
    assert "## Function vectors" not in md and md.endswith(
        "Function vectors (`--methods tv,fv`) are shown only when every seed has them on every "
        "task; not here: seed 1.\n"
    )
    plain = aggregate_seeds({0: seed_results(0, fv=False), 1: seed_results(1, fv=False)})
    assert "Function vectors" not in seeds_markdown({**plain, "meta": META})


META = {"model": "m", "n_demos": 3, "n_dummy": 2, "n_dev": 4, "n_test": 5, "n_baseline": 4,
        "format": {"name": "paper"}, "wall_time_s": 0.0}  # fmt: skip


def test_check_seeds() -> None:
    assert check_seeds((0, 1)) == [0, 1]
    with pytest.raises(ValueError, match="repeat"):
        check_seeds([1, 1])
    with pytest.raises(ValueError, match="non-empty"):
        check_seeds([])
    with pytest.raises(TypeError, match="a seed must be an int"):
        check_seeds([0, 1.5])


def test_cli_seeds(loads, tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "o")
    assert main(["run", "--out", out, *SMALL, "--tasks", "to_upper", "--seeds", "0", "1"]) == 0
    printed = capsys.readouterr().out
    assert "1 tasks x 2 seeds: baseline" in printed and "mean ± sd across seeds" in printed
    assert loads == ["gemma-3-270m"] and (tmp_path / "o" / "seed-1" / "results.json").exists()
    # a single-seed run into the folder is refused before the model loads
    assert main(["run", "--out", out, *SMALL, "--tasks", "to_upper"]) == 2
    assert "pass --seeds to resume it" in capsys.readouterr().err and loads == ["gemma-3-270m"]
    # a seed folder with other settings is refused before the model loads
    assert main(["run", "--out", out, *SMALL, "--tasks", "to_upper", "--format", "paper",
                 "--seeds", "0", "1"]) == 2  # fmt: skip
    assert "other settings" in capsys.readouterr().err and loads == ["gemma-3-270m"]
    with pytest.raises(SystemExit):
        main(["run", "--out", out, "--seed", "1", "--seeds", "0", "1"])


def test_seeds_carry_the_whole_answer_methods(model, tmp_path) -> None:
    cfg = ProtocolConfig(
        tasks=["to_upper"], answers="any", max_new_tokens=2, methods=["tv", "tv_multi"], **CFG
    )
    agg = run_seeds(model, cfg, [0, 1], tmp_path, progress=False)
    per_seed = [json.loads((tmp_path / f"seed-{s}" / "results.json").read_text()) for s in (0, 1)]
    multi = agg["tasks"]["to_upper"]["accuracy"]["tv_multi"]
    assert multi["values"] == [d["tasks"]["to_upper"]["accuracy"]["tv_multi"] for d in per_seed]
    md = (tmp_path / "summary.md").read_text()
    assert "## Whole-answer task vectors" in md
    assert "| task | TV Hypothesis | TV multi-position | Regular |" in md
