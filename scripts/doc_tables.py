"""The numbers in README.md and docs/: generated from committed results, and checked.

Every table of numbers in README.md and docs/*.md sits between markers and is written by this
script from a small extract of a run's ``results.json`` committed under ``docs/results/``::

    <!-- table: gemma-3-270m-fv/main -->

    | task | category | ... (written by `write`, never by hand)

    <!-- /table -->

and a number in the prose that restates one is an inline value:
``<!-- value: gemma-3-270m-fv/summary.overall.hypothesis -->0.57<!-- /value -->`` (a dotted path
into the extract, optionally ``|duration``, ``|int``, ``|list``, ``|head`` or ``|raw``; the default
prints two decimals).

Commands (run from anywhere; ``--root`` is the repository, by default the parent of scripts/)::

    python scripts/doc_tables.py pin results/gemma-3-270m-fv gemma-3-270m-fv
        # docs/results/gemma-3-270m-fv.json from results/gemma-3-270m-fv/results.json
    python scripts/doc_tables.py write   # rewrite every marked table and value in place
    python scripts/doc_tables.py check   # exit 1, naming each table that disagrees

``check`` (run by ``tests/test_docs.py``) also fails on a table of numbers outside markers and on
a marker whose extract is not committed. The script reads JSON only; its column titles, the
paper's row and the number formats are imported from ``tvlens.report`` so the tables read as
summary.md does.

Table kinds (``NAME/KIND``): ``main`` (per task: pairs kept, best layer, Baseline / Hypothesis /
Regular), ``averages`` (per category and over all tasks, with the paper's row), ``main-ci``
and ``averages-ci`` (the same with 95% intervals, and Hypothesis − Regular per task), ``tasks``
(pairs and single-token pairs per task), ``fv`` (every method of ``--methods tv,fv``, as
``summary.md`` writes it), ``fv-heads`` (per task: top head, k, the corruption's strength) and
``aie`` (the heads of largest AIE averaged over tasks), ``fv-k`` (dev accuracy per number of
heads k) and ``phases`` (time per phase of the protocol, summed over tasks); for runs with
``--answers any``: ``generated`` (per task: exact match of every generated mode, Hypothesis's
first-token accuracy, and the mean over tasks with each mode's share of Regular) and ``stops``
(where each mode's answers stopped, mean over tasks, as ``summary.md`` writes it); for the JSON
of ``benchmarks/bench_costs.py --json`` (pinned like a run: ``pin FILE.json NAME``): ``costs``
(each ratio beside issue 21's goal, and the AIE's times and agreement per task); for a study of
``tvlens transfer`` / ``layers`` / ``compose`` (pinned from its folder):
``transfer-tv``, ``transfer-fv`` (the matrix of means), ``transfer-modes`` (Regular and Baseline
per format), ``transfer-tasks``, ``layers`` (the curves per layer), ``layers-tasks`` (where each
peaks), ``compose`` (each method's mean) and ``compose-tasks`` (per composite, with tests).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tvlens.report.fv import FV_COLUMNS
from tvlens.report.numbers import fmt_acc, fmt_ci, fmt_p, fmt_test
from tvlens.report.summary import METHOD_TITLES, MODE_TITLES, PAPER_AVERAGES
from tvlens.report.summary import PAPER_ROW as SUMMARY_PAPER_ROW
from tvlens.run.lock import check_unlocked
from tvlens.studies.pinning import STUDY_FILES, STUDY_TABLES, study_extract

ROOT = Path(__file__).resolve().parents[1]
PIN_FORMAT = 1

# The paper's row, the column titles and the number formats are tvlens's own (the tables here
# must read as summary.md does): imported, not copied.
PAPER_ROW = (SUMMARY_PAPER_ROW, *(PAPER_AVERAGES[m] for m in ("baseline", "hypothesis", "regular")))
TV_MODES = dict(MODE_TITLES)
WEAK_CORRUPTION = 0.5  # shuffled-label ICL keeping this share of clean ICL: a weak corruption
SIGNIFICANT = 0.05
META_KEYS = (
    "model", "tvlens_version", "transformer_lens_version", "torch_version", "model_class",
    "dtype", "n_demos", "n_dummy", "n_dev", "n_test", "n_baseline", "seed", "on_conflict",
    "answers", "max_new_tokens", "patch_at", "methods", "fv", "wall_time_s",
)  # fmt: skip
TASK_KEYS = (
    "status", "reason", "category", "n_pairs", "n_kept", "n_dropped", "n_conflicts_dropped",
    "best_layer", "accuracy", "counts", "accuracy_ci", "wall_time_s", "phase_times_s",
    "first_token_accuracy", "f1", "stop_reasons",
)  # fmt: skip
TEST_KEYS = ("test", "difference", "p", "b", "c", "n")

TABLE_RE = re.compile(r"^<!-- table: ([\w.-]+)/([\w-]+) -->[ \t]*$")
TABLE_END = "<!-- /table -->"
VALUE_RE = re.compile(r"<!-- value: ([\w.-]+)/([\w.\[\]-]+)(?:\|(\w+))? -->(.*?)<!-- /value -->")
NUMBER_CELL = re.compile(r"^\**-?(\d+(\.\d+)?|\.\d+)\**( \[.*\])?$")


# ---- pin: results.json -> docs/results/NAME.json -----------------------------------------
def _pick(d: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: d[k] for k in keys if k in d}


def _fv_extract(fv: Mapping[str, Any]) -> dict[str, Any]:
    vec, ie = fv.get("function_vector", {}), fv.get("indirect_effect", {})
    return {
        "layers": fv.get("layers"),
        "k": vec.get("k"),
        "heads": vec.get("heads"),
        "k_dev": fv.get("k_dev"),
        "clean_accuracy": fv.get("clean_accuracy"),
        "corrupted_accuracy": ie.get("corrupted_accuracy"),
        "top_heads": (ie.get("top_heads") or [])[:5],
        "aie": ie.get("aie"),
    }


def _mean_matrix(mats: list[list[list[float]]]) -> list[list[float]] | None:
    if not mats or len({(len(m), len(m[0])) for m in mats}) != 1:
        return None
    n = len(mats)
    return [
        [sum(m[i][j] for m in mats) / n for j in range(len(mats[0][0]))]
        for i in range(len(mats[0]))
    ]


def _top(aie: list[list[float]], k: int) -> list[list[float]]:
    flat = [(v, i, j) for i, row in enumerate(aie) for j, v in enumerate(row)]
    flat.sort(key=lambda t: (-t[0], t[1], t[2]))
    return [[i, j, v] for v, i, j in flat[:k]]


def _median(xs: Sequence[float]) -> float:
    ys, n = sorted(xs), len(xs)
    return ys[n // 2] if n % 2 else (ys[n // 2 - 1] + ys[n // 2]) / 2


def _derived(tasks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Numbers the prose quotes that are not a field of results.json (counts, lists, means)."""
    ok = {n: t for n, t in tasks.items() if t.get("status") == "ok"}
    layers = [t["best_layer"] for t in ok.values() if t.get("best_layer") is not None]
    out: dict[str, Any] = {"n_tasks": len(ok)}
    if layers:
        out |= {"best_layer_min": min(layers), "best_layer_max": max(layers)}
    n_layers = [t["n_layers"] for t in ok.values() if t.get("n_layers")]
    if n_layers:
        out["n_layers"] = n_layers[0]
    walls = [t["wall_time_s"] for t in ok.values() if t.get("wall_time_s") is not None]
    if walls:
        out["median_task_s"] = _median(walls)
    fv = {n: t for n, t in ok.items() if "fv" in t}
    if not fv:
        return out
    weak = [
        n
        for n, t in fv.items()
        if t["fv"]["clean_accuracy"]
        and t["fv"]["corrupted_accuracy"] is not None
        and t["fv"]["corrupted_accuracy"] >= WEAK_CORRUPTION * t["fv"]["clean_accuracy"]
    ]
    better: dict[str, list[str]] = {"fv": [], "tv": []}
    for n, t in fv.items():
        test = t.get("comparisons", {}).get("fv_zero_shot_vs_hypothesis") or {}
        p, d = test.get("p"), test.get("difference")
        if p is not None and d is not None and p < SIGNIFICANT and d != 0:
            better["fv" if d > 0 else "tv"].append(n)
    fv_times = [
        t["phase_times_s"]["function_vectors"]
        for t in fv.values()
        if "function_vectors" in (t.get("phase_times_s") or {})
    ]
    if fv_times:
        out["median_fv_s"] = _median(fv_times)
    out |= {
        "n_fv_tasks": len(fv),
        "weak_corruption": weak,
        "n_weak_corruption": len(weak),
        "fv_better": better["fv"],
        "tv_better": better["tv"],
        "n_fv_better": len(better["fv"]),
        "n_tv_better": len(better["tv"]),
    }
    mean = _mean_matrix([t["fv"]["aie"] for t in fv.values() if t["fv"].get("aie")])
    if mean is not None:
        top = _top(mean, 5)
        out["aie_top_heads"] = top
        lead = [top[0][0], top[0][1]]
        firsts = [n for n, t in fv.items() if t["fv"]["top_heads"][:1]]
        out["n_top_head_first"] = sum(
            1 for n in firsts if list(fv[n]["fv"]["top_heads"][0][:2]) == lead
        )
        strong = [n for n in firsts if n not in weak]
        out["n_strong_corruption"] = len(strong)
        out["n_top_head_first_strong"] = sum(
            1 for n in strong if list(fv[n]["fv"]["top_heads"][0][:2]) == lead
        )
    return out


