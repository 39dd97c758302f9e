"""``tvlens run --seeds 0 1 2``: the protocol once per seed, in one results folder.

Layout of ``out``:

- ``seed-<s>/``: a complete ``tvlens run`` folder per seed (``results.json``, ``summary.md``,
  ``report.html``), written by :func:`~tvlens.run.protocol.execute` with its own lock,
  atomic writes and resume: the seed changes the dev, test and baseline examples sampled.
- ``seeds.json``: per task and mode, the mean, sample standard deviation, range and values
  across seeds, each seed's within-seed interval (Wilson per task, bootstrap for the
  averages), and the same for the averages per category and overall.
- ``summary.md``: ``mean ± sd across seeds`` beside the mean width of the within-seed
  intervals; ``report.html``: :mod:`tvlens.report.compare`'s figures over the seeds.

Where every seed has function vectors on every task (``--methods tv,fv``), the accuracies
of :data:`~tvlens.run.names.FV_MODES` are aggregated beside the paper's three (and each
task lists the function vector's layer and k per seed), and ``summary.md`` gains a section
on them.

``out`` and every seed's folder are locked for the whole command (:func:`seeds_lock`), each
folder checked once before the model loads (:func:`preflight_seeds`), and the three files of
``out`` follow the rules of :mod:`tvlens.run.files` (atomic, never overwriting a file tvlens
did not write). The aggregate covers the seeds of the command: pass all of them to extend a run
(``--seeds 0 1 2 3`` resumes 0-2 from their folders and runs 3).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tvlens.evaluation.stats import Spread
from tvlens.protocol import HookedModel
from tvlens.report.compare import (
    FV_TABLE_MODES,
    ComparedRun,
    Comparison,
    has_function_vectors,
    run_labels,
)
from tvlens.report.fv import FV_COLUMNS
from tvlens.report.summary import (
    ANSWER_TITLES,
    METHOD_TITLES,
    MODE_TITLES,
    PAPER_AVERAGES,
    PAPER_ROW,
    fmt_acc,
    fmt_ci,
)
from tvlens.run.files import (
    check_folder_kind,
    check_outputs_ours,
    dumps_strict,
    prepare_out,
    write_output,
)
from tvlens.run.lock import run_lock
from tvlens.run.names import ANSWER_MODES, FV_MODES, PAPER_MODES
from tvlens.run.plan import RunPlan, preflight
from tvlens.run.protocol import execute
from tvlens.run.protocol_config import ProtocolConfig
from tvlens.run.statistics import summarize

SEEDS_FILE = "seeds.json"
SEEDS_SCHEMA_VERSION = 1
SEEDS_FV_NOTE = (
    "In each seed every method ran on the same test examples, each vector at its own best dev "
    "layer; each seed's summary.md describes the methods and tests FV zero-shot against TV "
    "Hypothesis."
)


def seed_dir(out: str | Path, seed: int) -> Path:
    """The folder of one seed's run: ``<out>/seed-<seed>``."""
    return Path(out) / f"seed-{seed}"


def check_seeds(seeds: Sequence[Any]) -> list[int]:
    """The seeds as ints, refusing an empty list, non-ints and repeats."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty list of ints, got {seeds!r}")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"a seed must be an int, got {type(s).__name__} {s!r}")
    out = [int(s) for s in seeds]
    if len(set(out)) != len(out):
        raise ValueError(f"seeds repeat: {out}; list each seed once")
    return out


@dataclass(frozen=True)
class SeedsPlan:
    """What :func:`preflight_seeds` found: the folder, and each seed's :class:`RunPlan`."""

    out: Path
    plans: dict[int, RunPlan]


@contextlib.contextmanager
def seeds_lock(out: str | Path, seeds: Sequence[int]) -> Iterator[Path]:
    """Hold the lock of ``out`` and of every seed's folder, each taken once, for the command.

    Raises:
        ValueError: if ``out`` cannot be used, or a folder is locked by another run.
    """
    seeds = check_seeds(seeds)
    out = prepare_out(out)
    with contextlib.ExitStack() as stack:
        stack.enter_context(run_lock(out))
        _check_seeds_folder(out)  # before a seed's folder is made in a folder of another kind
        for s in seeds:
            stack.enter_context(run_lock(prepare_out(seed_dir(out, s))))
        yield out


