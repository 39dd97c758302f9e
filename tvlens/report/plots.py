"""Plotly figures of tvlens results, and one self-contained HTML file for many figures.

Every builder returns a ``plotly.graph_objects.Figure``, which renders inline in Jupyter.
The figures of one run and of the analyses live here; the figures over several runs in
:mod:`tvlens.report.multi_run_plots` and :func:`write_html` in
:mod:`tvlens.report.html_file`, both re-exported here. Only these modules import plotly.

Example:
    >>> fig = modes_figure({"to_upper": {"baseline": 0.0, "hypothesis": 0.9, "regular": 1.0}})
    >>> len(fig.data)
    3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from jaxtyping import Float
from torch import Tensor

from tvlens.analysis.conflict import ConflictResult
from tvlens.analysis.geometry import RobustnessResult
from tvlens.evaluation.results import LayerSweepResult
from tvlens.report.html_file import write_html
from tvlens.report.multi_run_plots import (
    _TEMPLATE,
    Estimate,
    Interval,
    _error_y,
    relative_depth_figure,
    runs_bars_figure,
)

__all__ = [
    "METHOD_LABELS",
    "MODE_ORDER",
    "Estimate",
    "Interval",
    "aie_figure",
    "comparison_figure",
    "conflict_figure",
    "distance_histogram_figure",
    "layer_sweep_figure",
    "modes_figure",
    "relative_depth_figure",
    "robustness_figure",
    "runs_bars_figure",
    "vocab_figure",
    "write_html",
]

MODE_ORDER = ("baseline", "hypothesis", "regular")


def _accuracies(sweep: Sequence[float] | LayerSweepResult) -> list[float]:
    if isinstance(sweep, LayerSweepResult):
        return list(sweep.accuracy)
    return [float(a) for a in sweep]


def layer_sweep_figure(
    sweeps: Mapping[str, Sequence[float] | LayerSweepResult],
    layers: Sequence[int] | None = None,
    *,
    title: str = "Hypothesis accuracy per layer (dev set)",
) -> go.Figure:
    """Per-layer dev accuracy of each task, plus their mean as a thick line.

    Args:
        sweeps: task -> accuracy per layer (or a :class:`~tvlens.LayerSweepResult`).
        layers: the x values (default: the first sweep's layers, else ``0..n-1``).

    Returns:
        A figure with one trace per task and one for the mean.
    """
    if not sweeps:
        raise ValueError("no sweeps given; pass a mapping task -> accuracy per layer")
    series = {name: _accuracies(s) for name, s in sweeps.items()}
    lengths = {len(acc) for acc in series.values()}
    if len(lengths) != 1:
        raise ValueError(f"sweeps have different numbers of layers: {sorted(lengths)}")
    (n,) = lengths
    if layers is None:
        first = next(iter(sweeps.values()))
        layers = list(first.layers) if isinstance(first, LayerSweepResult) else list(range(n))
    if len(layers) != n:
        raise ValueError(f"{len(layers)} layers for sweeps of length {n}")
    fig = go.Figure()
    for name, acc in series.items():
        fig.add_trace(
            go.Scatter(x=list(layers), y=acc, mode="lines+markers", name=name, opacity=0.55)
        )
    mean = np.mean(np.array(list(series.values())), axis=0)
    fig.add_trace(
        go.Scatter(x=list(layers), y=mean.tolist(), mode="lines", name="mean", line={"width": 5})
    )
    fig.update_layout(
        title=title,
        xaxis_title="layer",
        yaxis_title="accuracy",
        yaxis_range=[0, 1.02],
        template=_TEMPLATE,
    )
    return fig


def modes_figure(
    accuracies: Mapping[str, Mapping[str, float]],
    *,
    intervals: Mapping[str, Mapping[str, Interval]] | None = None,
    title: str = "Accuracy per task: Baseline, Hypothesis, Regular",
) -> go.Figure:
    """Grouped bars of the modes' accuracies per task, with error bars if given.

    Args:
        accuracies: task -> ``{"baseline": .., "hypothesis": .., "regular": ..}`` (e.g.
            ``EvaluationResult.accuracies``); other modes are added after these three.
        intervals: task -> ``{mode: [low, high]}`` (e.g. ``results.json``'s
            ``accuracy_ci``), drawn as error bars.

    Returns:
        A figure with one bar trace per mode.
    """
    if not accuracies:
        raise ValueError("no accuracies given; pass a mapping task -> {mode: accuracy}")
    tasks = list(accuracies)
    seen = {m for acc in accuracies.values() for m in acc}
    modes = [m for m in MODE_ORDER if m in seen] + sorted(seen - set(MODE_ORDER))
    bars = []
    for mode in modes:
        ys = [float(accuracies[t].get(mode, float("nan"))) for t in tasks]
        err = None
        if intervals is not None:
            err = _error_y(ys, [intervals.get(t, {}).get(mode) for t in tasks])
        bars.append(go.Bar(name=mode, x=tasks, y=ys, error_y=err))
    fig = go.Figure(bars)
    fig.update_layout(
        title=title,
        barmode="group",
        yaxis_title="accuracy",
        yaxis_range=[0, 1.02],
        template=_TEMPLATE,
    )
    return fig


def stop_reasons_figure(
    shares: Mapping[str, Mapping[str, float]],
    *,
    title: str = "Where generated answers stop (share of examples, mean over tasks)",
) -> go.Figure:
    """Stacked bars, one per mode, of where its generated answers stopped.

    Args:
        shares: mode -> ``{"separator": .., "early": .., "ran_on": .., "eos": ..}`` (a
            ``results.json`` task's ``stop_reasons``, or their mean over tasks).
    """
    if not shares:
        raise ValueError("no stop reasons given; pass a mapping mode -> {kind: share}")
    modes = [m for m in METHOD_LABELS if m in shares] + sorted(set(shares) - set(METHOD_LABELS))
    labels = [METHOD_LABELS.get(m, m) for m in modes]
    kinds = {"separator": "stopped at the separator", "early": "stopped early",
             "ran_on": "ran on", "eos": "EOS"}  # fmt: skip
    bars = [
        go.Bar(
            name=name, y=labels, x=[float(shares[m].get(k, 0.0)) for m in modes], orientation="h"
        )
        for k, name in kinds.items()
    ]
    fig = go.Figure(bars)
    fig.update_layout(
        title=title, barmode="stack", xaxis_title="share of examples", xaxis_range=[0, 1.0],
        template=_TEMPLATE,
    )  # fmt: skip
    return fig


def robustness_figure(result: RobustnessResult, *, title: str | None = None) -> go.Figure:
    """The t-SNE map of task vectors, one colour (trace) per task."""
    labels = np.asarray(result.labels, dtype=object)
    fig = go.Figure(
        [
            go.Scatter(
                x=result.embedding[labels == task, 0].tolist(),
                y=result.embedding[labels == task, 1].tolist(),
                mode="markers",
                name=task,
                marker={"size": 7, "opacity": 0.8},
            )
            for task in result.tasks
        ]
    )
    fig.update_layout(
        title=title
        or (
            f"t-SNE of task vectors at layer {result.layer} "
            f"(k-NN accuracy {result.knn_accuracy:.2f}, silhouette {result.silhouette:.2f})"
        ),
        xaxis_title="t-SNE 1",
        yaxis_title="t-SNE 2",
        template=_TEMPLATE,
    )
    return fig


def distance_histogram_figure(result: RobustnessResult, *, title: str | None = None) -> go.Figure:
    """Histograms of within-task and across-task cosine distances (two traces)."""
    fig = go.Figure(
        [
            go.Histogram(
                x=result.within.tolist(),
                name=f"within task (mean {result.mean_within:.3f})",
                histnorm="probability density",
                opacity=0.6,
            ),
            go.Histogram(
                x=result.across.tolist(),
                name=f"across tasks (mean {result.mean_across:.3f})",
                histnorm="probability density",
                opacity=0.6,
            ),
        ]
    )
    fig.update_layout(
        title=title or f"Cosine distances between task vectors (layer {result.layer})",
        barmode="overlay",
        xaxis_title="cosine distance",
        yaxis_title="density",
        template=_TEMPLATE,
    )
    return fig


def conflict_figure(result: ConflictResult, *, title: str | None = None) -> go.Figure:
    """Grouped bars per (A, B) pair: Regular and Conflicting runs scored on A and on B.

    Returns:
        A figure with four bar traces.
    """
    pairs = [f"{p.task_a} → {p.task_b}" for p in result.pairs]
    series = {
        "Regular, w.r.t. A": [p.regular_accuracy_a for p in result.pairs],
        "Regular, w.r.t. B": [p.regular_accuracy_b for p in result.pairs],
        "Conflicting, w.r.t. A": [p.conflicting_accuracy_a for p in result.pairs],
        "Conflicting, w.r.t. B": [p.conflicting_accuracy_b for p in result.pairs],
    }
    fig = go.Figure([go.Bar(name=name, x=pairs, y=ys) for name, ys in series.items()])
    fig.update_layout(
        title=title or "Conflicting tasks: demos of A, θ of B patched",
        barmode="group",
        yaxis_title="accuracy",
        yaxis_range=[0, 1.02],
        template=_TEMPLATE,
    )
    return fig


def vocab_figure(table: Any, *, title: str = "Top tokens of task vectors") -> go.Figure:
    """A table of the top projected tokens per task (from :func:`~tvlens.analysis.vocab_table`).

    Returns:
        A figure with one ``go.Table`` trace: one column per task, one row per rank.
    """
    tasks = list(dict.fromkeys(table["task"]))
    columns = []
    for task in tasks:
        rows = table[table["task"] == task].sort_values("rank")
        columns.append(
            [f"{tok!r} {p:.3f}" for tok, p in zip(rows["token"], rows["prob"], strict=True)]
        )
    fig = go.Figure([go.Table(header={"values": tasks}, cells={"values": columns})])
    fig.update_layout(title=title, template=_TEMPLATE)
    return fig


# ---- function vectors (tvlens.fv.vector, tvlens.fv.methods) -------------------
METHOD_LABELS = {
    "baseline": "Baseline (x ->)",
    "shuffled": "Shuffled-label ICL",
    "fv_shuffled": "FV + shuffled labels",
    "layer_average": "Layer-average",
    "mean_difference": "Mean difference",
    "fv_zero_shot": "FV zero-shot",
    "hypothesis": "TV Hypothesis",
    "tv_multi": "TV multi-position",
    "tv_learned": "TV learned",
    "regular": "Regular ICL",
}


def aie_figure(
    aie: Float[Tensor, "n_layers n_heads"],
    *,
    top: Sequence[tuple[int, int, float]] = (),
    title: str = "Average indirect effect per head",
) -> go.Figure:
    """A heatmap of the AIE (layers down, heads across); heads in ``top`` get their rank.

    Args:
        aie: ``[n_layers, n_heads]`` average indirect effect.
        top: ``(layer, head, score)`` of the heads to mark, largest first.
    """
    values = aie.detach().cpu().float()
    bound = float(values.abs().max()) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=values.tolist(),
            x=[f"h{h}" for h in range(values.shape[1])],
            y=list(range(values.shape[0])),
            colorscale="RdBu",
            zmid=0.0,
            zmin=-bound,
            zmax=bound,
            colorbar={"title": "AIE"},
            hovertemplate="layer %{y}, head %{x}: %{z:.4f}<extra></extra>",
        )
    )
    for rank, (layer, head, _) in enumerate(top, start=1):
        dark = abs(float(values[layer, head])) > 0.6 * bound  # white on the deepest colours
        fig.add_annotation(
            x=f"h{head}",
            y=layer,
            text=str(rank),
            showarrow=False,
            font={"color": "white" if dark else "black"},
        )
    fig.update_layout(
        title=title,
        xaxis_title="head",
        yaxis_title="layer",
        yaxis_autorange="reversed",
        template=_TEMPLATE,
        height=max(300, 22 * values.shape[0] + 120),
    )
    return fig


def comparison_figure(
    accuracies: Mapping[str, Mapping[str, float]],
    *,
    title: str | None = None,
) -> go.Figure:
    """Grouped bars: per task (x), one bar per method (TV, FV, baselines).

    Args:
        accuracies: task -> method -> accuracy (``MethodComparison.accuracies``).
    """
    if not accuracies:
        raise ValueError("no accuracies to plot")
    methods = [m for m in METHOD_LABELS if any(m in acc for acc in accuracies.values())]
    tasks = list(accuracies)
    fig = go.Figure(
        [
            go.Bar(
                name=METHOD_LABELS[m],
                x=tasks,
                y=[accuracies[t].get(m, float("nan")) for t in tasks],
            )
            for m in methods
        ]
    )
    fig.update_layout(
        barmode="group",
        title=title or "Task vectors, function vectors and baselines (test accuracy)",
        yaxis_title="accuracy",
        yaxis_range=[0, 1.02],
        template=_TEMPLATE,
    )
    return fig
