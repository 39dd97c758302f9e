"""The execution layer: one :class:`Runner` per model runs every forward pass tvlens makes.

A Runner owns tokenization, length-sorted batching, shared-prefix packing and the facts
about its model that cost something to find out (the final-norm hook, whether packing is
exact, the longest packed row). The algorithms (extraction, the three modes, the sweep,
the analyses) say *what* to compute at each prompt's arrow; the Runner decides *how*:
``Runner(model, RunConfig(batch_size=32))``, passed as ``run=`` to any verb.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from tvlens import _compat
from tvlens.engine.arrows import predict_at_arrows, record_at_arrows, resid_at_arrows
from tvlens.engine.batching import check_device, length_sorted_batches, model_device
from tvlens.engine.config import RunConfig
from tvlens.engine.decoding import Generations, KVCacheVerdict, greedy_generate, probe_kv_cache
from tvlens.engine.fused_hooks import fuse_hooks
from tvlens.engine.greedy import GreedyVerdict, greedy_hooks
from tvlens.engine.packing import PackedBatch, attention_rule_hooks
from tvlens.engine.patches import (
    AnyPatches,
    ArrowActivations,
    Predictions,
    PromptPatches,
    argmax_token,
)
from tvlens.engine.probes import PackingVerdict, packing_used, probe_greedy, probe_packing
from tvlens.hook_checks import check_hook_points
from tvlens.hooks import StopForward, logits_at_hooks, resid_extractor_hooks
from tvlens.prompts import DEFAULT_FORMAT, PromptBatch, PromptFormat, tokenize_prompts
from tvlens.protocol import HookedModel, HookPair


class Runner:
    """Runs forward passes of one model: batching, tokenization, packing, model facts.

    Per-model facts are computed on first use and cached, keyed by the model's parameter
    dtype and device (``model.to(dtype)`` makes them be found anew). The Runner carries the
    prompt format too: a model and its format travel together down to every pass.

    Args:
        model: a ``HookedTransformer`` or ``TransformerBridge`` (any :class:`HookedModel`).
        config: how to run (:class:`RunConfig`; defaults if ``None``).
        fmt: the prompt format (default :data:`~tvlens.DEFAULT_FORMAT`).
    """

    def __init__(
        self,
        model: HookedModel,
        config: RunConfig | None = None,
        *,
        fmt: PromptFormat | None = None,
    ) -> None:
        if config is not None and not isinstance(config, RunConfig):
            raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
        if fmt is not None and not isinstance(fmt, PromptFormat):
            raise TypeError(f"fmt must be a PromptFormat, got {type(fmt).__name__}")
        for attr in ("cfg", "run_with_hooks", "tokenizer"):
            if not hasattr(model, attr):
                raise TypeError(
                    f"model has no {attr!r}: pass a TransformerLens model "
                    "(HookedTransformer or TransformerBridge)"
                )
        self.model = model
        self.config = config or RunConfig()
        self.fmt: PromptFormat = fmt or DEFAULT_FORMAT
        self._facts: dict[tuple[str, Any], Any] = {}
        check_device(self.config.device, model)

    @classmethod
    def bind(
        cls, model: HookedModel, run: RunArg = None, fmt: PromptFormat | None = None
    ) -> Runner:
        """The Runner a public function uses: ``run`` itself, or a new one for ``model``.

        ``fmt=None`` keeps ``run``'s format (the default format for a new Runner); another
        format gives :meth:`with_format` of ``run``.

        Raises:
            ValueError: ``run`` is a Runner bound to another model.
            TypeError: ``run`` is neither a :class:`RunConfig` nor a Runner.
        """
        if isinstance(run, Runner):
            if run.model is not model:
                raise ValueError(
                    "run= is a Runner bound to another model; pass Runner(model) for this "
                    "model, or a RunConfig"
                )
            return run if fmt is None else run.with_format(fmt)
        if run is not None and not isinstance(run, RunConfig):
            raise TypeError(f"run= must be a RunConfig or a Runner, got {type(run).__name__}")
        return cls(model, run or RunConfig(), fmt=fmt)

    def with_format(self, fmt: PromptFormat) -> Runner:
        """This Runner reading prompts in ``fmt``: same model, config and model facts."""
        if fmt == self.fmt:
            return self
        twin = Runner(self.model, self.config, fmt=fmt)
        twin._facts = self._facts  # facts are of the model, not of the format
        return twin

    # ---- model facts -----------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        """``model.cfg.n_layers``."""
        return int(self.model.cfg.n_layers)

    @property
    def d_model(self) -> int:
        """``model.cfg.d_model``."""
        return int(self.model.cfg.d_model)

    @property
    def device(self) -> torch.device:
        """The device batches are sent to (the model's)."""
        return model_device(self.model)

    def _fact(self, key: str, compute: Callable[[], Any]) -> Any:
        params = getattr(self.model, "parameters", None)
        first = next(iter(params()), None) if params is not None else None
        signature = (key, None if first is None else (first.dtype, first.device))
        if signature not in self._facts:
            self._facts[signature] = compute()
        return self._facts[signature]

    @property
    def norm_hook(self) -> str | None:
        """The hook after the final norm where logits are narrowed to the arrow."""
        return self._fact("norm_hook", lambda: _compat.final_norm_hook(self.model))

    @property
    def max_packed_width(self) -> int | None:
        """The longest packed row that computes exactly (context and sliding window)."""
        limits = [x for x in (_compat.n_ctx(self.model), _compat.sliding_window(self.model)) if x]
        return min(limits) if limits else None

    @property
    def packing(self) -> PackingVerdict:
        """Whether packing is exact on this model: a structural check, then a probe."""
        return self._fact("packing", lambda: probe_packing(self))

    def check_hooks(self, hooks: Sequence[HookPair]) -> list[HookPair]:
        """``hooks`` as a list, each name checked to be one of the model's hook points."""
        out = list(hooks)
        check_hook_points(self.model, [name for name, _ in out], self._fact("hook_names", dict))
        return out

    @property
    def packs(self) -> bool:
        """Whether prompts sharing a prefix are packed, after ``config.method``.

        Raises:
            ValueError: ``method="packed"`` on a model where packing is not exact (saying why).
        """
        method = self.config.method
        return method != "batched" and packing_used(method, self.packing)

    @property
    def greedy(self) -> GreedyVerdict:
        """How greedy tokens are found (``config.argmax``, :mod:`tvlens.engine.greedy`)."""
        return self._fact("greedy", lambda: probe_greedy(self))

    # ---- tokenization ----------------------------------------------------------------
    def tokenize(self, texts: Sequence[str], fmt: PromptFormat | None = None) -> PromptBatch:
        """A padded batch with each row's arrow position (right padding).

        Every prompt must end with the arrow of ``fmt`` (``None``: the Runner's), so
        that the position every verb reads or patches is the arrow, never some other last
        token.

        Raises:
            ValueError: a prompt that does not end with the arrow (pass ``fmt=`` for
                prompts of another format), or any error of :func:`tokenize_prompts`.
        """
        return tokenize_prompts(
            self.model, texts, fmt=fmt or self.fmt, prepend_bos=self.config.prepend_bos
        )

    def token_ids(self, texts: Sequence[str], fmt: PromptFormat | None = None) -> list[list[int]]:
        """The unpadded token ids of each prompt, checked as :meth:`tokenize` does."""
        batch = self.tokenize(texts, fmt)
        return [batch.row_ids(i) for i in range(len(batch))]

    # ---- one pass --------------------------------------------------------------------
    def run(self, tokens: Tensor, fwd_hooks: Sequence[HookPair] = (), **kwargs: Any) -> Any:
        """``model.run_with_hooks(tokens, ...)`` with ``fwd_hooks`` registered as one
        (:func:`~tvlens.engine.fused_hooks.fuse_hooks`: same effect, cheaper on a bridge)."""
        hooks = fuse_hooks(self.model, fwd_hooks)
        return self.model.run_with_hooks(tokens, fwd_hooks=hooks, **kwargs)

    @torch.inference_mode()
    def logits(
        self, batch: PromptBatch, fwd_hooks: Sequence[HookPair] = (), *, greedy: bool = False
    ) -> Float[Tensor, "batch d_vocab"] | Int[Tensor, " batch"]:
        """Next-token logits at each row's arrow, computed only there; ``fwd_hooks`` added.
        ``greedy=True``: each row's greedy token instead (``[batch]``, :attr:`greedy`)."""
        device = self.device
        tokens, mask = batch.tokens.to(device), batch.attention_mask.to(device)
        positions = batch.positions.to(device)
        norm_hook = self.norm_hook
        fwd_hooks = self.check_hooks(fwd_hooks)
        un = self.greedy.unembedding if greedy else None
        if norm_hook is not None and un is not None:
            hooks, captured = greedy_hooks(un, positions, norm_hook)
            self.run(tokens, [*fwd_hooks, *hooks], attention_mask=mask)
            return captured.tokens()
        if norm_hook is not None:
            hooks = [*fwd_hooks, *logits_at_hooks(positions, norm_hook)]
            out = self.run(tokens, hooks, attention_mask=mask)[:, 0]
        else:
            out = self.run(tokens, fwd_hooks, attention_mask=mask)
            out = out[torch.arange(len(positions), device=device), positions]
        return out.argmax(-1) if greedy else out.float()

    @torch.inference_mode()
    def resid(
        self, batch: PromptBatch, layers: Sequence[int]
    ) -> Float[Tensor, "batch n_layers d_model"]:
        """``blocks.L.hook_resid_post`` at each row's arrow; the pass stops after the last."""
        device = self.device
        recorder = resid_extractor_hooks(batch.positions.to(device), layers, stop_after=True)
        with contextlib.suppress(StopForward):
            self.run(
                batch.tokens.to(device),
                self.check_hooks(recorder.hooks),
                attention_mask=batch.attention_mask.to(device),
            )
        return recorder.stacked().float()

    def _packed_run(self, packed: PackedBatch, hooks: Sequence[HookPair]) -> Any:
        device = self.device
        rules = attention_rule_hooks(packed.allow.to(device), self.n_layers)
        return self.run(
            packed.tokens.to(device),
            [*rules, *self.check_hooks(hooks)],
            **_compat.position_ids_kwargs(packed.position_ids.to(device)),
        )

    @torch.inference_mode()
    def packed_resid(
        self, packed: PackedBatch, layers: Sequence[int]
    ) -> Float[Tensor, "batch n_segments n_layers d_model"]:
        """The residual stream at every segment end of packed rows."""
        recorder = resid_extractor_hooks(packed.readout.to(self.device), layers, stop_after=True)
        with contextlib.suppress(StopForward):
            self._packed_run(packed, recorder.hooks)
        return recorder.stacked().float()

    @torch.inference_mode()
    def packed_logits(
        self, packed: PackedBatch, fwd_hooks: Sequence[HookPair] = (), *, greedy: bool = False
    ) -> Float[Tensor, "batch n_segments d_vocab"] | Int[Tensor, "batch n_segments"]:
        """Next-token logits at every segment end of packed rows (``greedy=True``: the
        greedy tokens, ``[batch, n_segments]``)."""
        norm_hook = self.norm_hook
        if norm_hook is None:
            raise ValueError("packing needs a final-norm hook to read logits at segment ends")
        readout = packed.readout.to(self.device)
        un = self.greedy.unembedding if greedy else None
        if un is not None:
            hooks, captured = greedy_hooks(un, readout, norm_hook)
            self._packed_run(packed, [*fwd_hooks, *hooks])
            return captured.tokens().view(readout.shape)
        out = self._packed_run(packed, [*fwd_hooks, *logits_at_hooks(readout, norm_hook)])
        return out.argmax(-1) if greedy else out.float()

    # ---- many prompts ----------------------------------------------------------------
    def resid_at_arrows(
        self,
        prompts: Sequence[str],
        layers: Sequence[int],
        fmt: PromptFormat | None = None,
        *,
        group_size: int = 1,
    ) -> Float[Tensor, "n n_layers d_model"]:
        """The residual stream after ``layers`` at each prompt's arrow; rows in input order.

        Consecutive runs of ``group_size`` prompts that share a prefix (an example's dummy
        prompts) are packed into one row where the Runner packs: the prefix runs once.
        """
        return resid_at_arrows(self, prompts, layers, fmt or self.fmt, group_size=group_size)

    def predict(
        self,
        prompts: Sequence[str],
        fmt: PromptFormat | None = None,
        *,
        patches: PromptPatches | None = None,
        group_size: int = 1,
        rows_per_pass: int | None = None,
        reduce: Callable[[Tensor, Sequence[int]], Tensor] = argmax_token,
    ) -> Predictions:
        """Next-token logits at each prompt's arrow, reduced (default: the greedy token).

        Args:
            prompts: prompts ending in the format's arrow.
            patches: one patch per prompt, applied at its arrow (a :class:`Patches`, a
                :class:`~tvlens.fv.heads.HeadPatches` or any :class:`PromptPatches`).
            group_size: consecutive runs of prompts sharing a prefix (the copies of one
                zero-shot prompt in the layer sweep), packed into one row where possible.
            rows_per_pass: prompts per unpacked pass (default ``config.batch_size``).
            reduce: maps ``([b, d_vocab] logits, prompt indices)`` to per-prompt values,
                so no pass keeps a whole vocabulary of logits per prompt.
        """
        return predict_at_arrows(
            self, prompts, fmt or self.fmt, patches, group_size, rows_per_pass, reduce
        )

    def record(
        self,
        prompts: Sequence[str],
        hook_names: Sequence[str],
        fmt: PromptFormat | None = None,
        *,
        patches: PromptPatches | None = None,
        logits: bool = False,
    ) -> ArrowActivations:
        """Any hooks' activations at each prompt's arrow, one pass per batch.

        The Runner's length-sorted batches of ``config.batch_size`` prompts; the arrow of
        each row is found from its attention mask, so the result does not depend on the
        batching or the padding side. Logits are computed at the arrows only.

        Args:
            prompts: prompts ending in the format's arrow.
            hook_names: hook points to read, e.g. ``"blocks.3.attn.hook_z"`` (``[n, n_heads,
                d_head]`` each) or ``"blocks.3.hook_resid_post"`` (``[n, d_model]``).
            patches: one patch per prompt at its arrow; its hooks run before the
                recording ones, so a recorded hook that is also patched reads the patch.
            logits: also return the ``[n, d_vocab]`` next-token logits at the arrows.

        Raises:
            ValueError: no prompt or hook name, a hook the model lacks (named), or one
                laid out [batch, head, query, key] (``attn.hook_pattern``): not at a position.
            TypeError: ``hook_names`` is one string instead of a list.
        """
        return record_at_arrows(
            self, prompts, hook_names, fmt or self.fmt, patches=patches, logits=logits
        )

    batches = staticmethod(length_sorted_batches)

    # ---- generation (the decoding loops live in tvlens.engine.decoding) ---------------------
    @property
    def kv_cache(self) -> KVCacheVerdict:
        """Whether generation reuses a KV cache on this model: probed once against recompute."""
        return self._fact("kv_cache", lambda: probe_kv_cache(self))

    def generate(
        self,
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
        """Greedy continuations of prompts from their arrows, batched, hooks applied.

        Patch semantics: ``patches`` (one per prompt) replace or add to the residual after
        their layer at the **arrow** (from the attention mask, never ``-1``); generated
        tokens see θ through attention. ``at="arrow"`` (the paper) patches only the arrow,
        on every forward that computes it; ``at="all"`` also every generated position.
        A row stops after ``max_new_tokens``, at EOS, or once its text contains a stop
        string (default ``fmt.demo_sep``; ``stop=()``: none), then never changes.
        ``kv_cache``: ``None`` uses the cache where :attr:`kv_cache` found it exact, ``True``
        insists, ``False`` recomputes. ``fwd_hooks`` run after the patches on every step
        (with a cache a step's forward holds only the new token). ``rows_per_pass``: prompts
        decoded together (default ``config.generate_batch_size``).
        """
        return greedy_generate(
            self,
            prompts,
            fmt or self.fmt,
            patches=patches,
            at=at,
            max_new_tokens=max_new_tokens,
            stop=stop,
            kv_cache=kv_cache,
            padding_side=padding_side,
            fwd_hooks=fwd_hooks,
            rows_per_pass=rows_per_pass,
        )


RunArg = RunConfig | Runner | None
"""What ``run=`` takes: a :class:`RunConfig`, a :class:`Runner` of the model, or ``None``."""
