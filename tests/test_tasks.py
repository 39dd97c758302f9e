"""The task registry, sampling, single-token filtering and custom task files."""

from __future__ import annotations

import collections
import inspect
import json
import os
import string
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tvlens import ICLExample
from tvlens.prompts import DEFAULT_FORMAT, PAPER_FORMAT, answer_token_ids, icl_prompts
from tvlens.tasks import (
    ALGORITHMIC_TASKS,
    CATEGORIES,
    PAPER_TASKS,
    FilteredTask,
    Task,
    filter_single_token,
    for_model,
    get_task,
    list_tasks,
    read_task_file,
    registry,
    task_category,
    task_table,
    task_table_markdown,
)
from tvlens.testing import tiny_tokenizer

DATA_DIR = Path(__file__).resolve().parent.parent / "tvlens" / "tasks" / "data"

ALGORITHMIC_SIZES = {
    "next_letter": 25,
    "prev_letter": 25,
    "to_upper": 26,
    "to_lower": 26,
    "list_first": 500,
    "list_last": 500,
    "list_min": 500,
    "list_max": 500,
    "list_length": 500,
}
DATA_TASKS = [n for n in PAPER_TASKS if n not in ALGORITHMIC_SIZES]
MIN_DATA_PAIRS = 150


def need_data(name: str) -> None:
    """Skip when another helper has not written this task's data file yet."""
    if not (DATA_DIR / f"{name}.json").is_file():
        pytest.skip(f"data file {name}.json not written yet")


def check_examples(task: Task, examples: list[ICLExample], n_demos: int, n_dummy: int) -> None:
    lookup = task.as_dict()
    space = set(task.input_space)
    for ex in examples:
        assert ex.task == task.name
        assert ex.answer == lookup[ex.query]
        assert len(ex.demos) == n_demos
        demo_inputs = [x for x, _ in ex.demos]
        assert ex.query not in demo_inputs
        assert len(set(demo_inputs)) == n_demos
        assert all(lookup[x] == y for x, y in ex.demos)
        assert len(ex.dummy_queries) == n_dummy
        assert len(set(ex.dummy_queries)) == n_dummy
        assert ex.query not in ex.dummy_queries
        assert set(ex.dummy_queries) <= space


@pytest.fixture()
def clear_registry_caches() -> Any:
    registry._load_data_task.cache_clear()
    registry._file_category.cache_clear()
    yield
    registry._load_data_task.cache_clear()
    registry._file_category.cache_clear()


@pytest.fixture(scope="module")
def tok() -> Any:
    return tiny_tokenizer()


# --------------------------------------------------------------------------- registry
def test_paper_tasks_names_order_and_categories() -> None:
    assert PAPER_TASKS == (
        "next_letter",
        "prev_letter",
        "list_first",
        "list_last",
        "to_upper",
        "to_lower",
        "fr_en",
        "es_en",
        "en_fr",
        "en_es",
        "present_simple_gerund",
        "present_simple_past_simple",
        "plural_singular",
        "antonyms",
        "country_capital",
        "person_language",
        "location_continent",
        "location_religion",
    )
    assert CATEGORIES == ("algorithmic", "translation", "linguistic", "knowledge")
    cats = [task_category(n) for n in PAPER_TASKS]
    assert (
        cats == ["algorithmic"] * 6 + ["translation"] * 4 + ["linguistic"] * 4 + ["knowledge"] * 4
    )


@pytest.mark.parametrize("name", sorted(ALGORITHMIC_SIZES))
def test_algorithmic_sizes_exact(name: str) -> None:
    task = get_task(name)
    assert len(task) == ALGORITHMIC_SIZES[name]
    assert task.category == "algorithmic"
    assert task.name == name
    assert name in list_tasks("algorithmic")


@pytest.mark.parametrize("name", DATA_TASKS)
def test_paper_data_task_counts(name: str) -> None:
    need_data(name)
    task = get_task(name)
    assert task.name == name
    assert task.category == task_category(name)
    assert len(task) >= MIN_DATA_PAIRS
    raw = json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))["pairs"]
    assert len(task) == len({tuple(p) for p in raw})
    assert name in list_tasks(task.category)


