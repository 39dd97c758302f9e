"""Hook factories: read and write the residual stream at given per-row positions.

The patching factories live here (:func:`task_vector_hooks`, :func:`logits_at_hooks`);
the recorders (:func:`resid_extractor_hooks`, :class:`ArrowRecorder`) in
:mod:`tvlens.recording` and the argument checks in :mod:`tvlens.hook_checks`, all
re-exported here, so ``from tvlens.hooks import ...`` reaches every hook name.

Every factory returns plain ``(hook_name, fn)`` pairs, so they mix with a user's own hooks
in one ``model.run_with_hooks(..., fwd_hooks=...)`` call or ``with model.hooks(...)`` block.
TransformerLens adds and removes them; tvlens never touches hooks it did not add.

Every factory validates its arguments when it is called (layers, positions, vectors), so a
wrong argument raises a ``ValueError`` or ``TypeError`` naming the fix instead of patching
nothing, patching padding, or failing mid-forward with a bare ``KeyError``.

Example:
    >>> rec = resid_extractor_hooks(batch.positions, layers=[3, 5])  # doctest: +SKIP
    >>> model.run_with_hooks(batch.tokens, attention_mask=batch.attention_mask,
    ...                      fwd_hooks=rec.hooks)  # doctest: +SKIP
    >>> rec.stacked().shape  # [batch, 2, d_model]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor

from tvlens._compat import FINAL_NORM_HOOK, RESID_POST_TEMPLATE
from tvlens.hook_checks import (
    NOT_POSITION_HOOKS,
    LayerLike,
    _check_in_sequence,
    as_layer,
    check_hook_template,
    check_layer,
    check_n_layers,
    check_position_hooks,
    check_positions,
    check_vectors,
    resid_hook_name,
)
from tvlens.protocol import HookPair
from tvlens.recording import (
    ArrowRecorder,
    ResidRecorder,
    StopForward,
    _gather,
    _rows,
    resid_extractor_hooks,
)

__all__ = [
    "NOT_POSITION_HOOKS",
    "ArrowRecorder",
    "LayerLike",
    "PatchMode",
    "ResidRecorder",
    "StopForward",
    "as_layer",
    "check_hook_template",
    "check_layer",
    "check_n_layers",
    "check_position_hooks",
    "check_positions",
    "check_vectors",
    "logits_at_hooks",
    "resid_extractor_hooks",
    "resid_hook_name",
    "task_vector_hooks",
]

PatchMode = Literal["replace", "add"]


# ---- patching ------------------------------------------------------------------------------
def task_vector_hooks(
    vectors: Float[Tensor, " d_model"] | Float[Tensor, "rows d_model"],
    layer: LayerLike | Int[Tensor, " rows"],
    positions: Int[Tensor, " batch"],
    *,
    mode: PatchMode = "replace",
    n_layers: int,
    hook_template: str = RESID_POST_TEMPLATE,
) -> list[HookPair]:
    """Patch task vectors into the residual stream at one position per row.

    The patched hook is ``blocks.{L}.hook_resid_post`` (or ``hook_template``). Every
    argument is checked here, before any hook exists; positions are also checked against
    the sequence length inside the hook.

    Args:
        vectors: one shared ``[d_model]`` vector or one ``[batch, d_model]`` per row; finite.
        layer: the layer to patch (an int, numpy int or 0-d integer tensor), or ``[batch]``
            layers (a 1-D integer tensor, one per row): rows are then patched each at its
            own layer, which lets one batch sweep many layers.
        positions: ``[batch]`` position to patch in each row (the arrow), all >= 0.
        mode: ``"replace"`` the residual there (the paper) or ``"add"`` to it.
        n_layers: the model's layer count (``model.cfg.n_layers``); every layer is checked
            against ``range(n_layers)`` here, since a missing hook name would otherwise
            patch nothing on a ``TransformerBridge``.
        hook_template: the hook to patch, a format string with ``{layer}``.

    Returns:
        ``(hook_name, fn)`` pairs for ``run_with_hooks`` / ``model.hooks``.

    Raises:
        TypeError, ValueError: naming the bad argument and the fix.

    Example:
        >>> pairs = task_vector_hooks(theta, 5, batch.positions,
        ...                           n_layers=model.cfg.n_layers)  # doctest: +SKIP
        >>> logits = model.run_with_hooks(batch.tokens, fwd_hooks=pairs)  # doctest: +SKIP
    """
    if mode not in ("replace", "add"):
        raise ValueError(f"mode must be 'replace' or 'add', got {mode!r}")
    n_layers = check_n_layers(n_layers)
    hook_template = check_hook_template(hook_template)
    check_vectors(vectors)
    max_position = check_positions(positions)
    n_rows = positions.shape[0]
    if vectors.dim() == 2 and vectors.shape[0] != n_rows:
        raise ValueError(
            f"{vectors.shape[0]} vectors for {n_rows} positions; pass one per row "
            "or a single shared vector"
        )
    layer_rows, distinct = _patched_layers(layer, n_rows, n_layers)
    return [
        (
            hook_template.format(layer=t),
            _patch_hook(vectors, positions, max_position, mode, layer_rows, t),
        )
        for t in distinct
    ]


def _patched_layers(
    layer: LayerLike | Int[Tensor, " rows"], n_rows: int, n_layers: int
) -> tuple[Tensor | None, list[int]]:
    """``(per-row layers or None, the distinct layers patched)``, each checked."""
    if isinstance(layer, Tensor) and layer.dim() == 1:
        if layer.is_floating_point() or layer.is_complex() or layer.dtype == torch.bool:
            raise TypeError(
                f"a per-row layer tensor must have an integer dtype, got {layer.dtype}; "
                "pass layer.long()"
            )
        if layer.shape[0] != n_rows:
            raise ValueError(
                f"{layer.shape[0]} layers for {n_rows} rows; a per-row layer tensor needs "
                "one layer per row"
            )
        layer_rows = layer.long()
        distinct = sorted({int(v) for v in layer_rows.tolist()})
        bad = [v for v in distinct if not 0 <= v < n_layers]
        if bad:
            raise ValueError(
                f"per-row layers {bad} are out of range: this model has layers "
                f"0..{n_layers - 1} (n_layers={n_layers})"
            )
        return layer_rows, distinct
    if isinstance(layer, Tensor) and layer.dim() > 1:
        raise ValueError(f"layer must be an int or a [rows] tensor, got shape {tuple(layer.shape)}")
    return None, [check_layer(layer, n_layers)]


def _patch_hook(
    vectors: Tensor,
    positions: Tensor,
    max_position: int,
    mode: PatchMode,
    layer_rows: Tensor | None,
    target: int,
) -> Any:
    """The hook of :func:`task_vector_hooks` at layer ``target`` (its rows only, if per row)."""

    def hook(resid: Tensor, hook: Any) -> Tensor:
        if resid.dim() != 3:
            raise ValueError(
                f"{hook.name!r} carries a {tuple(resid.shape)} activation, not the residual "
                "stream [batch, pos, d_model]: hook_template must name a residual hook "
                f"such as {RESID_POST_TEMPLATE!r}"
            )
        batch, seq_len, d_model = resid.shape
        if vectors.shape[-1] != d_model:
            raise ValueError(
                f"task vector has d_model={vectors.shape[-1]} but the model's residual "
                f"stream has d_model={d_model}; the vector comes from another model"
            )
        pos = positions.to(resid.device)
        if pos.shape[0] != batch:
            raise ValueError(f"{len(pos)} positions for a batch of {batch} rows")
        _check_in_sequence(max_position, seq_len)
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


def logits_at_hooks(
    positions: Int[Tensor, " batch"] | Int[Tensor, "batch k"],
    hook_name: str = FINAL_NORM_HOOK,
    *,
    rows: Int[Tensor, " n"] | None = None,
) -> list[HookPair]:
    """Make the model compute logits only at one position per row.

    The hook narrows the output of the final norm to ``[batch, 1, d_model]``, so the
    unembedding (262k x 640 on Gemma 3) runs once per row instead of once per token. The
    forward pass then returns ``[batch, 1, d_vocab]`` (``[batch, k, d_vocab]`` for
    ``[batch, k]`` positions).

    Args:
        positions: ``[batch]`` position whose logits are wanted in each row, all >= 0.
        hook_name: a hook on the final norm's output (``ln_final.hook_normalized`` on both
            model classes; ``ln_final.hook_out`` on a bridge avoids a rebuild warning).
        rows: only these rows (distinct indices into the batch) get logits: the pass
            returns ``[len(rows), 1, d_vocab]``, row ``i`` being batch row ``rows[i]`` (e.g.
            the rows of a generation that have not stopped yet).

    Raises:
        TypeError, ValueError: for bad positions (see :func:`check_positions`) or bad rows
            (not a 1-D integer tensor of distinct indices).
    """
    max_position = check_positions(positions, ranks=(1, 2))
    if not isinstance(hook_name, str):
        raise TypeError(f"hook_name must be a str, got {hook_name!r}; e.g. {FINAL_NORM_HOOK!r}")
    max_row = -1 if rows is None else check_positions(rows, name="rows")
    if rows is not None and len(set(rows.tolist())) != len(rows):
        raise ValueError(f"rows holds an index twice: {rows.tolist()}; pass distinct rows")

    def hook(normalized: Tensor, hook: Any) -> Tensor:
        pos = positions.to(normalized.device)
        if pos.shape[0] != normalized.shape[0]:
            raise ValueError(
                f"{len(pos)} positions for a batch of {normalized.shape[0]} rows; "
                "pass one position per row"
            )
        _check_in_sequence(max_position, normalized.shape[1])
        picked = _gather(normalized, pos)
        if rows is not None:
            if max_row >= normalized.shape[0]:
                raise ValueError(
                    f"rows has an entry {max_row} but the batch has only "
                    f"{normalized.shape[0]} rows; the rows belong to another batch"
                )
            picked = picked[rows.to(normalized.device)]
        return picked.unsqueeze(1) if positions.dim() == 1 else picked

    return [(hook_name, hook)]
