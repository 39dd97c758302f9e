"""The report over several runs: ``summary.md``'s tables and ``report.html``'s figures.

:func:`tvlens.report.compare.compare` builds a :class:`~tvlens.report.compare.Comparison`;
its ``markdown``, ``html_writer`` and table rows come from here. ``tvlens.report.compare``
imports this module, so ``comp`` is typed by what the report reads of a Comparison:
:class:`ComparisonLike`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from typing_extensions import Protocol, runtime_checkable

from tvlens.report.compare_align import ComparedRun, setting_text
from tvlens.report.fv import FV_COLUMNS, FV_NOTE
from tvlens.report.summary import METHOD_TITLES, MODE_TITLES, PAPER_AVERAGES, fmt_ci, fmt_test
from tvlens.run.names import PAPER_MODES


@runtime_checkable
class ComparisonLike(Protocol):
    """What the report reads of a :class:`~tvlens.report.compare.Comparison`."""

    @property
    def runs(self) -> Sequence[ComparedRun]:
        """The runs, labelled."""
        ...

    @property
    def tasks(self) -> Sequence[str]:
        """The tasks every run finished."""
        ...

    @property
    def summaries(self) -> Mapping[str, Mapping[str, Any]]:
        """Run label -> averages over :attr:`tasks`."""
        ...

    @property
    def metric(self) -> str:
        """What the accuracies are."""
        ...

    def task(self, run: ComparedRun, name: str) -> dict[str, Any]:
        """The record of task ``name`` in ``run``."""
        ...

    def title(self) -> str:
        """The report's title."""
        ...

    def alignment_note(self) -> str:
        """Which tasks are compared, which dropped and why."""
        ...

    def fv_modes(self) -> tuple[str, ...]:
        """The function-vector modes shown (none where not every run has them)."""
        ...

    def fv_note(self) -> str | None:
        """Why the function vectors some runs have are not shown, else None."""
        ...

    def runs_rows(self) -> list[list[str]]:
        """The runs table."""
        ...

    def task_rows(self) -> list[list[str]]:
        """The per-task table."""
        ...

    def average_rows(self) -> list[list[str]]:
        """The averages table, with the paper's row."""
        ...

    def fv_task_rows(self) -> list[list[str]]:
        """The function vectors' per-task table."""
        ...

    def fv_average_rows(self) -> list[list[str]]:
        """The function vectors' averages table."""
        ...

    def answer_modes(self) -> tuple[str, ...]:
        """The whole-answer modes shown (none where not every run has them)."""
        ...

    def answer_average_rows(self) -> list[list[str]]:
        """The whole-answer methods' averages table."""
        ...


# ---- reports over several runs (tvlens.report.compare) ----------------------------------------
def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cells(tag: str, xs: Sequence[str]) -> str:
        return "".join(f"<{tag}>{html.escape(x.replace('`', ''))}</{tag}>" for x in xs)

    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    return f"<table><tr>{cells('th', header)}</tr>{body}</table>\n"


RUNS_HEADER = ["run", "results", "model", "format", "seed", "dev/test/baseline n", "tasks",
               "wall time"]  # fmt: skip


