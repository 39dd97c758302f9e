"""Test oracles for function vectors: the straightforward TransformerLens loops.

Slow on purpose (one prompt and one head per forward pass, full logits, no batching, no
packing): what a user writes by hand, and what Todd et al.'s code does. The batched
implementations must agree with them (``tests/test_heads.py``); ``benchmarks/bench_aie.py``
times them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._compat import HOOK_Z_TEMPLATE
from tvlens._example import ICLExample
from tvlens.prompts import PromptFormat, single_answer_token


def reference_indirect_effects(
    model: Any,
    examples: Sequence[ICLExample],
    mean_z: Float[Tensor, "n_layers n_heads d_head"],
    fmt: PromptFormat,
) -> Float[Tensor, "n n_layers n_heads"]:
    """CIE of every head on every prompt, one ``run_with_hooks`` per (prompt, head).

    The prompt is ``model.to_tokens(fmt.icl(demos, query))`` (one prompt, so the arrow is
    the last position); head ``(L, h)``'s ``hook_z`` there is set to ``mean_z[L, h]`` and the
    rise in the answer's softmax probability over the unpatched run is recorded.
    """
    n_layers, n_heads = mean_z.shape[:2]
    out = torch.zeros(len(examples), n_layers, n_heads)
    with torch.inference_mode():
        for i, ex in enumerate(examples):
            tokens = model.to_tokens(fmt.icl(ex.demos, ex.query))
            answer = single_answer_token(model.tokenizer, ex.answer, fmt)
            base = model(tokens)[0, -1].float().softmax(-1)[answer]
            for layer in range(n_layers):
                for head in range(n_heads):

                    def patch(
                        z: Tensor, hook: Any, v: Tensor = mean_z[layer, head], h: int = head
                    ) -> Tensor:
                        z[:, -1, h] = v.to(z.dtype)
                        return z

                    name = HOOK_Z_TEMPLATE.format(layer=layer)
                    logits = model.run_with_hooks(tokens, fwd_hooks=[(name, patch)])
                    out[i, layer, head] = logits[0, -1].float().softmax(-1)[answer] - base
    return out
