"""How :mod:`tvlens.report.compare` lines runs up, and what it refuses to line up.

- :func:`load_runs`: the runs of a ``tvlens run`` folder (one per seed of a ``--seeds``
  folder), schema version 1 upgraded.
- :func:`check_accuracies`: each mode's ``accuracy`` in a results.json must be the one its
  per-example records give (an edited or damaged file is refused, naming file, task, mode).
- :func:`check_distinct_files`: a run given twice (the same folder twice, or a ``--seeds``
  folder beside one of its own ``seed-<n>`` folders) is refused.
- :func:`run_labels`: one label per run, unique: the settings that differ, then other
  recorded differences (tokenizer, versions, weights), then folder path, then ``#2``.
- :func:`check_one_metric`: runs scored by next-token accuracy (``--answers single``) and
  by exact match of generated answers (``--answers any``) are not compared in one table.
- :func:`align_tasks`: tasks are matched by name **and** data (the ``source.sha256`` each
  task record holds) and category; a task whose data or category differs between runs is
  not averaged together, and the alignment note says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tvlens.run.results_json import SCHEMA_VERSION, read_results
from tvlens.run.statistics import mode_outcomes

__all__ = ["METRICS", "ComparedRun", "align_tasks", "answers_of", "check_accuracies",
           "check_distinct_files", "check_one_metric", "check_unique_labels", "load_runs",
           "run_labels", "setting_text"]  # fmt: skip

Loaded = tuple[Path, dict[str, Any], int]  # (results.json, results as schema 2, version read)

METRICS = {"single": "next-token accuracy", "any": "exact match of generated answers"}
"""``meta.answers`` -> the metric the accuracies of such a run are."""


@dataclass(frozen=True)
class ComparedRun:
    """One results.json: where it came from, its label, and its content (schema version 2)."""

    path: Path
    label: str
    results: dict[str, Any]
    read_version: int

    @property
    def meta(self) -> dict[str, Any]:
        """The run's ``meta``."""
        return dict(self.results["meta"])

    def ok_tasks(self) -> dict[str, Any]:
        """The finished tasks, by name."""
        return {n: t for n, t in self.results["tasks"].items() if t.get("status") == "ok"}


# Settings not shown in a label unless nothing else tells two runs apart (``weights_sha256``
# differs with every model; ``wall_time_s`` with every run, so it never labels one).
_NOT_SETTINGS = {"tvlens_version", "transformer_lens_version", "torch_version", "wall_time_s",
                 "tokenizer", "weights_sha256", "execution"}  # fmt: skip
_FIRST = ("model", "model_class", "format", "seed")
_TOLERANCE = 1e-9


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} cannot be read as JSON: {err}") from err


def _read_results(path: Path) -> Loaded:
    read = read_results(path)  # the one reader of results.json (tvlens.run.results_json)
    if read is None:
        raise ValueError(f"{path}: no such file; pass folders written by `tvlens run --out`")
    r = read.results
    results = {"schema_version": SCHEMA_VERSION, "meta": r.meta, "tasks": r.tasks,
               "summary": r.summary}  # fmt: skip
    check_accuracies(results, path)
    return path, results, read.read_version


def load_runs(run_dir: str | Path) -> list[Loaded]:
    """``(results.json path, results as schema 2, version read)`` for each run in ``run_dir``.

    ``run_dir`` is a ``tvlens run --out`` folder (or its ``results.json``), or a
    ``tvlens run --seeds`` folder, which holds one run per seed.

    Raises:
        ValueError: naming the folder, if it is missing, holds no results, or a file in it
            is not a results.json tvlens can read.
    """
    path = Path(run_dir)
    if path.is_file() and path.suffix == ".json":
        return [_read_results(path)]
    if not path.exists():
        raise ValueError(f"{path}: no such folder; pass folders written by `tvlens run --out`")
    if not path.is_dir():
        raise ValueError(f"{path} is a file, not a results folder of `tvlens run`")
    single, seeds = path / "results.json", path / "seeds.json"
    if single.exists() and seeds.exists():
        raise ValueError(f"{path} holds both results.json and seeds.json; pass one run folder")
    if seeds.exists():
        index = _read_json(seeds)
        runs = index.get("runs") if isinstance(index, dict) else None
        if not isinstance(runs, dict) or not runs:
            raise ValueError(f"{seeds} lists no runs: not a seeds.json of `tvlens run --seeds`")
        out = []
        for sub in runs.values():
            f = path / str(sub) / "results.json"
            if not f.exists():
                raise ValueError(f"{seeds} lists {sub}, but {f} does not exist")
            out.append(_read_results(f))
        return out
    if not single.exists():
        raise ValueError(
            f"{path} holds no results.json: not a results folder of `tvlens run` (or a run "
            "that has not finished a task yet)"
        )
    return [_read_results(single)]


