"""The analyses on tiny models and constructed vectors: robustness, conflict, vocabulary."""

from __future__ import annotations

import itertools
import random
import string
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from tests.helpers import letter_examples
from tvlens import extract_task_vectors, extract_thetas, regular
from tvlens._compat import final_norm, unembed
from tvlens.analysis import (
    ConflictResult,
    RobustnessResult,
    conflicting_tasks,
    cosine_distance_matrix,
    cosine_distances_within_across,
    knn_accuracy,
    robustness,
    silhouette,
    summarize_vectors,
    vocab_projection,
    vocab_table,
)
from tvlens.analysis._sampling import examples_from_pairs

LETTERS = string.ascii_lowercase


@dataclass(frozen=True)
class PairTask:
    """A Task-like object with only ``.name`` and ``.pairs`` (no ``.sample``)."""

    name: str
    pairs: tuple[tuple[str, str], ...]


TO_UPPER = PairTask("to_upper", tuple((c, c.upper()) for c in LETTERS))
NEXT_LETTER = PairTask("next_letter", tuple(itertools.pairwise(LETTERS)))
PREV_LETTER = PairTask("prev_letter", tuple((b, a) for a, b in itertools.pairwise(LETTERS)))
WORDS = PairTask("word_upper", (("cat", "CAT"), ("dog", "DOG"), ("sun", "SUN"), ("moon", "MOON")))
SMALL = {"n_vectors": 4, "n_demos": 2, "seed": 0}


