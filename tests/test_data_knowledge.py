"""Checks of the committed knowledge task data (tvlens/tasks/data/*.json).

Reads the JSON files directly; does not import tvlens.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

DATA_DIR = Path(__file__).resolve().parent.parent / "tvlens" / "tasks" / "data"

MIN_COUNTS = {
    "country_capital": 150,
    "location_continent": 400,
    "location_religion": 250,
    "person_language": 200,
}
TASKS = sorted(MIN_COUNTS)
SCHEMA_KEYS = {"name", "category", "description", "source", "built_by", "version", "pairs"}

CONTINENTS = {
    "Africa",
    "Asia",
    "Europe",
    "North America",
    "South America",
    "Oceania",
    "Antarctica",
}
RELIGIONS = {"Christianity", "Islam", "Hinduism", "Buddhism", "Judaism"}
ALLOWED_OUTPUTS = {"location_continent": CONTINENTS, "location_religion": RELIGIONS}

SPOT_CHECKS: dict[str, dict[str, str]] = {
    "country_capital": {
        "France": "Paris",
        "Germany": "Berlin",
        "Japan": "Tokyo",
        "Italy": "Rome",
        "Canada": "Ottawa",
        "Australia": "Canberra",
        "Brazil": "Brasilia",
        "Egypt": "Cairo",
        "Kenya": "Nairobi",
        "India": "New Delhi",
        "Turkey": "Ankara",
        "Netherlands": "Amsterdam",
        "South Africa": "Pretoria",
        "Kazakhstan": "Astana",
        "Peru": "Lima",
        "Nigeria": "Abuja",
        "Ukraine": "Kyiv",
        "Vatican City": "Vatican City",
    },
    "location_continent": {
        "France": "Europe",
        "Paris": "Europe",
        "London": "Europe",
        "Tokyo": "Asia",
        "Mumbai": "Asia",
        "Novosibirsk": "Asia",
        "Nairobi": "Africa",
        "Cairo": "Africa",
        "Brazil": "South America",
        "Buenos Aires": "South America",
        "Toronto": "North America",
        "Texas": "North America",
        "Sydney": "Oceania",
        "New Zealand": "Oceania",
        "Eiffel Tower": "Europe",
        "Great Wall of China": "Asia",
        "Machu Picchu": "South America",
        "Mount Kilimanjaro": "Africa",
        "South Pole": "Antarctica",
        "Greenland": "North America",
    },
    "location_religion": {
        "Italy": "Christianity",
        "Brazil": "Christianity",
        "Poland": "Christianity",
        "Philippines": "Christianity",
        "Saudi Arabia": "Islam",
        "Indonesia": "Islam",
        "Pakistan": "Islam",
        "Turkey": "Islam",
        "India": "Hinduism",
        "Nepal": "Hinduism",
        "Thailand": "Buddhism",
        "Cambodia": "Buddhism",
        "Israel": "Judaism",
        "Mecca": "Islam",
        "Varanasi": "Hinduism",
        "Rome": "Christianity",
        "Bangkok": "Buddhism",
        "Tel Aviv": "Judaism",
    },
    "person_language": {
        "Victor Hugo": "French",
        "Johann Wolfgang von Goethe": "German",
        "Dante Alighieri": "Italian",
        "Leo Tolstoy": "Russian",
        "William Shakespeare": "English",
        "Miguel de Cervantes": "Spanish",
        "José Saramago": "Portuguese",
        "Haruki Murakami": "Japanese",
        "Lu Xun": "Chinese",
        "Naguib Mahfouz": "Arabic",
        "Vincent van Gogh": "Dutch",
        "Astrid Lindgren": "Swedish",
        "Henrik Ibsen": "Norwegian",
        "Wisława Szymborska": "Polish",
        "Orhan Pamuk": "Turkish",
        "Rabindranath Tagore": "Bengali",
        "Cicero": "Latin",
        "Plato": "Greek",
    },
}

# Places left out on purpose (transcontinental, or no clear majority religion).
MUST_BE_ABSENT: dict[str, set[str]] = {
    "location_continent": {"Russia", "Turkey", "Georgia", "Istanbul", "Valencia", "Hawaii"},
    "location_religion": {"Japan", "China", "Lebanon", "Nigeria", "Bosnia and Herzegovina"},
}


def _load(task: str) -> dict[str, Any]:
    path = DATA_DIR / f"{task}.json"
    assert path.is_file(), f"missing {path}"
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module", params=TASKS)
def task_data(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, _load(request.param)


def test_schema(task_data: tuple[str, dict[str, Any]]) -> None:
    task, data = task_data
    assert set(data) == SCHEMA_KEYS
    assert data["name"] == task
    assert data["category"] == "knowledge"
    assert data["built_by"] == "scripts/build_knowledge_data.py"
    assert data["version"] == 1
    for key in ("description", "source"):
        assert isinstance(data[key], str) and data[key].strip()


def test_min_count(task_data: tuple[str, dict[str, Any]]) -> None:
    task, data = task_data
    assert len(data["pairs"]) >= MIN_COUNTS[task]


def test_pairs_well_formed(task_data: tuple[str, dict[str, Any]]) -> None:
    _, data = task_data
    for pair in data["pairs"]:
        assert isinstance(pair, list) and len(pair) == 2, pair
        for item in pair:
            assert isinstance(item, str), pair
            assert item.strip() == item and item, pair


def test_no_header_row(task_data: tuple[str, dict[str, Any]]) -> None:
    _, data = task_data
    first_in, first_out = data["pairs"][0]
    assert first_in.lower() not in {"input", "country", "location", "person", "name"}
    assert first_out.lower() not in {"output", "capital", "continent", "religion", "language"}


def test_no_conflicting_duplicates(task_data: tuple[str, dict[str, Any]]) -> None:
    _, data = task_data
    outputs: dict[str, set[str]] = defaultdict(set)
    for x, y in data["pairs"]:
        outputs[x].add(y)
    conflicts = {x: ys for x, ys in outputs.items() if len(ys) > 1}
    assert not conflicts
    assert len(outputs) == len(data["pairs"]), "exact duplicate pairs"


@pytest.mark.parametrize("task", sorted(ALLOWED_OUTPUTS))
def test_outputs_in_allowed_set(task: str) -> None:
    outputs = {y for _, y in _load(task)["pairs"]}
    assert outputs <= ALLOWED_OUTPUTS[task], outputs - ALLOWED_OUTPUTS[task]


def test_all_continents_present() -> None:
    outputs = {y for _, y in _load("location_continent")["pairs"]}
    assert outputs == CONTINENTS


def test_person_language_variety() -> None:
    outputs = {y for _, y in _load("person_language")["pairs"]}
    assert len(outputs) >= 15


@pytest.mark.parametrize("task", TASKS)
def test_spot_checks(task: str) -> None:
    mapping = dict(_load(task)["pairs"])
    expected = SPOT_CHECKS[task]
    assert len(expected) >= 12
    wrong = {x: (mapping.get(x), y) for x, y in expected.items() if mapping.get(x) != y}
    assert not wrong


@pytest.mark.parametrize("task", sorted(MUST_BE_ABSENT))
def test_ambiguous_places_left_out(task: str) -> None:
    inputs = {x for x, _ in _load(task)["pairs"]}
    assert not inputs & MUST_BE_ABSENT[task]
