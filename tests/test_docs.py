"""The docs: their code runs, their numbers come from committed results, their claims cite tests.

- Code blocks: every fenced ``python`` block of ``docs/*.md`` runs, a page's blocks in order in
  a namespace that starts from the README tour's (``model``, ``examples``, ``runner``, ...). A
  block that needs a real model, the network, or is only illustrative carries
  ``<!-- no-test: REASON -->`` on the line right before its fence (see tests/test_readme.py).
- Numbers: ``scripts/doc_tables.py check`` must find every marked table and inline value equal
  to its extract under ``docs/results/``, and no table of numbers outside markers; the
  pin → write → check cycle is exercised on a run of a tiny model.
- Claims: every ``tests/<file>.py::<test>`` the docs cite exists, every paragraph that says
  "tested" or "checked" cites one, and every figure names the command that produces it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import tvlens
import tvlens.models
from tests.test_readme import README, ROOT, python_blocks, run_blocks

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
RUNNABLE = [p for p in PAGES if any(b.no_test is None for b in python_blocks(p))]


def load_doc_tables() -> ModuleType:
    spec = importlib.util.spec_from_file_location("doc_tables", ROOT / "scripts" / "doc_tables.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["doc_tables"] = mod
    spec.loader.exec_module(mod)
    return mod


dt = load_doc_tables()


# ---- code blocks ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tour(tmp_path_factory) -> dict:
    """The namespace the README's tour leaves (its tiny model, examples, Runner)."""
    cwd = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("tour"))
    try:
        namespace: dict = {}
        run_blocks(README, namespace)
    finally:
        os.chdir(cwd)
    return namespace


# What each page's blocks must leave behind (the assertions on the README's blocks before the
# README was split: the generation block moved to docs/generation.md).
def expect_generation(ns: dict) -> None:
    assert 0.0 <= ns["hyp"].exact_match <= 1.0
    assert len(ns["hyp"].predictions) == 20


def expect_guide(ns: dict) -> None:
    model = ns["model"]
    assert ns["z"].shape == (10, model.cfg.n_heads, model.cfg.d_head)
    assert ns["acts"].logits.shape == (10, model.cfg.d_vocab)
    assert ns["logits"].shape[0] == 2
    assert len(ns["reg"].predictions) == 10
    assert len(ns["dev"]) == 50 and len(ns["examples"]) == 100
    assert Path("to_upper_theta.safetensors").exists()


EXPECT = {"generation.md": expect_generation, "guide.md": expect_guide}


