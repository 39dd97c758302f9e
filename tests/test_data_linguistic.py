"""Checks of the committed linguistic task data (tvlens/tasks/data/*.json).

Reads the JSON files directly; does not import tvlens.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parent.parent / "tvlens" / "tasks" / "data"

MIN_COUNTS = {
    "present_simple_gerund": 500,
    "present_simple_past_simple": 500,
    "present_simple_past_perfect": 500,
    "plural_singular": 300,
    "singular_plural": 300,
    "antonyms": 200,
}
TASKS = sorted(MIN_COUNTS)
SCHEMA_KEYS = {"name", "category", "description", "source", "built_by", "version", "pairs"}
WORD_RE = re.compile(r"^[a-z]+$")


def _pairs(text: str) -> dict[str, str]:
    """Parse whitespace-separated ``input>output`` tokens."""
    return dict(tok.split(">") for tok in text.split())


SPOT_CHECKS = {
    "present_simple_gerund": _pairs(
        """
        go>going swim>swimming run>running make>making die>dying tie>tying
        panic>panicking sit>sitting write>writing see>seeing stop>stopping play>playing
        travel>traveling begin>beginning have>having
        """
    ),
    "present_simple_past_simple": _pairs(
        """
        go>went walk>walked run>ran see>saw eat>ate take>took buy>bought think>thought
        write>wrote try>tried stop>stopped begin>began have>had do>did swim>swam
        dream>dreamed learn>learned
        """
    ),
    "present_simple_past_perfect": _pairs(
        """
        go>gone eat>eaten write>written take>taken see>seen swim>swum begin>begun
        do>done know>known walk>walked fly>flown break>broken get>gotten give>given
        buy>bought
        """
    ),
    "plural_singular": _pairs(
        """
        children>child mice>mouse men>man women>woman feet>foot teeth>tooth geese>goose
        cats>cat babies>baby boxes>box knives>knife wolves>wolf people>person
        cities>city dogs>dog churches>church
        """
    ),
    "singular_plural": _pairs(
        """
        cat>cats child>children person>people mouse>mice city>cities box>boxes
        knife>knives tooth>teeth foot>feet potato>potatoes wife>wives leaf>leaves
        baby>babies woman>women
        """
    ),
    "antonyms": _pairs(
        """
        hot>cold cold>hot big>small good>bad fast>slow happy>sad up>down open>closed
        rich>poor early>late true>false win>lose buy>sell young>old
        """
    ),
}

# Inputs that must never appear: ambiguous or uncountable words.
MUST_BE_ABSENT = {
    "present_simple_past_simple": {"be", "can", "lie", "hang", "found", "put", "cut"},
    "present_simple_past_perfect": {"be", "can", "lie", "hang", "found", "put", "come"},
    "singular_plural": {"sheep", "fish", "information", "advice", "series", "data"},
    "plural_singular": {"sheep", "leaves", "bases", "axes", "does", "news"},
}


def load(name: str) -> dict:
    path = DATA_DIR / f"{name}.json"
    assert path.is_file(), f"missing data file {path}"
    with path.open(encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module", params=TASKS)
def task(request) -> tuple[str, dict]:
    return request.param, load(request.param)


def test_schema(task):
    name, doc = task
    assert set(doc) == SCHEMA_KEYS
    assert doc["name"] == name
    assert doc["category"] == "linguistic"
    assert doc["built_by"] == "scripts/build_linguistic_data.py"
    assert doc["version"] == 1
    for key in ("description", "source"):
        assert isinstance(doc[key], str) and doc[key].strip()
    assert isinstance(doc["pairs"], list)


def test_source_records_versions(task):
    name, doc = task
    if name == "antonyms":
        assert "hand" in doc["source"].lower()
    else:
        assert re.search(r"lemminflect \d+\.\d+", doc["source"]), doc["source"]
        assert re.search(r"wordfreq \d+\.\d+", doc["source"]), doc["source"]


def test_min_count(task):
    name, doc = task
    assert len(doc["pairs"]) >= MIN_COUNTS[name]


def test_pairs_well_formed(task):
    _, doc = task
    for pair in doc["pairs"]:
        assert isinstance(pair, list) and len(pair) == 2, pair
        for word in pair:
            assert isinstance(word, str) and word, pair
            assert WORD_RE.match(word), f"not a lowercase single word: {pair}"


def test_no_identity_or_conflicts(task):
    _, doc = task
    outputs = defaultdict(set)
    for inp, out in doc["pairs"]:
        assert inp != out, f"identity pair {inp}"
        outputs[inp].add(out)
    conflicts = {k: v for k, v in outputs.items() if len(v) > 1}
    assert not conflicts
    assert len({tuple(p) for p in doc["pairs"]}) == len(doc["pairs"]), "duplicate pairs"


def test_spot_checks(task):
    name, doc = task
    mapping = dict(map(tuple, doc["pairs"]))
    expected = SPOT_CHECKS[name]
    assert len(expected) >= 12
    wrong = {k: (mapping.get(k), v) for k, v in expected.items() if mapping.get(k) != v}
    assert not wrong, f"{name}: (found, expected) {wrong}"


def test_ambiguous_inputs_absent(task):
    name, doc = task
    inputs = {inp for inp, _ in doc["pairs"]}
    assert not inputs & MUST_BE_ABSENT.get(name, set())


def test_plural_tasks_are_consistent():
    sing_plural = {tuple(p) for p in load("singular_plural")["pairs"]}
    plural_sing = {(s, p) for p, s in load("plural_singular")["pairs"]}
    assert plural_sing <= sing_plural


def test_verb_tasks_share_base_forms():
    gerund = {inp for inp, _ in load("present_simple_gerund")["pairs"]}
    for name in ("present_simple_past_simple", "present_simple_past_perfect"):
        inputs = {inp for inp, _ in load(name)["pairs"]}
        assert inputs <= gerund


def test_antonyms_symmetric():
    mapping = dict(map(tuple, load("antonyms")["pairs"]))
    for a, b in mapping.items():
        assert mapping.get(b, a) == a, f"{a} -> {b} but {b} -> {mapping[b]}"
