"""The transfer study's averages, ``summary.md`` and figures (from its JSON document)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from tvlens.evaluation.stats import bootstrap_mean_interval, mcnemar_exact


def _ok(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: t for k, t in doc["tasks"].items() if t.get("status") == "ok"}


def _mean_ci(rows: list[list[bool]]) -> dict[str, Any]:
    """Mean over tasks of each task's accuracy, with its 95% bootstrap interval."""
    counts = [(sum(r), len(r)) for r in rows]
    mean = sum(k / n for k, n in counts) / len(counts)
    lo, hi = bootstrap_mean_interval(counts)
    return {"mean": mean, "ci": [lo, hi]}


def transfer_averages(doc: dict[str, Any]) -> dict[str, Any]:
    """Averages over the finished tasks: per method the matrix (source -> target) of mean
    accuracy with intervals, and each off-diagonal cell's paired test against the target's
    own θ (McNemar, over every test example of every task); Regular and Baseline per format.
    """
    ok = _ok(doc)
    if not ok:
        return {"n_tasks": 0}
    first = next(iter(ok.values()))
    fmts = list(first["formats"])
    methods = [m for m in ("tv", "fv") if m in first["correct"]]
    out: dict[str, Any] = {"n_tasks": len(ok), "formats": fmts, "tasks": list(ok)}
    for mode in ("regular", "baseline"):
        out[mode] = {f: _mean_ci([t["correct"][mode][f] for t in ok.values()]) for f in fmts}
    for m in methods:
        cells: dict[str, dict[str, Any]] = {}
        for a in fmts:
            for b in fmts:
                rows = [t["correct"][m][a][b] for t in ok.values()]
                cell = _mean_ci(rows)
                if a != b:
                    own = [x for t in ok.values() for x in t["correct"][m][b][b]]
                    test = mcnemar_exact([x for r in rows for x in r], own)
                    cell["vs_own"] = {"difference": test.difference, "p": test.p}
                cells.setdefault(a, {})[b] = cell
        diag = [cells[f][f]["mean"] for f in fmts]
        off = [cells[a][b]["mean"] for a in fmts for b in fmts if a != b]
        out[m] = {
            "matrix": cells,
            "diagonal_mean": sum(diag) / len(diag),
            "off_diagonal_mean": sum(off) / len(off) if off else None,
        }
    return out


def _cell(c: dict[str, Any]) -> str:
    lo, hi = c["ci"]
    return f"{c['mean']:.2f} [{lo:.2f}, {hi:.2f}]"


def matrix_lines(s: dict[str, Any], method: str) -> list[str]:
    """One method's matrix as a markdown table (rows: extracted under; columns: run in),
    then its diagonal and off-diagonal means."""
    fmts, cells = s["formats"], s[method]["matrix"]
    lines = ["| from \\ into | " + " | ".join(fmts) + " |", "|---" * (len(fmts) + 1) + "|"]
    for a in fmts:
        row = [_cell(cells[a][b]) for b in fmts]
        lines.append(f"| **{a}** | " + " | ".join(row) + " |")
    off = s[method]["off_diagonal_mean"]
    tail = f"; off-diagonal mean {off:.2f}" if off is not None else ""
    return [*lines, "", f"Diagonal mean {s[method]['diagonal_mean']:.2f}{tail}."]


def modes_lines(s: dict[str, Any]) -> list[str]:
    """Regular (ICL) and Baseline (zero-shot, no patch) per format, with intervals."""
    lines = ["| format | Regular | Baseline |", "|---|---|---|"]
    return lines + [
        f"| {f} | {_cell(s['regular'][f])} | {_cell(s['baseline'][f])} |" for f in s["formats"]
    ]


def task_lines(tasks: dict[str, Any], fmts: list[str]) -> list[str]:
    """Per finished task: each method's layer per format, its diagonal and off-diagonal."""
    ok = {k: t for k, t in tasks.items() if t.get("status") == "ok"}
    methods = [m for m in ("tv", "fv") if any(m in t["accuracy"] for t in ok.values())]
    head = "| task | " + " | ".join(
        f"{m} layers | {m} diagonal | {m} off-diagonal" for m in methods
    )
    lines = [head + " |", "|---" * (1 + 3 * len(methods)) + "|"]
    for k, t in ok.items():
        cells = []
        for m in methods:
            acc = t["accuracy"][m]
            diag = [acc[f][f] for f in fmts]
            off = [acc[a][b] for a in fmts for b in fmts if a != b]
            layers = " ".join(str(t["layers"][m][f]) for f in fmts)
            cells += [layers, f"{sum(diag) / len(diag):.2f}", f"{sum(off) / len(off):.2f}"]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return lines


def transfer_summary(doc: dict[str, Any]) -> str:
    """``summary.md``: each method's matrix, Regular / Baseline per format, per task lines."""
    meta, s = doc["meta"], doc.get("summary") or transfer_averages(doc)
    lines = [f"# Transfer across prompt formats: {meta.get('model', '?')}", ""]
    skipped = [f"- {k} skipped: {t.get('reason', '')}" for k, t in doc["tasks"].items()
               if t.get("status") == "skipped"]  # fmt: skip
    if not s.get("n_tasks"):
        return "\n".join([*lines, "No task finished yet.", "", *skipped]) + "\n"
    fmts = s["formats"]
    lines += [
        f"{s['n_tasks']} tasks, {meta.get('n_test')} test examples each (the same examples "
        "in every format). Rows: the format θ was extracted in (its layer chosen on dev in "
        "that format); columns: the format of the zero-shot run it is patched into. Mean "
        "accuracy over tasks [95% bootstrap interval]; the diagonal is `tvlens run "
        "--format <A>`'s Hypothesis.",
        "",
    ]
    for m in (x for x in ("tv", "fv") if x in s):
        name = "Task vector (θ)" if m == "tv" else "Function vector"
        lines += [f"## {name}", "", *matrix_lines(s, m), ""]
    lines += ["## Regular and Baseline per format", "", *modes_lines(s), ""]
    lines += ["## Per task", "", "Layers in the order of the formats above.", ""]
    lines += [*task_lines(doc["tasks"], fmts), "", *skipped]
    return "\n".join(lines) + "\n"


def transfer_figures(doc: dict[str, Any]) -> dict[str, go.Figure]:
    """A heatmap per method (mean accuracy over tasks, source rows x target columns)."""
    s = doc.get("summary") or transfer_averages(doc)
    if not s.get("n_tasks"):
        fig = go.Figure()
        fig.add_annotation(text="no task finished", showarrow=False)
        return {"No task finished": fig}
    fmts, figs = s["formats"], {}
    for m in (x for x in ("tv", "fv") if x in s):
        z = [[s[m]["matrix"][a][b]["mean"] for b in fmts] for a in fmts]
        fig = go.Figure(
            go.Heatmap(
                z=z,
                x=fmts,
                y=fmts,
                zmin=0,
                zmax=1,
                colorscale="Viridis",
                text=[[f"{v:.2f}" for v in row] for row in z],
                texttemplate="%{text}",
            )
        )
        fig.update_layout(
            xaxis_title="patched into (zero-shot format)",
            yaxis_title="extracted under",
            yaxis_autorange="reversed",
            height=420 + 20 * len(fmts),
        )
        name = "task vector" if m == "tv" else "function vector"
        figs[f"{name}: accuracy over {s['n_tasks']} tasks"] = fig
    return figs
