"""Build the word-translation task files from the hand-authored lexicon.

Writes ``tvlens/tasks/data/{fr_en,es_en,en_fr,en_es,en_it,it_en}.json`` from
``scripts/translation_lexicon.py``. For every direction the first translation listed for an
input word wins (later conflicting rows are dropped), pairs whose two words are the same
once accents are ignored (e.g. "animal" -> "animal") are dropped, and the output is
sorted, so re-running the script reproduces the files byte for byte.

Usage: python scripts/build_translation_data.py
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from translation_lexicon import LEXICON

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "tvlens" / "tasks" / "data"
LANGS = ("en", "fr", "es", "it")
LANG_NAMES = {"en": "English", "fr": "French", "es": "Spanish", "it": "Italian"}
TASKS = ("fr_en", "es_en", "en_fr", "en_es", "en_it", "it_en")
MISSING = "-"
SOURCE = (
    "hand-authored English/French/Spanish/Italian word lexicon in "
    "scripts/translation_lexicon.py (standard dictionary translations of common words)"
)


def parse_lexicon(text: str) -> list[dict[str, str]]:
    """Parse ``english|french|spanish|italian`` lines into dicts keyed by language code."""
    rows = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) != len(LANGS):
            raise ValueError(f"lexicon line {lineno}: expected {len(LANGS)} cells: {raw!r}")
        for cell in cells:
            if cell == MISSING:
                continue
            if not cell.isalpha() or cell != cell.lower():
                raise ValueError(f"lexicon line {lineno}: bad word {cell!r}")
        rows.append(dict(zip(LANGS, cells, strict=True)))
    return rows


def fold(word: str) -> str:
    """Lowercase and strip diacritics (and expand ligatures) for the identity check."""
    word = word.replace("œ", "oe").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def build_pairs(rows: list[dict[str, str]], src: str, tgt: str) -> tuple[list, list]:
    """Return (sorted pairs, dropped conflicts) for one direction."""
    chosen: dict[str, str] = {}
    conflicts = []
    for row in rows:
        inp, out = row[src], row[tgt]
        if MISSING in (inp, out) or fold(inp) == fold(out):
            continue
        if inp in chosen:
            if chosen[inp] != out:
                conflicts.append((inp, chosen[inp], out))
            continue
        chosen[inp] = out
    return sorted(chosen.items()), conflicts


def render(task: str, pairs: list[tuple[str, str]]) -> str:
    """Serialise one task file: header keys, then one pair per line."""
    src, tgt = task.split("_")
    header = {
        "name": task,
        "category": "translation",
        "description": f"{LANG_NAMES[src]} word -> {LANG_NAMES[tgt]} word",
        "source": SOURCE,
        "built_by": "scripts/build_translation_data.py",
        "version": 1,
    }
    lines = ["{"]
    for key, value in header.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
    lines.append('  "pairs": [')
    body = [f"    {json.dumps(list(pair), ensure_ascii=False)}" for pair in pairs]
    lines.append(",\n".join(body))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    rows = parse_lexicon(LEXICON)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for task in TASKS:
        src, tgt = task.split("_")
        pairs, conflicts = build_pairs(rows, src, tgt)
        text = render(task, pairs)
        json.loads(text)  # sanity: the hand-rolled layout must be valid JSON
        (DATA_DIR / f"{task}.json").write_text(text, encoding="utf-8")
        dropped = ", ".join(f"{i}->{b} (kept {a})" for i, a, b in conflicts)
        print(f"{task}: {len(pairs)} pairs; dropped duplicates: {dropped or 'none'}")


if __name__ == "__main__":
    main()
