"""The function-vector part of a run's reports (``tvlens run --methods tv,fv``).

:func:`fv_markdown` is the section ``summary.md`` gains (per task: every method's test
accuracy, each vector's layer, FV − TV with its paired test; the mean over tasks with 95%
bootstrap intervals; the heads of largest AIE across tasks); :func:`fv_figures` are the
figures ``report.html`` gains. Both read only ``results.json`` (its ``fv`` records).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from tvlens.report.numbers import fmt_acc, fmt_ci, fmt_test

FV_COLUMNS = {
    "baseline": "Baseline",
    "shuffled": "ICL, shuffled labels",
    "fv_shuffled": "FV + shuffled",
    "layer_average": "layer-average",
    "mean_difference": "mean difference",
    "fv_zero_shot": "FV zero-shot",
    "hypothesis": "TV Hypothesis",
    "regular": "Regular",
}
"""Column order and titles of the function-vector table (least to most information)."""

FV_NOTE = (
    "Every method on the same test examples; each vector at its own best dev layer. "
    "*FV*: the function vector (sum of the mean outputs of the k heads of largest AIE, "
    "k chosen on dev) added at the arrow of `x ->` (zero-shot) or of shuffled-label ICL; "
    "*layer-average*: the mean ICL residual at the arrow added at its layer; *mean "
    "difference*: that mean minus the mean zero-shot residual; *TV Hypothesis*: θ patched "
    "(the paper). Baseline is the protocol's (its own queries). *FV − TV*: FV zero-shot minus "
    "TV Hypothesis, exact McNemar p."
)


def fv_tasks(results: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The finished tasks that ran function vectors."""
    return {n: t for n, t in results["tasks"].items() if t.get("status") == "ok" and "fv" in t}


def mean_aie_of_records(tasks: Mapping[str, Mapping[str, Any]]) -> torch.Tensor | None:
    """The AIE averaged over the ``fv`` records of ``tasks`` (each weighs the same), or None
    if there is none or their shapes differ (:func:`tvlens.fv.indirect_effect.mean_aie`
    averages :class:`~tvlens.fv.indirect_effect.IndirectEffects`)."""
    mats = [torch.tensor(t["fv"]["indirect_effect"]["aie"]) for t in tasks.values()]
    if not mats or len({m.shape for m in mats}) != 1:
        return None
    return torch.stack(mats).mean(0)


def _top(aie: torch.Tensor, k: int = 5) -> list[tuple[int, int, float]]:
    from tvlens.fv.indirect_effect import top_heads

    return top_heads(aie, min(k, aie.numel()))


def fv_markdown(results: Mapping[str, Any]) -> list[str]:
    """``summary.md``'s function-vector section (empty if no task ran them)."""
    tasks = fv_tasks(results)
    if not tasks:
        return []
    cols = list(FV_COLUMNS)
    lines = [
        "",
        "## Function vectors beside task vectors (`--methods tv,fv`)",
        "",
        "| task | TV layer | FV layer (k) | " + " | ".join(FV_COLUMNS.values()) + " | FV − TV |",
        "|" + "---|" * (len(cols) + 4),
    ]
    for name, t in tasks.items():
        acc, fv = t["accuracy"], t["fv"]
        lines.append(
            f"| {name} | {t['best_layer']} | {fv['layers']['fv_zero_shot']} "
            f"({fv['function_vector']['k']}) | "
            + " | ".join(fmt_acc(acc.get(m)) for m in cols)
            + f" | {fmt_test(t.get('comparisons', {}).get('fv_zero_shot_vs_hypothesis'))} |"
        )
    if len(tasks) == len([t for t in results["tasks"].values() if t.get("status") == "ok"]):
        s = results["summary"]
        overall, ivs = s["overall"], s.get("intervals", {}).get("overall", {})
        lines.append(
            "| **all tasks** | | | "
            + " | ".join(fmt_ci(overall.get(m), ivs.get(m), bold=True) for m in cols)
            + " | |"
        )
    lines += ["", FV_NOTE]
    aie = mean_aie_of_records(tasks)
    if aie is not None:
        heads = ", ".join(f"({la}, {h}) {s:.3f}" for la, h, s in _top(aie))
        n = len(tasks)
        lines += ["", f"Heads of largest AIE averaged over {n} task{'s' * (n != 1)}: {heads}."]
    weak = weak_corruptions(tasks)
    if weak:
        listed = ", ".join(f"{n} ({c:.2f} vs {a:.2f})" for n, (c, a) in weak.items())
        lines += [
            "",
            f"Weak corruption: shuffling the labels keeps at least {WEAK_CORRUPTION:.0%} of "
            f"clean ICL accuracy for {listed} (accuracy on the AIE's shuffled-label prompts "
            "vs on the clean dev prompts). Their AIE is measured against a corruption that "
            "barely corrupts (the answers' form gives the task away, or clean ICL is itself "
            "weak): read their top heads with that in mind.",
        ]
    return lines


WEAK_CORRUPTION = 0.5
"""Shuffled-label ICL accuracy, as a share of clean ICL accuracy, from which
:func:`weak_corruptions` flags a task."""


def weak_corruptions(tasks: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[float, float]]:
    """Tasks whose shuffled-label prompts keep :data:`WEAK_CORRUPTION` of clean accuracy.

    Returns:
        task -> (accuracy on the AIE's shuffled-label prompts, on the clean dev prompts).
    """
    out = {}
    for name, t in tasks.items():
        clean = t["fv"].get("clean_accuracy")
        corrupted = t["fv"]["indirect_effect"].get("corrupted_accuracy")
        if clean and corrupted is not None and corrupted >= WEAK_CORRUPTION * clean:
            out[name] = (float(corrupted), float(clean))
    return out


def fv_figures(results: Mapping[str, Any]) -> dict[str, Any]:
    """``report.html``'s function-vector figures, by heading (empty if none ran)."""
    from tvlens.report.plots import aie_figure, comparison_figure, layer_sweep_figure

    tasks = fv_tasks(results)
    if not tasks:
        return {}
    accs = {
        n: {m: t["accuracy"][m] for m in FV_COLUMNS if m in t["accuracy"]} for n, t in tasks.items()
    }
    figs: dict[str, Any] = {
        "Task vectors, function vectors and baselines": comparison_figure(
            accs, title="Test accuracy per task and method (each vector at its dev-best layer)"
        )
    }
    aie = mean_aie_of_records(tasks)
    if aie is not None:
        figs["Average indirect effect per head"] = aie_figure(
            aie, top=_top(aie, 10), title=f"AIE averaged over {len(tasks)} task(s)"
        )
    figs["FV zero-shot accuracy per layer"] = layer_sweep_figure(
        {n: t["fv"]["dev_accuracy_per_layer"]["fv"] for n, t in tasks.items()},
        title="FV zero-shot accuracy per layer (dev)",
    )
    return figs
