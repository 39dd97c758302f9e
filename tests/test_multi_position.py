"""Multi-position task vectors (``tv_multi``): θ_t read at each step of a teacher-forced
answer, patched at the same step of generation.

The oracle here tokenizes and runs each teacher-forced prompt itself (``model.to_tokens`` and
``run_with_cache``); it never sees tvlens's θ. With one step (next-token scoring, or
generation patched at the arrow only) the method is the paper's TV Hypothesis; the engine
writes each step's vector at that step's position and nowhere else.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.conftest import ALL_KINDS, tiny_of_kind
from tests.helpers import letter_examples
from tvlens import RunConfig, Runner, extract_thetas
from tvlens.engine.patches import Patches, StepPatches
from tvlens.evaluation.methods import Method
from tvlens.evaluation.multi import MultiPosition, answer_thetas_on
from tvlens.evaluation.scorers import Generation, NextToken
from tvlens.evaluation.sweep import run_method, sweep
from tvlens.oracles import render
from tvlens.prompts import DEFAULT_FORMAT, zero_shot_prompts

EXAMPLES = letter_examples(6, n_demos=3, n_dummy=2, seed=11)
# dummy answers of 1 to 3 tokens-ish: "B", "C C", "D D D", ...
ANSWERS = {c: " ".join([c.upper()] * (1 + ord(c) % 3)) for c in "abcdefghijklmnopqrstuvwxyz"}


@pytest.fixture(params=ALL_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    tiny_of_kind(request.param)
    return str(request.param)


def _oracle_thetas(model: Any, ex: Any, layer: int, n_steps: int) -> torch.Tensor:
    """θ_t, t < n_steps, of one example: its own tokens, one run_with_cache per dummy."""
    name = f"blocks.{layer}.hook_resid_post"
    per_dummy = []
    for dummy in ex.dummy_queries:
        prompt = model.to_tokens(render(DEFAULT_FORMAT, ex.demos, dummy))[0].tolist()
        answer = model.tokenizer.encode(
            DEFAULT_FORMAT.answer(ANSWERS[dummy]), add_special_tokens=False
        )
        tokens = torch.tensor([prompt + answer])
        with torch.inference_mode():
            _, cache = model.run_with_cache(tokens, names_filter=[name])
        arrow = len(prompt) - 1
        steps = [arrow + min(t, len(answer)) for t in range(n_steps)]
        per_dummy.append(cache[name][0, steps].float())
    return torch.stack(per_dummy).mean(0)


def test_thetas_equal_a_plain_hooks_oracle(kind: str) -> None:
    model = tiny_of_kind(kind)
    got = answer_thetas_on(Runner(model), EXAMPLES, [1], ANSWERS)
    assert got.shape[:3] == (len(EXAMPLES), 1, got.shape[2]) and got.shape[2] >= 3
    for i, ex in enumerate(EXAMPLES):
        want = _oracle_thetas(model, ex, 1, got.shape[2])
        assert torch.allclose(got[i, 0], want, atol=1e-4), i
    # θ_0 is the paper's θ: the arrow of S + x' ->, before any answer token
    paper = extract_thetas(model, EXAMPLES, layers=[0, 1])
    both = answer_thetas_on(Runner(model), EXAMPLES, [0, 1], ANSWERS)
    assert torch.allclose(both[:, :, 0], paper, atol=1e-4)


def test_extraction_batched_equals_one_at_a_time(kind: str) -> None:
    model = tiny_of_kind(kind)
    one = answer_thetas_on(Runner(model, RunConfig(batch_size=1)), EXAMPLES, [0, 1], ANSWERS)
    many = answer_thetas_on(Runner(model, RunConfig(batch_size=16)), EXAMPLES, [0, 1], ANSWERS)
    assert torch.allclose(one, many, atol=1e-5)


def test_with_one_step_it_is_the_task_vector(kind: str) -> None:
    model = tiny_of_kind(kind)
    multi = MultiPosition(ANSWERS)
    a = run_method(model, multi, EXAMPLES, NextToken(), layer=1)
    b = run_method(model, Method.hypothesis(), EXAMPLES, NextToken(), layer=1)
    assert [p.predicted_token_id for p in a.predictions] == [
        p.predicted_token_id for p in b.predictions
    ]
    assert a.mode == "tv_multi"
    ga = run_method(model, multi, EXAMPLES, Generation(3, at="arrow"), layer=1)
    gb = run_method(model, Method.hypothesis(), EXAMPLES, Generation(3, at="arrow"), layer=1)
    assert [p.generated_token_ids for p in ga.predictions] == [
        p.generated_token_ids for p in gb.predictions
    ]
    # the sweep of the method equals it one layer at a time
    swept = sweep(model, multi, EXAMPLES, Generation(3, at="all"), layers=[0, 1])
    for layer in (0, 1):
        alone = run_method(model, multi, EXAMPLES, Generation(3, at="all"), layer=layer)
        assert [p.generated_token_ids for p in swept[layer].predictions] == [
            p.generated_token_ids for p in alone.predictions
        ]


def test_a_step_patch_of_one_vector_is_the_plain_patch(kind: str) -> None:
    model = tiny_of_kind(kind)
    runner = Runner(model)
    texts = zero_shot_prompts(EXAMPLES, DEFAULT_FORMAT)
    theta = torch.randn(len(texts), model.cfg.d_model, generator=torch.Generator().manual_seed(0))
    plain = Patches.at_layer(theta, 1)
    steps = StepPatches(theta[:, None].expand(-1, 3, -1), plain.layers)
    for at in ("arrow", "all"):
        a = runner.generate(texts, patches=plain, at=at, max_new_tokens=4, stop=())
        b = runner.generate(texts, patches=steps, at=at, max_new_tokens=4, stop=())
        assert a.token_ids == b.token_ids, at


@pytest.mark.parametrize("side", ["left", "right"])
def test_generation_batched_equals_one_at_a_time(kind: str, side: str) -> None:
    model = tiny_of_kind(kind)
    scorer = Generation(4, at="all", padding_side=side)
    multi = MultiPosition(ANSWERS)
    one = run_method(model, multi, EXAMPLES, scorer, layer=1, run=RunConfig(batch_size=1))
    many = run_method(model, multi, EXAMPLES, scorer, layer=1, run=RunConfig(batch_size=8))
    assert [p.generated_token_ids for p in one.predictions] == [
        p.generated_token_ids for p in many.predictions
    ]


@pytest.mark.parametrize(
    ("name", "kv_cache"),
    [*((k, False) for k in ALL_KINDS), ("hooked", True), ("hf-llama", True), ("hf-gemma3", True)],
)  # the KV cache: HookedTransformer and the bridges over HF models
def test_each_step_writes_its_own_vector_at_its_position(name: str, kv_cache: bool) -> None:
    model = tiny_of_kind(name)
    runner = Runner(model)
    texts = zero_shot_prompts(EXAMPLES[:3], DEFAULT_FORMAT)
    n, s, d, layer = len(texts), 3, model.cfg.d_model, 1
    vecs = torch.randn(n, s, d, generator=torch.Generator().manual_seed(1)) * 3
    patches = StepPatches(vecs, torch.full((n,), layer, dtype=torch.long))
    seen: list[torch.Tensor] = []

    def record(act: torch.Tensor, hook: Any) -> None:
        seen.append(act.detach().clone())

    ids = runner.token_ids(texts)
    gens = runner.generate(
        texts, patches=patches, at="all", max_new_tokens=5, stop=(), kv_cache=kv_cache,
        rows_per_pass=1, fwd_hooks=[(f"blocks.{layer}.hook_resid_post", record)],
    )  # fmt: skip
    assert all(len(g) == 5 for g in gens.token_ids)
    for i in range(n):  # one prompt per pass: 5 forwards each, in order
        arrow = len(ids[i]) - 1
        for step, act in enumerate(seen[5 * i : 5 * i + 5]):
            if kv_cache and step > 0:
                assert torch.equal(act[0, 0], vecs[i, min(step, s - 1)])
                continue
            for t in range(step + 1):  # recompute (or the prompt pass): arrow .. arrow + step
                assert torch.equal(act[0, arrow + t], vecs[i, min(t, s - 1)]), (i, step, t)
            assert not torch.equal(act[0, arrow - 1], vecs[i, 0])  # the prompt is untouched


def test_a_dummy_query_without_an_answer_is_named() -> None:
    model = tiny_of_kind("bridge")
    missing = {k: v for k, v in ANSWERS.items() if k != EXAMPLES[0].dummy_queries[0]}
    with pytest.raises(
        ValueError, match=rf"no answer for the dummy query '{EXAMPLES[0].dummy_queries[0]}'"
    ):
        answer_thetas_on(Runner(model), EXAMPLES, [1], missing)


def test_bad_input_is_refused_with_the_fix(no_jaxtyping: None) -> None:
    model = tiny_of_kind("bridge")
    runner = Runner(model)
    with pytest.raises(TypeError, match=r"pass Runner\(model\)"):
        answer_thetas_on(model, EXAMPLES, [1], ANSWERS)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"dummy_answers must map .* dict\(task.pairs\)"):
        MultiPosition([("a", "A")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no layers"):
        answer_thetas_on(runner, EXAMPLES, [], ANSWERS)
    with pytest.raises(ValueError, match="out of range"):
        answer_thetas_on(runner, EXAMPLES, [model.cfg.n_layers], ANSWERS)
    with pytest.raises(ValueError, match="mode must be 'replace' or 'add'"):
        MultiPosition(ANSWERS, mode="swap")  # type: ignore[arg-type]
    nan = torch.zeros(2, 3, model.cfg.d_model)
    nan[1, 2, 0] = float("nan")  # a later step, not the first
    with pytest.raises(ValueError, match="NaN or inf"):
        StepPatches(nan, torch.tensor([0, 0]))


def test_step_patches_after_sets_the_mode_of_the_later_steps(no_jaxtyping: None) -> None:
    vecs, layers = torch.zeros(2, 3, 8), torch.tensor([0, 1])
    mixed = StepPatches(vecs, layers, "replace", after="add")
    assert [mixed.at_step(t).mode for t in (0, 1, 2, 5)] == ["replace", "add", "add", "add"]
    assert {StepPatches(vecs, layers, "add").at_step(t).mode for t in (0, 3)} == {"add"}
    for bad in ({"after": "swap"}, {"mode": "swap"}):
        with pytest.raises(ValueError, match="must be 'replace' or 'add'"):
            StepPatches(vecs, layers, **bad)  # type: ignore[arg-type]
