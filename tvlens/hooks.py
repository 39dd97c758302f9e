"""Hook factories: read and write the residual stream at given per-row positions.

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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from tvlens._compat import FINAL_NORM_HOOK, RESID_POST_TEMPLATE
from tvlens.protocol import HookPair

PatchMode = Literal["replace", "add"]
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
    layer_rows: Tensor | None = None
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
    elif isinstance(layer, Tensor) and layer.dim() > 1:
        raise ValueError(f"layer must be an int or a [rows] tensor, got shape {tuple(layer.shape)}")
    else:
        distinct = [check_layer(layer, n_layers)]

    def make(target: int) -> Any:
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

    return [(hook_template.format(layer=t), make(t)) for t in distinct]


def logits_at_hooks(
    positions: Int[Tensor, " batch"] | Int[Tensor, "batch k"], hook_name: str = FINAL_NORM_HOOK
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

    Raises:
        TypeError, ValueError: for bad positions (see :func:`check_positions`).
    """
    max_position = check_positions(positions, ranks=(1, 2))
    if not isinstance(hook_name, str):
        raise TypeError(f"hook_name must be a str, got {hook_name!r}; e.g. {FINAL_NORM_HOOK!r}")

    def hook(normalized: Tensor, hook: Any) -> Tensor:
        pos = positions.to(normalized.device)
        if pos.shape[0] != normalized.shape[0]:
            raise ValueError(
                f"{len(pos)} positions for a batch of {normalized.shape[0]} rows; "
                "pass one position per row"
            )
        _check_in_sequence(max_position, normalized.shape[1])
        picked = _gather(normalized, pos)
        return picked.unsqueeze(1) if positions.dim() == 1 else picked

    return [(hook_name, hook)]


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
