"""Run reports: the paper-style summary table (Markdown) and the HTML figures."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

MODES = ("baseline", "hypothesis", "regular")
PAPER_AVERAGES = {"baseline": 0.13, "hypothesis": 0.74, "regular": 0.84}


def summarize(tasks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Mean accuracy per category and overall, over the tasks that ran (``None`` if none)."""
    ok = {n: t for n, t in tasks.items() if t.get("status") == "ok"}
    per_cat: dict[str, dict[str, float | None]] = {}
    for cat in sorted({t["category"] for t in ok.values()}):
        members = [t for t in ok.values() if t["category"] == cat]
        per_cat[cat] = {m: _mean([t["accuracy"][m] for t in members]) for m in MODES}
    overall = {m: _mean([t["accuracy"][m] for t in ok.values()]) for m in MODES}
    return {
        "per_category": per_cat,
        "overall": overall,
        "n_tasks_ok": len(ok),
        "n_tasks_skipped": len(tasks) - len(ok),
    }


def _mean(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None and math.isfinite(x)]
    return sum(vals) / len(vals) if vals and len(vals) == len(xs) else None


def _f(x: Any, bold: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"**{x:.2f}**" if bold else f"{x:.2f}"


def skipped_reasons(results: Mapping[str, Any]) -> list[str]:
    """``"name: reason"`` for each skipped task."""
    return [
        f"{n}: {t.get('reason', '')}" for n, t in results["tasks"].items() if t["status"] != "ok"
    ]


def summary_markdown(results: Mapping[str, Any]) -> str:
    """A table like the paper's: Baseline / Hypothesis / Regular per task and averages."""
    meta, tasks, summary = results["meta"], results["tasks"], results["summary"]
    policy = meta.get("on_conflict", "error")
    lines = [
        f"# tvlens run: {meta['model']}",
        "",
        f"{meta['n_demos']} demos, {meta['n_dummy']} dummy queries, {meta['n_dev']} dev / "
        f"{meta['n_test']} test / {meta['n_baseline']} baseline examples per task, "
        f"seed {meta['seed']}, format `{meta['format']['name']}`"
        + (f", conflicting pairs: `{policy}`" if policy != "error" else "")
        + f"; wall time {meta['wall_time_s']:.0f} s.",
        "",
    ]
    if not summary["n_tasks_ok"]:
        lines += [
            f"**No task ran: all {len(tasks)} task(s) were skipped**, so there are no "
            "accuracies. Reasons:",
            "",
            *(f"- {r}" for r in skipped_reasons(results)),
        ]
        return "\n".join(lines) + "\n"
    lines += [
        "| task | category | pairs kept | best layer | Baseline | Hypothesis | Regular |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, t in tasks.items():
        if t["status"] != "ok":
            lines.append(
                f"| {name} | {t['category']} | {t['n_kept']}/{t['n_pairs']} | skipped: "
                f"{t.get('reason', '')} | | | |"
            )
            continue
        a = t["accuracy"]
        lines.append(
            f"| {name} | {t['category']} | {t['n_kept']}/{t['n_pairs']} | {t['best_layer']} | "
            + " | ".join(_f(a[m]) for m in MODES)
            + " |"
        )
    lines += ["", "| average | Baseline | Hypothesis | Regular |", "|---|---|---|---|"]
    for cat, acc in summary["per_category"].items():
        lines.append(f"| {cat} | " + " | ".join(_f(acc[m]) for m in MODES) + " |")
    o = summary["overall"]
    lines.append("| **all tasks** | " + " | ".join(_f(o[m], bold=True) for m in MODES) + " |")
    p = PAPER_AVERAGES
    lines.append(
        "| paper (7 models, 2.8B–30B) | " + " | ".join(f"{p[m]:.2f}" for m in MODES) + " |"
    )
    conflicts = {n: t.get("n_conflicts_dropped", 0) for n, t in tasks.items()}
    if any(conflicts.values()):
        listed = ", ".join(f"{n} ({k})" for n, k in conflicts.items() if k)
        lines += ["", f"Inputs dropped for conflicting outputs (`{policy}`): {listed}."]
    if summary["n_tasks_skipped"]:
        lines += ["", f"{summary['n_tasks_skipped']} task(s) skipped; see the table."]
    return "\n".join(lines) + "\n"


def report_html_writer(results: Mapping[str, Any]) -> Callable[[Path], Any]:
    """A function writing ``report.html`` for ``results`` to a path it is given."""
    title = f"tvlens run: {results['meta']['model']}"
    ok = {n: t for n, t in results["tasks"].items() if t["status"] == "ok"}
    if not ok:
        items = "".join(f"<li>{html.escape(r)}</li>" for r in skipped_reasons(results))
        page = (
            '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
            f"<h1>{html.escape(title)}</h1>\n<p><strong>No task ran: all "
            f"{len(results['tasks'])} task(s) were skipped</strong>, so there are no "
            f"accuracies.</p>\n<ul>{items}</ul>\n</body>\n</html>\n"
        )
        return lambda path: Path(path).write_text(page, encoding="utf-8")

    def write(path: Path) -> Path:
        from tvlens.plots import layer_sweep_figure, modes_figure, write_html

        sweeps = {n: t["dev_accuracy_per_layer"] for n, t in ok.items()}
        accs = {n: t["accuracy"] for n, t in ok.items()}
        figures = [layer_sweep_figure(sweeps), modes_figure(accs)]
        return Path(write_html(figures, path, title=title))

    return write


def write_report_html(results: Mapping[str, Any], path: str | Path) -> Path:
    """``report.html``: per-layer dev accuracy per task and the three modes per task.

    Written atomically (a temp file in the same folder, fsync, rename). A run whose tasks
    were all skipped gets a page that says so.
    """
    from tvlens.runfiles import atomic_write

    return atomic_write(path, report_html_writer(results))


def chromium_command(
    page: str | Path, profile: str | Path, *extra: str, chromium: str | None = None
) -> list[str]:
    """The headless Debian-chromium command that renders a local report offline.

    Args:
        page: the HTML file.
        profile: a fresh, empty user-data folder.
        extra: more flags, e.g. ``"--dump-dom"`` or ``"--screenshot=out.png"``.
        chromium: the executable (default: ``chromium`` or ``chromium-browser`` on PATH).

    Raises:
        FileNotFoundError: if no chromium is installed.
    """
    import shutil

    exe = chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise FileNotFoundError("chromium not found: install Debian's chromium package")
    return [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--virtual-time-budget=10000", *extra,
        Path(page).resolve().as_uri(),
    ]  # fmt: skip
