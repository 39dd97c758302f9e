"""The structural model type: anything that quacks like a TransformerLens model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

HookFn = Callable[..., Any]
HookPair = tuple[str, HookFn]


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
