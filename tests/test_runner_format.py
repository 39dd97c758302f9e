"""A Runner carries its prompt format: public functions bind once (``Runner.bind(model, run,
fmt)``) and everything below reads the model and the format from the Runner, so a format
given once (on the Runner, or as ``fmt=``) reaches every pass, never the default by accident."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import ALL_KINDS, tiny_of_kind
from tests.helpers import letter_examples
from tvlens import (
    DEFAULT_FORMAT,
    PAPER_FORMAT,
    RunConfig,
    Runner,
    evaluate,
    extract_task_vectors,
    extract_thetas,
    hypothesis,
    regular,
    task_vector,
)
from tvlens.evaluation.methods import Method
from tvlens.evaluation.scorers import Generation
from tvlens.evaluation.sweep import run_method, sweep
from tvlens.oracles import reference_theta
from tvlens.prompts import icl_prompts

EXAMPLES = letter_examples(5, n_demos=3, n_dummy=2, seed=3)


@pytest.fixture(params=ALL_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    tiny_of_kind(request.param)
    return str(request.param)


def test_a_runner_made_in_a_format_runs_every_public_function_in_it(kind: str) -> None:
    model = tiny_of_kind(kind)
    paper = Runner(model, fmt=PAPER_FORMAT)
    assert paper.fmt == PAPER_FORMAT and Runner(model).fmt == DEFAULT_FORMAT
    got = regular(model, EXAMPLES, run=paper)
    assert got == regular(model, EXAMPLES, fmt=PAPER_FORMAT)
    assert got != regular(model, EXAMPLES)  # the formats give other prompts, other logits
    # the prompts run were the paper format's: the oracle reads them with plain hooks
    logits = model(icl_prompts(EXAMPLES[:1], PAPER_FORMAT)[0])[0, -1]
    assert got.predictions[0].predicted_token_id == int(logits.argmax())
    thetas = extract_thetas(model, EXAMPLES, run=paper, layers=[1])
    assert torch.equal(thetas, extract_thetas(model, EXAMPLES, fmt=PAPER_FORMAT, layers=[1]))
    want = reference_theta(model, EXAMPLES[0], PAPER_FORMAT)[1]  # plain hooks, its own prompts
    assert torch.allclose(thetas[0, 0], want.float(), atol=1e-4)
    arrow = reference_theta(model, EXAMPLES[0], DEFAULT_FORMAT)[1]
    assert not torch.allclose(thetas[0, 0], arrow.float(), atol=1e-4)
    vecs = extract_task_vectors(model, EXAMPLES, run=paper)
    assert all(v.prompt_format == PAPER_FORMAT for v in vecs)
    res = evaluate(model, EXAMPLES, dev_examples=EXAMPLES, run=paper)
    other = evaluate(model, EXAMPLES, dev_examples=EXAMPLES, fmt=PAPER_FORMAT)
    assert (res.layer, res.regular, res.hypothesis, res.baseline) == (
        other.layer, other.regular, other.hypothesis, other.baseline
    )  # fmt: skip
    assert res.regular == got
    gen = run_method(model, Method.regular(), EXAMPLES, Generation(2), run=paper)
    assert gen == run_method(model, Method.regular(), EXAMPLES, Generation(2), fmt=PAPER_FORMAT)


def test_fmt_given_beside_a_runner_wins_and_leaves_the_runner_as_it_was(kind: str) -> None:
    model = tiny_of_kind(kind)
    runner = Runner(model, RunConfig(batch_size=2))
    got = regular(model, EXAMPLES, fmt=PAPER_FORMAT, run=runner)
    assert got == regular(model, EXAMPLES, fmt=PAPER_FORMAT)
    assert runner.fmt == DEFAULT_FORMAT  # not switched in place
    twin = Runner.bind(model, runner, PAPER_FORMAT)
    assert twin is not runner and twin.fmt == PAPER_FORMAT
    assert twin.model is model and twin.config is runner.config
    assert twin._facts is runner._facts  # the model's facts are found once for both
    assert Runner.bind(model, runner) is runner
    assert Runner.bind(model, runner, DEFAULT_FORMAT) is runner


def test_a_task_vector_of_one_format_patches_only_prompts_of_that_format(kind: str) -> None:
    model = tiny_of_kind(kind)
    theta = task_vector(model, EXAMPLES, run=Runner(model, fmt=PAPER_FORMAT))
    assert theta.prompt_format == PAPER_FORMAT
    ok = hypothesis(model, EXAMPLES, 1, vector=theta, run=Runner(model, fmt=PAPER_FORMAT))
    assert ok == hypothesis(model, EXAMPLES, 1, vector=theta, fmt=PAPER_FORMAT)
    with pytest.raises(ValueError, match=r"prompt format 'paper'.*these prompts use 'arrow'"):
        hypothesis(model, EXAMPLES, 1, vector=theta, run=Runner(model))


def test_the_sweep_reads_the_format_from_the_runner(kind: str) -> None:
    model = tiny_of_kind(kind)
    paper = Runner(model, fmt=PAPER_FORMAT)
    a = sweep(model, Method.hypothesis(), EXAMPLES, Generation(2), layers=[0, 1], run=paper)
    b = sweep(model, Method.hypothesis(), EXAMPLES, Generation(2), layers=[0, 1], fmt=PAPER_FORMAT)
    assert a == b


def test_a_runner_refuses_a_format_that_is_not_one(no_jaxtyping: None) -> None:
    model = tiny_of_kind("bridge")
    with pytest.raises(TypeError, match="fmt must be a PromptFormat, got str"):
        Runner(model, fmt="paper")  # type: ignore[arg-type]
