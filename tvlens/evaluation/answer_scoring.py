"""Scoring a generated answer against the expected one: pure functions, no model.

A generation is scored four ways (each documented on its function):

* **exact match**: the normalized generated text equals the stripped answer (case-sensitive);
* **first token**: the first generated token is the first token of ``fmt.answer(answer)``,
  which for a one-token answer is exactly the next-token scoring of :mod:`tvlens.evaluation.modes`;
* **token F1**: SQuAD's bag-of-words F1 over whitespace-split words of the normalized texts;
* **answer within k tokens**: the answer's tokens are the first generated tokens and fit in
  ``k`` of them (:func:`answer_steps`).

Normalization is the prompt format's: cut the text at the first stop string (the format's
demo separator, where the next demonstration would begin), then strip whitespace.

:class:`GenerationResult` (what the generation modes of :mod:`tvlens.evaluation.generation` return)
holds one :class:`GeneratedPrediction` per example and averages these metrics.

Example:
    >>> s = score_answer(" Buenos Dias\\n", [7, 9, 4], "Buenos Aires", [7, 8], ("\\n",))
    >>> (s.exact_match, s.first_token, s.f1, s.answer_steps)
    (False, True, 0.5, None)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def as_stops(stop: str | Sequence[str]) -> tuple[str, ...]:
    """Stop strings as a tuple: one string, or a sequence of them (``()`` for none).

    Raises:
        TypeError: for anything but strings.
        ValueError: for an empty stop string (it would match before any text).
    """
    stops = (stop,) if isinstance(stop, str) else tuple(stop)
    for s in stops:
        if not isinstance(s, str):
            raise TypeError(f"stop strings must be str, got {s!r} ({type(s).__name__})")
        if not s:
            raise ValueError("a stop string must be non-empty; pass stop=() for no stop string")
    return stops


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """``text`` up to (not including) the earliest occurrence of any stop string."""
    cut = len(text)
    for s in stops:
        at = text.find(s)
        if at != -1:
            cut = min(cut, at)
    return text[:cut]


def normalize_answer(text: str, stops: Sequence[str] = ("\n",)) -> str:
    """The format's normalization: cut at the first stop string, then strip whitespace."""
    return cut_at_stop(text, stops).strip()


def exact_match(generated: str, answer: str, stops: Sequence[str] = ("\n",)) -> bool:
    """Whether the normalized generation equals the stripped answer (case-sensitive)."""
    return normalize_answer(generated, stops) == answer.strip()


