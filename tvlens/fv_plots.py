"""Plotly figures of function-vector results: the AIE heatmap and the method comparison.

Kept apart from the core modules so that ``import tvlens.heads`` pulls in no plotly; these
builders belong beside :mod:`tvlens.plots` (and :func:`tvlens.plots.write_html` writes them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from jaxtyping import Float
from torch import Tensor

_TEMPLATE = "plotly_white"
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
