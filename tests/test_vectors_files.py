"""TaskVector files: refused overwrites, atomic pair writes, hashes, versions, bad files."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import tvlens
from tvlens import PAPER_FORMAT, TaskVector
from tvlens.vectors import FORMAT_VERSION


def make(vector=None, **kw) -> TaskVector:
    base = dict(model_name="m", d_model=4, n_layers=3, task="t")
    base.update(kw)
    return TaskVector(vector=torch.arange(12.0).reshape(3, 4) if vector is None else vector, **base)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder`` (hidden temp files included) with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_saved_json_records_hash_and_version(tmp_path) -> None:
    tensor_path, meta_path = make().save(tmp_path / "theta")
    meta = json.loads(meta_path.read_text())
    assert meta["format_version"] == FORMAT_VERSION == 2
    assert meta["tensor_sha256"] == hashlib.sha256(tensor_path.read_bytes()).hexdigest()
    assert meta["tvlens_version"] == tvlens.__version__
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theta.json", "theta.safetensors"]


@pytest.mark.parametrize("existing", ["both", "json", "safetensors"])
def test_save_refuses_to_overwrite(tmp_path, existing) -> None:
    tensor_path, meta_path = make().save(tmp_path / "theta")
    if existing != "both":
        (tensor_path if existing == "json" else meta_path).unlink()
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError) as err:
        (make() * 2.0).save(tmp_path / "theta.json")
    message = str(err.value)
    assert str(tensor_path) in message and str(meta_path) in message
    assert "overwrite=True" in message
    assert snapshot(tmp_path) == before


def test_save_overwrite_true_replaces_the_pair(tmp_path) -> None:
    make().save(tmp_path / "theta")
    new = make(task="other") * 2.0
    new.save(tmp_path / "theta", overwrite=True)
    assert TaskVector.load(tmp_path / "theta") == new
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theta.json", "theta.safetensors"]


def _fail_replace_onto(monkeypatch: pytest.MonkeyPatch, suffix: str) -> list[str]:
    """Make ``os.replace`` fail when it moves a file onto a ``*{suffix}`` target."""
    real = os.replace
    calls: list[str] = []

    def replace(src, dst):  # type: ignore[no-untyped-def]
        calls.append(str(dst))
        if str(dst).endswith(suffix):
            raise OSError(f"disk full while writing {dst}")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.parametrize("fail_on", [".safetensors", ".json"])
def test_failed_save_leaves_previous_pair_unchanged(tmp_path, monkeypatch, fail_on) -> None:
    old = make()
    old.save(tmp_path / "theta")
    before = snapshot(tmp_path)
    calls = _fail_replace_onto(monkeypatch, fail_on)
    with pytest.raises(OSError, match="disk full"):
        (make(task="new") * 3.0).save(tmp_path / "theta", overwrite=True)
    # With ".json", the tensor file had already been replaced: it was put back.
    assert any(c.endswith(fail_on) for c in calls)
    monkeypatch.undo()
    assert snapshot(tmp_path) == before  # no temp or backup file left either
    assert TaskVector.load(tmp_path / "theta") == old


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch) -> None:
    _fail_replace_onto(monkeypatch, ".json")
    with pytest.raises(OSError, match="disk full"):
        make().save(tmp_path / "theta")
    monkeypatch.undo()
    assert snapshot(tmp_path) == {}


def test_failing_json_step_touches_nothing(tmp_path, monkeypatch) -> None:
    old = make()
    old.save(tmp_path / "theta")
    before = snapshot(tmp_path)
    # extra is checked at construction; mutating the dict afterwards makes the JSON step
    # fail, which must happen before any file is written.
    bad = make(task="new")
    bad.extra["oops"] = object()
    with pytest.raises(TypeError, match="not JSON serializable"):
        bad.save(tmp_path / "theta", overwrite=True)
    with pytest.raises(TypeError):
        bad.save(tmp_path / "fresh")
    assert snapshot(tmp_path) == before
    assert TaskVector.load(tmp_path / "theta") == old


def test_mixed_pair_refused_by_hash(tmp_path) -> None:
    make().save(tmp_path / "a")
    (make() * 2.0).save(tmp_path / "b")
    (tmp_path / "a.safetensors").write_bytes((tmp_path / "b.safetensors").read_bytes())
    tensor_path, meta_path = tmp_path / "a.safetensors", tmp_path / "a.json"
    with pytest.raises(ValueError, match="do not belong together") as err:
        TaskVector.load(tmp_path / "a")
    assert str(tensor_path) in str(err.value) and str(meta_path) in str(err.value)
    assert "interrupted or mixed save" in str(err.value)


def _rehash(meta_path: Path, tensor_path: Path) -> None:
    """Record the tensor file's current hash, as if the pair had been saved like this."""
    meta = json.loads(meta_path.read_text())
    meta["tensor_sha256"] = hashlib.sha256(tensor_path.read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta))


