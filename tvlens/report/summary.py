"""Run reports: the paper-style summary table (Markdown) and the HTML figures.

Every accuracy is shown with its 95% interval, ``0.58 [0.44, 0.71]``: Wilson's per task,
the percentile bootstrap for means over tasks (see :mod:`tvlens.run.statistics`). Reports over
several runs (models, formats, seeds) are :func:`tvlens.report.compare.compare`'s.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tvlens.report.fv import FV_COLUMNS, fv_figures, fv_markdown
from tvlens.report.numbers import fmt_acc, fmt_ci, fmt_p, fmt_test
from tvlens.run.names import PAPER_MODES
from tvlens.run.statistics import summarize

__all__ = [
    "PAPER_AVERAGES",
    "PAPER_MODES",
    "fmt_acc",
    "fmt_ci",
    "fmt_p",
    "fmt_test",
    "metric_line",
    "report_html_writer",
    "summarize",
    "summary_markdown",
    "write_report_html",
]

PAPER_AVERAGES = {"baseline": 0.13, "hypothesis": 0.74, "regular": 0.84}
PAPER_ROW = "paper (7 models, 2.8B–30B)"
MODE_TITLES = {"baseline": "Baseline", "hypothesis": "Hypothesis", "regular": "Regular"}


INTERVALS_NOTE = (
    "Intervals are 95%: Wilson's per task (over its test examples; Baseline over its own "
    "queries); bootstrap over each task's examples (tasks fixed, 10,000 replicates, seed 0) "
    "for averages. *H − R*: Hypothesis minus Regular on the same test examples, exact "
    "McNemar p; *H − B*: Hypothesis minus Baseline, Fisher's exact p (Baseline scores other "
    "queries)."
)


def metric_line(meta: Mapping[str, Any]) -> str:
    """One sentence naming what a run's accuracies measure (next token or exact match)."""
    if meta.get("answers", "single") == "any":
        return (
            "**Metric: exact match of the generated answer** (greedy, up to "
            f"{meta.get('max_new_tokens', 8)} new tokens, stopped at the format's separator; "
            "compared after the format's normalization). The layer is chosen on dev by "
            "first-token accuracy; vectors are patched at "
            + (
                "the arrow and every generated position (`--patch-at all`)"
                if meta.get("patch_at", "arrow") == "all"
                else "the arrow only (the paper)"
            )
            + ". First-token accuracy, word F1 and where answers stop follow the averages."
        )
    return (
        "**Metric: next-token accuracy** (the greedy next token at the arrow equals the "
        "answer's single token)."
    )


