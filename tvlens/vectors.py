"""The TaskVector value object: a tensor plus where it came from; safetensors + JSON files."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from jaxtyping import Float, Int
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor

from tvlens._compat import RESID_POST_TEMPLATE, has_hook, model_name
from tvlens._version import __version__
from tvlens.hooks import (
    LayerLike,
    PatchMode,
    as_layer,
    check_hook_template,
    check_n_layers,
    task_vector_hooks,
)
from tvlens.prompts import DEFAULT_FORMAT, PromptFormat
from tvlens.protocol import HookedModel, HookPair

# 1: safetensors + JSON. 2: the JSON also records the tensor file's sha256 and the tvlens
# version; version-1 files still load (without the hash check).
FORMAT_VERSION = 2


@dataclass(frozen=True, eq=False)
class TaskVector:
    """A task vector θ with its provenance.

    ``vector`` is ``[n_layers, d_model]`` (θ at every layer) or ``[d_model]`` (one layer,
    given by ``layer``). Task vectors support ``+``, ``-``, scalar ``*`` and
    :meth:`mean`; arithmetic requires the same model, shape and layer. A one-layer vector
    patches itself into a model with :meth:`apply` (or gives its hook pairs, :meth:`hooks`).

    Example:
        >>> tv = TaskVector(torch.zeros(2, 4), model_name="m", d_model=4, n_layers=2)
        >>> (tv + tv * 2.0).at(1).vector.shape
        torch.Size([4])
        >>> with tv.at(1).apply(model, batch.positions):  # doctest: +SKIP
        ...     logits = model(batch.tokens, attention_mask=batch.attention_mask)
    """

    vector: Float[Tensor, "n_layers d_model"] | Float[Tensor, " d_model"]
    model_name: str
    d_model: int
    n_layers: int
    layer: int | None = None
    hook_template: str = RESID_POST_TEMPLATE
    prompt_format: PromptFormat = DEFAULT_FORMAT
    task: str = ""
    n_demos: int = 0
    n_dummy: int = 0
    n_examples: int = 1
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        v = self.vector
        if not isinstance(v, Tensor):
            raise TypeError(
                f"TaskVector.vector must be a torch tensor, got {type(v).__name__}; "
                "pass torch.as_tensor(vector)"
            )
        if not v.is_floating_point():
            raise TypeError(
                f"TaskVector.vector must be a floating-point tensor, got dtype {v.dtype}; "
                "pass vector.float()"
            )
        d_model = _positive_int(self.d_model, "d_model")
        n_layers = check_n_layers(self.n_layers)
        object.__setattr__(self, "d_model", d_model)
        object.__setattr__(self, "n_layers", n_layers)
        if v.dim() not in (1, 2):
            raise ValueError(
                f"vector must be [n_layers, d_model] or [d_model], got shape {tuple(v.shape)}"
            )
        if v.shape[-1] != d_model:
            raise ValueError(f"vector's last dim {v.shape[-1]} != d_model {d_model}")
        if v.dim() == 2:
            if v.shape[0] != n_layers:
                raise ValueError(f"vector has {v.shape[0]} layers but n_layers={n_layers}")
            if self.layer is not None:
                raise ValueError("an all-layer vector [n_layers, d_model] must have layer=None")
        else:
            layer = None if self.layer is None else as_layer(self.layer)
            if layer is None or not layer < n_layers:
                raise ValueError(
                    f"a one-layer vector needs layer in 0..{n_layers - 1}, got {self.layer}"
                )
            object.__setattr__(self, "layer", layer)
        bad = int((~torch.isfinite(v)).sum())
        if bad:
            raise ValueError(
                f"TaskVector.vector has {bad} NaN or inf entries (of {v.numel()}); a task "
                "vector must be finite: check the run that produced it (e.g. a float16 overflow)"
            )
        check_hook_template(self.hook_template)
        for name in ("model_name", "task"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"TaskVector.{name} must be a str, got {getattr(self, name)!r}")
        if not isinstance(self.prompt_format, PromptFormat):
            raise TypeError(
                f"TaskVector.prompt_format must be a PromptFormat, got {self.prompt_format!r}; "
                "use tvlens.prompts.get_format(name)"
            )
        for name, low in (("n_demos", 0), ("n_dummy", 0), ("n_examples", 1)):
            object.__setattr__(self, name, _int_at_least(getattr(self, name), name, low))
        if self.seed is not None:
            object.__setattr__(self, "seed", _int_at_least(self.seed, "seed", None))
        if not isinstance(self.extra, Mapping):
            raise TypeError(
                f"TaskVector.extra must be a dict, got {type(self.extra).__name__}; "
                "pass a dict of JSON values"
            )
        object.__setattr__(self, "extra", _json_safe(self.extra, "extra"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskVector):
            return NotImplemented
        return self.metadata() == other.metadata() and torch.equal(
            self.vector.cpu(), other.vector.cpu()
        )

    __hash__ = None  # type: ignore[assignment]

    # ---- views -------------------------------------------------------------------------
    @property
    def hook_name(self) -> str | None:
        """The hook this vector is patched at (``None`` for an all-layer vector)."""
        return None if self.layer is None else self.hook_template.format(layer=self.layer)

    def at(self, layer: LayerLike) -> TaskVector:
        """The one-layer task vector at ``layer`` (an int, numpy int or 0-d int tensor)."""
        value = as_layer(layer)
        if not value < self.n_layers:
            raise ValueError(
                f"layer {value} is out of range: this vector has layers 0..{self.n_layers - 1}"
            )
        if self.layer is not None:
            if value != self.layer:
                raise ValueError(f"this vector holds layer {self.layer} only, not {value}")
            return self
        return replace(self, vector=self.vector[value], layer=value)

    def tensor_at(self, layer: LayerLike) -> Float[Tensor, " d_model"]:
        """The raw ``[d_model]`` tensor at ``layer``."""
        return self.at(layer).vector

    def to(
        self, device: str | torch.device | None = None, dtype: torch.dtype | None = None
    ) -> TaskVector:
        """A copy with the tensor moved to ``device`` and/or cast to ``dtype`` (a float dtype).

        Provenance is kept; ``metadata()["dtype"]`` follows the new dtype.
        """
        return replace(self, vector=self.vector.to(device=device, dtype=dtype))

    # ---- patching ----------------------------------------------------------------------
    def hooks(
        self, positions: Int[Tensor, " batch"], *, patch: PatchMode = "replace"
    ) -> list[HookPair]:
        """The ``(hook_name, fn)`` pairs that patch this one-layer vector at ``positions``.

        Built with :func:`tvlens.hooks.task_vector_hooks` from this vector's own
        ``hook_template``, ``layer`` and ``n_layers``.

        Args:
            positions: ``[batch]`` position to patch in each row (e.g. ``batch.positions``).
            patch: ``"replace"`` the residual there (the paper) or ``"add"`` to it.

        Raises:
            ValueError: for an all-layer vector (call :meth:`at` first) or bad positions.
        """
        if self.layer is None:
            raise ValueError(
                f"this task vector holds all {self.n_layers} layers "
                f"(shape {tuple(self.vector.shape)}); pick the layer to patch first: "
                "tv.at(layer).hooks(positions)"
            )
        return task_vector_hooks(
            self.vector,
            self.layer,
            positions,
            mode=patch,
            n_layers=self.n_layers,
            hook_template=self.hook_template,
        )

    @contextlib.contextmanager
    def apply(
        self,
        model: HookedModel,
        positions: Int[Tensor, " batch"],
        *,
        patch: PatchMode = "replace",
    ) -> Iterator[HookedModel]:
        """Patch this one-layer vector into ``model`` inside a ``with`` block.

        The hooks are added through ``model.hooks(...)``, so TransformerLens removes exactly
        these hooks on exit, also when the block raises; hooks the user added stay.

        Args:
            model: the model this vector was extracted from (checked with
                :meth:`check_model`).
            positions: ``[batch]`` position to patch in each row of the batch run inside
                the block.
            patch: ``"replace"`` or ``"add"``.

        Example:
            >>> with theta.at(5).apply(model, batch.positions):  # doctest: +SKIP
            ...     logits = model(batch.tokens, attention_mask=batch.attention_mask)
        """
        self.check_model(model)
        pairs = self.hooks(positions, patch=patch)  # built (and validated) before any hook
        for name, _ in pairs:  # a bridge ignores a hook it lacks: the patch would never fire
            if not has_hook(model, name):
                raise ValueError(
                    f"{name!r} (from hook_template {self.hook_template!r}) is not a hook point "
                    "of this model"
                )
        with model.hooks(fwd_hooks=pairs):
            yield model

    # ---- arithmetic --------------------------------------------------------------------
    def _check_same(self, other: TaskVector) -> None:
        if not isinstance(other, TaskVector):
            raise TypeError(
                f"task vectors combine only with task vectors, got {type(other).__name__}; "
                "for a raw tensor use tv.vector"
            )
        mine = (self.model_name, self.d_model, self.n_layers, self.layer, self.hook_template)
        theirs = (other.model_name, other.d_model, other.n_layers, other.layer, other.hook_template)
        if mine != theirs:
            raise ValueError(
                "task vectors differ in model, d_model, n_layers, layer or hook: "
                f"{mine} vs {theirs}"
            )
        if self.prompt_format != other.prompt_format:
            raise ValueError(
                "task vectors were extracted with different prompt formats "
                f"({self.prompt_format.name!r} vs {other.prompt_format.name!r}); combine "
                "vectors of one format"
            )

    def __add__(self, other: TaskVector) -> TaskVector:
        self._check_same(other)
        task = self.task if self.task == other.task else f"{self.task}+{other.task}"
        return replace(self, vector=self.vector + other.vector, task=task)

    def __sub__(self, other: TaskVector) -> TaskVector:
        self._check_same(other)
        task = self.task if self.task == other.task else f"{self.task}-{other.task}"
        return replace(self, vector=self.vector - other.vector, task=task)

    def __mul__(self, scale: float | int) -> TaskVector:
        if not isinstance(scale, (int, float)):
            return NotImplemented
        return replace(self, vector=self.vector * float(scale))

    __rmul__ = __mul__

    def __neg__(self) -> TaskVector:
        return self * -1.0

    @classmethod
    def mean(cls, vectors: Sequence[TaskVector]) -> TaskVector:
        """The mean of several task vectors of one model (``n_examples`` adds up)."""
        vectors = list(vectors)
        if not vectors:
            raise ValueError("cannot average an empty list of task vectors")
        first = vectors[0]
        for other in vectors:
            first._check_same(other)
        stacked = torch.stack([v.vector for v in vectors]).mean(0)
        tasks = sorted({v.task for v in vectors})
        # Provenance that differs between the vectors is not the first one's: it is listed.
        extra = dict(first.extra)
        fields: dict[str, Any] = {}
        for name in ("n_demos", "n_dummy", "seed"):
            values = sorted({getattr(v, name) for v in vectors}, key=repr)
            if len(values) > 1:
                fields[name] = None if name == "seed" else 0
                extra[f"{name}_values"] = values
        return replace(
            first,
            vector=stacked,
            task=tasks[0] if len(tasks) == 1 else "+".join(tasks),
            n_examples=sum(v.n_examples for v in vectors),
            extra=extra,
            **fields,
        )

    # ---- model checks ------------------------------------------------------------------
    def check_model(self, model: HookedModel) -> None:
        """Refuse a model this vector was not made with.

        Raises:
            ValueError: naming the mismatching d_model, n_layers or model name.
        """
        d_model, n_layers = int(model.cfg.d_model), int(model.cfg.n_layers)
        name = model_name(model)
        problems = []
        if d_model != self.d_model:
            problems.append(f"d_model {self.d_model} (vector) vs {d_model} (model)")
        if n_layers != self.n_layers:
            problems.append(f"n_layers {self.n_layers} (vector) vs {n_layers} (model)")
        if name != self.model_name:
            problems.append(f"model name {self.model_name!r} (vector) vs {name!r} (model)")
        if problems:
            raise ValueError(
                "task vector was extracted from another model: "
                + "; ".join(problems)
                + ". Extract it again on this model."
            )

    # ---- files -------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """Provenance as a JSON-ready dict."""
        return {
            "format_version": FORMAT_VERSION,
            "model_name": self.model_name,
            "d_model": self.d_model,
            "n_layers": self.n_layers,
            "layer": self.layer,
            "hook_template": self.hook_template,
            "prompt_format": self.prompt_format.to_dict(),
            "task": self.task,
            "n_demos": self.n_demos,
            "n_dummy": self.n_dummy,
            "n_examples": self.n_examples,
            "seed": self.seed,
            "shape": list(self.vector.shape),
            "dtype": str(self.vector.dtype).removeprefix("torch."),
            "extra": self.extra,
        }

    def save(self, path: str | Path, *, overwrite: bool = False) -> tuple[Path, Path]:
        """Write ``<path>.safetensors`` (the tensor) and ``<path>.json`` (provenance).

        The pair is written atomically: both files go to temporary files in the same folder
        (flushed and fsynced) and are then moved into place; if anything fails, the previous
        pair (if any) is left as it was. The JSON records the sha256 of the tensor file, so
        :meth:`load` refuses a mixed pair.

        Args:
            path: ``theta``, ``theta.json`` or ``theta.safetensors``.
            overwrite: replace an existing pair (otherwise refused).

        Returns:
            The two paths written. Nothing is pickled.

        Raises:
            FileExistsError: if either file exists and ``overwrite`` is false.
        """
        return _save_pair(path, self.to_bytes, "task vector", overwrite)

    def to_bytes(self) -> tuple[bytes, bytes]:
        """The contents :meth:`save` writes: the safetensors file and the JSON file."""
        return pair_bytes(self.vector, self.metadata())

    @classmethod
    def load(cls, path: str | Path, model: HookedModel | None = None) -> TaskVector:
        """Read a vector written by :meth:`save`; with ``model``, check it matches.

        Files of format version 1 (before the tensor hash was recorded) still load.

        Raises:
            FileNotFoundError: if either file is missing.
            ValueError: on a malformed or corrupt file, a pair whose tensor does not match
                its JSON, a file from a newer tvlens, or (with ``model``) another model's
                vector. The message names the file.
        """
        tensor_path, meta_path = _paths(path)
        for p in (tensor_path, meta_path):
            if not p.exists():
                raise FileNotFoundError(f"task vector file {p} not found (saved with .save()?)")
        meta = _read_meta(meta_path)
        blob = tensor_path.read_bytes()
        expected = meta["tensor_sha256"]
        actual = hashlib.sha256(blob).hexdigest()
        if expected is not None and actual != expected:
            raise ValueError(
                f"task vector files {tensor_path} and {meta_path} do not belong together: the "
                f"tensor file's sha256 is {actual[:16]}... but the JSON records "
                f"{expected[:16]}... (an interrupted or mixed save); save the vector again"
            )
        try:
            vector = load_safetensors(blob)["vector"]
        except Exception as err:
            raise ValueError(
                f"task vector tensor file {tensor_path} is corrupt or not a tvlens file "
                f"({type(err).__name__}: {err}); save the vector again"
            ) from err
        if (
            list(vector.shape) != meta["shape"]
            or str(vector.dtype).removeprefix("torch.") != meta["dtype"]
        ):
            raise ValueError(
                f"task vector files {tensor_path} and {meta_path} do not belong together: the "
                f"tensor is {str(vector.dtype).removeprefix('torch.')} {list(vector.shape)} "
                f"but the JSON records {meta['dtype']} {meta['shape']}; save the vector again"
            )
        try:
            tv = cls(
                vector=vector,
                model_name=meta["model_name"],
                d_model=meta["d_model"],
                n_layers=meta["n_layers"],
                layer=meta["layer"],
                hook_template=meta["hook_template"],
                prompt_format=PromptFormat(**meta["prompt_format"]),
                task=meta["task"],
                n_demos=meta["n_demos"],
                n_dummy=meta["n_dummy"],
                n_examples=meta["n_examples"],
                seed=meta["seed"],
                extra=meta["extra"],
            )
        except Exception as err:
            raise ValueError(
                f"malformed task vector file {meta_path}: {type(err).__name__}: {err}"
            ) from err
        if model is not None:
            tv.check_model(model)
        return tv


# ---- helpers -------------------------------------------------------------------------------
def pair_bytes(vector: Tensor, metadata: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """The two files of a saved vector: safetensors, then JSON with the tensor's sha256.

    Everything that can fail on the content (non-JSON metadata, NaN) fails here, before
    any file is touched.
    """
    blob = save_safetensors({"vector": vector.detach().cpu().contiguous()})
    meta = {
        **metadata,
        "tensor_sha256": hashlib.sha256(blob).hexdigest(),
        "tvlens_version": _tvlens_version(),
    }
    return blob, (json.dumps(meta, indent=2, allow_nan=False) + "\n").encode("utf-8")


def _save_pair(
    path: str | Path, files: Callable[[], tuple[bytes, bytes]], kind: str, overwrite: bool
) -> tuple[Path, Path]:
    """Write ``<path>.safetensors`` + ``<path>.json`` (``files()``) together, atomically.

    Raises:
        FileExistsError: if either file exists and ``overwrite`` is false.
    """
    tensor_path, meta_path = _paths(path)
    if not overwrite:
        existing = [str(p) for p in (tensor_path, meta_path) if p.exists()]
        if existing:
            raise FileExistsError(
                f"{kind} file(s) {', '.join(existing)} already exist; pass "
                f"overwrite=True to replace {tensor_path} and {meta_path}"
            )
    blob, text = files()  # may fail on the content: before any file is touched
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    _replace_together([(tensor_path, blob), (meta_path, text)])
    return tensor_path, meta_path


def _paths(path: str | Path) -> tuple[Path, Path]:
    """``theta`` or ``theta.json`` or ``theta.safetensors`` -> both file paths."""
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.parent / f"{p.name}.safetensors", p.parent / f"{p.name}.json"


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"TaskVector.{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"TaskVector.{name} must be >= 1, got {value}")
    return int(value)


def _int_at_least(value: Any, name: str, low: int | None) -> int:
    """``value`` as a Python int (numpy ints converted), ``>= low`` unless ``low`` is None."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"TaskVector.{name} must be an int, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"TaskVector.{name} must be >= {low}, got {value}")
    return int(value)