def test_every_listed_task_loads_without_empty_strings() -> None:
    names = list_tasks()
    assert set(ALGORITHMIC_TASKS) <= set(names)
    assert len(names) == len(set(names))
    for name in names:
        task = get_task(name)
        assert len(task) > 0
        for x, y in task.pairs:
            assert x.strip() and y.strip(), (name, x, y)
            assert x == x.strip() and y == y.strip()
        assert len(set(task.inputs)) == len(task)


def test_letter_tasks_correct_by_construction() -> None:
    lower, upper = string.ascii_lowercase, string.ascii_uppercase
    assert get_task("next_letter").pairs == tuple((c, chr(ord(c) + 1)) for c in lower[:-1])
    assert get_task("prev_letter").pairs == tuple((c, chr(ord(c) - 1)) for c in lower[1:])
    assert get_task("to_upper").pairs == tuple((c, c.upper()) for c in lower)
    assert get_task("to_lower").pairs == tuple((c, c.lower()) for c in upper)
    assert "z" not in get_task("next_letter").as_dict()
    assert "a" not in get_task("prev_letter").as_dict()


@pytest.mark.parametrize(
    ("name", "fn", "lengths"),
    [
        ("list_first", lambda xs: xs[0], {2, 3, 4}),
        ("list_last", lambda xs: xs[-1], {2, 3, 4}),
        ("list_min", min, {2, 3, 4}),
        ("list_max", max, {2, 3, 4}),
        ("list_length", lambda xs: str(len(xs)), {1, 2, 3, 4, 5}),
    ],
)
def test_list_tasks_correct_by_construction(name: str, fn: Any, lengths: set[int]) -> None:
    task = get_task(name)
    seen_lengths = set()
    for x, y in task.pairs:
        items = x.split(",")
        assert all(len(c) == 1 and c in string.ascii_lowercase for c in items), x
        assert len(set(items)) == len(items), x
        seen_lengths.add(len(items))
        assert y == fn(items), (x, y)
    assert seen_lengths == lengths


def test_list_pool_shared_and_fixed() -> None:
    first, last = get_task("list_first"), get_task("list_last")
    assert first.inputs == last.inputs == get_task("list_min").inputs
    assert first.pairs[:3] == (("w,o,m", "w"), ("t,s,k", "t"), ("d,z,u,j", "d"))


@pytest.mark.parametrize(
    ("name", "x", "y"),
    [
        ("country_capital", "France", "Paris"),
        ("country_capital", "Japan", "Tokyo"),
        ("fr_en", "chien", "dog"),
        ("es_en", "perro", "dog"),
        ("en_fr", "water", "eau"),
        ("en_es", "water", "agua"),
        ("antonyms", "hot", "cold"),
        ("plural_singular", "mice", "mouse"),
        ("present_simple_gerund", "run", "running"),
        ("present_simple_past_simple", "go", "went"),
        ("person_language", "Victor Hugo", "French"),
        ("location_continent", "Kenya", "Africa"),
        ("location_religion", "Saudi Arabia", "Islam"),
    ],
)
def test_spot_check_facts(name: str, x: str, y: str) -> None:
    need_data(name)
    assert get_task(name).as_dict()[x] == y


def test_list_tasks_by_category_partitions() -> None:
    everything = list_tasks()
    by_cat = [n for c in dict.fromkeys(task_category(n) for n in everything) for n in list_tasks(c)]
    assert by_cat == everything
    algorithmic = list_tasks("algorithmic")
    assert algorithmic[:6] == list(PAPER_TASKS[:6])
    with pytest.raises(ValueError, match="unknown task category 'nope'"):
        list_tasks("nope")


def test_task_table_rows() -> None:
    rows = task_table()
    assert [r[0] for r in rows] == list_tasks()
    for name, cat, n in rows:
        assert cat == task_category(name)
        assert n == len(get_task(name))
    md = task_table_markdown("algorithmic")
    assert md.splitlines()[0] == "| task | category | pairs |"
    assert "| `next_letter`* | algorithmic | 25 |" in md
    assert "| `list_length` | algorithmic | 500 |" in md


