"""Result types of the three modes and the layer sweep, each with ``to_dataframe()``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jaxtyping import Bool, Int
from torch import Tensor


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

    def to_dataframe(self) -> Any:
        """A pandas DataFrame, one row per prediction."""
        return _frame([p.to_dict() for p in self.predictions])


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

    def to_dataframe(self) -> Any:
        """All predictions of the three modes in one DataFrame."""
        rows = [
            p.to_dict()
            for mode in (self.regular, self.hypothesis, self.baseline)
            for p in mode.predictions
        ]
        return _frame(rows)
