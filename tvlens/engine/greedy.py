"""Greedy tokens without unembedding every row in fp32: bf16 logits, verified in fp32.

On Gemma 3 the unembedding (262,144 x 640) is most of what a layer sweep, a scored mode or
a generation step costs, and all of them need only each row's greedy token.
:func:`verified_argmax` computes every logit in bf16 (about 3x faster than fp32 on a CPU
with native bf16), bounds each row's rounding error ``e`` (``|bf16 logit - exact logit| <=
e`` for every token), and recomputes in fp32 only the tokens whose bf16 logit is within
``2e`` of the row's best: the exact argmax is always among them (a few per row on Gemma).
The token returned is the fp32 argmax (ties: the lowest id, as ``argmax``), not an estimate;
rows where the bound leaves too many tokens are unembedded whole in fp32.

The bound (``u = 2**-8``, bf16's unit roundoff; products of two bf16 numbers are exact in
fp32 and the matmul accumulates in fp32): rounding ``x`` and ``W[v]`` costs at most
``(2u + u^2) S``, the fp32 sum ``gamma_d S`` and rounding the result to bf16 ``u S``, with
``S = sum_i |x_i W[v, i]| <= ||x|| max_v ||W[v]||``. :func:`probe_greedy` checks it on the
model before the path is used, so a backend that accumulates otherwise falls back to fp32.

:class:`~tvlens.engine.config.RunConfig` ``argmax=`` chooses: ``"auto"`` (this path on a
CPU with native bf16 and a vocabulary of at least :data:`MIN_VOCAB`), ``"bf16"`` (insist)
or ``"fp32"`` (never); :func:`~tvlens.engine.probes.probe_greedy` decides, once per model.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor
from torch.nn.functional import linear

from tvlens.protocol import HookPair

U_BF16 = 2.0**-8
"""bf16's unit roundoff (8 significant bits)."""
MIN_VOCAB = 32_768
"""Under ``argmax="auto"``, smaller vocabularies keep the fp32 unembedding (cheap there)."""
MAX_CANDIDATES = 1024
"""A row with more tokens than this within its bound is unembedded whole in fp32."""
CHUNK = 128
"""Rows per bf16 matmul (bounds its ``[rows, d_vocab]`` logits: 64 MiB on Gemma 3)."""
TOP = 64
"""Each row's best bf16 logits read first: where the last is below the row's bound, the
candidates are among them and the row is not compared whole (one pass instead of three)."""

_LOW: dict[int, tuple[weakref.ref[Tensor], tuple[Any, ...], Tensor, float]] = {}
"""The bf16 copy of each weight and its largest column norm, by ``id`` (tensors cannot be
dictionary keys: their ``==`` is elementwise); an entry leaves with its weight."""


