"""What the Runner's helpers ask of a :class:`~tvlens.engine.runner.Runner`, as Protocols.

The loops behind the Runner's verbs (:mod:`tvlens.engine.arrows`,
:mod:`tvlens.engine.probes`, :mod:`tvlens.engine.decode_paths`,
:mod:`tvlens.engine.decoding`) are called by the Runner, so they cannot import it; their
``runner`` argument is typed by what they use of it instead: :class:`ForwardRunner` (one
forward pass at a time) and :class:`ArrowRunner` (many prompts, batched and packed).

They are ``typing_extensions`` Protocols: its ``isinstance`` (used by runtime type checkers)
looks members up without calling them, so checking a Runner never runs its probes
(``packs``, ``kv_cache``), where ``typing.Protocol`` of Python 3.11 would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor
from typing_extensions import Protocol, runtime_checkable

from tvlens.engine.config import RunConfig
from tvlens.engine.greedy import GreedyVerdict
from tvlens.engine.packing import PackedBatch
from tvlens.prompts import PromptBatch, PromptFormat
from tvlens.protocol import HookedModel, HookPair


@runtime_checkable
class ForwardRunner(Protocol):
    """A model with its settings and the Runner's single forward passes."""

    @property
    def model(self) -> HookedModel:
        """The model every pass runs."""
        ...

    @property
    def config(self) -> RunConfig:
        """How to run (batch sizes, execution method)."""
        ...

    @property
    def fmt(self) -> PromptFormat:
        """The prompt format the verbs read prompts in."""
        ...

    @property
    def n_layers(self) -> int:
        """``model.cfg.n_layers``."""
        ...

    @property
    def device(self) -> torch.device:
        """Where batches are sent."""
        ...

    @property
    def norm_hook(self) -> str | None:
        """The hook after the final norm, where logits are narrowed to the arrow."""
        ...

    @property
    def greedy(self) -> GreedyVerdict:
        """How greedy tokens are found (bf16 verified, or fp32)."""
        ...

    def run(self, tokens: Tensor, fwd_hooks: Sequence[HookPair] = (), **kwargs: Any) -> Any:
        """``model.run_with_hooks`` with ``fwd_hooks`` registered as one."""
        ...

    def tokenize(self, texts: Sequence[str], fmt: PromptFormat | None = None) -> PromptBatch:
        """A padded batch with each row's arrow position."""
        ...

    def token_ids(self, texts: Sequence[str], fmt: PromptFormat | None = None) -> list[list[int]]:
        """The unpadded token ids of each prompt."""
        ...

    def logits(
        self, batch: PromptBatch, fwd_hooks: Sequence[HookPair] = (), *, greedy: bool = False
    ) -> Float[Tensor, "batch d_vocab"] | Int[Tensor, " batch"]:
        """Next-token logits at each row's arrow (``greedy=True``: the greedy tokens)."""
        ...

    def resid(
        self, batch: PromptBatch, layers: Sequence[int]
    ) -> Float[Tensor, "batch n_layers d_model"]:
        """The residual stream after ``layers`` at each row's arrow."""
        ...

    def packed_resid(
        self, packed: PackedBatch, layers: Sequence[int]
    ) -> Float[Tensor, "batch n_segments n_layers d_model"]:
        """The residual stream at every segment end of packed rows."""
        ...


@runtime_checkable
class ArrowRunner(ForwardRunner, Protocol):
    """A :class:`ForwardRunner` that also batches many prompts and packs shared prefixes."""

    @property
    def d_model(self) -> int:
        """``model.cfg.d_model``."""
        ...

    @property
    def packs(self) -> bool:
        """Whether prompts sharing a prefix are packed."""
        ...

    @property
    def max_packed_width(self) -> int | None:
        """The longest packed row that computes exactly."""
        ...

    def packed_logits(
        self, packed: PackedBatch, fwd_hooks: Sequence[HookPair] = (), *, greedy: bool = False
    ) -> Float[Tensor, "batch n_segments d_vocab"] | Int[Tensor, "batch n_segments"]:
        """Next-token logits at every segment end of packed rows (``greedy``: tokens)."""
        ...

    def batches(self, prompts: Sequence[str], todo: list[int], size: int) -> Iterator[list[int]]:
        """``todo`` in length-sorted batches of ``size``."""
        ...
