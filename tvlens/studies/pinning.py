"""The docs' view of a study: a small extract of its JSON (what ``scripts/doc_tables.py pin``
commits under ``docs/results/``) and the markdown tables the docs quote from it, drawn by the
same functions as the study's own ``summary.md``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tvlens.studies import compose_report, layers_report, transfer_report

#: Each study's JSON file and its kind.
STUDY_FILES = {"transfer.json": "transfer", "layers.json": "layers", "compose.json": "compose"}
_META = ("model", "model_class", "dtype", "n_dev", "n_test", "n_demos", "n_dummy", "seed",
         "methods", "top_k", "fv", "wall_time_s", "tvlens_version")  # fmt: skip
_TASK = {
    "transfer": ("status", "reason", "category", "n_pairs", "n_kept", "formats", "layers",
                 "accuracy"),
    "layers": ("status", "reason", "category", "n_pairs", "n_kept", "best_layer",
               "dev_accuracy_per_layer", "patch_accuracy", "answer_topk", "answer_top1",
               "task_word_topk", "task_words"),
    "compose": ("status", "reason", "parts", "n_pairs", "n_kept", "layers",
                "part_dev_accuracy"),
}  # fmt: skip


def study_extract(doc: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The fields of a study's JSON the docs quote: settings, summary, probe, and per task
    the numbers (not the per-example predictions)."""
    meta = {k: doc["meta"][k] for k in _META if k in doc["meta"]}
    fmts = doc["meta"].get("formats")
    if fmts is not None:
        meta["formats"] = [f["name"] for f in fmts]
    if "format" in doc["meta"]:
        meta["format"] = doc["meta"]["format"]["name"]
    tasks: dict[str, Any] = {}
    for name, t in doc["tasks"].items():
        rec = {k: t[k] for k in _TASK[kind] if k in t}
        if kind == "compose" and "methods" in t:
            rec["methods"] = {
                m: {k: v for k, v in r.items() if k not in ("correct", "predicted")}
                for m, r in t["methods"].items()
            }
        tasks[name] = rec
    out = {"kind": kind, "meta": meta, "summary": doc.get("summary"), "tasks": tasks}
    if kind == "layers":
        out["probe"] = doc.get("probe")
    return out


def _study(kind: str, p: Mapping[str, Any]) -> Mapping[str, Any]:
    if p.get("kind") != kind:
        raise ValueError(f"{p['source']['path']} is not the JSON of a {kind} study")
    return p


def _tables() -> dict[str, Callable[[Mapping[str, Any]], list[str]]]:
    t, lay, c = transfer_report, layers_report, compose_report
    return {
        "transfer-tv": lambda p: t.matrix_lines(dict(_study("transfer", p)["summary"]), "tv"),
        "transfer-fv": lambda p: t.matrix_lines(dict(_study("transfer", p)["summary"]), "fv"),
        "transfer-modes": lambda p: t.modes_lines(dict(_study("transfer", p)["summary"])),
        "transfer-tasks": lambda p: t.task_lines(dict(_study("transfer", p)["tasks"]),
                                                 list(p["summary"]["formats"])),
        "layers": lambda p: lay.curve_lines(dict(_study("layers", p)["summary"])),
        "layers-tasks": lambda p: lay.peak_lines(dict(_study("layers", p)["tasks"])),
        "compose": lambda p: c.average_lines(dict(_study("compose", p)["summary"])),
        "compose-tasks": lambda p: c.task_lines(dict(_study("compose", p)["tasks"])),
    }  # fmt: skip


#: The docs' table kinds drawn from a pinned study (``NAME/KIND`` in a table marker).
STUDY_TABLES = _tables()