def test_corrupt_tensor_file_names_path(tmp_path) -> None:
    tensor_path, meta_path = make().save(tmp_path / "theta")
    tensor_path.write_bytes(b"\x00\x01 not a safetensors file")
    with pytest.raises(ValueError, match="do not belong together") as err:
        TaskVector.load(tmp_path / "theta")  # the hash catches it first
    assert str(tensor_path) in str(err.value)
    _rehash(meta_path, tensor_path)
    with pytest.raises(ValueError, match=re.escape(str(tensor_path)) + " is corrupt"):
        TaskVector.load(tmp_path / "theta")
    save_file({"other": torch.zeros(2)}, str(tensor_path))
    _rehash(meta_path, tensor_path)
    with pytest.raises(ValueError, match=re.escape(str(tensor_path)) + ".*KeyError"):
        TaskVector.load(tmp_path / "theta")


def test_corrupt_version_1_tensor_file_names_path(tmp_path) -> None:
    _write_v1(tmp_path / "old", torch.arange(4.0))
    (tmp_path / "old.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "old.safetensors"))):
        TaskVector.load(tmp_path / "old")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda meta: "{not json", "not JSON"),
        (lambda meta: "[1, 2]", "expected a JSON object, got list"),
        (lambda meta: {k: v for k, v in meta.items() if k != "model_name"}, "missing keys"),
        (lambda meta: {**meta, "d_model": "4"}, r"d_model is '4' \(str\), expected int"),
        (lambda meta: {**meta, "layer": 1.0}, r"layer is 1\.0 \(float\), expected int or null"),
        (lambda meta: {**meta, "n_demos": True}, "n_demos is True"),
        (lambda meta: {**meta, "prompt_format": {"arrow": 5}}, "arrow"),
        (lambda meta: {**meta, "prompt_format": {"nope": "x"}}, "unexpected keyword"),
        (lambda meta: {**meta, "shape": [4, 3]}, "do not belong together"),
        (lambda meta: {**meta, "format_version": "2"}, "format_version is '2'"),
        (lambda meta: {**meta, "format_version": 0}, "format_version is 0"),
        (lambda meta: {**meta, "tensor_sha256": 5}, "tensor_sha256 is 5"),
    ],
)
def test_malformed_json_names_path(tmp_path, mutate, expected) -> None:
    _, meta_path = make().save(tmp_path / "theta")
    new = mutate(json.loads(meta_path.read_text()))
    meta_path.write_text(new if isinstance(new, str) else json.dumps(new))
    with pytest.raises(ValueError, match=expected) as err:
        TaskVector.load(tmp_path / "theta")
    assert str(meta_path) in str(err.value)


def test_missing_file_names_path(tmp_path) -> None:
    tensor_path, meta_path = make().save(tmp_path / "theta")
    tensor_path.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(tensor_path))):
        TaskVector.load(meta_path)


def test_future_format_version_refused(tmp_path) -> None:
    _, meta_path = make().save(tmp_path / "theta")
    meta = json.loads(meta_path.read_text())
    meta.update(format_version=FORMAT_VERSION + 1, tvlens_version="9.0.0")
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"written by a newer tvlens \(9\.0\.0\).*upgrade tvlens"):
        TaskVector.load(tmp_path / "theta")


def _write_v1(path: Path, vector: torch.Tensor, with_extra: bool = True) -> None:
    """A pair in the format of tvlens before the hash (format_version 1), by hand."""
    save_file({"vector": vector.contiguous()}, str(path.with_suffix(".safetensors")))
    meta = {
        "format_version": 1,
        "model_name": "m",
        "d_model": 4,
        "n_layers": 3,
        "layer": 2,
        "hook_template": "blocks.{layer}.hook_resid_post",
        "prompt_format": PAPER_FORMAT.to_dict(),
        "task": "t",
        "n_demos": 5,
        "n_dummy": 2,
        "n_examples": 10,
        "seed": 7,
        "shape": list(vector.shape),
        "dtype": "float32",
    }
    if with_extra:
        meta["extra"] = {"note": "v1"}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")


@pytest.mark.parametrize("with_extra", [True, False])
def test_version_1_files_still_load(tmp_path, with_extra) -> None:
    vector = torch.arange(4.0)
    _write_v1(tmp_path / "old", vector, with_extra)
    tv = TaskVector.load(tmp_path / "old")
    expected = make(
        vector,
        layer=2,
        prompt_format=PAPER_FORMAT,
        n_demos=5,
        n_dummy=2,
        n_examples=10,
        seed=7,
        extra={"note": "v1"} if with_extra else {},
    )
    assert tv == expected
    assert tv.metadata()["format_version"] == FORMAT_VERSION
    # Saving it again writes the current format, with a hash.
    tv.save(tmp_path / "old", overwrite=True)
    assert json.loads((tmp_path / "old.json").read_text())["tensor_sha256"]
    assert TaskVector.load(tmp_path / "old") == expected


def test_float64_round_trip_keeps_provenance(tmp_path) -> None:
    tv = make(prompt_format=PAPER_FORMAT, seed=7, extra={"k": [1, 2]}).at(1).to(dtype=torch.float64)
    tv.save(tmp_path / "wide")
    back = TaskVector.load(tmp_path / "wide")
    assert back == tv and back.vector.dtype == torch.float64 and back.extra == {"k": [1, 2]}
