"""The composition study's averages, ``summary.md`` and figure (from its JSON document)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from tvlens.evaluation.stats import bootstrap_mean_interval

#: Each method, in the order shown, with what it is.
METHOD_NOTES = {
    "regular": "ICL on the composite",
    "tv_composite": "θ from the composite's demos",
    "tv_a": "θ of part A alone",
    "tv_b": "θ of part B alone",
    "tv_sum": "θ_A + θ_B at one layer",
    "tv_mean": "(θ_A + θ_B) / 2 at one layer",
    "tv_then": "θ_A at A's layer, then θ_B added later",
    "fv_sum": "FV_A + FV_B added at one layer",
    "baseline": "no demos, no patch",
}


def _ok(tasks: dict[str, Any]) -> dict[str, Any]:
    return {k: t for k, t in tasks.items() if t.get("status") == "ok"}


def compose_averages(doc: dict[str, Any]) -> dict[str, Any]:
    """Each method's mean accuracy over the finished composites, with its 95% bootstrap
    interval, over the composites that ran it (``tv_then`` needs a layer after A's)."""
    ok = _ok(doc["tasks"])
    out: dict[str, Any] = {"n_tasks": len(ok)}
    for m in METHOD_NOTES:
        rows = [t["methods"][m]["correct"] for t in ok.values() if m in t["methods"]]
        if rows:
            counts = [(sum(r), len(r)) for r in rows]
            lo, hi = bootstrap_mean_interval(counts)
            out[m] = {"mean": sum(k / n for k, n in counts) / len(counts), "ci": [lo, hi],
                      "n_tasks": len(rows)}  # fmt: skip
    return out


def _cell(m: dict[str, Any]) -> str:
    return f"{m['accuracy']:.2f} [{m['ci'][0]:.2f}, {m['ci'][1]:.2f}]"


def _vs(m: dict[str, Any]) -> str:
    t = m.get("vs_tv_composite")
    return "" if t is None else f"{t['difference']:+.2f} (p {t['p']:.2g})"


def average_lines(s: dict[str, Any]) -> list[str]:
    """Mean accuracy per method over the composites, with intervals."""
    lines = ["| method | what | mean accuracy [95% CI] | composites |", "|---|---|---|---|"]
    for m, what in METHOD_NOTES.items():
        if m in s:
            c = s[m]
            lines.append(f"| {m} | {what} | {c['mean']:.2f} [{c['ci'][0]:.2f}, "
                         f"{c['ci'][1]:.2f}] | {c['n_tasks']} |")  # fmt: skip
    return lines


def task_lines(tasks: dict[str, Any]) -> list[str]:
    """Per composite: each method's accuracy [Wilson CI] and its difference from
    ``tv_composite`` (McNemar's p)."""
    ok = _ok(tasks)
    shown = [m for m in METHOD_NOTES if any(m in t["methods"] for t in ok.values())]
    lines = ["| composite | " + " | ".join(shown) + " |", "|---" * (len(shown) + 1) + "|"]
    for k, t in ok.items():
        cells = []
        for m in shown:
            r = t["methods"].get(m)
            cells.append("–" if r is None else f"{_cell(r)} {_vs(r)}".strip())
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return lines


def compose_summary(doc: dict[str, Any]) -> str:
    """``summary.md``: the averages, then each composite's methods with paired tests."""
    meta = doc["meta"]
    s = doc.get("summary") or compose_averages(doc)
    lines = [f"# Do task vectors compose? {meta.get('model', '?')}", ""]
    skipped = [f"- {k} skipped: {t.get('reason', '')}" for k, t in doc["tasks"].items()
               if t.get("status") == "skipped"]  # fmt: skip
    if not s["n_tasks"]:
        return "\n".join([*lines, "No composite finished yet.", "", *skipped]) + "\n"
    lines += [
        f"{s['n_tasks']} composite tasks (A, then B), {meta.get('n_test')} test examples each, "
        "every method on the composite's zero-shot prompts and scored on its answer.",
        "",
        *average_lines(s),
        "",
        "## Per composite",
        "",
        "Accuracy [Wilson 95% CI], then the difference from `tv_composite` (McNemar's p).",
        "",
        *task_lines(doc["tasks"]),
        "",
        "Parts, and the layer of each patched method:",
        "",
        *(
            f"- {k} = {' then '.join(t['parts'])}: "
            + ", ".join(f"{m} {la}" for m, la in t["layers"].items() if la is not None)
            for k, t in _ok(doc["tasks"]).items()
        ),
        "",
        *skipped,
    ]
    return "\n".join(lines) + "\n"


def compose_figures(doc: dict[str, Any]) -> dict[str, go.Figure]:
    """Accuracy per method per composite, grouped bars."""
    ok = _ok(doc["tasks"])
    fig = go.Figure()
    if not ok:
        fig.add_annotation(text="no composite finished", showarrow=False)
        return {"No composite finished": fig}
    for m in METHOD_NOTES:
        ys = [t["methods"][m]["accuracy"] if m in t["methods"] else None for t in ok.values()]
        fig.add_bar(x=list(ok), y=ys, name=m)
    fig.update_layout(barmode="group", yaxis_title="accuracy", yaxis_range=[0, 1], height=480)
    return {f"Composition over {len(ok)} composite tasks": fig}
