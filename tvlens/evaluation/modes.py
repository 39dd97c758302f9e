"""The paper's three modes, Regular, Hypothesis and Baseline, and :func:`evaluate`.

Each mode is a :class:`~tvlens.evaluation.methods.Method` run by
:func:`~tvlens.evaluation.sweep.run_method` under the
:class:`~tvlens.evaluation.scorers.NextToken` scorer.

Scoring: the greedy next token at the arrow against the answer's token as it appears
after the arrow (``fmt.answer(y)``, leading space included where the format puts one).
An answer that is not exactly one token is refused, never scored on its first token.
"""

from __future__ import annotations

from collections.abc import Sequence

from jaxtyping import Float
from torch import Tensor

from tvlens._example import ICLExample
from tvlens.engine.arrows import resid_and_greedy_at_arrows
from tvlens.engine.patches import Predictions
from tvlens.engine.runner import RunArg, Runner
from tvlens.evaluation.methods import Method
from tvlens.evaluation.results import EvaluationResult, ModeResult
from tvlens.evaluation.scorers import NextToken
from tvlens.evaluation.scoring import answer_ids, check_example_list, mode_result
from tvlens.evaluation.sweep import run_method, run_method_on, sweep_on
from tvlens.hooks import PatchMode, check_layer
from tvlens.prompts import PromptFormat, dummy_prompts, icl_prompts
from tvlens.protocol import HookedModel
from tvlens.vectors import TaskVector


def regular(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    fmt: PromptFormat | None = None,
    run: RunArg = None,
) -> ModeResult:
    """Regular ICL: the next token of ``S + x ->``.

    Args:
        fmt: the prompt format (``None``: ``run``'s, else the default format).
        run: a :class:`RunConfig` or a :class:`Runner` of ``model`` (batching, sink token,
            packing, prompt format); ``None`` uses the defaults.
    """
    return run_method(model, Method.regular(), examples, NextToken(), fmt=fmt, run=run)


def baseline(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    fmt: PromptFormat | None = None,
    run: RunArg = None,
) -> ModeResult:
    """Baseline: the next token of ``x ->`` with no demonstrations and no patch."""
    return run_method(model, Method.baseline(), examples, NextToken(), fmt=fmt, run=run)


def hypothesis(
    model: HookedModel,
    examples: Sequence[ICLExample],
    layer: int,
    *,
    vector: TaskVector | Float[Tensor, "n d_model"] | None = None,
    fmt: PromptFormat | None = None,
    mode: PatchMode = "replace",
    run: RunArg = None,
) -> ModeResult:
    """Hypothesis: the next token of ``x ->`` with θ patched at ``layer``, arrow position.

    Args:
        vector: ``None`` (default) uses each example's own θ(S) from its demos and dummy
            queries, as the paper does; a :class:`TaskVector` patches that one θ into
            every row (at its own hook); a ``[n, d_model]`` tensor gives one θ per example.
        mode: ``"replace"`` the residual at the arrow (the paper) or ``"add"`` to it.
        run: a :class:`RunConfig` or a :class:`Runner` of ``model``.
    """
    method = Method.hypothesis(vector, mode=mode)
    return run_method(model, method, examples, NextToken(), layer=layer, fmt=fmt, run=run)


def regular_and_thetas_on(
    runner: Runner, examples: Sequence[ICLExample], layers: Sequence[int]
) -> tuple[ModeResult, Float[Tensor, "n n_layers d_model"] | None]:
    """Regular on ``examples`` and their θ(S) at ``layers``, sharing the demonstrations.

    Where the Runner packs, each example is one row: S once, then its dummy queries and its
    query as segments (θ(S) read at the dummies' arrows, Regular's token at the query's),
    one pass where Regular and the extraction would take two. Elsewhere (or for examples
    without demos or dummy queries, or with different numbers of them) Regular runs alone
    and θ is ``None``: :meth:`Method.hypothesis` then extracts it. The same predictions and θ as
    :func:`regular` and :func:`~tvlens.evaluation.extract.extract_thetas` (tested).
    """
    check_example_list(examples)
    sizes = {len(ex.dummy_queries) for ex in examples}
    if not runner.packs or len(sizes) != 1 or 0 in sizes or not all(ex.demos for ex in examples):
        return run_method_on(runner, Method.regular(), examples, NextToken()), None
    scorer, fmt, g = NextToken(), runner.fmt, sizes.pop()
    scorer.check(runner, examples)
    queries = icl_prompts(examples, fmt)
    dummies = dummy_prompts(examples, fmt)
    texts = [t for i in range(len(examples)) for t in (*dummies[i * g : (i + 1) * g], queries[i])]
    wanted = [check_layer(x, runner.n_layers) for x in layers]
    resid, predicted = resid_and_greedy_at_arrows(runner, texts, wanted, fmt, group_size=g + 1)
    thetas = resid.unflatten(0, (len(examples), g + 1))[:, :g].mean(1)
    at_query = slice(g, None, g + 1)
    mine = Predictions(predicted.values[at_query], predicted.input_ids[at_query])
    answers = answer_ids(runner.model, examples, fmt)
    return mode_result(runner, "regular", examples, mine, answers), thetas


def evaluate(
    model: HookedModel,
    examples: Sequence[ICLExample],
    *,
    layer: int | None = None,
    dev_examples: Sequence[ICLExample] | None = None,
    baseline_examples: Sequence[ICLExample] | None = None,
    fmt: PromptFormat | None = None,
    run: RunArg = None,
) -> EvaluationResult:
    """Regular, Hypothesis and Baseline accuracy on test examples.

    Args:
        examples: test examples (demos, query, answer, dummy queries).
        layer: the layer to patch θ at; ``None`` picks it with a layer sweep on
            ``dev_examples`` (the paper's protocol).
        dev_examples: examples for the layer sweep when ``layer`` is ``None``.
        baseline_examples: queries for the Baseline (default: ``examples``).
        run: a :class:`RunConfig` or a :class:`Runner` of ``model``, used by every phase.

    Example:
        >>> task = get_task("to_upper")  # doctest: +SKIP
        >>> dev, test = task.dev_test(50, 50)  # doctest: +SKIP
        >>> result = evaluate(model, test, dev_examples=dev)  # doctest: +SKIP
        >>> result.accuracies  # doctest: +SKIP
        {'baseline': 0.0, 'hypothesis': 0.9, 'regular': 1.0}
    """
    check_example_list(examples)
    runner = Runner.bind(model, run, fmt)
    sweep = None
    if layer is None:
        if not dev_examples:
            raise ValueError("pass layer= or dev_examples= (to choose the layer by a sweep)")
        sweep = sweep_on(runner, Method.hypothesis(), dev_examples, NextToken())
        layer = sweep.best_layer
    layer = check_layer(layer, runner.n_layers)
    tasks = {ex.task for ex in examples}
    reg, thetas = regular_and_thetas_on(runner, examples, [layer])
    hyp = Method.hypothesis(thetas)
    return EvaluationResult(
        task=tasks.pop() if len(tasks) == 1 else "mixed",
        layer=layer,
        regular=reg,
        hypothesis=run_method_on(runner, hyp, examples, NextToken(), layer=layer),
        baseline=run_method_on(
            runner,
            Method.baseline(),
            examples if baseline_examples is None else baseline_examples,
            NextToken(),
        ),
        sweep=sweep,
    )
