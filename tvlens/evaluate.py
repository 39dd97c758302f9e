"""The paper's three modes (Regular, Hypothesis, Baseline) and the layer sweep.

Scoring: the greedy next token at the arrow against the first token of the answer as it
appears after the arrow (``fmt.answer(y)``, leading space included where the format puts
one). The task suite keeps only pairs whose answer is one token, so first token = answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from tvlens._example import ICLExample
from tvlens.extract import extract_thetas
from tvlens.hooks import PatchMode, check_layer, task_vector_hooks
from tvlens.packing import Method, fits, pack, use_packing
from tvlens.prompts import (
    DEFAULT_FORMAT,
    PaddingSide,
    PromptBatch,
    PromptFormat,
    answer_token_ids,
    icl_prompts,
    pad_token_id,
    prompt_ids,
    tokenize_prompts,
    zero_shot_prompts,
)
from tvlens.protocol import HookedModel, HookPair
from tvlens.runner import arrow_logits, chunks, length_sorted, packed_forward
from tvlens.vectors import TaskVector

Mode = Literal["regular", "hypothesis", "baseline"]


@dataclass(frozen=True)
class Prediction:
    """One scored prediction."""

    mode: str
    task: str
    query: str
    answer: str
    answer_token_id: int
    predicted_token_id: int
    predicted_token: str
    correct: bool
    input_ids: tuple[int, ...]
    demos: tuple[tuple[str, str], ...] = ()
    dummy_queries: tuple[str, ...] = ()
    layer: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "mode": self.mode,
            "task": self.task,
            "query": self.query,
            "answer": self.answer,
            "answer_token_id": self.answer_token_id,
            "predicted_token_id": self.predicted_token_id,
            "predicted_token": self.predicted_token,
            "correct": self.correct,
            "input_ids": list(self.input_ids),
            "demos": [list(d) for d in self.demos],
            "dummy_queries": list(self.dummy_queries),
            "layer": self.layer,
        }


def _frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ModeResult:
    """Predictions of one mode on a set of examples."""

    mode: str
    predictions: tuple[Prediction, ...]

    @property
    def accuracy(self) -> float:
        """Fraction of predictions whose next token equals the answer token."""
        if not self.predictions:
            return float("nan")
        return sum(p.correct for p in self.predictions) / len(self.predictions)

    def to_dataframe(self) -> Any:
        """A pandas DataFrame, one row per prediction."""
        return _frame([p.to_dict() for p in self.predictions])


@dataclass(frozen=True)
class LayerSweepResult:
    """Hypothesis accuracy per layer on a dev set.

    Attributes:
        layers: the layers swept.
        accuracy: accuracy per layer, aligned with ``layers``.
        correct: ``[n_examples, n_layers]`` per-example correctness.
        predicted_token_ids: ``[n_examples, n_layers]`` greedy next tokens.
    """

    task: str
    layers: tuple[int, ...]
    accuracy: tuple[float, ...]
    correct: Bool[Tensor, "n_examples n_layers"]
    predicted_token_ids: Int[Tensor, "n_examples n_layers"]

    @property
    def best_layer(self) -> int:
        """The layer with the highest accuracy; ties go to the earliest layer."""
        best = max(self.accuracy)
        return self.layers[self.accuracy.index(best)]

    @property
    def best_accuracy(self) -> float:
        """The accuracy at :attr:`best_layer`."""
        return max(self.accuracy)

    def to_dataframe(self) -> Any:
        """A DataFrame with columns ``task``, ``layer``, ``accuracy``."""
        return _frame(
            [
                {"task": self.task, "layer": la, "accuracy": a}
                for la, a in zip(self.layers, self.accuracy, strict=True)
            ]
        )


@dataclass(frozen=True)
class EvaluationResult:
    """The three modes on one task, at one layer."""

    task: str
    layer: int
    regular: ModeResult
    hypothesis: ModeResult
    baseline: ModeResult
    sweep: LayerSweepResult | None = field(default=None)

    @property
    def accuracies(self) -> dict[str, float]:
        """``{"baseline": .., "hypothesis": .., "regular": ..}``."""
        return {
            "baseline": self.baseline.accuracy,
            "hypothesis": self.hypothesis.accuracy,
            "regular": self.regular.accuracy,
        }

    def to_dataframe(self) -> Any:
        """All predictions of the three modes in one DataFrame."""
        rows = [
            p.to_dict()
            for mode in (self.regular, self.hypothesis, self.baseline)
            for p in mode.predictions
        ]
        return _frame(rows)


# ---- helpers ---------------------------------------------------------------------------
def answer_ids(
    model: HookedModel, examples: Sequence[ICLExample], fmt: PromptFormat
) -> Int[Tensor, " n"]:
    """The token each example is scored against: the answer's first token."""
    ids = []
    for ex in examples:
        toks = answer_token_ids(model.tokenizer, ex.answer, fmt)
        if not toks:
            raise ValueError(f"answer {ex.answer!r} of query {ex.query!r} tokenizes to nothing")
        ids.append(toks[0])
    return torch.tensor(ids, dtype=torch.long)