# ---- accuracies against the per-example records ---------------------------------------------
def check_accuracies(results: Mapping[str, Any], path: str | Path) -> None:
    """Refuse a results.json whose ``accuracy`` of a mode is not its per-example records' mean.

    Each finished task's modes with per-example records (``test_examples``,
    ``baseline_examples``: an entry per mode with a boolean ``correct``) are recomputed;
    a mode without such records is not checked.

    Raises:
        ValueError: naming the file, task, mode and both values, and the fix.
    """
    for name, t in results["tasks"].items():
        if t.get("status") != "ok":
            continue
        stored_all = t.get("accuracy") if isinstance(t.get("accuracy"), Mapping) else {}
        seen: set[str] = set()
        for modes in mode_outcomes(t).values():
            for mode, xs in modes.items():
                if mode in seen or not xs:
                    continue
                seen.add(mode)  # a mode's first list holds its scored examples
                if mode not in stored_all:
                    continue
                stored, k, n = stored_all[mode], sum(xs), len(xs)
                ok = isinstance(stored, (int, float)) and not isinstance(stored, bool)
                if ok and math.isfinite(stored) and abs(stored - k / n) <= _TOLERANCE:
                    continue
                raise ValueError(
                    f"{path}: task {name!r}, mode {mode!r}: accuracy is {stored!r} but its "
                    f"per-example records give {k}/{n} = {k / n:.4g}; the file was edited or "
                    "damaged: rerun `tvlens run` or restore the file"
                )


# ---- each run once ---------------------------------------------------------------------------
def check_distinct_files(given: Sequence[tuple[Path, Path]]) -> None:
    """Refuse a results.json reached twice: ``given`` is ``(folder given, results.json)``.

    Raises:
        ValueError: naming the folder (or both ways it was reached) and the fix.
    """
    first: dict[Path, Path] = {}
    for folder, file in given:
        key = file.resolve()
        if key not in first:
            first[key] = folder
            continue
        before = first[key]
        if before.resolve() == folder.resolve():
            raise ValueError(f"folder {folder} given twice; pass each run once")
        raise ValueError(
            f"{file} is given twice (through {before} and through {folder}, e.g. a --seeds "
            "folder and one of its seed folders); pass each run once"
        )


# ---- labels ----------------------------------------------------------------------------------
def setting_text(meta: Mapping[str, Any], key: str) -> str:
    """``meta[key]`` as label text: a string as is, a format by its name, else JSON."""
    value = meta.get(key)
    if key == "format" and isinstance(value, Mapping):
        value = value.get("name")
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _short(text: str) -> str:
    return text if len(text) <= 20 else text[:12] + "…"


def _differing(metas: Sequence[Mapping[str, Any]], exclude: set[str]) -> list[str]:
    """The keys every meta records, but ``exclude``, whose values differ, in label order."""
    shared = set.intersection(*(set(m) for m in metas)) - exclude
    keys = [k for k in _FIRST if k in shared] + sorted(shared - set(_FIRST))
    return [k for k in keys if len({setting_text(m, k) for m in metas}) > 1]