def _check_seeds_folder(out: Path) -> None:
    if (out / "results.json").exists():
        raise ValueError(
            f"{out} holds a single-seed run (results.json); --seeds writes seed-<n>/ "
            "folders and seeds.json: pass another --out"
        )
    check_folder_kind(out, "seeds")  # nor a compare's or a grid's folder
    check_outputs_ours(out, ("summary.md", "report.html", SEEDS_FILE))


def preflight_seeds(cfg: ProtocolConfig, seeds: Sequence[int], out: str | Path) -> SeedsPlan:
    """Every check of a multi-seed run that needs no model (each seed's folder included),
    once; the caller holds :func:`seeds_lock`.

    Raises:
        ValueError: on a folder holding a single-seed run or files tvlens did not write,
            or a seed folder holding a run with other settings (each named).
    """
    seeds = check_seeds(seeds)
    out = prepare_out(out)
    _check_seeds_folder(out)
    plans = {s: preflight(dataclasses.replace(cfg, seed=s), seed_dir(out, s)) for s in seeds}
    return SeedsPlan(out=out, plans=plans)


def run_seeds(
    model: HookedModel,
    cfg: ProtocolConfig,
    seeds: Sequence[int],
    out: str | Path,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the protocol once per seed into ``out/seed-<s>/`` and aggregate across seeds.

    ``cfg.seed`` is replaced by each seed. The aggregate (``seeds.json``, ``summary.md``,
    ``report.html``) is rewritten after each seed, so an interrupted command keeps the
    seeds finished and resumes like ``tvlens run``.

    Returns:
        The content of ``seeds.json``.
    """
    with seeds_lock(out, seeds) as folder:
        return execute_seeds(model, preflight_seeds(cfg, seeds, folder), progress=progress)


def execute_seeds(model: HookedModel, plan: SeedsPlan, *, progress: bool = True) -> dict[str, Any]:
    """Run each seed's plan and write the aggregate after each; the caller holds
    :func:`seeds_lock` (as :func:`run_seeds` does).

    Returns:
        The content of ``seeds.json``.
    """
    runs: dict[int, dict[str, Any]] = {}
    agg: dict[str, Any] = {}
    for s, seed_plan in plan.plans.items():
        runs[s] = execute(model, seed_plan, progress=progress)
        agg = aggregate_seeds(runs)
        _write(plan.out, agg, runs)
    return agg


def _write(out: Path, agg: dict[str, Any], runs: Mapping[int, dict[str, Any]]) -> None:
    write_output(out, SEEDS_FILE, dumps_strict(agg))
    write_output(out, "summary.md", seeds_markdown(agg))
    items = [(seed_dir(out, s) / "results.json", r, 2) for s, r in runs.items()]
    comp = Comparison.of([ComparedRun(p, lab, r, v) for (p, r, v), lab in
                          zip(items, run_labels(items), strict=True)])  # fmt: skip
    title = f"tvlens run: {agg['meta']['model']}, seeds {', '.join(map(str, agg['seeds']))}"
    write_output(out, "report.html", comp.html_writer(title))


def _spread(values: list[Any], cis: list[Any]) -> dict[str, Any]:
    finite = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    d: dict[str, Any] = {"mean": None}
    if len(finite) == len(values):
        d = Spread(tuple(finite)).to_dict()
    halves = [(c[1] - c[0]) / 2 for c in cis if c]
    d["ci_per_seed"] = cis
    d["mean_ci_halfwidth"] = (
        sum(halves) / len(halves) if halves and len(halves) == len(cis) else None
    )
    return d


def aggregate_seeds(runs: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """``seeds.json``: each accuracy's mean and spread across seeds beside its intervals.

    Only tasks finished in every seed are aggregated (the others are listed); each seed's
    averages are recomputed over those tasks. Where every seed has function vectors on
    those tasks, their accuracies are aggregated too, and each task gains ``fv_layer`` and
    ``fv_k``: the function vector's layer and number of heads, per seed.
    """
    seeds = list(runs)
    results = list(runs.values())
    names = list(dict.fromkeys(n for r in results for n in r["tasks"]))
    ok = [n for n in names if all(r["tasks"].get(n, {}).get("status") == "ok" for r in results)]
    fv = all(has_function_vectors(r["tasks"][n] for n in ok) for r in results)
    modes = (*PAPER_MODES, *FV_MODES) if fv else PAPER_MODES
    every = [m for m in ANSWER_MODES if all(m in r["tasks"][n]["accuracy"]
                                            for r in results for n in ok)]  # fmt: skip
    modes = (*modes, *every)  # the whole-answer methods every seed has
    tasks = {}
    for n in ok:
        recs = [r["tasks"][n] for r in results]
        tasks[n] = {
            "category": recs[0]["category"],
            "best_layer": [t["best_layer"] for t in recs],
            "accuracy": {
                m: _spread([t["accuracy"][m] for t in recs],
                           [t.get("accuracy_ci", {}).get(m) for t in recs])
                for m in modes
            },
        }  # fmt: skip
        if fv:
            tasks[n].update(_fv_provenance(recs))
    sums = [summarize({n: r["tasks"][n] for n in ok}) for r in results]
    cats = sorted({t["category"] for t in tasks.values()})

    def block(cat: str | None) -> dict[str, Any]:
        accs = [s["overall"] if cat is None else s["per_category"][cat] for s in sums]
        ivs = [s["intervals"]["overall" if cat is None else "per_category"] for s in sums]
        cis = ivs if cat is None else [iv[cat] for iv in ivs]
        return {m: _spread([a[m] for a in accs], [c.get(m) for c in cis]) for m in modes}

    meta = {k: v for k, v in results[0]["meta"].items() if k not in ("seed", "wall_time_s")}
    meta["wall_time_s"] = sum(float(r["meta"].get("wall_time_s") or 0) for r in results)
    return {
        "schema_version": SEEDS_SCHEMA_VERSION,
        "kind": "tvlens-seeds",
        "seeds": seeds,
        "runs": {str(s): f"seed-{s}" for s in seeds},
        "meta": meta,
        "tasks": tasks,
        "tasks_not_in_every_seed": [n for n in names if n not in ok],
        "summary": {
            "per_category": {c: block(c) for c in cats},
            "overall": block(None),
            "per_seed": {str(seed): s for seed, s in zip(seeds, sums, strict=True)},
        },
    }


def _fv_provenance(recs: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """``fv_layer`` and ``fv_k`` of one task, per seed (``None`` where a record lacks them)."""
    fvs = [t.get("fv") or {} for t in recs]
    return {
        "fv_layer": [(fv.get("layers") or {}).get("fv_zero_shot") for fv in fvs],
        "fv_k": [(fv.get("function_vector") or {}).get("k") for fv in fvs],
    }


def _cell(d: Mapping[str, Any], bold: bool = False) -> str:
    if d.get("mean") is None:
        return "–"
    sd = d.get("sd")
    text = fmt_acc(d["mean"], bold) + (
        f" ± {sd:.2f}" if sd is not None and math.isfinite(sd) else ""
    )
    half = d.get("mean_ci_halfwidth")
    return text + (f" (±{half:.2f})" if half is not None else "")


def seeds_markdown(agg: Mapping[str, Any]) -> str:
    """``summary.md`` of a multi-seed run: mean ± sd across seeds beside within-seed intervals."""
    meta, seeds = agg["meta"], agg["seeds"]
    modes = [MODE_TITLES[m] for m in PAPER_MODES]
    lines = [
        f"# tvlens run: {meta['model']}, {len(seeds)} seed(s): {', '.join(map(str, seeds))}",
        "",
        f"{meta['n_demos']} demos, {meta['n_dummy']} dummy queries, {meta['n_dev']} dev / "
        f"{meta['n_test']} test / {meta['n_baseline']} baseline examples per task and seed, "
        f"format `{meta['format']['name']}`; wall time {meta['wall_time_s']:.0f} s in all. "
        "Each seed samples its own examples; its full report is in "
        + ", ".join(f"[seed-{s}/summary.md](seed-{s}/summary.md)" for s in seeds)
        + ".",
        "",
        "Cells: mean over seeds ± standard deviation across seeds, and in parentheses the "
        "mean half-width of the within-seed 95% interval (Wilson per task, bootstrap for the "
        "averages).",
        "",
        "| task | category | best layer per seed | " + " | ".join(modes) + " |",
        "|---|---|---|---|---|---|",
    ]
    for n, t in agg["tasks"].items():
        layers = ", ".join(map(str, t["best_layer"]))
        cells = " | ".join(_cell(t["accuracy"][m]) for m in PAPER_MODES)
        lines.append(f"| {n} | {t['category']} | {layers} | {cells} |")
    s = agg["summary"]
    lines += ["", "| average | " + " | ".join(modes) + " |", "|---|---|---|---|"]
    for c, block in s["per_category"].items():
        lines.append(f"| {c} | " + " | ".join(_cell(block[m]) for m in PAPER_MODES) + " |")
    lines.append(
        "| **all tasks** | " + " | ".join(_cell(s["overall"][m], True) for m in PAPER_MODES) + " |"
    )
    lines.append(
        f"| {PAPER_ROW} | " + " | ".join(f"{PAPER_AVERAGES[m]:.2f}" for m in PAPER_MODES) + " |"
    )
    lines += ["", "Averages of each seed (95% bootstrap intervals):", "",
              "| seed | " + " | ".join(modes) + " |", "|---|---|---|---|"]  # fmt: skip
    for seed, summ in s["per_seed"].items():
        cis = summ["intervals"]["overall"]
        lines.append(
            f"| {seed} | "
            + " | ".join(fmt_ci(summ["overall"][m], cis.get(m)) for m in PAPER_MODES)
            + " |"
        )
    if agg["tasks_not_in_every_seed"]:
        lines += ["", "Not finished in every seed (left out): "
                  + ", ".join(agg["tasks_not_in_every_seed"]) + "."]  # fmt: skip
    lines += seeds_answer_markdown(agg)
    lines += seeds_fv_markdown(agg)
    return "\n".join(lines) + "\n"


def seeds_answer_markdown(agg: Mapping[str, Any]) -> list[str]:
    """``summary.md``'s whole-answer methods: mean ± sd across seeds (empty without them)."""
    tasks, s = agg["tasks"], agg["summary"]
    extra = [m for m in ANSWER_TITLES if tasks and all(m in t["accuracy"] for t in tasks.values())]
    if not extra:
        return []
    modes = ["hypothesis", *extra, "regular"]
    lines = ["", "## Whole-answer task vectors (`--methods tv,tv_multi,tv_learned`)", "",
             "| task | " + " | ".join(METHOD_TITLES[m] for m in modes) + " |",
             "|---|" + "---|" * len(modes)]  # fmt: skip
    for n, t in tasks.items():
        lines.append(f"| {n} | " + " | ".join(_cell(t["accuracy"][m]) for m in modes) + " |")
    lines.append(
        "| **all tasks** | " + " | ".join(_cell(s["overall"][m], True) for m in modes) + " |"
    )
    return lines


def _fv_left_out(per_seed: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The line saying why the function vectors some seeds have are left out (else none)."""
    without = [f"seed {k}" for k, v in per_seed.items() if not set(FV_MODES) <= set(v["overall"])]
    if len(without) == len(per_seed):
        return []
    return ["", "Function vectors (`--methods tv,fv`) are shown only when every seed has them "
            f"on every task; not here: {', '.join(without)}."]  # fmt: skip


def seeds_fv_markdown(agg: Mapping[str, Any]) -> list[str]:
    """``summary.md``'s function-vector section: mean ± sd across seeds per task and average.

    Empty where no seed has function vectors; one line saying why they are left out where
    only some seeds have them.
    """
    tasks, s = agg["tasks"], agg["summary"]
    if not tasks:
        return []
    if not all(set(FV_MODES) <= set(t["accuracy"]) for t in tasks.values()):
        return _fv_left_out(s["per_seed"])
    modes = FV_TABLE_MODES
    lines = [
        "",
        "## Function vectors beside task vectors (`--methods tv,fv`)",
        "",
        "Cells as above. FV layer (k): the function vector's layer and number of heads, per seed.",
        "",
        "| task | category | FV layer (k) per seed | "
        + " | ".join(FV_COLUMNS[m] for m in modes) + " |",
        "|" + "---|" * (len(modes) + 3),
    ]  # fmt: skip
    for n, t in tasks.items():
        layers = ", ".join(
            "–" if la is None else f"{la} ({k})"
            for la, k in zip(t["fv_layer"], t["fv_k"], strict=True)
        )
        cells = " | ".join(_cell(t["accuracy"][m]) for m in modes)
        lines.append(f"| {n} | {t['category']} | {layers} | {cells} |")
    lines += ["", "| average | " + " | ".join(FV_COLUMNS[m] for m in modes) + " |",
              "|" + "---|" * (len(modes) + 1)]  # fmt: skip
    for c, block in s["per_category"].items():
        lines.append(f"| {c} | " + " | ".join(_cell(block[m]) for m in modes) + " |")
    lines.append(
        "| **all tasks** | " + " | ".join(_cell(s["overall"][m], True) for m in modes) + " |"
    )
    return [*lines, "", SEEDS_FV_NOTE]
