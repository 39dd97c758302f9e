"""``tvlens compare`` misused: runs that must not merge, tasks that must not line up, edited files.

The runs here are results.json files written by hand in the shape ``tvlens run`` writes
(no model runs): each mode of each task gets its first ``k`` of ``n`` examples right, so
every run's numbers are distinct and a mixed-up run shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tvlens.cli import main
from tvlens.report.compare import compare, run_labels

MODES = ("baseline", "hypothesis", "regular")
SHA = {"to_upper": "a" * 64, "to_lower": "b" * 64}
TOKENIZER = {"class": "TokenizersBackend", "vocab_size": 334, "vocab_sha256": "0" * 64,
             "bos_token": "<|bos|>", "prepend_bos": True}  # fmt: skip
META = {
    "model": "tiny-bridge-3x64", "tvlens_version": "0.1.0", "transformer_lens_version": "3.9.0",
    "torch_version": "2.13.0+cpu", "model_class": "TransformerBridge", "dtype": "float32",
    "tokenizer": TOKENIZER, "format": {"name": "paper", "arrow": "->"}, "n_demos": 3,
    "n_dummy": 2, "n_dev": 4, "n_test": 5, "n_baseline": 5, "seed": 0, "on_conflict": "error",
    "answers": "single", "max_new_tokens": 8, "methods": ["tv"], "wall_time_s": 1.0,
}  # fmt: skip


def task(right: dict[str, int], *, category: str = "algorithmic", name: str = "to_upper",
         sha: str | None = None, kind: str = "registry", n: int = 5) -> dict[str, Any]:  # fmt: skip
    """A finished task whose mode ``m`` got its first ``right[m]`` of ``n`` examples right."""

    def pred(mode: str, i: int) -> dict[str, Any]:
        return {"predicted_token": "x", "correct": i < right[mode]}

    return {
        "status": "ok", "category": category, "dev_accuracy_per_layer": [0.0, 0.2, 0.0],
        "best_layer": 1, "accuracy": {m: right[m] / n for m in MODES},
        "test_examples": [{"query": f"q{i}", "answer": "A", "regular": pred("regular", i),
                           "hypothesis": pred("hypothesis", i)} for i in range(n)],
        "baseline_examples": [{"query": f"b{i}", "answer": "A", "baseline": pred("baseline", i)}
                              for i in range(n)],
        "source": {"kind": kind, "ref": name, "sha256": sha or SHA[name]},
    }  # fmt: skip


def write_run(folder: Path, tasks: dict[str, dict[str, Any]], **meta: Any) -> Path:
    """A run folder holding ``results.json`` with ``tasks`` and :data:`META` updated by ``meta``."""
    folder.mkdir(parents=True)
    data = {"schema_version": 2, "meta": {**META, **meta}, "tasks": tasks, "summary": {}}
    (folder / "results.json").write_text(json.dumps(data))
    return folder


def two_tasks(shift: int) -> dict[str, dict[str, Any]]:
    """to_upper and to_lower, each mode's right count shifted by ``shift``."""
    return {
        "to_upper": task({"baseline": shift, "hypothesis": 1 + shift, "regular": 2 + shift}),
        "to_lower": task({"baseline": 0, "hypothesis": 2, "regular": 3 + shift}, name="to_lower"),
    }


def hypothesis_mean(tasks: dict[str, dict[str, Any]]) -> float:
    return sum(t["accuracy"]["hypothesis"] for t in tasks.values()) / len(tasks)


# ---- 1: runs never merge by label ----------------------------------------------------------
def test_runs_in_folders_of_one_name_keep_their_own_numbers(tmp_path) -> None:
    a, b = two_tasks(0), two_tasks(2)
    write_run(tmp_path / "exp1" / "run", a)
    write_run(tmp_path / "exp2" / "run", b)
    comp = compare([tmp_path / "exp1" / "run", tmp_path / "exp2" / "run"], tmp_path / "cmp")
    assert [r.label for r in comp.runs] == ["exp1/run", "exp2/run"]
    data = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert list(data["averages"]) == ["exp1/run", "exp2/run"]
    for label, tasks in (("exp1/run", a), ("exp2/run", b)):
        avg = data["averages"][label]["overall"]["hypothesis"]
        assert avg == pytest.approx(hypothesis_mean(tasks))
        for name, t in tasks.items():
            assert data["per_task"][name][label]["accuracy"] == t["accuracy"]
    assert data["averages"]["exp1/run"] != data["averages"]["exp2/run"]
    md = (tmp_path / "cmp" / "summary.md").read_text()
    assert "| to_upper | algorithmic | exp1/run | " in md and "|  |  | exp2/run | " in md


