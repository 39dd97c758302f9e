"""Methods: which prompt a test example runs and which patch it carries.

A method is one row of the comparisons tvlens makes. It says

* which **prompt** each example runs: ``"icl"`` (``S + x ->``), ``"shuffled_icl"`` (the same
  with every demonstration's label made wrong, :func:`~tvlens.fv.heads.shuffle_labels`) or
  ``"zero_shot"`` (``x ->``);
* which **patch** it carries at the arrow: none, each example's own θ(S) replacing the
  residual after layer L (the paper's Hypothesis), or a fixed vector added (or replacing)
  after L (a function vector, the layer-average or mean-difference baseline).

Any method runs under any scorer (:mod:`tvlens.evaluation.scorers`) and through one layer
sweep (:func:`tvlens.evaluation.sweep.sweep`). The built-ins are :meth:`Method.regular`,
:meth:`Method.baseline`, :meth:`Method.hypothesis`, :meth:`Method.shuffled`,
:meth:`Method.add` (FV zero-shot, FV + shuffled, layer average, mean difference).

Your own method is any object with a ``name`` and the two methods of :class:`MethodLike`:

Example:
    >>> import torch
    >>> from tvlens import Patches
    >>> from tvlens.prompts import zero_shot_prompts
    >>> class Doubled:
    ...     '''Zero-shot with a vector added twice as strongly (a method of your own).'''
    ...
    ...     name = "doubled"
    ...
    ...     def __init__(self, vector):
    ...         self.vector = vector
    ...
    ...     def prompts(self, examples, fmt):
    ...         return zero_shot_prompts(examples, fmt)
    ...
    ...     def patches(self, runner, examples, layers):
    ...         rows = (2 * self.vector).expand(len(examples) * len(layers), -1)
    ...         return Patches(rows, torch.tensor(list(layers)).repeat(len(examples)), "add")
    >>> result = sweep(model, Doubled(fv.vector), dev, NextToken())  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._compat import RESID_POST_TEMPLATE
from tvlens._example import ICLExample
from tvlens.engine.patches import Patches, PromptPatches
from tvlens.engine.runner import Runner
from tvlens.evaluation.extract import theta_rows
from tvlens.hooks import PatchMode
from tvlens.prompts import PromptFormat, icl_prompts, zero_shot_prompts
from tvlens.vectors import TaskVector

PromptKind = Literal["icl", "shuffled_icl", "zero_shot"]
PROMPTS: tuple[PromptKind, ...] = ("icl", "shuffled_icl", "zero_shot")
PatchKind = Literal["none", "theta", "vector"]
Vector = Float[Tensor, " d_model"] | Float[Tensor, "n_layers d_model"]


@runtime_checkable
class MethodLike(Protocol):
    """What a method is to the sweep and the scorers: a name, prompts and patches.

    ``patches`` returns one patch per ``(example, layer)`` row, example-major (row
    ``i * len(layers) + j`` is example ``i`` patched at ``layers[j]``), or ``None`` for a
    method with no patch.
    """

    @property
    def name(self) -> str:
        """The name its predictions carry."""
        ...

    def prompts(self, examples: Sequence[ICLExample], fmt: PromptFormat) -> list[str]:
        """The prompt each example runs (ending in the format's arrow)."""
        ...

    def patches(
        self, runner: Runner, examples: Sequence[ICLExample], layers: Sequence[int]
    ) -> PromptPatches | None:
        """The patches of every ``(example, layer)`` row, or ``None`` (``runner.fmt`` is
        the prompts' format)."""
        ...


def per_layer(vector: Vector, n_layers: int) -> Float[Tensor, "n_layers d_model"]:
    """``vector`` as one row per layer: a ``[d_model]`` vector repeated, or checked.

    Raises:
        ValueError: a ``[n, d_model]`` vector whose ``n`` is not ``n_layers``.
    """
    if vector.dim() == 1:
        return vector.expand(n_layers, -1)
    if vector.shape[0] != n_layers:
        raise ValueError(f"a per-layer vector needs {n_layers} layers, got {vector.shape[0]}")
    return vector


@dataclass(frozen=True, eq=False)
class Method:
    """A built-in method (see the module docstring); build one with the classmethods.

    Attributes:
        name: the name its predictions carry (``"regular"``, ``"fv_zero_shot"``, ...).
        prompt: ``"icl"``, ``"shuffled_icl"`` or ``"zero_shot"``.
        patch: ``"none"``, ``"theta"`` (each example's θ, or ``vector``'s) or ``"vector"``.
        vector: for ``"theta"``: ``None`` (each example's own θ(S)), a :class:`TaskVector`,
            ``[n, d_model]`` (one θ per example) or ``[n, n_layers_swept, d_model]``; for
            ``"vector"``: ``[d_model]`` or ``[n_layers, d_model]``.
        mode: ``"replace"`` the residual at the arrow or ``"add"`` to it.
        seed: the seed of the label shuffle of ``"shuffled_icl"``.
    """

    name: str
    prompt: PromptKind = "icl"
    patch: PatchKind = "none"
    vector: TaskVector | Tensor | None = None
    mode: PatchMode = "replace"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.prompt not in PROMPTS:
            raise ValueError(f"prompt must be one of {PROMPTS}, got {self.prompt!r}")
        if self.patch not in ("none", "theta", "vector"):
            raise ValueError(f"patch must be 'none', 'theta' or 'vector', got {self.patch!r}")
        if self.patch == "vector" and not isinstance(self.vector, Tensor):
            raise TypeError("a 'vector' patch needs vector= a [d_model] or [n_layers, d_model]")

    # ---- the built-ins -------------------------------------------------------------------
    @classmethod
    def regular(cls) -> Method:
        """Regular ICL: ``S + x ->``, no patch."""
        return cls("regular", "icl")

    @classmethod
    def baseline(cls) -> Method:
        """Baseline: ``x ->``, no demonstrations, no patch."""
        return cls("baseline", "zero_shot")

    @classmethod
    def hypothesis(
        cls,
        vector: TaskVector | Tensor | None = None,
        *,
        mode: PatchMode = "replace",
        name: str = "hypothesis",
    ) -> Method:
        """TV Hypothesis: ``x ->`` with θ (each example's own θ(S) by default) at layer L."""
        return cls(name, "zero_shot", "theta", vector, mode)

    @classmethod
    def shuffled(cls, seed: int = 0, *, name: str = "shuffled") -> Method:
        """ICL with every demonstration's label made wrong (seeded), no patch."""
        return cls(name, "shuffled_icl", seed=seed)

    @classmethod
    def add(
        cls,
        vector: Vector,
        name: str,
        *,
        prompt: PromptKind = "zero_shot",
        mode: PatchMode = "add",
        seed: int = 0,
    ) -> Method:
        """A fixed vector (``[d_model]`` or ``[n_layers, d_model]``) added after layer L.

        FV zero-shot: ``Method.add(fv.vector, "fv_zero_shot")``; FV + shuffled:
        ``Method.add(fv.vector, "fv_shuffled", prompt="shuffled_icl")``; the layer-average
        and mean-difference baselines: their ``[n_layers, d_model]`` vectors.
        """
        return cls(name, prompt, "vector", vector, mode, seed)

    # ---- what the sweep asks -------------------------------------------------------------
    def shown(self, examples: Sequence[ICLExample]) -> Sequence[ICLExample]:
        """The examples as the prompts show them (labels shuffled for ``"shuffled_icl"``)."""
        if self.prompt != "shuffled_icl":
            return examples
        from tvlens.fv.heads import shuffle_labels

        return shuffle_labels(examples, self.seed)

    def prompts(self, examples: Sequence[ICLExample], fmt: PromptFormat) -> list[str]:
        """``S + x ->`` or ``x ->`` of each example (run :meth:`shown` first if shuffled)."""
        return (
            zero_shot_prompts(examples, fmt)
            if self.prompt == "zero_shot"
            else icl_prompts(examples, fmt)
        )

    def patches(
        self, runner: Runner, examples: Sequence[ICLExample], layers: Sequence[int]
    ) -> Patches | None:
        """One patch per ``(example, layer)`` row, example-major; ``None`` for no patch."""
        n, k = len(examples), len(layers)
        at = torch.tensor(list(layers), dtype=torch.long).repeat(n)
        if self.patch == "none":
            return None
        if self.patch == "theta":
            thetas, template = theta_rows(runner, examples, layers, self.vector)
            return Patches(thetas.reshape(n * k, -1), at, self.mode, template)
        assert isinstance(self.vector, Tensor)
        rows = per_layer(self.vector, runner.n_layers)[list(layers)]
        return Patches(rows.repeat(n, 1), at, self.mode, RESID_POST_TEMPLATE)
