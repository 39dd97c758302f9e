"""Misuse found by probing as a skeptical user: each case errors instead of a silent result."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import build_tiny, count_fwd_hooks
from tests.helpers import letter_examples
from tvlens import (
    PAPER_FORMAT,
    Patches,
    RunConfig,
    Runner,
    TaskVector,
    evaluate,
    extract_task_vectors,
    hypothesis,
    regular,
    tokenize_prompts,
)
from tvlens.analysis import conflicting_tasks, robustness, vocab_projection
from tvlens.hooks import resid_extractor_hooks
from tvlens.prompts import DEFAULT_FORMAT

EXAMPLES = letter_examples(4, n_demos=2, n_dummy=1, seed=3)


def _theta(model, **changes):
    tv = TaskVector.mean(extract_task_vectors(model, EXAMPLES))
    fields = {
        "vector": tv.vector,
        "model_name": tv.model_name,
        "d_model": tv.d_model,
        "n_layers": tv.n_layers,
    }
    return TaskVector(**{**fields, **changes})


def test_a_patch_at_a_hook_the_model_lacks_is_refused(tiny_model) -> None:
    # A TransformerBridge ignores unknown hook names: Hypothesis would silently be Baseline.
    bad = _theta(tiny_model, hook_template="blocks.{layer}.hook_resid_pst")
    with pytest.raises(ValueError, match="not a hook point"):
        hypothesis(tiny_model, EXAMPLES, 1, vector=bad)
    batch = tokenize_prompts(tiny_model, ["a ->"])
    with (
        pytest.raises(ValueError, match="not a hook point"),
        bad.at(1).apply(tiny_model, batch.positions),
    ):
        pass
    assert count_fwd_hooks(tiny_model) == 0


def test_task_vector_fields_are_checked_so_save_always_loads(
    tiny_model, tmp_path, no_jaxtyping
) -> None:
    for changes, err in (
        ({"task": None}, TypeError),
        ({"model_name": None}, TypeError),
        ({"seed": "abc"}, TypeError),
        ({"n_examples": 0}, ValueError),
        ({"n_demos": -3}, ValueError),
        ({"prompt_format": "paper"}, TypeError),
    ):
        with pytest.raises(err):
            _theta(tiny_model, **changes)
    np = pytest.importorskip("numpy")
    tv = _theta(tiny_model, seed=np.int64(4), n_demos=np.int64(2))
    assert type(tv.seed) is int and type(tv.n_demos) is int
    tv.save(tmp_path / "tv")
    assert TaskVector.load(tmp_path / "tv") == tv


def test_vectors_of_other_hooks_or_formats_do_not_combine(tiny_model) -> None:
    tv = _theta(tiny_model)
    with pytest.raises(ValueError, match="hook"):
        tv + _theta(tiny_model, hook_template="blocks.{layer}.hook_resid_pre")
    with pytest.raises(ValueError, match="prompt formats"):
        TaskVector.mean([tv, _theta(tiny_model, prompt_format=PAPER_FORMAT)])
    with pytest.raises(TypeError, match="only with task vectors"):
        tv + 1  # type: ignore[operator]


def test_mean_lists_provenance_that_differs(tiny_model) -> None:
    mean = TaskVector.mean([_theta(tiny_model, n_demos=5, seed=1), _theta(tiny_model, n_demos=1)])
    assert mean.n_demos == 0 and mean.extra["n_demos_values"] == [1, 5]
    assert mean.seed is None


def test_patches_refuse_non_integer_layers(tiny_model, no_jaxtyping) -> None:
    v = torch.randn(2, tiny_model.cfg.d_model)
    for layer in (2.9, True, "1"):
        with pytest.raises(TypeError):
            Patches.at_layer(v, layer)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="integer tensor"):
        Patches(v, torch.tensor([1.0, 2.0]))


def test_an_empty_baseline_set_is_not_replaced_by_the_test_set(tiny_model) -> None:
    with pytest.raises(ValueError, match="empty batch"):
        evaluate(tiny_model, EXAMPLES, layer=1, baseline_examples=[])


def test_vocab_projection_refuses_nan(tiny_model) -> None:
    with pytest.raises(ValueError, match="NaN"):
        vocab_projection(tiny_model, torch.full((tiny_model.cfg.d_model,), float("nan")), k=2)


class Duck:
    def __init__(self, name, pairs):
        self.name, self.pairs = name, pairs


def test_duck_typed_tasks_are_checked(tiny_model) -> None:
    up = Duck("up", [(c, c.upper()) for c in "abcdefgh"])
    nones = Duck("nones", [(c, None) for c in "abcdefgh"])
    with pytest.raises(TypeError, match=r"pairs\[0\] must be two str"):
        robustness(tiny_model, [nones, up], n_vectors=3, n_demos=2, layer=1, k=1)
    clash = Duck("clash", [*up.pairs, ("a", "Z")])
    with pytest.raises(ValueError, match="maps to"):
        robustness(tiny_model, [clash, up], n_vectors=3, n_demos=2, layer=1, k=1)


def test_conflict_arguments_are_checked(tiny_model, no_jaxtyping) -> None:
    up = Duck("up", [(c, c.upper()) for c in "abcdefgh"])
    nxt = Duck("next", [(c, chr(ord(c) + 1)) for c in "abcdefgh"])
    with pytest.raises(ValueError, match="n must be"):
        conflicting_tasks(tiny_model, [(up, nxt)], n=0, layer=1)
    with pytest.raises(TypeError, match="pair"):
        conflicting_tasks(tiny_model, (up, nxt), layer=1)  # type: ignore[arg-type]


def test_prepend_bos_must_be_a_bool(tiny_model, no_jaxtyping) -> None:
    with pytest.raises(TypeError, match="prepend_bos"):
        tokenize_prompts(tiny_model, ["a ->"], prepend_bos="False")  # type: ignore[arg-type]


def test_added_control_like_tokens_are_refused_in_text() -> None:
    model = build_tiny("bridge")
    model.tokenizer.add_tokens(["<start_of_image>"])  # added, not marked special (as on Gemma)
    with pytest.raises(ValueError, match="start_of_image"):
        tokenize_prompts(model, ["<start_of_image> ->"])


def test_a_reused_recorder_never_mixes_passes(tiny_model) -> None:
    batch = tokenize_prompts(tiny_model, ["a -> A\nb ->"])
    rec = resid_extractor_hooks(batch.positions, [0, 1])
    tiny_model.run_with_hooks(batch.tokens, fwd_hooks=rec.hooks)
    tiny_model.run_with_hooks(batch.tokens, fwd_hooks=rec.hooks[:1])  # layer 1 not read
    with pytest.raises(ValueError, match="1"):
        rec.stacked()


def test_a_vector_of_another_format_is_refused(tiny_model) -> None:
    tv = _theta(tiny_model, prompt_format=PAPER_FORMAT)
    with pytest.raises(ValueError, match="prompt format"):
        hypothesis(tiny_model, EXAMPLES, 1, vector=tv, fmt=DEFAULT_FORMAT)


def test_packed_is_refused_even_where_nothing_is_packed(tiny_model) -> None:
    with pytest.raises(ValueError, match="method='packed' cannot be used"):
        regular(tiny_model, EXAMPLES, run=RunConfig(method="packed"))


def test_devices(tiny_model) -> None:
    assert Runner(tiny_model, RunConfig(device="cpu:0")).device.type == "cpu"
    with pytest.raises(ValueError, match="not a torch device"):
        Runner(tiny_model, RunConfig(device="gpu"))


def test_examples_must_be_a_list(tiny_model, no_jaxtyping) -> None:
    with pytest.raises(TypeError):
        regular(tiny_model, (ex for ex in EXAMPLES))  # type: ignore[arg-type]
