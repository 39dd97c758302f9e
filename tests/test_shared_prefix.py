"""Regular and the θ extraction sharing the demonstrations (``regular_and_thetas_on``).

Where the Runner packs, S runs once per example with its dummy queries and its query as
segments. The oracle computes its own inputs with plain hooks: θ by ``run_with_cache`` on each
dummy prompt alone (:func:`tvlens.oracles.reference_theta`) and Regular's token by a plain
forward on each ICL prompt alone.
"""

from __future__ import annotations

import pytest
import torch

from tests.conftest import ALL_KINDS, count_fwd_hooks, tiny_of_kind
from tvlens import RunConfig, evaluate
from tvlens.engine.runner import Runner
from tvlens.evaluation.methods import Method
from tvlens.evaluation.modes import regular_and_thetas_on
from tvlens.evaluation.scorers import NextToken
from tvlens.evaluation.sweep import run_method_on
from tvlens.oracles import reference_theta, render
from tvlens.prompts import DEFAULT_FORMAT
from tvlens.tasks import get_task

PACKING_KINDS = {"hf-llama", "hf-gemma3"}


def _examples(n: int = 7) -> list:
    return get_task("to_upper").sample(n, n_demos=3, n_dummy=2, seed=4)


def _oracle_token(model, ex) -> int:
    tokens = model.to_tokens(render(DEFAULT_FORMAT, ex.demos, ex.query))
    with torch.inference_mode():
        return int(model(tokens)[0, -1].argmax())


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_shared_pass_equals_plain_hooks(kind: str) -> None:
    model = tiny_of_kind(kind)
    runner = Runner(model, RunConfig(batch_size=3))
    examples = _examples()
    layer = 1
    reg, thetas = regular_and_thetas_on(runner, examples, [layer])
    assert (thetas is not None) == (kind in PACKING_KINDS)  # shared only where it packs
    assert [p.predicted_token_id for p in reg.predictions] == [
        _oracle_token(model, ex) for ex in examples
    ]
    if thetas is not None:
        want = torch.stack([reference_theta(model, ex, DEFAULT_FORMAT)[layer] for ex in examples])
        assert torch.allclose(thetas[:, 0], want, rtol=1e-4, atol=1e-4)
    alone = run_method_on(runner, Method.regular(), examples, NextToken())
    assert reg == alone  # every field of every prediction, input ids included
    assert count_fwd_hooks(model) == 0


@pytest.mark.parametrize("kind", sorted(PACKING_KINDS))
def test_evaluate_unchanged_by_the_shared_pass(kind: str) -> None:
    model = tiny_of_kind(kind)
    examples = _examples(6)
    got = evaluate(model, examples, layer=1)
    runner = Runner(model)
    hyp = run_method_on(runner, Method.hypothesis(), examples, NextToken(), layer=1)
    assert got.hypothesis == hyp
    assert got.regular == run_method_on(runner, Method.regular(), examples, NextToken())


def test_examples_without_dummies_fall_back() -> None:
    model = tiny_of_kind("hf-llama")
    examples = get_task("to_upper").sample(3, n_demos=2, n_dummy=0, seed=1)
    reg, thetas = regular_and_thetas_on(Runner(model), examples, [0])
    assert thetas is None and len(reg.predictions) == 3
