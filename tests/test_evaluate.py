"""Extraction, the three modes and the layer sweep: batched == one at a time, bad input."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import letter_examples
from tvlens import (
    ICLExample,
    baseline,
    evaluate,
    extract_thetas,
    hypothesis,
    layer_sweep,
    regular,
)
from tvlens.engine.runner import RunConfig
from tvlens.evaluation.results import LayerSweepResult
from tvlens.hooks import resid_hook_name
from tvlens.prompts import DEFAULT_FORMAT as FMT
from tvlens.prompts import dummy_prompts, tokenize_prompts

EXAMPLES = letter_examples(6, n_demos=3, n_dummy=2)


def test_theta_is_mean_over_dummies_of_cached_resid(tiny_model) -> None:
    thetas = extract_thetas(tiny_model, EXAMPLES[:2])
    texts = dummy_prompts(EXAMPLES[:2], FMT)
    batch = tokenize_prompts(tiny_model, texts)
    _, cache = tiny_model.run_with_cache(batch.tokens, attention_mask=batch.attention_mask)
    rows = torch.arange(len(texts))
    for layer in range(tiny_model.cfg.n_layers):
        acts = cache[resid_hook_name(layer)][rows, batch.positions]
        torch.testing.assert_close(thetas[0, layer], acts[:2].mean(0), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(thetas[1, layer], acts[2:].mean(0), atol=1e-5, rtol=1e-5)


ONE = RunConfig(batch_size=1)


def test_extraction_batched_equals_one_at_a_time(tiny_model) -> None:
    batched = extract_thetas(tiny_model, EXAMPLES, run=RunConfig(batch_size=4))
    single = torch.cat([extract_thetas(tiny_model, [ex], run=ONE) for ex in EXAMPLES])
    assert (batched - single).abs().max() < 1e-4


def test_three_modes_batched_equal_one_at_a_time(tiny_model) -> None:
    for fn, extra in ((regular, {}), (baseline, {}), (hypothesis, {"layer": 1})):
        batched = fn(tiny_model, EXAMPLES, run=RunConfig(batch_size=5), **extra)
        single = [fn(tiny_model, [ex], run=ONE, **extra).predictions[0] for ex in EXAMPLES]
        assert [p.predicted_token_id for p in batched.predictions] == [
            p.predicted_token_id for p in single
        ]
        assert [p.input_ids for p in batched.predictions] == [p.input_ids for p in single]


def test_sweep_equals_plain_hypothesis_per_layer(tiny_model) -> None:
    sweep = layer_sweep(tiny_model, EXAMPLES, run=RunConfig(sweep_batch_size=7))
    assert sweep.layers == tuple(range(tiny_model.cfg.n_layers))
    for j, layer in enumerate(sweep.layers):
        plain = hypothesis(tiny_model, EXAMPLES, layer, run=ONE)
        assert sweep.predicted_token_ids[:, j].tolist() == [
            p.predicted_token_id for p in plain.predictions
        ]
        assert sweep.accuracy[j] == plain.accuracy


def test_best_layer_ties_go_to_earliest() -> None:
    r = LayerSweepResult(
        "t",
        (0, 1, 2),
        (0.5, 0.9, 0.9),
        torch.zeros(1, 3, dtype=torch.bool),
        torch.zeros(1, 3, dtype=torch.long),
    )
    assert r.best_layer == 1 and r.best_accuracy == 0.9
    assert list(r.to_dataframe().columns) == ["task", "layer", "accuracy"]


def test_evaluate_result_and_dataframe(tiny_model) -> None:
    res = evaluate(tiny_model, EXAMPLES, dev_examples=EXAMPLES)
    assert res.sweep is not None and res.layer == res.sweep.best_layer
    assert set(res.accuracies) == {"baseline", "hypothesis", "regular"}
    df = res.to_dataframe()
    assert len(df) == 3 * len(EXAMPLES)
    assert {"query", "answer", "predicted_token", "correct", "input_ids"} <= set(df.columns)
    # the scored token is the answer's first token as it appears after the arrow
    ans = tiny_model.tokenizer(" " + EXAMPLES[0].answer, add_special_tokens=False)["input_ids"][0]
    assert res.regular.predictions[0].answer_token_id == ans


def test_shared_task_vector_patch_uses_it_for_every_row(tiny_model) -> None:
    from tvlens import TaskVector, extract_task_vectors

    tv = TaskVector.mean(extract_task_vectors(tiny_model, EXAMPLES))
    res = hypothesis(tiny_model, EXAMPLES, 2, vector=tv)
    per_row = hypothesis(tiny_model, EXAMPLES, 2, vector=tv.tensor_at(2).expand(len(EXAMPLES), -1))
    assert [p.predicted_token_id for p in res.predictions] == [
        p.predicted_token_id for p in per_row.predictions
    ]


def test_bad_inputs(tiny_model) -> None:
    n = tiny_model.cfg.n_layers
    no_demos = [ICLExample(demos=(), query="a", answer="A", dummy_queries=("b",))]
    with pytest.raises(ValueError, match="no demonstrations"):
        hypothesis(tiny_model, no_demos, 0)
    for bad in (-1, n):
        with pytest.raises(ValueError, match="out of range"):
            hypothesis(tiny_model, EXAMPLES, bad)
        with pytest.raises(ValueError, match="out of range"):
            layer_sweep(tiny_model, EXAMPLES, layers=[bad])
    with pytest.raises(ValueError, match="empty batch"):
        regular(tiny_model, [])
    with pytest.raises(ValueError, match="empty batch"):
        extract_thetas(tiny_model, [])
    with pytest.raises(ValueError, match=r"\[n_examples, d_model\]"):
        hypothesis(tiny_model, EXAMPLES, 0, vector=torch.zeros(len(EXAMPLES), 3))
    with pytest.raises(ValueError, match="no dummy queries"):
        extract_thetas(tiny_model, [ICLExample(demos=(("a", "A"),), query="b", answer="B")])
    with pytest.raises(ValueError, match="dev_examples"):
        evaluate(tiny_model, EXAMPLES)
    long = [ICLExample(demos=(("a", "A"),) * 100, query="b", answer="B", dummy_queries=("c",))]
    with pytest.raises(ValueError, match="n_ctx"):
        regular(tiny_model, long)


def test_the_keywords_run_replaced_are_gone(tiny_model, no_jaxtyping) -> None:
    # removed in 0.5 (CHANGELOG.md): batch_size= & co. beside run= raised a DeprecationWarning
    with pytest.raises(TypeError, match="batch_size"):
        regular(tiny_model, EXAMPLES, batch_size=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="run= must be a RunConfig or a Runner"):
        regular(tiny_model, EXAMPLES, run={"batch_size": 2})  # type: ignore[arg-type]


def test_multi_token_answer_is_refused_not_scored_on_its_first_token(tiny_model) -> None:
    # "Buenos Aires" and "Buenos Dias" share a first token: first-token scoring would lie.
    long = ICLExample(demos=(("a", "A"),), query="b", answer="Buenos Aires", dummy_queries=("c",))
    for fn, extra in ((regular, {}), (baseline, {}), (hypothesis, {"layer": 0})):
        with pytest.raises(ValueError, match="tokens"):
            fn(tiny_model, [long], **extra)
    with pytest.raises(ValueError, match="tokens"):
        layer_sweep(tiny_model, [long])
    with pytest.raises(ValueError, match="tokens"):
        evaluate(tiny_model, [long], layer=0)
