"""One report over several ``tvlens run`` folders: models, formats, seeds, methods side by side.

:func:`compare` (and ``tvlens compare RUN_DIR... --out DIR``) reads each folder's
``results.json`` (schema version 1 files are upgraded: their
intervals are computed from the per-example records they hold), aligns the runs on the
tasks every run finished, and writes ``summary.md``, ``report.html`` and ``comparison.json``:

- per task and run: best layer (and its relative depth), the three accuracies with Wilson's
  95% interval, Hypothesis − Regular with the exact McNemar p;
- the averages over the shared tasks per category and overall (95% bootstrap intervals)
  beside the paper's (Baseline .13 / Hypothesis .74 / Regular .84);
- figures: grouped bars per task with error bars, one bar per run; the per-layer dev curves
  of all runs on one axis of relative depth ``layer / (n_layers - 1)``; the averages;
- where every run has function vectors (``tvlens run --methods tv,fv``) on every shared task:
  the FV methods beside TV Hypothesis per task and run (Wilson intervals), their averages
  (bootstrap intervals), a figure of those averages, and ``function_vectors`` in
  ``comparison.json``. Where only some runs have them, the report is the task vectors' alone
  and says so in one line.

Tasks are lined up by name, data and category: one not finished in every run, or whose
data or category differs between runs, is dropped, and the report says why. A folder written
by ``tvlens run --seeds`` counts as one run per seed. Each run gets a unique label: the
settings that differ between the runs (model, format, seed...), then its folder's path.
What is refused (a run given twice, an edited accuracy, runs of different metrics):
:mod:`tvlens.report.compare_align`. The title names the metric.

Example:
    >>> comp = compare(["results/gemma", "results/smollm2"], out="results/cmp")  # doctest: +SKIP
    >>> comp.to_dataframe().head()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tvlens.report.compare_align import (
    METRICS,
    ComparedRun,
    align_tasks,
    check_distinct_files,
    check_one_metric,
    check_unique_labels,
    load_runs,
    run_labels,
    setting_text,
)
from tvlens.report.compare_report import (
    comparison_html_writer,
    comparison_markdown,
    mean_rows,
    runs_rows,
    task_rows,
)
from tvlens.report.fv import FV_COLUMNS
from tvlens.report.summary import PAPER_AVERAGES, PAPER_ROW, fmt_ci, fmt_test
from tvlens.run.names import ANSWER_MODES, FV_MODES, PAPER_MODES
from tvlens.run.statistics import summarize

__all__ = ["COMPARE_FILES", "FV_TABLE_MODES", "ComparedRun", "Comparison", "compare",
           "has_function_vectors", "load_runs", "ran_function_vectors", "run_labels",
           "write_comparison"]  # fmt: skip

COMPARE_FILES = ("summary.md", "report.html", "comparison.json")
FV_TABLE_MODES = tuple(m for m in FV_COLUMNS if m in FV_MODES or m == "hypothesis")
"""The accuracies of the function-vector tables, in :data:`~tvlens.report.fv.FV_COLUMNS`
order: the five of :data:`~tvlens.run.names.FV_MODES` and TV Hypothesis."""
_FV_TEST = "fv_zero_shot_vs_hypothesis"


def has_function_vectors(tasks: Iterable[Mapping[str, Any]]) -> bool:
    """Whether there is a task record and every one holds the accuracy of every FV mode."""
    records = list(tasks)
    return bool(records) and all(set(FV_MODES) <= set(t.get("accuracy", ())) for t in records)


def ran_function_vectors(results: Mapping[str, Any]) -> bool:
    """Whether a run was made with function vectors (``meta.methods``, else a task's ``fv``)."""
    methods = results["meta"].get("methods") or ["tv"]
    return "fv" in methods or any("fv" in t for t in results["tasks"].values())


@dataclass(frozen=True)
class Comparison:
    """Several runs aligned on their shared tasks (see :func:`compare`).

    Attributes:
        runs: the runs, labelled.
        tasks: the tasks every run finished, in the order the runs list them.
        dropped: each other task -> why, per run (``"smollm2-135m: not in the run"``), or
            why its data or category differs between runs.
        summaries: run label -> averages over ``tasks`` (as ``results.json``'s summary);
            labels are unique (:meth:`of` refuses two runs with one label or one file).
        answers: the runs' ``meta.answers``: ``"single"`` or ``"any"`` (:attr:`metric`).
    """

    runs: tuple[ComparedRun, ...]
    tasks: tuple[str, ...]
    dropped: dict[str, list[str]]
    summaries: dict[str, dict[str, Any]]
    answers: str = "single"

    @classmethod
    def of(cls, runs: Sequence[ComparedRun]) -> Comparison:
        """Align ``runs`` on the tasks every one of them finished on the same data.

        Raises:
            ValueError: for no runs, two runs with one label or one results.json, or runs
                scored by different metrics (``--answers single`` and ``any``).
        """
        if not runs:
            raise ValueError("no runs to compare")
        check_distinct_files([(r.path.parent, r.path) for r in runs])
        check_unique_labels([r.label for r in runs])
        pairs = [(r.label, r.results) for r in runs]
        answers = check_one_metric(pairs)
        shared, dropped = align_tasks(pairs)
        summaries = {r.label: summarize({n: r.results["tasks"][n] for n in shared}) for r in runs}
        return cls(tuple(runs), shared, dropped, summaries, answers)

    @property
    def metric(self) -> str:
        """What the accuracies are: next-token accuracy, or exact match of generated answers."""
        return METRICS.get(self.answers, self.answers)

    def task(self, run: ComparedRun, name: str) -> dict[str, Any]:
        """The record of task ``name`` in ``run``."""
        return dict(run.results["tasks"][name])

    def to_dataframe(self) -> Any:
        """One row per (run, shared task, mode): accuracy, interval, best layer, depth."""
        import pandas as pd

        rows = []
        for r in self.runs:
            for name in self.tasks:
                t = self.task(r, name)
                n_layers = len(t["dev_accuracy_per_layer"])
                for m in PAPER_MODES:
                    ci = t["accuracy_ci"].get(m) or [None, None]
                    rows.append({
                        "run": r.label, "model": r.meta.get("model"),
                        "format": setting_text(r.meta, "format"), "seed": r.meta.get("seed"),
                        "task": name, "category": t["category"], "mode": m,
                        "accuracy": t["accuracy"][m], "ci_low": ci[0], "ci_high": ci[1],
                        "best_layer": t["best_layer"], "n_layers": n_layers,
                        "best_depth": t["best_layer"] / max(n_layers - 1, 1),
                    })  # fmt: skip
        return pd.DataFrame(rows)

    def to_json(self) -> dict[str, Any]:
        """``comparison.json``: runs, shared and dropped tasks, per-task numbers, averages.

        With :meth:`fv_shown`, ``function_vectors`` too (:meth:`fv_to_json`).
        """
        keep = ("category", "best_layer", "accuracy", "accuracy_ci", "counts", "comparisons",
                "dev_accuracy_per_layer")  # fmt: skip
        data = {
            "schema_version": 1,
            "kind": "tvlens-compare",
            "runs": [
                {
                    "label": r.label,
                    "path": str(r.path),
                    "schema_version_read": r.read_version,
                    "meta": r.meta,
                }
                for r in self.runs
            ],
            "answers": self.answers,
            "metric": self.metric,
            "tasks": list(self.tasks),
            "dropped": self.dropped,
            "per_task": {
                n: {r.label: {k: self.task(r, n).get(k) for k in keep} for r in self.runs}
                for n in self.tasks
            },
            "averages": self.summaries,
        }
        if self.fv_shown():
            data["function_vectors"] = self.fv_to_json()
        return data

    # ---- function vectors (every run made with --methods tv,fv) ----------------------------
    def fv_shown(self) -> bool:
        """Whether every run has function vectors on every shared task: the report shows them."""
        return bool(self.tasks) and all(
            has_function_vectors(self.task(r, n) for n in self.tasks) for r in self.runs
        )

    def fv_modes(self) -> tuple[str, ...]:
        """:data:`FV_TABLE_MODES` where :meth:`fv_shown`, else none."""
        return FV_TABLE_MODES if self.fv_shown() else ()

    def fv_note(self) -> str | None:
        """The line saying why the function vectors some runs have are not shown, else None."""
        if not self.tasks or self.fv_shown():
            return None
        if not any(ran_function_vectors(r.results) for r in self.runs):
            return None
        without = [
            r.label
            for r in self.runs
            if not has_function_vectors(self.task(r, n) for n in self.tasks)
        ]
        return (
            "Function vectors (`--methods tv,fv`) are shown only when every run has them on "
            f"every shared task; not here: {', '.join(without)}."
        )

    def fv_to_json(self) -> dict[str, Any]:
        """``comparison.json``'s ``function_vectors``: per task and run, then averages per run.

        Per task and run: each vector's layer, the function vector's k, the accuracies of
        :data:`FV_TABLE_MODES` with Wilson's interval and counts, FV zero-shot vs TV
        Hypothesis (exact McNemar). Averages over the shared tasks: as ``averages``, for
        those modes.
        """
        modes = FV_TABLE_MODES

        def task(t: Mapping[str, Any]) -> dict[str, Any]:
            fv = t.get("fv") or {}
            return {
                "layers": fv.get("layers"),
                "k": (fv.get("function_vector") or {}).get("k"),
                **{
                    k: {m: t[k].get(m) for m in modes}
                    for k in ("accuracy", "accuracy_ci", "counts")
                },
                _FV_TEST: t.get("comparisons", {}).get(_FV_TEST),
            }

        def average(s: Mapping[str, Any]) -> dict[str, Any]:
            iv = s["intervals"]
            return {
                "overall": {m: s["overall"][m] for m in modes},
                "per_category": {c: {m: a[m] for m in modes} for c, a in s["per_category"].items()},
                "intervals": {
                    "overall": {m: iv["overall"].get(m) for m in modes},
                    "per_category": {
                        c: {m: ci.get(m) for m in modes} for c, ci in iv["per_category"].items()
                    },
                },
            }

        return {
            "modes": list(modes),
            "per_task": {
                n: {r.label: task(self.task(r, n)) for r in self.runs} for n in self.tasks
            },
            "averages": {label: average(s) for label, s in self.summaries.items()},
        }

    def fv_task_rows(self) -> list[list[str]]:
        """One row per (shared task, run): both layers, FV methods and TV Hypothesis, FV − TV."""
        rows = []
        for name in self.tasks:
            for i, r in enumerate(self.runs):
                t = self.task(r, name)
                fv = t.get("fv") or {}
                layer = (fv.get("layers") or {}).get("fv_zero_shot")
                k = (fv.get("function_vector") or {}).get("k")
                ci = t["accuracy_ci"]
                rows.append([
                    name if i == 0 else "", t["category"] if i == 0 else "", r.label,
                    str(t["best_layer"]), "–" if layer is None else f"{layer} ({k})",
                    *(fmt_ci(t["accuracy"][m], ci.get(m)) for m in FV_TABLE_MODES),
                    fmt_test(t["comparisons"].get(_FV_TEST)),
                ])  # fmt: skip
        return rows

    def fv_average_rows(self) -> list[list[str]]:
        """Per category and over all shared tasks, one row per run: the FV tables' means."""
        return self._mean_rows(FV_TABLE_MODES)

    # ---- whole-answer task vectors (--methods tv,tv_multi,tv_learned) ---------------------
    def answer_modes(self) -> tuple[str, ...]:
        """``tv_multi`` / ``tv_learned`` where every run has them on every shared task."""
        return tuple(
            m
            for m in ANSWER_MODES
            if self.tasks
            and all(m in self.task(r, n)["accuracy"] for r in self.runs for n in self.tasks)
        )

    def answer_average_rows(self) -> list[list[str]]:
        """One row per run and category: TV Hypothesis, the whole-answer methods, Regular."""
        return self._mean_rows(("hypothesis", *self.answer_modes(), "regular"))

    # ---- tables ---------------------------------------------------------------------------
    def runs_rows(self) -> list[list[str]]:
        """One row per run: label, file, model, format, seed, sizes, tasks, wall time."""
        return runs_rows(self)

    def task_rows(self) -> list[list[str]]:
        """One row per (shared task, run): best layer (depth), three accuracies, H − R."""
        return task_rows(self)

    def average_rows(self) -> list[list[str]]:
        """Per category and over all shared tasks, one row per run; then the paper's row."""
        rows = self._mean_rows(PAPER_MODES)
        rows.append([PAPER_ROW, "", *(f"{PAPER_AVERAGES[m]:.2f}" for m in PAPER_MODES)])
        return rows

    def _mean_rows(self, modes: Sequence[str]) -> list[list[str]]:
        """Per category and over all shared tasks, one row per run: ``modes``' means."""
        return mean_rows(self, modes)

    def alignment_note(self) -> str:
        """Which tasks the comparison uses, and which it dropped and why."""
        note = f"Aligned on the {len(self.tasks)} tasks every run finished."
        if self.dropped:
            listed = ", ".join(f"{n} ({'; '.join(why)})" for n, why in self.dropped.items())
            note += f" Dropped from the comparison: {listed}."
        return note

    def title(self) -> str:
        """``tvlens compare: <label> vs <label>... (<metric>)``."""
        return f"tvlens compare: {' vs '.join(r.label for r in self.runs)} ({self.metric})"

    def markdown(self, title: str | None = None) -> str:
        """``summary.md``: the runs, the per-task table, the averages beside the paper's."""
        return comparison_markdown(self, title)

    def html_writer(self, title: str | None = None) -> Callable[[Path], Any]:
        """A function writing ``report.html`` (figures with error bars) to a given path."""
        return comparison_html_writer(self, title)


def compare(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> Comparison:
    """Compare several ``tvlens run`` folders; write the report to ``out`` if given.

    Args:
        run_dirs: results folders of ``tvlens run`` (``--out``; a ``--seeds`` folder adds
            one run per seed), or their ``results.json`` files.
        out: a folder for ``summary.md``, ``report.html`` and ``comparison.json``; it is
            locked while writing, written atomically, and a file there that tvlens did not
            write is refused. ``None`` writes nothing.

    Raises:
        TypeError: for one folder given as a plain string (pass a list).
        ValueError: naming the folder or file: a missing folder, a folder without
            results, an unreadable or too new results.json, one whose accuracies are not
            those of its per-example records, a run given twice, runs scored by different
            metrics, an ``out`` that is one of the run folders or holds files tvlens did not
            write. Nothing is written then.
    """
    if isinstance(run_dirs, (str, Path)):
        raise TypeError(f"run_dirs must be a list of folders; did you mean [{str(run_dirs)!r}]?")
    given = [(Path(d), item) for d in run_dirs for item in load_runs(d)]
    if not given:
        raise ValueError("no run folders given; pass at least one")
    check_distinct_files([(d, item[0]) for d, item in given])
    items = [item for _, item in given]
    labels = run_labels(items)
    runs = [ComparedRun(p, lab, r, v) for (p, r, v), lab in zip(items, labels, strict=True)]
    comp = Comparison.of(runs)
    if out is not None:
        write_comparison(comp, out, inputs=[Path(d) for d in run_dirs])
    return comp


def write_comparison(
    comp: Comparison, out: str | Path, *, inputs: Sequence[Path] = (), title: str | None = None
) -> Path:
    """Write ``summary.md``, ``report.html`` and ``comparison.json`` of ``comp`` to ``out``.

    Raises:
        ValueError: if ``out`` is one of ``inputs`` or holds a run, or holds files tvlens
            did not write (from :func:`~tvlens.run.files.check_outputs_ours`).
    """
    from tvlens.run.files import (
        check_outputs_ours,
        dumps_strict,
        prepare_out,
        write_output,
    )
    from tvlens.run.lock import run_lock

    out = prepare_out(out)
    for d in inputs:
        if d.exists() and out.resolve() == d.resolve():
            raise ValueError(f"--out {out} is one of the run folders compared; pass another")
    for name in ("results.json", "seeds.json"):
        if (out / name).exists():
            raise ValueError(f"--out {out} holds a run ({name}); pass another folder")
    data, summary = dumps_strict(comp.to_json()), comp.markdown(title)  # before any write
    with run_lock(out):
        check_outputs_ours(out, COMPARE_FILES)
        # renders: may fail first; kind="compare" refuses a run's or a grid's folder
        write_output(out, "report.html", comp.html_writer(title), kind="compare")
        write_output(out, "comparison.json", data)
        write_output(out, "summary.md", summary)
    return out
