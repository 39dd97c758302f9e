"""TaskVector: provenance, arithmetic, safetensors + JSON files, model checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.conftest import build_tiny, count_fwd_hooks
from tests.helpers import letter_examples
from tvlens import (
    PAPER_FORMAT,
    TaskVector,
    extract_task_vectors,
    task_vector_hooks,
    tokenize_prompts,
)
from tvlens._compat import model_name

TEXTS = ["a -> A\nb -> B\nc ->", "d -> D\ne ->", "f ->"]


@pytest.fixture()
def no_jaxtyping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Call tvlens without the test-only jaxtyping + beartype layer, as users do."""
    import jaxtyping

    monkeypatch.setattr(jaxtyping.config, "jaxtyping_disable", True)


def make(vector=None, **kw) -> TaskVector:
    base = dict(model_name="m", d_model=4, n_layers=3, task="t")
    base.update(kw)
    return TaskVector(vector=torch.arange(12.0).reshape(3, 4) if vector is None else vector, **base)


def test_arithmetic_and_mean() -> None:
    a, b = make(), make(torch.ones(3, 4))
    torch.testing.assert_close((a + b).vector, a.vector + 1)
    torch.testing.assert_close((2 * a).vector, a.vector * 2)
    torch.testing.assert_close((a - a).vector, torch.zeros(3, 4))
    m = TaskVector.mean([a, b])
    torch.testing.assert_close(m.vector, (a.vector + 1) / 2)
    assert m.n_examples == 2
    assert a.at(1).vector.tolist() == [4.0, 5.0, 6.0, 7.0]
    assert a.at(1).hook_name == "blocks.1.hook_resid_post"


def test_mismatch_refused() -> None:
    with pytest.raises(ValueError, match="differ"):
        _ = make() + make(model_name="other")
    with pytest.raises(ValueError, match="empty"):
        TaskVector.mean([])
    with pytest.raises(ValueError, match="out of range"):
        make().at(3)
    with pytest.raises(ValueError, match="d_model"):
        make(torch.zeros(3, 5))


def test_save_load_round_trip(tmp_path) -> None:
    tv = make(prompt_format=PAPER_FORMAT, seed=7, n_demos=5, n_dummy=2).at(2)
    tensor_path, meta_path = tv.save(tmp_path / "theta")
    assert tensor_path.name == "theta.safetensors" and meta_path.name == "theta.json"
    meta = json.loads(meta_path.read_text())
    assert meta["layer"] == 2 and meta["prompt_format"]["input_prefix"] == "example:"
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pt"))
    back = TaskVector.load(tmp_path / "theta.json")
    assert back == tv
    assert back != tv * 2.0
    assert back.prompt_format == PAPER_FORMAT and back.seed == 7 and back.layer == 2


def test_load_missing_and_malformed(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        TaskVector.load(tmp_path / "nope")
    make().save(tmp_path / "x")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="malformed"):
        TaskVector.load(tmp_path / "x")


@pytest.mark.parametrize("kind", ["hooked", "bridge"])
def test_load_against_model_checks_shape_and_name(tmp_path, kind) -> None:
    model = build_tiny(kind)
    tv = TaskVector.mean(extract_task_vectors(model, letter_examples(3)))
    assert tv.vector.shape == (model.cfg.n_layers, model.cfg.d_model)
    tv.save(tmp_path / "tv")
    TaskVector.load(tmp_path / "tv", model=model)  # same model: fine
    other = build_tiny(kind, d_model=32)
    with pytest.raises(ValueError, match=r"another model: d_model 64 \(vector\) vs 32"):
        TaskVector.load(tmp_path / "tv", model=other)


# ---- construction --------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_vector_refused(bad) -> None:
    vec = torch.zeros(3, 4)
    vec[2, 1] = bad
    with pytest.raises(ValueError, match=r"has 1 NaN or inf entries \(of 12\)"):
        make(vec)
    with pytest.raises(ValueError, match="NaN or inf"):
        make() * bad  # arithmetic goes through the same door


def test_vector_of_wrong_type_refused(no_jaxtyping) -> None:
    with pytest.raises(TypeError, match="must be a torch tensor, got list"):
        make([[0.0] * 4] * 3)
    with pytest.raises(TypeError, match=r"floating-point tensor, got dtype torch.int64.*float\(\)"):
        make(torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"got shape \(1, 3, 4\)"):
        make(torch.zeros(1, 3, 4))
    with pytest.raises(TypeError, match="d_model must be an int"):
        make(d_model=4.0)
    with pytest.raises(TypeError, match="n_layers must be an int"):
        make(n_layers="3")