def comparison_markdown(comp: ComparisonLike, title: str | None = None) -> str:
    """``summary.md``: the runs, the per-task table, the averages beside the paper's.

    Then the function vectors, where every run has them (:func:`comparison_fv_markdown`).
    """
    modes = [MODE_TITLES[m] for m in PAPER_MODES]
    lines = [f"# {title or comp.title()}", "", *_md_table(RUNS_HEADER, comp.runs_rows())]
    lines += ["", comp.alignment_note()]
    if not comp.tasks:
        return "\n".join([*lines, "", "No task was finished by every run."]) + "\n"
    metric = comp.metric[:1].upper() + comp.metric[1:]
    lines += ["", f"## {metric} per task (95% Wilson intervals)", ""]
    header = ["task", "category", "run", "best layer (depth)", *modes, "H − R"]
    lines += _md_table(header, comp.task_rows())
    lines += [
        "",
        f"## Averages of {comp.metric} over the shared tasks (95% bootstrap intervals)",
        "",
    ]
    lines += _md_table(["average", "run", *modes], comp.average_rows())
    lines += [
        "",
        "Best layer: index / last index, relative depth in parentheses. H − R: Hypothesis "
        "minus Regular on the same test examples, with the exact McNemar p. Averages: "
        "percentile bootstrap over each task's examples (tasks fixed, 10,000 replicates, "
        "seed 0).",
    ]
    lines += comparison_answer_markdown(comp)
    lines += comparison_fv_markdown(comp)
    return "\n".join(lines) + "\n"


def comparison_answer_markdown(comp: ComparisonLike) -> list[str]:
    """``summary.md``'s whole-answer section (every run with ``tv_multi`` / ``tv_learned``)."""
    extra = comp.answer_modes()
    if not extra:
        return []
    methods = [METHOD_TITLES[m] for m in ("hypothesis", *extra, "regular")]
    return [
        "",
        "## Whole-answer task vectors (`--methods tv,tv_multi,tv_learned`)",
        "",
        "### Averages over the shared tasks (95% bootstrap intervals)",
        "",
        *_md_table(["average", "run", *methods], comp.answer_average_rows()),
    ]


def comparison_fv_markdown(comp: ComparisonLike) -> list[str]:
    """``summary.md``'s function-vector section over the runs (where every run has them).

    Empty where no run has function vectors; the line saying why they are left out where
    only some runs have them (:meth:`~tvlens.report.compare.Comparison.fv_note`).
    """
    if not comp.fv_modes():
        note = comp.fv_note()
        return ["", note] if note else []

    methods = [FV_COLUMNS[m] for m in comp.fv_modes()]
    header = ["task", "category", "run", "TV layer", "FV layer (k)", *methods, "FV − TV"]
    return [
        "",
        "## Function vectors beside task vectors (`--methods tv,fv`)",
        "",
        "### Accuracy per task (95% Wilson intervals)",
        "",
        *_md_table(header, comp.fv_task_rows()),
        "",
        "### Averages over the shared tasks (95% bootstrap intervals)",
        "",
        *_md_table(["average", "run", *methods], comp.fv_average_rows()),
        "",
        FV_NOTE,
    ]


def comparison_html_writer(comp: ComparisonLike, title: str | None = None) -> Callable[[Path], Any]:
    """A function writing ``report.html`` (figures with error bars) to a given path."""
    title = title or comp.title()
    intro = _html_table(RUNS_HEADER, comp.runs_rows())
    intro += f"<p>{html.escape(comp.alignment_note())}</p>\n"
    fv_note = comp.fv_note()
    if fv_note:
        intro += f"<p>{html.escape(fv_note.replace('`', ''))}</p>\n"

    def write(path: Path) -> Path:
        from tvlens.report.plots import relative_depth_figure, runs_bars_figure, write_html

        if not comp.tasks:
            page = f"<!DOCTYPE html>\n<html><body><h1>{html.escape(title)}</h1>{intro}"
            Path(path).write_text(page + "</body></html>\n", encoding="utf-8")
            return Path(path)
        figs = {}
        for m in ("hypothesis", "regular", "baseline"):
            values = {}
            for r in comp.runs:
                tasks = {n: comp.task(r, n) for n in comp.tasks}
                values[r.label] = {
                    n: (t["accuracy"][m], t["accuracy_ci"].get(m)) for n, t in tasks.items()
                }
            figs[f"{MODE_TITLES[m]}: {comp.metric} per task"] = runs_bars_figure(
                values, title=f"{MODE_TITLES[m]} (95% Wilson intervals)"
            )
        curves = {
            r.label: {n: comp.task(r, n)["dev_accuracy_per_layer"] for n in comp.tasks}
            for r in comp.runs
        }
        figs["Per-layer dev accuracy by relative depth"] = relative_depth_figure(curves)
        averages = {
            label: {
                MODE_TITLES[m]: (s["overall"][m], s["intervals"]["overall"].get(m))
                for m in PAPER_MODES
            }
            for label, s in comp.summaries.items()
        }
        figs["Averages over the shared tasks"] = runs_bars_figure(
            averages,
            title="Mean over the shared tasks (95% bootstrap intervals) and the paper's",
            reference={MODE_TITLES[m]: v for m, v in PAPER_AVERAGES.items()},
        )
        if comp.fv_modes():
            figs["Function vectors beside task vectors"] = comparison_fv_figure(comp)
        return Path(write_html(figs, path, title=title, intro_html=intro))

    return write


