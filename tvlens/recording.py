"""Recorders: read activations at one position per row during a forward pass.

:func:`resid_extractor_hooks` (a :class:`ResidRecorder`) reads the residual stream at many
layers, optionally ending the pass early with :class:`StopForward`; :class:`ArrowRecorder`
reads any ``[batch, pos, ...]`` hook at the arrow. Both return plain ``(hook_name, fn)``
pairs. :mod:`tvlens.hooks` re-exports every name here.

Example:
    >>> rec = resid_extractor_hooks(batch.positions, layers=[3, 5])  # doctest: +SKIP
    >>> model.run_with_hooks(batch.tokens, attention_mask=batch.attention_mask,
    ...                      fwd_hooks=rec.hooks)  # doctest: +SKIP
    >>> rec.stacked().shape  # [batch, 2, d_model]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from tvlens.hook_checks import (
    LayerLike,
    _check_in_sequence,
    as_layer,
    check_position_hooks,
    check_positions,
    resid_hook_name,
)
from tvlens.protocol import HookPair


# ---- extraction ----------------------------------------------------------------------------
def _rows(batch_size: int, device: torch.device) -> Tensor:
    return torch.arange(batch_size, device=device)


def _gather(acts: Tensor, positions: Tensor) -> Tensor:
    """``acts[b, positions[b]]``: ``[batch, d]`` for ``[batch]``, ``[batch, k, d]`` for
    ``[batch, k]`` positions."""
    rows = _rows(acts.shape[0], acts.device)
    return acts[rows, positions] if positions.dim() == 1 else acts[rows[:, None], positions]


class StopForward(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by an extractor hook to end a forward pass once all layers are read."""


@dataclass
class ResidRecorder:
    """Collects the residual stream at per-row positions during a forward pass.

    Attributes:
        positions: ``[batch]`` position to read in each row.
        layers: the layers read, in order.
        stop_after: raise :class:`StopForward` after the last layer is read, so the
            rest of the forward pass (and the unembedding) is skipped.
        activations: filled during the pass, ``layer -> [batch, d_model]``.
    """

    positions: Int[Tensor, " batch"] | Int[Tensor, "batch k"]
    layers: tuple[int, ...]
    stop_after: bool = False
    activations: dict[int, Tensor] = field(default_factory=dict)
    max_position: int = field(default=-1, repr=False)

    @property
    def hooks(self) -> list[HookPair]:
        """The ``(hook_name, fn)`` pairs to pass as ``fwd_hooks``."""
        last = max(self.layers)
        return [(resid_hook_name(layer), self._make(layer, layer == last)) for layer in self.layers]

    def _make(self, layer: int, is_last: bool) -> Any:
        first = layer == min(self.layers)

        def hook(resid: Tensor, hook: Any) -> Tensor:
            if first:  # a new forward pass: nothing from an earlier pass may be mixed in
                self.activations.clear()
            pos = self.positions.to(resid.device)
            if pos.shape[0] != resid.shape[0]:
                raise ValueError(
                    f"{len(pos)} positions for a batch of {resid.shape[0]} rows; "
                    "pass one position per row"
                )
            _check_in_sequence(self.max_position, resid.shape[1])
            self.activations[layer] = _gather(resid, pos).detach()
            if is_last and self.stop_after:
                raise StopForward
            return resid

        return hook

    def stacked(self) -> Float[Tensor, "batch *k n_layers d_model"]:
        """The recorded activations as one tensor, layers in ``self.layers`` order.

        ``[batch, n_layers, d_model]`` for one position per row, ``[batch, k, n_layers,
        d_model]`` for ``[batch, k]`` positions.

        Raises:
            ValueError: naming the layers whose hook never fired (no forward pass ran, or a
                layer is beyond the model: a ``TransformerBridge`` skips hook names it
                lacks without a word).
        """
        missing = [layer for layer in self.layers if layer not in self.activations]
        if missing:
            if len(missing) == len(self.layers):
                why = "no forward pass has run with fwd_hooks=recorder.hooks (or none fired)"
            else:
                why = (
                    f"their hooks never fired: is layer {max(missing)} beyond the model's "
                    "last layer (check against model.cfg.n_layers)?"
                )
            raise ValueError(f"layers {missing} were not recorded: {why}")
        return torch.stack([self.activations[layer] for layer in self.layers], dim=-2)


