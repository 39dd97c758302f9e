"""The saved-vector base of :class:`tvlens.TaskVector` and :class:`tvlens.fv.FunctionVector`.

Both are a float tensor with its provenance, saved as ``<path>.safetensors`` (the tensor,
nothing pickled) + ``<path>.json`` (the provenance, the tensor file's sha256 and the tvlens
version). :class:`SavedVector` holds what they share, once: equality, :meth:`~SavedVector.to`,
:meth:`~SavedVector.check_model`, the hooks that patch the vector in
(:meth:`~SavedVector.hooks`, :meth:`~SavedVector.apply`), the pair writer
(:meth:`~SavedVector.save`, written through :func:`tvlens.files.replace_together`) and the one
loader with every check (file kind, format version and migration, typed JSON fields, tensor
sha256, corrupt tensor file, shape and dtype). A subclass (a frozen dataclass) gives its
fields, :meth:`~SavedVector.metadata`, how it is built from a loaded file, its format version
and migrations, and which layer it patches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from jaxtyping import Int
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor

from tvlens._compat import has_hook, model_name
from tvlens._version import __version__
from tvlens.files import replace_together, sha256_bytes
from tvlens.hooks import LayerLike, PatchMode, task_vector_hooks
from tvlens.prompts import PromptFormat
from tvlens.protocol import HookedModel, HookPair

_V = TypeVar("_V", bound="SavedVector")

# The JSON "kind" of each saved vector's file -> (what it is, the class that loads it).
_FILE_KINDS: dict[str | None, tuple[str, str]] = {
    None: ("task vector", "TaskVector"),
    "function_vector": ("function vector", "FunctionVector"),
}

COMMON_META_TYPES: dict[str, tuple[type, ...]] = {
    "model_name": (str,),
    "d_model": (int,),
    "n_layers": (int,),
    "layer": (int, type(None)),
    "hook_template": (str,),
    "prompt_format": (dict,),
    "task": (str,),
    "n_demos": (int,),
    "seed": (int, type(None)),
    "shape": (list,),
    "dtype": (str,),
    "extra": (dict,),
    "tensor_sha256": (str,),
}
"""The JSON fields every saved vector has, with their JSON types (``bool`` never counts as int)."""


class SavedVector:
    """A tensor with provenance that patches a model and is saved as safetensors + JSON.

    Subclasses are frozen dataclasses with at least the fields annotated here, and set the
    class attributes below.
    """

    KIND: ClassVar[str]  # what it is, in messages ("task vector")
    FILE_KIND: ClassVar[str | None]  # the "kind" its JSON records (None: no "kind" key)
    FORMAT_VERSION: ClassVar[int]  # the format it writes; _migrate reads the older ones
    META_TYPES: ClassVar[dict[str, tuple[type, ...]]]  # the JSON fields load requires
    DEFAULT_PATCH: ClassVar[PatchMode]  # how hooks() patches by default
    MADE: ClassVar[tuple[str, str]]  # how it was made, how to make it again (check_model)

    vector: Tensor
    model_name: str
    d_model: int
    n_layers: int
    layer: int | None
    hook_template: str
    extra: dict[str, Any]

    # ---- the subclass's part -----------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """Provenance as a JSON-ready dict (what :meth:`save` writes, less the hash)."""
        raise NotImplementedError

    @classmethod
    def _from_meta(cls: type[_V], vector: Tensor, meta: dict[str, Any]) -> _V:
        """The vector of a loaded file (``meta``: migrated, type-checked): field = JSON key."""
        make: Any = cls  # a frozen dataclass
        skip = ("vector", "prompt_format")
        names = [f.name for f in dataclasses.fields(make) if f.name not in skip]
        fmt = PromptFormat(**meta["prompt_format"])
        loaded: _V = make(vector=vector, prompt_format=fmt, **{n: meta[n] for n in names})
        return loaded

    @classmethod
    def _migrate(cls, meta: dict[str, Any], version: int) -> dict[str, Any]:
        """``meta`` of format ``version`` (older than :attr:`FORMAT_VERSION`) in today's format."""
        return meta

    def _patch_at(self, layer: LayerLike | None) -> tuple[Tensor, int]:
        """The ``[d_model]`` tensor to patch and its layer (``layer``: the caller's choice)."""
        raise NotImplementedError

    # ---- shared ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.metadata() == other.metadata() and torch.equal(
            self.vector.cpu(), other.vector.cpu()
        )

    __hash__ = None  # type: ignore[assignment]

    def to(
        self: _V, device: str | torch.device | None = None, dtype: torch.dtype | None = None
    ) -> _V:
        """A copy with the tensor moved to ``device`` and/or cast to ``dtype`` (a float dtype).

        Provenance is kept; ``metadata()["dtype"]`` follows the new dtype.
        """
        return dataclasses.replace(self, vector=self.vector.to(device=device, dtype=dtype))  # type: ignore[type-var]

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
            made, again = self.MADE
            raise ValueError(
                f"{self.KIND} was {made} another model: "
                + "; ".join(problems)
                + f". {again} on this model."
            )

    def hooks(
        self,
        positions: Int[Tensor, " batch"],
        layer: LayerLike | None = None,
        *,
        patch: PatchMode | None = None,
    ) -> list[HookPair]:
        """The ``(hook_name, fn)`` pairs that patch this vector at ``positions``.

        Built with :func:`tvlens.hooks.task_vector_hooks` from this vector's own
        ``hook_template`` and ``n_layers``.

        Args:
            positions: ``[batch]`` position to patch in each row (e.g. ``batch.positions``).
            layer: the layer to patch (default: the vector's own).
            patch: ``"replace"`` the residual there or ``"add"`` to it (default:
                :attr:`DEFAULT_PATCH`: replace for a task vector, add for a function vector).

        Raises:
            ValueError: if no layer is given or set, or for bad positions.
        """
        vector, target = self._patch_at(layer)
        return task_vector_hooks(
            vector,
            target,
            positions,
            mode=self.DEFAULT_PATCH if patch is None else patch,
            n_layers=self.n_layers,
            hook_template=self.hook_template,
        )

    @contextlib.contextmanager
    def apply(
        self,
        model: HookedModel,
        positions: Int[Tensor, " batch"],
        layer: LayerLike | None = None,
        *,
        patch: PatchMode | None = None,
    ) -> Iterator[HookedModel]:
        """Patch this vector into ``model`` inside a ``with`` block.

        The hooks are added through ``model.hooks(...)``, so TransformerLens removes exactly
        these hooks on exit, also when the block raises; hooks the user added stay.

        Args:
            model: the model this vector was made from (checked with :meth:`check_model`).
            positions: ``[batch]`` position to patch in each row of the batch run inside
                the block.
            layer: the layer to patch (default: the vector's own).
            patch: ``"replace"`` or ``"add"`` (default: :attr:`DEFAULT_PATCH`).

        Example:
            >>> with theta.at(5).apply(model, batch.positions):  # doctest: +SKIP
            ...     logits = model(batch.tokens, attention_mask=batch.attention_mask)
        """
        self.check_model(model)
        pairs = self.hooks(positions, layer, patch=patch)  # built (and validated) before any hook
        for name, _ in pairs:  # a bridge ignores a hook it lacks: the patch would never fire
            if not has_hook(model, name):
                raise ValueError(
                    f"{name!r} (from hook_template {self.hook_template!r}) is not a hook point "
                    "of this model"
                )
        with model.hooks(fwd_hooks=pairs):
            yield model

    # ---- files -------------------------------------------------------------------------
    def to_bytes(self) -> tuple[bytes, bytes]:
        """The contents :meth:`save` writes: the safetensors file and the JSON file.

        Everything that can fail on the content (non-JSON metadata, NaN) fails here, before
        any file is touched.
        """
        blob = save_safetensors({"vector": self.vector.detach().cpu().contiguous()})
        meta = {
            **self.metadata(),
            "tensor_sha256": sha256_bytes(blob),
            "tvlens_version": __version__,
        }
        return blob, (json.dumps(meta, indent=2, allow_nan=False) + "\n").encode("utf-8")

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
        tensor_path, meta_path = vector_paths(path)
        if not overwrite:
            existing = [str(p) for p in (tensor_path, meta_path) if p.exists()]
            if existing:
                raise FileExistsError(
                    f"{self.KIND} file(s) {', '.join(existing)} already exist; pass "
                    f"overwrite=True to replace {tensor_path} and {meta_path}"
                )
        blob, text = self.to_bytes()  # may fail on the content: before any file is touched
        tensor_path.parent.mkdir(parents=True, exist_ok=True)
        replace_together([(tensor_path, blob), (meta_path, text)])
        return tensor_path, meta_path

    @classmethod
    def load(cls: type[_V], path: str | Path, model: HookedModel | None = None) -> _V:
        """Read a vector written by :meth:`save`; with ``model``, check it matches.

        Files of an older format version still load (migrated); see the subclass.

        Raises:
            FileNotFoundError: if either file is missing.
            ValueError: on a malformed or corrupt file, a pair whose tensor does not match
                its JSON, a file of another kind of vector, a file from a newer tvlens, or
                (with ``model``) another model's vector. The message names the file.
        """
        kind = cls.KIND
        tensor_path, meta_path = vector_paths(path)
        for p in (tensor_path, meta_path):
            if not p.exists():
                raise FileNotFoundError(f"{kind} file {p} not found (saved with .save()?)")
        meta = cls._read_meta(meta_path)
        blob = tensor_path.read_bytes()
        expected, actual = meta["tensor_sha256"], sha256_bytes(blob)
        if expected is not None and actual != expected:
            raise ValueError(
                f"{kind} files {tensor_path} and {meta_path} do not belong together: the "
                f"tensor file's sha256 is {actual[:16]}... but the JSON records "
                f"{expected[:16]}... (an interrupted or mixed save); save the vector again"
            )
        try:
            vector = load_safetensors(blob)["vector"]
        except Exception as err:
            raise ValueError(
                f"{kind} tensor file {tensor_path} is corrupt or not a tvlens file "
                f"({type(err).__name__}: {err}); save the vector again"
            ) from err
        dtype = str(vector.dtype).removeprefix("torch.")
        if list(vector.shape) != meta["shape"] or dtype != meta["dtype"]:
            raise ValueError(
                f"{kind} files {tensor_path} and {meta_path} do not belong together: the "
                f"tensor is {dtype} {list(vector.shape)} but the JSON records "
                f"{meta['dtype']} {meta['shape']}; save the vector again"
            )
        try:
            loaded = cls._from_meta(vector, meta)
        except Exception as err:
            raise ValueError(
                f"malformed {kind} file {meta_path}: {type(err).__name__}: {err}"
            ) from err
        if model is not None:
            loaded.check_model(model)
        return loaded

    @classmethod
    def _read_meta(cls, meta_path: Path) -> dict[str, Any]:
        """The JSON of a saved vector, checked for its kind, migrated and type-checked."""
        bad = f"malformed {cls.KIND} file {meta_path}"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise
        except Exception as err:
            raise ValueError(f"{bad}: not JSON ({type(err).__name__}: {err})") from err
        if not isinstance(meta, dict):
            raise ValueError(f"{bad}: expected a JSON object, got {type(meta).__name__}")
        file_kind = meta.get("kind")
        if file_kind != cls.FILE_KIND:
            what, loader = _FILE_KINDS.get(file_kind, ("", ""))
            hint = f"a {what} file loads with {loader}.load" if loader else "save the vector again"
            raise ValueError(f"{meta_path} is not a {cls.KIND} file (kind={file_kind!r}); {hint}")
        version = meta.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError(
                f"{bad}: format_version is {version!r}, expected an int from 1 to "
                f"{cls.FORMAT_VERSION}"
            )
        if version > cls.FORMAT_VERSION:
            raise ValueError(
                f"{cls.KIND} file {meta_path} has format_version {version}: it was written by "
                f"a newer tvlens ({meta.get('tvlens_version', 'unknown version')}), and this "
                f"one reads format versions up to {cls.FORMAT_VERSION}; upgrade tvlens"
            )
        if version < cls.FORMAT_VERSION:
            meta = cls._migrate(meta, version)
        missing = [key for key in cls.META_TYPES if key not in meta]
        if missing:
            raise ValueError(f"{bad}: missing keys {missing}; save the vector again")
        for key, types in cls.META_TYPES.items():
            value = meta[key]
            if isinstance(value, bool) or not isinstance(value, types):
                names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
                raise ValueError(
                    f"{bad}: {key} is {value!r} ({type(value).__name__}), expected {names}"
                )
        return meta


# ---- paths ------------------------------------------------------------
def vector_paths(path: str | Path) -> tuple[Path, Path]:
    """``theta`` or ``theta.json`` or ``theta.safetensors`` -> both file paths."""
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.parent / f"{p.name}.safetensors", p.parent / f"{p.name}.json"