def _parts(
    meta: Mapping[str, Any], keys: Sequence[str], group: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Label parts of ``meta`` for ``keys`` (a mapping: the sub-keys that differ in ``group``)."""
    out = []
    for k in keys:
        value = meta[k]
        nested = all(isinstance(m[k], Mapping) for m in group)
        if k == "model":
            out.append(setting_text(meta, k))
        elif k != "format" and nested:
            subs = _differing([m[k] for m in group], set()) or sorted(value)
            out += [f"{k} {s} {_short(setting_text(value, s))}" for s in subs]
        else:
            out.append(f"{k} {_short(setting_text(meta, k))}")
    return out


def _groups(labels: Sequence[str]) -> list[list[int]]:
    """Indices of the labels that more than one run shares, one list per shared label."""
    by: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by.setdefault(lab, []).append(i)
    return [g for g in by.values() if len(g) > 1]


def run_labels(items: Sequence[Loaded]) -> list[str]:
    """A short label per run, unique among ``items``.

    The settings that differ between the runs (only those every run records: one that a
    run lacks was added by a later tvlens; the model by itself, the others as
    ``"seed 1"``, ``"format paper"``), else the folder's name. Runs that still share a
    label get the other recorded differences (tokenizer, versions, ``weights_sha256``),
    then enough of their folders' paths (``exp1/run``), then ``#2``, ``#3``.
    """
    metas = [r["meta"] for _, r, _ in items]
    folders = [p.parent for p, _, _ in items]
    differ = _differing(metas, _NOT_SETTINGS)
    parts = [_parts(m, differ, metas) for m in metas]
    by_folder = [not p for p in parts]
    labels = [", ".join(p) or f.name for p, f in zip(parts, folders, strict=True)]
    for group in _groups(labels):
        sub = [metas[i] for i in group]
        extra = _differing(sub, set(differ) | {"wall_time_s"})
        for i in group:
            labels[i] = ", ".join([labels[i], *_parts(metas[i], extra, sub)])
    for group in _groups(labels):
        paths = [folders[i].resolve().parts for i in group]
        depth = next(
            (d for d in range(1, max(map(len, paths)) + 1)
             if len({p[-d:] for p in paths}) == len(paths)),
            None,
        )  # fmt: skip
        if depth is None:
            continue
        for i, p in zip(group, paths, strict=True):
            where = "/".join(p[-depth:])
            alone = by_folder[i] and labels[i] == folders[i].name
            labels[i] = where if alone else f"{labels[i]} ({where})"
    while groups := _groups(labels):
        for group in groups:
            for n, i in enumerate(group[1:], start=2):
                labels[i] = f"{labels[i]} #{n}"
    return labels


def check_unique_labels(labels: Sequence[str]) -> None:
    """Refuse runs that share a label (the averages are keyed by label)."""
    if len(set(labels)) < len(labels):
        twice = sorted({lab for lab in labels if labels.count(lab) > 1})
        raise ValueError(f"runs share the label(s) {twice}; label each run uniquely")


# ---- one metric ------------------------------------------------------------------------------
def answers_of(results: Mapping[str, Any]) -> str:
    """``meta.answers`` of a run (``"single"`` for runs from before the setting)."""
    return str(results["meta"].get("answers") or "single")


def check_one_metric(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """The ``answers`` setting all ``(label, results)`` share; refuse runs scored differently.

    Raises:
        ValueError: naming which runs use which metric, and the fix.
    """
    by: dict[str, list[str]] = {}
    for label, results in runs:
        by.setdefault(answers_of(results), []).append(label)
    if len(by) > 1:
        listed = "; ".join(
            f"--answers {a} ({METRICS.get(a, a)}): {', '.join(labels)}" for a, labels in by.items()
        )
        raise ValueError(
            f"the runs are scored by different metrics ({listed}), which one table cannot "
            "show; compare single-token runs and any-length runs separately"
        )
    return next(iter(by), "single")


# ---- tasks by name and data ------------------------------------------------------------------
def _sha(record: Mapping[str, Any]) -> str | None:
    src = record.get("source")
    sha = src.get("sha256") if isinstance(src, Mapping) else None
    return sha if isinstance(sha, str) else None


def _source(record: Mapping[str, Any]) -> str:
    src = record.get("source")
    src = src if isinstance(src, Mapping) else {}
    return f"{src.get('kind')} {src.get('ref')!r}, data sha256 {str(src.get('sha256'))[:12]}"


def align_tasks(
    runs: Sequence[tuple[str, Mapping[str, Any]]],
) -> tuple[tuple[str, ...], dict[str, list[str]]]:
    """The tasks every ``(label, results)`` finished on the same data, and why others are not.

    A task is shared when every run finished it, with the same category and the same data
    (``source.sha256``; a run that does not record it is matched by name and category).

    Returns:
        The shared task names in the order the runs list them, and each other task -> why
        (``"smollm2-135m: not in the run"``; for data or category: a first line saying it
        is not averaged together, then each run's category or data).
    """
    tasks = [results["tasks"] for _, results in runs]
    order = list(dict.fromkeys(n for t in tasks for n in t))
    shared, dropped = [], {}
    for name in order:
        recs = [t.get(name) for t in tasks]
        why = []
        for (label, _), t in zip(runs, recs, strict=True):
            if t is None:
                why.append(f"{label}: not in the run")
            elif t.get("status") != "ok":
                why.append(f"{label}: skipped ({str(t.get('reason', ''))[:80]})")
        if why:
            dropped[name] = why
            continue
        ok = [t for t in recs if t is not None]
        labels = [label for label, _ in runs]
        if len({t.get("category") for t in ok}) > 1:
            dropped[name] = [
                "its category differs between runs, so it is not averaged together",
                *(f"{lab}: {t.get('category')}" for lab, t in zip(labels, ok, strict=True)),
            ]
        elif len({s for t in ok if (s := _sha(t)) is not None}) > 1:
            dropped[name] = [
                "its data differs between runs, so it is not averaged together",
                *(f"{lab}: {_source(t)}" for lab, t in zip(labels, ok, strict=True)),
            ]
        else:
            shared.append(name)
    return tuple(shared), dropped
