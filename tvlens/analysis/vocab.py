"""Vocabulary projection of task vectors (the paper's Section 6, a logit-lens view of θ).

θ is passed through the model's final normalization and unembedding; the top tokens of
the resulting distribution often name the task (e.g. capitals for ``country_capital``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from jaxtyping import Float, Int
from torch import Tensor

from tvlens._compat import final_norm, unembed
from tvlens.engine.batching import model_device, model_dtype
from tvlens.hooks import check_vectors
from tvlens.protocol import HookedModel
from tvlens.vectors import TaskVector


class TokenProb(NamedTuple):
    """One projected token: ``(token, token_id, prob)``."""

    token: str
    token_id: int
    prob: float


def _as_tensor(
    model: HookedModel, vector: TaskVector | Tensor, layer: int | None
) -> Float[Tensor, " d_model"]:
    d_model = int(model.cfg.d_model)
    if isinstance(vector, TaskVector):
        vector.check_model(model)
        if layer is None:
            if vector.layer is None:
                raise ValueError(
                    "this task vector holds all layers; pass layer= to choose one "
                    f"(0..{vector.n_layers - 1})"
                )
            return vector.vector
        return vector.tensor_at(layer)
    if not isinstance(vector, Tensor):
        raise TypeError(
            f"vector must be a TaskVector or a torch tensor, got {type(vector).__name__}"
        )
    check_vectors(vector)
    if vector.dim() != 1 or vector.shape[0] != d_model:
        raise ValueError(
            f"a raw vector must be [d_model] = [{d_model}], got shape {tuple(vector.shape)}"
        )
    return vector


def lens_logits(
    model: HookedModel, vectors: Float[Tensor, "n d_model"]
) -> Float[Tensor, "n d_vocab"]:
    """The logit lens of each row: ``unembed(final_norm(v))`` on the model's device and
    dtype, as float32 logits."""
    x = vectors.to(device=model_device(model), dtype=model_dtype(model))[:, None, :]
    return unembed(model, final_norm(model, x))[:, 0].float()


@torch.inference_mode()
def project_topk(
    model: HookedModel, vectors: Float[Tensor, "n d_model"], k: int
) -> tuple[Float[Tensor, "n k"], Int[Tensor, "n k"]]:
    """Top-``k`` probabilities and token ids of ``softmax(unembed(final_norm(v)))`` per row.

    Returns:
        ``(probs, ids)``, each ``[n, k]``, in descending probability.

    Raises:
        ValueError: if ``k`` is not in ``1..d_vocab``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    d_vocab = int(getattr(model.cfg, "d_vocab", 0) or 0)
    if d_vocab and k > d_vocab:
        raise ValueError(f"k={k} is larger than the vocabulary ({d_vocab} tokens)")
    logits = lens_logits(model, vectors)
    if k > logits.shape[-1]:
        raise ValueError(f"k={k} is larger than the vocabulary ({logits.shape[-1]} tokens)")
    probs = torch.softmax(logits, dim=-1)
    top = probs.topk(k, dim=-1)
    return top.values.cpu(), top.indices.cpu()


def vocab_projection(
    model: HookedModel,
    vector: TaskVector | Float[Tensor, " d_model"],
    layer: int | None = None,
    k: int = 20,
) -> list[TokenProb]:
    """The top-``k`` tokens of θ read through the final norm and the unembedding.

    Args:
        model: the model θ came from.
        vector: a :class:`TaskVector` (checked against ``model``) or a raw ``[d_model]``
            tensor.
        layer: the layer to read from an all-layer :class:`TaskVector` (required then);
            ignored for a raw tensor.
        k: how many tokens to return.

    Returns:
        ``k`` :class:`TokenProb` tuples ``(token, token_id, prob)`` with probabilities in
        descending order (a softmax over the full vocabulary, so they sum to at most 1).

    Raises:
        ValueError: if ``k`` exceeds the vocabulary (naming both), the vector holds all
            layers and ``layer`` is missing, or the vector is from another model.

    Example:
        >>> theta = task_vector(model, get_task("country_capital").sample(20))  # doctest: +SKIP
        >>> [t.token for t in vocab_projection(model, theta, layer=9, k=5)]  # doctest: +SKIP
        [' Paris', ' capital', ...]
    """
    tensor = _as_tensor(model, vector, layer)
    probs, ids = project_topk(model, tensor[None], k)
    decode = model.tokenizer.decode
    return [
        TokenProb(token=decode([int(i)]), token_id=int(i), prob=float(p))
        for p, i in zip(probs[0].tolist(), ids[0].tolist(), strict=True)
    ]


def vocab_table(
    model: HookedModel,
    vectors: Mapping[str, TaskVector | Float[Tensor, " d_model"]],
    layer: int | None = None,
    k: int = 10,
) -> Any:
    """Top-``k`` projected tokens of several task vectors, as one long pandas DataFrame.

    Columns: ``task``, ``rank`` (0 = most likely), ``token``, ``token_id``, ``prob``. All
    vectors are projected in one batch.
    """
    import pandas as pd

    if not vectors:
        raise ValueError("no vectors given; pass a mapping task -> TaskVector")
    names = list(vectors)
    stacked = torch.stack([_as_tensor(model, vectors[name], layer).cpu() for name in names])
    probs, ids = project_topk(model, stacked, k)
    decode = model.tokenizer.decode
    rows = [
        {
            "task": name,
            "rank": rank,
            "token": decode([int(i)]),
            "token_id": int(i),
            "prob": float(p),
        }
        for name, prow, irow in zip(names, probs.tolist(), ids.tolist(), strict=True)
        for rank, (p, i) in enumerate(zip(prow, irow, strict=True))
    ]
    return pd.DataFrame(rows)
