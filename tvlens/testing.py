"""Tiny random TransformerLens models with an in-memory tokenizer, for unit tests.

No download: the tokenizer is a byte-level BPE trained in memory on letters and the
``->`` arrow, saved to a temporary folder (TransformerLens re-loads tokenizers by path).

* :func:`tiny_hooked_transformer`: a ``HookedTransformer`` (TransformerLens 3.x only).
* :func:`tiny_bridge`: a ``TransformerBridge`` built natively (no HF model); its forward
  takes no ``position_ids``, so tvlens never packs prompts on it.
* :func:`tiny_hf_bridge`: a ``TransformerBridge`` around a random Hugging Face causal LM
  (Llama or Gemma 3), built the way :func:`tvlens.models.load_model` builds real ones; its
  logits equal the HF model's and shared-prefix packing (:mod:`tvlens.engine.packing`) is exact
  on it.

Oracles, the straightforward TransformerLens loops the batched code must agree with (slow
on purpose: one prompt per pass, no batching, no packing): :func:`reference_sweep`,
:func:`reference_generate`, :func:`reference_indirect_effects` (one head per pass too,
what Todd et al.'s code does; ``benchmarks/bench_aie.py`` times it).

Example:
    >>> model = tiny_hooked_transformer()  # doctest: +SKIP
    >>> bridge = tiny_bridge()  # doctest: +SKIP
    >>> hf_bridge = tiny_hf_bridge(arch="gemma3")  # doctest: +SKIP
"""

from __future__ import annotations

import string
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._compat import (
    HOOK_Z_TEMPLATE,
    bridge_class,
    bridge_config_class,
    hooked_transformer_class,
    hooked_transformer_config_class,
)
from tvlens._example import ICLExample
from tvlens.prompts import PromptFormat, single_answer_token

BOS, PAD = "<|bos|>", "<|pad|>"
HFArch = Literal["llama", "gemma3"]
HF_ARCHS: tuple[HFArch, ...] = ("llama", "gemma3")
# Gemma 3's local layers; short, so that packed rows wider than the window can be tested.
TINY_SLIDING_WINDOW = 32


@lru_cache(maxsize=1)
def _tokenizer_dir() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    letters = string.ascii_letters
    # Every letter after a space is one token, as single-token answers are on real models.
    corpus = [f"{a} -> {b}\n" for a in letters for b in letters]
    corpus += ["example:a->b\n", "cat dog house sun moon tree ->"] * 20
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=[BOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=BOS, pad_token=PAD
    )
    directory = tempfile.mkdtemp(prefix="tvlens-tiny-tokenizer-")
    fast.save_pretrained(directory)
    return directory


def tiny_tokenizer() -> Any:
    """A fresh byte-level BPE tokenizer (about 300 tokens) with BOS and PAD tokens."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(_tokenizer_dir())


def tiny_hooked_transformer(
    *, n_layers: int = 3, d_model: int = 64, n_ctx: int = 128, seed: int = 0
) -> Any:
    """A random ``HookedTransformer`` (TransformerLens 3.x only).

    Raises:
        RuntimeError: on TransformerLens 4, which removed ``HookedTransformer``.
    """
    cls, cfg_cls = hooked_transformer_class(), hooked_transformer_config_class()
    if cls is None or cfg_cls is None:
        raise RuntimeError("HookedTransformer needs transformer-lens 3.x")
    tok = tiny_tokenizer()
    cfg = cfg_cls(
        n_layers=n_layers,
        d_model=d_model,
        d_head=16,
        n_heads=d_model // 16,
        d_mlp=4 * d_model,
        n_ctx=n_ctx,
        d_vocab=len(tok),
        act_fn="gelu",
        normalization_type="LN",
        positional_embedding_type="rotary",
        seed=seed,
        tokenizer_name=_tokenizer_dir(),
        default_prepend_bos=True,
        model_name=f"tiny-hooked-{n_layers}x{d_model}",
    )
    return cls(cfg, tokenizer=tok)


def tiny_bridge(*, n_layers: int = 3, d_model: int = 64, n_ctx: int = 128, seed: int = 0) -> Any:
    """A random ``TransformerBridge`` built natively (no HF model, no download)."""
    tok = tiny_tokenizer()
    cfg = bridge_config_class()(
        d_model=d_model,
        d_head=16,
        n_layers=n_layers,
        n_ctx=n_ctx,
        n_heads=d_model // 16,
        d_vocab=len(tok),
        d_mlp=4 * d_model,
        act_fn="gelu",
        seed=seed,
        positional_embedding_type="rotary",
        tokenizer_name=_tokenizer_dir(),
    )
    name = f"tiny-bridge-{n_layers}x{d_model}"
    model = bridge_class().boot_native(cfg, tokenizer=tok, model_name=name)
    model.cfg.model_name = name
    model.cfg.default_prepend_bos = True
    return model


def _tiny_hf_config(arch: str, n_layers: int, d_model: int, tok: Any) -> Any:
    """The HF config of a tiny causal LM: 4 heads of ``d_model // 4``, GQA, eager attention."""
    if arch not in HF_ARCHS:
        raise ValueError(f"arch must be one of {HF_ARCHS}, got {arch!r}")
    if n_layers < 1 or d_model < 4 or d_model % 4:
        raise ValueError(
            f"need n_layers >= 1 and d_model a multiple of 4, got {n_layers}, {d_model}"
        )
    common: dict[str, Any] = {
        "vocab_size": len(tok),
        "hidden_size": d_model,
        "intermediate_size": 2 * d_model,
        "num_hidden_layers": n_layers,
        "num_attention_heads": 4,
        "head_dim": d_model // 4,
        "max_position_embeddings": 128,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
        "attn_implementation": "eager",
    }
    if arch == "llama":
        from transformers import LlamaConfig

        llama = LlamaConfig(num_key_value_heads=2, **common)
        llama.architectures = ["LlamaForCausalLM"]
        return llama
    from transformers import Gemma3TextConfig

    # Like Gemma 3 270M: one KV head, q/k norms, post-attention and post-MLP norms,
    # sliding-window layers (here every other one) with their own rope base, tied unembed.
    cfg = Gemma3TextConfig(
        num_key_value_heads=1,
        query_pre_attn_scalar=d_model // 4,
        sliding_window=TINY_SLIDING_WINDOW,
        layer_types=["full_attention" if i % 2 else "sliding_attention" for i in range(n_layers)],
        **common,
    )
    cfg.architectures = ["Gemma3ForCausalLM"]
    return cfg


