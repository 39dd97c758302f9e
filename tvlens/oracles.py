"""Test oracles: what tvlens computes, written as a user writes it by hand with TransformerLens.

Each oracle computes its own inputs with plain hooks, one prompt per forward pass (so the
arrow is the prompt's last token), with no batching, no packing and no tvlens code: the
prompt is rendered from the format's fields, θ and the mean head activations are read with
``run_with_cache``, patches are written with ``run_with_hooks``, answers are tokenized by
the tokenizer. Slow on purpose; tvlens's batched code must agree with them (the tests
compare its full pipeline, from the examples, with an oracle run on the same examples).

* :func:`reference_theta`: θ(S) of one example at every layer (mean over its dummy queries).
* :func:`reference_sweep`: the layer sweep (``tests/test_oracle.py``,
  ``benchmarks/bench_sweep.py``).
* :func:`reference_generate_hypothesis`: greedy generation with the example's own θ
  patched; :func:`reference_generate` is its loop for a θ given by the caller.
* :func:`reference_mean_z`: the mean ``hook_z`` at the arrow over clean prompts.
* :func:`reference_head_effects`: the causal indirect effect of every (prompt, head), from
  the clean and corrupted examples; :func:`reference_indirect_effects` is its loop for a
  mean ``hook_z`` given by the caller (one head per pass, what Todd et al.'s code does;
  ``benchmarks/bench_aie.py`` times it).

:mod:`tvlens.testing` re-exports them all.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from tvlens._example import ICLExample
from tvlens.prompts import PromptFormat

RESID = "blocks.{layer}.hook_resid_post"
HOOK_Z = "blocks.{layer}.attn.hook_z"


def render(fmt: PromptFormat, demos: Sequence[tuple[str, str]], query: str) -> str:
    """``S + x ->`` (``x ->`` when ``demos`` is empty), from the format's fields alone."""
    head = fmt.input_prefix
    shown = [f"{head}{x}{fmt.arrow}{fmt.output_prefix}{y}" for x, y in demos]
    return fmt.preamble + fmt.demo_sep.join([*shown, f"{head}{query}{fmt.arrow}"])


