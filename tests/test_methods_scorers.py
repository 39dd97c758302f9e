"""Methods x scorers x one sweep: the sweep equals one layer at a time, under both scorers,
left and right padding, on every model class; a method of your own; what each refuses."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.conftest import ALL_KINDS, tiny_of_kind
from tests.helpers import letter_examples
from tvlens import RunConfig, Runner
from tvlens.engine.patches import Patches
from tvlens.evaluation.answer_scoring import GenerationResult
from tvlens.evaluation.methods import Method, MethodLike
from tvlens.evaluation.results import LayerSweepResult, ModeResult
from tvlens.evaluation.scorers import Generation, NextToken
from tvlens.evaluation.sweep import run_method, sweep
from tvlens.fv.heads import shuffle_labels
from tvlens.fv.methods import compare_methods
from tvlens.prompts import DEFAULT_FORMAT, zero_shot_prompts

# at least 2 demos each (a label shuffle needs 2), of ragged lengths
EXAMPLES = [e for e in letter_examples(9, n_demos=3, n_dummy=2, seed=7) if e.n_demos >= 2][:5]


@pytest.fixture(params=ALL_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    tiny_of_kind(request.param)  # skips "hooked" where TransformerLens lacks it
    return str(request.param)


def _vector(model: Any, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(model.cfg.d_model, generator=gen) * 4


def _methods(model: Any) -> list[Method]:
    vec = _vector(model)
    per_layer = torch.randn(model.cfg.n_layers, model.cfg.d_model) * 3
    return [
        Method.hypothesis(),
        Method.add(vec, "fv_zero_shot"),
        Method.add(vec, "fv_shuffled", prompt="shuffled_icl", seed=1),
        Method.add(per_layer, "layer_average"),
    ]


def _alone() -> RunConfig:
    return RunConfig(batch_size=1, method="batched")


# ---- one sweep == one layer at a time ----------------------------------------------------------
def test_next_token_sweep_equals_each_layer_alone(kind: str) -> None:
    model = tiny_of_kind(kind)
    runner = Runner(model, RunConfig(batch_size=3, sweep_batch_size=5))  # packs where exact
    for method in _methods(model):
        swept = sweep(model, method, EXAMPLES, NextToken(), run=runner)
        assert isinstance(swept, LayerSweepResult)
        for j, layer in enumerate(swept.layers):
            one = run_method(model, method, EXAMPLES, NextToken(), layer=layer, run=_alone())
            assert isinstance(one, ModeResult) and one.mode == method.name
            got = [p.predicted_token_id for p in one.predictions]
            assert got == swept.predicted_token_ids[:, j].tolist(), (method.name, layer)
            assert one.accuracy == pytest.approx(swept.accuracy[j])


@pytest.mark.parametrize("side", ["left", "right"])
def test_generation_sweep_equals_each_layer_alone(kind: str, side: str) -> None:
    model = tiny_of_kind(kind)
    run = RunConfig(batch_size=3, sweep_batch_size=5)
    for method in _methods(model)[:3]:
        swept = sweep(model, method, EXAMPLES, Generation(3, padding_side=side), run=run)
        assert sorted(swept) == list(range(model.cfg.n_layers))
        for layer, result in swept.items():
            one = run_method(model, method, EXAMPLES, Generation(3), layer=layer, run=_alone())
            assert isinstance(one, GenerationResult) and result.layer == one.layer == layer
            assert [p.generated_token_ids for p in result.predictions] == [
                p.generated_token_ids for p in one.predictions
            ], (method.name, layer, side)
            assert result.exact_match == one.exact_match


@pytest.mark.parametrize("side", ["left", "right"])
def test_generation_scored_fv_batched_equals_one_example_at_a_time(kind: str, side: str) -> None:
    model = tiny_of_kind(kind)
    shuffled = shuffle_labels(EXAMPLES, 3)  # shuffled once, so each example alone sees the same
    vec = _vector(model, 1)
    for prompt, examples in (("zero_shot", EXAMPLES), ("icl", shuffled)):
        method = Method.add(vec, "fv", prompt=prompt)  # type: ignore[arg-type]
        batched = run_method(
            model, method, examples, Generation(4, padding_side=side), layer=1,
            run=RunConfig(batch_size=4),
        )  # fmt: skip
        for i, ex in enumerate(examples):
            alone = run_method(model, method, [ex], Generation(4), layer=1, run=_alone())
            assert alone.predictions[0].generated_token_ids == (
                batched.predictions[i].generated_token_ids
            ), (prompt, i, side)


def test_the_wrappers_are_the_sweep(kind: str) -> None:
    from tvlens import generate_hypothesis, hypothesis, layer_sweep
    from tvlens.fv.methods import add_at_layer, additive_sweep

    model = tiny_of_kind(kind)
    vec = _vector(model)
    a = layer_sweep(model, EXAMPLES)
    b = sweep(model, Method.hypothesis(), EXAMPLES, NextToken())
    assert torch.equal(a.predicted_token_ids, b.predicted_token_ids)
    c = additive_sweep(model, EXAMPLES, vec, icl=True)
    d = sweep(model, Method.add(vec, "x", prompt="icl"), EXAMPLES, NextToken())
    assert torch.equal(c.predicted_token_ids, d.predicted_token_ids)
    e = add_at_layer(model, EXAMPLES, vec, 1, name="fv_zero_shot")
    f = run_method(model, Method.add(vec, "fv_zero_shot"), EXAMPLES, NextToken(), layer=1)
    assert e == f
    assert hypothesis(model, EXAMPLES, 1) == run_method(
        model, Method.hypothesis(), EXAMPLES, NextToken(), layer=1
    )
    g = generate_hypothesis(model, EXAMPLES, 1, max_new_tokens=2)
    assert g == run_method(model, Method.hypothesis(), EXAMPLES, Generation(2), layer=1)


# ---- a method of your own ------------------------------------------------------------------
class Doubled:
    """Zero-shot with a vector added twice as strongly (the module docstring's example)."""

    name = "doubled"

    def __init__(self, vector: torch.Tensor) -> None:
        self.vector = vector

    def prompts(self, examples: Any, fmt: Any) -> list[str]:
        return zero_shot_prompts(examples, fmt)

    def patches(self, runner: Any, examples: Any, layers: Any) -> Patches:
        rows = (2 * self.vector).expand(len(examples) * len(layers), -1)
        return Patches(rows, torch.tensor(list(layers)).repeat(len(examples)), "add")


def test_a_custom_method_runs_under_both_scorers(kind: str) -> None:
    model = tiny_of_kind(kind)
    vec = _vector(model)
    mine = Doubled(vec)
    assert isinstance(mine, MethodLike)
    ours = Method.add(2 * vec, "doubled")
    a, b = sweep(model, mine, EXAMPLES, NextToken()), sweep(model, ours, EXAMPLES, NextToken())
    assert torch.equal(a.predicted_token_ids, b.predicted_token_ids)
    one = run_method(model, mine, EXAMPLES, Generation(2), layer=1)
    assert one == run_method(model, ours, EXAMPLES, Generation(2), layer=1)
    assert one.mode == "doubled" and one.layer == 1


# ---- what the methods and scorers hold and refuse ---------------------------------------
def test_shuffled_icl_runs_and_records_the_shuffled_demos() -> None:
    model = tiny_of_kind("bridge")
    res = run_method(model, Method.shuffled(4), EXAMPLES, NextToken())
    assert [p.demos for p in res.predictions] == [e.demos for e in shuffle_labels(EXAMPLES, 4)]
    assert all(p.layer is None and p.mode == "shuffled" for p in res.predictions)


def test_refusals(no_jaxtyping: None) -> None:
    model = tiny_of_kind("bridge")
    with pytest.raises(ValueError, match="carries no patch"):
        sweep(model, Method.regular(), EXAMPLES, NextToken())
    with pytest.raises(ValueError, match="pass layer="):
        run_method(model, Method.hypothesis(), EXAMPLES, NextToken())
    with pytest.raises(ValueError, match="prompt must be"):
        Method("x", "few_shot")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'vector' patch needs"):
        Method("x", "zero_shot", "vector")
    with pytest.raises(ValueError, match="padding_side"):
        Generation(2, padding_side="up")
    with pytest.raises(ValueError, match="max_new_tokens"):
        Generation(0)


def test_next_token_refuses_long_answers_unless_first_token() -> None:
    from tvlens import ICLExample

    model = tiny_of_kind("bridge")
    long = [
        ICLExample(demos=(("a", "A b"), ("c", "C b")), query=q, answer=q.upper() + " b",
                   dummy_queries=("e",))
        for q in "dfg"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="tokens"):
        run_method(model, Method.regular(), long, NextToken())
    first = run_method(model, Method.regular(), long, NextToken(first_token=True))
    gen = run_method(model, Method.regular(), long, Generation(1))
    assert [p.correct for p in first.predictions] == [p.score.first_token for p in gen.predictions]


def test_compare_methods_under_generation_scores_every_method_by_exact_match() -> None:
    model = tiny_of_kind("bridge")
    dev = [e for e in letter_examples(12, n_demos=3, seed=2) if e.n_demos >= 2][:4]
    res = compare_methods(model, EXAMPLES, dev=dev, k=[2], scorer=Generation(3), seed=0)
    for name, mode in res.modes.items():
        assert isinstance(mode, GenerationResult), name
        assert mode.accuracy == pytest.approx(
            sum(p.score.exact_match for p in mode.predictions) / len(EXAMPLES)
        )
    # each layer chosen on dev by the first token (a next-token sweep of the answer's first)
    again = sweep(model, Method.add(res.function_vector.vector, "f"), dev, NextToken(True))
    assert res.layers["fv_zero_shot"] == again.best_layer
    assert res.modes["fv_zero_shot"].layer == res.layers["fv_zero_shot"]
    assert res.to_record()["test_examples"][0]["fv_zero_shot"]["generated_token_ids"] is not None
    assert DEFAULT_FORMAT.name  # the default format ran every method
