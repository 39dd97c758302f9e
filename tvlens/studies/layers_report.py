"""The layers study's averages, ``summary.md`` and figure (from its JSON document)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

#: The curves of every task, in the order they are shown, with their labels.
CURVES = {
    "patch_accuracy": "θ_L steers: patch accuracy (test)",
    "answer_topk": "the answer decodes: logit lens of the residual, answer in top 10",
    "task_word_topk": "the task decodes: logit lens of θ_L, a task word in top 100",
}


def _mean(rows: list[list[float]]) -> list[float] | None:
    if not rows:
        return None
    return [sum(col) / len(col) for col in zip(*rows, strict=True)]


def layer_averages(doc: dict[str, Any]) -> dict[str, Any]:
    """Each curve averaged over the finished tasks that have it, the probe's curve, and
    where the paper's layer L falls (the dev sweep's best layer of each task)."""
    ok = {k: t for k, t in doc["tasks"].items() if t.get("status") == "ok"}
    out: dict[str, Any] = {"n_tasks": len(ok)}
    for key in CURVES:
        rows = [t[key] for t in ok.values() if t.get(key) is not None]
        out[key] = _mean(rows)
        out[f"n_tasks_{key}"] = len(rows)
    probe = doc.get("probe")
    out["probe_accuracy"] = probe["accuracy_per_layer"] if probe else None
    out["best_layers"] = {k: t["best_layer"] for k, t in ok.items()}
    return out


def _argmax(xs: list[float] | None) -> str:
    """The first layer where ``xs`` peaks; "–" where it is 0 at every layer (no peak)."""
    if not xs or max(xs) == 0:
        return "–"
    return str(max(range(len(xs)), key=lambda i: (xs[i], -i)))


def curve_lines(s: dict[str, Any]) -> list[str]:
    """Per layer, the mean over tasks of each curve and the probe's accuracy."""
    lines = ["| layer | steer | answer | task word | probe |", "|---|---|---|---|---|"]
    probe = s.get("probe_accuracy")

    def at(xs: list[float] | None, i: int) -> str:
        return "–" if xs is None else f"{xs[i]:.2f}"

    for i in range(len(s["patch_accuracy"])):
        cells = [at(s[k], i) for k in CURVES] + [at(probe, i)]
        lines.append(f"| {i} | " + " | ".join(cells) + " |")
    return lines


def peak_lines(tasks: dict[str, Any]) -> list[str]:
    """Per task: the paper's L (dev sweep) and the layer where each curve peaks."""
    lines = ["| task | L (dev sweep) | steer | answer | task word |", "|---|---|---|---|---|"]
    for k, t in tasks.items():
        if t.get("status") != "ok":
            lines.append(f"| {k} | skipped: {t.get('reason', '')} | | | |")
            continue
        peaks = [_argmax(t.get(c)) for c in CURVES]
        lines.append(f"| {k} | {t['best_layer']} | " + " | ".join(peaks) + " |")
    return lines


def layers_summary(doc: dict[str, Any]) -> str:
    """``summary.md``: the curves per layer (mean over tasks), and each task's layers."""
    meta = doc["meta"]
    s = doc.get("summary") or layer_averages(doc)
    lines = [f"# Steerable vs decodable layers: {meta.get('model', '?')}", ""]
    if not s["n_tasks"]:
        return "\n".join([*lines, "No task finished yet.", ""])
    chance = doc["probe"]["chance"] if doc.get("probe") else None
    lines += [
        f"{s['n_tasks']} tasks, {meta.get('n_test')} test examples each, format "
        f"{meta.get('format', {}).get('name', '?')!r}. Per layer, the mean over tasks of: "
        "**steer** (Hypothesis accuracy with θ_L patched at L), **answer** (the answer of "
        "the prompt θ is read from ranks in the top 10 of the logit lens at L), **task "
        "word** (a word naming the task ranks in the top 100 of θ_L's logit lens), and "
        "**probe** (held-out accuracy of a linear probe telling the tasks apart from θ_L"
        + (f"; chance {chance:.2f}" if chance else "; needs 2 tasks, computed at the end")
        + ").",
        "",
        *curve_lines(s),
        "",
        "## Per task: the layer where each curve peaks",
        "",
        *peak_lines(doc["tasks"]),
    ]
    return "\n".join(lines) + "\n"


def layers_figures(doc: dict[str, Any]) -> dict[str, go.Figure]:
    """One figure: the curves against the layer, on one axis, the paper's L marked."""
    s = doc.get("summary") or layer_averages(doc)
    fig = go.Figure()
    if not s["n_tasks"]:
        fig.add_annotation(text="no task finished", showarrow=False)
        return {"No task finished": fig}
    curves = {CURVES[k]: s[k] for k in CURVES}
    curves["θ_L tells tasks apart: probe accuracy"] = s.get("probe_accuracy")
    for label, ys in curves.items():
        if ys is not None:
            fig.add_scatter(x=list(range(len(ys))), y=ys, mode="lines+markers", name=label)
    best = sorted(s["best_layers"].values())
    median = best[len(best) // 2]
    fig.add_vline(
        x=median, line_dash="dash", annotation_text=f"paper's L (median over tasks): {median}"
    )
    fig.update_layout(
        xaxis_title="layer L",
        yaxis_title="fraction",
        yaxis_range=[0, 1.02],
        legend={"orientation": "h", "y": -0.25},
        height=520,
    )
    return {f"Steerable vs decodable over {s['n_tasks']} tasks": fig}
