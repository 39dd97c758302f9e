"""Writing one attention head's ``hook_z`` at one position per row.

:func:`head_patch_hooks` makes the ``(hook_name, fn)`` pairs; :class:`HeadPatches` carries
one head patch per prompt through :meth:`Runner.predict <tvlens.engine.runner.Runner.predict>`,
which batches and packs these rows as it does task-vector patches. The causal indirect
effect (:mod:`tvlens.fv.indirect_effect`) is built on them. :mod:`tvlens.fv.heads`
re-exports both names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from tvlens import _compat
from tvlens.engine.patches import Patches
from tvlens.hooks import check_n_layers, check_positions
from tvlens.protocol import HookPair


# ---- hooks -----------------------------------------------------------------------------------
def head_patch_hooks(
    vectors: Float[Tensor, "rows d_head"],
    layers: Int[Tensor, " rows"],
    heads: Int[Tensor, " rows"],
    positions: Int[Tensor, " rows"],
    *,
    n_layers: int,
    hook_template: str = _compat.HOOK_Z_TEMPLATE,
) -> list[HookPair]:
    """Replace one head's ``hook_z`` at one position per row: ``z[r, pos[r], heads[r]] = v[r]``.

    Row ``r`` is patched at ``blocks.{layers[r]}.attn.hook_z``; a row with ``layers[r] < 0``
    is left alone (an unpatched reference row in the same pass). Checked here, before any
    hook exists: finite vectors, one layer, head and position per row, layers in range.

    Returns:
        ``(hook_name, fn)`` pairs, one per distinct layer, for ``run_with_hooks``.
    """
    n_layers = check_n_layers(n_layers)
    max_position = check_positions(positions)
    if not vectors.is_floating_point() or vectors.dim() != 2:
        raise TypeError(f"vectors must be a float [rows, d_head] tensor, got {vectors.shape}")
    n = positions.shape[0]
    for name, t in (("vectors", vectors), ("layers", layers), ("heads", heads)):
        if t.shape[0] != n:
            raise ValueError(f"{t.shape[0]} {name} for {n} positions; pass one per row")
    if not bool(torch.isfinite(vectors).all()):
        raise ValueError("head patch vectors hold NaN or inf; check the run that produced them")
    distinct = sorted({int(v) for v in layers.tolist() if v >= 0})
    if distinct and distinct[-1] >= n_layers:
        raise ValueError(
            f"layer {distinct[-1]} is out of range: this model has layers 0..{n_layers - 1}"
        )
    if bool((heads[layers >= 0] < 0).any()):
        raise ValueError("a patched row has a negative head index")

    def make(target: int) -> Any:
        sel = layers == target
        rows_t, pos_t, heads_t, vec_t = (
            sel.nonzero()[:, 0],
            positions[sel],
            heads[sel],
            vectors[sel],
        )

        def hook(z: Tensor, hook: Any) -> Tensor:
            batch, seq_len, n_heads, d_head = z.shape
            if batch != n:
                raise ValueError(f"{n} head patches for a batch of {batch} rows")
            if max_position >= seq_len:
                raise ValueError(f"position {max_position} is beyond the {seq_len} tokens")
            if vec_t.shape[-1] != d_head or int(heads_t.max()) >= n_heads:
                raise ValueError(
                    f"head patches of d_head={vec_t.shape[-1]} for heads up to "
                    f"{int(heads_t.max())}, but this layer has {n_heads} heads of {d_head}"
                )
            z = z.clone()
            dev = z.device
            z[rows_t.to(dev), pos_t.to(dev), heads_t.to(dev)] = vec_t.to(dev, z.dtype)
            return z

        return hook

    return [(hook_template.format(layer=t), make(t)) for t in distinct]


@dataclass(frozen=True)
class HeadPatches(Patches):
    """One head patch per prompt at its arrow, for :meth:`Runner.predict`.

    ``vectors[i]`` (``[d_head]``) replaces head ``heads[i]``'s ``hook_z`` at ``layers[i]``;
    ``layers[i] = -1`` leaves prompt ``i`` unpatched. A :class:`Patches` so that the Runner
    batches and packs these rows as it does task-vector patches.
    """

    heads: Int[Tensor, " n"] = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))
    hook_template: str = _compat.HOOK_Z_TEMPLATE

    def __post_init__(self) -> None:
        super().__post_init__()
        n = self.vectors.shape[0]
        if self.heads.shape[0] != n or self.layers.shape[0] != n:
            raise ValueError(
                f"HeadPatches needs one layer and head per vector: {n} vectors, "
                f"{self.layers.shape[0]} layers, {self.heads.shape[0]} heads"
            )
        if self.mode != "replace":
            raise ValueError("head patches replace a head's activation; mode must be 'replace'")

    def hooks(self, idx: Sequence[int], positions: Tensor, n_layers: int) -> list[HookPair]:
        """Head-patch hooks for the prompts ``idx`` sitting at ``positions`` of one pass."""
        rows = torch.as_tensor(list(idx), dtype=torch.long)
        return head_patch_hooks(
            self.vectors[rows],
            self.layers[rows],
            self.heads[rows],
            positions,
            n_layers=n_layers,
            hook_template=self.hook_template,
        )
