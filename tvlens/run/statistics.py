"""The statistics of a ``results.json``: counts, intervals and tests per task, the summary.

Everything here is computed from the per-example records a run writes (``test_examples``,
``baseline_examples``), so a results.json of schema version 1, which has those records but
no intervals, is brought to version 2 by :func:`tvlens.run.results_json.upgrade_results` with the
same numbers a new run writes.

Per task (``status: ok``):

- ``counts``: ``{mode: [k correct, n scored]}``;
- ``accuracy_ci``: ``{mode: [low, high]}``, Wilson's 95% interval
  (:func:`~tvlens.evaluation.stats.wilson_interval`);
- ``comparisons``: ``hypothesis_vs_regular`` and ``hypothesis_vs_baseline`` (and, with
  function vectors, ``fv_zero_shot_vs_hypothesis`` and ``fv_shuffled_vs_shuffled``; with
  multi-position or learned task vectors, ``tv_multi_vs_hypothesis`` and
  ``tv_learned_vs_hypothesis``): the
  exact McNemar test where both modes scored the same examples (in the protocol Hypothesis
  and Regular do), Fisher's exact test where they did not (the protocol's Baseline runs on
  its own ``n_baseline`` queries, so Hypothesis vs Baseline is unpaired there).

In the summary, ``intervals`` holds the 95% percentile-bootstrap interval of each mean over
tasks (per category and overall; examples resampled within each task, 10,000 replicates,
seed 0; :func:`~tvlens.evaluation.stats.bootstrap_mean_interval`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tvlens.evaluation.stats import (
    bootstrap_mean_interval,
    fisher_exact,
    mcnemar_exact,
    wilson_interval,
)
from tvlens.run.names import PAPER_MODES

COMPARISONS = (
    ("hypothesis", "regular"),
    ("hypothesis", "baseline"),
    ("fv_zero_shot", "hypothesis"),  # with --methods tv,fv (tvlens.run.methods)
    ("fv_shuffled", "shuffled"),
    ("tv_multi", "hypothesis"),  # with --methods tv,tv_multi (tvlens.run.answers)
    ("tv_learned", "hypothesis"),  # with --methods tv,tv_learned
)
N_BOOT = 10_000
BOOT_SEED = 0
_EXAMPLE_LISTS = ("test_examples", "baseline_examples")


def mode_outcomes(record: Mapping[str, Any]) -> dict[str, dict[str, list[bool]]]:
    """``{example list: {mode: [correct, ...]}}`` from a task record's per-example entries.

    A mode is any entry of an example that holds a boolean ``correct`` (``regular``,
    ``hypothesis``, ``baseline``, and modes added later), so two modes in one list were
    scored on the same examples, row by row.
    """
    out: dict[str, dict[str, list[bool]]] = {}
    for key in _EXAMPLE_LISTS:
        for ex in record.get(key) or ():
            for mode, pred in ex.items():
                if isinstance(pred, Mapping) and isinstance(pred.get("correct"), bool):
                    out.setdefault(key, {}).setdefault(mode, []).append(pred["correct"])
    return out


def _interval(lo_hi: tuple[float, float]) -> list[float] | None:
    return None if any(math.isnan(x) for x in lo_hi) else [lo_hi[0], lo_hi[1]]


def task_statistics(record: Mapping[str, Any]) -> dict[str, Any]:
    """``counts``, ``accuracy_ci`` and ``comparisons`` of one finished task's record."""
    lists = mode_outcomes(record)
    flat: dict[str, list[bool]] = {}
    for modes in lists.values():
        for mode, xs in modes.items():
            flat.setdefault(mode, xs)  # a mode's first list holds its scored examples
    counts = {m: [sum(xs), len(xs)] for m, xs in flat.items()}
    ci = {m: _interval(wilson_interval(k, n)) for m, (k, n) in counts.items()}
    comparisons: dict[str, Any] = {}
    for a, b in COMPARISONS:
        if a not in flat or b not in flat:
            continue
        same = next((ms for ms in lists.values() if a in ms and b in ms), None)
        if same is not None and len(same[a]) == len(same[b]):
            test = mcnemar_exact(same[a], same[b]).to_dict()
        else:
            test = fisher_exact(*counts[a], *counts[b]).to_dict()
        comparisons[f"{a}_vs_{b}"] = test
    return {"counts": counts, "accuracy_ci": ci, "comparisons": comparisons}


def with_statistics(tasks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``tasks`` with :func:`task_statistics` added to (or recomputed on) every finished task."""
    return {
        name: {**t, **task_statistics(t)} if t.get("status") == "ok" else dict(t)
        for name, t in tasks.items()
    }


def _mean(xs: list[Any]) -> float | None:
    vals = [x for x in xs if isinstance(x, (int, float)) and math.isfinite(x)]
    return sum(vals) / len(vals) if vals and len(vals) == len(xs) else None


def summary_modes(ok: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The three modes, then any other mode every finished task has an accuracy for."""
    extra = set.intersection(*(set(t["accuracy"]) for t in ok.values())) if ok else set()
    return [*PAPER_MODES, *sorted(extra - set(PAPER_MODES))]


def mean_interval(members: list[Mapping[str, Any]], mode: str) -> list[float] | None:
    """The bootstrap interval of ``mode``'s mean accuracy over ``members`` (task records)."""
    counts = [t.get("counts", {}).get(mode) for t in members]
    if not counts or any(not c or not c[1] for c in counts):
        return None
    pairs = [(int(c[0]), int(c[1])) for c in counts if c]
    return _interval(bootstrap_mean_interval(pairs, n_boot=N_BOOT, seed=BOOT_SEED))


def summarize(tasks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Mean accuracy per category and overall over the finished tasks, with 95% intervals.

    Means are ``None`` where no task ran. ``intervals`` needs each task's ``counts``
    (:func:`with_statistics`); a task without them leaves its means' intervals ``None``.
    """
    ok = {n: t for n, t in tasks.items() if t.get("status") == "ok"}
    modes = summary_modes(ok)
    cats = sorted({t["category"] for t in ok.values()})
    groups = {cat: [t for t in ok.values() if t["category"] == cat] for cat in cats}
    return {
        "per_category": {
            c: {m: _mean([t["accuracy"].get(m) for t in g]) for m in modes}
            for c, g in groups.items()
        },
        "overall": {m: _mean([t["accuracy"].get(m) for t in ok.values()]) for m in modes},
        "n_tasks_ok": len(ok),
        "n_tasks_skipped": len(tasks) - len(ok),
        "intervals": {
            "method": "percentile bootstrap over each task's test examples, tasks fixed "
            "(Wilson's interval where every task is at 0 or 1)",
            "level": 0.95,
            "n_boot": N_BOOT,
            "seed": BOOT_SEED,
            "per_category": {c: {m: mean_interval(g, m) for m in modes} for c, g in groups.items()},
            "overall": {m: mean_interval(list(ok.values()), m) for m in modes},
        },
    }
