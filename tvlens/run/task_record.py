"""A task's record in ``results.json``, typed: :class:`TaskRecord`, its rows :class:`ExampleRow`.

A record is built from the JSON a run writes (:meth:`TaskRecord.from_json`, which checks the
type of every field it knows and names the task and field it refuses) and written back by
:meth:`TaskRecord.to_json` (the same JSON: ``from_json(to_json())`` is the identity, tested by
``tests/test_task_record.py``). Fields a later tvlens adds travel in ``extra`` untouched, so a
record is never narrowed by a round trip.

Code reads the typed fields (``record.status``, ``record.accuracy["hypothesis"]``,
``record.test_examples[0].correct("regular")``); a record is also a read-only mapping of its
JSON (``record["accuracy"]``), so code written against the dict shape keeps working.
:class:`~tvlens.run.results_json.Results` holds one per task.

Example:
    >>> rec = TaskRecord.from_json("t", {"status": "skipped", "reason": "too few pairs",
    ...     "category": "algorithmic", "n_pairs": 3, "n_kept": 0, "n_dropped": 3,
    ...     "n_conflicts_dropped": 0, "n_stripped": 0})
    >>> rec.finished, rec.reason, rec["n_pairs"]
    (False, 'too few pairs', 3)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from tvlens.run.names import Mode

__all__ = ["BUG_FIX", "FILE_FIX", "ExampleRow", "TaskRecord", "task_records"]

Status = Literal["ok", "skipped"]

# the keys a row holds besides its modes' predictions, in the order results.json writes them
_ROW_KEYS = ("demos", "query", "answer", "dummy_queries", "answer_token_id", "answer_token_ids")
#: What to do about a malformed record read from a file (the default of ``from_json``).
FILE_FIX = (
    "the file was not written by this tvlens or was edited: rerun `tvlens run` on another "
    "--out, or restore the file"
)
#: ... and about one a run made (a bug: nothing is written).
BUG_FIX = "this is a bug in tvlens (nothing was written): please report it with this message"
_COUNT_KEYS = ("n_pairs", "n_kept", "n_dropped", "n_conflicts_dropped", "n_stripped")


class _Check:
    """Type checks of one record's fields, naming the record in every error."""

    def __init__(self, where: str, fix: str) -> None:
        self.where, self.fix = where, fix

    def fail(self, key: str, want: str, got: Any) -> ValueError:
        shown = repr(got)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return ValueError(
            f"{self.where}: field {key!r} must be {want}, got {type(got).__name__} {shown}; "
            f"{self.fix}"
        )

    def str_(self, data: Mapping[str, Any], key: str) -> str:
        v = data.get(key)
        if not isinstance(v, str):
            raise self.fail(key, "a string", v)
        return v

    def int_(self, data: Mapping[str, Any], key: str, *, optional: bool = False) -> int | None:
        v = data.get(key)
        if v is None and optional:
            return None
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise self.fail(key, "an integer >= 0", v)
        return v

    def num(self, v: Any, key: str) -> float | None:
        if v is None:
            return None  # NaN is written as null
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise self.fail(key, "a number or null", v)
        return float(v)

    def nums(self, data: Mapping[str, Any], key: str) -> tuple[float | None, ...]:
        v = data.get(key, ())
        if not isinstance(v, (list, tuple)):
            raise self.fail(key, "a list of numbers", v)
        return tuple(self.num(x, key) for x in v)

    def table(self, data: Mapping[str, Any], key: str) -> dict[str, float | None]:
        v = data.get(key, {})
        if not isinstance(v, Mapping):
            raise self.fail(key, "an object of numbers", v)
        return {str(k): self.num(x, f"{key}.{k}") for k, x in v.items()}

    def obj(self, data: Mapping[str, Any], key: str) -> dict[str, Any] | None:
        v = data.get(key)
        if v is None:
            return None
        if not isinstance(v, Mapping):
            raise self.fail(key, "an object", v)
        return dict(v)