def test_unknown_task_lists_names_and_suggests() -> None:
    with pytest.raises(ValueError) as info:
        get_task("to_uper")
    msg = str(info.value)
    assert "unknown task 'to_uper'" in msg
    assert "did you mean 'to_upper'" in msg
    for name in list_tasks():
        assert name in msg
    with pytest.raises(ValueError, match=r"unknown task 'qqqqqqqq'\. Available tasks: next_letter"):
        get_task("qqqqqqqq")


def test_missing_paper_data_file_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clear_registry_caches: Any
) -> None:
    monkeypatch.setattr(registry, "data_dir", lambda: tmp_path)
    (tmp_path / "extra_task.json").write_text(
        json.dumps({"name": "extra_task", "category": "translation", "pairs": [["a", "b"]]})
    )
    names = list_tasks()
    assert "antonyms" not in names  # missing optional file: not listed, no failure
    assert "extra_task" in list_tasks("translation")
    assert set(ALGORITHMIC_TASKS) <= set(names)
    with pytest.raises(ValueError, match=r"'antonyms' is a paper task .*antonyms\.json.* missing"):
        get_task("antonyms")


def test_data_file_name_mismatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clear_registry_caches: Any
) -> None:
    monkeypatch.setattr(registry, "data_dir", lambda: tmp_path)
    (tmp_path / "foo.json").write_text(json.dumps({"name": "bar", "pairs": [["a", "b"]]}))
    with pytest.raises(ValueError, match="names its task 'bar', expected 'foo'"):
        get_task("foo")


