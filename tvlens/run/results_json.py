"""``results.json``: its one reader, its one writer, its schema version and migrations.

- :class:`Results` is the file's envelope (``schema_version``, ``meta``, ``tasks``,
  ``summary``) with :meth:`Results.from_json` / :meth:`Results.to_json`. Each task is a
  typed :class:`~tvlens.run.task_record.TaskRecord` (its rows
  :class:`~tvlens.run.task_record.ExampleRow`); every field is described by
  ``tvlens/results_schema.json``, which :meth:`Results.to_json` checks.
- :func:`read_results` is the reader of ``tvlens run`` (resume), ``tvlens run --seeds``,
  ``tvlens grid`` and ``tvlens compare``: it always brings an older schema version to
  :data:`SCHEMA_VERSION` (:func:`upgrade_results`), so no caller sees two shapes.
- :func:`write_results` is the writer: every write is validated against the schema first,
  so a results.json tvlens writes always matches what the schema (and the docs) say.

Migrations: version 1 (tvlens before intervals) has every prediction but no ``counts``,
``accuracy_ci``, ``comparisons`` or ``summary.intervals``; they are computed from its
per-example records, exactly as a run of this tvlens writes them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from tvlens.files import json_safe
from tvlens.run.files import dumps_strict, write_output
from tvlens.run.names import PAPER_MODES
from tvlens.run.statistics import mode_outcomes, summarize, with_statistics
from tvlens.run.task_record import BUG_FIX, TaskRecord, task_records

#: The results.json schema this tvlens writes; older versions are upgraded on read.
SCHEMA_VERSION = 2
RESULTS_FILE = "results.json"
SCHEMA_FILE = "results_schema.json"


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    schema = json.loads(files("tvlens").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_results(results: Mapping[str, Any], where: str | Path) -> None:
    """Check ``results`` (as JSON would hold it) against ``tvlens/results_schema.json``.

    Raises:
        ValueError: naming ``where``, the first field that does not match and why.
    """
    error = next(iter(_validator().iter_errors(results)), None)
    if error is None:
        return
    field = "/".join(str(p) for p in error.absolute_path) or "(the top level)"
    raise ValueError(
        f"{where}: results.json does not match tvlens/{SCHEMA_FILE} at {field}: "
        f"{error.message}. This is a bug in tvlens (nothing was written): please report it "
        "with this message"
    )


def upgrade_results(results: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """A results.json of any known schema version as version :data:`SCHEMA_VERSION`.

    Version 1 files hold every prediction, so their counts, intervals and tests are
    computed from those records, exactly as a run of this tvlens writes them; the
    statistics of a current file are recomputed the same way (the same numbers).

    Raises:
        ValueError: naming ``path``, for a version newer than this tvlens knows, or a
            finished task with no per-example records to compute intervals from.
    """
    version = results.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{path}: schema_version {version!r} is not a tvlens results.json")
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"{path} has schema_version {version}, newer than this tvlens "
            f"(reads 1..{SCHEMA_VERSION}); upgrade tvlens to read it"
        )
    tasks = results.get("tasks")
    if not isinstance(tasks, Mapping):
        raise ValueError(f"{path} has no 'tasks' object: not a tvlens results.json")
    for name, t in task_records(tasks, str(path)).items():  # every field's type checked
        if not t.finished:
            continue
        have = {m for ms in mode_outcomes(t).values() for m in ms}
        missing = [m for m in PAPER_MODES if m not in have]
        if missing:
            raise ValueError(
                f"{path}: task {name!r} has no per-example records for {', '.join(missing)} "
                f"(schema_version {version}), so its intervals cannot be computed; rerun "
                "`tvlens run` to get a results.json with intervals"
            )
    upgraded = with_statistics(tasks)
    return {**results, "schema_version": SCHEMA_VERSION, "tasks": upgraded,
            "summary": summarize(upgraded)}  # fmt: skip


@dataclass(frozen=True)
class Results:
    """The envelope of a ``results.json``.

    Attributes:
        meta: versions, model fingerprint and every setting (``tvlens run``'s ``meta``).
        tasks: task name -> its :class:`~tvlens.run.task_record.TaskRecord` (``status``
            ``"ok"`` or ``"skipped"``).
        summary: means per category and overall, with intervals (computed from ``tasks``
            by :meth:`of`).
    """

    meta: dict[str, Any]
    tasks: dict[str, TaskRecord]
    summary: dict[str, Any]

    @classmethod
    def of(cls, meta: Mapping[str, Any], tasks: Mapping[str, Mapping[str, Any]]) -> Results:
        """The results of ``tasks`` (records or their JSON): each finished task's statistics
        and the summary added.

        Raises:
            ValueError: naming the task and field, for a malformed task record.
        """
        done = with_statistics(tasks)
        return cls(meta=dict(meta), tasks=task_records(done, fix=BUG_FIX), summary=summarize(done))

    @classmethod
    def from_json(cls, data: Any, path: str | Path) -> Results:
        """A parsed results.json of any known schema version (upgraded).

        Raises:
            ValueError: naming ``path``, if ``data`` is not a results.json tvlens can read.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("meta"), Mapping):
            raise ValueError(f"{path} is not a tvlens results.json (it has no 'meta' object)")
        up = upgrade_results(data, path)
        return cls(
            meta=dict(up["meta"]), tasks=task_records(up["tasks"], str(path)),
            summary=dict(up["summary"]),
        )  # fmt: skip

    def to_json(self, where: str | Path = RESULTS_FILE) -> dict[str, Any]:
        """The JSON object of ``results.json`` (NaN as ``null``), checked against the schema.

        Raises:
            ValueError: if it does not match ``tvlens/results_schema.json`` (a bug).
        """
        body: dict[str, Any] = json_safe(
            {
                "schema_version": SCHEMA_VERSION,
                "meta": self.meta,
                "tasks": {name: rec.to_json() for name, rec in self.tasks.items()},
                "summary": self.summary,
            },
            nan="null",
        )
        validate_results(body, where)
        return body


