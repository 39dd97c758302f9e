"""Conflicting tasks (the paper's Section 5.2): θ of task B overrides demos of task A.

For a pair (A, B) whose inputs overlap, each prompt holds demonstrations of A and a query
``x`` valid for both tasks. The *Regular* run is that prompt as is; the *Conflicting* run
patches θ(S_B), read from B's own demonstrations, at the prompt's last arrow. Both runs
are scored against A's answer and against B's answer for ``x``. If θ carries the task,
the Conflicting run follows B.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jaxtyping import Int
from torch import Tensor

from tvlens._example import ICLExample
from tvlens.analysis._sampling import (
    examples_from_pairs,
    resolve_task,
    task_input_space,
    task_name,
    task_pairs,
)
from tvlens.engine.patches import Patches
from tvlens.engine.runner import RunArg, Runner
from tvlens.evaluation.extract import thetas_on
from tvlens.evaluation.methods import Method
from tvlens.evaluation.scorers import NextToken
from tvlens.evaluation.scoring import answer_ids
from tvlens.evaluation.sweep import sweep_on
from tvlens.hooks import check_layer
from tvlens.prompts import PromptFormat, answer_token_ids, icl_prompts
from tvlens.protocol import HookedModel

DEFAULT_CONFLICT_PAIRS: tuple[tuple[str, str], ...] = (
    ("next_letter", "to_upper"),
    ("list_last", "list_first"),
    ("prev_letter", "next_letter"),
    ("present_simple_past_simple", "present_simple_gerund"),
    ("en_es", "en_fr"),
)
"""The paper's five (A, B) pairs: demos of A, θ of B."""


def _frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class ConflictPairResult:
    """Regular and Conflicting runs of one (A, B) pair.

    Attributes:
        task_a: the task of the demonstrations.
        task_b: the task whose θ is patched.
        layer: the layer θ_B is patched at.
        dev_accuracy: B's Hypothesis accuracy at ``layer`` on its dev set (``None`` when
            the layer was given).
        examples_a: the prompts' examples: A demos, the shared query, A's answer.
        examples_b: one per prompt: B demos and dummy queries (θ_B is read from them),
            the same query, B's answer.
        answer_ids_a: ``[n]`` first token of each A answer.
        answer_ids_b: ``[n]`` first token of each B answer (always differs from A's).
        regular_ids: ``[n]`` greedy next token of the Regular run.
        conflicting_ids: ``[n]`` greedy next token of the Conflicting run.
    """

    task_a: str
    task_b: str
    layer: int
    dev_accuracy: float | None
    examples_a: tuple[ICLExample, ...]
    examples_b: tuple[ICLExample, ...]
    answer_ids_a: Int[Tensor, " n"]
    answer_ids_b: Int[Tensor, " n"]
    regular_ids: Int[Tensor, " n"]
    conflicting_ids: Int[Tensor, " n"]

    @property
    def queries(self) -> tuple[str, ...]:
        """The queries, each an input of both tasks."""
        return tuple(ex.query for ex in self.examples_a)

    @property
    def answers_a(self) -> tuple[str, ...]:
        """A's output for each query."""
        return tuple(ex.answer for ex in self.examples_a)

    @property
    def answers_b(self) -> tuple[str, ...]:
        """B's output for each query."""
        return tuple(ex.answer for ex in self.examples_b)

    @staticmethod
    def _acc(pred: Tensor, target: Tensor) -> float:
        return float((pred == target).float().mean())

    @property
    def regular_accuracy_a(self) -> float:
        """Regular run, scored against A (ICL follows the demonstrations)."""
        return self._acc(self.regular_ids, self.answer_ids_a)

    @property
    def regular_accuracy_b(self) -> float:
        """Regular run, scored against B."""
        return self._acc(self.regular_ids, self.answer_ids_b)

    @property
    def conflicting_accuracy_a(self) -> float:
        """Conflicting run (θ_B patched), scored against A."""
        return self._acc(self.conflicting_ids, self.answer_ids_a)

    @property
    def conflicting_accuracy_b(self) -> float:
        """Conflicting run (θ_B patched), scored against B."""
        return self._acc(self.conflicting_ids, self.answer_ids_b)

    def summary(self) -> dict[str, Any]:
        """One JSON-ready row: the pair, the layer and the four accuracies."""
        return {
            "task_a": self.task_a,
            "task_b": self.task_b,
            "layer": self.layer,
            "dev_accuracy": self.dev_accuracy,
            "n": len(self.queries),
            "regular_accuracy_a": self.regular_accuracy_a,
            "regular_accuracy_b": self.regular_accuracy_b,
            "conflicting_accuracy_a": self.conflicting_accuracy_a,
            "conflicting_accuracy_b": self.conflicting_accuracy_b,
        }

    def to_dataframe(self) -> Any:
        """One row per query with both answers and both runs' predicted token ids."""
        return _frame(
            [
                {
                    "task_a": self.task_a,
                    "task_b": self.task_b,
                    "query": q,
                    "answer_a": a,
                    "answer_b": b,
                    "answer_id_a": int(ia),
                    "answer_id_b": int(ib),
                    "regular_id": int(r),
                    "conflicting_id": int(c),
                }
                for q, a, b, ia, ib, r, c in zip(
                    self.queries,
                    self.answers_a,
                    self.answers_b,
                    self.answer_ids_a.tolist(),
                    self.answer_ids_b.tolist(),
                    self.regular_ids.tolist(),
                    self.conflicting_ids.tolist(),
                    strict=True,
                )
            ]
        )


