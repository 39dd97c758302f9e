"""tvlens's sweep and generation against the hand-written TransformerLens loops
(tvlens.oracles, re-exported by tvlens.testing), which read θ themselves with plain hooks:
tvlens's whole pipeline, from the examples, against the oracle on the same examples."""

from __future__ import annotations

import pytest

from tests.helpers import letter_examples
from tvlens import layer_sweep
from tvlens.engine.config import RunConfig
from tvlens.engine.runner import Runner
from tvlens.prompts import DEFAULT_FORMAT
from tvlens.testing import reference_sweep, tiny_hf_bridge

EXAMPLES = letter_examples(5, n_demos=3, n_dummy=2, seed=7)


def test_sweep_equals_the_hand_written_loop(tiny_model) -> None:
    sweep = layer_sweep(tiny_model, EXAMPLES, run=RunConfig(batch_size=3, sweep_batch_size=5))
    assert (
        sweep.predicted_token_ids.tolist()
        == reference_sweep(tiny_model, EXAMPLES, DEFAULT_FORMAT).tolist()
    )


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_packed_sweep_equals_the_hand_written_loop(arch) -> None:
    model = tiny_hf_bridge(arch=arch)
    runner = Runner(model, RunConfig(method="packed", sweep_batch_size=16))
    sweep = layer_sweep(model, EXAMPLES, run=runner)
    assert (
        sweep.predicted_token_ids.tolist()
        == reference_sweep(model, EXAMPLES, DEFAULT_FORMAT).tolist()
    )


def test_generation_equals_the_hand_written_loop(tiny_model) -> None:
    from tvlens.evaluation.generation import generate_hypothesis
    from tvlens.testing import reference_generate_hypothesis

    result = generate_hypothesis(tiny_model, EXAMPLES, 1, max_new_tokens=4)
    for ex, pred in zip(EXAMPLES, result.predictions, strict=True):
        ref = reference_generate_hypothesis(tiny_model, ex, 1, DEFAULT_FORMAT, max_new_tokens=4)
        assert list(pred.generated_token_ids) == ref
