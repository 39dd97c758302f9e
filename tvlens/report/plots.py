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
import plotly.colors
import plotly.graph_objects as go
from jaxtyping import Float
from torch import Tensor

from tvlens.analysis.conflict import ConflictResult
from tvlens.analysis.geometry import RobustnessResult
from tvlens.evaluation.results import LayerSweepResult

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


Interval = Sequence[float] | None  # [low, high], or None where there is none


def _error_y(values: Sequence[float], intervals: Sequence[Interval]) -> dict[str, Any]:
    """Asymmetric plotly error bars from ``[low, high]`` intervals around ``values``."""

    def part(i: int, v: float, iv: Interval) -> float:
        if iv is None or not np.isfinite(v) or not np.all(np.isfinite(iv)):
            return 0.0
        return float(iv[1] - v) if i else float(v - iv[0])

    pairs = list(zip(values, intervals, strict=True))
    return {
        "type": "data",
        "symmetric": False,
        "array": [part(1, v, iv) for v, iv in pairs],
        "arrayminus": [part(0, v, iv) for v, iv in pairs],
        "thickness": 1.2,
    }


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


Estimate = tuple[float, Interval]  # (accuracy, [low, high] or None)


def runs_bars_figure(
    values: Mapping[str, Mapping[str, Estimate]],
    *,
    title: str = "Accuracy per task and run",
    reference: Mapping[str, float] | None = None,
    reference_name: str = "paper",
) -> go.Figure:
    """Grouped bars with error bars: x = the keys of each run's mapping, one trace per run.

    Args:
        values: run label -> x label (a task, a mode) -> ``(accuracy, [low, high])``.
        reference: x label -> a value drawn as one more trace without error bars
            (the paper's averages).

    Returns:
        A figure with one bar trace per run (plus one for ``reference``).
    """
    if not values:
        raise ValueError("no runs given; pass a mapping run -> {x: (accuracy, interval)}")
    xs = list(dict.fromkeys(x for run in values.values() for x in run))
    bars = []
    for label, run in values.items():
        ys = [float(run[x][0]) if x in run else float("nan") for x in xs]
        ivs = [run[x][1] if x in run else None for x in xs]
        bars.append(go.Bar(name=label, x=xs, y=ys, error_y=_error_y(ys, ivs)))
    if reference is not None:
        ys = [float(reference.get(x, float("nan"))) for x in xs]
        bars.append(go.Bar(name=reference_name, x=xs, y=ys, marker_pattern_shape="/"))
    fig = go.Figure(bars)
    fig.update_layout(
        title=title, barmode="group", yaxis_title="accuracy", yaxis_range=[0, 1.05],
        template=_TEMPLATE,
    )  # fmt: skip
    return fig


def relative_depth_figure(
    curves: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    title: str = "Hypothesis accuracy per layer (dev set), by relative depth",
) -> go.Figure:
    """Per-layer dev curves of several runs on one axis: x = layer / (n_layers - 1).

    Models of different depth line up (0 = first layer, 1 = last). Each run gets one
    colour: its mean over tasks as a thick line, each task as a faint line that the run's
    legend entry shows and hides with the mean.

    Args:
        curves: run label -> task -> accuracy per layer.
    """
    if not curves:
        raise ValueError("no runs given; pass a mapping run -> {task: accuracy per layer}")
    palette = plotly.colors.qualitative.Plotly
    fig = go.Figure()
    for i, (label, tasks) in enumerate(curves.items()):
        if not tasks:
            continue
        colour = palette[i % len(palette)]
        lengths = {len(a) for a in tasks.values()}
        if len(lengths) != 1:
            raise ValueError(f"run {label!r}: sweeps of different lengths {sorted(lengths)}")
        (n,) = lengths
        x = (np.arange(n) / max(n - 1, 1)).tolist()
        for task, acc in tasks.items():
            fig.add_trace(
                go.Scatter(
                    x=x, y=[float(a) for a in acc], mode="lines", name=f"{label}: {task}",
                    legendgroup=label, showlegend=False, opacity=0.25, line={"color": colour},
                    hovertemplate=f"{label}<br>{task}<br>depth %{{x:.2f}}: %{{y:.2f}}",
                )
            )  # fmt: skip
        mean = np.nanmean(np.array([list(a) for a in tasks.values()], dtype=float), axis=0)
        fig.add_trace(
            go.Scatter(
                x=x, y=mean.tolist(), mode="lines+markers", name=f"{label} (mean, {n} layers)",
                legendgroup=label, line={"color": colour, "width": 4},
            )
        )  # fmt: skip
    fig.update_layout(
        title=title, xaxis_title="relative depth: layer / (n_layers - 1)",
        yaxis_title="accuracy", yaxis_range=[0, 1.02], xaxis_range=[-0.02, 1.02],
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


# ---- one self-contained HTML file ------------------------------------------------------
# plotly.js carries two default asset URLs (geo topojson, map icons) that only geo and map
# traces fetch; tvlens draws neither. They are written with JS-escaped slashes (the same
# strings to the browser) so the file holds no CDN address as text.
_CDN_LITERALS = ("https://cdn.", "http://cdn.")


# ---- function vectors (tvlens.fv.vector, tvlens.fv.methods) -------------------
METHOD_LABELS = {
    "baseline": "Baseline (x ->)",
    "shuffled": "Shuffled-label ICL",
    "fv_shuffled": "FV + shuffled labels",
    "layer_average": "Layer-average",
    "mean_difference": "Mean difference",
    "fv_zero_shot": "FV zero-shot",
    "tv_hypothesis": "TV Hypothesis",
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


def _escape_cdn(text: str) -> str:
    for lit in _CDN_LITERALS:
        text = text.replace(lit, lit.replace("/", "\\/"))
    return text


def write_html(
    figures: Sequence[go.Figure] | Mapping[str, go.Figure],
    path: str | Path,
    *,
    title: str = "tvlens",
    intro_html: str = "",
) -> Path:
    """Write figures to ONE self-contained HTML file that opens offline.

    plotly.js is inlined exactly once (with the first figure); no script is loaded from
    a CDN or any other address.

    Args:
        figures: figures in order, or ``heading -> figure``.
        path: the file to write (parent folders are created).
        title: the page title and top heading.
        intro_html: HTML placed under the heading (the caller escapes what it inserts).

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
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>\n"
        f"</head>\n<body>\n<h1>{html.escape(title)}</h1>\n{intro_html}{body}\n</body>\n</html>\n"
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
