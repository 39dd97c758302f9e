"""Result types of the three modes and the layer sweep, each with ``to_dataframe()``.

Accuracies come with their uncertainty: :attr:`ModeResult.interval` is Wilson's 95% interval
(:func:`tvlens.evaluation.stats.wilson_interval`), and :attr:`EvaluationResult.comparisons` tests
Hypothesis against Regular and against Baseline (exact McNemar where both scored the same
examples, Fisher's exact test where not). ``accuracy_dataframe()`` gives one row per mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jaxtyping import Bool, Int
from torch import Tensor

from tvlens.evaluation.stats import (
    PairedTest,
    UnpairedTest,
    fisher_exact,
    mcnemar_exact,
    wilson_interval,
)


@dataclass(frozen=True)
class Prediction:
    """One scored prediction."""

    mode: str
    task: str
    query: str
    answer: str
    answer_token_id: int
    predicted_token_id: int
    predicted_token: str
    correct: bool
    input_ids: tuple[int, ...]
    demos: tuple[tuple[str, str], ...] = ()
    dummy_queries: tuple[str, ...] = ()
    layer: int | None = None

    def to_record(self) -> dict[str, Any]:
        """What ``results.json`` keeps per prediction: ids fed, token predicted, correct."""
        return {
            "input_ids": list(self.input_ids),
            "predicted_token_id": self.predicted_token_id,
            "predicted_token": self.predicted_token,
            "correct": self.correct,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "mode": self.mode,
            "task": self.task,
            "query": self.query,
            "answer": self.answer,
            "answer_token_id": self.answer_token_id,
            "predicted_token_id": self.predicted_token_id,
            "predicted_token": self.predicted_token,
            "correct": self.correct,
            "input_ids": list(self.input_ids),
            "demos": [list(d) for d in self.demos],
            "dummy_queries": list(self.dummy_queries),
            "layer": self.layer,
        }


def _frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ModeResult:
    """Predictions of one mode on a set of examples."""

    mode: str
    predictions: tuple[Prediction, ...]

    @property
    def accuracy(self) -> float:
        """Fraction of predictions whose next token equals the answer token."""
        if not self.predictions:
            return float("nan")
        return sum(p.correct for p in self.predictions) / len(self.predictions)

    @property
    def n(self) -> int:
        """The number of scored predictions."""
        return len(self.predictions)

    @property
    def n_correct(self) -> int:
        """The number of correct predictions."""
        return sum(p.correct for p in self.predictions)

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson's 95% interval of :attr:`accuracy` (``(nan, nan)`` with no predictions)."""
        return wilson_interval(self.n_correct, self.n)

    def summary(self) -> dict[str, Any]:
        """``mode``, ``task``, ``n``, ``n_correct``, ``accuracy``, ``ci_low``, ``ci_high``."""
        tasks = {p.task for p in self.predictions}
        lo, hi = self.interval
        return {
            "mode": self.mode,
            "task": tasks.pop() if len(tasks) == 1 else ("mixed" if tasks else ""),
            "n": self.n,
            "n_correct": self.n_correct,
            "accuracy": self.accuracy,
            "ci_low": lo,
            "ci_high": hi,
        }

    def to_dataframe(self) -> Any:
        """A pandas DataFrame, one row per prediction."""
        return _frame([p.to_dict() for p in self.predictions])

    def accuracy_dataframe(self) -> Any:
        """A one-row DataFrame: :meth:`summary` (accuracy with its 95% interval)."""
        return _frame([self.summary()])


@dataclass(frozen=True)
class LayerSweepResult:
    """Hypothesis accuracy per layer on a dev set.

    Attributes:
        layers: the layers swept.
        accuracy: accuracy per layer, aligned with ``layers``.
        correct: ``[n_examples, n_layers]`` per-example correctness.
        predicted_token_ids: ``[n_examples, n_layers]`` greedy next tokens.
    """

    task: str
    layers: tuple[int, ...]
    accuracy: tuple[float, ...]
    correct: Bool[Tensor, "n_examples n_layers"]
    predicted_token_ids: Int[Tensor, "n_examples n_layers"]

    @property
    def best_layer(self) -> int:
        """The layer with the highest accuracy; ties go to the earliest layer."""
        best = max(self.accuracy)
        return self.layers[self.accuracy.index(best)]

    @property
    def best_accuracy(self) -> float:
        """The accuracy at :attr:`best_layer`."""
        return max(self.accuracy)

    def to_dataframe(self) -> Any:
        """A DataFrame with columns ``task``, ``layer``, ``accuracy``."""
        return _frame(
            [
                {"task": self.task, "layer": la, "accuracy": a}
                for la, a in zip(self.layers, self.accuracy, strict=True)
            ]
        )


@dataclass(frozen=True)
class EvaluationResult:
    """The three modes on one task, at one layer."""

    task: str
    layer: int
    regular: ModeResult
    hypothesis: ModeResult
    baseline: ModeResult
    sweep: LayerSweepResult | None = field(default=None)

    @property
    def accuracies(self) -> dict[str, float]:
        """``{"baseline": .., "hypothesis": .., "regular": ..}``."""
        return {
            "baseline": self.baseline.accuracy,
            "hypothesis": self.hypothesis.accuracy,
            "regular": self.regular.accuracy,
        }

    @property
    def intervals(self) -> dict[str, tuple[float, float]]:
        """Wilson's 95% interval of each mode's accuracy."""
        return {m.mode: m.interval for m in (self.baseline, self.hypothesis, self.regular)}

    @property
    def comparisons(self) -> dict[str, PairedTest | UnpairedTest]:
        """``hypothesis_vs_regular`` and ``hypothesis_vs_baseline``.

        Each is the exact McNemar test (:class:`~tvlens.evaluation.stats.PairedTest`) when both
        modes scored the same examples in the same order (same task, query and answer per
        row), else Fisher's exact test on the counts
        (:class:`~tvlens.evaluation.stats.UnpairedTest`), as when :func:`~tvlens.evaluate`
        gets other ``baseline_examples``.
        """
        return {
            f"hypothesis_vs_{other.mode}": _compare(self.hypothesis, other)
            for other in (self.regular, self.baseline)
        }

    def accuracy_dataframe(self) -> Any:
        """One row per mode: ``n``, ``n_correct``, ``accuracy``, ``ci_low``, ``ci_high``,
        the ``layer``, and the p-value of Hypothesis vs that mode (``p_vs_hypothesis``)."""
        tests = self.comparisons
        rows = []
        for m in (self.baseline, self.hypothesis, self.regular):
            test = tests.get(f"hypothesis_vs_{m.mode}")
            rows.append(
                {**m.summary(), "layer": self.layer, "p_vs_hypothesis": test.p if test else None}
            )
        return _frame(rows)

    def to_dataframe(self) -> Any:
        """All predictions of the three modes in one DataFrame."""
        rows = [
            p.to_dict()
            for mode in (self.regular, self.hypothesis, self.baseline)
            for p in mode.predictions
        ]
        return _frame(rows)


def _same_examples(a: ModeResult, b: ModeResult) -> bool:
    def key(p: Prediction) -> tuple[str, str, str]:
        return (p.task, p.query, p.answer)

    return a.n == b.n and all(
        key(x) == key(y) for x, y in zip(a.predictions, b.predictions, strict=True)
    )


def _compare(a: ModeResult, b: ModeResult) -> PairedTest | UnpairedTest:
    if a.n and _same_examples(a, b):
        return mcnemar_exact([p.correct for p in a.predictions], [p.correct for p in b.predictions])
    return fisher_exact(a.n_correct, a.n, b.n_correct, b.n)