@dataclass(frozen=True)
class Unembedding:
    """The model's unembedding, as :func:`verified_argmax` uses it.

    Attributes:
        w_u: ``[d_model, d_vocab]`` fp32 (the model's own ``W_U``, not a copy).
        b_u: ``[d_vocab]`` fp32, or ``None`` where the model's is zero.
        low: ``[d_vocab, d_model]`` bf16 copy of ``w_u`` (one per weight tensor, shared).
        max_norm: ``max_v ||w_u[:, v]||``.
    """

    w_u: Tensor
    b_u: Tensor | None
    low: Tensor
    max_norm: float
    norm_w: Tensor | None = None
    norm_b: Tensor | None = None

    @classmethod
    def of(
        cls,
        w_u: Tensor,
        b_u: Tensor | None,
        norm: tuple[Tensor | None, Tensor | None] = (None, None),
    ) -> Unembedding:
        """From ``W_U`` ``[d_model, d_vocab]``, ``b_U`` and what the final norm still does
        after the captured hook (``x * w + b``; ``(None, None)``: nothing); the bf16 copy
        of ``W_U`` and its largest column norm are computed once per weight tensor."""
        # keyed by the weight itself: a bridge's W_U is a new view of lm_head's on each access
        key = w_u._base if w_u._base is not None else w_u
        w_u = w_u.detach()
        sig = (w_u._version, w_u.data_ptr(), tuple(w_u.shape), tuple(w_u.stride()))
        cached = _LOW.get(id(key))
        if cached is None or cached[0]() is not key or cached[1] != sig:
            gone = id(key)
            ref = weakref.ref(key, lambda _: _LOW.pop(gone, None))
            low = w_u.T.to(torch.bfloat16).contiguous()
            cached = (ref, sig, low, float(w_u.norm(dim=0).max()))
            _LOW[gone] = cached
        bias = None if b_u is None or not bool(b_u.detach().any()) else b_u.detach().float()
        w, b = (None if t is None else t.detach() for t in norm)
        return cls(w_u, bias, cached[2], cached[3], w, b)

    def finish(self, captured: Float[Tensor, "n d_model"]) -> Float[Tensor, "n d_model"]:
        """The unembedding's input from the captured hook's rows (the norm's ``w``, ``b``)."""
        x = captured if self.norm_w is None else captured * self.norm_w
        return (x if self.norm_b is None else x + self.norm_b).float()

    def bound(self, x: Float[Tensor, "n d_model"]) -> Float[Tensor, " n"]:
        """Per row, a bound on ``|bf16 logit - exact logit|`` over every token."""
        d = x.shape[-1]
        gamma = d * 2.0**-24 / (1 - d * 2.0**-24)
        u = U_BF16
        return (3 * u + 4 * u * u + 2 * gamma) * 1.001 * x.norm(dim=-1) * self.max_norm

    def approx(self, x: Float[Tensor, "n d_model"]) -> Float[Tensor, "n d_vocab"]:
        """bf16 logits of ``x`` (bf16; fp32 with the bias added in fp32 where there is one)."""
        out = linear(x.to(torch.bfloat16), self.low)
        return out if self.b_u is None else out.float() + self.b_u

    def exact(self, x: Float[Tensor, "n d_model"]) -> Float[Tensor, "n d_vocab"]:
        """fp32 logits of ``x``, as the model's unembedding computes them."""
        out = x @ self.w_u
        return out if self.b_u is None else out + self.b_u


def verified_argmax(
    x: Float[Tensor, "n d_model"], unembedding: Unembedding, *, chunk: int = CHUNK
) -> Int[Tensor, " n"]:
    """The fp32 greedy token of each normalized residual ``x`` (see the module docstring).

    Example:
        >>> un = Unembedding.of(model.W_U, model.b_U)  # doctest: +SKIP
        >>> verified_argmax(normalized, un)  # == (normalized @ model.W_U + b_U).argmax(-1)
    """
    if x.dim() != 2:
        raise ValueError(f"x must be [n, d_model], got shape {tuple(x.shape)}")
    x = x.detach().float()
    out = torch.empty(len(x), dtype=torch.long, device=x.device)
    for start in range(0, len(x), chunk):
        out[start : start + chunk] = _chunk_argmax(x[start : start + chunk], unembedding)
    return out


def _chunk_argmax(x: Tensor, un: Unembedding) -> Tensor:
    approx = un.approx(x)
    top, top_ids = approx.topk(min(TOP, approx.shape[-1]), dim=-1)  # sorted, best first
    best = top[:, 0].float()
    bound = un.bound(x)
    floor = best - 2 * bound
    # Compared in approx's dtype: lowered by 2**-7 of itself first, so that rounding it to
    # bf16 cannot raise it (a few more candidates, never one less).
    floor = (floor - floor.abs() * 2.0**-7).to(approx.dtype)
    rows, toks = _near(approx, top, top_ids, floor)
    del approx
    counts = torch.bincount(rows, minlength=len(x))
    whole = (counts > MAX_CANDIDATES) | ~torch.isfinite(bound) | ~torch.isfinite(best)
    keep = ~whole[rows]
    rows, toks = rows[keep], toks[keep]
    value = (x[rows] * un.w_u[:, toks].T).sum(-1)
    if un.b_u is not None:
        value = value + un.b_u[toks]
    row_best = torch.full((len(x),), float("-inf"), device=x.device)
    row_best = row_best.scatter_reduce(0, rows, value, "amax")
    ties = value == row_best[rows]
    first = torch.full((len(x),), un.w_u.shape[1], dtype=torch.long, device=x.device)
    out = first.scatter_reduce(0, rows[ties], toks[ties], "amin")
    if bool(whole.any()):
        out[whole] = un.exact(x[whole]).argmax(dim=-1)
    return out