@pytest.mark.parametrize("page", RUNNABLE, ids=[p.name for p in RUNNABLE])
def test_docs_python_blocks_run(page: Path, tour: dict, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = dict(tour)
    assert run_blocks(page, namespace) >= 1
    if page.name in EXPECT:
        EXPECT[page.name](namespace)


def test_pages_with_expectations_have_runnable_blocks() -> None:
    assert {p.name for p in RUNNABLE} >= set(EXPECT)


def test_no_test_markers_give_a_reason_and_mark_a_block() -> None:
    for path in [README, *PAGES]:
        lines = path.read_text(encoding="utf-8").split("\n")
        marked = {b.line - 3 for b in python_blocks(path) if b.no_test is not None}
        for b in python_blocks(path):
            assert b.no_test is None or b.no_test, f"{path.name}:{b.line}: give a reason"
        for i, line in enumerate(lines):
            code = dt.fenced(lines)[i]
            if "<!-- no-test" in line and not code:
                assert i in marked, f"{path.name}:{i + 1}: a no-test marker not before a block"


# ---- numbers with a source -----------------------------------------------------------------
def test_tables_agree_with_committed_results() -> None:
    problems = dt.check(ROOT)
    assert not problems, "\n".join(problems)


SMALL = ["--n-dev", "4", "--n-test", "4", "--n-baseline", "4", "--n-demos", "3", "--no-progress"]
KINDS = ["main", "averages", "main-ci", "averages-ci", "tasks", "fv", "fv-heads", "aie", "fv-k",
         "phases"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """``tvlens run --methods tv,fv`` on a tiny model, two tasks of two categories."""
    from tvlens.cli import main
    from tvlens.testing import tiny_bridge

    model = tiny_bridge()
    out = tmp_path_factory.mktemp("run") / "tiny"
    mp = pytest.MonkeyPatch()
    mp.setattr(tvlens.models, "load_model", lambda *a, **k: model)
    try:
        argv = ["run", "--out", str(out), *SMALL, "--tasks", "to_upper", "fr_en"]
        assert main([*argv, "--methods", "tv,fv"]) == 0
    finally:
        mp.undo()
    return out


def page_with_every_kind(root: Path, name: str) -> Path:
    (root / "docs").mkdir(parents=True, exist_ok=True)
    readme = root / "README.md"
    tables = "\n\n".join(f"<!-- table: {name}/{k} -->\n<!-- /table -->" for k in KINDS)
    readme.write_text(
        f"# t\n\n{tables}\n\nHypothesis <!-- value: {name}/summary.overall.hypothesis -->?"
        f"<!-- /value --> in <!-- value: {name}/meta.wall_time_s|duration -->?<!-- /value -->, "
        f"top head <!-- value: {name}/summary.derived.aie_top_heads[0]|head -->?<!-- /value -->."
        "\n\n```markdown\n<!-- table: nowhere/main -->\n| a | 0.5 |\n<!-- /table -->\n```\n"
    )
    return readme


def table_lines(text: str, spec: str) -> list[str]:
    body = text.split(f"<!-- table: {spec} -->\n")[1].split("<!-- /table -->")[0]
    return [line for line in body.split("\n") if line]


def cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def test_pin_write_check_on_a_tiny_run(tiny_run: Path, tmp_path) -> None:
    root = tmp_path / "repo"
    readme = page_with_every_kind(root, "tiny")
    assert any("tiny.json is not committed" in p for p in dt.check(root))
    out = dt.pin(tiny_run, "tiny", root)
    assert out == root / "docs" / "results" / "tiny.json"
    assert [p.name for p in out.parent.iterdir()] == ["tiny.json"]  # no temporary file left
    pinned = json.loads(out.read_text())
    results = json.loads((tiny_run / "results.json").read_text())
    assert pinned["meta"]["methods"] == ["tv", "fv"] and "test_examples" not in json.dumps(pinned)
    assert list(pinned["tasks"]) == list(results["tasks"])
    for name, t in results["tasks"].items():
        p = pinned["tasks"][name]
        assert p["accuracy"] == t["accuracy"] and p["best_layer"] == t["best_layer"]
        assert p["fv"]["k"] == t["fv"]["function_vector"]["k"]
    assert pinned["summary"]["overall"] == results["summary"]["overall"]

    assert dt.write(root) == [readme]
    assert dt.check(root) == []
    assert dt.write(root) == []  # idempotent
    text = readme.read_text()
    assert "<!-- table: nowhere/main -->\n| a | 0.5 |" in text  # examples in code stay as written
    hyp = f"{results['summary']['overall']['hypothesis']:.2f}"
    assert f"summary.overall.hypothesis -->{hyp}<!-- /value -->" in text
    assert len(table_lines(text, "tiny/main")) == 2 + len(results["tasks"])

    # the generated tables say what tvlens's own summary.md says
    summary = (tiny_run / "summary.md").read_text().split("\n")
    assert all(line in summary for line in table_lines(text, "tiny/fv"))
    rows: dict[str, list[str]] = {}
    for r in summary:  # the first table (the protocol's), not the function-vector one
        if r.startswith("| "):
            rows.setdefault(cells(r)[0], cells(r))
    for row in table_lines(text, "tiny/main-ci")[2:]:
        assert cells(row)[2:6] == rows[cells(row)[0]][4:8]  # Baseline, Hypothesis, Regular, H − R


def test_check_fails_when_a_table_and_its_results_disagree(tiny_run: Path, tmp_path) -> None:
    root = tmp_path / "repo"
    readme = page_with_every_kind(root, "tiny")
    pin = dt.pin(tiny_run, "tiny", root)
    dt.write(root)
    good = readme.read_text()

    # a number edited by hand in a generated table
    row = table_lines(good, "tiny/main")[2]
    readme.write_text(good.replace(row, row[:-6] + "0.99 |", 1))
    assert any("README.md:" in p and "differs" in p for p in dt.check(root))
    # an inline value edited by hand
    readme.write_text(re.sub(r"(hypothesis -->)[^<]*", r"\g<1>0.99", good, count=1))
    assert any("differs" in p for p in dt.check(root))
    # the committed results changed under the table
    readme.write_text(good)
    data = json.loads(pin.read_text())
    first = next(iter(data["tasks"]))
    data["tasks"][first]["accuracy"]["hypothesis"] = 0.99
    pin.write_text(json.dumps(data))
    assert any("differs" in p for p in dt.check(root))
    # a table of numbers with no markers; a value marker that would end its paragraph
    readme.write_text(good + "\n| model | accuracy |\n|---|---|\n| x | 0.57 |\n")
    assert any("no source" in p for p in dt.check(root))
    readme.write_text(
        good + "\ntext\n<!-- value: tiny/summary.overall.regular -->0<!-- /value -->\n"
    )
    assert any("starts the line" in p for p in dt.check(root))
    # an unknown kind, an unclosed marker
    readme.write_text(good + "\n<!-- table: tiny/nope -->\n<!-- /table -->\n")
    assert any("unknown table kind" in p for p in dt.check(root))
    readme.write_text(good + "\n<!-- table: tiny/main -->\n")
    assert any("has no" in p for p in dt.check(root))
    with pytest.raises(ValueError, match="nothing written"):
        dt.write(root)


def test_pin_refuses_a_run_in_progress_and_bad_input(tiny_run: Path, tmp_path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "results.json").write_text((tiny_run / "results.json").read_text())
    (tmp_path / "busy" / ".tvlens.lock").write_text("{}")
    with pytest.raises(ValueError, match="still writing"):
        dt.pin(tmp_path / "busy", "x", tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        dt.pin(tmp_path / "nothing", "x", tmp_path)
    with pytest.raises(ValueError, match="file name"):
        dt.pin(tiny_run, "../x", tmp_path)
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(ValueError, match=r"not a tvlens results\.json"):
        dt.pin(tmp_path / "other.json", "x", tmp_path)
    assert not (tmp_path / "docs").exists()


def test_inline_value_formats() -> None:
    assert dt.value_text(0.574, None) == "0.57"
    assert dt.value_text(1195.4, "duration") == "19 min 55 s"
    assert dt.value_text(42.0, "duration") == "42 s"
    assert dt.value_text(["a", "b"], "list") == "`a`, `b`" and dt.value_text([], "list") == "none"
    assert dt.value_text([9, 3, 0.24], "head") == "(9, 3)"
    assert dt.lookup({"a": {"b": [1, {"c": 2}]}}, "a.b[1].c") == 2
    with pytest.raises(ValueError, match="unknown value format"):
        dt.value_text(1, "percent")


# ---- claims --------------------------------------------------------------------------------
CITATION = re.compile(r"`(tests/[\w/]+\.py)::(\w+)")


def prose(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").split("\n")
    return "\n".join(line for line, code in zip(lines, dt.fenced(lines), strict=True) if not code)


def test_cited_tests_exist() -> None:
    cited = 0
    for path in [README, *PAGES]:
        for file, name in CITATION.findall(prose(path)):
            source = ROOT / file
            assert source.is_file(), f"{path.name} cites {file}, which does not exist"
            assert re.search(rf"^def {name}\(", source.read_text(), flags=re.M), (
                f"{path.name} cites {file}::{name}, which does not exist"
            )
            cited += 1
    assert cited >= 20


def test_tested_claims_name_their_test() -> None:
    for path in [README, *PAGES]:
        for para in re.split(r"\n\s*\n", prose(path)):
            if re.search(r"\b(tested|checked)\b", para, flags=re.I):
                assert "`tests/" in para, f"{path.name}: names no test for {para[:120]!r}"


def test_every_figure_names_its_producing_command() -> None:
    for path in [README, *PAGES]:
        text = prose(path)
        for m in re.finditer(r"!\[[^\]]*\]\(([^)]+\.png)\)", text):
            after = text[m.end() : m.end() + 600]
            assert "scripts/snapshot_html.py" in after, f"{path.name}: {m.group(1)} has no command"
            assert Path(m.group(1)).name in after, f"{path.name}: {m.group(1)} is not produced"
            assert (path.parent / m.group(1)).is_file(), m.group(1)


def resolve(dotted: str) -> object:
    """The object a dotted name ``tvlens.a.b`` names: the longest importable module, then
    attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_names_the_docs_use_exist() -> None:
    """Every `tvlens.x.y` in the prose and every import of a python block (those marked
    no-test too, which never run) names something that exists: modules move."""
    names: set[tuple[str, str]] = set()
    for path in [README, *PAGES]:
        names |= {(path.name, d) for d in re.findall(r"`(tvlens(?:\.\w+)+)", prose(path))}
        for block in python_blocks(path):
            for mod, what in re.findall(
                r"^from (tvlens[\w.]*) import ([^(#\n]+)", block.code, re.M
            ):
                names |= {(path.name, f"{mod}.{w.strip()}") for w in what.split(",") if w.strip()}
    assert len(names) >= 20
    for page, dotted in sorted(names):
        try:
            resolve(dotted)
        except (ImportError, AttributeError) as e:
            pytest.fail(f"{page} names {dotted}, which does not exist: {e}")


# ---- the site ------------------------------------------------------------------------------
def test_the_site_builds_strict_with_every_public_name(tmp_path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    api = (site / "api" / "index.html").read_text()
    rendered = set(re.findall(r'id="(tvlens\.\w+)"', api))
    assert {f"tvlens.{n}" for n in tvlens.__all__} <= rendered
    mkdocs_yml = (ROOT / "mkdocs.yml").read_text()
    nav = {Path(p).name for p in re.findall(r"^\s+- [^:]+: (\S+\.md)$", mkdocs_yml, flags=re.M)}
    assert nav == {p.name for p in PAGES}


def test_pin_write_check_on_tiny_studies(tmp_path) -> None:
    """A study's folder pins like a run's; its tables are the rows of its own summary.md."""
    from tvlens.studies.compose import compose
    from tvlens.studies.layers import layer_profile
    from tvlens.studies.transfer import transfer_matrix
    from tvlens.testing import tiny_bridge

    model, small = tiny_bridge(), {"n_dev": 4, "n_test": 4, "n_demos": 2}
    runs = {
        "transfer": transfer_matrix(model, ["to_upper", "next_letter"], ["arrow", "qa"],
                                    out=str(tmp_path / "t"), methods=["tv", "fv"], **small),
        "layers": layer_profile(model, ["to_upper", "next_letter"], out=str(tmp_path / "l"),
                                **small),
        "compose": compose(model, ["next_next_letter"], out=str(tmp_path / "c"), **small),
    }  # fmt: skip
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    kinds = [k for k in dt.TABLES if k.split("-")[0] in runs]
    assert len(kinds) == 8
    readme = root / "README.md"
    markers = [f"<!-- table: tiny-{k.split('-')[0]}/{k} -->\n<!-- /table -->" for k in kinds]
    readme.write_text("# t\n\n" + "\n\n".join(markers) + "\n")
    for kind, folder in (("transfer", "t"), ("layers", "l"), ("compose", "c")):
        out = dt.pin(tmp_path / folder, f"tiny-{kind}", root)
        pinned = json.loads(out.read_text())
        assert pinned["kind"] == kind and pinned["summary"] == runs[kind]["summary"]
        assert '"predicted"' not in out.read_text() and '"correct"' not in out.read_text()
    assert dt.write(root) == [readme] and dt.check(root) == []
    text = readme.read_text()
    for kind, folder in (("transfer", "t"), ("layers", "l"), ("compose", "c")):
        summary = (tmp_path / folder / "summary.md").read_text().split("\n")
        for k in (k for k in kinds if k.startswith(kind)):
            lines = table_lines(text, f"tiny-{kind}/{k}")
            assert lines and all(line in summary for line in lines), k
