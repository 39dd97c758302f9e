"""Scoring one next token against one answer token, shared by the modes and the sweep.

An answer that is not exactly one token under the model's tokenizer and the format is
refused: it is never scored on its first token.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Int
from torch import Tensor

from tvlens._example import ICLExample
from tvlens.engine.patches import Predictions
from tvlens.engine.runner import Runner
from tvlens.evaluation.results import LayerSweepResult, ModeResult, Prediction
from tvlens.prompts import PromptFormat, answer_token_ids, single_answer_token
from tvlens.protocol import HookedModel


def answer_ids(
    model: HookedModel,
    examples: Sequence[ICLExample],
    fmt: PromptFormat,
    *,
    first_token: bool = False,
) -> Int[Tensor, " n"]:
    """The token each example is scored against: its answer, which must be one token.

    With ``first_token=True``, the first token of any answer: the metric is then named
    first-token accuracy (the generation modes report it beside exact match), never
    passed off as the answer's accuracy.

    Raises:
        ValueError: for an answer of several tokens (unless ``first_token``) or none.
    """
    if not first_token:
        ids = [single_answer_token(model.tokenizer, ex.answer, fmt) for ex in examples]
        return torch.tensor(ids, dtype=torch.long)
    out = []
    for ex in examples:
        toks = answer_token_ids(model.tokenizer, ex.answer, fmt)
        if not toks:
            raise ValueError(f"answer {ex.answer!r} of query {ex.query!r} tokenizes to nothing")
        out.append(toks[0])
    return torch.tensor(out, dtype=torch.long)


def check_example_list(examples: Sequence[ICLExample]) -> None:
    """Refuse an empty batch, a bare example, or items that are not examples.

    (Against a prompt format, examples are checked by :func:`tvlens.prompts.check_examples`.)
    """
    if isinstance(examples, ICLExample):
        raise TypeError("pass a list of ICLExample, not one example: [example]")
    if not isinstance(examples, Sequence) or isinstance(examples, str):
        raise TypeError(
            f"examples must be a list of ICLExample, got {type(examples).__name__}; "
            "pass list(...) for a generator"
        )
    if len(examples) == 0:
        raise ValueError("empty batch: pass at least one example")
    for i, ex in enumerate(examples):
        if not isinstance(ex, ICLExample):
            raise TypeError(f"examples[{i}] is a {type(ex).__name__}, not an ICLExample")


def mode_result(
    runner: Runner,
    mode: str,
    examples: Sequence[ICLExample],
    predicted: Predictions,
    answers: Tensor,
    layer: int | None = None,
) -> ModeResult:
    """Score greedy tokens against answer tokens, one :class:`Prediction` per example."""
    tok = runner.model.tokenizer
    out = []
    preds = predicted.values.tolist()
    rows = zip(examples, preds, answers.tolist(), predicted.input_ids, strict=True)
    for ex, p, a, ids in rows:
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


def sweep_result(
    examples: Sequence[ICLExample],
    swept: Sequence[int],
    preds: Int[Tensor, "n n_layers"],
    answers: Int[Tensor, " n"],
) -> LayerSweepResult:
    """Per-layer accuracy of greedy tokens ``preds`` against one answer token per example."""
    correct = preds == answers[:, None]
    tasks = {ex.task for ex in examples}
    return LayerSweepResult(
        task=tasks.pop() if len(tasks) == 1 else "mixed",
        layers=tuple(swept),
        accuracy=tuple(float(a) for a in correct.float().mean(0).tolist()),
        correct=correct,
        predicted_token_ids=preds,
    )
