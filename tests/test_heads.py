"""Per-head hooks, mean head activations and the causal indirect effect (tvlens.fv.heads)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.conftest import ALL_KINDS, count_fwd_hooks, tiny_of_kind
from tests.helpers import letter_examples
from tvlens import ICLExample, RunConfig, Runner
from tvlens._compat import post_attention_gain, post_attention_norm
from tvlens.fv.heads import (
    HeadPatches,
    head_patch_hooks,
    mean_head_activations,
    shuffle_labels,
)
from tvlens.fv.indirect_effect import indirect_effects, mean_aie, top_heads
from tvlens.hooks import ArrowRecorder, resid_hook_name
from tvlens.prompts import DEFAULT_FORMAT, icl_prompts
from tvlens.testing import reference_head_effects

EXAMPLES = [e for e in letter_examples(12, n_demos=3, n_dummy=1, seed=3) if e.n_demos >= 2][:6]


@pytest.fixture(params=ALL_KINDS)
def model(request: pytest.FixtureRequest) -> Any:
    return tiny_of_kind(request.param)


def _z_at_arrows(model: Any, prompts: list[str]) -> torch.Tensor:
    runner = Runner(model)
    batch = runner.tokenize(prompts, DEFAULT_FORMAT)
    names = [f"blocks.{la}.attn.hook_z" for la in range(model.cfg.n_layers)]
    rec = ArrowRecorder(batch.positions, tuple(names))
    runner.logits(batch, rec.hooks)
    return torch.stack([rec.get(n) for n in names], 1)  # [n, L, H, d_head]


def _logits(runner: Runner, prompts: list[str], patches: HeadPatches | None) -> torch.Tensor:
    return runner.predict(prompts, DEFAULT_FORMAT, patches=patches, reduce=lambda lg, _: lg).values


def test_patching_a_heads_own_activation_leaves_logits_unchanged(model: Any) -> None:
    prompts = icl_prompts(EXAMPLES, DEFAULT_FORMAT)
    z = _z_at_arrows(model, prompts)
    runner = Runner(model, RunConfig(batch_size=4))
    clean = _logits(runner, prompts, None)
    n_layers, n_heads = z.shape[1:3]
    for layer, head in [(0, 0), (n_layers - 1, n_heads - 1), (1, 1)]:
        n = len(prompts)
        patches = HeadPatches(
            vectors=z[:, layer, head],
            layers=torch.full((n,), layer),
            heads=torch.full((n,), head),
        )
        torch.testing.assert_close(_logits(runner, prompts, patches), clean, atol=1e-5, rtol=1e-5)
    assert count_fwd_hooks(model) == 0


def test_patching_head_changes_nothing_before_its_layer(model: Any) -> None:
    runner = Runner(model)
    batch = runner.tokenize(icl_prompts(EXAMPLES[:3], DEFAULT_FORMAT), DEFAULT_FORMAT)
    n_layers = model.cfg.n_layers
    names = [resid_hook_name(la) for la in range(n_layers)]

    def run(extra: list) -> dict[str, torch.Tensor]:
        acts: dict[str, torch.Tensor] = {}

        def keep(x: torch.Tensor, hook: Any, name: str = "") -> torch.Tensor:
            acts[name] = x.detach().clone()
            return x

        hooks = [(n, lambda x, hook, n=n: keep(x, hook, n)) for n in names]
        with torch.inference_mode():
            model.run_with_hooks(
                batch.tokens, attention_mask=batch.attention_mask, fwd_hooks=[*extra, *hooks]
            )
        return acts

    clean = run([])
    target = 1
    d_head = model.cfg.d_head
    vec = torch.randn(3, d_head, generator=torch.Generator().manual_seed(0)) * 5
    pairs = head_patch_hooks(
        vec,
        torch.full((3,), target),
        torch.tensor([0, 1, 2]),
        batch.positions,
        n_layers=n_layers,
    )
    patched = run(pairs)
    rows = torch.arange(3)
    for la, name in enumerate(names):
        before = la < target
        at_arrow = (patched[name] - clean[name])[rows, batch.positions].abs().max()
        assert (at_arrow == 0) if before else (at_arrow > 1e-4), (la, float(at_arrow))
        # Positions before the arrow never see the patch (causal attention).
        mask = torch.arange(batch.tokens.shape[1])[None] < batch.positions[:, None]
        assert torch.equal(patched[name][mask], clean[name][mask])


@pytest.mark.parametrize("method", ["auto", "batched"])
def test_aie_batched_equals_one_head_at_a_time(model: Any, method: str) -> None:
    runner = Runner(model, RunConfig(batch_size=3, sweep_batch_size=7, method=method))
    acts = mean_head_activations(model, EXAMPLES, run=runner)
    corrupted = shuffle_labels(EXAMPLES[:4], seed=1)
    effects = indirect_effects(model, corrupted, acts, run=runner)
    # the oracle computes the mean hook_z over EXAMPLES itself, one prompt per pass
    ref = reference_head_effects(model, EXAMPLES, corrupted, DEFAULT_FORMAT)
    assert effects.cie.shape == (4, model.cfg.n_layers, model.cfg.n_heads)
    assert float(ref.abs().max()) > 0
    torch.testing.assert_close(effects.cie, ref, atol=1e-7, rtol=1e-3)
    torch.testing.assert_close(effects.aie, ref.mean(0), atol=1e-7, rtol=1e-3)
    assert count_fwd_hooks(model) == 0


def test_indirect_effects_of_chosen_heads() -> None:
    model = tiny_of_kind("hf-llama")
    acts = mean_head_activations(model, EXAMPLES)
    corrupted = shuffle_labels(EXAMPLES[:3])
    every = indirect_effects(model, corrupted, acts)
    some = indirect_effects(model, corrupted, acts, heads=[(1, 2), (0, 3)])
    for la, h in [(1, 2), (0, 3)]:
        torch.testing.assert_close(some.cie[:, la, h], every.cie[:, la, h])
    assert float(some.cie[:, 0, 0].abs().max()) == 0.0
    with pytest.raises(ValueError, match="out of range"):
        indirect_effects(model, corrupted, acts, heads=[(5, 0)])


def test_head_activations_decompose_the_attention_output(model: Any) -> None:
    acts = mean_head_activations(model, EXAMPLES, run=RunConfig(batch_size=4))
    assert acts.decomposition_error < 1e-4
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    assert acts.z.shape == (n_layers, n_heads, model.cfg.d_head)
    assert acts.resid.shape == (n_layers, model.cfg.d_model)
    for kind in ("residual", "pre_norm", "mean_scale"):
        assert acts.head_outputs(kind).shape == (n_layers, n_heads, model.cfg.d_model)
    post = post_attention_norm(model, 0) is not None
    assert acts.post_norm == post
    assert (acts.attn_scale is not None) == post
    same = torch.allclose(acts.head_outputs("residual"), acts.head_outputs("pre_norm"), atol=1e-6)
    assert same != post  # the definitions differ exactly on a post-norm model
    # The "pre_norm" mean is the mean z through W_O (linearity).
    w_o = torch.stack([model.blocks[la].attn.W_O.detach() for la in range(n_layers)])
    expect = torch.einsum("lhd,lhdm->lhm", acts.z, w_o)
    torch.testing.assert_close(acts.head_outputs("pre_norm"), expect, atol=1e-5, rtol=1e-4)


def test_unknown_head_output_is_refused(no_jaxtyping: None) -> None:
    acts = mean_head_activations(tiny_of_kind("bridge"), EXAMPLES[:2])
    with pytest.raises(ValueError, match="head output"):
        acts.head_outputs("raw")  # type: ignore[arg-type]


def test_grouped_query_attention_heads_are_query_heads() -> None:
    for arch, kv in [("llama", 2), ("gemma3", 1)]:
        model = tiny_of_kind(f"hf-{arch}")
        acts = mean_head_activations(model, EXAMPLES[:2])
        assert (acts.n_heads, acts.n_key_value_heads) == (4, kv)


def test_post_attention_gain_is_one_plus_gemmas_weight() -> None:
    model = tiny_of_kind("hf-gemma3")
    hf_norm = model.original_model.model.layers[1].post_attention_layernorm
    saved = hf_norm.weight.detach().clone()
    with torch.no_grad():
        hf_norm.weight.copy_(torch.linspace(-0.5, 0.5, hf_norm.weight.shape[0]))
    try:
        gain = post_attention_gain(model, 1)
        assert gain is not None
        torch.testing.assert_close(gain, 1 + hf_norm.weight.detach(), atol=1e-5, rtol=1e-5)
        acts = mean_head_activations(model, EXAMPLES[:3])
        assert acts.decomposition_error < 1e-4
    finally:
        with torch.no_grad():
            hf_norm.weight.copy_(saved)
    assert post_attention_gain(tiny_of_kind("hf-llama"), 0) is None


def test_head_patch_hooks_validate(no_jaxtyping: None) -> None:
    vec, pos = torch.zeros(2, 16), torch.tensor([1, 2])
    one = torch.tensor([0, 0])
    with pytest.raises(ValueError, match="out of range"):
        head_patch_hooks(vec, torch.tensor([0, 3]), one, pos, n_layers=3)
    with pytest.raises(ValueError, match="one per row"):
        head_patch_hooks(vec[:1], one, one, pos, n_layers=3)
    with pytest.raises(ValueError, match="NaN"):
        head_patch_hooks(vec.clone().fill_(float("nan")), one, one, pos, n_layers=3)
    with pytest.raises(ValueError, match="negative"):
        head_patch_hooks(vec, one, torch.tensor([0, -1]), pos, n_layers=3)
    assert head_patch_hooks(vec, torch.tensor([-1, -1]), one, pos, n_layers=3) == []
    with pytest.raises(ValueError, match="mode"):
        HeadPatches(vec, one, mode="add", heads=one)
    with pytest.raises(ValueError, match="one layer and head"):
        HeadPatches(vec, one, heads=torch.tensor([0]))


def test_shuffle_labels_is_a_derangement() -> None:
    examples = [e for e in letter_examples(20, n_demos=4, seed=5) if e.n_demos >= 2]
    shuffled = shuffle_labels(examples, seed=2)
    for ex, sh in zip(examples, shuffled, strict=True):
        assert (sh.query, sh.answer, sh.dummy_queries) == (ex.query, ex.answer, ex.dummy_queries)
        assert [x for x, _ in sh.demos] == [x for x, _ in ex.demos]
        assert sorted(y for _, y in sh.demos) == sorted(y for _, y in ex.demos)
        assert all(a != b for a, b in zip(sh.demos, ex.demos, strict=True))
    assert shuffle_labels(examples, seed=2) == shuffled
    one_demo = [e for e in letter_examples(6, n_demos=3) if e.n_demos == 1]
    with pytest.raises(ValueError, match="at least 2"):
        shuffle_labels(one_demo)


def test_top_heads_and_effect_views() -> None:
    aie = torch.tensor([[0.1, -0.2], [0.5, 0.0], [0.0, 0.3]])
    assert top_heads(aie, 2) == [(1, 0, pytest.approx(0.5)), (2, 1, pytest.approx(0.3))]
    with pytest.raises(ValueError, match="k must be"):
        top_heads(aie, 7)
    model = tiny_of_kind("bridge")
    acts = mean_head_activations(model, EXAMPLES[:3])
    effects = indirect_effects(model, shuffle_labels(EXAMPLES[:3]), acts)
    frame = effects.to_dataframe()
    assert len(frame) == model.cfg.n_layers * model.cfg.n_heads
    assert set(frame.columns) == {"task", "layer", "head", "aie", "rank"}
    assert frame.sort_values("rank").iloc[0]["aie"] == pytest.approx(effects.top_heads(1)[0][2])
    assert len(effects.figure(k=3).data) == 1
    record = effects.to_record(k=3)
    assert len(record["top_heads"]) == 3 and 0 <= record["corrupted_accuracy"] <= 1
    torch.testing.assert_close(mean_aie([effects, effects]), effects.aie)


def _labelled(outputs: list[str], answer: str = "Asia") -> ICLExample:
    demos = tuple((f"place{j}", y) for j, y in enumerate(outputs))
    return ICLExample(demos=demos, query="Kyoto", answer=answer, task="location_continent")


def test_shuffle_labels_makes_every_repeated_label_wrong() -> None:
    # issue 18 item 6: a permutation by position left repeated labels correct (39% of
    # location_religion demonstrations); every demonstration must now be labelled wrong.
    cases = [
        ["Asia", "Asia", "Europe", "Africa"],  # a permutation can do it
        ["Asia", "Asia", "Europe", "Europe"],
        ["Asia", "Asia", "Asia", "Europe", "Africa"],  # it cannot: labels from the pool
        ["Asia", "Asia", "Asia", "Asia", "Asia"],
    ]
    examples = [_labelled(c) for c in cases] + [_labelled(["Oceania", "Europe"], "Africa")]
    for seed in range(25):
        shuffled = shuffle_labels(examples, seed=seed)
        for ex, sh in zip(examples, shuffled, strict=True):
            assert [x for x, _ in sh.demos] == [x for x, _ in ex.demos]
            assert all(a[1] != b[1] for a, b in zip(sh.demos, ex.demos, strict=True)), (seed, sh)
        # where a permutation exists the labels are a permutation (the label mix is kept)
        for k in (0, 1):
            assert sorted(y for _, y in shuffled[k].demos) == sorted(cases[k])
        assert shuffle_labels(examples, seed=seed) == shuffled


def test_shuffle_labels_pool_and_its_errors() -> None:
    same = _labelled(["Asia", "Asia", "Asia"])
    got = shuffle_labels([same], pool=["Asia", "Europe"])[0]
    assert [y for _, y in got.demos] == ["Europe"] * 3
    with pytest.raises(ValueError, match="pool holds no other output"):
        shuffle_labels([same])  # every output and the answer are "Asia"
    with pytest.raises(TypeError, match="pool must be a list"):
        shuffle_labels([same], pool="Europe")
    with pytest.raises(ValueError, match="--n-demos 2"):
        shuffle_labels([_labelled(["Asia"])])
