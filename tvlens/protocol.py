"""The structural model type: anything that quacks like a TransformerLens model."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

HookFn = Callable[..., Any]
HookPair = tuple[str, HookFn]


@runtime_checkable
class ModelConfig(Protocol):
    """The part of a TransformerLens config that tvlens reads."""

    n_layers: int
    d_model: int
    n_ctx: int
    model_name: str


@runtime_checkable
class HookedModel(Protocol):
    """A TransformerLens model: ``HookedTransformer`` or ``TransformerBridge``.

    tvlens never checks for a concrete class; any object with these members works.
    """

    cfg: Any
    tokenizer: Any

    def run_with_hooks(self, *args: Any, **kwargs: Any) -> Any:
        """Run a forward pass with temporary hooks."""
        ...

    def run_with_cache(self, *args: Any, **kwargs: Any) -> Any:
        """Run a forward pass and cache activations."""
        ...

    def to_tokens(self, *args: Any, **kwargs: Any) -> Any:
        """Tokenize text."""
        ...

    def hooks(
        self, fwd_hooks: Sequence[HookPair] = ..., *args: Any, **kwargs: Any
    ) -> AbstractContextManager[Any]:
        """Context manager adding temporary hooks."""
        ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Forward pass."""
        ...


def iter_layers(model: HookedModel) -> Iterator[int]:
    """The valid layer indices of ``model``: ``range(model.cfg.n_layers)``."""
    return iter(range(int(model.cfg.n_layers)))
