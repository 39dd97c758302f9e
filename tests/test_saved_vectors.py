"""The saved-vector base (tvlens.saved) and the one file module (tvlens.files).

TaskVector and FunctionVector share one loader with every check: these tests hold the
function vector to the checks the task vector always had (shape, dtype, corrupt tensor
file, typed JSON fields), and the run to the one pair writer.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from tests.conftest import count_fwd_hooks, tiny_of_kind
from tvlens import TaskVector
from tvlens.files import json_safe, replace_together, sha256_file
from tvlens.fv.vector import FunctionVector
from tvlens.run.files import MANIFEST_NAME, dumps_strict, is_ours, read_manifest
from tvlens.run.methods import write_function_vector
from tvlens.saved import SavedVector


def make_fv(**kw: Any) -> FunctionVector:
    base: dict[str, Any] = {
        "vector": torch.arange(8.0),
        "model_name": "m",
        "d_model": 8,
        "n_layers": 3,
        "heads": ((1, 0), (2, 1)),
        "head_scores": (0.5, 0.25),
        "layer": 1,
        "task": "t",
        "n_demos": 3,
        "n_prompts": 5,
        "n_corrupted": 5,
        "seed": 0,
        "extra": {"note": "x"},
    }
    base.update(kw)
    return FunctionVector(**base)


def _rewrite(meta_path: Path, **changes: Any) -> None:
    meta = json.loads(meta_path.read_text())
    meta.update(changes)
    meta_path.write_text(json.dumps(meta))


def _rehash(meta_path: Path, tensor_path: Path) -> None:
    """Record the tensor file's current hash, as if the pair had been saved like this."""
    _rewrite(meta_path, tensor_sha256=hashlib.sha256(tensor_path.read_bytes()).hexdigest())


# ---- one base --------------------------------------------------------------------------
def test_both_vectors_share_one_implementation() -> None:
    for cls in (TaskVector, FunctionVector):
        assert issubclass(cls, SavedVector)
        for name in ("load", "save", "to_bytes", "check_model", "to", "hooks", "apply", "__eq__"):
            assert name not in vars(cls), f"{cls.__name__}.{name} duplicates the base"


def test_function_vector_round_trip_is_byte_stable(tmp_path: Path) -> None:
    fv = make_fv()
    tensor_path, meta_path = fv.save(tmp_path / "fv")
    assert FunctionVector.load(tmp_path / "fv") == fv
    blob, text = fv.to_bytes()
    assert tensor_path.read_bytes() == blob and meta_path.read_bytes() == text
    keys = list(json.loads(text))  # the order of 0.1 / 0.2 files
    assert keys[:2] == ["kind", "format_version"] and keys[-3:] == [
        "extra",
        "tensor_sha256",
        "tvlens_version",
    ]


# ---- the function vector gets every check of the loader ----------------------------------
def test_function_vector_load_checks_the_shape(tmp_path: Path) -> None:
    _, meta_path = make_fv().save(tmp_path / "fv")
    _rewrite(meta_path, shape=[4])
    with pytest.raises(ValueError, match=r"do not belong together: the tensor is float32 \[8\]"):
        FunctionVector.load(tmp_path / "fv")


def test_function_vector_load_checks_the_dtype(tmp_path: Path) -> None:
    _, meta_path = make_fv().save(tmp_path / "fv")
    _rewrite(meta_path, dtype="float16")
    with pytest.raises(ValueError, match=r"JSON records float16 \[8\]"):
        FunctionVector.load(tmp_path / "fv")


def test_function_vector_corrupt_tensor_file_names_it(tmp_path: Path) -> None:
    tensor_path, meta_path = make_fv().save(tmp_path / "fv")
    tensor_path.write_bytes(b"\x00\x01 not a safetensors file")
    _rehash(meta_path, tensor_path)
    with pytest.raises(ValueError, match=re.escape(str(tensor_path)) + " is corrupt"):
        FunctionVector.load(tmp_path / "fv")
    save_file({"other": torch.zeros(8)}, str(tensor_path))
    _rehash(meta_path, tensor_path)
    with pytest.raises(ValueError, match=re.escape(str(tensor_path)) + ".*KeyError"):
        FunctionVector.load(tmp_path / "fv")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"d_model": "8"}, r"d_model is '8' \(str\), expected int"),
        ({"heads": "1,0"}, r"heads is '1,0' \(str\), expected list"),
        ({"n_prompts": True}, "n_prompts is True"),
        ({"layer": 1.0}, r"layer is 1\.0 \(float\), expected int or null"),
        ({"tensor_sha256": None}, r"tensor_sha256 is None \(NoneType\), expected str"),
        ({"format_version": "1"}, "format_version is '1'"),
    ],
)
def test_function_vector_json_fields_are_typed(tmp_path: Path, changes, expected) -> None:
    _, meta_path = make_fv().save(tmp_path / "fv")
    _rewrite(meta_path, **changes)
    with pytest.raises(ValueError, match=expected) as err:
        FunctionVector.load(tmp_path / "fv")
    assert f"malformed function vector file {meta_path}" in str(err.value)