def _json_safe(value: Any, where: str) -> Any:
    """``value`` as plain JSON data (numpy scalars -> Python, tuples -> lists), or raise.

    Raises:
        TypeError: naming ``where`` (e.g. ``extra['ids'][2]``) for a value JSON cannot hold.
        ValueError: for a NaN or infinite float.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}: JSON has no NaN or inf; store a finite number")
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_json_safe(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"{where} has the key {key!r} ({type(key).__name__}); JSON keys are "
                    f"strings: use str({key!r})"
                )
            out[key] = _json_safe(item, f"{where}[{key!r}]")
        return out
    raise TypeError(
        f"{where} is a {type(value).__name__}, which JSON cannot store; use str, int, float, "
        "bool, None, or lists / dicts of them (e.g. .tolist() for an array or tensor)"
    )


def _tvlens_version() -> str:
    return __version__


_META_TYPES: dict[str, tuple[type, ...]] = {
    "model_name": (str,),
    "d_model": (int,),
    "n_layers": (int,),
    "layer": (int, type(None)),
    "hook_template": (str,),
    "prompt_format": (dict,),
    "task": (str,),
    "n_demos": (int,),
    "n_dummy": (int,),
    "n_examples": (int,),
    "seed": (int, type(None)),
    "shape": (list,),
    "dtype": (str,),
    "extra": (dict,),
    "tensor_sha256": (str, type(None)),
}


def _read_meta(meta_path: Path) -> dict[str, Any]:
    """The JSON of a saved vector, migrated to the current format and type-checked."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except Exception as err:
        raise ValueError(
            f"malformed task vector file {meta_path}: not JSON ({type(err).__name__}: {err})"
        ) from err
    if not isinstance(meta, dict):
        raise ValueError(
            f"malformed task vector file {meta_path}: expected a JSON object, got "
            f"{type(meta).__name__}"
        )
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(
            f"malformed task vector file {meta_path}: format_version is {version!r}, "
            f"expected an int from 1 to {FORMAT_VERSION}"
        )
    if version > FORMAT_VERSION:
        raise ValueError(
            f"task vector file {meta_path} has format_version {version}: it was written by "
            f"a newer tvlens ({meta.get('tvlens_version', 'unknown version')}), and this one "
            f"reads format versions up to {FORMAT_VERSION}; upgrade tvlens"
        )
    if version == 1:
        meta = _migrate_v1(meta)
    missing = [key for key in _META_TYPES if key not in meta]
    if missing:
        raise ValueError(
            f"malformed task vector file {meta_path}: missing keys {missing}; save the vector again"
        )
    for key, types in _META_TYPES.items():
        value = meta[key]
        if isinstance(value, bool) or not isinstance(value, types):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise ValueError(
                f"malformed task vector file {meta_path}: {key} is {value!r} "
                f"({type(value).__name__}), expected {names}"
            )
    return meta