@pytest.mark.parametrize(
    ("meta", "part"),
    [
        ({"tokenizer": {**TOKENIZER, "vocab_sha256": "f" * 64}}, "tokenizer vocab_sha256 "),
        ({"tvlens_version": "0.2.0"}, "tvlens_version "),
        ({"weights_sha256": "c" * 64}, "weights_sha256 "),
    ],
)
def test_runs_differing_only_in_tokenizer_version_or_weights_stay_apart(
    tmp_path, meta, part
) -> None:
    a, b = two_tasks(0), two_tasks(1)
    first = {"weights_sha256": "d" * 64} if "weights_sha256" in meta else {}
    write_run(tmp_path / "exp1" / "run", a, **first)
    write_run(tmp_path / "exp2" / "run", b, **meta)
    comp = compare([tmp_path / "exp1" / "run", tmp_path / "exp2" / "run"])
    labels = [r.label for r in comp.runs]
    assert len(set(labels)) == 2 and all(part in lab for lab in labels), labels
    for label, tasks in zip(labels, (a, b), strict=True):
        overall = comp.summaries[label]["overall"]["hypothesis"]
        assert overall == pytest.approx(hypothesis_mean(tasks))


def test_weights_fingerprints_do_not_clutter_labels_of_different_models(tmp_path) -> None:
    write_run(tmp_path / "a", two_tasks(0), model="m-1", weights_sha256="1" * 64)
    write_run(tmp_path / "b", two_tasks(1), model="m-2", weights_sha256="2" * 64)
    assert [r.label for r in compare([tmp_path / "a", tmp_path / "b"]).runs] == ["m-1", "m-2"]


def test_a_run_given_twice_is_refused_and_nothing_is_written(tmp_path, capsys) -> None:
    run = write_run(tmp_path / "run", two_tasks(0))
    out = tmp_path / "cmp"
    with pytest.raises(ValueError, match=r"folder .*run given twice; pass each run once"):
        compare([run, run], out)
    with pytest.raises(ValueError, match=r"given twice .*pass each run once"):
        compare([run, run / "results.json"], out)
    # a --seeds folder beside one of its own seed folders
    seeds = tmp_path / "seeds"
    for s in (0, 1):
        write_run(seeds / f"seed-{s}", two_tasks(s), seed=s)
    (seeds / "seeds.json").write_text(json.dumps({"runs": {"0": "seed-0", "1": "seed-1"}}))
    assert [r.label for r in compare([seeds]).runs] == ["seed 0", "seed 1"]
    with pytest.raises(ValueError, match=r"seed-0/results\.json is given twice .*each run once"):
        compare([seeds, seeds / "seed-0"], out)
    assert main(["compare", str(run), str(run), "--out", str(out)]) == 2
    assert "given twice; pass each run once" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_labels_left_alike_by_everything_get_a_number() -> None:
    item = (Path("/x/run/results.json"), {"meta": dict(META)}, 2)
    assert run_labels([item, item, item]) == ["run", "run #2", "run #3"]


# ---- 2 and 8: tasks line up by name, data and category ------------------------------------
def test_a_registry_task_and_a_file_task_of_one_name_are_not_lined_up(tmp_path) -> None:
    reg = two_tasks(0)
    custom = two_tasks(1)
    custom["to_upper"] = task(
        {"baseline": 1, "hypothesis": 3, "regular": 4},
        category="custom", kind="file", sha="e" * 64,
    )  # fmt: skip
    write_run(tmp_path / "reg", reg)
    write_run(tmp_path / "file", custom, seed=1)
    comp = compare([tmp_path / "reg", tmp_path / "file"], tmp_path / "cmp")
    assert comp.tasks == ("to_lower",)
    why = comp.dropped["to_upper"]
    assert why[0] == "its category differs between runs, so it is not averaged together"
    assert why[1:] == ["seed 0: algorithmic", "seed 1: custom"]
    for name in ("summary.md", "report.html", "comparison.json"):
        assert (tmp_path / "cmp" / name).exists()
    md = (tmp_path / "cmp" / "summary.md").read_text()
    assert "Aligned on the 1 tasks every run finished." in md
    assert "to_upper (its category differs between runs" in md
    # older records without a data hash: the category alone keeps them apart
    for t in (*reg.values(), *custom.values()):
        del t["source"]
    write_run(tmp_path / "reg_old", reg)
    write_run(tmp_path / "file_old", custom, seed=1)
    comp = compare([tmp_path / "reg_old", tmp_path / "file_old"], tmp_path / "cmp_old")
    assert comp.tasks == ("to_lower",) and "to_upper" in comp.dropped