@dataclass(frozen=True)
class ReadResults:
    """What :func:`read_results` read: the file, its results (upgraded), the version read."""

    path: Path
    results: Results
    read_version: int


def read_results(path: str | Path) -> ReadResults | None:
    """``path`` (a results.json) upgraded to this schema version, or None if absent.

    Raises:
        ValueError: naming ``path``, if it cannot be read as JSON, is not a tvlens
            results.json, or has a schema version this tvlens cannot upgrade.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise ValueError(
            f"{path} cannot be read as JSON ({err}): not a results.json tvlens can read; "
            "move it away or pass another folder"
        ) from err
    results = Results.from_json(data, path)
    return ReadResults(path=path, results=results, read_version=int(data["schema_version"]))


def write_results(out: Path, results: Results, *, beside: bool = False) -> dict[str, Any]:
    """Write ``out/results.json`` atomically (:func:`~tvlens.run.files.write_output`), after
    checking it against the schema; its JSON object.

    Raises:
        ValueError: if it does not match the schema (nothing is written).
    """
    body = results.to_json(out / RESULTS_FILE)
    write_output(out, RESULTS_FILE, dumps_strict(body), beside=beside)
    return body


def write_run(
    out: Path, results: Results, *, beside: bool = False, report: bool = True
) -> dict[str, Any]:
    """A run's files: ``results.json`` (:func:`write_results`), then ``summary.md`` and
    (with ``report``) ``report.html`` made from it, each written atomically (``beside``: next
    to a run another process wrote, see :func:`~tvlens.run.files.write_output`)."""
    from tvlens.report.summary import report_html_writer, summary_markdown

    body = write_results(out, results, beside=beside)
    write_output(out, "summary.md", summary_markdown(body), beside=beside)
    if report:
        write_output(out, "report.html", report_html_writer(body), beside=beside)
    return body