def test_function_vector_missing_key_named(tmp_path: Path) -> None:
    _, meta_path = make_fv().save(tmp_path / "fv")
    meta = json.loads(meta_path.read_text())
    del meta["head_output"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"missing keys \['head_output'\]"):
        FunctionVector.load(tmp_path / "fv")


def test_task_vector_load_names_a_function_vector_file(tmp_path: Path) -> None:
    make_fv().save(tmp_path / "fv")
    with pytest.raises(ValueError, match=r"not a task vector file.*FunctionVector\.load"):
        TaskVector.load(tmp_path / "fv")


def test_function_vector_apply_refuses_a_hook_the_model_lacks() -> None:
    model = tiny_of_kind("bridge")
    fv = make_fv(
        vector=torch.zeros(model.cfg.d_model),
        model_name=_model_name(model),
        d_model=model.cfg.d_model,
        n_layers=model.cfg.n_layers,
        heads=((0, 0),),
        head_scores=(),
        layer=0,
        hook_template="blocks.{layer}.hook_no_such_point",
    )
    with (
        pytest.raises(ValueError, match="is not a hook point of this model"),
        fv.apply(model, torch.tensor([0])),
    ):
        pytest.fail("the block must not run")
    assert count_fwd_hooks(model) == 0


def _model_name(model: Any) -> str:
    from tvlens._compat import model_name

    return model_name(model)


def test_check_model_names_what_differs() -> None:
    model = tiny_of_kind("bridge")
    fv = make_fv(model_name=_model_name(model))
    with pytest.raises(ValueError, match=r"built on another model: d_model 8 \(vector\) vs "):
        fv.check_model(model)


# ---- the run writes the pair through the pair writer ------------------------------------
def test_run_writes_the_function_vector_pair_together(tmp_path: Path, monkeypatch) -> None:
    old = make_fv()
    assert write_function_vector(tmp_path, "t", old) == "t.fv"
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real = os.replace

    def replace(src, dst):  # type: ignore[no-untyped-def]
        if str(dst).endswith("t.fv.json"):
            raise OSError(f"disk full while writing {dst}")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        write_function_vector(tmp_path, "t", make_fv(task="new") * 2.0)
    monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != MANIFEST_NAME}
    assert after == {k: v for k, v in before.items() if k != MANIFEST_NAME}  # the old pair
    assert FunctionVector.load(tmp_path / "t.fv") == old
    assert is_ours(tmp_path, "t.fv.safetensors") and is_ours(tmp_path, "t.fv.json")
    new = make_fv(task="new")
    write_function_vector(tmp_path, "t", new)
    assert FunctionVector.load(tmp_path / "t.fv") == new
    files = read_manifest(tmp_path)["files"]
    assert set(files) == {"t.fv.safetensors", "t.fv.json"}


# ---- the one file module -----------------------------------------------------------------
def test_replace_together_records_before_it_replaces(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def record(temps: list[Path]) -> None:
        seen.append([p.read_text() for p in temps])
        assert not (tmp_path / "a").exists()

    replace_together([(tmp_path / "a", b"1"), (tmp_path / "b", b"2")], before_replace=record)
    assert seen == [["1", "2"]] and (tmp_path / "a").read_text() == "1"

    def refuse(temps: list[Path]) -> None:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        replace_together([(tmp_path / "a", b"x")], before_replace=refuse)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    assert (tmp_path / "a").read_text() == "1"


def test_sha256_file(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)  # over one read chunk
    (tmp_path / "x").write_bytes(data)
    assert sha256_file(tmp_path / "x") == hashlib.sha256(data).hexdigest()
    assert sha256_file(tmp_path / "missing") is None


def test_json_safe_modes() -> None:
    value = {"a": np.float32(0.5), "b": (1, np.int64(2)), "c": math.nan}
    with pytest.raises(ValueError, match=r"x\['c'\] is nan"):
        json_safe(value, "x")
    assert json_safe(value, nan="null") == {"a": 0.5, "b": [1, 2], "c": None}
    # results.json: numpy scalars and NaN in a run's record are written as plain JSON
    text = dumps_strict({"acc": np.float32(math.nan), "n": np.int64(3), "ok": np.bool_(True)})
    assert json.loads(text) == {"acc": None, "n": 3, "ok": True}
