"""Half precision and devices: tiny models in bfloat16 / float16 agree with float32."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import build_tiny
from tests.helpers import letter_examples
from tvlens import extract_thetas, hypothesis
from tvlens.models import resolve_device, resolve_dtype

EXAMPLES = letter_examples(5, n_demos=3, n_dummy=2, seed=2)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("kind", ["hooked", "bridge"])
def test_half_precision_extraction_and_patching_agree_with_float32(kind, dtype) -> None:
    model = build_tiny(kind)
    ref = extract_thetas(model, EXAMPLES)
    ref_logits = hypothesis(model, EXAMPLES, 1, vector=ref[:, 1])
    model.to(dtype)
    half = extract_thetas(model, EXAMPLES)
    assert half.dtype == torch.float32  # θ is stored in float32 whatever the model's dtype
    # Documented tolerance: relative error of θ below 5% in 16-bit (8 bits of mantissa in bf16).
    rel = (half - ref).norm(dim=-1) / ref.norm(dim=-1)
    assert rel.max() < 0.05, rel.max()
    patched = hypothesis(model, EXAMPLES, 1, vector=ref[:, 1])  # a float32 θ into a 16-bit run
    agree = sum(
        a.predicted_token_id == b.predicted_token_id
        for a, b in zip(patched.predictions, ref_logits.predictions, strict=True)
    )
    assert agree >= len(EXAMPLES) - 1


def test_dtypes_and_devices_are_checked() -> None:
    assert resolve_dtype("bfloat16") is torch.bfloat16
    with pytest.raises(ValueError, match="dtype must be one of"):
        resolve_dtype("float64")
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="not a torch device"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA GPU"):
            resolve_device("cuda")


def test_cli_refuses_a_missing_device_before_loading(monkeypatch, tmp_path, capsys) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    import tvlens.models
    from tvlens.cli import main

    def never(*args, **kwargs):
        raise AssertionError("the model must not load")

    monkeypatch.setattr(tvlens.models, "load_model", never)
    code = main(["run", "--tasks", "to_upper", "--device", "cuda", "--out", str(tmp_path / "o")])
    assert code == 2 and "no CUDA GPU" in capsys.readouterr().err