def token_f1(prediction: str, answer: str) -> float:
    """SQuAD-style F1 between the whitespace-split words of two (normalized) texts.

    Words are compared as they are (case-sensitive, punctuation kept), as a multiset:
    ``precision = overlap / len(prediction words)``, ``recall = overlap / len(answer
    words)``, F1 their harmonic mean. Two empty texts score 1.0, one empty text 0.0.
    """
    pred, gold = prediction.split(), answer.split()
    if not pred or not gold:
        return float(pred == gold)
    overlap = sum((Counter(pred) & Counter(gold)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred), overlap / len(gold)
    return 2 * precision * recall / (precision + recall)


def first_token_correct(generated_ids: Sequence[int], answer_ids: Sequence[int]) -> bool:
    """Whether the first generated token is the answer's first token (as after the arrow)."""
    return bool(generated_ids) and bool(answer_ids) and generated_ids[0] == answer_ids[0]


def answer_steps(generated_ids: Sequence[int], answer_ids: Sequence[int]) -> int | None:
    """After how many generated tokens the whole answer has been generated, or ``None``.

    The answer counts as generated when its token ids (``fmt.answer(answer)`` under the
    model's tokenizer, leading space included) are, in order, the first generated tokens:
    ``generated_ids[:n] == answer_ids`` with ``n = len(answer_ids)``; what follows (a stop
    string, more text) does not matter. The answer is then "within k tokens" for every
    ``k >= n``. A generation that spells the answer with other tokens, or after other text,
    does not count (exact match judges the text).
    """
    n = len(answer_ids)
    if n == 0 or tuple(generated_ids[:n]) != tuple(answer_ids):
        return None
    return n


def answer_within(generated_ids: Sequence[int], answer_ids: Sequence[int], k: int) -> bool:
    """Whether the answer's tokens are the first generated tokens and number at most ``k``."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    steps = answer_steps(generated_ids, answer_ids)
    return steps is not None and steps <= k


@dataclass(frozen=True)
class AnswerScore:
    """The scores of one generation (see the module docstring).

    Attributes:
        predicted: the normalized generated text (the model's answer).
        exact_match: ``predicted == answer.strip()``.
        first_token: the first generated token is the answer's first token.
        f1: token-level F1 of ``predicted`` against the answer.
        answer_steps: see :func:`answer_steps`.
    """

    predicted: str
    exact_match: bool
    first_token: bool
    f1: float
    answer_steps: int | None

    def within(self, k: int) -> bool:
        """Whether the answer was generated, token for token, within ``k`` tokens."""
        return self.answer_steps is not None and self.answer_steps <= k

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "predicted": self.predicted,
            "exact_match": self.exact_match,
            "first_token": self.first_token,
            "f1": self.f1,
            "answer_steps": self.answer_steps,
        }


def score_answer(
    generated_text: str,
    generated_ids: Sequence[int],
    answer: str,
    answer_ids: Sequence[int],
    stops: Sequence[str] = ("\n",),
) -> AnswerScore:
    """Score one generation against its expected answer by every metric.

    Args:
        generated_text: the decoded continuation (before normalization).
        generated_ids: its token ids.
        answer: the expected answer, as in the data (no leading space).
        answer_ids: the answer's token ids as it follows the arrow (``fmt.answer``).
        stops: the stop strings the text is cut at (the format's demo separator).
    """
    predicted = normalize_answer(generated_text, stops)
    return AnswerScore(
        predicted=predicted,
        exact_match=predicted == answer.strip(),
        first_token=first_token_correct(generated_ids, answer_ids),
        f1=token_f1(predicted, answer.strip()),
        answer_steps=answer_steps(generated_ids, answer_ids),
    )


# ---- scored generations -------------------------------------------------------------------
@dataclass(frozen=True)
class GeneratedPrediction:
    """One example's generated answer and its scores.

    Attributes:
        answer_token_ids: the answer's tokens as it follows the arrow (``fmt.answer``).
        generated_token_ids, generated_text, stop_reason: see
            :class:`~tvlens.engine.decoding.GeneratedRow`.
        score: exact match, first-token, F1 and answer steps
            (:mod:`tvlens.evaluation.answer_scoring`).
    """

    mode: str
    task: str
    query: str
    answer: str
    answer_token_ids: tuple[int, ...]
    generated_token_ids: tuple[int, ...]
    generated_text: str
    stop_reason: str
    score: AnswerScore
    input_ids: tuple[int, ...]
    demos: tuple[tuple[str, str], ...] = ()
    dummy_queries: tuple[str, ...] = ()
    layer: int | None = None

    @property
    def predicted(self) -> str:
        """The normalized generated text: the model's answer."""
        return self.score.predicted

    @property
    def correct(self) -> bool:
        """Exact match (the headline metric)."""
        return self.score.exact_match

    def to_record(self) -> dict[str, Any]:
        """What ``results.json`` keeps per generated prediction: ids, text, scores."""
        return {
            "input_ids": list(self.input_ids),
            "generated_token_ids": list(self.generated_token_ids),
            "generated_text": self.generated_text,
            "predicted": self.predicted,
            "stop_reason": self.stop_reason,
            "correct": self.correct,
            "first_token": self.score.first_token,
            "f1": self.score.f1,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "mode": self.mode,
            "task": self.task,
            "query": self.query,
            "answer": self.answer,
            "answer_token_ids": list(self.answer_token_ids),
            "generated_token_ids": list(self.generated_token_ids),
            "generated_text": self.generated_text,
            "stop_reason": self.stop_reason,
            **self.score.to_dict(),
            "input_ids": list(self.input_ids),
            "demos": [list(d) for d in self.demos],
            "dummy_queries": list(self.dummy_queries),
            "layer": self.layer,
        }


@dataclass(frozen=True)
class GenerationResult:
    """Generated answers of one mode on a set of examples, with their metrics."""

    mode: str
    predictions: tuple[GeneratedPrediction, ...]
    max_new_tokens: int
    stops: tuple[str, ...]
    layer: int | None = None
    at: str | None = None

    def _mean(self, values: Sequence[float | bool]) -> float:
        return sum(values) / len(values) if values else float("nan")

    @property
    def exact_match(self) -> float:
        """Fraction of examples whose normalized generation equals the answer."""
        return self._mean([p.score.exact_match for p in self.predictions])

    accuracy = exact_match

    @property
    def first_token_accuracy(self) -> float:
        """Fraction whose first generated token is the answer's first token."""
        return self._mean([p.score.first_token for p in self.predictions])

    @property
    def f1(self) -> float:
        """Mean token-level F1."""
        return self._mean([p.score.f1 for p in self.predictions])

    def within(self, k: int) -> float:
        """Fraction whose answer was generated, token for token, within ``k`` tokens."""
        return self._mean([p.score.within(k) for p in self.predictions])

    @property
    def metrics(self) -> dict[str, float]:
        """Every metric; ``within_k`` at ``k = max_new_tokens``."""
        return {
            "exact_match": self.exact_match,
            "first_token": self.first_token_accuracy,
            "f1": self.f1,
            "within_k": self.within(self.max_new_tokens),
        }

    def to_dataframe(self) -> Any:
        """A pandas DataFrame, one row per example."""
        import pandas as pd

        return pd.DataFrame([p.to_dict() for p in self.predictions])
