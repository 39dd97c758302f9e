"""Scorers: how a method's run on some examples becomes predictions and scores.

* :class:`NextToken`: the greedy next token at the arrow against the answer's token
  (single-token answers; an answer of several tokens is refused, or scored on its first
  token with ``first_token=True``, then named first-token accuracy). Gives a
  :class:`~tvlens.evaluation.results.ModeResult` at one layer and a
  :class:`~tvlens.evaluation.results.LayerSweepResult` over layers.
* :class:`Generation`: greedy generation (:meth:`tvlens.Runner.generate`) scored by
  exact match, first token, token F1 and within k tokens
  (:mod:`tvlens.evaluation.answer_scoring`). Gives a
  :class:`~tvlens.evaluation.answer_scoring.GenerationResult` at one layer and
  ``{layer: GenerationResult}`` over layers.

A scorer gets the rows the sweep built (one prompt per ``(example, layer)``, example-major,
with their patches) and decides how to run them: :class:`NextToken` packs each example's
copies as one group where the Runner packs; both run ``sweep_batch_size`` rows per pass in
a sweep and ``batch_size`` at one layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

from tvlens._example import ICLExample
from tvlens.engine.decoding import At, Generations, check_generation_args
from tvlens.engine.patches import Patches, PromptPatches, StepPatches
from tvlens.engine.runner import Runner
from tvlens.evaluation.answer_scoring import (
    GeneratedPrediction,
    GenerationResult,
    as_stops,
    score_answer,
)
from tvlens.evaluation.results import LayerSweepResult, ModeResult
from tvlens.evaluation.scoring import answer_ids, mode_result, sweep_result
from tvlens.prompts import PromptFormat, answer_token_ids

One_co = TypeVar("One_co", covariant=True)
Many_co = TypeVar("Many_co", covariant=True)


@dataclass(frozen=True)
class Rows:
    """What a scorer runs: ``texts[r]`` patched by row ``r`` of ``patches``.

    Rows are example-major: row ``i * len(layers) + j`` is ``examples[i]`` at ``layers[j]``
    (``layers`` is ``(None,)`` for a method with no patch).
    """

    name: str
    examples: Sequence[ICLExample]
    texts: list[str]
    patches: PromptPatches | None
    layers: tuple[int | None, ...]


@runtime_checkable
class Scorer(Protocol[One_co, Many_co]):
    """What :func:`tvlens.evaluation.sweep.sweep` and ``run_method`` ask of a scorer."""

    def check(self, runner: Runner, examples: Sequence[ICLExample]) -> None:
        """Refuse examples this scorer cannot score (before any forward pass)."""
        ...

    def score(self, runner: Runner, rows: Rows) -> One_co:
        """Run and score rows at one layer (``batch_size`` rows per pass)."""
        ...

    def score_sweep(self, runner: Runner, rows: Rows) -> Many_co:
        """Run and score rows at many layers (``sweep_batch_size`` rows per pass)."""
        ...


@dataclass(frozen=True)
class NextToken:
    """The next token at the arrow against the answer's (only) token.

    Attributes:
        first_token: score the answer's first token (first-token accuracy) instead of
            refusing an answer of several tokens.
    """

    first_token: bool = False

    def check(self, runner: Runner, examples: Sequence[ICLExample]) -> None:
        """Refuse an answer of several tokens (unless ``first_token``) or of none."""
        answer_ids(runner.model, examples, runner.fmt, first_token=self.first_token)

    def score(self, runner: Runner, rows: Rows) -> ModeResult:
        """One :class:`Prediction` per example."""
        answers = answer_ids(runner.model, rows.examples, runner.fmt, first_token=self.first_token)
        predicted = runner.predict(rows.texts, patches=rows.patches)
        return mode_result(runner, rows.name, rows.examples, predicted, answers, rows.layers[0])

    def score_sweep(self, runner: Runner, rows: Rows) -> LayerSweepResult:
        """Accuracy per layer; each example's copies packed as one group where possible."""
        answers = answer_ids(runner.model, rows.examples, runner.fmt, first_token=self.first_token)
        n, k = len(rows.examples), len(rows.layers)
        predicted = runner.predict(
            rows.texts,
            patches=rows.patches,
            group_size=k,
            rows_per_pass=runner.config.sweep_batch_size,
        )
        swept = [int(la) for la in rows.layers if la is not None]
        return sweep_result(rows.examples, swept, predicted.values.reshape(n, k), answers)


