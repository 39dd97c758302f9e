"""Several methods' sweeps sharing passes (tvlens.evaluation.sweep.sweeps_on): each result
is the method's own sweep."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.conftest import ALL_KINDS, count_fwd_hooks, tiny_of_kind
from tvlens import get_task
from tvlens.engine.config import RunConfig
from tvlens.engine.runner import Runner
from tvlens.evaluation.methods import Method
from tvlens.evaluation.scorers import Generation, NextToken
from tvlens.evaluation.sweep import sweep_on, sweeps_on


def _methods(d: int, n_layers: int) -> list[Method]:
    g = torch.Generator().manual_seed(0)
    return [
        Method.add(3 * torch.randn(d, generator=g), "fv_zero_shot"),
        Method.add(torch.randn(d, generator=g), "fv_zero_shot"),
        Method.add(2 * torch.randn(n_layers, d, generator=g), "layer_average"),
    ]


def _same(a: Any, b: Any) -> None:
    assert a.layers == b.layers and a.accuracy == b.accuracy
    assert torch.equal(a.predicted_token_ids, b.predicted_token_ids)
    assert torch.equal(a.correct, b.correct)


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("method", ["auto", "batched"])
def test_shared_sweeps_equal_one_sweep_per_method(kind: str, method: str) -> None:
    model = tiny_of_kind(kind)
    runner = Runner(model, RunConfig(method=method, sweep_batch_size=40))  # type: ignore[arg-type]
    examples = get_task("antonyms").sample(7, n_demos=2, seed=4)
    methods = _methods(model.cfg.d_model, model.cfg.n_layers)
    scorer = NextToken(first_token=True)
    alone = [sweep_on(runner, m, examples, scorer) for m in methods]
    shared = sweeps_on(runner, methods, examples, scorer)
    assert len(shared) == len(methods)
    for a, b in zip(alone, shared, strict=True):
        _same(a, b)
    assert len({a.predicted_token_ids.sum().item() for a in alone}) > 1  # methods differ
    layers = [0, model.cfg.n_layers - 1]
    for a, b in zip(
        [sweep_on(runner, m, examples, scorer, layers=layers) for m in methods],
        sweeps_on(runner, methods, examples, scorer, layers=layers),
        strict=True,
    ):
        _same(a, b)
    assert count_fwd_hooks(model) == 0


def test_shared_sweeps_run_fewer_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_of_kind("bridge")
    runner = Runner(model)
    examples = get_task("antonyms").sample(6, n_demos=2, seed=5)
    methods = _methods(model.cfg.d_model, model.cfg.n_layers)
    scorer = NextToken(first_token=True)
    sweep_on(runner, methods[0], examples, scorer)  # the probes, before counting
    passes: list[int] = []
    original = model.run_with_hooks

    def spy(*args: Any, **kwargs: Any) -> Any:
        passes.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "run_with_hooks", spy)
    for m in methods:
        sweep_on(runner, m, examples, scorer)
    alone, passes[:] = len(passes), []
    sweeps_on(runner, methods, examples, scorer)
    assert 0 < len(passes) < alone


@pytest.mark.parametrize("case", ["generation", "other_prompts", "theta", "one", "shuffle_seeds"])
def test_what_cannot_share_runs_alone(case: str) -> None:
    model = tiny_of_kind("hooked" if case != "generation" else "bridge")
    runner = Runner(model)
    examples = get_task("antonyms").sample(4, n_demos=2, seed=6)
    d, n = model.cfg.d_model, model.cfg.n_layers
    vec = torch.randn(d, generator=torch.Generator().manual_seed(1))
    scorer: Any = NextToken(first_token=True)
    methods = {
        "generation": _methods(d, n)[:2],
        "other_prompts": [Method.add(vec, "a"), Method.add(vec, "b", prompt="icl")],
        "theta": [Method.add(vec, "a"), Method.hypothesis()],
        "one": [Method.add(vec, "a")],
        "shuffle_seeds": [
            Method.add(vec, "a", prompt="shuffled_icl", seed=1),
            Method.add(vec, "b", prompt="shuffled_icl", seed=2),
        ],
    }[case]
    if case == "generation":
        scorer = Generation(max_new_tokens=2)
    shared = sweeps_on(runner, methods, examples, scorer)
    alone = [sweep_on(runner, m, examples, scorer) for m in methods]
    if case == "generation":
        for a, b in zip(alone, shared, strict=True):
            assert a.keys() == b.keys()
            for layer in a:
                assert [p.generated_token_ids for p in a[layer].predictions] == [
                    p.generated_token_ids for p in b[layer].predictions
                ]
        return
    for a, b in zip(alone, shared, strict=True):
        _same(a, b)


# ---- at one layer each (run_methods_on) ------------------------------------------------------
def _same_mode(a: Any, b: Any) -> None:
    assert a.mode == b.mode
    assert a.predictions == b.predictions


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("method", ["auto", "batched"])
def test_methods_at_their_layers_equal_one_at_a_time(kind: str, method: str) -> None:
    from tvlens.evaluation.sweep import run_method_on, run_methods_on

    model = tiny_of_kind(kind)
    runner = Runner(model, RunConfig(method=method, batch_size=3))  # type: ignore[arg-type]
    examples = get_task("antonyms").sample(7, n_demos=2, seed=7)
    d, n = model.cfg.d_model, model.cfg.n_layers
    vecs = _methods(d, n)
    fv_shuffled = Method.add(vecs[0].vector, "fv_shuffled", prompt="shuffled_icl", seed=3)  # type: ignore[arg-type]
    groups: list[list[tuple[Any, int | None]]] = [
        [(Method.shuffled(3), None), (fv_shuffled, n - 1)],
        [(Method.baseline(), None), (vecs[2], 0), (vecs[0], n - 1), (vecs[1], 1 % n)],
    ]
    scorer = NextToken(first_token=True)
    for runs in groups:
        alone = [run_method_on(runner, m, examples, scorer, layer=la) for m, la in runs]
        shared = run_methods_on(runner, runs, examples, scorer)
        for a, b in zip(alone, shared, strict=True):
            _same_mode(a, b)
        patched = [a for (m, _), a in zip(runs, alone, strict=True) if m.patch != "none"]
        clean = next(a for (m, _), a in zip(runs, alone, strict=True) if m.patch == "none")
        assert any(
            [p.predicted_token_id for p in a.predictions]
            != [p.predicted_token_id for p in clean.predictions]
            for a in patched
        )  # the vectors changed some prediction, so a shared row that lost its patch shows
    assert count_fwd_hooks(model) == 0


def test_methods_that_cannot_share_run_one_at_a_time() -> None:
    from tvlens.evaluation.sweep import run_method_on, run_methods_on

    model = tiny_of_kind("bridge")
    runner = Runner(model)
    examples = get_task("antonyms").sample(4, n_demos=2, seed=8)
    vec = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(2))
    scorer = NextToken(first_token=True)
    for runs in (
        [(Method.baseline(), None), (Method.hypothesis(), 1)],  # θ replaces
        [(Method.add(vec, "a", mode="replace"), 1), (Method.baseline(), None)],  # replaces
        [(Method.baseline(), None), (Method.regular(), None)],  # no patch, other prompts
        [(Method.add(vec, "a"), 1), (Method.add(vec, "b", prompt="icl"), 1)],  # other prompts
    ):
        alone = [run_method_on(runner, m, examples, scorer, layer=la) for m, la in runs]
        for a, b in zip(alone, run_methods_on(runner, runs, examples, scorer), strict=True):
            _same_mode(a, b)
    with pytest.raises(ValueError, match="patches a layer"):
        run_methods_on(
            runner, [(Method.add(vec, "a"), None), (Method.baseline(), None)], examples, scorer
        )
