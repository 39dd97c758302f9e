"""``tvlens run`` misused (issue 18): task data checked up front, task files read as written,
folders of one kind each, fv with one demonstration, resume with other weights."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import torch

import tvlens.run.protocol as experiment
from tests.conftest import build_tiny
from tvlens.cli import main
from tvlens.report.compare import compare
from tvlens.run.files import MANIFEST_NAME, read_manifest, write_output
from tvlens.run.fingerprint import weights_sha256
from tvlens.run.grid import grid, tiny_load
from tvlens.run.protocol import ProtocolConfig, preflight, run_protocol
from tvlens.tasks import Task

CFG = dict(n_dev=4, n_test=4, n_baseline=4, n_demos=3, n_dummy=2)
SMALL = ["--n-dev", "4", "--n-test", "4", "--n-baseline", "4", "--n-demos", "3", "--no-progress"]
LETTERS = "abcdefghijklmnop"


@pytest.fixture(scope="module")
def model():
    return build_tiny("bridge")


def cli(out: Path, *args: str) -> int:
    return main(["run", "--out", str(out), *SMALL, *args])


def caps_pairs() -> dict[str, str]:
    return {c: c.upper() for c in LETTERS}


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run_dir(model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("misuse") / "run"
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), out, progress=False)
    return out


# ---- 2: a task file named like a registered task ---------------------------------------------
@pytest.mark.parametrize("others", [[], ["next_letter"]], ids=["alone", "with-others"])
def test_a_file_named_like_a_registered_task_is_refused_alone_or_not(tmp_path, others) -> None:
    f = write_json(tmp_path / "x" / "to_upper.json", caps_pairs())
    with pytest.raises(ValueError, match=r"named like the registered task 'to_upper'") as err:
        ProtocolConfig(tasks=[str(f), *others])
    assert "Rename the file" in str(err.value) and "name='my_to_upper'" in str(err.value)
    # the fix works: a renamed file, or a Task given its own name
    assert ProtocolConfig(tasks=[str(f.rename(f.with_name("my_to_upper.json")))])
    assert ProtocolConfig(tasks=[Task.from_file(tmp_path / "x/my_to_upper.json", name="mine")])


def test_cli_refuses_a_lone_file_named_like_a_registered_task(loads, tmp_path, capsys) -> None:
    f = tmp_path / "x" / "to_upper.csv"
    f.parent.mkdir()
    f.write_text("".join(f"{c},{c.upper()}\n" for c in LETTERS))
    assert cli(tmp_path / "o", "--tasks", str(f)) == 2
    assert "named like the registered task 'to_upper'" in capsys.readouterr().err
    assert loads == []


# ---- 5: one kind of folder each ---------------------------------------------------------------
def test_run_refuses_a_comparison_folder_and_leaves_it_intact(run_dir, tmp_path) -> None:
    cmp_dir = tmp_path / "cmp"
    compare([run_dir], cmp_dir)
    assert read_manifest(cmp_dir)["kind"] == "compare"
    before = {p.name: p.read_bytes() for p in cmp_dir.iterdir()}
    cfg = ProtocolConfig(tasks=["to_upper"], **CFG)
    with pytest.raises(ValueError, match=r"holds a comparison \(comparison\.json\).*--out"):
        preflight(cfg, cmp_dir)
    # a manifest from before kinds: the kind is read from the files there
    manifest = json.loads((cmp_dir / MANIFEST_NAME).read_text())
    del manifest["kind"]
    (cmp_dir / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="holds a comparison"):
        preflight(cfg, cmp_dir)
    with pytest.raises(ValueError, match="holds a comparison"):  # a direct write, too
        write_output(cmp_dir, "results.json", "{}")
    before[MANIFEST_NAME] = (cmp_dir / MANIFEST_NAME).read_bytes()
    assert {p.name: p.read_bytes() for p in cmp_dir.iterdir()} == before


def test_cli_run_into_a_comparison_folder_is_refused_before_loading(
    loads, run_dir, tmp_path, capsys
) -> None:
    compare([run_dir], tmp_path / "cmp")
    summary = (tmp_path / "cmp" / "summary.md").read_bytes()
    assert cli(tmp_path / "cmp", "--tasks", "to_upper") == 2
    err = capsys.readouterr().err
    assert "holds a comparison" in err and "another --out" in err and loads == []
    assert (tmp_path / "cmp" / "summary.md").read_bytes() == summary
    assert not (tmp_path / "cmp" / "results.json").exists()


def test_run_and_compare_refuse_a_grid_folder(run_dir, tmp_path) -> None:
    g = tmp_path / "g"
    g.mkdir()
    write_output(g, "grid.json", "{}\n")
    assert read_manifest(g)["kind"] == "grid"
    with pytest.raises(ValueError, match=r"holds a grid \(grid\.json\)"):
        preflight(ProtocolConfig(tasks=["to_upper"], **CFG), g)
    with pytest.raises(ValueError, match=r"holds a grid"):
        compare([run_dir], g)
    assert sorted(p.name for p in g.iterdir()) == [MANIFEST_NAME, "grid.json"]


def test_grid_refuses_a_comparison_folder(run_dir, tmp_path) -> None:
    compare([run_dir], tmp_path / "cmp")
    with pytest.raises(ValueError, match="holds a comparison"):
        grid(["tiny-bridge"], ProtocolConfig(tasks=["to_upper"], **CFG), [0],
             out=tmp_path / "cmp", load=tiny_load, backend="local", progress=False)  # fmt: skip
    assert not (tmp_path / "cmp" / "grid.json").exists()


def test_seeds_refuse_a_comparison_folder_before_any_seed_runs(run_dir, tmp_path) -> None:
    from tvlens.run.seeds import preflight_seeds

    compare([run_dir], tmp_path / "cmp")
    with pytest.raises(ValueError, match="holds a comparison"):
        preflight_seeds(ProtocolConfig(tasks=["to_upper"], **CFG), [0, 1], tmp_path / "cmp")
    assert not (tmp_path / "cmp" / "seed-0").exists()


def test_a_run_records_its_kind(run_dir) -> None:
    assert read_manifest(run_dir)["kind"] == "run"


# ---- 9: every pair checked before the model loads ---------------------------------------------
def test_an_arrow_inside_a_pair_is_refused_before_the_model_loads(loads, tmp_path, capsys) -> None:
    pairs = [[c, c.upper()] for c in LETTERS]
    pairs[7] = ["h", "H -> I"]
    f = write_json(tmp_path / "arrows.json", {"pairs": pairs})
    assert cli(tmp_path / "o", "--tasks", "to_upper", str(f)) == 2
    err = capsys.readouterr().err
    assert "task 'arrows'" in err and str(f) in err and "pair 7 ('h' -> 'H -> I')" in err
    assert "contains the arrow" in err and "remove it from the data" in err
    assert loads == [] and not (tmp_path / "o" / "results.json").exists()


def test_an_input_ending_with_the_arrow_is_refused_whatever_the_seed(tmp_path) -> None:
    pairs = {**caps_pairs(), "q ->": "Q"}
    for seed in (0, 1, 2):
        cfg = ProtocolConfig(tasks=[Task.from_pairs("ends", pairs)], seed=seed, **CFG)
        with pytest.raises(ValueError, match=r"task 'ends': pair 16 .*already ends with"):
            preflight(cfg, tmp_path / f"o{seed}")


def test_a_special_token_in_a_pair_stops_the_run_before_any_task(model, tmp_path, monkeypatch):
    ran: list[object] = []
    monkeypatch.setattr(experiment, "run_task", lambda *a, **k: ran.append(a))
    bad = Task.from_pairs("spec", {**caps_pairs(), "z": "<|bos|>Z"})
    cfg = ProtocolConfig(tasks=["to_upper", bad], **CFG)
    with pytest.raises(ValueError, match=r"task 'spec': pair 16 .*'<\|bos\|>', a special token"):
        run_protocol(model, cfg, tmp_path, progress=False)
    assert ran == [] and not (tmp_path / "results.json").exists()


# ---- 10: surrounding whitespace stripped and counted -----------------------------------------
def test_surrounding_whitespace_is_stripped_and_counted(tmp_path) -> None:
    rows = [{"input": "gut", "output": "mäßig\n"}, {"input": " gross", "output": "big"}]
    rows += [{"input": "klein", "output": "small"}]
    task = Task.from_file(write_json(tmp_path / "de_en.json", rows))
    assert task.pairs == (("gut", "mäßig"), ("gross", "big"), ("klein", "small"))
    assert task.n_stripped == 2
    csv = tmp_path / "c.csv"
    csv.write_text("a , A\nb,B\n")
    assert Task.from_file(csv).n_stripped == 1
    # what stays broken is still refused
    with pytest.raises(ValueError, match="line break"):
        Task.from_file(write_json(tmp_path / "br.json", {"a": "b\nc "}))
    # stripping can make a conflict: it follows on_conflict
    conflict = write_json(tmp_path / "k.json", {"pairs": [["a", "b"], ["a ", "c"]]})
    with pytest.raises(ValueError, match="conflicting duplicate input"):
        Task.from_file(conflict)
    first = Task.from_file(conflict, on_conflict="first")
    assert first.pairs == (("a", "b"),) and first.n_stripped == 1


def test_the_stripped_count_is_in_results_and_summary(model, tmp_path) -> None:
    f = write_json(tmp_path / "caps.json", {**caps_pairs(), "q": "Q\n", " r": "R"})
    res = run_protocol(model, ProtocolConfig(tasks=[str(f)], **CFG), tmp_path / "o", progress=False)
    assert res["tasks"]["caps"]["n_stripped"] == 2
    assert "stripped: caps (2)" in (tmp_path / "o" / "summary.md").read_text()
    schema = json.loads(files("tvlens").joinpath("results_schema.json").read_text())
    jsonschema.validate(res, schema)


# ---- 11: TSV read without quoting, right line numbers, other headers --------------------------
def test_tsv_quotes_are_text(tmp_path) -> None:
    f = tmp_path / "q.tsv"
    f.write_text('"Hello" world\thallo\n"a b\tc\nd\te\n')  # line 2: a lone quote
    assert Task.from_file(f).pairs == (('"Hello" world', "hallo"), ('"a b', "c"), ("d", "e"))


def test_tsv_errors_name_the_right_line(tmp_path) -> None:
    f = tmp_path / "bad.tsv"
    f.write_text('a\tb\nc\t"d\ne\nf\tg\n')  # a quote no longer runs line 2 on to the end
    with pytest.raises(ValueError, match=r"line 3 has 1 columns"):
        Task.from_file(f)


def test_csv_errors_name_the_line_a_quoted_row_starts_on(tmp_path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text('a,b\n"c,d\ne,f\n')
    with pytest.raises(ValueError, match=r"line 2 has 1 columns.*quote.*runs it to line 3"):
        Task.from_file(f)


@pytest.mark.parametrize(
    ("name", "text"),
    [("st.csv", "source,target\nchien,dog\n"), ("qa.tsv", "Question\tAnswer\nchien\tdog\n")],
)
def test_a_header_of_other_column_names_is_skipped_with_a_warning(tmp_path, name, text) -> None:
    f = tmp_path / name
    f.write_text(text)
    with pytest.warns(UserWarning, match="read as a header"):
        task = Task.from_file(f)
    assert task.pairs == (("chien", "dog"),)


def test_a_pair_of_letters_is_not_a_header(tmp_path, recwarn) -> None:
    f = tmp_path / "next.csv"
    f.write_text("x,y\ny,z\n")
    assert Task.from_file(f).pairs == (("x", "y"), ("y", "z"))
    assert not recwarn.list


# ---- 12: function vectors need two demonstrations ---------------------------------------------
def test_fv_with_one_demonstration_is_refused_before_the_model_loads(
    loads, tmp_path, capsys
) -> None:
    with pytest.raises(ValueError, match="--n-demos 2 or more"):
        ProtocolConfig(tasks=["to_upper"], n_demos=1, methods=["tv", "fv"])
    assert ProtocolConfig(tasks=["to_upper"], n_demos=1)  # tv alone needs one
    code = main(["run", "--out", str(tmp_path), "--tasks", "to_upper", "--n-demos", "1",
                 "--methods", "tv,fv", "--no-progress"])  # fmt: skip
    assert code == 2 and "--n-demos 2 or more" in capsys.readouterr().err and loads == []


# ---- 13: the weights' fingerprint ----------------------------------------------------------------
def test_the_fingerprint_sees_any_weight_change_on_the_same_model() -> None:
    m = build_tiny("bridge")
    a = weights_sha256(m)
    assert weights_sha256(m) == a == weights_sha256(build_tiny("bridge"))
    p = next(iter(m.parameters()))
    old = p.view(-1)[0].item()
    with torch.no_grad():  # in place, on the same object: the cache must not hide it
        p.view(-1)[0] += 1.0
    assert weights_sha256(m) != a
    with torch.no_grad():
        p.view(-1)[0] = old
    assert weights_sha256(m) == a


def test_resume_with_other_weights_is_refused_naming_both(model, tmp_path) -> None:
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    meta = json.loads((tmp_path / "results.json").read_text())["meta"]
    assert meta["weights_sha256"] == weights_sha256(model)
    other = build_tiny("bridge")
    with torch.no_grad():
        next(iter(other.parameters())).view(-1)[0] += 0.5
    cfg = ProtocolConfig(tasks=["to_upper", "to_lower"], **CFG)
    with pytest.raises(ValueError, match="weights_sha256") as err:
        run_protocol(other, cfg, tmp_path, progress=False)
    msg = str(err.value)
    assert f"'{weights_sha256(model)}' (in results.json)" in msg
    assert f"'{weights_sha256(other)}' (this run)" in msg and "other weights" in msg
    assert "to_lower" not in json.loads((tmp_path / "results.json").read_text())["tasks"]


def test_a_run_without_the_fingerprint_resumes_and_records_it(model, tmp_path) -> None:
    run_protocol(model, ProtocolConfig(tasks=["to_upper"], **CFG), tmp_path, progress=False)
    data = json.loads((tmp_path / "results.json").read_text())
    del data["meta"]["weights_sha256"]  # as an older tvlens wrote it
    write_output(tmp_path, "results.json", json.dumps(data))
    cfg = ProtocolConfig(tasks=["to_upper", "to_lower"], **CFG)
    res = run_protocol(model, cfg, tmp_path, progress=False)
    assert set(res["tasks"]) == {"to_upper", "to_lower"}
    assert res["meta"]["weights_sha256"] == weights_sha256(model)