def tiny_hf_model(
    *, arch: HFArch = "llama", n_layers: int = 2, d_model: int = 64, seed: int = 0
) -> Any:
    """The random fp32 Hugging Face causal LM (eval mode) that :func:`tiny_hf_bridge` wraps.

    Same arguments give the same weights; the global torch RNG is left untouched.
    """
    from transformers import AutoModelForCausalLM

    cfg = _tiny_hf_config(arch, n_layers, d_model, tiny_tokenizer())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        hf_model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    return hf_model.eval()


def tiny_hf_bridge(
    *,
    arch: HFArch = "llama",
    n_layers: int = 2,
    d_model: int = 64,
    seed: int = 0,
    device: str = "cpu",
) -> Any:
    """A ``TransformerBridge`` around a random tiny Hugging Face model (no download).

    Built like :func:`tvlens.models.load_model` builds the embedded models: an fp32 HF
    model with eager attention, wrapped by ``TransformerBridge.boot_transformers``. So the
    bridge's logits equal the HF model's, and shared-prefix packing is exact on it (tvlens's
    packing probe passes; on ``"gemma3"`` only for packed rows within the sliding window).
    Each call builds a new model (under 0.1 s on a CPU once the imports are done).

    Args:
        arch: ``"llama"`` (4 heads, 2 KV heads) or ``"gemma3"`` (4 heads, 1 KV head,
            sliding window of :data:`TINY_SLIDING_WINDOW` tokens on every other layer).
        n_layers: number of layers.
        d_model: hidden size, a multiple of 4 (heads have ``d_model // 4`` dimensions).
        seed: the weights' seed.
        device: torch device of the model.
    """
    hf_model = tiny_hf_model(arch=arch, n_layers=n_layers, d_model=d_model, seed=seed)
    hf_model.to(device)
    name = f"tiny-hf-{arch}-{n_layers}x{d_model}"
    # With ``hf_model`` given, TransformerLens reads the config from it (no hub access) and
    # picks its adapter from ``config.architectures``; the name is only a label.
    model = bridge_class().boot_transformers(
        name, hf_model=hf_model, tokenizer=tiny_tokenizer(), device=device, dtype=torch.float32
    )
    model.eval()
    model.cfg.model_name = name
    model.cfg.default_prepend_bos = True
    return model


def reference_sweep(model: Any, examples: Sequence[Any], fmt: Any) -> Any:
    """The layer sweep as a user writes it by hand with TransformerLens: a test oracle.

    One ``run_with_cache`` per dummy prompt to read θ, then one ``run_with_hooks`` per
    example per layer on ``x ->`` with θ written at the last position; one prompt at a
    time, so the last position is the arrow. Slow on purpose: no batching, no packing, no
    narrowing of logits. ``tvlens.layer_sweep`` must agree with it prediction for
    prediction (``tests/test_oracle.py``; ``benchmarks/bench_sweep.py`` times it).

    Returns:
        ``[n_examples, n_layers]`` greedy next-token ids.
    """
    n_layers = int(model.cfg.n_layers)
    names = [f"blocks.{layer}.hook_resid_post" for layer in range(n_layers)]
    preds = torch.zeros(len(examples), n_layers, dtype=torch.long)
    with torch.inference_mode():
        for i, ex in enumerate(examples):
            thetas = []
            for dummy in ex.dummy_queries:
                tokens = model.to_tokens(fmt.icl(ex.demos, dummy))
                _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
                thetas.append(torch.stack([cache[name][0, -1] for name in names]))
            theta = torch.stack(thetas).mean(0)
            tokens = model.to_tokens(fmt.zero_shot(ex.query))
            for layer, name in enumerate(names):

                def patch(resid: Any, hook: Any, v: Any = theta[layer]) -> Any:
                    resid[:, -1] = v
                    return resid

                logits = model.run_with_hooks(tokens, fwd_hooks=[(name, patch)])
                preds[i, layer] = logits[0, -1].argmax()
    return preds


def reference_generate(
    model: Any, prompt: str, theta: Any, layer: int, *, max_new_tokens: int, stop: str = "\n"
) -> list[int]:
    """Greedy generation from one prompt with θ patched at its last token, by hand: an oracle.

    Each step is a full ``run_with_hooks`` over the prompt and the tokens generated so far;
    θ replaces ``blocks.{layer}.hook_resid_post`` at the prompt's last token (the arrow),
    a position that never moves because there is no padding. Stops after
    ``max_new_tokens``, at EOS, or once the decoded continuation contains ``stop``.
    """
    tokens = model.to_tokens(prompt)
    arrow = tokens.shape[1] - 1
    name = f"blocks.{layer}.hook_resid_post"

    def patch(resid: Any, hook: Any) -> Any:
        resid[:, arrow] = theta
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
