"""The FunctionVector value object, its patching, files, sweeps and the method comparison."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.conftest import ALL_KINDS, count_fwd_hooks, tiny_of_kind
from tests.helpers import letter_examples
from tvlens import RunConfig, Runner, TaskVector
from tvlens.engine.patches import Patches
from tvlens.fv.heads import mean_head_activations, shuffle_labels
from tvlens.fv.indirect_effect import indirect_effects
from tvlens.fv.methods import (
    COMPARED_MODES,
    add_at_layer,
    additive_sweep,
    compare_methods,
    comparison_table,
)
from tvlens.fv.vector import FunctionVector, build_function_vector
from tvlens.hooks import resid_hook_name
from tvlens.prompts import DEFAULT_FORMAT, zero_shot_prompts

EXAMPLES = [e for e in letter_examples(16, n_demos=3, n_dummy=1, seed=4) if e.n_demos >= 2]


@cache
def _fv(kind: str, k: int = 3) -> FunctionVector:
    model = tiny_of_kind(kind)
    acts = mean_head_activations(model, EXAMPLES[:5])
    effects = indirect_effects(model, shuffle_labels(EXAMPLES[:5]), acts)
    return build_function_vector(acts, effects, k=k, n_demos=3, seed=0)


@pytest.fixture(params=ALL_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    tiny_of_kind(request.param)  # skips "hooked" on TransformerLens 4
    return str(request.param)


def test_function_vector_is_the_sum_of_the_top_heads(kind: str) -> None:
    model = tiny_of_kind(kind)
    acts = mean_head_activations(model, EXAMPLES[:5])
    effects = indirect_effects(model, shuffle_labels(EXAMPLES[:5]), acts)
    for head_output in ("residual", "pre_norm", "mean_scale"):
        fv = build_function_vector(acts, effects, k=3, head_output=head_output)
        top = effects.top_heads(3)
        assert fv.heads == tuple((la, h) for la, h, _ in top)
        assert fv.head_scores == pytest.approx([s for _, _, s in top])
        outs = acts.head_outputs(head_output)
        torch.testing.assert_close(fv.vector, sum(outs[la, h] for la, h, _ in top))
    every = build_function_vector(acts, effects)  # DEFAULT_K = 16 > the model's heads: all
    assert every.k == model.cfg.n_layers * model.cfg.n_heads
    torch.testing.assert_close(every.vector, acts.head_outputs("residual").sum((0, 1)))
    chosen = build_function_vector(acts, effects.aie, heads=[(0, 1), (1, 0)])
    assert chosen.heads == ((0, 1), (1, 0)) and chosen.n_corrupted == 0
    assert fv.extra["post_norm"] == (kind == "hf-gemma3")
    assert fv.extra["n_key_value_heads"] == {"hf-llama": 2, "hf-gemma3": 1}.get(kind, 4)


def _manual_add(model: Any, prompt: str, vec: torch.Tensor, layer: int) -> torch.Tensor:
    """The next-token logits of one prompt with ``vec`` added at its last position."""

    def add(resid: torch.Tensor, hook: Any) -> torch.Tensor:
        resid[:, -1] = resid[:, -1] + vec
        return resid

    with torch.inference_mode():
        tokens = model.to_tokens(prompt)
        out = model.run_with_hooks(tokens, fwd_hooks=[(resid_hook_name(layer), add)])
    return out[0, -1].float()


def test_fv_added_at_a_layer_equals_a_manual_resid_post_add(kind: str) -> None:
    model = tiny_of_kind(kind)
    fv = _fv(kind) * 20.0  # large enough to move the logits
    prompts = zero_shot_prompts(EXAMPLES[:4], DEFAULT_FORMAT)
    runner = Runner(model, RunConfig(batch_size=3))
    layer = 1
    patches = Patches.at_layer(fv.vector.expand(4, -1), layer, mode="add")
    got = runner.predict(prompts, DEFAULT_FORMAT, patches=patches, reduce=lambda lg, _: lg).values
    want = torch.stack([_manual_add(model, p, fv.vector, layer) for p in prompts])
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    plain = runner.predict(prompts, DEFAULT_FORMAT, reduce=lambda lg, _: lg).values
    assert float((got - plain).abs().max()) > 1e-3
    # The value object's own hooks do the same.
    batch = runner.tokenize(prompts[:1], DEFAULT_FORMAT)
    with torch.inference_mode(), fv.at(layer).apply(model, batch.positions):
        logits = model(batch.tokens, attention_mask=batch.attention_mask)
    torch.testing.assert_close(logits[0, -1].float(), want[0], atol=1e-4, rtol=1e-4)
    assert count_fwd_hooks(model) == 0


def test_additive_sweep_equals_adding_at_each_layer(kind: str) -> None:
    model = tiny_of_kind(kind)
    fv = _fv(kind) * 20.0
    runner = Runner(model, RunConfig(batch_size=3, sweep_batch_size=5))
    for vector in (fv.vector, torch.randn(model.cfg.n_layers, model.cfg.d_model) * 3):
        for icl in (False, True):
            sweep = additive_sweep(model, EXAMPLES[:5], vector, icl=icl, run=runner)
            for layer in sweep.layers:
                one = add_at_layer(model, EXAMPLES[:5], vector, layer, icl=icl, run=runner)
                got = [p.predicted_token_id for p in one.predictions]
                assert got == sweep.predicted_token_ids[:, layer].tolist()
                assert one.accuracy == pytest.approx(sweep.accuracy[layer])


def test_save_load_round_trip(tmp_path: Path) -> None:
    fv = _fv("bridge").at(2)
    tensor_path, meta_path = fv.save(tmp_path / "fv")
    loaded = FunctionVector.load(tmp_path / "fv", model=tiny_of_kind("bridge"))
    assert loaded == fv and loaded.layer == 2 and loaded.heads == fv.heads
    meta = json.loads(meta_path.read_text())
    assert meta["kind"] == "function_vector" and meta["format_version"] == 1
    assert len(meta["tensor_sha256"]) == 64
    with pytest.raises(FileExistsError):
        fv.save(tmp_path / "fv")
    other = (fv * 2.0).save(tmp_path / "other")
    tensor_path.write_bytes(other[0].read_bytes())  # a mixed pair
    with pytest.raises(ValueError, match="do not belong together"):
        FunctionVector.load(tmp_path / "fv")
    fv.save(tmp_path / "fv", overwrite=True)
    assert FunctionVector.load(tmp_path / "fv.json") == fv
    future = {**meta, "format_version": 99}
    meta_path.write_text(json.dumps(future))
    with pytest.raises(ValueError, match="newer tvlens"):
        FunctionVector.load(tmp_path / "fv")
    tv = TaskVector(torch.zeros(4), model_name="m", d_model=4, n_layers=2, layer=1)
    tv.save(tmp_path / "tv")
    with pytest.raises(ValueError, match="not a function vector"):
        FunctionVector.load(tmp_path / "tv")
    with pytest.raises(ValueError, match="built on"):
        FunctionVector.load(tmp_path / "other", model=tiny_of_kind("hf-llama"))


def test_function_vector_validates(no_jaxtyping: None) -> None:
    base: dict[str, Any] = {
        "vector": torch.zeros(8),
        "model_name": "m",
        "d_model": 8,
        "n_layers": 3,
        "heads": ((1, 0),),
    }
    FunctionVector(**base)
    for bad, match in [
        ({"heads": ()}, "at least one head"),
        ({"heads": ((3, 0),)}, "distinct"),
        ({"heads": ((1, 0), (1, 0))}, "distinct"),
        ({"vector": torch.full((8,), float("nan"))}, "NaN"),
        ({"d_model": 4}, "d_model"),
        ({"head_scores": (0.1, 0.2)}, "head scores"),
        ({"head_output": "raw"}, "head_output"),
        ({"layer": 3}, "out of range"),
    ]:
        with pytest.raises(ValueError, match=match):
            FunctionVector(**{**base, **bad})
    with pytest.raises(ValueError, match="no layer"):
        FunctionVector(**base).hooks(torch.tensor([0]))
    assert FunctionVector(**base).k == 1


def test_compare_methods_on_tiny_models(kind: str) -> None:
    model = tiny_of_kind(kind)
    dev, test = EXAMPLES[:5], EXAMPLES[5:9]
    result = compare_methods(model, test, dev=dev, k=2, run=RunConfig(batch_size=4))
    assert list(result.accuracies) == list(COMPARED_MODES)
    assert all(len(m.predictions) == len(test) for m in result.modes.values())
    assert result.function_vector.layer == result.layers["fv_zero_shot"]
    assert set(result.sweeps) == {"tv", "fv", "fv_shuffled", "layer_average", "mean_difference"}
    frame = result.to_dataframe()
    assert list(frame["method"]) == list(COMPARED_MODES)
    record = json.loads(json.dumps(result.to_record()))
    assert set(record["methods"]) == set(COMPARED_MODES)
    assert len(record["test_examples"]) == len(test)
    assert record["function_vector"]["k"] == len(record["function_vector"]["heads"]) == 2
    assert len(result.figure().data) == len(COMPARED_MODES)
    table = comparison_table([result])
    assert list(table.index) == [result.task, "mean"]
    # The same layer given for TV skips its sweep; modes already run are reused as they are.
    known = {"regular": result.modes["regular"], "hypothesis": result.modes["hypothesis"]}
    layer = result.layers["hypothesis"]
    fixed = compare_methods(model, test, dev=dev, k=[1, 2], tv_layer=layer, known=known)
    assert fixed.layers["hypothesis"] == layer and "tv" not in fixed.sweeps
    assert fixed.modes["regular"] is known["regular"]
    assert set(fixed.k_dev) == {1, 2} and fixed.function_vector.k in (1, 2)
    assert fixed.sweeps["fv"].best_accuracy == max(a for _, a in fixed.k_dev.values())
    with pytest.raises(ValueError, match="tv_layer"):
        compare_methods(model, test, dev=dev, known=known)
    with pytest.raises(ValueError, match="not run on these"):
        compare_methods(model, test[:2], dev=dev, known={"regular": result.modes["regular"]})
    assert count_fwd_hooks(model) == 0