HookBuilder = Callable[[list[int], PromptBatch], list[HookPair]]


def _predict(
    model: HookedModel,
    texts: Sequence[str],
    *,
    fmt: PromptFormat,
    batch_size: int,
    prepend_bos: bool | None,
    padding_side: PaddingSide,
    hooks_for: HookBuilder | None = None,
) -> tuple[Int[Tensor, " n"], list[tuple[int, ...]]]:
    """Greedy next token at the arrow for each text, batched by length."""
    if len(texts) == 0:
        raise ValueError("empty batch: pass at least one example")
    preds = torch.empty(len(texts), dtype=torch.long)
    inputs: list[tuple[int, ...]] = [()] * len(texts)
    order = length_sorted([len(t) for t in texts])
    for sl in chunks(len(order), batch_size):
        idx = order[sl]
        batch = tokenize_prompts(
            model,
            [texts[i] for i in idx],
            fmt=fmt,
            prepend_bos=prepend_bos,
            padding_side=padding_side,
        )
        hooks = hooks_for(idx, batch) if hooks_for is not None else []
        logits = arrow_logits(model, batch, hooks)
        preds[torch.tensor(idx)] = logits.argmax(-1).cpu()
        for j, i in enumerate(idx):
            inputs[i] = tuple(batch.row_ids(j))
    return preds, inputs


def _mode_result(
    model: HookedModel,
    mode: str,
    examples: Sequence[ICLExample],
    preds: Tensor,
    inputs: list[tuple[int, ...]],
    answers: Tensor,
    layer: int | None = None,
) -> ModeResult:
    tok = model.tokenizer
    out = []
    for ex, p, a, ids in zip(examples, preds.tolist(), answers.tolist(), inputs, strict=True):
        out.append(
            Prediction(
                mode=mode,
                task=ex.task,
                query=ex.query,
                answer=ex.answer,
                answer_token_id=int(a),
                predicted_token_id=int(p),
                predicted_token=tok.decode([int(p)]),
                correct=int(p) == int(a),
                input_ids=ids,
                demos=ex.demos if mode != "baseline" else (),
                dummy_queries=ex.dummy_queries if mode == "hypothesis" else (),
                layer=layer,
            )
        )
    return ModeResult(mode=mode, predictions=tuple(out))


def _unpatched(
    model: HookedModel,
    mode: str,
    examples: Sequence[ICLExample],
    texts: Sequence[str],
    fmt: PromptFormat,
    batch_size: int,
    prepend_bos: bool | None,
    padding_side: PaddingSide,
) -> ModeResult:
    """Predictions of a mode without a patch (Regular or Baseline) on ``texts``."""
    preds, inputs = _predict(
        model,
        texts,
        fmt=fmt,
        batch_size=batch_size,
        prepend_bos=prepend_bos,
        padding_side=padding_side,
    )
    return _mode_result(model, mode, examples, preds, inputs, answer_ids(model, examples, fmt))


# ---- the three modes -------------------------------------------------------------------
def regular(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    fmt: PromptFormat = DEFAULT_FORMAT,
    batch_size: int = 16,
    prepend_bos: bool | None = None,
    padding_side: PaddingSide = "right",
) -> ModeResult:
    """Regular ICL: the next token of ``S + x ->``."""
    texts = icl_prompts(examples, fmt)
    return _unpatched(model, "regular", examples, texts, fmt, batch_size, prepend_bos, padding_side)


def baseline(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    fmt: PromptFormat = DEFAULT_FORMAT,
    batch_size: int = 16,
    prepend_bos: bool | None = None,
    padding_side: PaddingSide = "right",
) -> ModeResult:
    """Baseline: the next token of ``x ->`` with no demonstrations and no patch."""
    texts = zero_shot_prompts(examples, fmt)
    return _unpatched(
        model, "baseline", examples, texts, fmt, batch_size, prepend_bos, padding_side
    )


