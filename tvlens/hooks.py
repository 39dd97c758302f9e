"""Hook factories: read and write the residual stream at given per-row positions.

Every factory returns plain ``(hook_name, fn)`` pairs, so they mix with a user's own hooks
in one ``model.run_with_hooks(..., fwd_hooks=...)`` call or ``with model.hooks(...)`` block.
TransformerLens adds and removes them; tvlens never touches hooks it did not add.

Example:
    >>> rec = resid_extractor_hooks(batch.positions, layers=[3, 5])  # doctest: +SKIP
    >>> model.run_with_hooks(batch.tokens, attention_mask=batch.attention_mask,
    ...                      fwd_hooks=rec.hooks)  # doctest: +SKIP
    >>> rec.stacked().shape  # [batch, 2, d_model]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor

from tvlens._compat import FINAL_NORM_HOOK, RESID_POST_TEMPLATE
from tvlens.protocol import HookPair

PatchMode = Literal["replace", "add"]


def resid_hook_name(layer: int) -> str:
    """The hook name of the residual stream after block ``layer``."""
    return RESID_POST_TEMPLATE.format(layer=layer)


def check_layer(layer: int, n_layers: int) -> int:
    """Validate a layer index against ``range(n_layers)``.

    Raises:
        ValueError: if ``layer`` is not in ``range(n_layers)``.
    """
    is_scalar_tensor = isinstance(layer, Tensor) and layer.dim() == 0
    if isinstance(layer, bool) or not (isinstance(layer, int) or is_scalar_tensor):
        raise ValueError(f"layer must be an int, got {type(layer).__name__}")
    layer = int(layer)
    if not 0 <= layer < n_layers:
        raise ValueError(
            f"layer {layer} is out of range: this model has layers 0..{n_layers - 1} "
            f"(n_layers={n_layers})"
        )
    return layer


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

    @property
    def hooks(self) -> list[HookPair]:
        """The ``(hook_name, fn)`` pairs to pass as ``fwd_hooks``."""
        last = max(self.layers)
        return [(resid_hook_name(layer), self._make(layer, layer == last)) for layer in self.layers]

    def _make(self, layer: int, is_last: bool) -> Any:
        def hook(resid: Tensor, hook: Any) -> Tensor:
            pos = self.positions.to(resid.device)
            if pos.shape[0] != resid.shape[0]:
                raise ValueError(
                    f"{len(pos)} positions for a batch of {resid.shape[0]} rows; "
                    "pass one position per row"
                )
            self.activations[layer] = _gather(resid, pos).detach()
            if is_last and self.stop_after:
                raise StopForward
            return resid

        return hook

    def stacked(self) -> Float[Tensor, "batch *k n_layers d_model"]:
        """The recorded activations as one tensor, layers in ``self.layers`` order.

        ``[batch, n_layers, d_model]`` for one position per row, ``[batch, k, n_layers,
        d_model]`` for ``[batch, k]`` positions.
        """
        missing = [layer for layer in self.layers if layer not in self.activations]
        if missing:
            raise RuntimeError(f"layers {missing} were not recorded; run a forward pass first")
        return torch.stack([self.activations[layer] for layer in self.layers], dim=-2)


def resid_extractor_hooks(
    positions: Int[Tensor, " batch"] | Int[Tensor, "batch k"],
    layers: Iterable[int],
    *,
    stop_after: bool = False,
) -> ResidRecorder:
    """Record ``blocks.{L}.hook_resid_post`` at one position per row, for many layers.

    Only the requested positions are kept (``[batch, d_model]`` per layer), not a cache.

    Args:
        positions: ``[batch]`` index of the token to read in each row.
        layers: layer indices to read.
        stop_after: end the forward pass after the last layer (catch :class:`StopForward`,
            or use :func:`tvlens.extract.run_extraction`, which does).

    Returns:
        A :class:`ResidRecorder`; pass ``recorder.hooks`` as ``fwd_hooks``.
    """
    layers = tuple(int(layer) for layer in layers)
    if not layers:
        raise ValueError("no layers to extract; pass at least one layer")
    return ResidRecorder(positions=positions, layers=layers, stop_after=stop_after)


def task_vector_hooks(
    vectors: Float[Tensor, " d_model"] | Float[Tensor, "rows d_model"],
    layer: int | Int[Tensor, " rows"],
    positions: Int[Tensor, " batch"],
    *,
    mode: PatchMode = "replace",
    n_layers: int | None = None,
) -> list[HookPair]:
    """Patch task vectors into ``blocks.{L}.hook_resid_post`` at one position per row.

    Args:
        vectors: one shared ``[d_model]`` vector or one ``[batch, d_model]`` per row.
        layer: the layer to patch, or ``[batch]`` layers (one per row): rows are then
            patched each at its own layer, which lets one batch sweep many layers.
        positions: ``[batch]`` position to patch in each row (the arrow).
        mode: ``"replace"`` the residual there (the paper) or ``"add"`` to it.
        n_layers: when given, layers are checked against ``range(n_layers)``.

    Returns:
        ``(hook_name, fn)`` pairs for ``run_with_hooks`` / ``model.hooks``.

    Example:
        >>> pairs = task_vector_hooks(theta, 5, batch.positions)  # doctest: +SKIP
        >>> logits = model.run_with_hooks(batch.tokens, fwd_hooks=pairs)  # doctest: +SKIP
    """
    if mode not in ("replace", "add"):
        raise ValueError(f"mode must be 'replace' or 'add', got {mode!r}")
    if vectors.dim() not in (1, 2):
        raise ValueError(
            f"vectors must be [d_model] or [batch, d_model], got shape {tuple(vectors.shape)}"
        )
    if vectors.dim() == 2 and vectors.shape[0] != positions.shape[0]:
        raise ValueError(
            f"{vectors.shape[0]} vectors for {positions.shape[0]} positions; pass one per row "
            "or a single shared vector"
        )
    per_row_layer = isinstance(layer, Tensor) and layer.dim() == 1
    if per_row_layer:
        assert isinstance(layer, Tensor)
        layer_rows = layer.long()
        if layer_rows.shape[0] != positions.shape[0]:
            raise ValueError(f"{len(layer_rows)} layers for {len(positions)} rows")
        distinct = sorted({int(v) for v in layer_rows.tolist()})
    else:
        layer_rows = None
        distinct = [int(layer)]
    if n_layers is not None:
        for value in distinct:
            check_layer(value, n_layers)

    def make(target: int) -> Any:
        def hook(resid: Tensor, hook: Any) -> Tensor:
            batch, _, d_model = resid.shape
            if vectors.shape[-1] != d_model:
                raise ValueError(
                    f"task vector has d_model={vectors.shape[-1]} but the model's residual "
                    f"stream has d_model={d_model}; the vector comes from another model"
                )
            pos = positions.to(resid.device)
            if pos.shape[0] != batch:
                raise ValueError(f"{len(pos)} positions for a batch of {batch} rows")
            rows = _rows(batch, resid.device)
            vec = vectors.to(device=resid.device, dtype=resid.dtype)
            vec = vec.expand(batch, d_model) if vec.dim() == 1 else vec
            if layer_rows is not None:
                sel = layer_rows.to(resid.device) == target
                rows, pos, vec = rows[sel], pos[sel], vec[sel]
            resid = resid.clone()
            if mode == "replace":
                resid[rows, pos] = vec
            else:
                resid[rows, pos] = resid[rows, pos] + vec
            return resid

        return hook

    return [(resid_hook_name(t), make(t)) for t in distinct]


def logits_at_hooks(
    positions: Int[Tensor, " batch"] | Int[Tensor, "batch k"], hook_name: str = FINAL_NORM_HOOK
) -> list[HookPair]:
    """Make the model compute logits only at one position per row.

    The hook narrows the output of the final norm to ``[batch, 1, d_model]``, so the
    unembedding (262k x 640 on Gemma 3) runs once per row instead of once per token. The
    forward pass then returns ``[batch, 1, d_vocab]`` (``[batch, k, d_vocab]`` for
    ``[batch, k]`` positions).

    Args:
        positions: ``[batch]`` position whose logits are wanted in each row.
        hook_name: a hook on the final norm's output (``ln_final.hook_normalized`` on both
            model classes; ``ln_final.hook_out`` on a bridge avoids a rebuild warning).
    """

    def hook(normalized: Tensor, hook: Any) -> Tensor:
        picked = _gather(normalized, positions.to(normalized.device))
        return picked.unsqueeze(1) if positions.dim() == 1 else picked

    return [(hook_name, hook)]


def combine(*groups: Sequence[HookPair]) -> list[HookPair]:
    """Concatenate hook-pair lists (a readability helper for ``fwd_hooks=``)."""
    return [pair for group in groups for pair in group]
