"""Argument checks shared by the hook factories: layers, positions, vectors, hook names.

Every check raises a ``ValueError`` or ``TypeError`` naming the fix, so a wrong argument is
refused before a hook exists instead of patching nothing, patching padding, or failing
mid-forward with a bare ``KeyError``. :mod:`tvlens.hooks` re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

from tvlens import _compat
from tvlens._compat import RESID_POST_TEMPLATE

# What a layer index may be: a Python int, a numpy integer scalar or a 0-d integer tensor.
# bool is refused at run time (it is an int to Python, never a layer to a user).
LayerLike = int | np.integer | Int[Tensor, ""]


def resid_hook_name(layer: LayerLike) -> str:
    """The hook name of the residual stream after block ``layer``."""
    return RESID_POST_TEMPLATE.format(layer=as_layer(layer))


# ---- validation helpers --------------------------------------------------------------------
def _int_like(layer: Any, name: str) -> int:
    if isinstance(layer, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, got the bool {layer!r}; pass a layer index")
    if isinstance(layer, Tensor):
        if (
            layer.dim() != 0
            or layer.dtype == torch.bool
            or layer.is_floating_point()
            or layer.is_complex()
        ):
            raise TypeError(
                f"{name} must be an int or a 0-d integer tensor, got a {layer.dtype} tensor "
                f"of shape {tuple(layer.shape)}; pass int(layer)"
            )
        return int(layer.item())
    if isinstance(layer, (int, np.integer)):
        return int(layer)
    raise TypeError(
        f"{name} must be an int, got {layer!r} ({type(layer).__name__}); "
        "pass a whole-number layer index such as 2"
    )


def as_layer(layer: Any, *, name: str = "layer") -> int:
    """``layer`` as a Python ``int`` >= 0: ints, numpy integers and 0-d integer tensors pass.

    Raises:
        TypeError: for a bool, a float (``1.5`` is not layer 1), a string, a tensor that is
            not a 0-d integer tensor, or anything else.
        ValueError: for a negative layer (count from 0; there is no ``-1`` for the last).
    """
    value = _int_like(layer, name)
    if value < 0:
        raise ValueError(
            f"{name} {value} is negative: layers count from 0 (no -1 for the last layer); "
            "pass model.cfg.n_layers - 1 for the last one"
        )
    return value


def check_n_layers(n_layers: Any) -> int:
    """``n_layers`` as an ``int`` >= 1 (ints and numpy integers pass).

    Raises:
        TypeError: if ``n_layers`` is not an int (or is a bool).
        ValueError: if it is below 1.
    """
    if isinstance(n_layers, (bool, np.bool_)) or not isinstance(n_layers, (int, np.integer)):
        raise TypeError(
            f"n_layers must be an int, got {n_layers!r} ({type(n_layers).__name__}); "
            "pass n_layers=model.cfg.n_layers"
        )
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}; pass n_layers=model.cfg.n_layers")
    return int(n_layers)


def check_layer(layer: LayerLike, n_layers: int) -> int:
    """Validate a layer index against ``range(n_layers)``; return it as an ``int``.

    Raises:
        TypeError: if ``layer`` is not int-like (see :func:`as_layer`).
        ValueError: if ``layer`` is not in ``range(n_layers)``.
    """
    n_layers = check_n_layers(n_layers)
    value = _int_like(layer, "layer")
    if not 0 <= value < n_layers:
        raise ValueError(
            f"layer {value} is out of range: this model has layers 0..{n_layers - 1} "
            f"(n_layers={n_layers})"
        )
    return value


def check_hook_template(hook_template: Any) -> str:
    """A hook-name format string with a ``{layer}`` field, e.g. ``blocks.{layer}.hook_resid_post``.

    Raises:
        TypeError: if it is not a string.
        ValueError: if it lacks ``{layer}`` or has other fields.
    """
    if not isinstance(hook_template, str):
        raise TypeError(
            f"hook_template must be a str, got {hook_template!r}; pass e.g. {RESID_POST_TEMPLATE!r}"
        )
    try:
        formatted = hook_template.format(layer=0)
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(
            f"hook_template {hook_template!r} is not a format string with only a {{layer}} "
            f"field ({err!r}); pass e.g. {RESID_POST_TEMPLATE!r}"
        ) from err
    if formatted == hook_template.format(layer=1):
        raise ValueError(
            f"hook_template {hook_template!r} has no {{layer}} field, so every layer would "
            f"patch the same hook; pass e.g. {RESID_POST_TEMPLATE!r}"
        )
    return hook_template


def check_positions(
    positions: Any, *, ranks: tuple[int, ...] = (1,), name: str = "positions"
) -> int:
    """Check a per-row position tensor: integer dtype, rank in ``ranks``, every entry >= 0.

    Returns:
        The largest position (``-1`` when there is none), for the in-hook check against the
        sequence length.

    Raises:
        TypeError: if ``positions`` is not an integer tensor.
        ValueError: for a wrong rank or a negative position.
    """
    shapes = " or ".join({1: "[batch]", 2: "[batch, k]"}[r] for r in ranks)
    if not isinstance(positions, Tensor):
        raise TypeError(
            f"{name} must be a {shapes} integer tensor, got {type(positions).__name__}; "
            f"pass torch.tensor({name}) (e.g. batch.positions)"
        )
    if positions.is_floating_point() or positions.is_complex() or positions.dtype == torch.bool:
        raise TypeError(
            f"{name} must be an integer tensor, got dtype {positions.dtype}; "
            f"pass {name}.long() (e.g. batch.positions)"
        )
    if positions.dim() not in ranks:
        raise ValueError(
            f"{name} must be {shapes} (one position per row), got shape {tuple(positions.shape)}"
        )
    if positions.numel() == 0:
        return -1
    lo, hi = torch.aminmax(positions)
    if int(lo) < 0:
        raise ValueError(
            f"{name} has a negative entry ({int(lo)}): positions count from the start of "
            "each row (a -1 would hit padding on right-padded rows); use batch.positions, "
            "computed from the attention mask"
        )
    return int(hi)


def _check_in_sequence(max_position: int, seq_len: int, name: str = "positions") -> None:
    if max_position >= seq_len:
        raise ValueError(
            f"{name} has an entry {max_position} but the sequence has only {seq_len} tokens "
            f"(positions 0..{seq_len - 1}); the positions belong to another batch"
        )


def check_vectors(vectors: Any) -> None:
    """A finite floating-point ``[d_model]`` or ``[rows, d_model]`` tensor.

    Raises:
        TypeError: if ``vectors`` is not a floating-point tensor.
        ValueError: for a wrong rank or a NaN / inf entry.
    """
    if not isinstance(vectors, Tensor):
        raise TypeError(
            f"vectors must be a float tensor [d_model] or [rows, d_model], got "
            f"{type(vectors).__name__}; pass a torch tensor (e.g. task_vector.vector)"
        )
    if not vectors.is_floating_point():
        raise TypeError(
            f"vectors must be a floating-point tensor, got dtype {vectors.dtype}; "
            "pass vectors.float()"
        )
    if vectors.dim() not in (1, 2):
        raise ValueError(
            f"vectors must be [d_model] or [batch, d_model], got shape {tuple(vectors.shape)}"
        )
    bad = int((~torch.isfinite(vectors)).sum())
    if bad:
        raise ValueError(
            f"vectors has {bad} NaN or inf entries (of {vectors.numel()}); a task vector "
            "must be finite: check the run that produced it (e.g. a float16 overflow)"
        )


# ---- reading any hook at the arrow ---------------------------------------------------
NOT_POSITION_HOOKS = ("hook_pattern", "hook_attn_scores")
"""Hook suffixes laid out ``[batch, head, query, key]``: no position axis second."""


def check_position_hooks(names: Sequence[str]) -> None:
    """Refuse hook names whose activations have no ``[batch, pos, ...]`` layout.

    Raises:
        ValueError: naming the hook and what to use instead.
    """
    for name in names:
        if name.rsplit(".", 1)[-1] in NOT_POSITION_HOOKS:
            raise ValueError(
                f"{name!r} is laid out [batch, head, query, key], not [batch, pos, ...], so it "
                "cannot be read at the arrow; read attention patterns with "
                "model.run_with_cache, or record attn.hook_z (the heads' outputs)"
            )


def check_hook_points(model: Any, names: Sequence[str], known: dict[str, bool]) -> None:
    """Refuse a name that is not a hook point of ``model`` (answers cached in ``known``).

    A TransformerBridge silently ignores a hook name it does not have, so a patch at a
    mistyped hook or a layer the model lacks would never fire: refuse it instead.

    Raises:
        ValueError: naming the unknown hook.
    """
    for name in names:
        if name not in known:
            known[name] = _compat.has_hook(model, name)
        if not known[name]:
            raise ValueError(
                f"{name!r} is not a hook point of this model ({type(model).__name__}, "
                f"n_layers={model.cfg.n_layers}); check the layer and the hook template"
            )
