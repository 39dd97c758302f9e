"""Plotly figures of tvlens results, and one self-contained HTML file for many figures.

Every builder returns a ``plotly.graph_objects.Figure``, which renders inline in Jupyter.
This is the only tvlens module that imports plotly.

Example:
    >>> fig = modes_figure({"to_upper": {"baseline": 0.0, "hypothesis": 0.9, "regular": 1.0}})
    >>> len(fig.data)
    3
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from tvlens.analysis.conflict import ConflictResult
from tvlens.analysis.geometry import RobustnessResult
from tvlens.results import LayerSweepResult

MODE_ORDER = ("baseline", "hypothesis", "regular")
_TEMPLATE = "plotly_white"


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
    title: str = "Accuracy per task: Baseline, Hypothesis, Regular",
) -> go.Figure:
    """Grouped bars of the modes' accuracies per task.

    Args:
        accuracies: task -> ``{"baseline": .., "hypothesis": .., "regular": ..}`` (e.g.
            ``EvaluationResult.accuracies``); other modes are added after these three.

    Returns:
        A figure with one bar trace per mode.
    """
    if not accuracies:
        raise ValueError("no accuracies given; pass a mapping task -> {mode: accuracy}")
    tasks = list(accuracies)
    seen = {m for acc in accuracies.values() for m in acc}
    modes = [m for m in MODE_ORDER if m in seen] + sorted(seen - set(MODE_ORDER))
    fig = go.Figure(
        [
            go.Bar(
                name=mode,
                x=tasks,
                y=[float(accuracies[t].get(mode, float("nan"))) for t in tasks],
            )
            for mode in modes
        ]
    )
    fig.update_layout(
        title=title,
        barmode="group",
        yaxis_title="accuracy",
        yaxis_range=[0, 1.02],
        template=_TEMPLATE,
    )
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


# ---- one self-contained HTML file ------------------------------------------------------
# plotly.js carries two default asset URLs (geo topojson, map icons) that only geo and map
# traces fetch; tvlens draws neither. They are written with JS-escaped slashes (the same
# strings to the browser) so the file holds no CDN address as text.
_CDN_LITERALS = ("https://cdn.", "http://cdn.")


def _escape_cdn(text: str) -> str:
    for lit in _CDN_LITERALS:
        text = text.replace(lit, lit.replace("/", "\\/"))
    return text


def write_html(
    figures: Sequence[go.Figure] | Mapping[str, go.Figure],
    path: str | Path,
    *,
    title: str = "tvlens",
) -> Path:
    """Write figures to ONE self-contained HTML file that opens offline.

    plotly.js is inlined exactly once (with the first figure); no script is loaded from
    a CDN or any other address.

    Args:
        figures: figures in order, or ``heading -> figure``.
        path: the file to write (parent folders are created).
        title: the page title and top heading.

    Returns:
        The path written.
    """
    items = list(figures.items()) if isinstance(figures, Mapping) else [("", f) for f in figures]
    if not items:
        raise ValueError("no figures to write")
    parts = []
    for i, (heading, fig) in enumerate(items):
        if heading:
            parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(
            fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"responsive": True})
        )
    body = _escape_cdn("\n".join(parts))
    page = (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}</style>\n"
        f"</head>\n<body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
