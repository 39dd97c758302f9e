"""The TaskVector value object: a tensor plus where it came from; safetensors + JSON files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from safetensors.torch import load_file, save_file
from torch import Tensor

from tvlens._compat import RESID_POST_TEMPLATE, model_name
from tvlens.prompts import DEFAULT_FORMAT, PromptFormat
from tvlens.protocol import HookedModel

FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class TaskVector:
    """A task vector θ with its provenance.

    ``vector`` is ``[n_layers, d_model]`` (θ at every layer) or ``[d_model]`` (one layer,
    given by ``layer``). Task vectors support ``+``, ``-``, scalar ``*`` and
    :meth:`mean`; arithmetic requires the same model, shape and layer.

    Example:
        >>> tv = TaskVector(torch.zeros(2, 4), model_name="m", d_model=4, n_layers=2)
        >>> (tv + tv * 2.0).at(1).vector.shape
        torch.Size([4])
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
        if v.shape[-1] != self.d_model:
            raise ValueError(f"vector's last dim {v.shape[-1]} != d_model {self.d_model}")
        if v.dim() == 2:
            if v.shape[0] != self.n_layers:
                raise ValueError(f"vector has {v.shape[0]} layers but n_layers={self.n_layers}")
            if self.layer is not None:
                raise ValueError("an all-layer vector [n_layers, d_model] must have layer=None")
        elif v.dim() == 1:
            if self.layer is None or not 0 <= self.layer < self.n_layers:
                raise ValueError(
                    f"a one-layer vector needs layer in 0..{self.n_layers - 1}, got {self.layer}"
                )
        else:
            raise ValueError(f"vector must be [n_layers, d_model] or [d_model], got {v.shape}")

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

    def at(self, layer: int) -> TaskVector:
        """The one-layer task vector at ``layer``."""
        if not 0 <= layer < self.n_layers:
            raise ValueError(
                f"layer {layer} is out of range: this vector has layers 0..{self.n_layers - 1}"
            )
        if self.layer is not None:
            if layer != self.layer:
                raise ValueError(f"this vector holds layer {self.layer} only, not {layer}")
            return self
        return replace(self, vector=self.vector[layer], layer=layer)

    def tensor_at(self, layer: int) -> Float[Tensor, " d_model"]:
        """The raw ``[d_model]`` tensor at ``layer``."""
        return self.at(layer).vector

    # ---- arithmetic --------------------------------------------------------------------
    def _check_same(self, other: TaskVector) -> None:
        if (self.model_name, self.d_model, self.n_layers, self.layer) != (
            other.model_name,
            other.d_model,
            other.n_layers,
            other.layer,
        ):
            raise ValueError(
                "task vectors differ in model, d_model, n_layers or layer: "
                f"({self.model_name}, {self.d_model}, {self.n_layers}, {self.layer}) vs "
                f"({other.model_name}, {other.d_model}, {other.n_layers}, {other.layer})"
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
        if not vectors:
            raise ValueError("cannot average an empty list of task vectors")
        first = vectors[0]
        for other in vectors[1:]:
            first._check_same(other)
        stacked = torch.stack([v.vector for v in vectors]).mean(0)
        tasks = sorted({v.task for v in vectors})
        return replace(
            first,
            vector=stacked,
            task=tasks[0] if len(tasks) == 1 else "+".join(tasks),
            n_examples=sum(v.n_examples for v in vectors),
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

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``<path>.safetensors`` (the tensor) and ``<path>.json`` (provenance).

        Returns:
            The two paths written. Nothing is pickled.
        """
        tensor_path, meta_path = _paths(path)
        tensor_path.parent.mkdir(parents=True, exist_ok=True)
        save_file({"vector": self.vector.detach().cpu().contiguous()}, str(tensor_path))
        meta_path.write_text(json.dumps(self.metadata(), indent=2) + "\n")
        return tensor_path, meta_path

    @classmethod
    def load(cls, path: str | Path, model: HookedModel | None = None) -> TaskVector:
        """Read a vector written by :meth:`save`; with ``model``, check it matches.

        Raises:
            FileNotFoundError: if either file is missing.
            ValueError: on a malformed file or (with ``model``) another model's vector.
        """
        tensor_path, meta_path = _paths(path)
        for p in (tensor_path, meta_path):
            if not p.exists():
                raise FileNotFoundError(f"task vector file {p} not found (saved with .save()?)")
        try:
            meta = json.loads(meta_path.read_text())
            vector = load_file(str(tensor_path))["vector"]
            tv = cls(
                vector=vector,
                model_name=meta["model_name"],
                d_model=int(meta["d_model"]),
                n_layers=int(meta["n_layers"]),
                layer=meta["layer"],
                hook_template=meta["hook_template"],
                prompt_format=PromptFormat(**meta["prompt_format"]),
                task=meta["task"],
                n_demos=int(meta["n_demos"]),
                n_dummy=int(meta["n_dummy"]),
                n_examples=int(meta["n_examples"]),
                seed=meta["seed"],
                extra=dict(meta.get("extra", {})),
            )
        except (KeyError, TypeError, json.JSONDecodeError) as err:
            raise ValueError(f"malformed task vector file {meta_path}: {err}") from err
        if model is not None:
            tv.check_model(model)
        return tv


def _paths(path: str | Path) -> tuple[Path, Path]:
    """``theta`` or ``theta.json`` or ``theta.safetensors`` -> both file paths."""
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.parent / f"{p.name}.safetensors", p.parent / f"{p.name}.json"
