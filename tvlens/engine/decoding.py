"""Greedy decoding with task vectors patched in: the loops behind ``Runner.generate``.

:func:`greedy_generate` (``Runner.generate``) decodes greedily from each prompt's arrow, in
batches, with the attention mask built on every step, so left and right padding give the
tokens one prompt alone gives (tested). Patch semantics:

* θ replaces (or, ``Patches.mode="add"``, is added to) the residual stream after layer L
  (``blocks.L.hook_resid_post``) at the **arrow** position, found from the attention mask
  (never ``-1``). Generated tokens see it only through attention.
* ``at="arrow"`` (the paper) patches the arrow and nothing else. Without a KV cache every
  step re-runs the whole sequence, so the arrow is patched again on every step's forward;
  with a cache the arrow runs once, in the prompt pass, and is patched there.
* ``at="all"`` also patches every generated position (each generated token as it is fed
  back), which with ``mode="add"`` is steering during generation.

Two decoding paths compute the same tokens: *recompute* (each step a full forward over
prompt + generated tokens; rows that stopped leave the batch) and *KV cache* (a prompt pass,
then one token per step). The cache is used only where :meth:`Runner.kv_cache` found it exact
on the model (a probe comparing both paths, once per Runner). On TransformerLens 3.9 / 4.3 with
transformers 5.x that is ``HookedTransformer`` only: a ``TransformerBridge`` over a Hugging
Face model leaves the HF cache empty (its attention reads the cache from a keyword the HF
layers no longer pass), and a natively built bridge has no HF model to hold a cache.

Example:
    >>> gens = runner.generate(["France ->"], fmt, max_new_tokens=6)  # doctest: +SKIP
    >>> gens.texts  # doctest: +SKIP
    (' Paris\\n',)
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor
from typing_extensions import Protocol, runtime_checkable

from tvlens._compat import n_ctx as context_length
from tvlens.engine.decode_paths import _cached, _recompute, _Rows
from tvlens.engine.kv_cache import hf_cache_alias, kv_cache_kind
from tvlens.engine.patches import AnyPatches
from tvlens.engine.runner_like import ArrowRunner
from tvlens.evaluation.answer_scoring import as_stops
from tvlens.prompts import DEFAULT_FORMAT, PromptFormat
from tvlens.protocol import HookPair

At = Literal["arrow", "all"]
AT_VALUES = ("arrow", "all")


# ---- values ------------------------------------------------------------------------------
@dataclass(frozen=True)
class GeneratedRow:
    """One prompt's greedy continuation.

    Attributes:
        token_ids: the generated tokens, including the one that ended it (EOS, or the
            token completing a stop string).
        text: their decoded text (a final EOS left out; stop strings kept).
        input_ids: the prompt's token ids as fed (sink token included).
        stop_reason: ``"stop"`` (a stop string appeared), ``"eos"`` or ``"length"``
            (``max_new_tokens`` reached).
    """

    token_ids: tuple[int, ...]
    text: str
    input_ids: tuple[int, ...]
    stop_reason: str


@dataclass(frozen=True)
class Generations:
    """What :meth:`Runner.generate` returns: per prompt, in input order.

    Attributes:
        kv_cache: whether the KV-cache path produced them (else the recompute path).
    """

    token_ids: tuple[tuple[int, ...], ...]
    texts: tuple[str, ...]
    input_ids: tuple[tuple[int, ...], ...]
    stop_reasons: tuple[str, ...]
    kv_cache: bool

    def __len__(self) -> int:
        return len(self.token_ids)

    def __getitem__(self, i: int) -> GeneratedRow:
        return GeneratedRow(
            self.token_ids[i], self.texts[i], self.input_ids[i], self.stop_reasons[i]
        )


@dataclass(frozen=True)
class KVCacheVerdict:
    """Whether generation may reuse a KV cache on a model (it agrees with recompute), and why."""

    usable: bool
    reason: str


@runtime_checkable
class GeneratingRunner(ArrowRunner, Protocol):
    """What :func:`greedy_generate` asks of a Runner: an :class:`ArrowRunner` that knows
    whether a KV cache is exact on its model."""

    @property
    def kv_cache(self) -> KVCacheVerdict:
        """Whether generation reuses a KV cache (probed once against recompute)."""
        ...


def check_context(ids: Sequence[Sequence[int]], max_new_tokens: int, n_ctx: int | None) -> None:
    """Refuse a generation that would run past the model's context.

    The model runs on the prompt and all generated tokens but the last: ``len(prompt) +
    max_new_tokens - 1`` positions, each of which must lie inside ``n_ctx``.

    Raises:
        ValueError: naming the longest prompt, the length it would reach and the fix.
    """
    if not n_ctx or not ids:
        return
    i = max(range(len(ids)), key=lambda j: len(ids[j]))
    need = len(ids[i]) + max_new_tokens - 1
    if need > n_ctx:
        room = n_ctx - len(ids[i]) + 1
        fix = (
            f"lower max_new_tokens (--max-new-tokens) to {room} or less"
            if room >= 1
            else "the prompt alone fills the context"
        )
        raise ValueError(
            f"prompt {i} is {len(ids[i])} tokens: with max_new_tokens={max_new_tokens} "
            f"generation would run on {need} positions, past the model's context of {n_ctx}; "
            f"{fix}, or use fewer demonstrations or shorter inputs"
        )


def check_generation_args(max_new_tokens: Any, at: Any) -> None:
    """Refuse a ``max_new_tokens`` that is not an int >= 1 and an unknown ``at``."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
        raise TypeError(
            f"max_new_tokens must be an int >= 1, got {max_new_tokens!r} "
            f"({type(max_new_tokens).__name__})"
        )
    if max_new_tokens < 1:
        raise ValueError(
            f"max_new_tokens must be >= 1, got {max_new_tokens}; max_new_tokens=1 is "
            "next-token prediction"
        )
    if at not in AT_VALUES:
        raise ValueError(
            f"at must be 'arrow' (patch only the arrow, the paper) or 'all' (also every "
            f"generated position), got {at!r}"
        )