def hypothesis(
    model: HookedModel,
    examples: Sequence[ICLExample],
    layer: int,
    *,
    vector: TaskVector | Float[Tensor, "n d_model"] | None = None,
    fmt: PromptFormat = DEFAULT_FORMAT,
    mode: PatchMode = "replace",
    batch_size: int = 16,
    prepend_bos: bool | None = None,
    padding_side: PaddingSide = "right",
) -> ModeResult:
    """Hypothesis: the next token of ``x ->`` with θ patched at ``layer``, arrow position.

    Args:
        vector: ``None`` (default) uses each example's own θ(S) from its demos and dummy
            queries, as the paper does; a :class:`TaskVector` patches that one θ into
            every row; a ``[n, d_model]`` tensor gives one θ per example.
    """
    n_layers = int(model.cfg.n_layers)
    layer = check_layer(layer, n_layers)
    if len(examples) == 0:
        raise ValueError("empty batch: pass at least one example")
    thetas: Tensor
    if vector is None:
        for i, ex in enumerate(examples):
            if not ex.demos:
                raise ValueError(
                    f"example {i} ({ex.query!r}) has no demonstrations: a hypothesis run needs "
                    "demos to build θ(S), or pass vector="
                )
        thetas = extract_thetas(
            model,
            examples,
            fmt=fmt,
            layers=[layer],
            batch_size=batch_size,
            prepend_bos=prepend_bos,
            padding_side=padding_side,
        )[:, 0]
    elif isinstance(vector, TaskVector):
        vector.check_model(model)
        thetas = vector.tensor_at(layer).expand(len(examples), -1)
    else:
        thetas = vector
        if thetas.shape != (len(examples), int(model.cfg.d_model)):
            raise ValueError(
                f"vector tensor must be [n_examples, d_model] = "
                f"[{len(examples)}, {model.cfg.d_model}], got {tuple(thetas.shape)}"
            )

    def hooks_for(idx: list[int], batch: PromptBatch) -> list[HookPair]:
        return task_vector_hooks(thetas[idx], layer, batch.positions, mode=mode)

    preds, inputs = _predict(
        model,
        zero_shot_prompts(examples, fmt),
        fmt=fmt,
        batch_size=batch_size,
        prepend_bos=prepend_bos,
        padding_side=padding_side,
        hooks_for=hooks_for,
    )
    return _mode_result(
        model, "hypothesis", examples, preds, inputs, answer_ids(model, examples, fmt), layer
    )