def comparison_fv_figure(comp: ComparisonLike) -> Any:
    """The means over the shared tasks of the FV methods and TV Hypothesis, one bar per run."""
    from tvlens.report.plots import runs_bars_figure

    averages = {
        label: {
            FV_COLUMNS[m]: (s["overall"][m], s["intervals"]["overall"].get(m))
            for m in comp.fv_modes()
        }
        for label, s in comp.summaries.items()
    }
    return runs_bars_figure(
        averages,
        title="Function vectors and TV Hypothesis: mean over the shared tasks "
        "(95% bootstrap intervals)",
    )


def runs_rows(comp: ComparisonLike) -> list[list[str]]:
    """One row per run: label, file, model, format, seed, sizes, tasks, wall time."""
    rows = []
    for r in comp.runs:
        m, s = r.meta, r.results["summary"]
        upgraded = f" (schema {r.read_version}, upgraded)" if r.read_version < 2 else ""
        rows.append([
            r.label, f"`{r.path}`{upgraded}", str(m.get("model")), setting_text(m, "format"),
            str(m.get("seed")), f"{m.get('n_dev')}/{m.get('n_test')}/{m.get('n_baseline')}",
            f"{s['n_tasks_ok']} ok, {s['n_tasks_skipped']} skipped",
            f"{float(m.get('wall_time_s') or 0):.0f} s",
        ])  # fmt: skip
    return rows


def task_rows(comp: ComparisonLike) -> list[list[str]]:
    """One row per (shared task, run): best layer (depth), three accuracies, H − R."""
    rows = []
    for name in comp.tasks:
        for i, r in enumerate(comp.runs):
            t = comp.task(r, name)
            last = len(t["dev_accuracy_per_layer"]) - 1
            ci = t["accuracy_ci"]
            rows.append([
                name if i == 0 else "", t["category"] if i == 0 else "", r.label,
                f"{t['best_layer']}/{last} ({t['best_layer'] / max(last, 1):.2f})",
                *(fmt_ci(t["accuracy"][m], ci.get(m)) for m in PAPER_MODES),
                fmt_test(t["comparisons"].get("hypothesis_vs_regular")),
            ])  # fmt: skip
    return rows


def mean_rows(comp: ComparisonLike, modes: Sequence[str]) -> list[list[str]]:
    """Per category and over all shared tasks, one row per run: ``modes``' means."""
    rows = []
    cats = sorted({c for s in comp.summaries.values() for c in s["per_category"]})
    for cat in [*cats, None]:
        for i, (label, s) in enumerate(comp.summaries.items()):
            iv = s["intervals"]
            acc = s["overall"] if cat is None else s["per_category"][cat]
            cis = iv["overall"] if cat is None else iv["per_category"][cat]
            head = cat if cat is not None else f"**all {len(comp.tasks)} shared tasks**"
            rows.append([
                head if i == 0 else "", label,
                *(fmt_ci(acc[m], cis.get(m), bold=cat is None) for m in modes),
            ])  # fmt: skip
    return rows
