"""What :func:`tvlens.fv.methods.compare_methods` returns: every method on one task.

:class:`MethodComparison` holds each method's predictions on the test examples (a
``ModeResult`` under next-token scoring, a ``GenerationResult`` under generation), the
layers chosen on dev, the dev sweeps, the function vector and what it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tvlens.evaluation.answer_scoring import GeneratedPrediction, GenerationResult
from tvlens.evaluation.results import LayerSweepResult, ModeResult, Prediction
from tvlens.fv.heads import HeadActivations
from tvlens.fv.indirect_effect import IndirectEffects
from tvlens.fv.vector import FunctionVector
from tvlens.run.names import Mode

COMPARED_MODES: tuple[Mode, ...] = (
    "baseline",
    "shuffled",
    "fv_shuffled",
    "layer_average",
    "mean_difference",
    "fv_zero_shot",
    "hypothesis",
    "regular",
)
"""The modes a :class:`MethodComparison` holds, roughly from least to most information
(``"hypothesis"`` is the task vector's, as in ``results.json``: :mod:`tvlens.run.names`)."""

Scored = ModeResult | GenerationResult
"""One method's predictions: next-token (``ModeResult``) or generated (``GenerationResult``)."""


@dataclass(frozen=True)
class MethodComparison:
    """All methods on one task's test examples (see the module docstring).

    Attributes:
        modes: method -> predictions on the test examples (:data:`COMPARED_MODES`): a
            ``ModeResult`` (next token) or a ``GenerationResult`` (generation).
        layers: method -> the layer its vector is added or patched at (dev sweep).
        sweeps: ``"tv"``, ``"fv"`` (zero-shot), ``"fv_shuffled"`` (on shuffled-label dev
            prompts), ``"layer_average"``, ``"mean_difference"`` -> dev accuracy per layer.
        function_vector: the FV (its ``layer`` set to the chosen one).
        effects, activations: the AIE and mean head activations it came from.
        k_dev: each candidate k -> (best dev layer, its dev accuracy), zero-shot.
        times: phase -> wall seconds.
    """

    task: str
    modes: dict[str, Scored]
    layers: dict[str, int]
    sweeps: dict[str, LayerSweepResult]
    function_vector: FunctionVector
    effects: IndirectEffects
    activations: HeadActivations
    k_dev: dict[int, tuple[int, float]] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)

    @property
    def accuracies(self) -> dict[str, float]:
        """Method -> test accuracy, in :data:`COMPARED_MODES` order."""
        return {m: self.modes[m].accuracy for m in COMPARED_MODES if m in self.modes}

    def to_dataframe(self) -> Any:
        """One row per method: ``task``, ``method``, ``layer``, ``accuracy``, ``n``."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "task": self.task,
                    "method": m,
                    "layer": self.layers.get(m),
                    "accuracy": acc,
                    "n": len(self.modes[m].predictions),
                }
                for m, acc in self.accuracies.items()
            ]
        )

    def predictions_dataframe(self) -> Any:
        """Every prediction of every method, one row each."""
        import pandas as pd

        return pd.DataFrame([p.to_dict() for m in self.modes.values() for p in m.predictions])

    def figure(self, *, title: str | None = None) -> Any:
        """Bars of every method's accuracy (plotly)."""
        from tvlens.report.plots import comparison_figure

        return comparison_figure({self.task: self.accuracies}, title=title)

    def vectors_record(self, *, k_aie: int = 10) -> dict[str, Any]:
        """The JSON record of how the vectors were chosen: dev curves, the FV, the AIE, k."""
        fv = self.function_vector
        return {
            "dev_accuracy_per_layer": {k: list(s.accuracy) for k, s in self.sweeps.items()},
            "function_vector": {**fv.metadata(), "k": fv.k, "norm": float(fv.vector.norm())},
            "indirect_effect": self.effects.to_record(k_aie),
            "k_dev": {
                str(kk): {"layer": la, "dev_accuracy": a} for kk, (la, a) in self.k_dev.items()
            },
            "clean_accuracy": float(self.activations.clean_correct.float().mean()),
            "resid_norm_per_layer": self.activations.resid.norm(dim=-1).tolist(),
            "phase_times_s": dict(self.times),
        }

    def to_record(self, *, k_aie: int = 10) -> dict[str, Any]:
        """The JSON record of this task (for ``results.json``): methods, vectors, examples."""
        methods = {
            m: {"accuracy": acc, "layer": self.layers.get(m)} for m, acc in self.accuracies.items()
        }
        test = []
        first: Sequence[Prediction | GeneratedPrediction] = next(
            iter(self.modes.values())
        ).predictions
        for i, p in enumerate(first):
            row: dict[str, Any] = {"query": p.query, "answer": p.answer}
            if isinstance(p, GeneratedPrediction):
                row["answer_token_ids"] = list(p.answer_token_ids)
            else:
                row["answer_token_id"] = p.answer_token_id
            for m, res in self.modes.items():
                q: Prediction | GeneratedPrediction = res.predictions[i]
                row[m] = (
                    q.to_record()
                    if isinstance(q, GeneratedPrediction)
                    else {
                        "predicted_token_id": q.predicted_token_id,
                        "predicted_token": q.predicted_token,
                        "correct": q.correct,
                    }
                )
            test.append(row)
        return {"methods": methods, **self.vectors_record(k_aie=k_aie), "test_examples": test}


def comparison_table(results: Sequence[MethodComparison]) -> Any:
    """A DataFrame: one row per task, one column per method's accuracy, plus the mean row."""
    import pandas as pd

    frame = pd.DataFrame({r.task: r.accuracies for r in results}).T[list(COMPARED_MODES)]
    frame.loc["mean"] = frame.mean()
    return frame
