"""Plotly figures over several runs: grouped bars with error bars, and per-layer curves by
relative depth; also the error-bar helper every bar figure of tvlens uses.

:mod:`tvlens.report.plots` re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.colors
import plotly.graph_objects as go

_TEMPLATE = "plotly_white"


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