def answer_token(model: Any, answer: str, fmt: PromptFormat) -> int:
    """The first token of ``answer`` as it follows the arrow (the answer, if one token)."""
    ids = model.tokenizer(fmt.output_prefix + answer, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError(f"answer {answer!r} tokenizes to nothing")
    return int(ids[0])


def _at_last(model: Any, prompt: str, names: list[str]) -> list[Tensor]:
    """Each hook of ``names`` at the last token of ``prompt`` alone (fp32, CPU)."""
    tokens = model.to_tokens(prompt)
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    return [cache[name][0, -1].float().cpu() for name in names]


def reference_theta(
    model: Any, example: ICLExample, fmt: PromptFormat
) -> Float[Tensor, "n_layers d_model"]:
    """θ(S) at every layer: ``hook_resid_post`` at the arrow of ``S + dummy ->``, averaged
    over the example's dummy queries, one ``run_with_cache`` per dummy prompt."""
    names = [RESID.format(layer=la) for la in range(int(model.cfg.n_layers))]
    with torch.inference_mode():
        rows = [
            torch.stack(_at_last(model, render(fmt, example.demos, dummy), names))
            for dummy in example.dummy_queries
        ]
    return torch.stack(rows).mean(0)


def reference_sweep(
    model: Any, examples: Sequence[ICLExample], fmt: PromptFormat
) -> Int[Tensor, "n n_layers"]:
    """The layer sweep by hand: θ of each example (:func:`reference_theta`), then one
    ``run_with_hooks`` per example per layer on ``x ->`` with θ written at the last position.

    ``tvlens.layer_sweep`` must agree with it prediction for prediction
    (``tests/test_oracle.py``; ``benchmarks/bench_sweep.py`` times it).

    Returns:
        ``[n_examples, n_layers]`` greedy next-token ids.
    """
    n_layers = int(model.cfg.n_layers)
    preds = torch.zeros(len(examples), n_layers, dtype=torch.long)
    for i, ex in enumerate(examples):
        theta = reference_theta(model, ex, fmt)
        with torch.inference_mode():
            tokens = model.to_tokens(render(fmt, (), ex.query))
            for layer in range(n_layers):

                def patch(resid: Any, hook: Any, v: Any = theta[layer]) -> Any:
                    resid[:, -1] = v.to(resid.device, resid.dtype)
                    return resid

                hooks = [(RESID.format(layer=layer), patch)]
                logits = model.run_with_hooks(tokens, fwd_hooks=hooks)
                preds[i, layer] = logits[0, -1].argmax()
    return preds


def reference_generate(
    model: Any, prompt: str, theta: Any, layer: int, *, max_new_tokens: int, stop: str = "\n"
) -> list[int]:
    """Greedy generation from one prompt with a given θ patched at its last token, by hand.

    Each step is a full ``run_with_hooks`` over the prompt and the tokens generated so far;
    θ replaces ``blocks.{layer}.hook_resid_post`` at the prompt's last token (the arrow),
    a position that never moves because there is no padding. Stops after
    ``max_new_tokens``, at EOS, or once the decoded continuation contains ``stop``.
    :func:`reference_generate_hypothesis` reads θ itself.
    """
    tokens = model.to_tokens(prompt)
    arrow = tokens.shape[1] - 1
    name = RESID.format(layer=layer)

    def patch(resid: Any, hook: Any) -> Any:
        resid[:, arrow] = theta.to(resid.device, resid.dtype)
        return resid

    eos = getattr(model.tokenizer, "eos_token_id", None)
    out: list[int] = []
    with torch.inference_mode():
        while len(out) < max_new_tokens:
            logits = model.run_with_hooks(tokens, fwd_hooks=[(name, patch)])
            nxt = int(logits[0, -1].argmax())
            out.append(nxt)
            if nxt == eos or stop in model.tokenizer.decode(out):
                break
            tokens = torch.cat([tokens, torch.tensor([[nxt]], device=tokens.device)], dim=1)
    return out


def reference_generate_hypothesis(
    model: Any, example: ICLExample, layer: int, fmt: PromptFormat, *, max_new_tokens: int
) -> list[int]:
    """The Hypothesis generated by hand: the example's own θ (:func:`reference_theta`) at
    ``layer`` patched at the arrow of ``x ->``, then :func:`reference_generate` (stopping at
    the format's demonstration separator)."""
    theta = reference_theta(model, example, fmt)[layer]
    prompt = render(fmt, (), example.query)
    return reference_generate(
        model, prompt, theta, layer, max_new_tokens=max_new_tokens, stop=fmt.demo_sep
    )


def reference_mean_z(
    model: Any, clean: Sequence[ICLExample], fmt: PromptFormat
) -> Float[Tensor, "n_layers n_heads d_head"]:
    """Every head's ``hook_z`` at the arrow of ``S + x ->``, averaged over ``clean``, one
    ``run_with_cache`` per prompt."""
    names = [HOOK_Z.format(layer=la) for la in range(int(model.cfg.n_layers))]
    with torch.inference_mode():
        rows = [
            torch.stack(_at_last(model, render(fmt, ex.demos, ex.query), names)) for ex in clean
        ]
    return torch.stack(rows).mean(0)


def reference_indirect_effects(
    model: Any,
    examples: Sequence[ICLExample],
    mean_z: Float[Tensor, "n_layers n_heads d_head"],
    fmt: PromptFormat,
) -> Float[Tensor, "n n_layers n_heads"]:
    """CIE of every head on every prompt for a given mean ``hook_z``, one ``run_with_hooks``
    per (prompt, head); :func:`reference_head_effects` computes the mean itself.

    On ``S + x ->`` of each (corrupted) example, head ``(L, h)``'s ``hook_z`` at the last
    position (the arrow) is set to ``mean_z[L, h]``, and the rise in the answer's softmax
    probability (:func:`answer_token`) over the unpatched run is recorded.
    """
    n_layers, n_heads = mean_z.shape[:2]
    out = torch.zeros(len(examples), n_layers, n_heads)
    with torch.inference_mode():
        for i, ex in enumerate(examples):
            tokens = model.to_tokens(render(fmt, ex.demos, ex.query))
            answer = answer_token(model, ex.answer, fmt)
            base = model(tokens)[0, -1].float().softmax(-1)[answer]
            for layer in range(n_layers):
                for head in range(n_heads):

                    def patch(
                        z: Tensor, hook: Any, v: Tensor = mean_z[layer, head], h: int = head
                    ) -> Tensor:
                        z[:, -1, h] = v.to(z.device, z.dtype)
                        return z

                    hooks = [(HOOK_Z.format(layer=layer), patch)]
                    logits = model.run_with_hooks(tokens, fwd_hooks=hooks)
                    out[i, layer, head] = logits[0, -1].float().softmax(-1)[answer] - base
    return out


def reference_head_effects(
    model: Any,
    clean: Sequence[ICLExample],
    corrupted: Sequence[ICLExample],
    fmt: PromptFormat,
) -> Float[Tensor, "n n_layers n_heads"]:
    """The causal indirect effect of every head on every corrupted prompt, all by hand:
    the mean ``hook_z`` over ``clean`` (:func:`reference_mean_z`) patched into ``corrupted``
    (:func:`reference_indirect_effects`). Its mean over prompts is the AIE."""
    return reference_indirect_effects(model, corrupted, reference_mean_z(model, clean, fmt), fmt)


def reference_attribution(
    model: Any,
    clean: Sequence[ICLExample],
    corrupted: Sequence[ICLExample],
    fmt: PromptFormat,
) -> Float[Tensor, "n n_layers n_heads"]:
    """Attribution patching by hand: the derivative of P(answer) along each head's patch.

    The mean ``hook_z`` over ``clean`` (:func:`reference_mean_z`); then per corrupted prompt
    alone, one scalar ``a[L, h]`` per head moves its ``hook_z`` at the arrow toward that mean
    (``z + a * (mean - z)``), and ``dP/da`` at ``a = 0`` (autograd through one
    ``run_with_hooks``) is the first-order estimate of the head's indirect effect.
    """
    mean_z = reference_mean_z(model, clean, fmt)
    n_layers, n_heads = mean_z.shape[:2]
    out = torch.zeros(len(corrupted), n_layers, n_heads)
    params = list(model.parameters())
    before = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        for i, ex in enumerate(corrupted):
            tokens = model.to_tokens(render(fmt, ex.demos, ex.query))
            answer = answer_token(model, ex.answer, fmt)
            alpha = torch.zeros(n_layers, n_heads, requires_grad=True)

            def move(z: Tensor, hook: Any, layer: int, alpha: Tensor = alpha) -> Tensor:
                z = z.clone()
                target = mean_z[layer].to(z.device, z.dtype)
                last = z[:, -1]
                step = alpha[layer][None, :, None].to(z.dtype) * (target[None] - last.detach())
                z[:, -1] = last + step
                return z

            hooks = [
                (HOOK_Z.format(layer=la), functools.partial(move, layer=la))
                for la in range(n_layers)
            ]
            with torch.enable_grad():
                logits = model.run_with_hooks(tokens, fwd_hooks=hooks)
                prob = logits[0, -1].float().softmax(-1)[answer]
                (grad,) = torch.autograd.grad(prob, alpha)
            out[i] = grad
    finally:
        for p, g in zip(params, before, strict=True):
            p.requires_grad_(g)
    return out
