"""Every head's indirect effect by attribution (issue 21, item 1): equal to a hand-written
derivative, batched == one at a time, the verified heads exact, the model left as it was."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.conftest import ALL_KINDS, count_fwd_hooks, tiny_of_kind
from tests.helpers import letter_examples
from tvlens import RunConfig, Runner
from tvlens.fv.heads import mean_head_activations, shuffle_labels
from tvlens.fv.indirect_effect import indirect_effects
from tvlens.fv.vector import build_function_vector
from tvlens.prompts import DEFAULT_FORMAT
from tvlens.testing import reference_attribution

EXAMPLES = [e for e in letter_examples(12, n_demos=3, n_dummy=1, seed=3) if e.n_demos >= 2][:6]
CORRUPTED = shuffle_labels(EXAMPLES[:4], seed=1)


@pytest.fixture(params=ALL_KINDS)
def model(request: pytest.FixtureRequest) -> Any:
    return tiny_of_kind(request.param)


def test_attribution_equals_the_hand_written_derivative(model: Any) -> None:
    acts = mean_head_activations(model, EXAMPLES)
    got = indirect_effects(model, CORRUPTED, acts, method="attribution")
    # the oracle computes its own mean hook_z, and its derivative one prompt at a time
    ref = reference_attribution(model, EXAMPLES, CORRUPTED, DEFAULT_FORMAT)
    assert got.method == "attribution" and got.cie.shape == ref.shape
    assert float(ref.abs().max()) > 0
    torch.testing.assert_close(got.cie, ref, atol=1e-6, rtol=1e-3)
    assert got.estimate is not None and torch.equal(got.estimate, got.cie)
    assert got.verified is not None and not bool(got.verified.any())
    exact = indirect_effects(model, CORRUPTED, acts)
    torch.testing.assert_close(got.corrupted_prob, exact.corrupted_prob, atol=1e-6, rtol=1e-4)
    assert torch.equal(got.corrupted_correct, exact.corrupted_correct)
    assert count_fwd_hooks(model) == 0


@pytest.mark.parametrize("kind", ["hf-llama", "hooked"])
def test_attribution_batched_equals_one_prompt_at_a_time(kind: str) -> None:
    model = tiny_of_kind(kind)  # prompts of 2 and 3 demonstrations: rows padded in a batch
    assert len({e.n_demos for e in CORRUPTED}) > 1
    acts = mean_head_activations(model, EXAMPLES)
    one = Runner(model, RunConfig(batch_size=1))
    many = Runner(model, RunConfig(batch_size=4))
    a = indirect_effects(model, CORRUPTED, acts, run=one, method="attribution")
    b = indirect_effects(model, CORRUPTED, acts, run=many, method="attribution")
    torch.testing.assert_close(a.cie, b.cie, atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(a.corrupted_prob, b.corrupted_prob, atol=1e-6, rtol=1e-4)


def test_verified_heads_carry_the_exact_effect_and_rank_first(model: Any) -> None:
    acts = mean_head_activations(model, EXAMPLES)
    exact = indirect_effects(model, CORRUPTED, acts)
    got = indirect_effects(model, CORRUPTED, acts, method="attribution+verify", n_verify=3)
    assert got.method == "attribution+verify" and got.verified is not None
    assert int(got.verified.sum()) == 3
    assert got.estimate is not None
    # the verified heads are the estimate's top 3, and their CIE is the exact one
    est_top = {(la, h) for la, h, _ in indirect_effects(
        model, CORRUPTED, acts, method="attribution").top_heads(3)}  # fmt: skip
    assert {tuple(x) for x in got.verified.nonzero().tolist()} == est_top
    v = got.verified
    torch.testing.assert_close(got.cie[:, v], exact.cie[:, v], atol=1e-7, rtol=1e-4)
    torch.testing.assert_close(got.cie[:, ~v], got.estimate[:, ~v])
    # the top 3 heads are the verified ones, ordered by their exact AIE
    top = got.top_heads(3)
    assert {(la, h) for la, h, _ in top} == est_top
    assert [s for _, _, s in top] == sorted((s for _, _, s in top), reverse=True)
    rec = got.to_record()
    assert rec["method"] == "attribution+verify" and len(rec["verified_heads"]) == 3
    frame = got.to_dataframe().sort_values("rank")  # ranks as top_heads does
    assert list(zip(frame.layer[:3], frame["head"][:3], strict=True)) == [h[:2] for h in top]
    # a function vector of k <= n_verify heads sums verified heads only
    fv = build_function_vector(acts, got, k=2)
    assert {tuple(h) for h in fv.heads} <= est_top
    assert count_fwd_hooks(model) == 0


def test_verifying_every_head_gives_the_exact_ranking() -> None:
    model = tiny_of_kind("bridge")
    acts = mean_head_activations(model, EXAMPLES)
    exact = indirect_effects(model, CORRUPTED, acts)
    n = model.cfg.n_layers * model.cfg.n_heads
    got = indirect_effects(model, CORRUPTED, acts, method="attribution+verify", n_verify=n)
    torch.testing.assert_close(got.cie, exact.cie, atol=1e-7, rtol=1e-4)
    assert [h[:2] for h in got.top_heads(5)] == [h[:2] for h in exact.top_heads(5)]


def test_attribution_leaves_the_model_as_it_was() -> None:
    model = tiny_of_kind("bridge")
    params = list(model.parameters())
    before = [p.requires_grad for p in params]
    acts = mean_head_activations(model, EXAMPLES)
    indirect_effects(model, CORRUPTED, acts, method="attribution")
    assert [p.requires_grad for p in params] == before
    assert all(p.grad is None for p in params)
    assert count_fwd_hooks(model) == 0


def test_attribution_refuses_bad_settings(no_jaxtyping: None) -> None:
    model = tiny_of_kind("bridge")
    acts = mean_head_activations(model, EXAMPLES)
    with pytest.raises(ValueError, match="method must be one of exact, attribution, "):
        indirect_effects(model, CORRUPTED, acts, method="gradient")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="heads= picks the heads of method='exact'"):
        indirect_effects(model, CORRUPTED, acts, method="attribution", heads=[(0, 0)])
    for bad in (0, -2, True, 2.5):
        with pytest.raises(ValueError, match="n_verify must be an int >= 1"):
            indirect_effects(model, CORRUPTED, acts, method="attribution+verify", n_verify=bad)
    with pytest.raises(ValueError, match=r"each of heads must be a \(layer, head\) pair"):
        indirect_effects(model, CORRUPTED, acts, heads=[(0, 0, 1)])
