"""The paper's effect on the embedded default (Gemma 3 270M): few tests, marked ``model``."""

from __future__ import annotations

import json
from importlib.resources import files

import jsonschema
import pytest
import torch

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def gemma():
    from tvlens.models import load_model

    return load_model()


@pytest.fixture(scope="module")
def to_upper(gemma):
    from tvlens.tasks import for_model, get_task

    task = for_model(get_task("to_upper"), gemma)
    return task.dev_test(20, 20, n_demos=5, n_dummy=2, seed=0)


def test_icl_on_to_upper(gemma, to_upper) -> None:
    from tvlens import regular

    assert regular(gemma, to_upper[1]).accuracy >= 0.8


def test_task_vector_beats_baseline_on_to_upper(gemma, to_upper) -> None:
    from tvlens import evaluate

    dev, test = to_upper
    res = evaluate(gemma, test, dev_examples=dev)
    assert res.hypothesis.accuracy - res.baseline.accuracy >= 0.5, res.accuracies


@pytest.mark.parametrize("side", ["left", "right"])
def test_batched_equals_unbatched_on_gemma(gemma, side) -> None:
    from tvlens.engine.runner import Runner
    from tvlens.prompts import DEFAULT_FORMAT, icl_prompts, tokenize_prompts
    from tvlens.tasks import for_model, get_task

    task = for_model(get_task("country_capital"), gemma)
    examples = task.sample(3, n_demos=1, seed=0) + task.sample(3, n_demos=5, seed=1)
    texts = icl_prompts(examples, DEFAULT_FORMAT)
    batch = tokenize_prompts(gemma, texts, fmt=DEFAULT_FORMAT, padding_side=side)
    runner = Runner(gemma)
    batched = runner.logits(batch)
    single = torch.cat([runner.logits(tokenize_prompts(gemma, [t])) for t in texts])
    assert (batched - single).abs().max() < 1e-3  # logits are O(10-100) on Gemma
    assert torch.equal(batched.argmax(-1), single.argmax(-1))


def test_tvlens_run_quick_end_to_end(tmp_path) -> None:
    from tvlens.cli import main

    out = tmp_path / "quick"
    argv = [
        "run",
        "--quick",
        "--tasks",
        "to_upper",
        "country_capital",
        "--n-dev",
        "8",
        "--n-test",
        "8",
        "--n-baseline",
        "8",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    data = json.loads((out / "results.json").read_text())
    schema = json.loads(files("tvlens").joinpath("results_schema.json").read_text())
    jsonschema.validate(data, schema)
    assert data["meta"]["model"] == "gemma-3-270m"
    assert data["tasks"]["to_upper"]["accuracy"]["regular"] >= 0.75
    assert (out / "summary.md").exists() and (out / "report.html").exists()


def test_packing_is_verified_and_exact_on_gemma(gemma) -> None:
    from tvlens import RunConfig, Runner, extract_thetas, layer_sweep
    from tvlens.tasks import for_model, get_task

    assert Runner(gemma).packing.exact
    task = for_model(get_task("country_capital"), gemma)
    examples = task.sample(8, n_demos=5, n_dummy=2, seed=3)
    batched = extract_thetas(gemma, examples, run=RunConfig(method="batched"))
    packed = extract_thetas(gemma, examples, run=RunConfig(method="packed"))
    rel = (packed - batched).norm(dim=-1) / batched.norm(dim=-1)
    assert rel.max() < 1e-4
    a = layer_sweep(gemma, examples, thetas=batched, run=RunConfig(method="batched"))
    b = layer_sweep(gemma, examples, thetas=batched, run=RunConfig(method="packed"))
    assert torch.equal(a.predicted_token_ids, b.predicted_token_ids)


def test_kv_cache_is_verified_and_exact_on_gemma(gemma) -> None:
    """Gemma 3 270M is a TransformerBridge over an HF model: generation uses the cache, and
    the cached tokens equal the recomputed ones, θ patched at every step or at the arrow."""
    from tvlens import RunConfig, Runner, extract_thetas
    from tvlens.engine.patches import Patches
    from tvlens.prompts import DEFAULT_FORMAT, icl_prompts, zero_shot_prompts
    from tvlens.tasks import for_model, get_task

    runner = Runner(gemma, RunConfig(batch_size=4))
    assert runner.kv_cache.usable, runner.kv_cache.reason
    task = for_model(get_task("person_language"), gemma, max_tokens=8)
    examples = task.sample(6, n_demos=5, n_dummy=2, seed=0)
    theta = extract_thetas(gemma, examples)[:, 9]
    zero = zero_shot_prompts(examples, DEFAULT_FORMAT)
    patches = Patches(theta, torch.full((len(zero),), 9, dtype=torch.long))
    for texts, p in ((icl_prompts(examples, DEFAULT_FORMAT), None), (zero, patches)):
        for at in ("arrow", "all"):
            kw = {"patches": p, "at": at, "max_new_tokens": 8, "stop": ()}
            cached = runner.generate(texts, kv_cache=True, **kw)
            recomputed = runner.generate(texts, kv_cache=False, **kw)
            assert cached.kv_cache and not recomputed.kv_cache
            assert cached.token_ids == recomputed.token_ids, at
