"""Tiny random TransformerLens models with an in-memory tokenizer, for unit tests.

No download: the tokenizer is a byte-level BPE trained in memory on letters and the
``->`` arrow, saved to a temporary folder (TransformerLens re-loads tokenizers by path).

Example:
    >>> model = tiny_hooked_transformer()  # doctest: +SKIP
    >>> bridge = tiny_bridge()  # doctest: +SKIP
"""

from __future__ import annotations

import string
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from tvlens._compat import (
    bridge_class,
    bridge_config_class,
    hooked_transformer_class,
    hooked_transformer_config_class,
)

BOS, PAD = "<|bos|>", "<|pad|>"


@lru_cache(maxsize=1)
def _tokenizer_dir() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    letters = string.ascii_letters
    corpus = [f"{a} -> {b}\n" for a in letters for b in letters[::3]]
    corpus += ["example:a->b\n", "cat dog house sun moon tree ->"] * 20
    trainer = trainers.BpeTrainer(
        vocab_size=300,
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


def tokenizer_path() -> Path:
    """Where the tiny tokenizer was saved."""
    return Path(_tokenizer_dir())
