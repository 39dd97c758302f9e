"""Greedy tokens from bf16 logits verified in fp32 (``RunConfig(argmax=...)``).

The fast path must give exactly the fp32 argmax: on random matrices built to be hard
(duplicate columns, ties, rows with every token a candidate, a bias, non-finite rows), and
on every tiny model class through every path that reads a greedy token (unpacked and packed
predictions, the layer sweep, generation with and without a KV cache). The oracle is the
model's own fp32 logits.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.conftest import ALL_KINDS, count_fwd_hooks, tiny_of_kind
from tvlens import RunConfig
from tvlens.engine.greedy import MAX_CANDIDATES, TOP, Unembedding, verified_argmax
from tvlens.engine.runner import Runner
from tvlens.prompts import DEFAULT_FORMAT, icl_prompts, zero_shot_prompts
from tvlens.tasks import get_task


def _oracle(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    return (x @ w + (0 if b is None else b)).argmax(-1)


@pytest.mark.parametrize("seed", range(6))
def test_verified_argmax_is_the_fp32_argmax(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    d, v = 48, 3000
    w = torch.randn(d, v, generator=gen) * (0.05 + 0.2 * seed)
    w[:, 11] = w[:, 5]  # an exact tie: argmax takes the lower id
    w[:, 12] = w[:, 5] * (1 + 1e-6)  # a near tie, far below bf16's resolution
    b = torch.randn(v, generator=gen) if seed % 2 else None
    x = torch.randn(70, d, generator=gen) * 4
    x[3] = w[:, 5] * 10  # a row whose best tokens are the tied ones
    got = verified_argmax(x, Unembedding.of(w, b), chunk=16)
    assert torch.equal(got, _oracle(x, w, b))


@pytest.mark.parametrize("n_near", [TOP - 1, TOP, TOP + 1, 3 * TOP])
def test_rows_with_more_near_tokens_than_the_top_read_first(n_near: int) -> None:
    """Candidates are read off each row's top TOP bf16 logits only where the last of them is
    below the bound; rows with more near-best tokens (a tie at that edge, a near-flat top)
    are compared whole, and every row still gets the fp32 argmax."""
    gen = torch.Generator().manual_seed(n_near)
    d, v = 32, 9 * TOP + 100
    w = torch.randn(d, v, generator=gen)
    x = torch.randn(6, d, generator=gen)
    base = w[:, 7].clone()
    for j in range(n_near):  # near copies of token 7: all within the bound of row 0's best
        w[:, 40 + 3 * j] = base * (1 + 1e-5 * (j % 3))
    w[:, 41] = base  # an exact tie with the lowest of them
    x[0] = base * 5
    x[1] = base * 5 + 1e-3 * x[1]
    un = Unembedding.of(w, None)
    assert torch.equal(verified_argmax(x, un), _oracle(x, w, None))
    wb = w.clone()
    wb[:, :TOP] = wb[:, 7:8]  # the whole top at one value: the edge itself is tied
    assert torch.equal(verified_argmax(x, Unembedding.of(wb, None)), _oracle(x, wb, None))


def test_rows_with_too_many_candidates_are_unembedded_whole() -> None:
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(16, 4 * MAX_CANDIDATES, generator=gen)
    b = torch.randn(4 * MAX_CANDIDATES, generator=gen) * 1e-3
    x = torch.randn(5, 16, generator=gen)
    x[1] = 0.0  # every logit is the bias: every token within the bound
    x[2] = 1e-4  # nearly so
    un = Unembedding.of(w, b)
    assert torch.equal(verified_argmax(x, un), _oracle(x, w, b))


def test_non_finite_rows_follow_fp32() -> None:
    w = torch.randn(8, 100)
    x = torch.randn(3, 8)
    x[1, 2] = float("nan")
    x[2, 0] = float("inf")
    assert torch.equal(verified_argmax(x, Unembedding.of(w, None)), _oracle(x, w, None))


def test_verified_argmax_refuses_a_vector(no_jaxtyping: None) -> None:
    with pytest.raises(ValueError, match=r"\[n, d_model\]"):
        verified_argmax(torch.randn(8), Unembedding.of(torch.randn(8, 10), None))


# ---- on the models ----------------------------------------------------------------------
def _runners(model: Any, **kw: Any) -> tuple[Runner, Runner]:
    return Runner(model, RunConfig(argmax="fp32", **kw)), Runner(
        model, RunConfig(argmax="bf16", **kw)
    )


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_fast_path_is_taken_and_equals_fp32_on_every_class(kind: str) -> None:
    model = tiny_of_kind(kind)
    plain, fast = _runners(model)
    assert fast.greedy.unembedding is not None, fast.greedy.reason
    examples = get_task("antonyms").sample(12, n_demos=2, seed=1)
    prompts = icl_prompts(examples, DEFAULT_FORMAT) + zero_shot_prompts(examples, DEFAULT_FORMAT)
    batch = plain.tokenize(prompts)
    oracle = plain.logits(batch).argmax(-1)
    assert torch.equal(fast.logits(batch, greedy=True).cpu(), oracle.cpu())
    assert torch.equal(fast.predict(prompts).values, plain.predict(prompts).values)
    assert count_fwd_hooks(model) == 0


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_sweep_equal_under_both_argmax(kind: str) -> None:
    from tvlens import layer_sweep

    model = tiny_of_kind(kind)
    plain, fast = _runners(model)
    examples = get_task("antonyms").sample(6, n_demos=2, seed=2)
    a = layer_sweep(model, examples, run=plain, first_token=True)
    b = layer_sweep(model, examples, run=fast, first_token=True)
    assert torch.equal(a.predicted_token_ids, b.predicted_token_ids)


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("kv_cache", [False, None])
def test_generation_equal_under_both_argmax(kind: str, kv_cache: bool | None) -> None:
    model = tiny_of_kind(kind)
    plain, fast = _runners(model)
    examples = get_task("antonyms").sample(5, n_demos=2, seed=3)
    prompts = icl_prompts(examples, DEFAULT_FORMAT)
    kw: dict[str, Any] = {"max_new_tokens": 4, "stop": (), "kv_cache": kv_cache}
    a = plain.generate(prompts, **kw)
    b = fast.generate(prompts, **kw)
    assert [g.token_ids for g in a] == [g.token_ids for g in b]
    assert count_fwd_hooks(model) == 0


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_the_bf16_copy_is_made_once_per_weight(kind: str) -> None:
    model = tiny_of_kind(kind)
    a = Unembedding.of(model.W_U, model.b_U)
    assert Unembedding.of(model.W_U, model.b_U).low is a.low  # W_U: a fresh view on a bridge
    with torch.no_grad():
        model.W_U.mul_(1.0)  # an in-place write bumps the weight's version
    assert Unembedding.of(model.W_U, model.b_U).low is not a.low


def test_the_bf16_copy_leaves_with_its_weight() -> None:
    import gc

    from tvlens.engine import greedy

    weight = torch.nn.Parameter(torch.randn(8, 40))
    Unembedding.of(weight, None)
    assert id(weight) in greedy._LOW
    key = id(weight)
    del weight
    gc.collect()
    assert key not in greedy._LOW


def test_auto_keeps_fp32_on_a_small_vocabulary() -> None:
    runner = Runner(tiny_of_kind("bridge"))
    assert runner.greedy.unembedding is None
    assert "vocabulary" in runner.greedy.reason or "bf16" in runner.greedy.reason


def test_bf16_refused_where_logits_are_soft_capped() -> None:
    model = tiny_of_kind("hf-gemma3")
    hf = model.original_model
    old = hf.config.final_logit_softcapping
    hf.config.final_logit_softcapping = 30.0
    try:
        with pytest.raises(ValueError, match=r"soft-caps its logits.*use 'auto'"):
            _ = Runner(model, RunConfig(argmax="bf16")).greedy
        assert Runner(model, RunConfig(argmax="auto")).greedy.unembedding is None
    finally:
        hf.config.final_logit_softcapping = old


def test_run_config_names_the_argmax_modes(no_jaxtyping: None) -> None:
    with pytest.raises(ValueError, match=r"argmax must be one of \('auto', 'bf16', 'fp32'\)"):
        RunConfig(argmax="fp16")  # type: ignore[arg-type]
    assert RunConfig(argmax="fp32").execution()["argmax"] == "fp32"