def resid_extractor_hooks(
    positions: Int[Tensor, " batch"] | Int[Tensor, "batch k"],
    layers: Iterable[LayerLike],
    *,
    stop_after: bool = False,
) -> ResidRecorder:
    """Record ``blocks.{L}.hook_resid_post`` at one position per row, for many layers.

    Only the requested positions are kept (``[batch, d_model]`` per layer), not a cache.

    Args:
        positions: ``[batch]`` index of the token to read in each row (or ``[batch, k]``),
            all >= 0 (from the attention mask, e.g. ``batch.positions``).
        layers: layer indices to read (ints, numpy ints or 0-d integer tensors).
        stop_after: end the forward pass after the last layer (catch :class:`StopForward`,
            or use :func:`tvlens.evaluation.extract.run_extraction`, which does).

    Returns:
        A :class:`ResidRecorder`; pass ``recorder.hooks`` as ``fwd_hooks``.

    Raises:
        TypeError, ValueError: for bad positions or layers (see :func:`check_positions`,
            :func:`as_layer`).
    """
    max_position = check_positions(positions, ranks=(1, 2))
    if (
        not isinstance(layers, Iterable)
        or isinstance(layers, (str, bytes))
        or (isinstance(layers, Tensor) and layers.dim() != 1)
    ):
        raise TypeError(
            f"layers must be an iterable of ints, got {layers!r}; pass e.g. [3, 5] or "
            "range(model.cfg.n_layers)"
        )
    layer_list = tuple(as_layer(layer, name="layers entry") for layer in layers)
    if not layer_list:
        raise ValueError("no layers to extract; pass at least one layer")
    return ResidRecorder(
        positions=positions, layers=layer_list, stop_after=stop_after, max_position=max_position
    )


@dataclass
class ArrowRecorder:
    """Records any hooks' activations at one position per row (``[batch, ...]`` each).

    Only hooks laid out ``[batch, pos, ...]`` can be read at a position: attention patterns
    and scores (``attn.hook_pattern``, ``attn.hook_attn_scores``: ``[batch, head, query,
    key]``) are refused by name, and a hook whose second axis is not the sequence's length
    raises when it fires, so a head axis is never indexed with a position.

    Attributes:
        positions: ``[batch]`` position to read in each row (the arrow).
        names: the hook names to read, e.g. ``blocks.3.attn.hook_z``.
        width: the sequence length of the batch (checked against each hook's second axis).
        values: filled during a pass, ``name -> [batch, *rest]`` (fp32, detached).
    """

    positions: Int[Tensor, " batch"]
    names: tuple[str, ...]
    width: int | None = None
    values: dict[str, Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_positions(self.positions)
        check_position_hooks(self.names)

    @property
    def hooks(self) -> list[HookPair]:
        """The ``(hook_name, fn)`` pairs to pass as ``fwd_hooks``."""
        return [(name, self._make(name)) for name in self.names]

    def _make(self, name: str) -> Any:
        def hook(act: Tensor, hook: Any) -> Tensor:
            pos = self.positions.to(act.device)
            if pos.shape[0] != act.shape[0]:
                raise ValueError(f"{len(pos)} positions for a batch of {act.shape[0]} rows")
            if act.dim() < 2 or (self.width is not None and act.shape[1] != self.width):
                raise ValueError(
                    f"hook {name!r} has shape {tuple(act.shape)}, whose second axis is not the "
                    f"sequence (length {self.width}): it cannot be read at a position; read "
                    "it with model.run_with_cache instead"
                )
            rows = torch.arange(act.shape[0], device=act.device)
            self.values[name] = act[rows, pos].detach().float()
            return act

        return hook

    def get(self, name: str) -> Tensor:
        """The recorded ``[batch, ...]`` activations of ``name``.

        Raises:
            ValueError: if the hook never fired (a bridge skips names it lacks silently).
        """
        if name not in self.values:
            raise ValueError(f"hook {name!r} never fired: does this model have it?")
        return self.values[name]