def _migrate_v1(meta: dict[str, Any]) -> dict[str, Any]:
    """Format 1 -> 2: no tensor hash (nothing to check) and no tvlens version."""
    return {
        **meta,
        "format_version": 2,
        "extra": meta.get("extra", {}),
        "tensor_sha256": None,
        "tvlens_version": None,
    }


def _write_new(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file at ``path``, flushed and fsynced to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _side_path(target: Path, kind: str) -> Path:
    """A hidden, unique path next to ``target`` (same folder, so ``os.replace`` is atomic)."""
    return target.parent / f".{target.name}.{secrets.token_hex(6)}.{kind}"


def _replace_together(items: Sequence[tuple[Path, bytes]]) -> None:
    """Put every ``(target, data)`` in place, or (on any failure) none of them.

    Each file is written to a temporary file in its folder and then moved over its target
    with ``os.replace``. A target already replaced when a later step fails is restored
    from a hard link (or copy) of its old contents, or removed if it did not exist.
    """
    temps: list[tuple[Path, Path]] = []
    backups: dict[Path, Path] = {}
    replaced: list[Path] = []
    try:
        for target, data in items:
            tmp = _side_path(target, "tmp")
            temps.append((tmp, target))
            _write_new(tmp, data)
        for tmp, target in temps:
            if target.exists():
                backup = _side_path(target, "bak")
                try:
                    os.link(target, backup)
                except OSError:
                    shutil.copy2(target, backup)
                backups[target] = backup
            os.replace(tmp, target)
            replaced.append(target)
    except BaseException:
        for target in reversed(replaced):
            with contextlib.suppress(OSError):
                if target in backups:
                    os.replace(backups.pop(target), target)
                else:
                    target.unlink()
        raise
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        for backup in backups.values():
            with contextlib.suppress(OSError):
                backup.unlink(missing_ok=True)
    for folder in {target.parent for target, _ in items}:
        _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
