"""Before a run: :func:`preflight` checks everything that needs no model, once, and returns
the :class:`RunPlan` that :func:`~tvlens.run.protocol.execute` runs.

The caller holds the folder's lock (:func:`~tvlens.run.lock.run_lock`) from preflight to
the end of the run, so the plan stays true: ``tvlens run`` takes it before the model loads,
:func:`~tvlens.run.protocol.run_protocol` for a call from Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tvlens.run.files import check_folder_kind, check_outputs_ours, prepare_out
from tvlens.run.protocol_config import ProtocolConfig, protocol_meta, with_defaults
from tvlens.run.results_json import RESULTS_FILE, Results, read_results
from tvlens.run.resume import refuse_settings, settings_diff
from tvlens.run.tasks import check_task_data, load_task, source_mismatch, task_key, task_source


@dataclass(frozen=True)
class RunPlan:
    """What :func:`preflight` found, for :func:`~tvlens.run.protocol.execute` to run.

    Attributes:
        cfg: the protocol.
        out: the output folder (created, writable, of kind ``run``).
        sources: task key -> where its data came from (``source`` of its record).
        previous: the results already in ``out`` (upgraded), or None.
        tasks: each task reference with its loaded task (checked again against the
            model's special tokens once the model is there).
    """

    cfg: ProtocolConfig
    out: Path
    sources: dict[str, dict[str, Any]]
    previous: Results | None
    tasks: tuple[tuple[Any, Any], ...]

    @property
    def keys(self) -> list[str]:
        """The task keys of the protocol, in its order."""
        return [task_key(r) for r, _ in self.tasks]

    def complete(self) -> bool:
        """Whether ``out`` holds this whole run already: every task in ``results.json``
        (``ok``, or ``skipped`` for a reason that does not change on a rerun) and
        ``report.html`` (written last)."""
        have = self.previous.tasks if self.previous is not None else None
        if have is None or not (self.out / "report.html").exists():
            return False
        return all(k in have for k in self.keys)  # a TaskRecord is "ok" or "skipped"


def preflight(cfg: ProtocolConfig, out: str | Path) -> RunPlan:
    """Every check that needs no model, so a doomed run fails before a model loads.

    Checks the task data (every pair, against the prompt format:
    :func:`~tvlens.run.tasks.check_task_data`), that ``out`` is a writable folder holding no
    output files tvlens did not write and no folder of another kind (a comparison, a grid,
    a ``--seeds`` run), and that a run already there has the same protocol settings and the
    same data for the tasks it finished. ``cfg`` checked its own settings when made.

    Raises:
        TypeError, ValueError: naming what is wrong and the fix.
    """
    if not isinstance(cfg, ProtocolConfig):
        raise TypeError(f"preflight needs a ProtocolConfig, got {type(cfg).__name__} {cfg!r}")
    out = prepare_out(out)
    check_folder_kind(out, "run")  # not a comparison's, a grid's or a --seeds folder
    check_outputs_ours(out)
    loaded = tuple((r, load_task(r, cfg.on_conflict)) for r in cfg.tasks)
    for ref, task in loaded:  # every pair, not only those a seed samples
        check_task_data(ref, task, cfg.prompt_format)
    sources = {task_key(r): task_source(r, task) for r, task in loaded}
    path = out / RESULTS_FILE
    read = read_results(path)
    previous = read.results if read is not None else None
    if previous is not None:
        diff = settings_diff(with_defaults(previous.meta), protocol_meta(cfg))
        if diff:
            raise refuse_settings(path, diff)
        changed = [
            why
            for key, t in previous.tasks.items()
            if key in sources and t.finished
            if (why := source_mismatch(key, t.source, sources[key]))
        ]
        if changed:
            raise ValueError(
                f"{path} holds results for other data under these task names: "
                f"{'; '.join(changed)}. Pass another --out, or rename the task file"
            )
    return RunPlan(cfg=cfg, out=out, sources=sources, previous=previous, tasks=loaded)