def test_layer_is_int_like(no_jaxtyping) -> None:
    tv = make(torch.zeros(4), layer=np.int64(2))
    assert tv.layer == 2 and type(tv.layer) is int
    assert type(make(torch.zeros(4), layer=torch.tensor(1)).layer) is int
    for bad in (1.5, True, "2"):
        with pytest.raises(TypeError, match=r"layer must be an int"):
            make(torch.zeros(4), layer=bad)
    with pytest.raises(ValueError, match=r"layer in 0\.\.2, got 3"):
        make(torch.zeros(4), layer=3)


@pytest.mark.parametrize("layer", [np.int64(2), np.int32(2), torch.tensor(2)])
def test_at_accepts_numpy_and_tensor_ints(layer) -> None:
    tv = make().at(layer)
    assert tv.layer == 2 and type(tv.layer) is int
    assert type(tv.metadata()["layer"]) is int
    json.dumps(tv.metadata())
    assert tv == make().at(2)
    torch.testing.assert_close(make().tensor_at(layer), make().at(2).vector)


def test_at_refuses_non_int_layers(no_jaxtyping) -> None:
    for bad in (1.5, True, "1"):
        with pytest.raises(TypeError, match="layer must be an int"):
            make().at(bad)
    with pytest.raises(ValueError, match="negative"):
        make().at(-1)


def test_bad_hook_template_refused() -> None:
    with pytest.raises(ValueError, match="hook_template"):
        make(hook_template="blocks.0.hook_resid_post")


def test_extra_made_json_safe() -> None:
    tv = make(
        extra={
            "lr": np.float32(0.5),
            "k": np.int64(3),
            "ok": np.bool_(True),
            "span": (1, np.int16(2)),
            "nested": {"ids": [np.int64(4), (5, 6)], "name": np.str_("x")},
            "zero_d": np.array(7),
            "none": None,
        }
    )
    assert tv.extra == {
        "lr": 0.5,
        "k": 3,
        "ok": True,
        "span": [1, 2],
        "nested": {"ids": [4, [5, 6]], "name": "x"},
        "zero_d": 7,
        "none": None,
    }
    assert type(tv.extra["k"]) is int and type(tv.extra["lr"]) is float
    assert json.loads(json.dumps(tv.metadata()))["extra"] == tv.extra


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"s": {1, 2}}, r"extra\['s'\] is a set"),
        ({"a": {"b": [1, object()]}}, r"extra\['a'\]\['b'\]\[1\] is a object"),
        ({"t": torch.zeros(2)}, r"extra\['t'\] is a Tensor.*tolist"),
        ({"arr": np.zeros(2)}, r"extra\['arr'\] is a ndarray"),
        ({"d": {3: "x"}}, r"extra\['d'\] has the key 3 \(int\); JSON keys are strings"),
        ({"c": 1j}, r"extra\['c'\] is a complex"),
    ],
)
def test_extra_that_json_cannot_hold_refused(extra, where) -> None:
    with pytest.raises(TypeError, match=where):
        make(extra=extra)


def test_extra_nan_and_non_dict_refused(no_jaxtyping) -> None:
    with pytest.raises(ValueError, match=r"extra\['x'\] is nan"):
        make(extra={"x": float("nan")})
    with pytest.raises(TypeError, match="extra must be a dict, got list"):
        make(extra=[1])


# ---- .to -----------------------------------------------------------------------------------
def test_to_dtype_keeps_provenance(no_jaxtyping) -> None:
    tv = make(prompt_format=PAPER_FORMAT, seed=3, n_demos=5, extra={"a": 1}).at(1)
    wide = tv.to(dtype=torch.float64)
    assert wide.vector.dtype == torch.float64 and tv.vector.dtype == torch.float32
    assert wide is not tv
    meta, wide_meta = tv.metadata(), wide.metadata()
    assert wide_meta.pop("dtype") == "float64" and meta.pop("dtype") == "float32"
    assert wide_meta == meta
    torch.testing.assert_close(wide.vector, tv.vector.double())
    assert tv.to(device="cpu") == tv
    with pytest.raises(TypeError, match="floating-point"):
        tv.to(dtype=torch.int64)


# ---- hooks and apply -----------------------------------------------------------------------
def _vector_for(model, layer: int, seed: int = 0) -> TaskVector:
    gen = torch.Generator().manual_seed(seed)
    return TaskVector(
        vector=torch.randn(model.cfg.n_layers, model.cfg.d_model, generator=gen),
        model_name=model_name(model),
        d_model=model.cfg.d_model,
        n_layers=model.cfg.n_layers,
    ).at(layer)


def _logits(model, batch, hooks=()) -> torch.Tensor:
    return model.run_with_hooks(
        batch.tokens, attention_mask=batch.attention_mask, fwd_hooks=list(hooks)
    )