@dataclass(frozen=True)
class Generation:
    """Greedy generation of up to ``max_new_tokens``, scored by text.

    Attributes:
        max_new_tokens: the most tokens generated per example.
        at: ``"arrow"`` patches only the arrow (the paper); ``"all"`` also every generated
            position.
        stop: stop string(s); ``None``: the format's demo separator.
        padding_side: how prompts of a pass are padded (the result is the same either way).
    """

    max_new_tokens: int = 8
    at: At = "arrow"
    stop: str | Sequence[str] | None = field(default=None)
    padding_side: str = "right"

    def __post_init__(self) -> None:
        check_generation_args(self.max_new_tokens, self.at)
        if self.padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {self.padding_side!r}")
        if self.stop is not None:
            object.__setattr__(self, "stop", as_stops(self.stop))

    def stops(self, fmt: PromptFormat) -> tuple[str, ...]:
        """The stop strings under ``fmt``."""
        return as_stops(fmt.demo_sep if self.stop is None else self.stop)

    def check(self, runner: Runner, examples: Sequence[ICLExample]) -> None:
        """Nothing to refuse: answers of any length are generated."""

    def _generate(self, runner: Runner, rows: Rows, rows_per_pass: int | None) -> Generations:
        if rows.patches is not None and not isinstance(rows.patches, (Patches, StepPatches)):
            raise TypeError(
                f"generation patches the residual: the method must return Patches or "
                f"StepPatches, got "
                f"{type(rows.patches).__name__}; score it with NextToken() instead"
            )
        return runner.generate(
            rows.texts,
            patches=rows.patches,
            at=self.at,
            max_new_tokens=self.max_new_tokens,
            stop=self.stops(runner.fmt),
            padding_side=self.padding_side,
            rows_per_pass=rows_per_pass,
        )

    def score(self, runner: Runner, rows: Rows) -> GenerationResult:
        """One :class:`GeneratedPrediction` per example."""
        gens = self._generate(runner, rows, None)
        return self._result(runner, rows, gens, rows.layers[0])

    def score_sweep(self, runner: Runner, rows: Rows) -> dict[int, GenerationResult]:
        """``{layer: result}``: all rows decoded together, ``sweep_batch_size`` per pass."""
        gens = self._generate(runner, rows, runner.config.sweep_batch_size)
        k = len(rows.layers)
        out = {}
        for j, layer in enumerate(rows.layers):
            sel = range(j, len(rows.texts), k)
            part = Generations(
                token_ids=tuple(gens.token_ids[r] for r in sel),
                texts=tuple(gens.texts[r] for r in sel),
                input_ids=tuple(gens.input_ids[r] for r in sel),
                stop_reasons=tuple(gens.stop_reasons[r] for r in sel),
                kv_cache=gens.kv_cache,
            )
            out[int(layer) if layer is not None else -1] = self._result(runner, rows, part, layer)
        return out

    def _result(
        self, runner: Runner, rows: Rows, gens: Generations, layer: int | None
    ) -> GenerationResult:
        stops = self.stops(runner.fmt)
        # Normalization is the format's: cut at its separator as well as at the stop strings.
        cut = tuple(dict.fromkeys((runner.fmt.demo_sep, *stops)))
        tok, mode = runner.model.tokenizer, rows.name
        out = []
        for i, ex in enumerate(rows.examples):
            g = gens[i]
            ids = tuple(answer_token_ids(tok, ex.answer, runner.fmt))
            out.append(
                GeneratedPrediction(
                    mode=mode,
                    task=ex.task,
                    query=ex.query,
                    answer=ex.answer,
                    answer_token_ids=ids,
                    generated_token_ids=g.token_ids,
                    generated_text=g.text,
                    stop_reason=g.stop_reason,
                    score=score_answer(g.text, g.token_ids, ex.answer, ids, cut),
                    input_ids=g.input_ids,
                    demos=ex.demos if mode != "baseline" else (),
                    dummy_queries=ex.dummy_queries if mode == "hypothesis" else (),
                    layer=layer,
                )
            )
        at = self.at if rows.patches is not None else None
        return GenerationResult(mode, tuple(out), self.max_new_tokens, cut, layer, at)