# ---- the entry point ---------------------------------------------------------------------
def probe_kv_cache(runner: ArrowRunner) -> KVCacheVerdict:
    """Whether the KV-cache path computes what the recompute path does on ``runner``'s model.

    Structural check first (a cache tvlens knows how to drive), then both paths on two short
    prompts of different lengths, under right and left padding, 2 tokens each (the prompt
    pass and one cached step): the greedy tokens must agree and every step's logits within
    1e-3 of the largest logit.
    """
    kind = kv_cache_kind(runner.model)
    if not kind:
        return KVCacheVerdict(
            False,
            f"{type(runner.model).__name__} has no KV cache tvlens can drive (only "
            "HookedTransformer, or a TransformerBridge over a Hugging Face model)",
        )
    fmt = runner.fmt  # the Runner's own format: its arrow ends every prompt
    texts = [fmt.icl((("a", "b"), ("c", "d")), "e"), fmt.zero_shot("fg")]
    worst = 0.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for side in ("right", "left"):
                runs = []
                for use in (True, False):  # the cache first: a broken one fails fast
                    record: dict[tuple[int, int], Tensor] = {}
                    gens = _generate(
                        runner, texts, None, None, "arrow", 2, (), use, side, (), record
                    )
                    runs.append((gens.token_ids, record))
                (ids_b, rec_b), (ids_a, rec_a) = runs  # b: cached, a: recomputed
                if ids_a != ids_b or rec_a.keys() != rec_b.keys():
                    return KVCacheVerdict(
                        False, f"cached and recomputed tokens differ ({side} padding)"
                    )
                for key, ref in rec_a.items():
                    scale = float(ref.abs().max().clamp_min(1e-6))
                    worst = max(worst, float((rec_b[key] - ref).abs().max()) / scale)
    except Exception as err:
        return KVCacheVerdict(False, f"the KV-cache probe failed: {type(err).__name__}: {err}")
    if worst >= 1e-3:
        return KVCacheVerdict(False, f"cached and recomputed logits differ (rel. {worst:.1e})")
    return KVCacheVerdict(True, f"cached == recomputed on a probe (rel. {worst:.1e})")


