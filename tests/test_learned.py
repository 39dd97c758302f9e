"""Learned task vectors: fit at layer L, the model frozen; zero steps is the extracted
vector's patch; the loss is the plain-hooks teacher-forced cross-entropy; the mini-batch split
changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.conftest import ALL_KINDS, tiny_of_kind
from tests.helpers import letter_examples
from tvlens import RunConfig, Runner, extract_thetas
from tvlens.evaluation.learned import _batch_loss, learn_vectors
from tvlens.evaluation.methods import Method
from tvlens.evaluation.scorers import Generation
from tvlens.evaluation.sweep import run_method
from tvlens.prompts import DEFAULT_FORMAT, zero_shot_prompts

DEV = letter_examples(6, n_demos=3, n_dummy=2, seed=21)
TEST = letter_examples(4, n_demos=3, n_dummy=2, seed=22)
LAYER = 1


@pytest.fixture(params=ALL_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    tiny_of_kind(request.param)
    return str(request.param)


def _targets(model: Any) -> list[list[int]]:
    """The model's own ICL answers on DEV (what tv_learned is fit to)."""
    res = run_method(model, Method.regular(), DEV, Generation(3))
    return [list(p.generated_token_ids) for p in res.predictions]


def _init(model: Any) -> torch.Tensor:
    return extract_thetas(model, DEV, layers=[LAYER])[:, 0].mean(0)


def test_zero_steps_is_the_patch_of_its_init(kind: str) -> None:
    model = tiny_of_kind(kind)
    theta = _init(model)
    learned = learn_vectors(Runner(model), DEV, LAYER, _targets(model), init=theta[None], steps=0)
    assert torch.equal(learned.vectors, theta[None]) and len(learned.losses) == 1
    for at in ("arrow", "all"):
        got = run_method(model, learned.method(), TEST, Generation(3, at=at), layer=LAYER)
        plain = Method.hypothesis(theta.expand(len(TEST), -1))
        want = run_method(model, plain, TEST, Generation(3, at=at), layer=LAYER)
        assert [p.generated_token_ids for p in got.predictions] == [
            p.generated_token_ids for p in want.predictions
        ], at


def test_the_loss_is_the_teacher_forced_cross_entropy(kind: str) -> None:
    model = tiny_of_kind(kind)
    targets = _targets(model)
    gen = torch.Generator().manual_seed(3)
    vectors = torch.randn(2, model.cfg.d_model, generator=gen)
    got = float(_batch_loss(Runner(model), Runner(model).token_ids(
        zero_shot_prompts(DEV, DEFAULT_FORMAT)), targets, vectors, LAYER))  # fmt: skip
    # the oracle: one example at a time, its own tokens, a plain replace hook per position
    total, count = 0.0, 0
    for ex, target in zip(DEV, targets, strict=True):
        prompt = model.to_tokens(zero_shot_prompts([ex], DEFAULT_FORMAT)[0])[0].tolist()
        tokens = torch.tensor([prompt + target[:-1]])
        arrow = len(prompt) - 1

        def patch(act: torch.Tensor, hook: Any, arrow: int = arrow, n: int = len(target)) -> Any:
            for t in range(n):
                act[0, arrow + t] = vectors[min(t, 1)]
            return act

        with torch.no_grad():
            logits = model.run_with_hooks(
                tokens, fwd_hooks=[(f"blocks.{LAYER}.hook_resid_post", patch)]
            )
        for t, tok in enumerate(target):
            total += float(-torch.log_softmax(logits[0, arrow + t].float(), -1)[tok])
            count += 1
    assert got == pytest.approx(total / count, rel=1e-4)


def test_learning_leaves_the_model_as_it_was_and_lowers_the_loss() -> None:
    model = tiny_of_kind("bridge")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    learned = learn_vectors(
        Runner(model), DEV, LAYER, _targets(model), init=_init(model)[None].repeat(3, 1), steps=15
    )
    assert len(learned.losses) == 16 and learned.losses[-1] < learned.losses[0]
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())


def test_the_mini_batch_split_changes_nothing() -> None:
    model = tiny_of_kind("bridge")
    targets, init = _targets(model), _init(model)[None].repeat(2, 1)
    one = learn_vectors(Runner(model), DEV, LAYER, targets, init=init, steps=3, batch_size=1)
    all_ = learn_vectors(Runner(model, RunConfig()), DEV, LAYER, targets, init=init, steps=3)
    assert one.losses == pytest.approx(all_.losses, rel=1e-5)
    assert torch.allclose(one.vectors, all_.vectors, rtol=1e-4, atol=1e-5)


def test_learned_vectors_refuse_another_layer_and_bad_input() -> None:
    model = tiny_of_kind("bridge")
    targets, init = _targets(model), _init(model)[None]
    learned = learn_vectors(Runner(model), DEV, LAYER, targets, init=init, steps=0)
    with pytest.raises(ValueError, match=f"learned at layer {LAYER}"):
        run_method(model, learned.method(), TEST, Generation(2), layer=0)
    with pytest.raises(ValueError, match="targets for"):
        learn_vectors(Runner(model), DEV, LAYER, targets[:2], init=init)
    with pytest.raises(ValueError, match="out of range"):
        learn_vectors(Runner(model), DEV, 99, targets, init=init)


