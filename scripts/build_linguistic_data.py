"""Build the linguistic ICL task data files in ``tvlens/tasks/data``.

Tasks written (all category ``linguistic``):

* ``present_simple_gerund``        go -> going
* ``present_simple_past_simple``   go -> went
* ``present_simple_past_perfect``  go -> gone (past participle, the form used after "had")
* ``singular_plural``              cat -> cats
* ``plural_singular``              cats -> cat
* ``antonyms``                     hot -> cold (hand-authored)

Sources: candidate words are the most frequent English words of ``wordfreq``; parts of speech
and inflections come from ``lemminflect``'s dictionary (no out-of-vocabulary rules); plurals
are cross-checked against ``inflect``. Irregular forms, exclusions and antonyms are hand-written
in ``scripts/linguistic_lexicon.py``.

The script is deterministic: the same package versions give byte-identical files. Usage::

    pip install lemminflect inflect wordfreq
    python scripts/build_linguistic_data.py [--verbose] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import inflect
import lemminflect
import wordfreq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from linguistic_lexicon import (
    AMERICAN_VERB_FORMS,
    ANTONYM_PAIRS,
    BLOCKED_WORDS,
    EXCLUDED_NOUNS,
    EXCLUDED_VERBS,
    GERUND_OVERRIDES,
    IRREGULAR_NOUNS,
    IRREGULAR_VERBS,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tvlens" / "tasks" / "data"
BUILT_BY = "scripts/build_linguistic_data.py"
FORMAT_VERSION = 1

# Candidate words: this many most frequent English words of wordfreq.
TOP_N = 25_000
# Minimum Zipf frequency (wordfreq, English) of every word in a generated pair.
MIN_ZIPF_VERB_BASE = 3.5
MIN_ZIPF_VERB_FORM = 3.0
MIN_ZIPF_NOUN = 3.5
# A plural much rarer than its singular marks a mostly uncountable noun (advice/advices).
MAX_NOUN_ZIPF_DROP = 2.0
# Stricter limit when lemminflect also lists the bare singular as a plural (uncountable use).
MAX_NOUN_ZIPF_DROP_MASS = 1.0
# A verb must have an inflected form (past or -ing) at most this much rarer than its base form;
# this drops words that are nearly always nouns/adjectives (case -> cased, key -> keyed).
MAX_VERB_ZIPF_DROP = 1.5
# A noun that is also a verb is dropped when an inflected verb form (past or -ing) is within
# this distance of the base form: the word is mostly a verb (go -> goes, find -> finds).
MIN_NOUN_VERB_GAP = 0.5
# A spelling variant is chosen when it is this much more frequent than the others.
MIN_ZIPF_VARIANT_GAP = 1.0

WORD_RE = re.compile(r"^[a-z]+$")
VOWELS = set("aeiou")

_INFLECT = inflect.engine()


def zipf(word: str) -> float:
    return wordfreq.zipf_frequency(word, "en")


def pkg_versions(*names: str) -> str:
    return ", ".join(f"{name} {version(name)}" for name in names)


# --------------------------------------------------------------------------- spelling rules


def _ends_consonant_y(word: str) -> bool:
    return len(word) > 1 and word.endswith("y") and word[-2] not in VOWELS


def regular_past_candidates(base: str) -> set[str]:
    """All spellings the regular -ed rules can produce (used as a sanity check only)."""
    out = {base + "ed"}
    if base.endswith("e"):
        out.add(base + "d")
    if _ends_consonant_y(base):
        out.add(base[:-1] + "ied")
    if base[-1] not in VOWELS and base[-1] not in "wxy":
        out.add(base + base[-1] + "ed")
    if base.endswith("c"):
        out.add(base + "ked")
    return out


def gerund_candidates(base: str) -> set[str]:
    """All spellings the -ing rules can produce (used as a sanity check only)."""
    out = {base + "ing"}
    if base.endswith("ie"):
        out.add(base[:-2] + "ying")
    elif base.endswith("e") and not base.endswith(("ee", "ye", "oe")):
        out.add(base[:-1] + "ing")
    if base[-1] not in VOWELS and base[-1] not in "wxy":
        out.add(base + base[-1] + "ing")
    if base.endswith("c"):
        out.add(base + "king")
    return out


def regular_plural_candidates(singular: str) -> set[str]:
    out = {singular + "s"}
    if singular.endswith(("s", "x", "z", "ch", "sh", "o")):
        out.add(singular + "es")
    if _ends_consonant_y(singular):
        out.add(singular[:-1] + "ies")
    if singular.endswith("man"):
        out.add(singular[:-3] + "men")
    return out


def _is_double_l_variant(short: str, long: str) -> bool:
    for suffix in ("ed", "ing"):
        if short.endswith("l" + suffix) and long == short[: -len(suffix)] + "l" + suffix:
            return True
    return False


def resolve_variants(forms: tuple[str, ...]) -> str | None:
    """Pick one spelling out of lemminflect's variants, or None if there is no clear choice.

    * traveled/travelled: the American single-l spelling;
    * otherwise a variant at least 10x more frequent (wordfreq) than every other one
      (referring vs. the misspelling refering); variants of similar frequency give None.
    """
    forms = tuple(dict.fromkeys(forms))
    if len(forms) == 1:
        return forms[0]
    if len(forms) == 2:
        a, b = sorted(forms, key=len)
        if _is_double_l_variant(a, b):
            return a
    if not forms:
        return None
    ranked = sorted(forms, key=lambda f: (-zipf(f), f))
    if zipf(ranked[0]) - zipf(ranked[1]) >= MIN_ZIPF_VARIANT_GAP:
        return ranked[0]
    return None


def american_spelling(word: str, upos: str) -> str | None:
    """The American spelling of a British-spelled lemma (colour -> color), if it exists.

    Only returned when the American form is a lemma of the same part of speech and is more
    frequent (so advertise is kept although lemminflect also knows advertize).
    """
    swaps = [("ise", "ize"), ("yse", "yze"), ("isation", "ization")]
    if upos == "NOUN":
        swaps += [("tre", "ter"), ("bre", "ber"), ("ence", "ense"), ("our", "or")]
    else:
        swaps += [("our", "or")]
    for brit, amer in swaps:
        if word.endswith(brit) and len(word) > len(brit) + 2:
            cand = word[: -len(brit)] + amer
            if lemminflect.getAllLemmas(cand).get(upos) == (cand,) and zipf(cand) > zipf(word):
                return cand
    return None


# --------------------------------------------------------------------------- helpers


class DropLog:
    """Records why candidates were dropped (printed with --verbose)."""

    def __init__(self) -> None:
        self.reasons: dict[str, dict[str, list[str]]] = {}

    def add(self, task: str, reason: str, word: str) -> None:
        self.reasons.setdefault(task, {}).setdefault(reason, []).append(word)

    def report(self, verbose: bool) -> None:
        for task, reasons in self.reasons.items():
            print(f"[{task}] dropped:")
            for reason, words in sorted(reasons.items()):
                print(f"  {reason}: {len(words)}")
                if verbose:
                    print("    " + " ".join(sorted(words)))


def candidate_words() -> list[str]:
    words = []
    for w in wordfreq.top_n_list("en", TOP_N):
        if WORD_RE.match(w) and len(w) >= 2 and w not in BLOCKED_WORDS:
            words.append(w)
    return words


def _norm(lemma: str) -> str:
    return re.sub(r"[- ]", "", lemma)


def only_self_lemma(word: str, lemmas: dict[str, tuple[str, ...]]) -> bool:
    """True if every lemma of ``word`` (any part of speech) is ``word`` itself.

    Hyphenated spellings (over-come) count as the same lemma.
    """
    return all({_norm(lem) for lem in tup} == {word} for tup in lemmas.values())


# --------------------------------------------------------------------------- verbs


def build_verbs(words: list[str], log: DropLog) -> dict[str, tuple[str, str, str]]:
    """Return base -> (gerund, simple past, past participle)."""
    verbs: dict[str, tuple[str, str, str]] = {}
    candidates = list(dict.fromkeys(list(IRREGULAR_VERBS) + list(AMERICAN_VERB_FORMS) + words))
    for base in candidates:
        lemmas = lemminflect.getAllLemmas(base)
        if "VERB" not in lemmas:
            continue  # not a verb at all; not worth logging
        if base in EXCLUDED_VERBS:
            log.add("verbs", "hand-excluded (modal, competing forms, base is a past form)", base)
            continue
        verb_lemmas = {_norm(lem) for lem in lemmas["VERB"]}
        if base not in verb_lemmas:
            continue  # an inflected form (walked, going), not a base form
        if base not in IRREGULAR_VERBS and verb_lemmas != {base}:
            log.add("verbs", "base form is also an inflection of another verb", base)
            continue
        infl = lemminflect.getAllInflections(base, upos="VERB")
        gerund = GERUND_OVERRIDES.get(base) or resolve_variants(infl.get("VBG", ()))
        if gerund is None or gerund not in gerund_candidates(base):
            log.add("verbs", "no clear regular -ing form in lemminflect", base)
            continue
        if base in IRREGULAR_VERBS:
            past, participle = IRREGULAR_VERBS[base]
        elif base in AMERICAN_VERB_FORMS:
            past, participle = AMERICAN_VERB_FORMS[base]
        else:
            past = resolve_variants(infl.get("VBD", ()))
            if past is None:
                log.add("verbs", "several past forms in lemminflect, no clear choice", base)
                continue
            if past not in regular_past_candidates(base):
                log.add("verbs", "irregular in lemminflect but not in the hand table", base)
                continue
            # regular verb: participle == past; lemminflect's VBN must agree (up to -l doubling)
            participles = infl.get("VBN", (past,))
            if past not in participles and not any(
                _is_double_l_variant(past, vbn) for vbn in participles
            ):
                log.add("verbs", "lemminflect past and participle disagree", base)
                continue
            participle = past
            doubled_past = past == base + base[-1] + "ed"
            doubled_gerund = gerund == base + base[-1] + "ing"
            if doubled_past != doubled_gerund:
                log.add("verbs", "inconsistent consonant doubling (-ed vs -ing)", base)
                continue
        if american_spelling(base, "VERB"):
            log.add("verbs", "British spelling of an American verb", base)
            continue
        if zipf(base) < MIN_ZIPF_VERB_BASE or min(zipf(gerund), zipf(past)) < MIN_ZIPF_VERB_FORM:
            log.add("verbs", "too rare (wordfreq)", base)
            continue
        if max(zipf(gerund), zipf(past)) < zipf(base) - MAX_VERB_ZIPF_DROP:
            log.add("verbs", "rarely a verb (inflected forms much rarer than base)", base)
            continue
        if {gerund, past, participle} & BLOCKED_WORDS:
            continue
        verbs[base] = (gerund, past, participle)
    return verbs


# --------------------------------------------------------------------------- nouns


def build_nouns(words: list[str], log: DropLog) -> dict[str, str]:
    """Return singular -> plural."""
    nouns: dict[str, str] = {}
    candidates = list(dict.fromkeys(list(IRREGULAR_NOUNS) + words))
    for sing in candidates:
        if sing in EXCLUDED_NOUNS:
            log.add("nouns", "hand-excluded (zero/several plurals, uncountable, name)", sing)
            continue
        if sing in IRREGULAR_NOUNS:
            nouns[sing] = IRREGULAR_NOUNS[sing]
            continue
        lemmas = lemminflect.getAllLemmas(sing)
        if "NOUN" not in lemmas:
            continue
        if sing not in {_norm(lem) for lem in lemmas["NOUN"]}:
            continue  # an inflected form (cats), not a singular
        if not only_self_lemma(sing, lemmas):
            log.add("nouns", "singular is also an inflection of another word", sing)
            continue
        if set(lemmas) - {"NOUN", "VERB"}:
            log.add("nouns", "also an adjective/adverb/pronoun/... (confusing)", sing)
            continue
        plurals = lemminflect.getAllInflections(sing, upos="NOUN").get("NNS", ())
        uncountable_use = sing in plurals
        plurals = tuple(p for p in plurals if p != sing)
        if len(plurals) != 1:
            log.add("nouns", "zero or several plurals in lemminflect", sing)
            continue
        plural = plurals[0]
        if plural != _INFLECT.plural_noun(sing):
            log.add("nouns", "lemminflect and inflect disagree", sing)
            continue
        if plural not in regular_plural_candidates(sing):
            log.add("nouns", "irregular in lemminflect but not in the hand table", sing)
            continue
        if min(zipf(sing), zipf(plural)) < MIN_ZIPF_NOUN:
            log.add("nouns", "too rare (wordfreq)", sing)
            continue
        max_drop = MAX_NOUN_ZIPF_DROP_MASS if uncountable_use else MAX_NOUN_ZIPF_DROP
        if zipf(sing) - zipf(plural) > max_drop:
            log.add("nouns", "plural much rarer than singular (mostly uncountable)", sing)
            continue
        if "VERB" in lemmas:
            vinfl = lemminflect.getAllInflections(sing, upos="VERB")
            verb_zipf = max(
                [zipf(f) for tag in ("VBD", "VBG") for f in vinfl.get(tag, ())] or [0.0]
            )
            if verb_zipf > zipf(sing) - MIN_NOUN_VERB_GAP:
                log.add("nouns", "mostly a verb (go -> goes, find -> finds)", sing)
                continue
        if american_spelling(sing, "NOUN"):
            log.add("nouns", "British spelling of an American noun", sing)
            continue
        if plural in BLOCKED_WORDS:
            continue
        nouns[sing] = plural
    return nouns


def plural_is_unambiguous(sing: str, plural: str) -> bool:
    """True if ``plural`` can only be read as the plural of ``sing``.

    Drops e.g. leaves (leaf / leave), bases (base / basis), does (doe / do).
    """
    lemmas = lemminflect.getAllLemmas(plural)
    if sing in IRREGULAR_NOUNS:
        nouns = {_norm(lem) for lem in lemmas.get("NOUN", (sing,))}
        return nouns <= {sing, plural}
    return only_self_lemma(sing, lemmas)


# --------------------------------------------------------------------------- output


def check_pairs(name: str, pairs: list[tuple[str, str]]) -> None:
    inputs = Counter(a for a, _ in pairs)
    dup = [a for a, n in inputs.items() if n > 1]
    assert not dup, f"{name}: duplicated inputs {dup[:10]}"
    for a, b in pairs:
        assert WORD_RE.match(a) and WORD_RE.match(b), (name, a, b)
        assert a != b, (name, a)


def write_task(
    out_dir: Path, name: str, description: str, source: str, pairs: list[tuple[str, str]]
) -> None:
    pairs = sorted(set(pairs))
    check_pairs(name, pairs)
    doc = {
        "name": name,
        "category": "linguistic",
        "description": description,
        "source": source,
        "built_by": BUILT_BY,
        "version": FORMAT_VERSION,
        "pairs": [list(p) for p in pairs],
    }
    path = out_dir / f"{name}.json"
    text = json.dumps(doc, ensure_ascii=False, indent=None, separators=(", ", ": "))
    # one pair per line keeps diffs readable
    text = text.replace('"pairs": [[', '"pairs": [\n  [').replace("], [", "],\n  [")
    text = text[: -len("]]}")] + "]\n]}\n" if text.endswith("]]}") else text + "\n"
    path.write_text(text, encoding="utf-8")
    print(
        f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {len(pairs)} pairs"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--verbose", action="store_true", help="list every dropped word")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    log = DropLog()
    words = candidate_words()
    verbs = build_verbs(words, log)
    nouns = build_nouns(words, log)

    verb_source = (
        f"Generated from {pkg_versions('lemminflect', 'wordfreq')}: common base verbs "
        "(wordfreq) with their lemminflect inflections; irregular verbs and American-spelling "
        "choices hand-checked (scripts/linguistic_lexicon.py)."
    )
    noun_source = (
        f"Generated from {pkg_versions('lemminflect', 'inflect', 'wordfreq')}: common "
        "countable nouns (wordfreq) whose lemminflect plural agrees with inflect; irregular "
        "plurals hand-checked (scripts/linguistic_lexicon.py)."
    )

    gerund = [(b, g) for b, (g, _, _) in verbs.items()]
    past = [(b, p) for b, (_, p, _) in verbs.items() if p != b]
    perfect = [(b, pp) for b, (_, _, pp) in verbs.items() if pp != b]
    for b, (_, p, pp) in verbs.items():
        if p == b:
            log.add("present_simple_past_simple", "past form equals base form", b)
        if pp == b:
            log.add("present_simple_past_perfect", "participle equals base form", b)
    write_task(
        args.out,
        "present_simple_gerund",
        "present-simple verb (base form) -> its gerund / present participle (-ing form)",
        verb_source,
        gerund,
    )
    write_task(
        args.out,
        "present_simple_past_simple",
        "present-simple verb (base form) -> its simple past form",
        verb_source,
        past,
    )
    write_task(
        args.out,
        "present_simple_past_perfect",
        "present-simple verb (base form) -> its past participle, the form used after "
        "'had' in the past perfect (go -> gone)",
        verb_source,
        perfect,
    )

    sing_plural = list(nouns.items())
    plural_sing = []
    for s, p in nouns.items():
        if plural_is_unambiguous(s, p):
            plural_sing.append((p, s))
        else:
            log.add("plural_singular", "plural is ambiguous (other lemma or part of speech)", p)
    write_task(args.out, "singular_plural", "singular noun -> its plural", noun_source, sing_plural)
    write_task(args.out, "plural_singular", "plural noun -> its singular", noun_source, plural_sing)

    antonyms = []
    for a, b in ANTONYM_PAIRS:
        antonyms += [(a, b), (b, a)]
    write_task(
        args.out,
        "antonyms",
        "word -> its antonym (both directions of each hand-written pair)",
        "Hand-authored list of common English antonym pairs (scripts/linguistic_lexicon.py).",
        antonyms,
    )

    log.report(args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