def greedy_generate(
    runner: GeneratingRunner,
    prompts: Sequence[str],
    fmt: PromptFormat | None = None,
    *,
    patches: AnyPatches | None = None,
    at: str = "arrow",
    max_new_tokens: int = 8,
    stop: str | Sequence[str] | None = None,
    kv_cache: bool | None = None,
    padding_side: str = "right",
    fwd_hooks: Sequence[HookPair] = (),
    rows_per_pass: int | None = None,
) -> Generations:
    """Greedy continuations of ``prompts`` from their arrows (see :meth:`Runner.generate`).

    ``at`` and ``padding_side`` are plain strings here so that a wrong value gets this
    module's error message.
    """
    check_generation_args(max_new_tokens, at)
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    if kv_cache is not None and not isinstance(kv_cache, bool):
        raise TypeError(f"kv_cache must be True, False or None (auto), got {kv_cache!r}")
    if len(prompts) == 0:
        raise ValueError("empty batch: pass at least one prompt")
    if patches is not None and patches.vectors.shape[0] != len(prompts):
        raise ValueError(f"{patches.vectors.shape[0]} patches for {len(prompts)} prompts")
    stops = as_stops((fmt or DEFAULT_FORMAT).demo_sep if stop is None else stop)
    if kv_cache is None:
        use = runner.kv_cache.usable
    elif kv_cache:
        verdict = runner.kv_cache
        if not verdict.usable:
            raise ValueError(
                f"kv_cache=True cannot be used on this model: {verdict.reason}; pass "
                "kv_cache=None (auto) or False"
            )
        use = True
    else:
        use = False
    return _generate(
        runner,
        prompts,
        fmt,
        patches,
        at,
        max_new_tokens,
        stops,
        use,
        padding_side,
        fwd_hooks,
        rows_per_pass=rows_per_pass,
    )


def _generate(
    runner: ArrowRunner,
    prompts: Sequence[str],
    fmt: PromptFormat | None,
    patches: AnyPatches | None,
    at: str,
    max_new_tokens: int,
    stops: tuple[str, ...],
    use_cache: bool,
    side: str,
    fwd_hooks: Sequence[HookPair],
    record: dict[tuple[int, int], Tensor] | None = None,
    rows_per_pass: int | None = None,
) -> Generations:
    ids = runner.token_ids(prompts, fmt)
    check_context(ids, max_new_tokens, context_length(runner.model))
    n = len(ids)
    tok = runner.model.tokenizer
    out: dict[int, GeneratedRow] = {}
    decode = _cached if use_cache else _recompute
    size = rows_per_pass or runner.config.generate_batch_size
    # a bridge over an HF model fills the cache only once its attention is handed it
    with hf_cache_alias(runner.model) if use_cache else contextlib.nullcontext():
        for idx in runner.batches(prompts, list(range(n)), size):
            rows = _Rows(tok, len(idx), stops, max_new_tokens)
            local: dict[tuple[int, int], Tensor] | None = {} if record is not None else None
            decode(runner, [ids[i] for i in idx], idx, rows, patches, at, side, fwd_hooks, local)
            for j, i in enumerate(idx):
                reason = rows.reason[j]
                assert reason is not None
                out[i] = GeneratedRow(tuple(rows.gen[j]), rows.text(j), tuple(ids[i]), reason)
            if record is not None and local is not None:
                record.update({(idx[j], s): v for (j, s), v in local.items()})
    gens = [out[i] for i in range(n)]
    return Generations(
        token_ids=tuple(g.token_ids for g in gens),
        texts=tuple(g.text for g in gens),
        input_ids=tuple(g.input_ids for g in gens),
        stop_reasons=tuple(g.stop_reason for g in gens),
        kv_cache=use_cache,
    )
