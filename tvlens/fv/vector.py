"""The FunctionVector value object: the sum of the top-k heads' mean outputs, with provenance.

A function vector (Todd et al. 2024) is ``sum over the k heads of largest AIE`` of each
head's mean output at the arrow over clean ICL prompts (:mod:`tvlens.fv.heads` says what a
head's output is, and why on a model with a post-attention norm such as Gemma 3 it is the
head's share of what reaches the residual stream). It is **added** to the residual stream
after layer ``L`` at the arrow (``blocks.L.hook_resid_post``, as θ is patched), of a
zero-shot prompt or of a prompt with shuffled labels. Files are safetensors + JSON, written
atomically with the tensor's sha256, and loaded with every check, by the base it shares with
:class:`tvlens.TaskVector` (:class:`tvlens.saved.SavedVector`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._compat import RESID_POST_TEMPLATE
from tvlens.fv.heads import HEAD_OUTPUTS, HeadActivations, HeadOutput
from tvlens.fv.indirect_effect import IndirectEffects, top_heads
from tvlens.hooks import LayerLike, PatchMode, as_layer, check_hook_template, check_n_layers
from tvlens.prompts import DEFAULT_FORMAT, PromptFormat
from tvlens.saved import COMMON_META_TYPES, SavedVector
from tvlens.vector_checks import check_finite, checked_extra

FV_FORMAT_VERSION = 1
DEFAULT_K = 16
"""Heads summed by default: on Gemma 3 270M (72 heads, the 18 paper tasks, 50 dev and 50 test
examples each) k = 16 had the best mean accuracy of k in {1, 2, 4, 8, 16} (test .38; k = 8:
.31, k = 1: .29). The best k differs per task (1 to 16), so
:func:`tvlens.fv.methods.compare_methods` chooses it on dev among :data:`DEFAULT_KS` (.49)."""
DEFAULT_KS = (1, 2, 4, 8, 16)
"""The k a dev sweep chooses from by default."""


@dataclass(frozen=True, eq=False)
class FunctionVector(SavedVector):
    """A function vector ``[d_model]`` with its provenance.

    Attributes:
        vector: the sum of the heads' mean outputs.
        heads: the ``(layer, head)`` pairs summed, largest AIE first.
        head_scores: each head's AIE, aligned with ``heads``.
        head_output: the definition of a head's output (:data:`tvlens.fv.heads.HEAD_OUTPUTS`).
        layer: the layer it is added after (``None`` until chosen, e.g. by a sweep).
        n_prompts: clean prompts of the mean activations; ``n_corrupted``: prompts of the AIE.

    Example:
        >>> fv = build_function_vector(acts, effects, k=4)  # doctest: +SKIP
        >>> with fv.at(9).apply(model, batch.positions):  # doctest: +SKIP
        ...     logits = model(batch.tokens, attention_mask=batch.attention_mask)
    """

    KIND: ClassVar[str] = "function vector"
    FILE_KIND: ClassVar[str | None] = "function_vector"
    FORMAT_VERSION: ClassVar[int] = FV_FORMAT_VERSION
    META_TYPES: ClassVar[dict[str, tuple[type, ...]]] = {
        **COMMON_META_TYPES,
        "heads": (list,),
        "head_scores": (list,),
        "head_output": (str,),
        "n_prompts": (int,),
        "n_corrupted": (int,),
    }
    DEFAULT_PATCH: ClassVar[PatchMode] = "add"
    MADE: ClassVar[tuple[str, str]] = ("built on", "Build it again")

    vector: Float[Tensor, " d_model"]
    model_name: str
    d_model: int
    n_layers: int
    heads: tuple[tuple[int, int], ...]
    head_scores: tuple[float, ...] = ()
    head_output: HeadOutput = "residual"
    layer: int | None = None
    hook_template: str = RESID_POST_TEMPLATE
    prompt_format: PromptFormat = DEFAULT_FORMAT
    task: str = ""
    n_demos: int = 0
    n_prompts: int = 0
    n_corrupted: int = 0
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        v = self.vector
        if not isinstance(v, Tensor) or not v.is_floating_point() or v.dim() != 1:
            raise TypeError(
                f"FunctionVector.vector must be a float [d_model] tensor, got {v!r:.80}"
            )
        if v.shape[0] != self.d_model:
            raise ValueError(f"vector has {v.shape[0]} entries but d_model={self.d_model}")
        check_finite(v, self.KIND, "FunctionVector")
        n_layers = check_n_layers(self.n_layers)
        heads = tuple((int(la), int(h)) for la, h in self.heads)
        if not heads:
            raise ValueError("a function vector sums at least one head")
        bad = [hd for hd in heads if not 0 <= hd[0] < n_layers or hd[1] < 0]
        if bad or len(set(heads)) != len(heads):
            raise ValueError(f"heads must be distinct (layer, head) in range, got {heads}")
        if self.head_scores and len(self.head_scores) != len(heads):
            raise ValueError(f"{len(self.head_scores)} head scores for {len(heads)} heads")
        if self.head_output not in HEAD_OUTPUTS:
            raise ValueError(f"head_output must be one of {HEAD_OUTPUTS}, got {self.head_output!r}")
        if self.layer is not None:
            layer = as_layer(self.layer)
            if layer >= n_layers:
                raise ValueError(f"layer {layer} is out of range: 0..{n_layers - 1}")
            object.__setattr__(self, "layer", layer)
        check_hook_template(self.hook_template)
        object.__setattr__(self, "heads", heads)
        object.__setattr__(self, "head_scores", tuple(float(s) for s in self.head_scores))
        object.__setattr__(self, "extra", checked_extra(self.extra, "FunctionVector"))

    @property
    def k(self) -> int:
        """The number of heads summed."""
        return len(self.heads)

    def at(self, layer: int) -> FunctionVector:
        """A copy that is added after ``layer``."""
        return replace(self, layer=as_layer(layer))

    def __mul__(self, scale: float | int) -> FunctionVector:
        if not isinstance(scale, (int, float)):
            return NotImplemented
        return replace(self, vector=self.vector * float(scale))

    __rmul__ = __mul__

    def _patch_at(self, layer: LayerLike | None) -> tuple[Tensor, int]:
        target = self.layer if layer is None else as_layer(layer)
        if target is None:
            raise ValueError("this function vector has no layer: pass layer= or use fv.at(L)")
        return self.vector, target

    # ---- files -------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """Provenance as a JSON-ready dict."""
        return {
            "kind": "function_vector",
            "format_version": FV_FORMAT_VERSION,
            "model_name": self.model_name,
            "d_model": self.d_model,
            "n_layers": self.n_layers,
            "heads": [list(h) for h in self.heads],
            "head_scores": list(self.head_scores),
            "head_output": self.head_output,
            "layer": self.layer,
            "hook_template": self.hook_template,
            "prompt_format": self.prompt_format.to_dict(),
            "task": self.task,
            "n_demos": self.n_demos,
            "n_prompts": self.n_prompts,
            "n_corrupted": self.n_corrupted,
            "seed": self.seed,
            "shape": list(self.vector.shape),
            "dtype": str(self.vector.dtype).removeprefix("torch."),
            "extra": self.extra,
        }

    @classmethod
    def _from_meta(cls, vector: Tensor, meta: dict[str, Any]) -> FunctionVector:
        heads = tuple((int(h[0]), int(h[1])) for h in meta["heads"])
        scores = tuple(float(s) for s in meta["head_scores"])
        return super()._from_meta(vector, {**meta, "heads": heads, "head_scores": scores})


# ---- construction ----------------------------------------------------------------------------
def build_function_vector(
    activations: HeadActivations,
    effects: IndirectEffects | Float[Tensor, "n_layers n_heads"],
    *,
    k: int = DEFAULT_K,
    head_output: HeadOutput = "residual",
    heads: Sequence[tuple[int, int]] | None = None,
    n_demos: int = 0,
    seed: int | None = None,
) -> FunctionVector:
    """The function vector: the sum of the mean outputs of the ``k`` heads of largest AIE.

    Args:
        activations: mean head activations over clean prompts (:func:`mean_head_activations`).
        effects: the indirect effects of the task, or an AIE matrix (e.g. averaged over
            tasks with :func:`tvlens.fv.indirect_effect.mean_aie`, Todd et al.'s universal heads).
        k: the number of heads (at most all of them; ignored when ``heads`` is given).
        head_output: what a head's output is (:mod:`tvlens.fv.heads`).
        heads: sum these heads instead of the top ``k``.
    """
    aie = effects.aie if isinstance(effects, IndirectEffects) else effects
    if tuple(aie.shape) != (activations.n_layers, activations.n_heads):
        raise ValueError(
            f"AIE is {tuple(aie.shape)} but the activations have "
            f"{activations.n_layers} x {activations.n_heads} heads"
        )
    if heads is None and isinstance(effects, IndirectEffects):
        ranked = effects.top_heads(min(k, aie.numel()))  # verified heads first, if any
    elif heads is None:
        ranked = top_heads(aie, min(k, aie.numel()))
    else:
        ranked = [(int(la), int(h), float(aie[la, h])) for la, h in heads]
    outputs = activations.head_outputs(head_output)
    vector = torch.stack([outputs[la, h] for la, h, _ in ranked]).sum(0)
    extra = {
        "post_norm": activations.post_norm,
        "n_key_value_heads": activations.n_key_value_heads,
        "n_heads": activations.n_heads,
        "decomposition_error": activations.decomposition_error,
    }
    if isinstance(effects, IndirectEffects):
        extra["corrupted_accuracy"] = effects.corrupted_accuracy
    return FunctionVector(
        vector=vector,
        model_name=activations.model_name,
        d_model=int(vector.shape[0]),
        n_layers=activations.n_layers,
        heads=tuple((la, h) for la, h, _ in ranked),
        head_scores=tuple(s for _, _, s in ranked),
        head_output=head_output,
        prompt_format=activations.prompt_format,
        task=activations.task,
        n_demos=n_demos,
        n_prompts=activations.n_prompts,
        n_corrupted=effects.n_prompts if isinstance(effects, IndirectEffects) else 0,
        seed=seed,
        extra=extra,
    )