@dataclass(frozen=True)
class ConflictResult:
    """All pairs of a conflicting-tasks experiment."""

    pairs: tuple[ConflictPairResult, ...]

    def __getitem__(self, key: tuple[str, str]) -> ConflictPairResult:
        """The result of pair ``(task_a, task_b)``."""
        for pair in self.pairs:
            if (pair.task_a, pair.task_b) == tuple(key):
                return pair
        raise KeyError(f"no pair {key!r}; pairs are {[(p.task_a, p.task_b) for p in self.pairs]}")

    def to_dataframe(self) -> Any:
        """One row per pair: tasks, layer, dev accuracy, ``n`` and the four accuracies."""
        return _frame([p.summary() for p in self.pairs])

    def predictions_dataframe(self) -> Any:
        """One row per query of every pair."""
        import pandas as pd

        return pd.concat([p.to_dataframe() for p in self.pairs], ignore_index=True)


def _shared_queries(
    model: HookedModel,
    pairs_a: list[tuple[str, str]],
    pairs_b: list[tuple[str, str]],
    name_a: str,
    name_b: str,
    fmt: PromptFormat,
    filtered_note: str = "",
) -> list[tuple[str, str, str]]:
    """``(x, A(x), B(x))`` for inputs of both tasks whose one-token answers differ.

    An input whose A or B answer is not a single token cannot be scored and is left out.
    """
    out_b = dict(pairs_b)
    common = [(x, y, out_b[x]) for x, y in pairs_a if x in out_b]
    if not common:
        raise ValueError(
            f"tasks {name_a!r} and {name_b!r} share no inputs{filtered_note}: a conflicting "
            "pair needs queries valid for both tasks"
        )
    tok = model.tokenizer
    kept = []
    for x, ya, yb in common:
        ids_a, ids_b = answer_token_ids(tok, ya, fmt), answer_token_ids(tok, yb, fmt)
        if len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b:
            kept.append((x, ya, yb))
    if not kept:
        raise ValueError(
            f"tasks {name_a!r} and {name_b!r} have no shared input whose answers are single, "
            "different tokens; the two runs cannot be told apart"
        )
    return kept


_Pairs = list[tuple[str, str]]


def _pair_data(
    model: HookedModel, task_a: Any, task_b: Any, fmt: PromptFormat
) -> tuple[tuple[str, _Pairs], tuple[str, _Pairs, list[str]], list[tuple[str, str, str]]]:
    """``(name, pairs)`` of task A, ``(name, pairs, input space)`` of task B, and their shared
    queries (each with A's and B's answer).

    Raises:
        ValueError: if the tasks share no usable input (naming both).
    """
    ta, tb = resolve_task(task_a, model, fmt), resolve_task(task_b, model, fmt)
    name_a, name_b = task_name(ta), task_name(tb)
    pairs_a, pairs_b = task_pairs(ta), task_pairs(tb)
    space_b = task_input_space(tb, pairs_b)
    # Names resolve to tasks kept to single-token answers; say so when that empties the overlap.
    filtered = any(getattr(t, "dropped", ()) for t in (ta, tb))
    note = " with single-token answers for this model's tokenizer" if filtered else ""
    shared = _shared_queries(model, pairs_a, pairs_b, name_a, name_b, fmt, note)
    return (name_a, pairs_a), (name_b, pairs_b, space_b), shared


