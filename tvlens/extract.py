"""Task-vector extraction: θ(S) from runs on ``S + x' ->`` with dummy queries."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._compat import RESID_POST_TEMPLATE, model_name
from tvlens._example import ICLExample
from tvlens.hooks import check_layer
from tvlens.packing import Method, fits, pack, use_packing
from tvlens.prompts import (
    DEFAULT_FORMAT,
    PaddingSide,
    PromptFormat,
    dummy_prompts,
    pad_token_id,
    prompt_ids,
)
from tvlens.protocol import HookedModel
from tvlens.runner import chunks, packed_forward, resid_for_texts
from tvlens.vectors import TaskVector


def _check_examples(examples: Sequence[ICLExample]) -> None:
    if len(examples) == 0:
        raise ValueError("empty batch: pass at least one ICLExample")


def extract_thetas(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    fmt: PromptFormat = DEFAULT_FORMAT,
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
    prepend_bos: bool | None = None,
    padding_side: PaddingSide = "right",
    method: Method = "auto",
) -> Float[Tensor, "n_examples n_layers d_model"]:
    """θ(S) of every example at every layer (or at ``layers``), as one tensor.

    θ(S) at layer L is the mean over the example's dummy queries x' of
    ``blocks.L.hook_resid_post`` at the arrow of ``S + x' ->``. All layers come from one
    batched pass per batch of prompts, which stops after the last layer asked for.

    ``method="packed"`` (the default ``"auto"`` where the model supports it) runs the
    demonstrations S of an example once and its dummy queries as segments after it
    (:mod:`tvlens.packing`): same values, less compute. ``"batched"`` runs every
    ``S + x' ->`` prompt separately.
    """
    _check_examples(examples)
    texts = dummy_prompts(examples, fmt)
    n_layers = int(model.cfg.n_layers)
    wanted = list(range(n_layers)) if layers is None else [check_layer(x, n_layers) for x in layers]
    if use_packing(model, method) and len({len(ex.dummy_queries) for ex in examples}) == 1:
        k = len(examples[0].dummy_queries)
        packed = _packed_thetas(model, texts, k, fmt, wanted, batch_size, prepend_bos)
        if packed is not None:
            return packed
    resid = resid_for_texts(
        model,
        texts,
        wanted,
        fmt=fmt,
        batch_size=batch_size,
        prepend_bos=prepend_bos,
        padding_side=padding_side,
    )
    out, start = [], 0
    for ex in examples:
        k = len(ex.dummy_queries)
        out.append(resid[start : start + k].mean(0))
        start += k
    return torch.stack(out)


def _packed_thetas(
    model: HookedModel,
    texts: list[str],
    n_dummy: int,
    fmt: PromptFormat,
    layers: list[int],
    batch_size: int,
    prepend_bos: bool | None,
) -> Tensor | None:
    """θ per example from packed rows (S once, dummies as segments); ``None`` if too long.

    ``texts`` are the dummy prompts, ``n_dummy`` consecutive ones per example.
    """
    ids = prompt_ids(model, texts, fmt, prepend_bos)
    rows = [ids[i : i + n_dummy] for i in range(0, len(ids), n_dummy)]
    pad = pad_token_id(model.tokenizer)
    out = []
    # A packed row holds all of an example's prompts: twice the rows per pass still holds
    # fewer tokens than the unpacked batch, and each pass pays a fixed cost per hook.
    for sl in chunks(len(rows), 2 * batch_size):
        packed = pack(rows[sl], pad)
        if not fits(model, packed.tokens.shape[1]):
            return None
        resid = packed_forward(model, packed, resid_layers=layers)  # [b, k, layers, d]
        out.append(resid.mean(1).cpu())
    return torch.cat(out)


def extract_task_vectors(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    fmt: PromptFormat = DEFAULT_FORMAT,
    batch_size: int = 16,
    prepend_bos: bool | None = None,
    padding_side: PaddingSide = "right",
    seed: int | None = None,
) -> list[TaskVector]:
    """One :class:`TaskVector` (all layers) per example; average with ``TaskVector.mean``.

    Args:
        model: a ``HookedTransformer`` or ``TransformerBridge`` (any :class:`HookedModel`).
        examples: examples with demonstrations and dummy queries.
        fmt: the prompt format.
        batch_size: prompts per forward pass.
        prepend_bos: lead prompts with the sink token (``None``: model default).
        padding_side: padding side; results do not depend on it.
        seed: recorded in the vectors' provenance.

    Example:
        >>> examples = get_task("to_upper").sample(20, n_demos=5, seed=0)  # doctest: +SKIP
        >>> theta = TaskVector.mean(extract_task_vectors(model, examples))  # doctest: +SKIP
        >>> theta.at(9).vector.shape  # doctest: +SKIP
        torch.Size([640])
    """
    thetas = extract_thetas(
        model,
        examples,
        fmt=fmt,
        batch_size=batch_size,
        prepend_bos=prepend_bos,
        padding_side=padding_side,
    )
    name = model_name(model)
    return [
        TaskVector(
            vector=theta,
            model_name=name,
            d_model=int(model.cfg.d_model),
            n_layers=int(model.cfg.n_layers),
            hook_template=RESID_POST_TEMPLATE,
            prompt_format=fmt,
            task=ex.task,
            n_demos=ex.n_demos,
            n_dummy=len(ex.dummy_queries),
            n_examples=1,
            seed=seed,
        )
        for theta, ex in zip(thetas, examples, strict=True)
    ]


def task_vector(
    model: HookedModel,
    examples: Sequence[ICLExample],
    **kwargs: object,
) -> TaskVector:
    """The task-level θ: the mean of :func:`extract_task_vectors` over many S."""
    return TaskVector.mean(extract_task_vectors(model, examples, **kwargs))  # type: ignore[arg-type]
