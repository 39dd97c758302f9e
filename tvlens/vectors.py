"""The TaskVector value object: a tensor plus where it came from; safetensors + JSON files.

What it shares with :class:`tvlens.fv.FunctionVector` (equality, ``to``, ``check_model``,
``hooks``, ``apply``, ``save``, ``load`` with every check) lives in
:class:`tvlens.saved.SavedVector`; this module holds the fields, the arithmetic and the
format versions of a task vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._compat import RESID_POST_TEMPLATE
from tvlens.hooks import LayerLike, PatchMode, as_layer, check_hook_template, check_n_layers
from tvlens.prompts import DEFAULT_FORMAT, PromptFormat
from tvlens.saved import COMMON_META_TYPES, SavedVector
from tvlens.vector_checks import check_finite, checked_extra, int_field

# 1: safetensors + JSON. 2: the JSON also records the tensor file's sha256 and the tvlens
# version; version-1 files still load (without the hash check).
FORMAT_VERSION = 2


@dataclass(frozen=True, eq=False)
class TaskVector(SavedVector):
    """A task vector θ with its provenance.

    ``vector`` is ``[n_layers, d_model]`` (θ at every layer) or ``[d_model]`` (one layer,
    given by ``layer``). Task vectors support ``+``, ``-``, scalar ``*`` and
    :meth:`mean`; arithmetic requires the same model, shape and layer. A one-layer vector
    patches itself into a model with :meth:`apply` (or gives its hook pairs, :meth:`hooks`).
    Files of format version 1 (before the tensor hash was recorded) still load.

    Example:
        >>> tv = TaskVector(torch.zeros(2, 4), model_name="m", d_model=4, n_layers=2)
        >>> (tv + tv * 2.0).at(1).vector.shape
        torch.Size([4])
        >>> with tv.at(1).apply(model, batch.positions):  # doctest: +SKIP
        ...     logits = model(batch.tokens, attention_mask=batch.attention_mask)
    """

    KIND: ClassVar[str] = "task vector"
    FILE_KIND: ClassVar[str | None] = None
    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION
    META_TYPES: ClassVar[dict[str, tuple[type, ...]]] = {
        **COMMON_META_TYPES,
        "n_dummy": (int,),
        "n_examples": (int,),
        "tensor_sha256": (str, type(None)),  # None: a version-1 file (no hash to check)
    }
    DEFAULT_PATCH: ClassVar[PatchMode] = "replace"
    MADE: ClassVar[tuple[str, str]] = ("extracted from", "Extract it again")

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
        d_model = int_field(self.d_model, "TaskVector.d_model", 1)
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
        check_finite(v, self.KIND, "TaskVector")
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
            value = int_field(getattr(self, name), f"TaskVector.{name}", low)
            object.__setattr__(self, name, value)
        if self.seed is not None:
            object.__setattr__(self, "seed", int_field(self.seed, "TaskVector.seed", None))
        object.__setattr__(self, "extra", checked_extra(self.extra, "TaskVector"))

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

    def _patch_at(self, layer: LayerLike | None) -> tuple[Tensor, int]:
        one = self if layer is None else self.at(layer)
        if one.layer is None:
            raise ValueError(
                f"this task vector holds all {self.n_layers} layers "
                f"(shape {tuple(self.vector.shape)}); pick the layer to patch first: "
                "tv.at(layer).hooks(positions)"
            )
        return one.vector, one.layer

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

    @classmethod
    def _migrate(cls, meta: dict[str, Any], version: int) -> dict[str, Any]:
        """Format 1 -> 2: no tensor hash (nothing to check) and no tvlens version."""
        return {
            **meta,
            "format_version": 2,
            "extra": meta.get("extra", {}),
            "tensor_sha256": None,
            "tvlens_version": None,
        }
