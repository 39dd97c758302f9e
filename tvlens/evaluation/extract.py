"""Task-vector extraction: θ(S) from runs on ``S + x' ->`` with dummy queries."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._compat import RESID_POST_TEMPLATE, model_name
from tvlens._example import ICLExample
from tvlens.engine.runner import RunArg, Runner
from tvlens.evaluation.scoring import check_example_list
from tvlens.hooks import check_layer
from tvlens.prompts import PromptFormat, dummy_prompts
from tvlens.protocol import HookedModel
from tvlens.vectors import TaskVector


def extract_thetas(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    fmt: PromptFormat | None = None,
    layers: Sequence[int] | None = None,
    run: RunArg = None,
) -> Float[Tensor, "n_examples n_layers d_model"]:
    """θ(S) of every example at every layer (or at ``layers``), as one tensor.

    θ(S) at layer L is the mean over the example's dummy queries x' of
    ``blocks.L.hook_resid_post`` at the arrow of ``S + x' ->``. All layers come from one
    pass per batch of prompts, which stops after the last layer asked for. Where the
    Runner packs, an example's demonstrations S run once and its dummy queries follow as
    segments (:mod:`tvlens.engine.packing`): same values, less compute.

    Args:
        fmt: the prompt format (``None``: ``run``'s, else the default format).
        layers: the layers to read (default: all).
        run: a :class:`RunConfig` or a :class:`Runner` of ``model``.
    """
    return thetas_on(Runner.bind(model, run, fmt), examples, layers)


def thetas_on(
    runner: Runner, examples: Sequence[ICLExample], layers: Sequence[int] | None = None
) -> Float[Tensor, "n_examples n_layers d_model"]:
    """:func:`extract_thetas` on a Runner (its model and prompt format)."""
    check_example_list(examples)
    fmt = runner.fmt
    texts = dummy_prompts(examples, fmt)
    n_layers = runner.n_layers
    wanted = list(range(n_layers)) if layers is None else [check_layer(x, n_layers) for x in layers]
    sizes = [len(ex.dummy_queries) for ex in examples]
    uniform = len(set(sizes)) == 1
    resid = runner.resid_at_arrows(texts, wanted, fmt, group_size=sizes[0] if uniform else 1)
    if uniform:
        return resid.unflatten(0, (len(examples), sizes[0])).mean(1)
    return torch.stack([part.mean(0) for part in resid.split(sizes)])


def extract_task_vectors(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    fmt: PromptFormat | None = None,
    run: RunArg = None,
    seed: int | None = None,
) -> list[TaskVector]:
    """One :class:`TaskVector` (all layers) per example; average with ``TaskVector.mean``.

    Args:
        model: a ``HookedTransformer`` or ``TransformerBridge`` (any :class:`HookedModel`).
        examples: examples with demonstrations and dummy queries.
        fmt: the prompt format (``None``: ``run``'s, else the default format).
        run: a :class:`RunConfig` or a :class:`Runner` of ``model``.
        seed: recorded in the vectors' provenance.

    Example:
        >>> examples = get_task("to_upper").sample(20, n_demos=5, seed=0)  # doctest: +SKIP
        >>> theta = TaskVector.mean(extract_task_vectors(model, examples))  # doctest: +SKIP
        >>> theta.at(9).vector.shape  # doctest: +SKIP
        torch.Size([640])
    """
    runner = Runner.bind(model, run, fmt)
    thetas = thetas_on(runner, examples)
    name = model_name(model)
    return [
        TaskVector(
            vector=theta,
            model_name=name,
            d_model=int(model.cfg.d_model),
            n_layers=int(model.cfg.n_layers),
            hook_template=RESID_POST_TEMPLATE,
            prompt_format=runner.fmt,
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
    *,
    fmt: PromptFormat | None = None,
    run: RunArg = None,
    seed: int | None = None,
) -> TaskVector:
    """The task-level θ: the mean of :func:`extract_task_vectors` over many S."""
    return TaskVector.mean(extract_task_vectors(model, examples, fmt=fmt, run=run, seed=seed))


def theta_rows(
    runner: Runner,
    examples: Sequence[ICLExample],
    layers: Sequence[int],
    vector: TaskVector | Tensor | None,
) -> tuple[Float[Tensor, "n n_layers d_model"], str]:
    """The θ patched into each example at each of ``layers``, and the hook it goes to.

    ``vector=None``: each example's own θ(S) (the paper), extracted once for all
    ``layers``; a :class:`TaskVector`: its θ at each layer for every example, at its own
    hook (checked against the model and the Runner's format); a ``[n, d_model]`` tensor:
    one θ per example at every layer; a ``[n, len(layers), d_model]`` tensor: θ already
    extracted.

    Raises:
        ValueError: an example without demos (for ``vector=None``), a vector of another
            model or prompt format, or a tensor of the wrong shape.
    """
    n, k, d = len(examples), len(layers), runner.d_model
    if vector is None:
        for i, ex in enumerate(examples):
            if not ex.demos:
                raise ValueError(
                    f"example {i} ({ex.query!r}) has no demonstrations: a hypothesis run needs "
                    "demos to build θ(S), or pass vector="
                )
        return thetas_on(runner, examples, list(layers)), RESID_POST_TEMPLATE
    if isinstance(vector, TaskVector):
        vector.check_model(runner.model)
        fmt = runner.fmt
        if vector.prompt_format != fmt:
            raise ValueError(
                f"the task vector was extracted with prompt format {vector.prompt_format.name!r} "
                f"but these prompts use {fmt.name!r} ({vector.prompt_format} vs {fmt}); pass "
                "fmt=vector.prompt_format or extract θ in this format"
            )
        rows = torch.stack([vector.tensor_at(la) for la in layers])
        return rows.expand(n, -1, -1), vector.hook_template
    if isinstance(vector, Tensor):
        if vector.dim() == 3:
            if tuple(vector.shape) != (n, k, d):
                raise ValueError(
                    "thetas must be [n_examples, n_layers_swept, d_model] = "
                    f"[{n}, {k}, {d}], got {tuple(vector.shape)}"
                )
            return vector, RESID_POST_TEMPLATE
        if tuple(vector.shape) != (n, d):
            raise ValueError(
                f"vector tensor must be [n_examples, d_model] = "
                f"[{n}, {d}], got {tuple(vector.shape)}"
            )
        return vector[:, None].expand(-1, k, -1), RESID_POST_TEMPLATE
    raise TypeError(f"vector must be a TaskVector, a tensor or None, got {type(vector).__name__}")
