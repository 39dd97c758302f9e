"""Words that name each paper task, for reading θ through the logit lens.

The paper's vocabulary projection (its Section 6) finds tokens that describe the task among
the top tokens of θ (``"French"`` for English -> French). :func:`task_word_ids` gives each
word's single-token spellings under a tokenizer; :mod:`tvlens.studies.layers` reports where in
θ_L they rank, layer by layer. Written by hand from what each task asks; a task not listed
(a task file of your own) has no words, and its curve is left out.
"""

from __future__ import annotations

from typing import Any

from tvlens.tokenization import encode

#: Words naming what each of the 18 paper tasks does.
TASK_WORDS: dict[str, tuple[str, ...]] = {
    "next_letter": ("next", "letter", "alphabet"),
    "prev_letter": ("previous", "letter", "alphabet"),
    "list_first": ("first",),
    "list_last": ("last",),
    "to_upper": ("upper", "uppercase", "capital"),
    "to_lower": ("lower", "lowercase", "small"),
    "fr_en": ("English", "translation"),
    "es_en": ("English", "translation"),
    "en_fr": ("French", "translation"),
    "en_es": ("Spanish", "translation"),
    "present_simple_gerund": ("gerund", "verb"),
    "present_simple_past_simple": ("past", "verb"),
    "plural_singular": ("singular", "noun"),
    "antonyms": ("opposite", "antonym"),
    "country_capital": ("capital", "city"),
    "person_language": ("language",),
    "location_continent": ("continent",),
    "location_religion": ("religion",),
}


def task_word_ids(task: str, tokenizer: Any) -> dict[str, int]:
    """``{spelling: token id}`` of ``task``'s words that are one token (with and without a
    leading space, capitalized or not); ``{}`` for a task without words."""
    out: dict[str, int] = {}
    for word in TASK_WORDS.get(task, ()):
        for text in dict.fromkeys((f" {word}", word, f" {word.capitalize()}", word.lower())):
            ids = encode(tokenizer, text)
            if len(ids) == 1:
                out[text] = ids[0]
    return out
