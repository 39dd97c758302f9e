"""The Runner: configuration, binding, padding independence, per-model facts, method reach."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.helpers import letter_examples
from tvlens import (
    evaluate,
    extract_task_vectors,
    extract_thetas,
    hypothesis,
    layer_sweep,
    task_vector,
)
from tvlens.analysis import conflicting_tasks, robustness
from tvlens.engine.patches import Patches
from tvlens.engine.runner import RunConfig, Runner
from tvlens.prompts import DEFAULT_FORMAT, icl_prompts, tokenize_prompts

EXAMPLES = letter_examples(5, n_demos=3, n_dummy=2, seed=1)


@pytest.mark.parametrize(
    ("kwargs", "err"),
    [
        ({"batch_size": 0}, ValueError),
        ({"batch_size": 2.5}, ValueError),
        ({"batch_size": True}, ValueError),
        ({"sweep_batch_size": -1}, ValueError),
        ({"method": "fast"}, ValueError),
        ({"prepend_bos": "yes"}, TypeError),
        ({"device": 0}, TypeError),
    ],
)
def test_run_config_refuses_bad_values(kwargs, err) -> None:
    # Built past __init__, so the check runs as it does without the tests' beartype hook.
    config = object.__new__(RunConfig)
    for f in dataclasses.fields(RunConfig):
        object.__setattr__(config, f.name, kwargs.get(f.name, f.default))
    with pytest.raises(err, match=next(iter(kwargs))):
        config.__post_init__()


def test_bind(tiny_model) -> None:
    runner = Runner(tiny_model, RunConfig(batch_size=3))
    assert Runner.bind(tiny_model, runner) is runner
    assert Runner.bind(tiny_model, RunConfig(batch_size=3)).config == runner.config
    with pytest.raises(TypeError, match="RunConfig or a Runner"):
        Runner.bind(tiny_model, {"batch_size": 3})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="device"):
        Runner(tiny_model, RunConfig(device="meta"))


def test_a_runner_of_another_model_is_refused(tiny_model) -> None:
    from tests.conftest import build_tiny

    other = build_tiny("bridge", n_layers=2)
    with pytest.raises(ValueError, match="another model"):
        extract_thetas(tiny_model, EXAMPLES, run=Runner(other))


@pytest.mark.parametrize("side", ["left", "right"])
def test_logits_and_resid_do_not_depend_on_padding(tiny_model, side) -> None:
    runner = Runner(tiny_model)
    texts = icl_prompts(EXAMPLES, DEFAULT_FORMAT)
    batch = tokenize_prompts(tiny_model, texts, fmt=DEFAULT_FORMAT, padding_side=side)
    single = [tokenize_prompts(tiny_model, [t], fmt=DEFAULT_FORMAT) for t in texts]
    logits = runner.logits(batch)
    assert (logits - torch.cat([runner.logits(b) for b in single])).abs().max() < 1e-4
    layers = list(range(tiny_model.cfg.n_layers))
    resid = runner.resid(batch, layers)
    assert (resid - torch.cat([runner.resid(b, layers) for b in single])).abs().max() < 1e-4


def test_predict_keeps_input_order_and_patches_each_prompt(tiny_model) -> None:
    runner = Runner(tiny_model, RunConfig(batch_size=2))
    texts = icl_prompts(EXAMPLES, DEFAULT_FORMAT)
    thetas = torch.randn(len(texts), tiny_model.cfg.d_model)
    together = runner.predict(texts, DEFAULT_FORMAT, patches=Patches.at_layer(thetas, 1))
    for i, text in enumerate(texts):
        alone = runner.predict(
            [text], DEFAULT_FORMAT, patches=Patches.at_layer(thetas[i : i + 1], 1)
        )
        assert together.values[i] == alone.values[0]
        assert together.input_ids[i] == alone.input_ids[0]


@pytest.mark.parametrize("kind", ["hooked", "bridge"])
def test_facts_are_cached_per_runner_and_found_anew_after_a_dtype_change(kind, monkeypatch) -> None:
    from tests.conftest import build_tiny

    model = build_tiny(kind)
    calls = []
    from tvlens.engine import runner as runner_module

    original = runner_module.probe_packing

    def counting(runner):
        calls.append(1)
        return original(runner)

    monkeypatch.setattr(runner_module, "probe_packing", counting)
    runner = Runner(model)
    assert runner.packing == runner.packing
    assert len(calls) == 1
    model.to(torch.float64)
    assert not runner.packing.exact
    assert len(calls) == 2  # a verdict found in float32 is not trusted in float64


def test_probe_failure_is_reported_not_swallowed(tiny_model, monkeypatch) -> None:
    monkeypatch.setattr("tvlens._compat.packing_blocker", lambda model: "")

    def boom(self, *args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(Runner, "packed_resid", boom)
    with pytest.warns(RuntimeWarning, match="kaboom"):
        verdict = Runner(tiny_model).packing
    assert not verdict.exact and "RuntimeError: kaboom" in verdict.reason
    with pytest.raises(ValueError, match="kaboom"):
        _ = Runner(tiny_model, RunConfig(method="packed")).packs


REFUSED = "method='packed' cannot be used"


def test_method_reaches_every_phase_that_can_pack(tiny_model) -> None:
    # No tiny TL model packs, so method="packed" must raise in every phase it reaches.
    run = RunConfig(method="packed")
    calls = [
        lambda: extract_thetas(tiny_model, EXAMPLES, run=run),
        lambda: extract_task_vectors(tiny_model, EXAMPLES, run=run),
        lambda: task_vector(tiny_model, EXAMPLES, run=run),
        lambda: layer_sweep(tiny_model, EXAMPLES, run=run),
        lambda: hypothesis(tiny_model, EXAMPLES, 1, run=run),
        lambda: evaluate(tiny_model, EXAMPLES, dev_examples=EXAMPLES, run=run),
        lambda: evaluate(tiny_model, EXAMPLES, layer=1, run=run),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=REFUSED):
            call()


def test_method_reaches_the_analyses(tiny_model) -> None:
    from tvlens.tasks import Task

    upper = Task.from_pairs("upper", {c: c.upper() for c in "abcdefghijklmnop"})
    shift = Task.from_pairs("shift", {c: chr(ord(c) + 1) for c in "abcdefghijklmnop"})
    run = RunConfig(method="packed")
    with pytest.raises(ValueError, match=REFUSED):
        robustness(tiny_model, [upper, shift], n_vectors=3, k=1, run=run)
    with pytest.raises(ValueError, match=REFUSED):
        conflicting_tasks(tiny_model, [(upper, shift)], n=3, n_dev=3, run=run)


# ---- Runner.record: any hook at the arrow ----------------------------------------------
RECORDED = ("blocks.0.attn.hook_z", "blocks.1.hook_resid_post")


@pytest.mark.parametrize("side", ["left", "right"])
def test_record_equals_the_cache_of_each_prompt_alone(tiny_model, side) -> None:
    runner = Runner(tiny_model, RunConfig(batch_size=3))
    runner.tokenize = lambda texts, fmt=None: tokenize_prompts(  # type: ignore[method-assign]
        tiny_model, texts, fmt=fmt or DEFAULT_FORMAT, padding_side=side
    )
    texts = icl_prompts(EXAMPLES, DEFAULT_FORMAT)
    acts = runner.record(texts, RECORDED, DEFAULT_FORMAT, logits=True)
    assert acts.logits is not None and acts.logits.shape[0] == len(texts)
    for i, text in enumerate(texts):
        tokens = tiny_model.to_tokens(text)
        assert acts.input_ids[i] == tuple(tokens[0].tolist())
        logits, cache = tiny_model.run_with_cache(tokens)
        assert (acts.logits[i] - logits[0, -1].float()).abs().max() < 1e-4
        for name in RECORDED:
            want = cache[name][0, -1].float()
            assert acts[name][i].shape == want.shape
            assert (acts[name][i] - want).abs().max() < 1e-4, (name, i)


def test_record_reads_a_patched_hook_and_leaves_no_hook(tiny_model) -> None:
    from tests.conftest import count_fwd_hooks

    runner = Runner(tiny_model, RunConfig(batch_size=2))
    texts = icl_prompts(EXAMPLES, DEFAULT_FORMAT)
    vectors = torch.randn(len(texts), tiny_model.cfg.d_model)
    patches = Patches.at_layer(vectors, 1)
    before = count_fwd_hooks(tiny_model)
    acts = runner.record(texts, ["blocks.1.hook_resid_post"], DEFAULT_FORMAT, patches=patches)
    assert (acts["blocks.1.hook_resid_post"] - vectors).abs().max() < 1e-5
    assert acts.logits is None
    assert count_fwd_hooks(tiny_model) == before
    with pytest.raises(KeyError, match="was not recorded"):
        acts["blocks.0.hook_resid_post"]


def test_record_refuses_misuse(tiny_model) -> None:
    runner = Runner(tiny_model)
    texts = icl_prompts(EXAMPLES, DEFAULT_FORMAT)
    with pytest.raises(TypeError, match="did you mean"):
        runner.record(texts, "blocks.0.hook_resid_post")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one hook"):
        runner.record(texts, [])
    with pytest.raises(ValueError, match="not a hook point"):
        runner.record(texts, ["blocks.9.hook_resid_post"])
    with pytest.raises(ValueError, match="empty batch"):
        runner.record([], ["blocks.0.hook_resid_post"])
    with pytest.raises(ValueError, match="2 patches for"):
        runner.record(
            texts,
            ["blocks.0.hook_resid_post"],
            patches=Patches.at_layer(torch.zeros(2, tiny_model.cfg.d_model), 0),
        )
    with pytest.raises(TypeError, match="PromptPatches"):
        runner.predict(texts, patches=torch.zeros(len(texts), 4))  # type: ignore[arg-type]
