"""Attention heads at the arrow: per-head hooks, mean head activations and head outputs.

The function-vector method (Todd et al. 2024, "Function Vectors in Large Language Models")
reads every attention head at the last ``->`` of clean ICL prompts and patches one head at a
time into corrupted prompts (:mod:`tvlens.fv.indirect_effect`). This module holds the pieces:
hooks that read or write one head's ``hook_z`` at one position per row (in
:mod:`tvlens.fv.head_patches`, re-exported here), the mean head activations over clean
prompts, and what each head adds to the residual stream.

What "a head's output" is (the vector a function vector sums):

* ``hook_z`` is the head's attention-weighted value, ``[n_heads, d_head]`` per position, one
  slice per **query** head. Under grouped-query attention (Gemma 3 270M: 4 query heads share
  1 key/value head) heads share keys and values but each query head has its own pattern,
  ``z`` and ``W_O`` slice, so a head is a query head here; nothing else changes.
* ``"pre_norm"``: ``z_h @ W_O[h]``, Todd et al.'s definition (the output projection applied
  to one head's slice). On a pre-norm model (Llama, SmolLM2, GPT-2) this is exactly what the
  head adds to the residual stream, since the attention output joins it as is.
* ``"residual"`` (the default): the head's additive share of ``hook_attn_out``, what the
  attention block adds to the residual stream. A model with a norm after attention (Gemma
  2/3's ``ln1_post``) adds ``g * a / rms(a)`` where ``a = sum_h z_h W_O[h] + b_O``; with the
  prompt's own ``rms(a)`` held fixed this is linear in ``a``, so head ``h`` contributes
  ``g * z_h W_O[h] / rms(a)``, and these contributions sum exactly to ``hook_attn_out``
  (checked on every call: :func:`mean_head_activations` raises where
  :attr:`HeadActivations.decomposition_error` exceeds :data:`DECOMPOSITION_TOLERANCE`).
  The mean over prompts is taken of these per-prompt contributions. On a pre-norm model it equals
  ``"pre_norm"``. Why: on Gemma 3 270M the norm multiplies a raw ``z W_O`` by ``g / rms(a)``,
  a gain that grows from ~0.6 (layer 0) to ~170 (layers 14-15) over an attention RMS of
  0.2-10, so a head's raw output (norm 2-15 in layers 2-17) is ~1/500 of the residual stream
  it would be added to (norm ~6000 at layer 9), while its contribution as it reaches the
  stream has norm 200-1200. A sum of raw outputs added at one layer changes nothing
  (measured: 0.00 zero-shot accuracy at every layer and k on to_upper), and it mixes heads
  whose real scales differ by two orders of magnitude.
* ``"mean_scale"``: ``g * mean(z_h W_O[h]) / mean(rms(a))``, one scale per layer instead of
  one per prompt; kept to measure how much the per-prompt scale matters (on Gemma 3 270M,
  to_upper / en_fr / country_capital / antonyms, k in 1..16: within .08 test accuracy of
  ``"residual"`` everywhere, so the per-prompt scale matters little; the norm's gain does).

The causal indirect effect patches ``hook_z`` itself (the mean ``z`` of a head), so the
model recomputes its own norm; the definitions above matter only for building the vector.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor

from tvlens import _compat
from tvlens._example import ICLExample
from tvlens.engine.batching import model_dtype
from tvlens.engine.config import RunConfig
from tvlens.engine.runner import Runner
from tvlens.evaluation.scoring import answer_ids, check_example_list
from tvlens.fv.head_patches import HeadPatches, head_patch_hooks
from tvlens.prompts import DEFAULT_FORMAT, PromptFormat, icl_prompts
from tvlens.protocol import HookedModel

__all__ = [
    "DECOMPOSITION_TOLERANCE",
    "HEAD_OUTPUTS",
    "Head",
    "HeadActivations",
    "HeadOutput",
    "HeadPatches",
    "arrow_activations",
    "check_decomposition",
    "head_patch_hooks",
    "mean_head_activations",
    "shuffle_labels",
]

HeadOutput = Literal["residual", "pre_norm", "mean_scale"]
HEAD_OUTPUTS: tuple[HeadOutput, ...] = ("residual", "pre_norm", "mean_scale")
Head = tuple[int, int]


# ---- corrupted prompts -----------------------------------------------------------------------
def shuffle_labels(
    examples: Sequence[ICLExample],
    seed: int = 0,
    *,
    pool: Sequence[str] | None = None,
) -> list[ICLExample]:
    """The examples with every demonstration's label made wrong (Todd et al.'s corruption).

    Each example's demonstration outputs are permuted so that no demonstration keeps a
    label equal to its own output (not only its own position: a label that repeats inside
    the demonstrations, e.g. ``"Asia"`` twice, cannot land on the other ``"Asia"``). Where
    no such permutation exists (one label fills more than half of the demonstrations), the
    demonstrations still labelled correctly get a label drawn from ``pool`` instead. Query,
    answer and dummy queries are kept. Deterministic for a seed; on demonstrations whose
    labels are all distinct the permutations are those of a plain derangement.

    Args:
        examples: the clean examples.
        seed: the random seed.
        pool: the outputs wrong labels may be drawn from (default: every demonstration
            output and answer of ``examples``, sorted).

    Raises:
        ValueError: for an example with fewer than 2 demonstrations, or one whose
            demonstrations cannot all be made wrong (``pool`` has no other output).

    Example:
        >>> ex = ICLExample(demos=(("a", "A"), ("b", "B")), query="c", answer="C")
        >>> [y for _, y in shuffle_labels([ex])[0].demos]
        ['B', 'A']
    """
    check_example_list(examples)
    if pool is None:
        pool = sorted({y for ex in examples for _, y in ex.demos} | {ex.answer for ex in examples})
    elif isinstance(pool, str) or not all(isinstance(y, str) for y in pool):
        raise TypeError(f"pool must be a list of output strings, got {pool!r}")
    rng = random.Random(seed)
    out = []
    for i, ex in enumerate(examples):
        n = ex.n_demos
        if n < 2:
            raise ValueError(
                f"example {i} has {n} demonstration(s); shuffling labels needs at least 2 "
                "(use n_demos >= 2, e.g. --n-demos 2)"
            )
        outputs = [y for _, y in ex.demos]
        labels = _wrong_labels(outputs, rng)
        for j, y in enumerate(labels):
            if y == outputs[j]:
                others = [p for p in pool if p != y]
                if not others:
                    raise ValueError(
                        f"example {i}: every label is {y!r} and pool holds no other output, "
                        "so no demonstration can be labelled wrong; pass pool= with the "
                        "task's other outputs"
                    )
                labels[j] = rng.choice(others)
        demos = tuple((x, labels[j]) for j, (x, _) in enumerate(ex.demos))
        out.append(replace(ex, demos=demos))
    return out


def _wrong_labels(outputs: list[str], rng: random.Random, tries: int = 1000) -> list[str]:
    """``outputs`` permuted so that position ``j`` holds a label other than ``outputs[j]``.

    Rejection sampling over random permutations (as a plain derangement draws them) while a
    such permutation exists, i.e. no label fills more than half of the positions; past
    ``tries``, or where none exists, the labels are rotated by the largest label count
    over the positions sorted by label, which makes every position wrong when one can.
    """
    n = len(outputs)
    most = max(outputs.count(y) for y in outputs)
    if 2 * most <= n:
        order = list(range(n))
        for _ in range(tries):
            if all(outputs[k] != outputs[j] for j, k in enumerate(order)):
                return [outputs[k] for k in order]
            rng.shuffle(order)
    ranked = sorted(range(n), key=lambda j: (outputs.index(outputs[j]), j))
    labels = list(outputs)
    for r, j in enumerate(ranked):
        labels[j] = outputs[ranked[(r + most) % n]]
    return labels


# ---- mean activations ------------------------------------------------------------------------
@dataclass(frozen=True)
class HeadActivations:
    """Mean head activations at the arrow over clean ICL prompts, and each head's output.

    Attributes:
        z: ``[n_layers, n_heads, d_head]`` mean ``hook_z`` (what the indirect effect patches).
        outputs: head output definition -> ``[n_layers, n_heads, d_model]`` mean output
            (see the module docstring for ``"residual"``, ``"pre_norm"``, ``"mean_scale"``).
        resid: ``[n_layers, d_model]`` mean ``hook_resid_post`` at the arrow (the
            "layer-average" baseline of the FV paper).
        clean_prob: ``[n]`` probability of the answer token on each clean prompt.
        clean_correct: ``[n]`` whether the greedy token was the answer.
        post_norm: whether the model has a norm between attention and the residual stream.
        decomposition_error: the largest relative error of ``sum_h output_h (+ bias)``
            against ``hook_attn_out`` at the arrows (``"residual"`` definition); ~1e-6.
        attn_scale: ``[n_layers]`` mean RMS of the attention output at the arrow, the
            post-attention norm's divisor (``None`` on a pre-norm model).
        examples: the clean examples averaged (their ICL prompts), in order.
    """

    model_name: str
    task: str
    z: Float[Tensor, "n_layers n_heads d_head"]
    outputs: dict[str, Tensor]
    resid: Float[Tensor, "n_layers d_model"]
    clean_prob: Float[Tensor, " n"]
    clean_correct: Tensor
    post_norm: bool
    decomposition_error: float
    n_key_value_heads: int
    prompt_format: PromptFormat = DEFAULT_FORMAT
    attn_scale: Float[Tensor, " n_layers"] | None = None
    examples: tuple[ICLExample, ...] = ()

    @property
    def n_layers(self) -> int:
        """Layers of the model."""
        return int(self.z.shape[0])

    @property
    def n_heads(self) -> int:
        """Query heads per layer."""
        return int(self.z.shape[1])

    @property
    def n_prompts(self) -> int:
        """Clean prompts averaged."""
        return int(self.clean_prob.shape[0])

    def head_outputs(self, kind: HeadOutput = "residual") -> Float[Tensor, "n_layers n_heads d"]:
        """The mean output of every head under definition ``kind``."""
        if kind not in self.outputs:
            raise ValueError(f"head output must be one of {HEAD_OUTPUTS}, got {kind!r}")
        return self.outputs[kind]


DECOMPOSITION_TOLERANCE = {torch.float32: 1e-3, torch.float64: 1e-6}
"""Largest relative error of the head decomposition accepted per dtype (others: 5e-2)."""


def check_decomposition(err: Float[Tensor, "n n_layers"], dtype: torch.dtype) -> None:
    """Refuse head outputs that do not sum to ``hook_attn_out`` (see the module docstring).

    Raises:
        RuntimeError: naming the layer, the error and the tolerance for ``dtype``.
    """
    tol = DECOMPOSITION_TOLERANCE.get(dtype, 5e-2)
    worst = float(err.max()) if err.numel() else 0.0
    if not worst <= tol:  # NaN fails too
        layer = int(err.max(0).values.argmax())
        raise RuntimeError(
            f"the heads' outputs do not sum to the attention output at the arrow (layer "
            f"{layer}: relative error {worst:.2e} > {tol:.0e} for {dtype}): tvlens cannot split "
            "this model's attention into heads, so its function vectors would be wrong; "
            "please report the model (its attention differs from z @ W_O [+ b_O], then norm)"
        )


def arrow_activations(
    runner: Runner,
    prompts: Sequence[str],
    fmt: PromptFormat,
    names: Sequence[str],
    answers: Int[Tensor, " n"],
) -> tuple[dict[str, Tensor], Float[Tensor, " n"], Tensor]:
    """Every hook in ``names`` at each prompt's arrow, with the answer's probability there.

    :meth:`Runner.record` with logits: one pass per batch, logits at the arrows only.
    Rows in input order.

    Returns:
        ``name -> [n, ...]`` activations (fp32, CPU), the ``[n]`` probability of
        ``answers[i]`` and the ``[n]`` bools "greedy token == answer".
    """
    acts = runner.record(prompts, names, fmt, logits=True)
    logits = acts.logits
    if logits is None:  # pragma: no cover - record(logits=True) always returns them
        raise RuntimeError("Runner.record returned no logits")
    prob = (logits.gather(1, answers[:, None])[:, 0] - logits.logsumexp(-1)).exp()
    correct = logits.argmax(-1) == answers
    return acts.values, prob, correct


def head_outputs(
    model: HookedModel,
    z: Float[Tensor, "n n_layers n_heads d_head"],
    attn_out: Float[Tensor, "n n_layers d_model"],
    scale: Float[Tensor, "n n_layers"] | None,
) -> tuple[dict[str, Tensor], Tensor | None, Tensor]:
    """Each head's mean output under the three definitions (see the module docstring).

    ``scale`` is the post-attention norm's divisor per prompt and layer (``None`` on a
    pre-norm model). Returns the outputs, the mean scale per layer (or ``None``) and the
    ``[n, n_layers]`` relative error of the decomposition, checked by
    :func:`check_decomposition` before it is returned.
    """
    layers = range(z.shape[1])
    w_o = torch.stack([_compat.head_out_weights(model, la).float().cpu() for la in layers])
    raw = torch.einsum("nlhd,lhdm->nlhm", z, w_o)  # z_h @ W_O[h], per prompt
    biases = [_compat.attn_out_bias(model, la) for la in layers]
    bias = torch.stack(
        [torch.zeros(w_o.shape[-1]) if b is None else b.float().cpu() for b in biases]
    )
    if scale is not None:
        gains = [_compat.post_attention_gain(model, la) for la in layers]
        gain = torch.stack([g.cpu() for g in gains if g is not None])  # [L, d_model]
        factor = gain[None] / scale[..., None]  # [n, L, d_model]
        contrib = raw * factor[:, :, None]
        total = contrib.sum(2) + bias[None] * factor
        mean_scale = raw.mean(0) * (gain / scale.mean(0)[:, None])[:, None]
        attn_scale: Tensor | None = scale.mean(0)
    else:
        attn_scale = None
        contrib = raw
        total = raw.sum(2) + bias[None]
        mean_scale = raw.mean(0)
    err = (total - attn_out).norm(dim=-1) / attn_out.norm(dim=-1).clamp_min(1e-6)
    check_decomposition(err, model_dtype(model))
    outputs = {"residual": contrib.mean(0), "pre_norm": raw.mean(0), "mean_scale": mean_scale}
    return outputs, attn_scale, err


def mean_head_activations(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    fmt: PromptFormat | None = None,
    run: RunConfig | Runner | None = None,
    first_token: bool = False,
) -> HeadActivations:
    """Mean ``hook_z``, head outputs and residual at the arrow of clean ICL prompts ``S + x ->``.

    All layers come from one pass per batch (``hook_z``, ``hook_attn_out``,
    ``hook_resid_post`` and, on a post-norm model, the norm's scale, read at the arrow only).

    Args:
        examples: clean examples (their demonstrations and query make the prompt).
        run: a :class:`RunConfig` or a :class:`Runner` of ``model``.
        first_token: score each clean prompt on its answer's first token (answers of
            several tokens, as under ``--answers any``); by default an answer is one token.

    Example:
        >>> acts = mean_head_activations(model, examples)  # doctest: +SKIP
        >>> acts.z.shape, acts.head_outputs("residual").shape  # doctest: +SKIP
        (torch.Size([18, 4, 256]), torch.Size([18, 4, 640]))
    """
    check_example_list(examples)
    runner = Runner.bind(model, run, fmt)
    fmt = runner.fmt
    post_norm = _compat.post_attention_norm(model, 0) is not None
    templates = {
        "z": _compat.HOOK_Z_TEMPLATE,
        "attn_out": _compat.ATTN_OUT_TEMPLATE,
        "resid": _compat.RESID_POST_TEMPLATE,
        **({"scale": _compat.POST_ATTN_SCALE_TEMPLATE} if post_norm else {}),
    }
    names = {k: [t.format(layer=la) for la in range(runner.n_layers)] for k, t in templates.items()}
    answers = answer_ids(model, examples, fmt, first_token=first_token)
    values, prob, correct = arrow_activations(
        runner, icl_prompts(examples, fmt), fmt, [n for ns in names.values() for n in ns], answers
    )
    # every hook as [n, n_layers, ...]: z [n, L, H, d_head], attn_out and resid [n, L, d_model]
    got = {k: torch.stack([values[nm] for nm in ns], 1) for k, ns in names.items()}
    scale = got["scale"].reshape(len(examples), -1) if post_norm else None
    outputs, attn_scale, err = head_outputs(model, got["z"], got["attn_out"], scale)
    z = got["z"]
    tasks = {ex.task for ex in examples}
    return HeadActivations(
        model_name=_compat.model_name(model),
        task=tasks.pop() if len(tasks) == 1 else "mixed",
        z=z.mean(0),
        outputs=outputs,
        resid=got["resid"].mean(0),
        clean_prob=prob,
        clean_correct=correct,
        post_norm=post_norm,
        decomposition_error=float(err.max()),
        n_key_value_heads=_compat.n_key_value_heads(model),
        prompt_format=fmt,
        attn_scale=attn_scale,
        examples=tuple(examples),
    )