def test_learn_vectors_refuses_bad_settings_and_targets(no_jaxtyping: None) -> None:
    model = tiny_of_kind("bridge")
    runner, targets, init = Runner(model), _targets(model), _init(model)[None]
    with pytest.raises(TypeError, match="runner must be a tvlens Runner"):
        learn_vectors(model, DEV, LAYER, targets, init=init)  # type: ignore[arg-type]
    for bad in ({"steps": -1}, {"batch_size": 0}, {"lr": 0.0}, {"lr": float("nan")}):
        with pytest.raises(ValueError, match=str(next(iter(bad)))):
            learn_vectors(runner, DEV, LAYER, targets, init=init, **bad)  # type: ignore[arg-type]
    far = [list(t) for t in targets]
    far[1] = [model.cfg.d_vocab + 5]
    with pytest.raises(ValueError, match=r"targets\[1\].*vocabulary"):
        learn_vectors(runner, DEV, LAYER, far, init=init)
    with pytest.raises(ValueError, match="NaN or inf"):
        learn_vectors(runner, DEV, LAYER, targets, init=init * float("inf"))


def _oracle_generate(model: Any, vectors: torch.Tensor, n_new: int) -> list[list[int]]:
    """Greedy generation on TEST with plain hooks, one example at a time, recomputing the
    whole sequence each step: the arrow's residual replaced by ``vectors[0]``, each generated
    position's added to by its step's vector (the last repeating)."""
    out = []
    for ex in TEST:
        prompt = model.to_tokens(zero_shot_prompts([ex], DEFAULT_FORMAT)[0])[0].tolist()
        arrow, gen = len(prompt) - 1, []
        for _ in range(n_new):

            def patch(act: torch.Tensor, hook: Any, n: int = len(gen), arrow: int = arrow) -> Any:
                act = act.clone()
                act[0, arrow] = vectors[0]
                for t in range(1, n + 1):
                    act[0, arrow + t] = act[0, arrow + t] + vectors[min(t, len(vectors) - 1)]
                return act

            with torch.no_grad():
                logits = model.run_with_hooks(
                    torch.tensor([prompt + gen]),
                    fwd_hooks=[(f"blocks.{LAYER}.hook_resid_post", patch)],
                )
            gen.append(int(logits[0, -1].argmax()))
        out.append(gen)
    return out


def test_added_after_the_arrow_generates_what_plain_hooks_do(kind: str) -> None:
    """``after="add"``: the arrow's vector replaces, each later step's is added to the
    generated token's residual (recompute and KV cache alike)."""
    model = tiny_of_kind(kind)
    gen = torch.Generator().manual_seed(5)
    init = torch.cat([_init(model)[None], torch.randn(2, model.cfg.d_model, generator=gen)])
    learned = learn_vectors(
        Runner(model), DEV, LAYER, _targets(model), init=init, steps=0, after="add"
    )
    assert learned.after == "add"
    got = run_method(model, learned.method(), TEST, Generation(4, at="all", stop=()), layer=LAYER)
    assert [list(p.generated_token_ids) for p in got.predictions] == _oracle_generate(
        model, init, 4
    )


def test_the_loss_with_later_steps_added_is_the_plain_hooks_one(kind: str) -> None:
    model = tiny_of_kind(kind)
    targets = _targets(model)
    gen = torch.Generator().manual_seed(4)
    vectors = torch.randn(2, model.cfg.d_model, generator=gen)
    prompts = Runner(model).token_ids(zero_shot_prompts(DEV, DEFAULT_FORMAT))
    got = float(_batch_loss(Runner(model), prompts, targets, vectors, LAYER, "add"))
    total, count = 0.0, 0
    for ex, target in zip(DEV, targets, strict=True):
        prompt = model.to_tokens(zero_shot_prompts([ex], DEFAULT_FORMAT)[0])[0].tolist()
        arrow = len(prompt) - 1

        def patch(act: torch.Tensor, hook: Any, arrow: int = arrow, n: int = len(target)) -> Any:
            act = act.clone()
            act[0, arrow] = vectors[0]
            for t in range(1, n):
                act[0, arrow + t] = act[0, arrow + t] + vectors[min(t, 1)]
            return act

        with torch.no_grad():
            logits = model.run_with_hooks(
                torch.tensor([prompt + target[:-1]]),
                fwd_hooks=[(f"blocks.{LAYER}.hook_resid_post", patch)],
            )
        for t, tok in enumerate(target):
            total += float(-torch.log_softmax(logits[0, arrow + t].float(), -1)[tok])
            count += 1
    assert got == pytest.approx(total / count, rel=1e-4)


def test_after_is_checked_and_an_all_zero_init_refused(no_jaxtyping: None) -> None:
    model = tiny_of_kind("bridge")
    runner, targets, init = Runner(model), _targets(model), _init(model)[None]
    with pytest.raises(ValueError, match="after must be 'replace' or 'add'"):
        learn_vectors(runner, DEV, LAYER, targets, init=init, after="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="init is all zeros"):
        learn_vectors(runner, DEV, LAYER, targets, init=torch.zeros_like(init))
    # zero rows after the arrow: the learning rate comes from the arrow's vector alone
    # (Adam's first step moves each coordinate by the learning rate)
    padded = torch.cat([init, torch.zeros_like(init)])
    fit = learn_vectors(runner, DEV, LAYER, targets, init=padded, steps=1, after="add")
    step = 0.05 * float(init[0].norm()) / model.cfg.d_model**0.5
    assert float((fit.vectors[0] - init[0]).abs().max()) == pytest.approx(step, rel=1e-3)
