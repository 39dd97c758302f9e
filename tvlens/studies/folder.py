"""A study's output folder, kept as ``tvlens run`` keeps its own.

:func:`run_study` locks the folder (:mod:`tvlens.run.lock`: a second process is refused),
refuses a folder of another kind or files tvlens did not write (:mod:`tvlens.run.files`),
resumes the tasks already in the study's JSON when it was made with the same settings and
model (and refuses one made with others, naming each difference), and rewrites the JSON and
``summary.md`` atomically after every task, ``report.html`` at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tvlens.run.files import (
    check_folder_kind,
    check_outputs_ours,
    dumps_strict,
    is_ours,
    prepare_out,
    write_output,
    write_outputs,
)
from tvlens.run.folders import FOLDER_KINDS
from tvlens.run.lock import run_lock
from tvlens.run.resume import settings_diff

#: What computing one task returns: its JSON record, and files to write beside the study's
#: JSON before the record is (``(name, bytes)``, e.g. the θ a later step reads back).
TaskOutput = tuple[dict[str, Any], Sequence[tuple[str, bytes]]]


@dataclass(frozen=True)
class Study:
    """One kind of study, as :func:`run_study` runs it.

    Attributes:
        kind: the folder kind (``"transfer"``, ``"layers"``): its JSON is
            ``FOLDER_KINDS[kind]``.
        meta: the settings and the model's fingerprint; a folder resumes only with equal
            ones (versions and ``execution`` are recorded, not compared).
        keys: the tasks, in order.
        compute: one task's :data:`TaskOutput`; a record with ``status`` ``"ok"`` or
            ``"skipped"`` (and its ``reason``) is final.
        summary: ``summary.md`` of the study's JSON document.
        figures: ``report.html``'s figures of the document (heading -> figure).
        finish: fields over all tasks added to the final document (e.g. a probe across
            tasks), given the tasks and the folder (each task's files are named in its
            record's ``files``); ``None`` for none.
    """

    kind: str
    meta: dict[str, Any]
    keys: Sequence[str]
    compute: Callable[[str], TaskOutput]
    summary: Callable[[dict[str, Any]], str]
    figures: Callable[[dict[str, Any]], Mapping[str, Any]]
    finish: Callable[[dict[str, Any], Path | None], dict[str, Any]] | None = None

    @property
    def file(self) -> str:
        """The study's JSON file name."""
        return FOLDER_KINDS[self.kind]


def check_study_folder(out: str | Path, kind: str) -> Path:
    """Create ``out`` if needed and refuse it if it holds another kind of folder or files
    tvlens did not write; nothing loads a model first.

    Raises:
        ValueError: naming the folder and the fix.
    """
    path = prepare_out(out)
    check_folder_kind(path, kind)
    check_outputs_ours(path, (FOLDER_KINDS[kind], "summary.md", "report.html"))
    return path


def read_study(path: Path) -> dict[str, Any] | None:
    """A study's JSON document (``None`` if absent).

    Raises:
        ValueError: a file that is not a study document, naming it.
    """
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} cannot be read as JSON ({err}); pass another --out") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("meta"), dict):
        raise ValueError(f"{path} is not a tvlens study (no meta); pass another --out")
    if not isinstance(doc.get("tasks"), dict):
        raise ValueError(f"{path} is not a tvlens study (no tasks); pass another --out")
    return doc


def _refuse(path: Path, diff: list[str]) -> ValueError:
    shown = [d.replace("(in results.json)", f"(in {path.name})") for d in diff]
    return ValueError(
        f"{path} holds a study with other settings or another model: {'; '.join(shown)}. "
        "Pass another --out, or rerun with that study's settings to resume it"
    )


def run_study(study: Study, out: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Run ``study`` into ``out`` (locked), resuming the tasks already there.

    Returns:
        The study's JSON document as written.

    Raises:
        ValueError: as :func:`check_study_folder`, a folder locked by another run, or a
            study there with other settings or another model (each difference named).
    """
    from tqdm.auto import tqdm

    from tvlens.report.html_file import write_html

    path = check_study_folder(out, study.kind)
    with run_lock(path):
        check_study_folder(path, study.kind)  # again, now that no one else writes here
        target = path / study.file
        prev = read_study(target) if is_ours(path, study.file) else None
        before = dict(prev["meta"]) if prev is not None else {}
        if prev is not None and (diff := settings_diff(before, study.meta)):
            raise _refuse(target, diff)
        tasks: dict[str, Any] = dict(prev["tasks"]) if prev is not None else {}
        wall0 = float(before.get("wall_time_s") or 0.0)
        start = time.perf_counter()

        def save(final: bool) -> dict[str, Any]:
            order = [*study.keys, *(k for k in tasks if k not in study.keys)]
            meta = {**study.meta, "wall_time_s": wall0 + time.perf_counter() - start}
            doc: dict[str, Any] = {
                "meta": meta,
                "tasks": {k: tasks[k] for k in order if k in tasks},
            }
            if study.finish is not None and final:
                doc.update(study.finish(doc["tasks"], path))
            text = dumps_strict(doc)
            doc = json.loads(text)  # NaN as null, as it reads back
            write_output(path, study.file, text, kind=study.kind)
            write_output(path, "summary.md", study.summary(doc), kind=study.kind)
            if final:
                figs = study.figures(doc)
                title = f"tvlens {study.kind}: {meta.get('model', '')}"
                write_output(
                    path, "report.html", lambda p: write_html(figs, p, title=title), kind=study.kind
                )
            return doc

        todo = [k for k in study.keys if tasks.get(k, {}).get("status") not in ("ok", "skipped")]
        bar = tqdm(todo, desc=study.kind, unit="task", disable=not progress)
        for key in bar:
            bar.set_description(f"{study.kind}: {key}")
            record, files = study.compute(key)
            if files:  # before the record that says the task is done
                written = write_outputs(path, list(files), kind=study.kind)
                record = {**record, "files": [p.name for p in written]}
            tasks[key] = record
            save(final=False)
        return save(final=True)


def run_in_memory(study: Study) -> dict[str, Any]:
    """``study`` computed without a folder: ``{"meta", "tasks", ...}`` as :func:`run_study`
    returns it (the fields of ``finish`` included), nothing written."""
    records = {k: study.compute(k)[0] for k in study.keys}
    doc: dict[str, Any] = {"meta": study.meta, "tasks": records}
    if study.finish is not None:
        doc.update(study.finish(records, None))
    return doc
