"""Checks on the word-translation task files built by scripts/build_translation_data.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parent.parent / "tvlens" / "tasks" / "data"
TASKS = ("fr_en", "es_en", "en_fr", "en_es", "en_it", "it_en")
KEYS = {"name", "category", "description", "source", "built_by", "version", "pairs"}
MIN_PAIRS = 300

# "input=output" pairs that must be present (unambiguous, common words)
SPOT_CHECKS = {
    "fr_en": (
        "chien=dog chat=cat maison=house rouge=red eau=water pain=bread trois=three main=hand "
        "mère=mother soleil=sun manger=eat vieux=old cœur=heart lundi=monday arbre=tree "
        "argent=money"
    ),
    "es_en": (
        "gato=cat perro=dog casa=house rojo=red agua=water pan=bread tres=three mano=hand "
        "madre=mother sol=sun comer=eat viejo=old corazón=heart lunes=monday árbol=tree "
        "niño=child"
    ),
    "en_fr": (
        "house=maison dog=chien cat=chat red=rouge water=eau bread=pain three=trois hand=main "
        "mother=mère sun=soleil eat=manger book=livre egg=œuf school=école green=vert "
        "eleven=onze"
    ),
    "en_es": (
        "dog=perro cat=gato house=casa red=rojo water=agua bread=pan three=tres hand=mano "
        "mother=madre sun=sol eat=comer book=libro year=año heart=corazón bird=pájaro "
        "sixteen=dieciséis"
    ),
    "en_it": (
        "dog=cane cat=gatto house=casa red=rosso water=acqua bread=pane three=tre hand=mano "
        "mother=madre sun=sole eat=mangiare book=libro city=città coffee=caffè friday=venerdì "
        "child=bambino"
    ),
    "it_en": (
        "cane=dog gatto=cat casa=house rosso=red acqua=water pane=bread tre=three mano=hand "
        "madre=mother sole=sun mangiare=eat libro=book città=city perché=why giovedì=thursday "
        "uomo=man"
    ),
}


def load(task: str) -> dict:
    return json.loads((DATA_DIR / f"{task}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("task", TASKS)
def test_file_exists(task: str) -> None:
    assert (DATA_DIR / f"{task}.json").is_file()


@pytest.mark.parametrize("task", TASKS)
def test_schema(task: str) -> None:
    data = load(task)
    assert set(data) == KEYS
    assert data["name"] == task
    assert data["category"] == "translation"
    assert data["version"] == 1
    assert data["built_by"] == "scripts/build_translation_data.py"
    assert isinstance(data["description"], str) and "->" in data["description"]
    assert isinstance(data["source"], str) and data["source"]
    for pair in data["pairs"]:
        assert isinstance(pair, list) and len(pair) == 2
        assert all(isinstance(word, str) for word in pair)


@pytest.mark.parametrize("task", TASKS)
def test_enough_pairs(task: str) -> None:
    assert len(load(task)["pairs"]) >= MIN_PAIRS


@pytest.mark.parametrize("task", TASKS)
def test_words_are_clean(task: str) -> None:
    for inp, out in load(task)["pairs"]:
        for word in (inp, out):
            assert word, (inp, out)
            assert word == word.strip().lower(), (inp, out)
            assert " " not in word, (inp, out)


@pytest.mark.parametrize("task", TASKS)
def test_no_conflicting_or_repeated_inputs(task: str) -> None:
    inputs = [inp for inp, _ in load(task)["pairs"]]
    assert len(inputs) == len(set(inputs))


@pytest.mark.parametrize("task", TASKS)
def test_no_identity_pairs(task: str) -> None:
    assert all(inp != out for inp, out in load(task)["pairs"])


@pytest.mark.parametrize("task", TASKS)
def test_sorted(task: str) -> None:
    pairs = load(task)["pairs"]
    assert pairs == sorted(pairs)


@pytest.mark.parametrize("task", TASKS)
def test_spot_checks(task: str) -> None:
    mapping = dict(load(task)["pairs"])
    assert len(SPOT_CHECKS[task].split()) >= 12
    for check in SPOT_CHECKS[task].split():
        inp, out = check.split("=")
        assert mapping.get(inp) == out, (inp, mapping.get(inp), out)


@pytest.mark.parametrize(("forward", "backward"), [("en_fr", "fr_en"), ("en_es", "es_en")])
def test_directions_share_one_lexicon(forward: str, backward: str) -> None:
    # every English word produced by a reverse task is also an input of the forward task
    english_inputs = {inp for inp, _ in load(forward)["pairs"]}
    for inp, out in load(backward)["pairs"]:
        assert out in english_inputs, (inp, out)
