"""Per-prompt patches, and what a batched prediction or recording returns.

:meth:`tvlens.Runner.predict` and :meth:`tvlens.Runner.record` take any
:class:`PromptPatches`: an object with one patch per prompt that says which hooks patch the
prompts of one pass. :class:`Patches` (task vectors, function vectors) and
:class:`tvlens.fv.heads.HeadPatches` (one attention head's ``hook_z``) are the two tvlens has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from jaxtyping import Float, Int
from torch import Tensor

from tvlens._compat import RESID_POST_TEMPLATE
from tvlens.hooks import PatchMode, as_layer, check_vectors, task_vector_hooks
from tvlens.protocol import HookPair


@runtime_checkable
class PromptPatches(Protocol):
    """One patch per prompt, as :meth:`tvlens.Runner.predict` and ``record`` take them.

    The Runner batches, sorts and packs prompts; for each pass it asks the patches for the
    hooks of the prompts in it (``idx``, in the order of the pass's rows) and the position
    of each one's arrow there.
    """

    def __len__(self) -> int:
        """The number of prompts patched (one patch each)."""
        ...

    def hooks(self, idx: Sequence[int], positions: Tensor, n_layers: int) -> list[HookPair]:
        """The ``(hook_name, fn)`` pairs patching prompts ``idx`` at ``positions``."""
        ...


@dataclass(frozen=True)
class Patches:
    """One task-vector patch per prompt: ``vectors[i]`` at ``layers[i]``, at the arrow.

    Attributes:
        vectors: ``[n, d_model]``.
        layers: ``[n]`` layer of each prompt's patch.
        mode: ``"replace"`` the residual (the paper) or ``"add"`` to it.
        hook_template: the patched hook, a format string with ``{layer}``.
    """

    vectors: Float[Tensor, "n d_model"]
    layers: Int[Tensor, " n"]
    mode: PatchMode = "replace"
    hook_template: str = RESID_POST_TEMPLATE

    def __post_init__(self) -> None:
        check_vectors(self.vectors)
        if (
            not isinstance(self.layers, Tensor)
            or self.layers.dim() != 1
            or self.layers.dtype.is_floating_point
            or self.layers.dtype == torch.bool
        ):
            raise TypeError("Patches.layers must be a 1-D integer tensor, one layer per prompt")
        if self.vectors.dim() != 2 or self.vectors.shape[0] != self.layers.shape[0]:
            raise ValueError(
                f"Patches needs [n, d_model] vectors and [n] layers, got "
                f"{tuple(self.vectors.shape)} and {tuple(self.layers.shape)}"
            )

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @classmethod
    def at_layer(
        cls,
        vectors: Float[Tensor, "n d_model"],
        layer: int,
        mode: PatchMode = "replace",
        hook_template: str = RESID_POST_TEMPLATE,
    ) -> Patches:
        """Every prompt patched at the same ``layer``."""
        check_vectors(vectors)
        layers = torch.full((vectors.shape[0],), as_layer(layer), dtype=torch.long)
        return cls(vectors, layers, mode, hook_template)

    def hooks(self, idx: Sequence[int], positions: Tensor, n_layers: int) -> list[HookPair]:
        """Patch hooks for the prompts ``idx`` sitting at ``positions`` of one pass."""
        rows = torch.as_tensor(list(idx), dtype=torch.long)
        return task_vector_hooks(
            self.vectors[rows],
            self.layers[rows],
            positions,
            mode=self.mode,
            n_layers=n_layers,
            hook_template=self.hook_template,
        )


@dataclass(frozen=True)
class StepPatches:
    """One patch per prompt *per generation step*: ``vectors[i, t]`` at ``layers[i]``.

    While an answer is generated, the position of step ``t`` (the arrow for ``t = 0``, then
    generated token ``t``) gets ``vectors[i, min(t, n_steps - 1)]``: the last vector repeats
    past ``n_steps``. Scored on the next token only (``Runner.predict``), it is the arrow's
    patch ``vectors[:, 0]``. Multi-position task vectors
    (:mod:`tvlens.evaluation.multi`) are patched this way.

    Attributes:
        vectors: ``[n, n_steps, d_model]``.
        layers: ``[n]`` layer of each prompt's patches.
        mode: ``"replace"`` the residual or ``"add"`` to it.
        hook_template: the patched hook, a format string with ``{layer}``.
        after: how the steps after the arrow are patched, if not as ``mode`` (e.g. the
            arrow replaced as the paper does, the generated tokens' residuals kept and
            ``"add"``-ed to).
    """

    vectors: Float[Tensor, "n n_steps d_model"]
    layers: Int[Tensor, " n"]
    mode: PatchMode = "replace"
    hook_template: str = RESID_POST_TEMPLATE
    after: PatchMode | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.vectors, Tensor) or self.vectors.dim() != 3:
            raise ValueError(
                "StepPatches.vectors must be [n, n_steps, d_model], got "
                f"{getattr(self.vectors, 'shape', type(self.vectors).__name__)}"
            )
        if self.vectors.shape[1] < 1:
            raise ValueError("StepPatches needs at least one step (n_steps >= 1)")
        check_vectors(self.vectors.flatten(0, 1))  # every step finite, not only the first
        for name, mode in (("mode", self.mode), ("after", self.after)):
            if mode not in ("replace", "add") and not (name == "after" and mode is None):
                raise ValueError(f"StepPatches.{name} must be 'replace' or 'add', got {mode!r}")
        self.at_step(0)  # the checks of Patches (layers, shapes)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def n_steps(self) -> int:
        """Vectors per prompt (the last repeats past them)."""
        return int(self.vectors.shape[1])

    def at_step(self, step: int) -> Patches:
        """The :class:`Patches` of generation step ``step`` (0: the arrow)."""
        t = min(int(step), self.n_steps - 1)
        mode = self.mode if step == 0 or self.after is None else self.after
        return Patches(self.vectors[:, t], self.layers, mode, self.hook_template)

    def hooks(self, idx: Sequence[int], positions: Tensor, n_layers: int) -> list[HookPair]:
        """The arrow's patch hooks (step 0), as :class:`PromptPatches` asks."""
        return self.at_step(0).hooks(idx, positions, n_layers)


AnyPatches = Patches | StepPatches
"""What generation patches: one vector per prompt, or one per prompt and step."""


def at_step(patches: AnyPatches, step: int) -> Patches:
    """The patches of generation step ``step``: ``patches`` itself for :class:`Patches`."""
    return patches.at_step(step) if isinstance(patches, StepPatches) else patches


@dataclass(frozen=True)
class Predictions:
    """What :meth:`Runner.predict` returns: ``values[i]`` and the ids fed for prompt ``i``."""

    values: Tensor
    input_ids: tuple[tuple[int, ...], ...]


def argmax_token(logits: Tensor, idx: Sequence[int]) -> Tensor:
    """The default reduction of :meth:`Runner.predict`: the greedy next token."""
    return logits.argmax(-1)


@dataclass(frozen=True)
class ArrowActivations:
    """What :meth:`Runner.record` returns, rows in the order of the prompts.

    Attributes:
        values: hook name -> ``[n, ...]`` its activation at each prompt's arrow (fp32, CPU).
        logits: ``[n, d_vocab]`` next-token logits at each arrow (fp32, CPU), if asked for.
        input_ids: the token ids fed for each prompt.
    """

    values: dict[str, Tensor]
    logits: Tensor | None
    input_ids: tuple[tuple[int, ...], ...]

    def __getitem__(self, name: str) -> Tensor:
        """``values[name]``, naming the recorded hooks when ``name`` is not one."""
        if name not in self.values:
            raise KeyError(f"{name!r} was not recorded; recorded: {sorted(self.values)}")
        return self.values[name]