# ---- layer sweep -----------------------------------------------------------------------
def layer_sweep(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    layers: Sequence[int] | None = None,
    fmt: PromptFormat = DEFAULT_FORMAT,
    thetas: Float[Tensor, "n n_layers d_model"] | None = None,
    batch_size: int = 16,
    sweep_batch_size: int = 1024,
    prepend_bos: bool | None = None,
    padding_side: PaddingSide = "right",
    method: Method = "auto",
) -> LayerSweepResult:
    """Hypothesis accuracy at every layer on a dev set; pick the best layer.

    θ(S) of every example comes from one extraction for all layers; then the zero-shot
    prompts, repeated once per layer, run as one batch in which each row is patched at
    its own layer, so the sweep costs a few forward passes, not ``n_examples * n_layers``.
    Where the model supports it (``method="auto"``/``"packed"``), each example is one row:
    ``x`` once, then one copy of the arrow per layer, each seeing only ``x`` and patched at
    its own layer (:mod:`tvlens.packing`); ``"batched"`` repeats the whole prompt per layer.

    Example:
        >>> sweep = layer_sweep(model, dev_examples)  # doctest: +SKIP
        >>> sweep.best_layer, sweep.best_accuracy  # doctest: +SKIP
        (9, 0.94)
    """
    if len(examples) == 0:
        raise ValueError("empty batch: pass at least one example")
    n_layers = int(model.cfg.n_layers)
    swept = list(range(n_layers)) if layers is None else [check_layer(x, n_layers) for x in layers]
    if not swept:
        raise ValueError("no layers to sweep")
    if thetas is None:
        thetas = extract_thetas(
            model,
            examples,
            fmt=fmt,
            layers=swept,
            batch_size=batch_size,
            prepend_bos=prepend_bos,
            padding_side=padding_side,
        )
    elif thetas.shape[:2] != (len(examples), len(swept)):
        raise ValueError(
            f"thetas must be [n_examples, n_layers_swept, d_model], got {tuple(thetas.shape)}"
        )
    answers = answer_ids(model, examples, fmt)
    texts = zero_shot_prompts(examples, fmt)
    preds_packed = None
    if use_packing(model, method):
        # A packed pass yields one logit vector per (example, layer): keep it near half
        # ``sweep_batch_size`` rows (28 examples x 18 layers of Gemma: ~0.5 GB of logits).
        per_pass = max(1, sweep_batch_size // (2 * len(swept)))
        preds_packed = _packed_sweep(model, texts, thetas, swept, fmt, prepend_bos, per_pass)
    if preds_packed is not None:
        return _sweep_result(examples, swept, preds_packed, answers)
    # Rows are (example, layer-slot) pairs, ordered so each batch holds similar lengths.
    order = length_sorted([len(t) for t in texts])
    rows = [(i, j) for i in order for j in range(len(swept))]
    layer_of = torch.tensor(swept, dtype=torch.long)
    preds = torch.empty(len(examples), len(swept), dtype=torch.long)
    for sl in chunks(len(rows), sweep_batch_size):
        chunk = rows[sl]
        ex_idx = torch.tensor([i for i, _ in chunk])
        slot = torch.tensor([j for _, j in chunk])
        batch = tokenize_prompts(
            model,
            [texts[i] for i, _ in chunk],
            fmt=fmt,
            prepend_bos=prepend_bos,
            padding_side=padding_side,
        )
        hooks = task_vector_hooks(thetas[ex_idx, slot], layer_of[slot], batch.positions)
        logits = arrow_logits(model, batch, hooks)
        preds[ex_idx, slot] = logits.argmax(-1).cpu()
    return _sweep_result(examples, swept, preds, answers)


def _sweep_result(
    examples: Sequence[ICLExample], swept: list[int], preds: Tensor, answers: Tensor
) -> LayerSweepResult:
    correct = preds == answers[:, None]
    acc = tuple(float(a) for a in correct.float().mean(0).tolist())
    tasks = {ex.task for ex in examples}
    return LayerSweepResult(
        task=tasks.pop() if len(tasks) == 1 else "mixed",
        layers=tuple(swept),
        accuracy=acc,
        correct=correct,
        predicted_token_ids=preds,
    )


def _packed_sweep(
    model: HookedModel,
    texts: list[str],
    thetas: Tensor,
    swept: list[int],
    fmt: PromptFormat,
    prepend_bos: bool | None,
    per_pass: int,
) -> Tensor | None:
    """Greedy tokens ``[n, len(swept)]`` from packed rows; ``None`` if rows do not fit."""
    ids = prompt_ids(model, texts, fmt, prepend_bos)
    pad = pad_token_id(model.tokenizer)
    preds = torch.empty(len(texts), len(swept), dtype=torch.long)
    for sl in chunks(len(texts), per_pass):
        packed = pack([[row] * len(swept) for row in ids[sl]], pad)
        if not fits(model, packed.tokens.shape[1]):
            return None
        hooks = [
            pair
            for j, layer in enumerate(swept)
            for pair in task_vector_hooks(thetas[sl, j], layer, packed.readout[:, j])
        ]
        preds[sl] = packed_forward(model, packed, hooks).argmax(-1).cpu()
    return preds


def evaluate(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    layer: int | None = None,
    dev_examples: Sequence[ICLExample] | None = None,
    baseline_examples: Sequence[ICLExample] | None = None,
    fmt: PromptFormat = DEFAULT_FORMAT,
    batch_size: int = 16,
    prepend_bos: bool | None = None,
    padding_side: PaddingSide = "right",
) -> EvaluationResult:
    """Regular, Hypothesis and Baseline accuracy on test examples.

    Args:
        examples: test examples (demos, query, answer, dummy queries).
        layer: the layer to patch θ at; ``None`` picks it with :func:`layer_sweep` on
            ``dev_examples`` (the paper's protocol).
        dev_examples: examples for the layer sweep when ``layer`` is ``None``.
        baseline_examples: queries for the Baseline (default: ``examples``).

    Example:
        >>> task = get_task("to_upper")  # doctest: +SKIP
        >>> dev, test = task.sample(50, seed=0), task.sample(50, seed=1)  # doctest: +SKIP
        >>> result = evaluate(model, test, dev_examples=dev)  # doctest: +SKIP
        >>> result.accuracies  # doctest: +SKIP
        {'baseline': 0.0, 'hypothesis': 0.9, 'regular': 1.0}
    """
    opts: dict[str, Any] = dict(
        fmt=fmt, batch_size=batch_size, prepend_bos=prepend_bos, padding_side=padding_side
    )
    sweep = None
    if layer is None:
        if not dev_examples:
            raise ValueError("pass layer= or dev_examples= (to choose the layer by a sweep)")
        sweep = layer_sweep(model, dev_examples, **opts)
        layer = sweep.best_layer
    layer = check_layer(layer, int(model.cfg.n_layers))
    tasks = {ex.task for ex in examples}
    return EvaluationResult(
        task=tasks.pop() if len(tasks) == 1 else "mixed",
        layer=layer,
        regular=regular(model, examples, **opts),
        hypothesis=hypothesis(model, examples, layer, **opts),
        baseline=baseline(model, baseline_examples or examples, **opts),
        sweep=sweep,
    )