# ---- scores on constructed vectors -----------------------------------------------------
def two_clusters(n: int = 10, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Two tight clusters around orthogonal directions."""
    rng = np.random.default_rng(seed)
    a = np.array([10.0, 0.0, 0.0, 0.0]) + 0.05 * rng.standard_normal((n, 4))
    b = np.array([0.0, 10.0, 0.0, 0.0]) + 0.05 * rng.standard_normal((n, 4))
    return np.concatenate([a, b]), ["a"] * n + ["b"] * n


@pytest.mark.parametrize("k", [1, 5])
def test_tight_far_clusters_score_perfectly(k: int) -> None:
    vectors, labels = two_clusters()
    assert knn_accuracy(vectors, labels, k) == 1.0
    assert silhouette(vectors, labels) > 0.95
    within, across = cosine_distances_within_across(vectors, labels)
    assert within.shape == (2 * 45,) and across.shape == (100,)
    assert within.max() < 0.01 and across.min() > 0.9


def test_scores_accept_tensors() -> None:
    vectors, labels = two_clusters()
    assert knn_accuracy(torch.tensor(vectors, dtype=torch.float32), labels, 1) == 1.0


def test_identical_vectors_have_zero_distance() -> None:
    vectors = np.tile(np.array([[0.3, -1.2, 2.0]]), (4, 1))
    within, across = cosine_distances_within_across(vectors, ["a", "a", "b", "b"])
    assert within.tolist() == pytest.approx([0.0, 0.0], abs=1e-12)
    assert across.tolist() == pytest.approx([0.0] * 4, abs=1e-12)
    assert np.allclose(cosine_distance_matrix(vectors), 0.0)


def test_knn_known_answer_and_ties() -> None:
    vectors = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    assert knn_accuracy(vectors, ["a", "a", "b", "b"], 1) == 1.0
    assert knn_accuracy(vectors, ["a", "b", "a", "b"], 1) == 0.0
    # k=2 ties one-one: the nearest neighbour's label wins, so it equals k=1 here.
    assert knn_accuracy(vectors, ["a", "a", "b", "b"], 2) == 1.0


def test_score_errors() -> None:
    vectors, labels = two_clusters(3)
    with pytest.raises(ValueError, match="1 <= k <= n - 1"):
        knn_accuracy(vectors, labels, 6)
    with pytest.raises(ValueError, match="labels"):
        silhouette(vectors, ["a"] * 6)
    with pytest.raises(ValueError, match="one label per vector"):
        cosine_distances_within_across(vectors, labels[:-1])
    with pytest.raises(ValueError, match="all zeros"):
        cosine_distance_matrix(np.zeros((3, 2)))


def test_summarize_vectors_needs_two_tasks() -> None:
    vectors, _ = two_clusters(3)
    with pytest.raises(ValueError, match="at least 2 tasks"):
        summarize_vectors(vectors, ["a"] * 6, layer=0)


# ---- robustness on a tiny model --------------------------------------------------------
def test_robustness_shapes(tiny_model) -> None:
    res = robustness(tiny_model, [TO_UPPER, NEXT_LETTER, PREV_LETTER], layer=1, k=1, **SMALL)
    assert isinstance(res, RobustnessResult)
    assert res.layer == 1 and res.layer_accuracy is None
    assert res.vectors.shape == (12, tiny_model.cfg.d_model)
    assert res.labels == ("to_upper",) * 4 + ("next_letter",) * 4 + ("prev_letter",) * 4
    assert res.tasks == ("to_upper", "next_letter", "prev_letter")
    assert res.embedding.shape == (12, 2) and np.isfinite(res.embedding).all()
    assert res.within.shape == (3 * 6,) and res.across.shape == (66 - 18,)
    assert 0.0 <= res.knn_accuracy <= 1.0 and -1.0 <= res.silhouette <= 1.0
    summary = res.summary()
    assert summary["knn_k"] == 1 and summary["n_vectors"] == 12
    assert summary["mean_within"] == pytest.approx(float(res.within.mean()))
    assert list(res.to_dataframe().columns) == ["task", "tsne_x", "tsne_y"]


def test_robustness_vectors_are_thetas_at_the_layer(tiny_model) -> None:
    res = robustness(tiny_model, [TO_UPPER, NEXT_LETTER], layer=2, k=1, n_dummy=2, **SMALL)
    examples = [
        *examples_from_pairs(
            TO_UPPER.pairs,
            4,
            n_demos=2,
            n_dummy=2,
            rng=random.Random(0),
            task="to_upper",
        ),
        *examples_from_pairs(
            NEXT_LETTER.pairs,
            4,
            n_demos=2,
            n_dummy=2,
            rng=random.Random(0),
            task="next_letter",
        ),
    ]
    expected = extract_thetas(tiny_model, examples, layers=[2])[:, 0]
    torch.testing.assert_close(res.vectors, expected)


def test_robustness_is_deterministic(tiny_model) -> None:
    first = robustness(tiny_model, [TO_UPPER, NEXT_LETTER], layer=0, k=1, **SMALL)
    second = robustness(tiny_model, [TO_UPPER, NEXT_LETTER], layer=0, k=1, **SMALL)
    torch.testing.assert_close(first.vectors, second.vectors)
    np.testing.assert_array_equal(first.embedding, second.embedding)
    assert first.summary() == second.summary()
    other = robustness(tiny_model, [TO_UPPER, NEXT_LETTER], layer=0, k=1, n_vectors=4, seed=1)
    assert not torch.equal(first.vectors, other.vectors)


def test_robustness_picks_a_layer_and_takes_a_mapping(tiny_model) -> None:
    mapping = {
        "upper": letter_examples(4, n_demos=2, n_dummy=1, seed=0),
        "upper_again": letter_examples(5, n_demos=2, n_dummy=1, seed=1),
    }
    res = robustness(tiny_model, mapping, k=1)
    n_layers = tiny_model.cfg.n_layers
    assert res.layer_accuracy is not None and len(res.layer_accuracy) == n_layers
    assert res.layer == int(np.argmax(res.layer_accuracy))
    assert res.labels == ("upper",) * 4 + ("upper_again",) * 5


def test_robustness_errors(tiny_model) -> None:
    with pytest.raises(ValueError, match="at least 2 tasks"):
        robustness(tiny_model, [TO_UPPER], layer=0)
    with pytest.raises(ValueError, match="at least 2 tasks"):
        robustness(tiny_model, {"to_upper": letter_examples(4)}, layer=0)
    with pytest.raises(ValueError, match="at least 2 tasks"):
        robustness(tiny_model, "to_upper", layer=0)
    with pytest.raises(ValueError, match="out of range"):
        robustness(tiny_model, [TO_UPPER, NEXT_LETTER], layer=99, **SMALL)
    with pytest.raises(ValueError, match="needs"):
        robustness(tiny_model, [TO_UPPER, WORDS], layer=0, n_vectors=4, n_demos=4)


# ---- conflicting tasks on a tiny model -------------------------------------------------
CONFLICT = {"n": 6, "n_demos": 2, "n_dummy": 1, "n_dev": 4, "seed": 0}


def test_conflict_structure(tiny_model) -> None:
    res = conflicting_tasks(tiny_model, [(NEXT_LETTER, TO_UPPER)], **CONFLICT)
    assert isinstance(res, ConflictResult) and len(res.pairs) == 1
    pair = res[("next_letter", "to_upper")]
    assert (pair.task_a, pair.task_b) == ("next_letter", "to_upper")
    assert 0 <= pair.layer < tiny_model.cfg.n_layers and pair.dev_accuracy is not None
    assert len(pair.queries) == 6 and pair.regular_ids.shape == (6,)
    shared = set(dict(NEXT_LETTER.pairs)) & set(dict(TO_UPPER.pairs))
    for ex_a, ex_b in zip(pair.examples_a, pair.examples_b, strict=True):
        assert ex_a.query == ex_b.query and ex_a.query in shared
        assert ex_a.answer == dict(NEXT_LETTER.pairs)[ex_a.query]
        assert ex_b.answer == ex_a.query.upper()
        assert all(x != ex_a.query for x, _ in ex_a.demos + ex_b.demos)
        assert ex_a.n_demos == 2 and len(ex_b.dummy_queries) == 1
    assert (pair.answer_ids_a != pair.answer_ids_b).all()
    for acc in pair.summary().values():
        if isinstance(acc, float):
            assert 0.0 <= acc <= 1.0
    frame = res.to_dataframe()
    assert len(frame) == 1
    assert {"regular_accuracy_a", "conflicting_accuracy_b", "layer"} <= set(frame.columns)
    assert len(res.predictions_dataframe()) == 6


def test_conflict_runs_are_regular_and_patched_at_the_full_prompt(tiny_model) -> None:
    last = tiny_model.cfg.n_layers - 1
    pair = conflicting_tasks(tiny_model, [(NEXT_LETTER, TO_UPPER)], layer=last, **CONFLICT)[
        ("next_letter", "to_upper")
    ]
    assert pair.dev_accuracy is None and pair.layer == last
    reg = regular(tiny_model, list(pair.examples_a))
    assert pair.regular_ids.tolist() == [p.predicted_token_id for p in reg.predictions]
    # θ_B replaces the last layer's residual at the prompt's arrow: logits = unembed(norm(θ_B)).
    theta_b = extract_thetas(tiny_model, list(pair.examples_b), layers=[last])[:, 0]
    with torch.inference_mode():
        expected = unembed(tiny_model, final_norm(tiny_model, theta_b[:, None, :]))[:, 0]
    assert pair.conflicting_ids.tolist() == expected.argmax(-1).tolist()


def test_conflict_is_deterministic(tiny_model) -> None:
    a = conflicting_tasks(tiny_model, [(NEXT_LETTER, TO_UPPER)], layer=1, **CONFLICT)
    b = conflicting_tasks(tiny_model, [(NEXT_LETTER, TO_UPPER)], layer=1, **CONFLICT)
    assert a.to_dataframe().equals(b.to_dataframe())
    assert a.pairs[0].examples_a == b.pairs[0].examples_a


def test_conflict_leaves_out_inputs_with_multi_token_answers(tiny_model) -> None:
    # Scoring one next token against a several-token answer would lie: such inputs go.
    words = PairTask("word", tuple((c, c.upper() + " word") for c in "abcdefgh"))
    with pytest.raises(ValueError, match="single, different tokens"):
        conflicting_tasks(tiny_model, [(TO_UPPER, words)], **CONFLICT)


def test_conflict_errors(tiny_model) -> None:
    digits = PairTask("digit_word", (("1", "one"), ("2", "two"), ("3", "three"), ("4", "four")))
    with pytest.raises(ValueError, match="'to_upper' and 'digit_word' share no inputs"):
        conflicting_tasks(tiny_model, [(TO_UPPER, digits)], **CONFLICT)
    copy = PairTask("copy_upper", TO_UPPER.pairs)
    with pytest.raises(ValueError, match="single, different tokens"):
        conflicting_tasks(tiny_model, [(TO_UPPER, copy)], **CONFLICT)
    with pytest.raises(ValueError, match="no task pairs"):
        conflicting_tasks(tiny_model, [], **CONFLICT)


# ---- vocabulary projection -------------------------------------------------------------
def test_vocab_projection_top1_is_argmax_of_unembedded_norm(tiny_model) -> None:
    v = torch.randn(tiny_model.cfg.d_model, generator=torch.Generator().manual_seed(0))
    top = vocab_projection(tiny_model, v, k=10)
    with torch.inference_mode():
        logits = tiny_model.unembed(tiny_model.ln_final(v[None, None, :]))[0, 0]
    assert top[0].token_id == int(logits.argmax())
    assert top[0].token == tiny_model.tokenizer.decode([top[0].token_id])
    probs = [t.prob for t in top]
    assert len(top) == 10 and probs == sorted(probs, reverse=True)
    assert 0.0 < sum(probs) <= 1.0 + 1e-6
    expected = torch.softmax(logits.float(), -1).topk(10)
    assert [t.token_id for t in top] == expected.indices.tolist()


def test_vocab_projection_of_task_vectors(tiny_model) -> None:
    tvs = extract_task_vectors(tiny_model, letter_examples(2, n_demos=2, n_dummy=1))
    with pytest.raises(ValueError, match="pass layer="):
        vocab_projection(tiny_model, tvs[0], k=3)
    by_layer = vocab_projection(tiny_model, tvs[0], layer=1, k=3)
    assert by_layer == vocab_projection(tiny_model, tvs[0].tensor_at(1), k=3)
    assert by_layer == vocab_projection(tiny_model, tvs[0].at(1), k=3)
    table = vocab_table(tiny_model, {"a": tvs[0], "b": tvs[1]}, layer=1, k=3)
    assert list(table.columns) == ["task", "rank", "token", "token_id", "prob"]
    assert len(table) == 6 and table["task"].tolist() == ["a"] * 3 + ["b"] * 3
    assert table[table["task"] == "a"]["token_id"].tolist() == [t.token_id for t in by_layer]


def test_vocab_projection_errors(tiny_model) -> None:
    d_vocab = tiny_model.cfg.d_vocab
    v = torch.ones(tiny_model.cfg.d_model)
    with pytest.raises(ValueError, match=rf"k={d_vocab + 1}.*\({d_vocab} tokens\)"):
        vocab_projection(tiny_model, v, k=d_vocab + 1)
    with pytest.raises(ValueError, match="d_model"):
        vocab_projection(tiny_model, torch.ones(3), k=1)
    tv = extract_task_vectors(tiny_model, letter_examples(1, n_demos=2, n_dummy=1))[0]
    foreign = tv.__class__(
        vector=tv.vector, model_name="another", d_model=tv.d_model, n_layers=tv.n_layers
    )
    with pytest.raises(ValueError, match="another model"):
        vocab_projection(tiny_model, foreign, layer=0)
    assert len(vocab_projection(tiny_model, v, k=d_vocab)) == d_vocab


def test_analyses_take_registry_task_names(tiny_model) -> None:
    pytest.importorskip("tvlens.tasks")
    res = robustness(tiny_model, ["to_upper", "next_letter"], layer=1, k=1, **SMALL)
    assert res.tasks == ("to_upper", "next_letter") and res.vectors.shape[0] == 8
    letters = conflicting_tasks(tiny_model, [("next_letter", "to_upper")], layer=1, **CONFLICT)
    assert (letters.pairs[0].answer_ids_a != letters.pairs[0].answer_ids_b).all()
    pair = conflicting_tasks(tiny_model, [("list_last", "list_first")], layer=1, **CONFLICT)
    (result,) = pair.pairs
    assert (result.task_a, result.task_b) == ("list_last", "list_first")
    for ex_a, ex_b in zip(result.examples_a, result.examples_b, strict=True):
        assert ex_a.answer == ex_a.query.split(",")[-1]
        assert ex_b.answer == ex_b.query.split(",")[0]
