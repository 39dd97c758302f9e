"""Issue 18's silent failures in the engine: each was a wrong number or a crash, now an error.

Items: 3 (recording a hook without a position axis), 4 (generation past the context),
14 (prompts that do not end in the arrow; the head decomposition enforced; what batch size
may change).
"""

from __future__ import annotations

import pytest
import torch

from tests.conftest import ALL_KINDS, count_fwd_hooks, tiny_of_kind
from tests.helpers import letter_examples
from tvlens import _compat
from tvlens.engine.patches import Patches
from tvlens.engine.runner import RunConfig, Runner
from tvlens.fv.heads import mean_head_activations
from tvlens.hooks import ArrowRecorder
from tvlens.prompts import DEFAULT_FORMAT, icl_prompts

EXAMPLES = letter_examples(6, n_demos=3, n_dummy=1, seed=3)


def _model(kind: str):
    model = tiny_of_kind(kind)
    return model


# ---- item 3: record refuses [batch, head, query, key] hooks --------------------------------
@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("hook", ["blocks.1.attn.hook_pattern", "blocks.0.attn.hook_attn_scores"])
def test_record_refuses_hooks_without_a_position_axis(kind: str, hook: str) -> None:
    model = _model(kind)
    runner = Runner(model)
    texts = icl_prompts(EXAMPLES[:2], DEFAULT_FORMAT)
    before = count_fwd_hooks(model)
    with pytest.raises(ValueError, match=r"\[batch, head, query, key\].*run_with_cache"):
        runner.record(texts, ["blocks.0.hook_resid_post", hook])
    assert count_fwd_hooks(model) == before
    # a hook with a position axis still reads [n, n_heads, d_head] at the arrow
    z = runner.record(texts, ["blocks.1.attn.hook_z"])["blocks.1.attn.hook_z"]
    assert z.shape == (2, model.cfg.n_heads, model.cfg.d_head)


def test_recorder_refuses_an_activation_whose_second_axis_is_not_the_sequence() -> None:
    rec = ArrowRecorder(torch.tensor([2, 3]), ("blocks.0.attn.hook_q",), width=5)
    ((_, fn),) = rec.hooks
    with pytest.raises(ValueError, match=r"shape \(2, 4, 5, 5\).*not the sequence"):
        fn(torch.zeros(2, 4, 5, 5), None)  # head axis second: would index heads 2 and 3
    assert fn(torch.zeros(2, 5, 4, 3), None).shape == (2, 5, 4, 3)
    assert rec.get("blocks.0.attn.hook_q").shape == (2, 4, 3)
    with pytest.raises(ValueError, match="cannot be read at the arrow"):
        ArrowRecorder(torch.tensor([1]), ("blocks.0.attn.hook_pattern",))


# ---- item 4: generation past the context -------------------------------------------------
def _long_prompt(runner: Runner, tokens: int) -> str:
    """A prompt of about ``tokens`` tokens ending in the arrow."""
    text = "c ->"
    while len(runner.token_ids([text])[0]) < tokens:
        text = "a -> b\n" + text
    return text


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_generation_past_the_context_is_refused_and_the_edge_runs(kind: str) -> None:
    model = _model(kind)
    runner = Runner(model)
    n_ctx = _compat.n_ctx(model)
    assert n_ctx is not None
    prompt = _long_prompt(runner, n_ctx - 20)
    length = len(runner.token_ids([prompt])[0])
    room = n_ctx - length + 1
    with pytest.raises(
        ValueError, match=rf"past the model's context of {n_ctx}.*to {room} or less"
    ):
        runner.generate([prompt, "c ->"], max_new_tokens=room + 1, stop=(), kv_cache=False)
    gens = runner.generate([prompt], max_new_tokens=room, stop=(), kv_cache=False)
    assert len(gens.token_ids[0]) <= room


@pytest.mark.parametrize("kind", ["hf-llama", "hf-gemma3"])
def test_a_bridge_is_held_to_its_hf_max_position_embeddings(kind: str, monkeypatch) -> None:
    model = _model(kind)
    config = model.original_model.config
    monkeypatch.setattr(config, "max_position_embeddings", 40)
    assert model.cfg.n_ctx > 40  # TransformerLens's own n_ctx would let it run on
    assert _compat.n_ctx(model) == 40
    runner = Runner(model)
    prompt = _long_prompt(runner, 36)
    with pytest.raises(ValueError, match="past the model's context of 40"):
        runner.generate([prompt], max_new_tokens=10, stop=(), kv_cache=False)
    with pytest.raises(ValueError, match="longer than the model's context n_ctx=40"):
        runner.predict([_long_prompt(runner, 41)])


# ---- item 14: the arrow, the decomposition, batch size -----------------------------------
@pytest.mark.parametrize("kind", ["hooked", "bridge"])
def test_runner_verbs_refuse_prompts_that_do_not_end_in_the_arrow(kind: str) -> None:
    runner = Runner(_model(kind))
    bad = ["a -> b\nc -> d"]  # the last token is the answer "d", not the arrow
    theta = Patches.at_layer(torch.zeros(1, runner.d_model), 0)
    for call in (
        lambda: runner.predict(bad, patches=theta),
        lambda: runner.generate(bad, patches=theta, max_new_tokens=2),
        lambda: runner.record(bad, ["blocks.0.hook_resid_post"]),
    ):
        with pytest.raises(ValueError, match=r"does not end with the arrow.*pass fmt="):
            call()
    assert len(runner.predict(["a -> b\nc ->"]).values) == 1


@pytest.mark.parametrize("kind", ["hooked", "hf-gemma3"])
def test_head_outputs_that_do_not_sum_to_the_attention_output_are_refused(
    kind: str, monkeypatch
) -> None:
    model = _model(kind)
    acts = mean_head_activations(model, EXAMPLES)
    assert acts.decomposition_error < 1e-4
    real = _compat.head_out_weights
    monkeypatch.setattr(_compat, "head_out_weights", lambda m, la: 2 * real(m, la))
    with pytest.raises(RuntimeError, match="do not sum to the attention output"):
        mean_head_activations(model, EXAMPLES)


@pytest.mark.parametrize("kind", ["hooked", "hf-gemma3"])
def test_batch_size_changes_no_prediction_and_only_float_rounding(kind: str) -> None:
    # The README's guarantee: predictions and accuracies never depend on batch size;
    # probabilities and effects agree to float rounding (here 1e-5), not to the last digit.
    model = _model(kind)
    one = mean_head_activations(model, EXAMPLES, run=RunConfig(batch_size=1))
    many = mean_head_activations(model, EXAMPLES, run=RunConfig(batch_size=4))
    assert torch.equal(one.clean_correct, many.clean_correct)
    torch.testing.assert_close(one.clean_prob, many.clean_prob, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(one.z, many.z, atol=1e-5, rtol=1e-4)
