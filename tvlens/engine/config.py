"""How a :class:`~tvlens.engine.runner.Runner` executes: :class:`RunConfig`.

Results never depend on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Method = Literal["auto", "packed", "batched"]
EXECUTION_METHODS = ("auto", "packed", "batched")
Argmax = Literal["auto", "bf16", "fp32"]
ARGMAX_MODES = ("auto", "bf16", "fp32")


@dataclass(frozen=True)
class RunConfig:
    """How a :class:`Runner` executes; results do not depend on it (tested).

    Attributes:
        batch_size: prompts per forward pass (extraction, the modes).
        sweep_batch_size: ``(example, layer)`` rows per pass in the layer sweep.
        generate_batch_size: prompts decoded together in generation (a decoding step costs
            about the same for 1 row as for 64: reading the weights dominates it on a CPU).
        prepend_bos: lead prompts with the attention-sink token (``None``: the model's
            ``cfg.default_prepend_bos``).
        method: ``"auto"`` packs prompts sharing a prefix where a probe shows it exact,
            ``"packed"`` insists on it, ``"batched"`` never packs.
        device: where batches are sent; ``None`` is the model's own device. The model is
            never moved: a device the model is not on is refused.
        argmax: how greedy tokens are found: ``"bf16"`` unembeds in bf16 and recomputes in
            fp32 the few tokens that could be the argmax (:mod:`tvlens.engine.greedy`;
            the same tokens as fp32, tested), ``"fp32"`` unembeds every row in fp32,
            ``"auto"`` is ``"bf16"`` on a CPU with native bf16 and a vocabulary of 32k+.
    """

    batch_size: int = 16
    sweep_batch_size: int = 1024
    generate_batch_size: int = 64
    prepend_bos: bool | None = None
    method: Method = "auto"
    device: str | None = None
    argmax: Argmax = "auto"

    def __post_init__(self) -> None:
        for name in ("batch_size", "sweep_batch_size", "generate_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"RunConfig.{name} must be an int >= 1, got {value!r}")
        if self.prepend_bos is not None and not isinstance(self.prepend_bos, bool):
            raise TypeError(
                f"RunConfig.prepend_bos must be True, False or None, got {self.prepend_bos!r}"
            )
        if self.method not in EXECUTION_METHODS:
            raise ValueError(
                f"RunConfig.method must be one of {EXECUTION_METHODS}, got {self.method!r}"
            )
        if self.argmax not in ARGMAX_MODES:
            raise ValueError(f"RunConfig.argmax must be one of {ARGMAX_MODES}, got {self.argmax!r}")
        if self.device is not None and not isinstance(self.device, str):
            raise TypeError(f"RunConfig.device must be a string such as 'cpu', got {self.device!r}")

    def execution(self) -> dict[str, Any]:
        """How it executes, as ``meta.execution`` records it (never compared on resume: it
        changes no result)."""
        return {"batch_size": self.batch_size, "sweep_batch_size": self.sweep_batch_size,
                "generate_batch_size": self.generate_batch_size,
                "method": self.method, "device": self.device,
                "argmax": self.argmax}  # fmt: skip