def test_get_task_from_path_and_passthrough(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("x,y\nz,w\n")
    for arg in (path, str(path)):
        task = get_task(arg)
        assert task.name == "mine" and task.category == "custom"
        assert task.pairs == (("x", "y"), ("z", "w"))
    task = get_task("to_upper")
    assert get_task(task) is task
    with pytest.raises(ValueError, match="no such file"):
        get_task(str(tmp_path / "absent.json"))


# --------------------------------------------------------------------------- sampling
def test_sample_hard_coded_first_example() -> None:
    ex = get_task("to_upper").sample(2, seed=0)[0]
    assert ex == ICLExample(
        demos=(("y", "Y"), ("c", "C"), ("w", "W"), ("k", "K"), ("q", "Q")),
        query="o",
        answer="O",
        dummy_queries=("s", "d"),
        task="to_upper",
    )


SNIPPET = (
    "from tvlens.tasks import get_task; "
    "print(repr(get_task('list_last').sample(3, seed=7)) + repr(get_task('to_lower').sample(3)))"
)


def test_sample_independent_of_hash_seed() -> None:
    outs = set()
    for hash_seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        proc = subprocess.run(
            [sys.executable, "-c", SNIPPET], env=env, capture_output=True, text=True, check=True
        )
        outs.add(proc.stdout)
    here = repr(get_task("list_last").sample(3, seed=7)) + repr(get_task("to_lower").sample(3))
    assert outs == {here + "\n"}


def test_sample_same_seed_same_examples_different_seeds_differ() -> None:
    task = get_task("list_first")
    a = task.sample(20, n_demos=4, n_dummy=2, seed=3)
    assert a == task.sample(20, n_demos=4, n_dummy=2, seed=3)
    assert a != task.sample(20, n_demos=4, n_dummy=2, seed=4)
    assert all(isinstance(e, ICLExample) for e in a)


@pytest.mark.parametrize("name", ["next_letter", "to_lower", "list_length", "fr_en", "antonyms"])
def test_sample_exclusions_over_many_samples(name: str) -> None:
    if name in DATA_TASKS:
        need_data(name)
    task = get_task(name)
    for seed in range(5):
        examples = task.sample(100, n_demos=5, n_dummy=3, seed=seed)
        assert len(examples) == 100
        check_examples(task, examples, 5, 3)


def test_queries_without_replacement_then_balanced() -> None:
    task = get_task("next_letter")
    queries = [e.query for e in task.sample(25, n_demos=2, seed=1)]
    assert sorted(queries) == sorted(task.inputs)
    counts = collections.Counter(e.query for e in task.sample(60, n_demos=2, seed=1))
    assert len(counts) == 25
    assert max(counts.values()) - min(counts.values()) <= 1


def test_zero_shot_and_no_dummies() -> None:
    task = get_task("to_upper")
    ex = task.sample(3, n_demos=0, n_dummy=0)
    assert all(e.demos == () and e.dummy_queries == () for e in ex)
    assert task.sample(0) == []


def test_exclude_queries() -> None:
    task = get_task("to_upper")
    banned = set("abcdefghijklm")
    examples = task.sample(100, n_demos=3, seed=0, exclude_queries=banned)
    assert not {e.query for e in examples} & banned
    check_examples(task, examples, 3, 2)
    with pytest.raises(ValueError, match="not the string"):
        task.sample(2, exclude_queries="abc")
    with pytest.raises(ValueError, match=r"'to_upper' has 26 pairs.*no query is left"):
        task.sample(2, exclude_queries=task.inputs)


@pytest.mark.parametrize("name", ["next_letter", "list_first", "country_capital"])
def test_dev_test_queries_disjoint(name: str) -> None:
    if name in DATA_TASKS:
        need_data(name)
    task = get_task(name)
    dev_q, test_q = task.split_queries(50, 50, seed=0)
    assert not set(dev_q) & set(test_q)
    if len(task) >= 100:
        assert len(dev_q) == len(test_q) == 50
    else:
        assert len(dev_q) + len(test_q) == len(task)
    dev, test = task.dev_test(50, 50, n_demos=5, n_dummy=2, seed=0)
    assert len(dev) == len(test) == 50
    assert {e.query for e in dev} <= set(dev_q)
    assert {e.query for e in test} <= set(test_q)
    check_examples(task, dev + test, 5, 2)
    assert (dev, test) == task.dev_test(50, 50, n_demos=5, n_dummy=2, seed=0)


def test_sample_errors_name_task_and_counts() -> None:
    task = Task.from_pairs("tiny", [("a", "b"), ("c", "d"), ("e", "f")])
    with pytest.raises(ValueError, match=r"'tiny' has 3 pairs.*5 demonstrations.*needs 6"):
        task.sample(1, n_demos=5)
    with pytest.raises(ValueError, match=r"'tiny' has 3 inputs.*2 besides.*n_dummy=3"):
        task.sample(1, n_demos=1, n_dummy=3)
    with pytest.raises(ValueError, match="must be >= 0"):
        task.sample(-1)
    with pytest.raises(ValueError, match="at least 2"):
        Task.from_pairs("one", [("a", "b")]).split_queries()


def test_custom_input_space_for_dummies() -> None:
    task = Task.from_pairs("up", [("a", "A"), ("b", "B"), ("c", "C")], input_space=["x", "y", "a"])
    assert task.input_space == ("x", "y", "a")
    for ex in task.sample(30, n_demos=2, n_dummy=2, seed=0):
        assert set(ex.dummy_queries) <= {"x", "y", "a"}
        assert ex.query not in ex.dummy_queries


# -------------------------------------------------------------------------- filtering
def test_filter_single_token_counts_on_tiny_tokenizer(tok: Any) -> None:
    upper = get_task("to_upper")
    multi = [("fr", "Paris"), ("ar", "Buenos Aires")]
    task = Task.from_pairs("mixed", [*upper.pairs, *multi], "algorithmic")
    ft = filter_single_token(task, tok, DEFAULT_FORMAT)
    assert isinstance(ft, FilteredTask)
    assert ft.n_kept + ft.n_dropped == ft.n_original == 28
    assert 0 < ft.n_kept < 28
    assert ft.n_kept == len(ft)
    for _, y in ft.pairs:
        assert len(answer_token_ids(tok, y, DEFAULT_FORMAT)) == 1
    for _, y in ft.dropped:
        assert len(answer_token_ids(tok, y, DEFAULT_FORMAT)) > 1
    assert set(multi) <= set(ft.dropped)
    assert ("b", "B") in ft.pairs
    assert ft.tokenizer_name == tok.name_or_path
    assert ft.format_name == "arrow"
    assert ft.input_space == task.input_space
    assert f"kept {ft.n_kept} of 28 pairs ({ft.n_dropped} dropped" in ft.summary()
    assert ft == task.single_token(tok)
    # without a leading space every letter is one token
    assert filter_single_token(upper, tok, PAPER_FORMAT).n_dropped == 0


def test_filter_drops_multi_token_answer(tok: Any) -> None:
    task = Task.from_pairs("caps", [("fr", "Paris"), ("x", "a"), ("y", "dog")])
    ft = task.single_token(tok)
    assert ("fr", "Paris") in ft.dropped
    assert "Paris" not in ft.outputs
    assert len(answer_token_ids(tok, "Paris", DEFAULT_FORMAT)) > 1
    assert ft.pairs == (("x", "a"), ("y", "dog"))
    # dummy queries still come from every input, including the dropped one
    assert "fr" in ft.input_space


def test_filtered_task_too_small_names_counts_and_tokenizer(tok: Any) -> None:
    ft = get_task("to_upper").single_token(tok)
    with pytest.raises(ValueError) as info:
        ft.sample(1, n_demos=ft.n_kept)
    msg = str(info.value)
    assert "'to_upper'" in msg
    assert f"kept {ft.n_kept}, dropped {ft.n_dropped}" in msg
    assert tok.name_or_path in msg
    with pytest.raises(ValueError, match=r"'caps': no answer is a single token.*dropped 1"):
        Task.from_pairs("caps", [("fr", "Paris")]).single_token(tok)


def test_for_model_uses_model_tokenizer(tok: Any) -> None:
    task = get_task("to_lower")
    assert for_model(task, SimpleNamespace(tokenizer=tok)) == filter_single_token(task, tok)
    with pytest.raises(ValueError, match="has no tokenizer"):
        for_model(task, SimpleNamespace(tokenizer=None))


def test_filtered_sampling_stays_valid(tok: Any) -> None:
    ft = get_task("to_lower").single_token(tok)
    examples = ft.sample(40, n_demos=3, n_dummy=2, seed=0)
    check_examples(ft, examples, 3, 2)
    kept = set(ft.outputs)
    assert all(e.answer in kept and all(y in kept for _, y in e.demos) for e in examples)


# ----------------------------------------------------------------------- custom tasks
def test_from_pairs_mapping_and_sequence() -> None:
    a = Task.from_pairs("t", {"a": "b", "c": "d"})
    b = Task.from_pairs("t", [("a", "b"), ("c", "d"), ("a", "b")])
    assert a == b
    assert a.category == "custom" and len(a) == 2
    with pytest.raises(
        ValueError, match=r"task 't': 1 conflicting duplicate input maps.*'a' -> 'b'"
    ):
        Task.from_pairs("t", [("a", "b"), ("a", "c")])
    with pytest.raises(ValueError, match="empty output"):
        Task.from_pairs("t", [("a", "")])
    with pytest.raises(ValueError, match="whitespace"):
        Task.from_pairs("t", [("a", " b")])
    with pytest.raises(ValueError, match="line break"):
        Task.from_pairs("t", [("a\nb", "c")])


PAIRS = [("chien", "dog"), ("été", "summer"), ("a, b", "c")]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("filename", "text"),
    [
        ("d.json", json.dumps(dict(PAIRS), ensure_ascii=False)),
        ("l.json", json.dumps([{"input": x, "output": y, "extra": 1} for x, y in PAIRS])),
        ("h.csv", 'input,output\nchien,dog\n\nété,summer\n"a, b",c\n'),
        ("n.csv", 'chien, dog\nété,summer\n"a, b",c\nchien,dog\n'),
        ("t.tsv", "INPUT\tOUTPUT\nchien\tdog\nété\tsummer\na, b\tc\n"),
        ("s.json", json.dumps({"pairs": [list(p) for p in PAIRS]})),
    ],
)
def test_custom_file_round_trip(tmp_path: Path, filename: str, text: str) -> None:
    task = Task.from_file(_write(tmp_path / filename, text))
    assert task.pairs == tuple(PAIRS)
    assert task.name == Path(filename).stem
    assert task.category == "custom"
    again = Task.from_file(task.to_json(tmp_path / "again.json"))
    assert again == task


