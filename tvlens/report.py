"""Run reports: the paper-style summary table (Markdown) and the HTML figures."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

MODES = ("baseline", "hypothesis", "regular")
PAPER_AVERAGES = {"baseline": 0.13, "hypothesis": 0.74, "regular": 0.84}


def summarize(tasks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Mean accuracy per category and overall, over the tasks that ran."""
    ok = {n: t for n, t in tasks.items() if t.get("status") == "ok"}
    per_cat: dict[str, dict[str, float]] = {}
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


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def summary_markdown(results: Mapping[str, Any]) -> str:
    """A table like the paper's: Baseline / Hypothesis / Regular per task and averages."""
    meta, tasks, summary = results["meta"], results["tasks"], results["summary"]
    lines = [
        f"# tvlens run: {meta['model']}",
        "",
        f"{meta['n_demos']} demos, {meta['n_dummy']} dummy queries, {meta['n_dev']} dev / "
        f"{meta['n_test']} test / {meta['n_baseline']} baseline examples per task, "
        f"seed {meta['seed']}, format `{meta['format']['name']}`; "
        f"wall time {meta['wall_time_s']:.0f} s.",
        "",
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
            f"{a['baseline']:.2f} | {a['hypothesis']:.2f} | {a['regular']:.2f} |"
        )
    lines += ["", "| average | Baseline | Hypothesis | Regular |", "|---|---|---|---|"]
    for cat, acc in summary["per_category"].items():
        lines.append(f"| {cat} | " + " | ".join(f"{acc[m]:.2f}" for m in MODES) + " |")
    o = summary["overall"]
    lines.append("| **all tasks** | " + " | ".join(f"**{o[m]:.2f}**" for m in MODES) + " |")
    p = PAPER_AVERAGES
    lines.append(
        "| paper (7 models, 2.8B–30B) | " + " | ".join(f"{p[m]:.2f}" for m in MODES) + " |"
    )
    if summary["n_tasks_skipped"]:
        lines += ["", f"{summary['n_tasks_skipped']} task(s) skipped; see the table."]
    return "\n".join(lines) + "\n"


def write_report_html(results: Mapping[str, Any], path: str | Path) -> Path:
    """``report.html``: per-layer dev accuracy per task and the three modes per task."""
    from tvlens.plots import layer_sweep_figure, modes_figure, write_html

    ok = {n: t for n, t in results["tasks"].items() if t["status"] == "ok"}
    sweeps = {n: t["dev_accuracy_per_layer"] for n, t in ok.items()}
    accs = {n: t["accuracy"] for n, t in ok.items()}
    figures = [layer_sweep_figure(sweeps), modes_figure(accs)]
    return Path(write_html(figures, path, title=f"tvlens run: {results['meta']['model']}"))


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
