"""TaskVector: provenance, arithmetic, safetensors + JSON files, model checks."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import build_tiny
from tests.helpers import letter_examples
from tvlens import PAPER_FORMAT, TaskVector, extract_task_vectors


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