def generation_metrics_table(tasks: Mapping[str, Any]) -> list[str]:
    """``--answers any``: first-token accuracy and word F1 per mode, per task and on average."""
    ok = {n: t for n, t in tasks.items() if t["status"] == "ok" and "f1" in t}
    if not ok:
        return []
    cols = [f"{MODE_TITLES[m]} {k}" for k in ("first token", "F1") for m in PAPER_MODES]
    lines = ["", "| task | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]

    def row(name: str, values: Sequence[float]) -> str:
        return f"| {name} | " + " | ".join(fmt_acc(v) for v in values) + " |"

    per_task = {
        n: [t["first_token_accuracy"][m] for m in PAPER_MODES] + [t["f1"][m] for m in PAPER_MODES]
        for n, t in ok.items()
    }
    lines += [row(n, v) for n, v in per_task.items()]
    means = [sum(v[i] for v in per_task.values()) / len(per_task) for i in range(len(cols))]
    lines.append(row("**mean over tasks**", means))
    return lines


STOP_TITLES = {
    "separator": "stopped at the separator",
    "early": "stopped early",
    "ran_on": "ran on",
    "eos": "EOS",
}
"""Columns of the stop-reason table (:func:`tvlens.run.answers.stop_kind`)."""

STOP_NOTE = (
    "*Where answers stop*, share of examples, mean over tasks: *stopped early*: the "
    "generation stopped (separator or EOS) on a proper prefix of the answer or on nothing; "
    "*ran on*: it reached the token limit without a separator (exact match then fails "
    "unless the answer was cut by normalization); *stopped at the separator* / *EOS*: "
    "stopped there after a whole answer, right or wrong."
)


ANSWER_TITLES = {"tv_multi": "TV multi-position", "tv_learned": "TV learned"}
"""The whole-answer methods (``--methods tv,tv_multi,tv_learned``) and their titles."""

METHOD_TITLES = {**FV_COLUMNS, **ANSWER_TITLES}
"""The title of every mode in the tables beside the paper's (TV Hypothesis, Regular, the
function-vector and whole-answer methods)."""

ANSWER_NOTE = (
    "*TV multi-position* (`tv_multi`): θ_t read at each step of the dummy queries' "
    "teacher-forced answers (the arrow, each answer token), patched at the same step of "
    "generation from `x ->` at the TV layer, the last θ repeated past the dummies' answers "
    "(`tvlens.evaluation.multi`). *TV learned* (`tv_learned`): those vectors fit by gradient "
    "descent to the model's own ICL answers on the dev examples, the model frozen "
    "(`tvlens.evaluation.learned`; an upper bound for vectors at that layer). *− H*: minus TV "
    "Hypothesis on the same test examples, exact McNemar p. */ R*: the mean over the mean of "
    "Regular."
)


def answer_methods_table(tasks: Mapping[str, Any]) -> list[str]:
    """``--methods tv,tv_multi,tv_learned``: exact match of TV, the whole-answer methods and
    Regular per task, each method against TV Hypothesis."""
    ok = {n: t for n, t in tasks.items() if t["status"] == "ok"}
    extra = [m for m in ANSWER_TITLES if ok and all(m in t["accuracy"] for t in ok.values())]
    if not extra:
        return []
    modes = ["hypothesis", *extra, "regular"]
    head = [METHOD_TITLES[m] for m in modes] + [f"{ANSWER_TITLES[m]} − H" for m in extra]
    lines = [
        "",
        "## Whole-answer task vectors (`--methods tv,tv_multi,tv_learned`)",
        "",
        "| task | layer | " + " | ".join(head) + " |",
        "|---|---|" + "---|" * len(head),
    ]
    for n, t in ok.items():
        tests = t.get("comparisons", {})
        lines.append(
            f"| {n} | {t['best_layer']} | "
            + " | ".join(fmt_acc(t["accuracy"][m]) for m in modes)
            + " | "
            + " | ".join(fmt_test(tests.get(f"{m}_vs_hypothesis")) for m in extra)
            + " |"
        )
    means = {m: sum(t["accuracy"][m] for t in ok.values()) / len(ok) for m in modes}
    reg = means["regular"]
    lines.append(
        "| **mean over tasks** | | "
        + " | ".join(f"**{fmt_acc(means[m])}**" for m in modes)
        + " | "
        + " | ".join(f"/ R {means[m] / reg:.2f}" if reg else "" for m in extra)
        + " |"
    )
    return [*lines, "", ANSWER_NOTE]


def mean_shares(
    per_task: Sequence[Mapping[str, Mapping[str, float]]],
) -> dict[str, dict[str, float]]:
    """The mean over tasks of each mode's stop-reason shares (modes every task has)."""
    modes = [m for m in per_task[0] if all(m in t for t in per_task)]
    return {
        m: {k: sum(t[m][k] for t in per_task) / len(per_task) for k in STOP_TITLES} for m in modes
    }


def stop_reasons_table(tasks: Mapping[str, Any]) -> list[str]:
    """``--answers any``: where each mode's answers stopped, mean over the finished tasks."""
    ok = [t for t in tasks.values() if t["status"] == "ok" and "stop_reasons" in t]
    if not ok:
        return []
    means = mean_shares([t["stop_reasons"] for t in ok])
    lines = ["", "| mode | exact match | " + " | ".join(STOP_TITLES.values()) + " |"]
    lines.append("|---|---|" + "---|" * len(STOP_TITLES))
    for m in [m for m in METHOD_TITLES if m in means]:
        em = sum(t["accuracy"][m] for t in ok) / len(ok)
        shares = [means[m][k] for k in STOP_TITLES]
        lines.append(
            f"| {METHOD_TITLES[m]} | {fmt_acc(em)} | "
            + " | ".join(fmt_acc(v) for v in shares)
            + " |"
        )
    return [*lines, "", STOP_NOTE]


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
        metric_line(meta),
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
        "| task | category | pairs kept | best layer | Baseline | Hypothesis | Regular "
        "| H − R | H − B |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, t in tasks.items():
        if t["status"] != "ok":
            lines.append(
                f"| {name} | {t['category']} | {t['n_kept']}/{t['n_pairs']} | skipped: "
                f"{t.get('reason', '')} | | | | | |"
            )
            continue
        a, ci, tests = t["accuracy"], t.get("accuracy_ci", {}), t.get("comparisons", {})
        lines.append(
            f"| {name} | {t['category']} | {t['n_kept']}/{t['n_pairs']} | {t['best_layer']} | "
            + " | ".join(fmt_ci(a[m], ci.get(m)) for m in PAPER_MODES)
            + f" | {fmt_test(tests.get('hypothesis_vs_regular'))}"
            + f" | {fmt_test(tests.get('hypothesis_vs_baseline'))} |"
        )
    lines += averages_table(summary)
    lines += generation_metrics_table(tasks)
    lines += stop_reasons_table(tasks)
    lines += ["", INTERVALS_NOTE]
    conflicts = {n: t.get("n_conflicts_dropped", 0) for n, t in tasks.items()}
    if any(conflicts.values()):
        listed = ", ".join(f"{n} ({k})" for n, k in conflicts.items() if k)
        lines += ["", f"Inputs dropped for conflicting outputs (`{policy}`): {listed}."]
    stripped = {n: t.get("n_stripped", 0) for n, t in tasks.items()}
    if any(stripped.values()):
        listed = ", ".join(f"{n} ({k})" for n, k in stripped.items() if k)
        lines += ["", f"Pairs with whitespace around an input or output, stripped: {listed}."]
    if summary["n_tasks_skipped"]:
        lines += ["", f"{summary['n_tasks_skipped']} task(s) skipped; see the table."]
    lines += answer_methods_table(tasks)  # with --methods tv,tv_multi,tv_learned
    lines += fv_markdown(results)  # with --methods tv,fv
    return "\n".join(lines) + "\n"


def averages_table(summary: Mapping[str, Any]) -> list[str]:
    """The averages per category and over all tasks with intervals, and the paper's row."""
    ivs = summary.get("intervals", {})
    lines = ["", "| average | Baseline | Hypothesis | Regular |", "|---|---|---|---|"]
    for cat, acc in summary["per_category"].items():
        cis = ivs.get("per_category", {}).get(cat, {})
        lines.append(
            f"| {cat} | " + " | ".join(fmt_ci(acc[m], cis.get(m)) for m in PAPER_MODES) + " |"
        )
    o, cis = summary["overall"], ivs.get("overall", {})
    lines.append(
        "| **all tasks** | "
        + " | ".join(fmt_ci(o[m], cis.get(m), bold=True) for m in PAPER_MODES)
        + " |"
    )
    p = PAPER_AVERAGES
    lines.append(f"| {PAPER_ROW} | " + " | ".join(f"{p[m]:.2f}" for m in PAPER_MODES) + " |")
    return lines


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

    intro = html.escape(metric_line(results["meta"]).replace("**", ""))

    def write(path: Path) -> Path:
        from tvlens.report.plots import (
            layer_sweep_figure,
            modes_figure,
            runs_bars_figure,
            stop_reasons_figure,
            write_html,
        )

        sweeps = {n: t["dev_accuracy_per_layer"] for n, t in ok.items()}
        accs = {n: t["accuracy"] for n, t in ok.items()}
        cis = {n: t.get("accuracy_ci", {}) for n, t in ok.items()}
        s = results["summary"]
        overall_ci = s.get("intervals", {}).get("overall", {})
        means: dict[str, Any] = {m: (s["overall"][m], overall_ci.get(m)) for m in PAPER_MODES}
        averages = {"all tasks": means}
        any_answers = results["meta"].get("answers", "single") == "any"
        metric = "Exact match of generated answers" if any_answers else "Next-token accuracy"
        dev_metric = "first-token accuracy" if any_answers else "accuracy"
        figures: dict[str, Any] = {
            f"Task vectors: per-layer dev {dev_metric}": layer_sweep_figure(sweeps),
            f"Baseline, Hypothesis, Regular per task ({metric.lower()})": modes_figure(
                accs, intervals=cis, title=f"{metric} per task (95% Wilson intervals)"
            ),
            "Mean over tasks": runs_bars_figure(
                averages,
                title="Mean over tasks (95% bootstrap intervals) and the paper's",
                reference=PAPER_AVERAGES,
            ),
            **fv_figures(results),  # with --methods tv,fv
        }
        if any_answers:
            for key, name in (("first_token_accuracy", "First-token accuracy"), ("f1", "Word F1")):
                figures[f"{name} per task"] = modes_figure(
                    {n: t[key] for n, t in ok.items() if key in t}, title=f"{name} per task"
                )
            stops = [t["stop_reasons"] for t in ok.values() if "stop_reasons" in t]
            if stops:
                figures["Where generated answers stop"] = stop_reasons_figure(mean_shares(stops))
        return Path(write_html(figures, path, title=title, intro_html=f"<p>{intro}</p>\n"))

    return write


def write_report_html(results: Mapping[str, Any], path: str | Path) -> Path:
    """``report.html``: per-layer dev accuracy per task and the three modes per task.

    Written atomically (a temp file in the same folder, fsync, rename). A run whose tasks
    were all skipped gets a page that says so.
    """
    from tvlens.run.files import atomic_write

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