def _near(approx: Tensor, top: Tensor, top_ids: Tensor, floor: Tensor) -> tuple[Tensor, Tensor]:
    """Every ``(row, token)`` whose bf16 logit is at least the row's ``floor``: read off
    the row's top :data:`TOP` where its last is below the floor (then no other token
    reaches it), found by comparing the whole row elsewhere (ties, a flat row)."""
    spill = top[:, -1] >= floor
    in_top = (top >= floor[:, None]) & ~spill[:, None]
    rows, at = in_top.nonzero(as_tuple=True)
    toks = top_ids[rows, at]
    if bool(spill.any()):
        where = spill.nonzero(as_tuple=True)[0]
        r, t = (approx[where] >= floor[where][:, None]).nonzero(as_tuple=True)
        rows, toks = torch.cat([rows, where[r]]), torch.cat([toks, t])
    return rows, toks


# ---- capturing the final norm's output instead of the logits ------------------------------
class Captured:
    """The final norm's rows :func:`greedy_hooks` kept during one pass."""

    def __init__(self, unembedding: Unembedding) -> None:
        self.unembedding = unembedding
        self.kept: list[Tensor] = []

    def rows(self) -> Float[Tensor, "n d_model"]:
        """The unembedding's input at each kept row (RuntimeError unless the hook ran once)."""
        if len(self.kept) != 1:
            raise RuntimeError(f"the final-norm hook ran {len(self.kept)} times, not once")
        return self.unembedding.finish(self.kept[0])

    def tokens(self) -> Int[Tensor, " n"]:
        """The greedy token of each kept row (:func:`verified_argmax`)."""
        return verified_argmax(self.rows(), self.unembedding)


def greedy_hooks(
    unembedding: Unembedding,
    positions: Int[Tensor, " batch"] | Int[Tensor, "batch k"],
    hook_name: str,
    *,
    rows: Tensor | None = None,
) -> tuple[list[HookPair], Captured]:
    """A hook on the final norm that keeps each row's output at ``positions`` (only
    ``rows``, if given) and hands the unembedding no row, so the model's own fp32
    unembedding costs nothing; after the pass, ``captured.tokens()`` are the greedy tokens
    (``[batch * k]`` row-major for ``[batch, k]`` positions, e.g. packed segment ends)."""
    captured = Captured(unembedding)

    def hook(normalized: Tensor, hook: Any) -> Tensor:
        pos = positions.to(normalized.device)
        if pos.shape[0] != normalized.shape[0]:
            raise ValueError(f"{len(pos)} positions for a batch of {normalized.shape[0]} rows")
        at = torch.arange(len(pos), device=pos.device)
        picked = normalized[at[:, None], pos] if pos.dim() == 2 else normalized[at, pos]
        picked = picked if rows is None else picked[rows.to(normalized.device)]
        captured.kept.append(picked.flatten(0, -2))
        return normalized[:0]

    return [(hook_name, hook)], captured


# ---- whether the path is used on a model ------------------------------------------------
@dataclass(frozen=True)
class GreedyVerdict:
    """How greedy tokens are found on a model: ``unembedding`` set where
    :func:`verified_argmax` is used, and why (or why not)."""

    unembedding: Unembedding | None
    reason: str
