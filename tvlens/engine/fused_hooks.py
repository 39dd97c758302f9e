"""Many forward hooks registered as one: the same pass, a fraction of the registration cost.

A ``TransformerBridge`` rebuilds its whole ``hook_dict`` (aliases included: ~3 ms on
Gemma 3 270M) for every named hook ``run_with_hooks`` registers, so a packed sweep pass with
a patch per layer paid more for registering its hooks than for some of its layers.
:func:`fuse_hooks` turns a list of named forward hooks into one ``(filter, fn)`` pair that
TransformerLens registers, through the same ``run_with_hooks``, on each named hook point
once; when a point fires, its hooks run in the order they were listed, each seeing the
output the previous one returned, exactly as separately registered hooks do.

Only hook names the model has and that no setting gates off are fused; a list holding
anything else (a callable filter, an unknown or gated-off name) is returned unchanged, so
TransformerLens refuses it as it always does.

Example:
    >>> model.run_with_hooks(tokens, fwd_hooks=fuse_hooks(model, pairs))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor

from tvlens.protocol import HookedModel, HookFn, HookPair

__all__ = ["FilterPair", "fuse_hooks"]

FilterPair = tuple[str | Callable[[str], bool], HookFn]
"""A forward hook as ``run_with_hooks`` takes it: a hook name or a filter on names, and fn."""

# Hook points TransformerLens refuses to hook unless a setting enables them (the bridge's
# ``_gated_hook_reason``, HookedTransformer's ``check_hooks_to_add``): left to its checks.
GATED = ("attn.hook_result", "hook_q_input", "hook_k_input", "hook_v_input", "mlp_in", "attn_in")


def fuse_hooks(model: HookedModel, hooks: Sequence[FilterPair]) -> list[FilterPair]:
    """``hooks`` as one ``(filter, fn)`` pair with the same effect (see the module docstring).

    Args:
        model: the model the hooks are for (its ``hook_dict`` resolves their names, aliases
            included).
        hooks: ``(hook_name, fn)`` forward hooks, in registration order.

    Returns:
        ``[(filter, fn)]``, or ``hooks`` unchanged where fusing could change what
        TransformerLens does with them (fewer than two hooks, a callable filter, a name the
        model lacks or a gated-off name).
    """
    pairs = list(hooks)
    named: list[HookPair] = [(name, fn) for name, fn in pairs if isinstance(name, str)]
    if len(pairs) < 2 or len(named) < len(pairs) or any(n.endswith(GATED) for n, _ in named):
        return pairs
    points: dict[str, Any] = dict(getattr(model, "hook_dict", {}))
    by_point: dict[int, list[HookFn]] = {}
    for name, fn in named:
        point = points.get(name)
        if point is None:
            return pairs
        by_point.setdefault(id(point), []).append(fn)
    names = frozenset(name for name, _ in named)

    def run_all(activation: Tensor, hook: Any) -> Tensor | None:
        out, changed = activation, False
        for fn in by_point[id(hook)]:
            result = fn(out, hook=hook)
            if result is not None:
                out, changed = result, True
        return out if changed else None

    return [(names.__contains__, run_all)]
