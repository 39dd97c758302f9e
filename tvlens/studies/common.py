"""What every study shares: its settings (:class:`StudySettings`), the examples a task gives
under several prompt formats at once (:func:`shared_examples`), and the model's fingerprint
recorded beside the results (:func:`tvlens.run.protocol.model_meta`, as a run records it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tvlens._example import ICLExample
from tvlens.engine.config import RunConfig
from tvlens.prompts import FORMATS, PromptFormat, get_format
from tvlens.protocol import HookedModel
from tvlens.run.protocol_config import checked_int

_SIZES = ("n_dev", "n_test", "n_demos", "n_dummy")


@dataclass(frozen=True)
class StudySettings:
    """The sampling every study shares, checked on construction.

    Attributes:
        tasks: task names or task files (default: the paper's 18).
        n_dev: dev examples per task (the layer of each format is chosen on them).
        n_test: test examples per task (every number is scored on them).
        n_demos: demonstrations per example.
        n_dummy: dummy queries per example (θ is their mean).
        seed: the sampling seed.
        run: how the Runner executes (batch sizes, packing): changes no result.
    """

    tasks: Sequence[str] = ()
    n_dev: int = 50
    n_test: int = 50
    n_demos: int = 5
    n_dummy: int = 2
    seed: int = 0
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        from tvlens.tasks import PAPER_TASKS

        if isinstance(self.tasks, str) or not isinstance(self.tasks, (list, tuple)):
            raise TypeError(f"tasks must be a list of task names or files, got {self.tasks!r}")
        if not all(isinstance(t, str) for t in self.tasks):
            raise TypeError(f"tasks must be task names or file paths (str), got {self.tasks!r}")
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"tasks {list(self.tasks)} name a task twice")
        object.__setattr__(self, "tasks", tuple(self.tasks) or PAPER_TASKS)
        for name in (*_SIZES, "seed"):
            minimum = None if name == "seed" else 1
            object.__setattr__(self, name, checked_int(name, getattr(self, name), minimum))
        if not isinstance(self.run, RunConfig):
            raise TypeError(f"run must be a RunConfig, got {type(self.run).__name__}")

    def comparable(self) -> dict[str, Any]:
        """The settings that change results (not ``tasks``: a study resumes with more)."""
        return {k: v for k, v in asdict(self).items() if k not in ("tasks", "run")}

    def execution(self) -> dict[str, Any]:
        """How the Runner executed (``meta.execution``): recorded, never compared."""
        return self.run.execution()


class TooFewPairsError(ValueError):
    """A task with too few pairs left to sample from: the study records it as skipped."""


def check_formats(
    formats: Sequence[str | PromptFormat], *, at_least: int = 1
) -> list[PromptFormat]:
    """``formats`` as :class:`PromptFormat` objects: named ones looked up, names distinct.

    Raises:
        ValueError: an unknown name (listing the known ones), a name given twice, or fewer
            than ``at_least`` formats.
    """
    if isinstance(formats, (str, PromptFormat)) or not isinstance(formats, (list, tuple)):
        raise TypeError(f"formats must be a list of format names, got {formats!r}")
    out = [get_format(f) for f in formats]
    names = [f.name for f in out]
    if len(set(names)) != len(names):
        raise ValueError(f"formats {names} name a format twice; each must have its own name")
    if len(out) < at_least:
        raise ValueError(
            f"at least {at_least} formats are needed, got {names}; choose from {sorted(FORMATS)}"
        )
    return out


@dataclass(frozen=True)
class SharedExamples:
    """A task's dev and test examples, valid under every format of a study.

    Attributes:
        task: the task name.
        category: its category.
        n_pairs: pairs in the task.
        n_kept: pairs whose answer is one token under every format.
        dev: dev examples (queries disjoint from test).
        test: test examples.
        answers: every pair of the task before filtering, ``{input: output}`` (the dummy
            queries' answers; a multi-token answer is ranked by its first token).
    """

    task: str
    category: str
    n_pairs: int
    n_kept: int
    dev: list[ICLExample]
    test: list[ICLExample]
    answers: dict[str, str]


def shared_examples(
    model: HookedModel,
    task_ref: Any,
    formats: Sequence[PromptFormat],
    settings: StudySettings,
) -> SharedExamples:
    """The task's examples, the same under every format of ``formats``.

    Every pair is checked against every format (no arrow or separator inside, no special
    token: as ``tvlens run`` checks its one format), and only pairs whose answer is one
    token after every format's ``output_prefix`` are kept, so each format scores the same
    examples.

    Raises:
        ValueError: an unknown task or a pair that breaks a format (naming both).
        TooFewPairsError: too few pairs left to sample from (the study records the task as
            skipped, with this reason).
    """
    from tvlens.run.tasks import check_task_data, load_task, special_pattern, task_key
    from tvlens.tasks import for_model

    task = load_task(task_ref)
    specials = special_pattern(getattr(model, "tokenizer", None))
    for fmt in formats:
        check_task_data(task_ref, task, fmt, specials)
    kept = task
    try:
        for fmt in formats:
            kept = for_model(kept, model, fmt)
        dev, test = kept.dev_test(
            settings.n_dev,
            settings.n_test,
            n_demos=settings.n_demos,
            n_dummy=settings.n_dummy,
            seed=settings.seed,
        )
    except ValueError as err:
        raise TooFewPairsError(str(err)) from err
    return SharedExamples(
        task_key(task_ref), task.category, len(task), len(kept), dev, test, dict(task.pairs)
    )


#: Heads in the studies' function vectors (Todd et al.'s 10).
FV_K = 10


def study_function_vector(runner: Any, dev: Sequence[ICLExample], seed: int, aie: str) -> Any:
    """The :class:`~tvlens.FunctionVector` of ``dev`` under ``runner``'s format: mean head
    activations on its ICL prompts, the AIE (``aie``: ``"exact"``, ``"attribution"`` or
    ``"attribution+verify"``) on its label-shuffled prompts, the top :data:`FV_K` heads."""
    from tvlens.fv.heads import mean_head_activations, shuffle_labels
    from tvlens.fv.indirect_effect import indirect_effects
    from tvlens.fv.vector import build_function_vector

    acts = mean_head_activations(runner.model, dev, run=runner)
    shuffled = shuffle_labels(dev, seed)
    effects = indirect_effects(runner.model, shuffled, acts, run=runner, method=aie)  # type: ignore[arg-type]
    return build_function_vector(acts, effects, k=FV_K)