def extract(results: Mapping[str, Any], source: str, sha256: str) -> dict[str, Any]:
    """The fields of a run's ``results.json`` that README.md and docs/ quote (or, for the JSON
    of ``benchmarks/bench_costs.py --json``, the whole of it with its source)."""
    if results.get("kind") == "bench_costs":
        return {"pin_format": PIN_FORMAT, "source": {"path": source, "sha256": sha256},
                **results}  # fmt: skip
    study = STUDY_FILES.get(Path(source).name)
    if study is not None:
        return {"pin_format": PIN_FORMAT, "source": {"path": source, "sha256": sha256},
                **study_extract(results, study)}  # fmt: skip
    if "meta" not in results or "tasks" not in results:
        raise ValueError(
            f"{source} is not a tvlens results.json (no 'meta' / 'tasks'): pass the folder "
            "that `tvlens run --out` wrote"
        )
    meta = _pick(results["meta"], META_KEYS)
    fmt = results["meta"].get("format")
    if isinstance(fmt, Mapping):
        meta["format"] = fmt.get("name")
    tasks: dict[str, Any] = {}
    for name, t in results["tasks"].items():
        rec = _pick(t, TASK_KEYS)
        if t.get("status") == "ok":
            rec["n_layers"] = len(t.get("dev_accuracy_per_layer") or []) or None
            rec["comparisons"] = {
                k: _pick(v, TEST_KEYS) for k, v in (t.get("comparisons") or {}).items()
            }
            if "fv" in t:
                rec["fv"] = _fv_extract(t["fv"])
        tasks[name] = rec
    summary = results.get("summary") or {}
    ivs = summary.get("intervals") or {}
    pinned = {
        "pin_format": PIN_FORMAT,
        "source": {
            "path": source,
            "sha256": sha256,
            "schema_version": results.get("schema_version"),
        },
        "meta": meta,
        "tasks": tasks,
        "summary": {
            **_pick(summary, ("per_category", "overall", "n_tasks_ok", "n_tasks_skipped")),
            "intervals": _pick(
                ivs, ("method", "level", "n_boot", "seed", "per_category", "overall")
            ),
            "derived": _derived(tasks),
        },
    }
    for t in tasks.values():  # the full AIE matrices were needed for the mean only
        if "fv" in t:
            t["fv"].pop("aie", None)
    return pinned


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, fsynced and renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would make the committed file private
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # the rename itself survives a crash once the folder is synced
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def pin(results_dir: Path, name: str, root: Path = ROOT, dest: Path | None = None) -> Path:
    """Extract ``results_dir/results.json`` into ``dest/NAME.json`` (default docs/results/).

    Raises:
        ValueError: no results.json there, a run still holds the folder, or a bad name.
    """
    if not re.fullmatch(r"[\w.-]+", name):
        raise ValueError(f"name {name!r}: use letters, digits, '.', '_' or '-' (a file name)")
    src = results_dir / "results.json" if results_dir.is_dir() else results_dir  # or a bench
    for name_ in STUDY_FILES if results_dir.is_dir() else ():  # a study's folder
        if (results_dir / name_).is_file():
            src = results_dir / name_
    if not src.is_file():
        raise ValueError(f"{src} does not exist: pass the folder that `tvlens run --out` wrote")
    check_unlocked(src.parent, "Pin the results once the run has finished.")
    raw = src.read_bytes()
    try:
        rel = src.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = src.name
    pinned = extract(json.loads(raw), rel, hashlib.sha256(raw).hexdigest())
    out = (dest or root / "docs" / "results") / f"{name}.json"
    write_atomic(out, json.dumps(pinned, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    return out


# ---- rendering ---------------------------------------------------------------------------
acc = fmt_acc
acc_ci = fmt_ci
pval = fmt_p
test_cell = fmt_test


def _ok(pinned: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {n: t for n, t in pinned["tasks"].items() if t.get("status") == "ok"}


def table_main(p: Mapping[str, Any]) -> list[str]:
    cols = list(TV_MODES)
    lines = [
        "| task | category | pairs kept | best layer | " + " | ".join(TV_MODES.values()) + " |",
        "|---|---|---|---|" + "---|" * len(cols),
    ]
    for name, t in p["tasks"].items():
        if t.get("status") != "ok":
            reason = str(t.get("reason") or "").replace("|", "/")
            lines.append(f"| {name} | {t.get('category', '')} | skipped: {reason} | | | | |")
            continue
        lines.append(
            f"| {name} | {t['category']} | {t['n_kept']}/{t['n_pairs']} | {t['best_layer']} | "
            + " | ".join(acc(t["accuracy"].get(m)) for m in cols)
            + " |"
        )
    return lines


def table_averages(p: Mapping[str, Any]) -> list[str]:
    s = p["summary"]
    lines = ["| average | " + " | ".join(TV_MODES.values()) + " |", "|---|" + "---|" * 3]
    for cat in sorted(s.get("per_category", {})):
        vals = s["per_category"][cat]
        lines.append(f"| {cat} | " + " | ".join(acc(vals.get(m)) for m in TV_MODES) + " |")
    lines.append(
        "| **all tasks** | " + " | ".join(acc(s["overall"].get(m), True) for m in TV_MODES) + " |"
    )
    label, *paper = PAPER_ROW
    lines.append(f"| {label} | " + " | ".join(acc(v) for v in paper) + " |")
    return lines


def table_main_ci(p: Mapping[str, Any]) -> list[str]:
    cols = list(TV_MODES)
    lines = [
        "| task | best layer (depth) | " + " | ".join(TV_MODES.values()) + " | H − R |",
        "|---|---|" + "---|" * (len(cols) + 1),
    ]
    for name, t in _ok(p).items():
        last = (t.get("n_layers") or 0) - 1
        depth = f"{t['best_layer']}/{last} ({t['best_layer'] / last:.2f})" if last > 0 else "–"
        ci = t.get("accuracy_ci") or {}
        lines.append(
            f"| {name} | {depth} | "
            + " | ".join(acc_ci(t["accuracy"].get(m), ci.get(m)) for m in cols)
            + f" | {test_cell(t['comparisons'].get('hypothesis_vs_regular'))} |"
        )
    return lines


def table_averages_ci(p: Mapping[str, Any]) -> list[str]:
    s = p["summary"]
    ivs = s.get("intervals", {})
    cats, overall = ivs.get("per_category", {}), ivs.get("overall", {})
    lines = ["| average | " + " | ".join(TV_MODES.values()) + " |", "|---|" + "---|" * 3]
    for cat in sorted(s.get("per_category", {})):
        vals, ci = s["per_category"][cat], cats.get(cat, {})
        lines.append(
            f"| {cat} | " + " | ".join(acc_ci(vals.get(m), ci.get(m)) for m in TV_MODES) + " |"
        )
    lines.append(
        "| **all tasks** | "
        + " | ".join(acc_ci(s["overall"].get(m), overall.get(m), True) for m in TV_MODES)
        + " |"
    )
    label, *paper = PAPER_ROW
    lines.append(f"| {label} | " + " | ".join(acc(v) for v in paper) + " |")
    return lines


def table_tasks(p: Mapping[str, Any]) -> list[str]:
    model = p["meta"].get("model", "the model")
    lines = [f"| task | category | pairs | single-token on {model} |", "|---|---|---|---|"]
    for name, t in p["tasks"].items():
        if "n_pairs" in t:
            lines.append(f"| {name} | {t['category']} | {t['n_pairs']} | {t['n_kept']} |")
    return lines


def _fv_tasks(p: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    tasks = {n: t for n, t in _ok(p).items() if "fv" in t}
    if not tasks:
        raise ValueError(f"{p['source']['path']} has no function vectors: run --methods tv,fv")
    return tasks


def table_fv(p: Mapping[str, Any]) -> list[str]:
    """The function-vector table exactly as tvlens's ``summary.md`` writes it."""
    tasks, cols = _fv_tasks(p), list(FV_COLUMNS)
    lines = [
        "| task | TV layer | FV layer (k) | " + " | ".join(FV_COLUMNS.values()) + " | FV − TV |",
        "|" + "---|" * (len(cols) + 4),
    ]
    for name, t in tasks.items():
        fv = t["fv"]
        lines.append(
            f"| {name} | {t['best_layer']} | {fv['layers']['fv_zero_shot']} ({fv['k']}) | "
            + " | ".join(acc(t["accuracy"].get(m)) for m in cols)
            + f" | {test_cell(t['comparisons'].get('fv_zero_shot_vs_hypothesis'))} |"
        )
    if len(tasks) == len(_ok(p)):
        s = p["summary"]
        ivs = s.get("intervals", {}).get("overall", {})
        lines.append(
            "| **all tasks** | | | "
            + " | ".join(acc_ci(s["overall"].get(m), ivs.get(m), True) for m in cols)
            + " | |"
        )
    return lines


def _head(h: Sequence[Any]) -> str:
    return f"({int(h[0])}, {int(h[1])})"


def table_fv_heads(p: Mapping[str, Any]) -> list[str]:
    weak = set(p["summary"]["derived"].get("weak_corruption", []))
    lines = [
        "| task | top head (AIE) | k | clean ICL (dev) | ICL, shuffled labels (AIE prompts) "
        "| weak corruption |",
        "|---|---|---|---|---|---|",
    ]
    for name, t in _fv_tasks(p).items():
        fv = t["fv"]
        top = fv["top_heads"][0] if fv["top_heads"] else None
        head = f"{_head(top)} {top[2]:.3f}" if top else "–"
        lines.append(
            f"| {name} | {head} | {fv['k']} | {acc(fv['clean_accuracy'])} | "
            f"{acc(fv['corrupted_accuracy'])} | {'yes' if name in weak else 'no'} |"
        )
    return lines


def table_aie(p: Mapping[str, Any]) -> list[str]:
    tasks = _fv_tasks(p)
    firsts = {n: _head(t["fv"]["top_heads"][0]) for n, t in tasks.items() if t["fv"]["top_heads"]}
    n = len(tasks)
    lines = [
        f"| head (layer, head) | mean AIE over {n} task{'s' * (n != 1)} | the top head on |",
        "|---|---|---|",
    ]
    for la, h, v in p["summary"]["derived"].get("aie_top_heads", []):
        on = sum(1 for f in firsts.values() if f == _head((la, h)))
        lines.append(f"| {_head((la, h))} | {v:.3f} | {on} of {n} tasks |")
    return lines


def table_phases(p: Mapping[str, Any]) -> list[str]:
    sums: dict[str, float] = {}
    tasks = _ok(p)
    for t in tasks.values():
        for phase, sec in (t.get("phase_times_s") or {}).items():
            sums[phase] = sums.get(phase, 0.0) + sec
    if not sums:
        raise ValueError(f"{p['source']['path']} records no phase_times_s")
    total, n = sum(sums.values()), len(tasks)
    lines = [f"| phase | time, summed over {n} tasks | share |", "|---|---|---|"]
    for phase, sec in sorted(sums.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {phase} | {sec:.0f} s | {sec / total:.0%} |")
    lines.append(f"| **all phases** | **{total:.0f} s** | |")
    return lines


COST_GOALS = {  # issue 21's goals: (bound, "<=" or ">=")
    "fv_run_over_tv_run": (2.5, "<="),
    "any_run_over_single_run": (2.0, "<="),
    "protocol_over_floor": (2.0, "<="),
    "atp_speedup_vs_exact": (20.0, ">="),
}


def table_costs(p: Mapping[str, Any]) -> list[str]:
    """``benchmarks/bench_costs.py``'s ratios, each beside its goal, then the AIE per task."""
    if p.get("kind") != "bench_costs":
        raise ValueError(f"{p['source']['path']} is not the JSON of benchmarks/bench_costs.py")
    lines = ["| measured in one process | ratio | goal |", "|---|---|---|"]
    for key, value in p["ratios"].items():
        bound, op = COST_GOALS.get(key, (None, ""))
        goal = f"{op} {bound:g}" if bound is not None else ""
        lines.append(f"| {key} | {value:.2f} | {goal} |")
    lines += ["", "| task | exact AIE | attribution | + verify | Spearman | top-10 overlap "
              "| verify picks the exact top-k |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in p["aie"]:
        lines.append(
            f"| {r['task']} | {r['exact_s']:.1f} s | {r['atp_s']:.1f} s | {r['verify_s']:.1f} s "
            f"| {r['spearman']:.2f} | {r['top10_overlap']:.1f} | "
            f"{'yes' if r['verify_agrees'] else 'no'} |"
        )
    return lines


def table_fv_k(p: Mapping[str, Any]) -> list[str]:
    tasks = _fv_tasks(p)
    per_k: dict[str, list[float]] = {}
    for t in tasks.values():
        for k, rec in (t["fv"].get("k_dev") or {}).items():
            per_k.setdefault(str(k), []).append(rec["dev_accuracy"])
    if not per_k:
        raise ValueError(f"{p['source']['path']} records no dev accuracy per k (fv.k_dev)")
    n = len(tasks)
    lines = [
        f"| k (heads) | mean dev accuracy over {n} tasks, each k at its best dev layer "
        "| tasks whose dev chose this k |",
        "|---|---|---|",
    ]
    for k in sorted(per_k, key=int):
        chose = sum(1 for t in tasks.values() if str(t["fv"]["k"]) == k)
        lines.append(f"| {k} | {acc(sum(per_k[k]) / len(per_k[k]))} | {chose} |")
    return lines


GENERATED_MODES = {
    m: METHOD_TITLES[m]
    for m in ("baseline", "hypothesis", "tv_multi", "tv_learned", "fv_zero_shot", "layer_average",
              "mean_difference", "shuffled", "fv_shuffled", "regular")
}  # fmt: skip
"""Zero-shot methods first, then those with demonstrations, Regular last."""


def table_generated(p: Mapping[str, Any]) -> list[str]:
    ok = {n: t for n, t in _ok(p).items() if "first_token_accuracy" in t}
    if not ok:
        raise ValueError("the pinned run has no generated answers (run it with --answers any)")
    modes = [m for m in GENERATED_MODES if all(m in t["accuracy"] for t in ok.values())]
    lines = [
        "| task | pairs kept | layer | "
        + " | ".join(GENERATED_MODES[m] for m in modes)
        + " | Hypothesis first token |",
        "|---|---|---|" + "---|" * (len(modes) + 1),
    ]
    for name, t in ok.items():
        lines.append(
            f"| {name} | {t['n_kept']}/{t['n_pairs']} | {t['best_layer']} | "
            + " | ".join(acc(t["accuracy"][m]) for m in modes)
            + f" | {acc(t['first_token_accuracy']['hypothesis'])} |"
        )
    means = {m: sum(t["accuracy"][m] for t in ok.values()) / len(ok) for m in modes}
    first = sum(t["first_token_accuracy"]["hypothesis"] for t in ok.values()) / len(ok)
    lines.append(
        "| **mean over tasks** | | | "
        + " | ".join(acc(means[m], True) for m in modes)
        + f" | {acc(first, True)} |"
    )
    reg = means["regular"]
    lines.append(
        "| share of Regular | | | "
        + " | ".join(f"{means[m] / reg:.2f}" if reg else "–" for m in modes)
        + " | |"
    )
    return lines


def table_stops(p: Mapping[str, Any]) -> list[str]:
    from tvlens.report.summary import stop_reasons_table

    tasks = {n: t for n, t in _ok(p).items() if "stop_reasons" in t}
    if not tasks:
        raise ValueError("the pinned run has no stop reasons (run it with --answers any)")
    lines = stop_reasons_table(tasks)
    return [x for x in lines[1:-2]]  # the table alone: no blank line, no note


TABLES: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "main": table_main,
    "averages": table_averages,
    "main-ci": table_main_ci,
    "averages-ci": table_averages_ci,
    "tasks": table_tasks,
    "fv": table_fv,
    "fv-heads": table_fv_heads,
    "aie": table_aie,
    "fv-k": table_fv_k,
    "phases": table_phases,
    "generated": table_generated,
    "stops": table_stops,
    "costs": table_costs,
    **STUDY_TABLES,
}


def lookup(pinned: Any, path: str) -> Any:
    """``summary.overall.hypothesis`` (dots; ``[i]`` indexes a list) in a pinned extract."""
    cur = pinned
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            cur = cur[int(part[1:-1])]
        elif isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        else:
            raise KeyError(f"no {part!r} in {path!r}")
    return cur


def value_text(v: Any, fmt: str | None) -> str:
    """An inline value: two decimals by default; ``duration``, ``int``, ``list``, ``head``."""
    if fmt in (None, "acc"):
        return acc(v)
    if fmt == "duration":
        m, s = divmod(round(float(v)), 60)
        return f"{m} min {s} s" if m else f"{s} s"
    if fmt == "int":
        return str(int(v))
    if fmt == "list":
        return ", ".join(f"`{x}`" for x in v) if v else "none"
    if fmt == "head":
        return _head(v)
    if fmt == "raw":
        return str(v)
    raise ValueError(f"unknown value format {fmt!r}: use duration, int, list, head or raw")


# ---- write / check -----------------------------------------------------------------------
def markdown_files(root: Path) -> list[Path]:
    """README.md and every page under docs/ (the files whose tables this script owns)."""
    docs = root / "docs"
    pages = sorted(docs.rglob("*.md")) if docs.is_dir() else []
    return [p for p in [root / "README.md", *pages] if p.is_file()]


class MissingPinError(ValueError):
    """A marker names an extract that docs/results/ does not hold."""


class Pins:
    """The committed extracts, loaded once each; a missing one is an error naming the fix."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "docs" / "results"
        self.cache: dict[str, Any] = {}

    def __call__(self, name: str) -> Any:
        if name not in self.cache:
            path = self.dir / f"{name}.json"
            if not path.is_file():
                raise MissingPinError(
                    f"docs/results/{name}.json is not committed: run the command beside the "
                    f"table, then `python scripts/doc_tables.py pin RESULTS_DIR {name}` and "
                    "`python scripts/doc_tables.py write`"
                )
            self.cache[name] = json.loads(path.read_text(encoding="utf-8"))
        return self.cache[name]


def fenced(lines: Sequence[str]) -> list[bool]:
    """For each line, whether it belongs to a fenced code block (fences included).

    Markers inside code blocks are examples, never rewritten; a fence closes on a line of at
    least as many of its characters (CommonMark), so ```` blocks may show ``` blocks.
    """
    out, fence = [], ""
    for line in lines:
        s = line.strip()
        m = re.match(r"^(`{3,}|~{3,})", s)
        if fence:
            out.append(True)
            if m and s == m.group(1) and m.group(1)[0] == fence[0] and len(s) >= len(fence):
                fence = ""
        elif m:
            fence = m.group(1)
            out.append(True)
        else:
            out.append(False)
    return out


def _blocks(lines: list[str]) -> Iterator[tuple[int, int, str, str]]:
    """(start, end, run name, kind) of each table marker; ``end`` is the closing line."""
    code = fenced(lines)
    i = 0
    while i < len(lines):
        m = None if code[i] else TABLE_RE.match(lines[i])
        if m:
            for j in range(i + 1, len(lines)):
                if lines[j].strip() == TABLE_END:
                    yield i, j, m.group(1), m.group(2)
                    i = j
                    break
                if TABLE_RE.match(lines[j]) or code[j]:
                    raise ValueError(f"line {i + 1}: {lines[i]!r} has no {TABLE_END!r} after it")
            else:
                raise ValueError(f"line {i + 1}: {lines[i]!r} has no {TABLE_END!r} after it")
        i += 1


def render(text: str, pins: Pins) -> tuple[str, list[str]]:
    """``text`` with every marked table and value regenerated, and the errors met."""
    errors: list[str] = []
    missing: dict[str, str] = {}  # one error per missing extract, however many markers use it
    lines = text.split("\n")
    try:
        blocks = list(_blocks(lines))
    except ValueError as e:
        return text, [str(e)]
    out: list[str] = []
    prev = 0
    for start, end, name, kind in blocks:
        out += lines[prev : start + 1]
        body = lines[start + 1 : end]
        try:
            if kind not in TABLES:
                raise ValueError(f"unknown table kind {kind!r}: one of {', '.join(TABLES)}")
            body = ["", *TABLES[kind](pins(name)), ""]
        except MissingPinError as e:
            missing[name] = str(e)
        except (ValueError, KeyError) as e:
            errors.append(f"line {start + 1} ({name}/{kind}): {e}")
        out += body
        prev = end
    out += lines[prev:]

    def sub(m: re.Match[str]) -> str:
        name, path, fmt, old = m.groups()
        try:
            new = value_text(lookup(pins(name), path), fmt)
        except MissingPinError as e:
            missing[name] = str(e)
            new = old
        except (ValueError, KeyError, IndexError, TypeError) as e:
            errors.append(f"value {name}/{path}: {e}")
            new = old
        spec = f"{name}/{path}" + (f"|{fmt}" if fmt else "")
        return f"<!-- value: {spec} -->{new}<!-- /value -->"

    code = fenced(out)
    out = [line if c else VALUE_RE.sub(sub, line) for line, c in zip(out, code, strict=True)]
    return "\n".join(out), [*missing.values(), *errors]


def unsourced_tables(text: str) -> list[int]:
    """Line numbers of table rows with a number cell outside a table marker (or a code fence)."""
    lines = text.split("\n")
    bad, inside = [], False
    for i, (line, code) in enumerate(zip(lines, fenced(lines), strict=True), 1):
        s = line.strip()
        if code:
            continue
        if TABLE_RE.match(s):
            inside = True
        elif s == TABLE_END:
            inside = False
        elif not inside and s.startswith("|"):
            cells = [c.strip() for c in s.strip("|").split("|")]
            if any(NUMBER_CELL.match(c) for c in cells):
                bad.append(i)
    return bad


def check(root: Path = ROOT) -> list[str]:
    """Every disagreement between README.md / docs/*.md and docs/results/ (empty: all agree)."""
    pins, problems = Pins(root), []
    for path in markdown_files(root):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        new, errors = render(text, pins)
        problems += [f"{rel}: {e}" for e in errors]
        if not errors and new != text:
            old_lines, new_lines = text.split("\n"), new.split("\n")
            first = next(
                (i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=False)) if a != b),
                min(len(old_lines), len(new_lines)),
            )
            problems.append(
                f"{rel}:{first + 1}: differs from docs/results/ (run `python scripts/"
                f"doc_tables.py write`): {old_lines[first] if first < len(old_lines) else ''!r}"
            )
        lines = text.split("\n")
        problems += [
            f"{rel}:{n}: a value marker starts the line: an HTML comment at the start of a "
            "line ends the paragraph (on GitHub and on the site); join it to the line before"
            for n, (line, code) in enumerate(zip(lines, fenced(lines), strict=True), 1)
            if not code and line.lstrip().startswith("<!-- value:")
        ]
        problems += [
            f"{rel}:{n}: a table of numbers with no source: put it between "
            "`<!-- table: NAME/KIND -->` and `<!-- /table -->` markers (see scripts/doc_tables.py)"
            for n in unsourced_tables(text)
        ]
    return list(dict.fromkeys(problems))  # a missing extract is named once per file


def write(root: Path = ROOT) -> list[Path]:
    """Regenerate every marked table and value; returns the files changed.

    Raises:
        ValueError: listing every marker that could not be rendered (nothing is written then).
    """
    pins, changed, pending = Pins(root), [], []
    for path in markdown_files(root):
        text = path.read_text(encoding="utf-8")
        new, errors = render(text, pins)
        if errors:
            rel = path.relative_to(root).as_posix()
            pending += [f"{rel}: {e}" for e in errors]
        elif new != text:
            changed.append((path, new))
    if pending:
        raise ValueError("nothing written:\n" + "\n".join(pending))
    for path, new in changed:
        write_atomic(path, new)
    return [p for p, _ in changed]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--root", type=Path, default=ROOT, help="the repository (default: %(default)s)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pin", help="docs/results/NAME.json from RESULTS_DIR/results.json")
    p.add_argument("results_dir", type=Path)
    p.add_argument("name")
    p.add_argument("--dest", type=Path, help="folder of the extracts (default: docs/results)")
    sub.add_parser("write", help="rewrite every marked table and value")
    sub.add_parser("check", help="exit 1 if a table or value disagrees with docs/results/")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "pin":
            out = pin(args.results_dir, args.name, args.root, args.dest)
            print(f"wrote {out}; now run `python scripts/doc_tables.py write`")
        elif args.cmd == "write":
            for path in write(args.root):
                print(f"rewrote {path}")
        else:
            problems = check(args.root)
            for line in problems:
                print(line, file=sys.stderr)
            if problems:
                return 1
            print("every table and value agrees with docs/results/")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