@pytest.mark.parametrize("patch", ["replace", "add"])
def test_hooks_patch_like_task_vector_hooks(tiny_model, patch) -> None:
    batch = tokenize_prompts(tiny_model, TEXTS, padding_side="left")
    tv = _vector_for(tiny_model, 1)
    pairs = tv.hooks(batch.positions, patch=patch)
    assert [name for name, _ in pairs] == ["blocks.1.hook_resid_post"]
    expected = task_vector_hooks(
        tv.vector, 1, batch.positions, mode=patch, n_layers=tiny_model.cfg.n_layers
    )
    patched = _logits(tiny_model, batch, pairs)
    assert (patched - _logits(tiny_model, batch)).abs().max() > 1e-3
    torch.testing.assert_close(patched, _logits(tiny_model, batch, expected))


def test_hooks_follow_the_vectors_hook_template(tiny_model) -> None:
    # resid_pre of block 2 == resid_post of block 1.
    batch = tokenize_prompts(tiny_model, TEXTS)
    post = _vector_for(tiny_model, 1)
    pre = TaskVector(
        vector=post.vector,
        model_name=post.model_name,
        d_model=post.d_model,
        n_layers=post.n_layers,
        layer=2,
        hook_template="blocks.{layer}.hook_resid_pre",
    )
    pairs = pre.hooks(batch.positions)
    assert [name for name, _ in pairs] == ["blocks.2.hook_resid_pre"] == [pre.hook_name]
    torch.testing.assert_close(
        _logits(tiny_model, batch, pairs), _logits(tiny_model, batch, post.hooks(batch.positions))
    )


def test_all_layer_vector_has_no_hooks() -> None:
    with pytest.raises(ValueError, match=r"holds all 3 layers.*\.at\(layer\)"):
        make().hooks(torch.tensor([1]))
    with pytest.raises(ValueError, match="negative entry"):
        make().at(0).hooks(torch.tensor([-1]))


@pytest.mark.parametrize("fresh_tiny_model", ["hooked", "bridge"], indirect=True)
def test_apply_patches_inside_and_removes_only_its_hooks(fresh_tiny_model) -> None:
    model = fresh_tiny_model
    batch = tokenize_prompts(model, TEXTS)
    tv = _vector_for(model, 2)
    fired: list[int] = []
    model.add_hook("blocks.0.hook_resid_post", lambda act, hook: fired.append(1))
    before = count_fwd_hooks(model)
    plain = _logits(model, batch)
    expected = _logits(model, batch, tv.hooks(batch.positions))
    with tv.apply(model, batch.positions) as patched_model:
        assert patched_model is model
        assert count_fwd_hooks(model) > before
        inside = model(batch.tokens, attention_mask=batch.attention_mask)
    torch.testing.assert_close(inside, expected)
    assert (inside - plain).abs().max() > 1e-3
    assert count_fwd_hooks(model) == before
    torch.testing.assert_close(model(batch.tokens, attention_mask=batch.attention_mask), plain)
    fired.clear()
    model(batch.tokens, attention_mask=batch.attention_mask)
    assert fired == [1]  # the user's own hook is still there


@pytest.mark.parametrize("fresh_tiny_model", ["hooked", "bridge"], indirect=True)
def test_apply_removes_its_hooks_when_the_block_raises(fresh_tiny_model) -> None:
    model = fresh_tiny_model
    batch = tokenize_prompts(model, TEXTS)
    fired: list[int] = []
    model.add_hook("blocks.1.hook_resid_post", lambda act, hook: fired.append(1))
    before = count_fwd_hooks(model)
    with pytest.raises(KeyboardInterrupt), _vector_for(model, 1).apply(model, batch.positions):
        model(batch.tokens, attention_mask=batch.attention_mask)
        raise KeyboardInterrupt
    assert count_fwd_hooks(model) == before
    far = batch.positions + batch.tokens.shape[1]  # refused inside the hook, mid-forward
    with (
        pytest.raises(ValueError, match="sequence has only"),
        _vector_for(model, 0).apply(model, far),
    ):
        model(batch.tokens, attention_mask=batch.attention_mask)
    assert count_fwd_hooks(model) == before
    fired.clear()
    model(batch.tokens, attention_mask=batch.attention_mask)
    assert fired == [1]


@pytest.mark.parametrize("kind", ["hooked", "bridge"])
def test_apply_refuses_another_model_before_adding_hooks(kind) -> None:
    model = build_tiny(kind)
    other = build_tiny(kind, d_model=32)
    batch = tokenize_prompts(other, TEXTS)
    with (
        pytest.raises(ValueError, match="another model"),
        _vector_for(model, 1).apply(other, batch.positions),
    ):
        pytest.fail("the block must not run")
    assert count_fwd_hooks(other) == 0
    whole = TaskVector(
        vector=torch.zeros(model.cfg.n_layers, model.cfg.d_model),
        model_name=model_name(model),
        d_model=model.cfg.d_model,
        n_layers=model.cfg.n_layers,
    )
    with pytest.raises(ValueError, match=r"\.at\(layer\)"), whole.apply(model, batch.positions):
        pytest.fail("the block must not run")
    assert count_fwd_hooks(model) == 0