def test_a_task_whose_data_differs_is_not_averaged_together(tmp_path) -> None:
    a, b = two_tasks(0), two_tasks(1)
    b["to_upper"]["source"] = {"kind": "file", "ref": "mine/to_upper.csv", "sha256": "9" * 64}
    write_run(tmp_path / "a", a, model="m-1")
    write_run(tmp_path / "b", b, model="m-2")
    comp = compare([tmp_path / "a", tmp_path / "b"], tmp_path / "cmp")
    assert comp.tasks == ("to_lower",)
    assert comp.summaries["m-2"]["overall"]["hypothesis"] == b["to_lower"]["accuracy"]["hypothesis"]
    md = (tmp_path / "cmp" / "summary.md").read_text()
    assert (
        "to_upper (its data differs between runs, so it is not averaged together; "
        "m-1: registry 'to_upper', data sha256 aaaaaaaaaaaa; "
        "m-2: file 'mine/to_upper.csv', data sha256 999999999999)"
    ) in md
    data = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert data["tasks"] == ["to_lower"] and "to_upper" in data["dropped"]


def test_an_accuracy_its_examples_do_not_give_is_refused(tmp_path) -> None:
    tasks = two_tasks(0)  # hypothesis of to_upper: 1 of 5 right
    tasks["to_upper"]["accuracy"]["hypothesis"] = 0.99
    write_run(tmp_path / "edited", tasks)
    write_run(tmp_path / "other", two_tasks(1), model="m-2")
    out = tmp_path / "cmp"
    with pytest.raises(ValueError) as err:
        compare([tmp_path / "other", tmp_path / "edited"], out)
    msg = str(err.value)
    assert "edited/results.json: task 'to_upper', mode 'hypothesis': accuracy is 0.99" in msg
    assert "per-example records give 1/5 = 0.2" in msg
    assert "rerun `tvlens run` or restore the file" in msg
    assert not out.exists() or not any(out.iterdir())
    tasks["to_upper"]["accuracy"]["hypothesis"] = None
    (tmp_path / "edited" / "results.json").unlink()
    (tmp_path / "edited").rmdir()
    write_run(tmp_path / "edited", tasks)
    with pytest.raises(ValueError, match=r"mode 'hypothesis': accuracy is None"):
        compare([tmp_path / "edited"])


# ---- 7: one metric, named --------------------------------------------------------------------
def any_run(folder: Path, shift: int, **meta: Any) -> Path:
    """A ``--answers any`` run: the same records, generated answers scored by exact match."""
    tasks = two_tasks(shift)
    for t in tasks.values():
        t.update(answers="any", metric="exact_match", dev_metric="first_token")
    return write_run(folder, tasks, answers="any", **meta)


def test_single_and_any_answer_runs_are_refused_together(tmp_path, capsys) -> None:
    write_run(tmp_path / "single", two_tasks(0))
    any_run(tmp_path / "any", 1, model="m-2")
    out = tmp_path / "cmp"
    with pytest.raises(ValueError) as err:
        compare([tmp_path / "single", tmp_path / "any"], out)
    msg = str(err.value)
    assert "--answers single (next-token accuracy): tiny-bridge-3x64" in msg
    assert "--answers any (exact match of generated answers): m-2" in msg
    assert msg.endswith("compare single-token runs and any-length runs separately")
    assert not out.exists() or not any(out.iterdir())
    # a run from before the setting was single-token
    old = json.loads((tmp_path / "single" / "results.json").read_text())
    del old["meta"]["answers"]
    write_run(tmp_path / "old", old["tasks"], **{k: v for k, v in old["meta"].items()})
    assert main(["compare", str(tmp_path / "old"), str(tmp_path / "any"), "--out", str(out)]) == 2
    assert "compare single-token runs and any-length runs separately" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("answers", "metric"),
    [("single", "next-token accuracy"), ("any", "exact match of generated answers")],
)
def test_the_report_names_its_metric(tmp_path, answers, metric) -> None:
    if answers == "any":
        any_run(tmp_path / "a", 0)
        any_run(tmp_path / "b", 1, model="m-2")
    else:
        write_run(tmp_path / "a", two_tasks(0))
        write_run(tmp_path / "b", two_tasks(1), model="m-2")
    comp = compare([tmp_path / "a", tmp_path / "b"], tmp_path / "cmp")
    assert comp.metric == metric
    title = f"tvlens compare: tiny-bridge-3x64 vs m-2 ({metric})"
    assert (tmp_path / "cmp" / "summary.md").read_text().startswith(f"# {title}\n")
    assert f"<title>{title}</title>" in (tmp_path / "cmp" / "report.html").read_text()
    data = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert data["answers"] == answers and data["metric"] == metric