def conflict_pair(
    model: HookedModel,
    task_a: Any,
    task_b: Any,
    *,
    n: int = 100,
    n_demos: int = 4,
    n_dummy: int = 2,
    n_dev: int = 50,
    layer: int | None = None,
    seed: int = 0,
    fmt: PromptFormat | None = None,
    run: RunArg = None,
) -> ConflictPairResult:
    """Regular vs Conflicting runs for one pair; see :func:`conflicting_tasks`.

    Raises:
        ValueError: if the tasks share no input (naming both), or every shared input
            gets the same answer token from both.
    """
    for name, value, low in (("n", n, 1), ("n_demos", n_demos, 1), ("n_dummy", n_dummy, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    runner = Runner.bind(model, run, fmt)
    fmt = runner.fmt
    (name_a, pairs_a), (name_b, pairs_b, space_b), shared = _pair_data(model, task_a, task_b, fmt)
    rng = random.Random(seed)
    draws = [rng.choice(shared) for _ in range(n)]
    queries = [x for x, _, _ in draws]
    a_examples = examples_from_pairs(
        pairs_a, n, n_demos=n_demos, n_dummy=0, rng=rng, task=name_a, queries=queries,
        answers=[ya for _, ya, _ in draws],
    )  # fmt: skip
    b_examples = examples_from_pairs(
        pairs_b, n, n_demos=n_demos, n_dummy=n_dummy, rng=rng, task=name_b, queries=queries,
        answers=[yb for _, _, yb in draws], dummy_space=space_b,
    )  # fmt: skip
    dev_accuracy = None
    if layer is None:
        dev = examples_from_pairs(
            pairs_b, n_dev, n_demos=n_demos, n_dummy=n_dummy, rng=rng, task=name_b,
            dummy_space=space_b,
        )  # fmt: skip
        sweep = sweep_on(runner, Method.hypothesis(), dev, NextToken())
        layer, dev_accuracy = sweep.best_layer, sweep.best_accuracy
    layer = check_layer(layer, runner.n_layers)
    theta_b = thetas_on(runner, b_examples, [layer])[:, 0]
    texts, patch_b = icl_prompts(a_examples, fmt), Patches.at_layer(theta_b, layer)
    return ConflictPairResult(  # keywords in the order they run: the passes, then the answers
        regular_ids=runner.predict(texts).values,
        conflicting_ids=runner.predict(texts, patches=patch_b).values,
        task_a=name_a,
        task_b=name_b,
        layer=layer,
        dev_accuracy=dev_accuracy,
        examples_a=tuple(a_examples),
        examples_b=tuple(b_examples),
        answer_ids_a=answer_ids(model, a_examples, fmt),
        answer_ids_b=answer_ids(model, b_examples, fmt),
    )


def conflicting_tasks(
    model: HookedModel,
    pairs: Sequence[tuple[Any, Any]] = DEFAULT_CONFLICT_PAIRS,
    *,
    n: int = 100,
    n_demos: int = 4,
    n_dummy: int = 2,
    n_dev: int = 50,
    layer: int | None = None,
    seed: int = 0,
    fmt: PromptFormat | None = None,
    run: RunArg = None,
) -> ConflictResult:
    """The conflicting-tasks experiment: does θ of B override demonstrations of A?

    For each ``(A, B)``: ``n`` prompts of ``n_demos`` A demonstrations and a query drawn,
    with replacement, from the inputs both tasks share (only inputs whose A and B answers
    start with different tokens). *Regular*: the prompt as is. *Conflicting*: θ(S_B)
    (from ``n_demos`` B demonstrations and ``n_dummy`` dummy queries, one S_B per prompt)
    replaces the residual at the prompt's last arrow, at the layer with the best
    Hypothesis accuracy on ``n_dev`` B dev examples (or at ``layer``); dev queries come
    from all of B's inputs, and the choice sees no A prompt. Examples are built from the
    tasks' ``.pairs`` with ``random.Random(seed)``, so any object with ``.name`` and
    ``.pairs`` works as a task; names are looked up in :mod:`tvlens.tasks` and kept to
    single-token answers for ``model``.

    Raises:
        ValueError: for a pair whose tasks share no input (naming both tasks).

    Example:
        >>> res = conflicting_tasks(model, [("next_letter", "to_upper")], n=50)  # doctest: +SKIP
        >>> res.pairs[0].conflicting_accuracy_b  # doctest: +SKIP
    """
    if len(pairs) == 0:
        raise ValueError("no task pairs given; pass (task_a, task_b) pairs")
    for i, pair in enumerate(pairs):
        if isinstance(pair, str) or not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(
                f"pairs[{i}] must be a (task_a, task_b) pair, got {pair!r}; pass a list of "
                "pairs, e.g. [('next_letter', 'to_upper')]"
            )
    runner = Runner.bind(model, run, fmt)
    return ConflictResult(
        pairs=tuple(
            conflict_pair(
                model,
                a,
                b,
                n=n,
                n_demos=n_demos,
                n_dummy=n_dummy,
                n_dev=n_dev,
                layer=layer,
                seed=seed,
                run=runner,
            )
            for a, b in pairs
        )
    )


__all__ = [
    "DEFAULT_CONFLICT_PAIRS",
    "ConflictPairResult",
    "ConflictResult",
    "conflict_pair",
    "conflicting_tasks",
]
