"""Whether a fast path is exact on a model: the packing probe and its verdict.

The :class:`~tvlens.engine.runner.Runner` asks once per model dtype and device and caches the
answer; this module imports no runner (the Runner imports it), so ``runner`` is typed by
what it uses (:class:`~tvlens.engine.runner_like.ForwardRunner`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from tvlens import _compat
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
