"""Whether a fast path is exact on a model: the packing and greedy-token probes.

The :class:`~tvlens.engine.runner.Runner` asks once per model dtype and device and caches the
answer; this module imports no runner (the Runner imports it), so ``runner`` is typed by
what it uses (:class:`~tvlens.engine.runner_like.ForwardRunner`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from tvlens import _compat
from tvlens.engine.greedy import MIN_VOCAB, GreedyVerdict, Unembedding, greedy_hooks
from tvlens.engine.packing import pack
from tvlens.engine.runner_like import ForwardRunner
from tvlens.prompts import pad_token_id

#: The probe's two prompts, ``(demos, query)`` rendered in the Runner's format: a shared
#: prefix, then queries of different lengths.
PROBE_DEMOS = (("a", "b"), ("c", "d"))
PROBE_QUERIES = ("e", "fg")


@dataclass(frozen=True)
class PackingVerdict:
    """Whether packed rows compute what separate prompts do on a model, and why."""

    exact: bool
    reason: str


def packing_used(method: str, verdict: PackingVerdict) -> bool:
    """Whether a Runner of execution ``method`` (not ``"batched"``) packs, after ``verdict``.

    Raises:
        ValueError: ``method="packed"`` where packing is not exact (saying why).
    """
    if method == "packed" and not verdict.exact:
        raise ValueError(
            f"method='packed' cannot be used on this model: {verdict.reason}; "
            "use method='batched' (or 'auto')"
        )
    return verdict.exact


def probe_packing(runner: ForwardRunner) -> PackingVerdict:
    """Whether packing is exact on ``runner``'s model: a structural check, then a probe.

    Two prompts sharing a prefix, packed into one row, against the same prompts run apart
    (the residual after the last layer, relative difference < 1e-4). A probe that raises is
    reported in the verdict's reason (and warned about under ``method="auto"``), never
    swallowed.
    """
    model = runner.model
    missing = _compat.packing_blocker(model)
    if missing:
        return PackingVerdict(False, missing)
    texts = [runner.fmt.icl(PROBE_DEMOS, q) for q in PROBE_QUERIES]
    last = runner.n_layers - 1
    try:
        ids = runner.token_ids(texts)
        together = runner.packed_resid(pack([ids], pad_token_id(model.tokenizer)), [last])
        apart = runner.resid(runner.tokenize(texts), [last])[:, 0]
    except Exception as err:
        reason = f"the packing probe raised {type(err).__name__}: {err}"
        if runner.config.method == "auto":
            warnings.warn(f"tvlens: not packing: {reason}", RuntimeWarning, stacklevel=4)
        return PackingVerdict(False, reason)
    together = together[0, :, 0]
    rel = float(((together - apart).norm(dim=-1) / apart.norm(dim=-1).clamp_min(1e-6)).max())
    if rel >= 1e-4:
        return PackingVerdict(False, f"packed and separate prompts differ (rel. {rel:.2e})")
    return PackingVerdict(True, f"packed == separate on a probe (rel. {rel:.1e})")


# ---- greedy tokens from bf16 logits (tvlens.engine.greedy) -------------------------------
def probe_greedy(runner: ForwardRunner) -> GreedyVerdict:
    """Whether ``runner``'s model gets :func:`verified_argmax` under ``config.argmax``.

    Refused (fp32 kept) for: ``argmax="fp32"``; no final-norm hook; final-logit soft-capping;
    no fp32 ``W_U``; a probe prompt whose logits from the captured rows differ from the
    model's; bf16 logits beyond their bound on the probe. ``"auto"`` also wants a CPU with
    native bf16 and a vocabulary of at least :data:`MIN_VOCAB`.

    Raises:
        ValueError: ``argmax="bf16"`` on a model where the path cannot be used (saying why).
    """
    mode = runner.config.argmax
    if mode == "fp32":
        return GreedyVerdict(None, "argmax='fp32'")
    un, reason = _unembedding(runner)
    if un is not None:
        reason = _check(runner, un)
        un = None if reason else un
    if un is None and mode == "bf16":
        raise ValueError(f"argmax='bf16' cannot be used on this model: {reason}; use 'auto'")
    return GreedyVerdict(un, reason or "bf16 logits, verified in fp32 (probed)")


def _unembedding(runner: ForwardRunner) -> tuple[Unembedding | None, str]:
    model, mode = runner.model, runner.config.argmax
    if runner.norm_hook is None:
        return None, "the model has no final-norm hook"
    if _compat.final_softcap(model):
        return None, "the model soft-caps its logits"
    w_u, b_u = getattr(model, "W_U", None), getattr(model, "b_U", None)
    if not isinstance(w_u, Tensor) or w_u.dim() != 2 or w_u.dtype != torch.float32:
        return None, "the model has no fp32 W_U [d_model, d_vocab]"
    device = w_u.device.type
    if device not in ("cpu", "cuda"):
        return None, f"the bound is only checked for CPU and CUDA matmuls, not {device!r}"
    if device == "cuda" and torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction:
        return None, (
            "CUDA may sum bf16 matmuls in bf16 (set torch.backends.cuda.matmul."
            "allow_bf16_reduced_precision_reduction = False)"
        )
    if mode == "auto":
        if device != "cpu" or not _native_bf16():
            return None, "not a CPU with native bf16"
        if w_u.shape[1] < MIN_VOCAB:
            return None, f"a vocabulary under {MIN_VOCAB} tokens (fp32 is cheap there)"
    norm = _norm_affine(model, runner.norm_hook)
    return Unembedding.of(w_u, b_u if isinstance(b_u, Tensor) else None, norm), ""


def _norm_affine(model: Any, hook_name: str) -> tuple[Tensor | None, Tensor | None]:
    """What the final norm does after ``hook_name``: ``x * w + b`` after a
    HookedTransformer's ``hook_normalized`` (nothing after a bridge's ``hook_out``)."""
    if hook_name != _compat.FINAL_NORM_HOOK:  # chosen only where there is no hook_out
        return None, None
    ln = getattr(model, "ln_final", None)
    w, b = getattr(ln, "w", None), getattr(ln, "b", None)
    return (w if isinstance(w, Tensor) else None), (b if isinstance(b, Tensor) else None)


def _check(runner: ForwardRunner, un: Unembedding) -> str:
    """ "" where a probe prompt's logits, from the captured rows, equal the model's and
    its bf16 logits keep within the bound; else why not."""
    batch = runner.tokenize([runner.fmt.icl(PROBE_DEMOS, q) for q in PROBE_QUERIES])
    theirs = runner.logits(batch)
    hooks, captured = greedy_hooks(un, batch.positions, str(runner.norm_hook))
    with torch.inference_mode():
        runner.model.run_with_hooks(
            batch.tokens.to(runner.device),
            attention_mask=batch.attention_mask.to(runner.device),
            fwd_hooks=hooks,
        )
    x = captured.rows()
    ours = un.exact(x)
    if ours.shape != theirs.shape or not torch.allclose(
        ours, theirs, rtol=1e-4, atol=1e-5 * float(theirs.abs().max())
    ):
        return "the final norm's output does not give the model's logits through W_U"
    if bool(((un.approx(x) - ours).abs().max(dim=-1).values > un.bound(x)).any()):
        return "bf16 logits exceed their rounding bound on this backend"
    return ""


def _native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