@dataclass(frozen=True, eq=False)
class ExampleRow:
    """One example of a task's ``test_examples`` or ``baseline_examples``.

    Attributes:
        query: the example's input.
        answer: its expected output.
        predictions: mode -> that mode's prediction record (``correct``, the predicted or
            generated tokens; ``results_schema.json``'s ``prediction``).
        answer_token_id: the answer's token (single-token answers), else None.
        answer_token_ids: the answer's tokens (``--answers any``), else None.
        demos: the demonstrations as ``(input, output)`` (test rows), else None.
        dummy_queries: the dummy queries θ was extracted with (test rows), else None.
    """

    query: str
    answer: str
    predictions: dict[str, dict[str, Any]]
    answer_token_id: int | None = None
    answer_token_ids: tuple[int, ...] | None = None
    demos: tuple[tuple[str, str], ...] | None = None
    dummy_queries: tuple[str, ...] | None = None

    @property
    def modes(self) -> tuple[str, ...]:
        """The modes this example was scored under, in the order the row holds them."""
        return tuple(self.predictions)

    def correct(self, mode: Mode | str) -> bool:
        """Whether ``mode`` got this example right.

        Raises:
            KeyError: naming the modes the row has, if ``mode`` is not one of them.
        """
        if mode not in self.predictions:
            raise KeyError(f"no prediction of mode {mode!r}; this row has {list(self.modes)}")
        return bool(self.predictions[mode]["correct"])

    def to_json(self) -> dict[str, Any]:
        """The row as ``results.json`` holds it."""
        out: dict[str, Any] = {}
        if self.demos is not None:
            out["demos"] = [list(d) for d in self.demos]
        out["query"], out["answer"] = self.query, self.answer
        if self.dummy_queries is not None:
            out["dummy_queries"] = list(self.dummy_queries)
        if self.answer_token_id is not None:
            out["answer_token_id"] = self.answer_token_id
        if self.answer_token_ids is not None:
            out["answer_token_ids"] = list(self.answer_token_ids)
        return {**out, **self.predictions}

    @classmethod
    def from_json(cls, data: Any, where: str, fix: str = FILE_FIX) -> ExampleRow:
        """A row from its JSON.

        Raises:
            ValueError: naming ``where`` and the field, for a field of the wrong type, and
                ``fix``.
        """
        check = _Check(where, fix)
        if not isinstance(data, Mapping):
            raise check.fail("(the row)", "an object", data)
        preds: dict[str, dict[str, Any]] = {}
        for k, v in data.items():
            if k in _ROW_KEYS:
                continue
            if not isinstance(v, Mapping) or not isinstance(v.get("correct"), bool):
                raise check.fail(k, "a prediction (an object with a boolean 'correct')", v)
            preds[str(k)] = dict(v)
        ids = data.get("answer_token_ids")
        if ids is not None and (
            not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)
        ):
            raise check.fail("answer_token_ids", "a list of token ids", ids)
        demos, dummies = data.get("demos"), data.get("dummy_queries")
        if demos is not None and not (
            isinstance(demos, list) and all(isinstance(d, list) and len(d) == 2 for d in demos)
        ):
            raise check.fail("demos", "a list of [input, output] pairs", demos)
        if dummies is not None and not isinstance(dummies, list):
            raise check.fail("dummy_queries", "a list of strings", dummies)
        return cls(
            query=check.str_(data, "query"),
            answer=check.str_(data, "answer"),
            predictions=preds,
            answer_token_id=check.int_(data, "answer_token_id", optional=True),
            answer_token_ids=tuple(ids) if ids is not None else None,
            demos=tuple((str(x), str(y)) for x, y in demos) if demos is not None else None,
            dummy_queries=tuple(map(str, dummies)) if dummies is not None else None,
        )


