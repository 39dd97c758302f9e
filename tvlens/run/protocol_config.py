"""The settings of ``tvlens run``: :class:`ProtocolConfig`, frozen and checked once.

A :class:`ProtocolConfig` holds the protocol's settings (tasks, sizes, seed, prompt format,
answers, methods) and the :class:`~tvlens.engine.config.RunConfig` that says how the
Runner executes it (batch sizes, packing). The protocol settings change the results, so a
resumed run must share them (:meth:`ProtocolConfig.comparable`); the RunConfig's never
change a result, so they are recorded (``meta.execution``) but never compared.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from tvlens.engine.config import RunConfig
from tvlens.engine.decoding import AT_VALUES
from tvlens.fv.indirect_effect import AIE_METHODS, AIEMethod
from tvlens.prompts import FORMATS, PromptFormat, get_format
from tvlens.run.methods import FV_SETTINGS, LEARNED_SETTINGS, check_methods
from tvlens.run.names import ANSWERS
from tvlens.run.resume import EXECUTION_KEY
from tvlens.run.tasks import ON_CONFLICT, check_task_keys

AIE_DEFAULT: AIEMethod = "exact"
_INT_FIELDS = ("n_demos", "n_dummy", "n_dev", "n_test", "n_baseline", "seed", "max_new_tokens")


@dataclass(frozen=True)
class ProtocolConfig:
    """The paper's protocol; the defaults are the paper's settings (and the CLI's).

    Frozen and checked once, when made: change a setting with ``dataclasses.replace``
    (which checks again).

    Args:
        tasks: a list or tuple of registered task names, task files (``str`` or path), or
            :class:`~tvlens.tasks.Task` objects; empty means the paper's 18 tasks. Each
            is stored under its name (a file's stem), which must be unique.
        on_conflict: what a task file with conflicting duplicate inputs does:
            ``"error"``, ``"first"`` (keep the first output) or ``"drop"`` (drop the input).
        answers: ``"single"`` (the paper: single-token answers, next-token scoring) or
            ``"any"`` (answers of up to ``max_new_tokens`` tokens, generated and scored by
            exact match; :mod:`tvlens.run.answers`).
        max_new_tokens: the most tokens generated per answer with ``answers="any"``.
        patch_at: where a vector is patched while answers are generated
            (``answers="any"``): ``"arrow"`` (the paper: the arrow only) or ``"all"`` (the
            arrow and every generated position), for θ and the function-vector methods.
        methods: ``["tv"]`` (the paper), plus ``"fv"``: function vectors and two
            baselines beside task vectors on the same test examples
            (:mod:`tvlens.run.methods`), ``"tv_multi"``: multi-position task vectors
            (:mod:`tvlens.evaluation.multi`) and ``"tv_learned"``: learned ones
            (:mod:`tvlens.evaluation.learned`), the last two with ``answers="any"``.
        aie: with ``"fv"``, how the AIE ranks the heads of the function vector
            (:func:`~tvlens.fv.indirect_effect.indirect_effects`' ``method``): ``"exact"``
            (a pass per prompt and head), ``"attribution"`` (one forward and backward pass
            per prompt) or ``"attribution+verify"`` (attribution, then the exact AIE of the
            top candidates); recorded in ``meta.fv.aie``.
        run: how the Runner executes (``batch_size``, ``sweep_batch_size``, ``method``,
            ``device``); results do not depend on it. ``prepend_bos`` must stay ``None``:
            the protocol uses the model's own ``default_prepend_bos`` (recorded in
            ``meta.tokenizer``).

    Raises:
        TypeError: on ``tasks`` that is not a list or tuple (a plain ``"to_upper"`` is
            refused), a size that is not an ``int``, or ``run`` that is not a RunConfig.
        ValueError: on a size below 1, an unknown format or ``on_conflict``, ``"fv"`` with
            fewer than 2 demonstrations, two tasks stored under one name, a task file
            named like a registered task, or ``run.prepend_bos`` set.
    """

    tasks: Sequence[Any] = ()
    n_demos: int = 5
    n_dummy: int = 2
    n_dev: int = 50
    n_test: int = 50
    n_baseline: int = 100
    seed: int = 0
    format: str = "arrow"
    on_conflict: str = "error"
    answers: str = "single"
    max_new_tokens: int = 8
    patch_at: str = "arrow"
    methods: Sequence[str] = field(default_factory=lambda: ["tv"])
    aie: AIEMethod = AIE_DEFAULT
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        from tvlens.tasks import PAPER_TASKS, Task

        def put(name: str, value: Any) -> None:  # frozen: normalized values, once
            object.__setattr__(self, name, value)

        if not isinstance(self.tasks, (list, tuple)):
            hint = f"; did you mean tasks=[{self.tasks!r}]?" if isinstance(self.tasks, str) else ""
            raise TypeError(
                f"tasks must be a list or tuple of task names or files, "
                f"got {type(self.tasks).__name__} {self.tasks!r}{hint}"
            )
        for ref in self.tasks:
            if not isinstance(ref, (str, os.PathLike, Task)):
                raise TypeError(f"a task must be a name, a file path or a Task, got {ref!r}")
        put("tasks", list(self.tasks) if self.tasks else list(PAPER_TASKS))
        for name in _INT_FIELDS:
            put(name, checked_int(name, getattr(self, name), None if name == "seed" else 1))
        if not isinstance(self.format, str) or self.format not in FORMATS:
            raise ValueError(
                f"unknown prompt format {self.format!r}; choose one of {sorted(FORMATS)}"
            )
        if self.answers not in ANSWERS:
            raise ValueError(
                f"answers must be 'single' (one-token answers, next-token scoring: the "
                f"paper) or 'any' (generation, exact match), got {self.answers!r}"
            )
        if self.on_conflict not in ON_CONFLICT:
            raise ValueError(f"on_conflict must be one of {ON_CONFLICT}, got {self.on_conflict!r}")
        put("methods", check_methods(self.methods))
        _check_methods_fit(self.methods, self.answers, self.patch_at, self.n_demos)
        _check_aie(self.aie, self.methods)
        _check_run(self.run)
        check_task_keys(self.tasks)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The default of every protocol setting but ``tasks``, and the RunConfig's
        ``batch_size`` (the CLI's defaults)."""
        out = {
            f.name: f.default_factory() if f.default_factory is not MISSING else f.default
            for f in fields(cls)
            if f.name not in ("tasks", "run")
        }
        return {**out, "batch_size": RunConfig().batch_size}

    @property
    def batch_size(self) -> int:
        """Prompts per forward pass: ``run.batch_size``."""
        return self.run.batch_size

    @property
    def prompt_format(self) -> PromptFormat:
        """The :class:`PromptFormat` named by ``format``."""
        return get_format(self.format)

    def comparable(self) -> dict[str, Any]:
        """The settings a resumed run must share with the run it resumes."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in fields(self)
            if f.name not in ("tasks", "run", "aie")  # aie: in meta.fv, with "fv"
        }

    def execution(self) -> dict[str, Any]:
        """How the Runner executed (``meta.execution``): never changes a result."""
        return self.run.execution()


def checked_int(name: str, value: Any, minimum: int | None) -> int:
    """``value`` as an ``int`` (a ``bool`` is refused), at least ``minimum`` if given.

    Raises:
        TypeError: not an integer, naming ``name``.
        ValueError: below ``minimum``, naming ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_aie(aie: Any, methods: Sequence[str]) -> None:
    """Refuse an unknown AIE method, and one other than the default without ``fv``."""
    if aie not in AIE_METHODS:
        raise ValueError(f"aie must be one of {', '.join(AIE_METHODS)}, got {aie!r}")
    if aie != AIE_DEFAULT and "fv" not in methods:
        raise ValueError(
            f"aie={aie!r} ranks the heads of function vectors, but methods={list(methods)} "
            "runs none: add fv (--methods tv,fv) or drop --aie"
        )


def _check_methods_fit(methods: Sequence[str], answers: str, patch_at: str, n_demos: int) -> None:
    """Refuse an unknown ``patch_at``, the generation-only settings (``patch_at``, the
    whole-answer methods) where nothing is generated, and ``fv`` with one demonstration."""
    if patch_at not in AT_VALUES:
        raise ValueError(
            f"patch_at must be 'arrow' (the paper) or 'all' (every generated position "
            f"too), got {patch_at!r}"
        )
    if patch_at != "arrow" and answers != "any":
        raise ValueError(
            f"patch_at={patch_at!r} patches the generated positions, but answers="
            f"{answers!r} scores the next token only (nothing is generated): pass "
            "--answers any (answers='any'), or leave --patch-at at 'arrow'"
        )
    whole = [m for m in ("tv_multi", "tv_learned") if m in methods]
    if whole and answers != "any":
        raise ValueError(
            f"methods {whole} (multi-position or learned task vectors) patch one vector "
            f"per generated step, but answers={answers!r} scores the next token "
            "only: pass --answers any (answers='any'), or drop them from --methods"
        )
    if "fv" in methods and n_demos < 2:
        raise ValueError(
            f"methods 'fv' (function vectors) corrupt each prompt by shuffling its "
            f"demonstrations' labels, which needs at least 2 demonstrations, got "
            f"n_demos={n_demos}: pass --n-demos 2 or more (n_demos=2), or drop fv "
            "from --methods"
        )


def _check_run(run: Any) -> None:
    if not isinstance(run, RunConfig):
        raise TypeError(
            f"run must be a tvlens.engine.config.RunConfig, got {type(run).__name__} {run!r}: "
            "pass run=RunConfig(batch_size=...)"
        )
    if run.prepend_bos is not None:
        raise ValueError(
            f"run.prepend_bos={run.prepend_bos} would change the prompts, and the protocol "
            "records and resumes under the model's own default_prepend_bos: leave it None and "
            "set model.cfg.default_prepend_bos instead"
        )


def protocol_meta(cfg: ProtocolConfig) -> dict[str, Any]:
    """The settings as ``results.json``'s ``meta`` records them (``execution`` last)."""
    meta = {
        "format": cfg.prompt_format.to_dict(),
        **{k: v for k, v in cfg.comparable().items() if k != "format"},
    }
    if "fv" in cfg.methods:
        meta["fv"] = {**FV_SETTINGS, "aie": cfg.aie}
    if "tv_learned" in cfg.methods:
        meta["tv_learned"] = dict(LEARNED_SETTINGS)
    meta[EXECUTION_KEY] = cfg.execution()
    return meta


def with_defaults(meta: dict[str, Any]) -> dict[str, Any]:
    """A results.json ``meta`` written before a setting existed, with that setting's default.

    So a run of an older tvlens (no ``methods``, ``answers``, ...) resumes under the
    defaults it ran with, instead of being refused for settings it never had.
    """
    defaults = ProtocolConfig.defaults()
    out = {**{k: v for k, v in defaults.items() if k not in ("format", "aie")}, **meta}
    if isinstance(out.get("fv"), dict) and "aie" not in out["fv"]:
        out["fv"] = {**out["fv"], "aie": "exact"}  # every AIE was exact before --aie
    return out