def test_tvlens_schema_metadata_and_overrides(tmp_path: Path) -> None:
    task = Task.from_pairs("mine", PAIRS, "translation", description="fr->en", source="me")
    back = Task.from_file(task.to_json(tmp_path / "x.json"))
    assert back == task
    other = Task.from_file(tmp_path / "x.json", name="renamed", category="custom")
    assert (other.name, other.category, other.pairs) == ("renamed", "custom", task.pairs)


MALFORMED = [
    ("bad.json", "{not json", "not valid JSON"),
    ("shape.json", "42", "wrong shape"),
    ("strings.json", '["a", "b"]', "item 0 must be an object"),
    ("empty.json", "", "the file is empty"),
    ("emptydict.json", "{}", "object is empty"),
    ("emptylist.json", "[]", "list is empty"),
    ("emptypairs.json", '{"pairs": []}', '"pairs" is empty'),
    ("badpair.json", '{"pairs": [["a", "b", "c"]]}', r"pairs\[0\] must be \[input, output\]"),
    ("nonstr.json", '{"a": 1}', "non-string output 1"),
    ("nonstr2.json", '[{"input": "a", "output": ["b"]}]', "non-string output"),
    (
        "conflict.json",
        '[{"input": "a", "output": "b"}, {"input": "a", "output": "c"}]',
        r"conflicting duplicate input maps to more than one output: 'a' -> 'b' \| 'c'",
    ),
    ("emptystr.json", '{"a": ""}', "empty output"),
    ("cols.csv", "a,b\nc,d,e\n", "line 2 has 3 columns, expected 2"),
    ("onecol.tsv", "a\tb\nc\n", "line 2 has 1 columns"),
    ("emptycell.csv", "a,\n", "line 1 has an empty cell"),
    ("header.csv", "input,output\n", "no rows besides the header"),
    ("conflict.csv", "a,b\na,c\n", r"conflicting duplicate input maps.*: 'a' -> 'b' \| 'c'"),
    ("dupkey.json", '{"a": "b", "a": "c"}', r"conflicting duplicate input maps.*'a' -> 'b' \| 'c'"),
    (
        "dupitem.json",
        '[{"input": "a", "input": "x", "output": "b"}]',
        "item 0 has the key 'input' twice",
    ),
    ("duppairs.json", '{"pairs": [["a", "b"]], "pairs": [["c", "d"]]}', "key 'pairs' twice"),
    (
        "pairsdict.json",
        '{"pairs": {"a": "b"}}',
        '"pairs" must be a list of \\[input, output\\] pairs, got',
    ),
    ("pairsnum.json", '{"name": "x", "pairs": 3}', '"pairs" must be a list'),
    # Python 3.10's csv module refuses NUL itself; 3.11+ reads it into the cell
    ("nul.csv", "a,b\x00\nc,d\n", "control character '\\\\x00' in its output|not valid CSV"),
    ("tab.json", '{"a\\tb": "c"}', "control character '\\\\t' in its input"),
    ("nulljson.json", "null", "wrong shape.*got NoneType"),
    ("nonstrin.json", '[{"input": 1, "output": "b"}]', "non-string input 1"),
    ("nullout.json", '{"pairs": [["a", null]]}', "non-string output None"),
    ("ws.json", '{" ": "b"}', "empty input"),  # stripped, then empty
    ("quote.csv", '"a,b\nc,d\n', "line 1 has 1 columns.*quote"),
    ("huge.csv", "a," + "x" * 200_000 + "\n", r"line 1: not valid CSV \(field larger than"),
    ("task.txt", "a,b\n", "unsupported file type '.txt'"),
    ("meta.json", '{"name": 3, "pairs": [["a", "b"]]}', "'name' must be a string"),
]