@dataclass(frozen=True, eq=False)
class TaskRecord(Mapping[str, Any]):
    """One task of ``results.json``: what was kept, the layer, every mode's accuracy and
    prediction, and each method's provenance.

    Attributes:
        status: ``"ok"`` (finished) or ``"skipped"`` (too few pairs; ``reason`` says why).
        category: the task's category.
        n_pairs, n_kept, n_dropped, n_conflicts_dropped, n_stripped: the task's pairs, those
            the model can answer (kept), and those dropped (conflicting, stripped); None
            where the file does not record them (the schema requires them of a write).
        reason: why a skipped task was skipped.
        source: where the task came from, with its content's sha256 (compared on resume).
        best_layer: the layer chosen on dev (finished tasks).
        dev_accuracy_per_layer: TV Hypothesis's dev accuracy (exact match) per layer
            (finished tasks).
        accuracy: mode -> test accuracy (exact match where answers are generated; None for NaN).
        test_examples, baseline_examples: every scored example, with each mode's prediction.
        answers, metric, dev_metric: ``--answers any``'s settings (else None).
        first_token_accuracy, f1, stop_reasons: ``--answers any``'s other scores per mode.
        fv, tv_learned: the provenance of ``--methods fv`` / ``tv_learned`` (else None).
        counts, accuracy_ci, comparisons: the statistics computed from the examples
            (:func:`tvlens.run.statistics.task_statistics`; None before they are added).
        wall_time_s, phase_times_s: time taken, in all and per phase.
        extra: fields this tvlens does not know (kept as they are).
    """

    status: Status
    category: str
    n_pairs: int | None = None
    n_kept: int | None = None
    n_dropped: int | None = None
    n_conflicts_dropped: int | None = None
    n_stripped: int | None = None
    reason: str | None = None
    source: dict[str, Any] | None = None
    best_layer: int | None = None
    dev_accuracy_per_layer: tuple[float | None, ...] | None = None
    accuracy: dict[str, float | None] = field(default_factory=dict)
    test_examples: tuple[ExampleRow, ...] = ()
    baseline_examples: tuple[ExampleRow, ...] = ()
    answers: str | None = None
    metric: str | None = None
    dev_metric: str | None = None
    first_token_accuracy: dict[str, float | None] | None = None
    f1: dict[str, float | None] | None = None
    stop_reasons: dict[str, dict[str, float]] | None = None
    fv: dict[str, Any] | None = None
    tv_learned: dict[str, Any] | None = None
    counts: dict[str, list[int]] | None = None
    accuracy_ci: dict[str, list[float] | None] | None = None
    comparisons: dict[str, dict[str, Any]] | None = None
    wall_time_s: float | None = None
    phase_times_s: dict[str, float | None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """Whether the task ran to the end (``status == "ok"``)."""
        return self.status == "ok"

    @property
    def modes(self) -> tuple[str, ...]:
        """The modes with a test accuracy, in the record's order."""
        return tuple(self.accuracy)

    # -- JSON -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The record as ``results.json`` holds it (fields that are None left out)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "extra":
                out.update(v)
            elif f.name in ("test_examples", "baseline_examples"):
                if v or self.finished:
                    out[f.name] = [row.to_json() for row in v]
            elif f.name == "dev_accuracy_per_layer":
                if v is not None:
                    out[f.name] = list(v)
            elif f.name == "accuracy":
                if v or self.finished:
                    out[f.name] = dict(v)
            elif v is not None:
                out[f.name] = v
        return out

    @classmethod
    def from_json(
        cls, name: str, data: Any, where: str = "results.json", fix: str = FILE_FIX
    ) -> TaskRecord:
        """The record of task ``name`` from its JSON.

        Raises:
            ValueError: naming ``where``, the task and the field, for a field of the wrong
                type or a status other than ``ok`` / ``skipped``, and ``fix`` (what to do).
        """
        check = _Check(f"{where}: task {name!r}", fix)
        if isinstance(data, TaskRecord):
            return data
        if not isinstance(data, Mapping):
            raise check.fail("(the task)", "an object", data)
        status = data.get("status")
        if status not in ("ok", "skipped"):
            raise check.fail("status", "'ok' or 'skipped'", status)
        known = {f.name for f in fields(cls)}
        rows = {
            key: tuple(
                ExampleRow.from_json(r, f"{where}: task {name!r}, {key}[{i}]", fix)
                for i, r in enumerate(_list(check, data, key))
            )
            for key in ("test_examples", "baseline_examples")
        }
        n = {k: check.int_(data, k, optional=True) for k in _COUNT_KEYS}
        has = data.__contains__
        dev = check.nums(data, "dev_accuracy_per_layer") if has("dev_accuracy_per_layer") else None
        return cls(
            status=status,
            category=check.str_(data, "category"),
            n_pairs=n["n_pairs"],
            n_kept=n["n_kept"],
            n_dropped=n["n_dropped"],
            n_conflicts_dropped=n["n_conflicts_dropped"],
            n_stripped=n["n_stripped"],
            reason=_opt_str(check, data, "reason"),
            source=check.obj(data, "source"),
            best_layer=check.int_(data, "best_layer", optional=True),
            dev_accuracy_per_layer=dev,
            accuracy=check.table(data, "accuracy"),
            test_examples=rows["test_examples"],
            baseline_examples=rows["baseline_examples"],
            answers=_opt_str(check, data, "answers"),
            metric=_opt_str(check, data, "metric"),
            dev_metric=_opt_str(check, data, "dev_metric"),
            first_token_accuracy=(
                check.table(data, "first_token_accuracy") if has("first_token_accuracy") else None
            ),
            f1=check.table(data, "f1") if has("f1") else None,
            stop_reasons=check.obj(data, "stop_reasons"),
            fv=check.obj(data, "fv"),
            tv_learned=check.obj(data, "tv_learned"),
            counts=check.obj(data, "counts"),
            accuracy_ci=check.obj(data, "accuracy_ci"),
            comparisons=check.obj(data, "comparisons"),
            wall_time_s=check.num(data.get("wall_time_s"), "wall_time_s"),
            phase_times_s=check.table(data, "phase_times_s") if has("phase_times_s") else None,
            extra={k: v for k, v in data.items() if k not in known},
        )

    # -- a read-only mapping of the JSON ----------------------------------------------------
    def _json(self) -> dict[str, Any]:
        cached = self.__dict__.get("_json_cache")
        if cached is None:
            cached = self.to_json()
            object.__setattr__(self, "_json_cache", cached)
        return cached

    def __getitem__(self, key: str) -> Any:
        return self._json()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._json())

    def __len__(self) -> int:
        return len(self._json())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return _same(self._json(), dict(other))
        return NotImplemented  # (defining __eq__ leaves a record unhashable, as a dict is)


def _same(a: Any, b: Any) -> bool:
    """JSON equality where NaN equals NaN (an accuracy of no example)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _list(check: _Check, data: Mapping[str, Any], key: str) -> list[Any]:
    v = data.get(key, [])
    if not isinstance(v, list):
        raise check.fail(key, "a list", v)
    return v


def _opt_str(check: _Check, data: Mapping[str, Any], key: str) -> str | None:
    return check.str_(data, key) if data.get(key) is not None else None


def task_records(
    tasks: Mapping[str, Any], where: str = "results.json", fix: str = FILE_FIX
) -> dict[str, TaskRecord]:
    """Every task of ``tasks`` (name -> JSON or record) as a :class:`TaskRecord`, in order.

    Raises:
        ValueError: naming ``where``, the task and the field, for a malformed record, and
            ``fix``.
    """
    return {str(n): TaskRecord.from_json(str(n), t, where, fix) for n, t in tasks.items()}
