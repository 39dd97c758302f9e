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

Oracles, the straightforward TransformerLens loops the batched code must agree with, each
computing its own inputs (θ, mean head activations) with plain hooks, one prompt per pass:
defined in :mod:`tvlens.oracles` and re-exported here (:func:`reference_theta`,
:func:`reference_sweep`, :func:`reference_generate_hypothesis`, :func:`reference_generate`,
:func:`reference_mean_z`, :func:`reference_head_effects`, :func:`reference_indirect_effects`,
:func:`reference_attribution`).

Example:
    >>> model = tiny_hooked_transformer()  # doctest: +SKIP
    >>> bridge = tiny_bridge()  # doctest: +SKIP
    >>> hf_bridge = tiny_hf_bridge(arch="gemma3")  # doctest: +SKIP
"""

from __future__ import annotations

import string
import tempfile
from functools import lru_cache
from typing import Any, Literal

import torch

from tvlens._compat import (
    bridge_class,
    bridge_config_class,
    hooked_transformer_class,
    hooked_transformer_config_class,
)
from tvlens.oracles import (
    reference_attribution,
    reference_generate,
    reference_generate_hypothesis,
    reference_head_effects,
    reference_indirect_effects,
    reference_mean_z,
    reference_sweep,
    reference_theta,
)

__all__ = [
    "HF_ARCHS",
    "TINY_SLIDING_WINDOW",
    "reference_attribution",
    "reference_generate",
    "reference_generate_hypothesis",
    "reference_head_effects",
    "reference_indirect_effects",
    "reference_mean_z",
    "reference_sweep",
    "reference_theta",
    "tiny_bridge",
    "tiny_hf_bridge",
    "tiny_hf_model",
    "tiny_hooked_transformer",
    "tiny_tokenizer",
]

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