@pytest.mark.parametrize(("filename", "text", "problem"), MALFORMED)
def test_malformed_files_name_file_and_problem(
    tmp_path: Path, filename: str, text: str, problem: str
) -> None:
    path = _write(tmp_path / filename, text)
    with pytest.raises(ValueError, match=problem) as info:
        Task.from_file(path)
    assert str(info.value).startswith(f"task file {str(path)!r}: ")


def test_missing_and_non_utf8_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        Task.from_file(tmp_path / "nope.json")
    path = tmp_path / "latin.csv"
    path.write_bytes("été,summer\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        Task.from_file(path)


def test_folder_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "dir.json"
    folder.mkdir()
    with pytest.raises(ValueError, match="is a folder, not a file"):
        Task.from_file(folder)


# ------------------------------------------------------------------ conflict policy
CONSOLES = [("SNES-CD", "Nintendo"), ("Wii", "Nintendo"), ("SNES-CD", "Sony"), ("PS1", "Sony")]
CONSOLE_FILES = {
    "c.csv": "input,output\n" + "".join(f"{x},{y}\n" for x, y in CONSOLES),
    "c.json": json.dumps([{"input": x, "output": y} for x, y in CONSOLES]),
}


@pytest.mark.parametrize("filename", sorted(CONSOLE_FILES))
def test_on_conflict_error_lists_inputs_outputs_and_the_fix(tmp_path: Path, filename: str) -> None:
    path = _write(tmp_path / filename, CONSOLE_FILES[filename])
    for read in (Task.from_file, read_task_file, get_task):
        with pytest.raises(ValueError) as info:
            read(path)
        msg = str(info.value)
        assert msg.startswith(f"task file {str(path)!r}: 1 conflicting duplicate input")
        assert "'SNES-CD' -> 'Nintendo' | 'Sony'" in msg
        assert 'on_conflict="first"' in msg and 'on_conflict="drop"' in msg
        assert "--on-conflict" in msg
        assert "Wii" not in msg


@pytest.mark.parametrize("filename", sorted(CONSOLE_FILES))
def test_on_conflict_first_and_drop(tmp_path: Path, filename: str) -> None:
    path = _write(tmp_path / filename, CONSOLE_FILES[filename])
    first = Task.from_file(path, on_conflict="first")
    assert first.pairs == (("SNES-CD", "Nintendo"), ("Wii", "Nintendo"), ("PS1", "Sony"))
    assert first.n_conflicts_dropped == 1
    drop = read_task_file(path, on_conflict="drop")
    assert drop.pairs == (("Wii", "Nintendo"), ("PS1", "Sony"))
    assert drop.n_conflicts_dropped == 2
    assert "SNES-CD" not in drop.input_space
    assert get_task(str(path), on_conflict="drop") == drop
    assert get_task(path, on_conflict="first").n_conflicts_dropped == 1


def test_on_conflict_counts_distinct_pairs_and_merges_exact_duplicates() -> None:
    raw = [("a", "1"), ("a", "2"), ("a", "2"), ("a", "3"), ("b", "1"), ("b", "1"), ("c", "x")]
    assert Task.from_pairs("t", raw[4:]).n_conflicts_dropped == 0
    assert Task.from_pairs("t", raw[4:]).pairs == (("b", "1"), ("c", "x"))
    first = Task.from_pairs("t", raw, on_conflict="first")
    assert first.pairs == (("a", "1"), ("b", "1"), ("c", "x"))
    assert first.n_conflicts_dropped == 2  # ("a", "2") and ("a", "3")
    drop = Task.from_pairs("t", raw, on_conflict="drop")
    assert drop.pairs == (("b", "1"), ("c", "x"))
    assert drop.n_conflicts_dropped == 3
    # provenance, not content: equal to the same pairs built without conflicts
    assert drop == Task.from_pairs("t", [("b", "1"), ("c", "x")])
    with pytest.raises(ValueError, match=r"no pairs left after on_conflict='drop' dropped all 2"):
        Task.from_pairs("t", [("a", "1"), ("a", "2")], on_conflict="drop")


def test_conflict_error_lists_at_most_five_and_counts_all() -> None:
    raw = [(f"x{i}", y) for i in range(8) for y in ("p", "q")]
    with pytest.raises(ValueError) as info:
        Task.from_pairs("many", raw)
    msg = str(info.value)
    assert msg.startswith("task 'many': 8 conflicting duplicate inputs map to more than one")
    assert all(f"'x{i}' -> 'p' | 'q'" in msg for i in range(5))
    assert "'x5'" not in msg and "(and 3 more)" in msg


def bare(fn: Any) -> Any:
    """``fn`` without the test session's jaxtyping + beartype wrapper (what users call).

    Under the wrapper a wrong type or ``Literal`` value fails with beartype's own
    ``TypeError`` before tvlens's check can name the fix; for a classmethod pass the
    class first.
    """
    return inspect.unwrap(fn)


def test_on_conflict_bad_value() -> None:
    for call in (
        lambda: bare(Task.from_pairs)(Task, "t", [("a", "b")], on_conflict="last"),
        lambda: bare(Task.from_file)(Task, "x.csv", on_conflict="last"),
        lambda: bare(read_task_file)("x.csv", on_conflict="last"),
        lambda: bare(get_task)("to_upper", on_conflict="keep"),
    ):
        with pytest.raises(ValueError, match="on_conflict must be one of 'error', 'first', 'drop'"):
            call()
    with pytest.raises(TypeError):  # beartype's, in this test session
        get_task("to_upper", on_conflict="keep")  # type: ignore[arg-type]


def test_registered_tasks_ignore_on_conflict() -> None:
    assert get_task("to_upper", on_conflict="drop") == get_task("to_upper")
    assert get_task("to_upper").n_conflicts_dropped == 0


def test_n_conflicts_dropped_survives_filtering(tok: Any) -> None:
    task = Task.from_pairs(
        "t", [("a", "dog"), ("a", "B"), ("c", "B"), ("e", "Paris")], on_conflict="first"
    )
    assert task.n_conflicts_dropped == 1
    for ft in (
        task.single_token(tok),
        filter_single_token(task, tok),
        for_model(task, SimpleNamespace(tokenizer=tok)),
    ):
        assert ft.n_conflicts_dropped == 1
        assert ft.n_dropped == 1  # "Paris" is several tokens
        assert "1 conflicting pairs dropped when the task was read" in ft.summary()
    assert "conflicting" not in get_task("to_upper").single_token(tok).summary()


def test_task_field_types() -> None:
    def task(*args: Any, **kwargs: Any) -> Task:
        obj = object.__new__(Task)
        bare(Task.__init__)(obj, *args, **kwargs)
        return obj

    with pytest.raises(TypeError, match="task 't': category must be a str, got None"):
        task("t", None, (("a", "b"),))
    with pytest.raises(TypeError, match="description must be a str, got 3"):
        task("t", "custom", (("a", "b"),), description=3)
    with pytest.raises(TypeError, match="input_space must be a collection of inputs"):
        Task.from_pairs("t", [("a", "b")], input_space="ab")
    with pytest.raises(TypeError, match="input_space must be a collection of inputs"):
        task("t", "custom", (("a", "b"),), input_space="ab")
    with pytest.raises(TypeError, match=r"pairs must be \(input, output\) pairs, not 'ab'"):
        Task.from_pairs("t", "ab")
    with pytest.raises(ValueError, match="n_conflicts_dropped must be an int >= 0"):
        Task("t", "custom", (("a", "b"),), n_conflicts_dropped=-1)
    with pytest.raises(TypeError, match="get_task takes a task name, a path or a Task, got None"):
        bare(get_task)(None)
    with pytest.raises(TypeError, match="task must be a tvlens Task, got dict"):
        bare(filter_single_token)({"a": "b"}, tiny_tokenizer())


def test_every_listed_task_fits_both_prompt_formats() -> None:
    """No task's data holds an arrow or a demo separator (the prompt builders refuse it)."""
    for name in list_tasks():
        task = get_task(name)
        for fmt in (DEFAULT_FORMAT, PAPER_FORMAT):
            arrow = fmt.arrow.strip()
            bad = [p for p in task.pairs if any(arrow in s or fmt.demo_sep in s for s in p)]
            assert not bad, (name, fmt.name, bad[:3])
            assert len(icl_prompts(task.sample(5, n_demos=2, n_dummy=1, seed=0), fmt)) == 5
