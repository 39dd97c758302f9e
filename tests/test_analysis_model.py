"""The paper's analyses on the embedded default model (Gemma 3 270M): marked ``model``.

They need ``tvlens.models`` and ``tvlens.tasks`` and the model's PyPI package, and take a
minute or two on a CPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tvlens.analysis import conflicting_tasks, robustness

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def model() -> Iterator[Any]:
    """The default model, loaded once for this module (skips what is not installed)."""
    models = pytest.importorskip("tvlens.models")
    pytest.importorskip("tvlens.tasks")
    try:
        loaded = models.load_model(device="cpu")
    except ImportError as err:  # the model's package is not installed; the message says which
        pytest.skip(str(err))
    yield loaded


def test_task_vectors_of_distinct_tasks_separate(model: Any) -> None:
    # One algorithmic, one translation and one knowledge task.
    res = robustness(
        model, ["to_upper", "en_fr", "country_capital"], n_vectors=10, n_demos=4, k=5, seed=0
    )
    assert res.vectors.shape == (30, model.cfg.d_model)
    assert res.knn_accuracy >= 0.9, res.summary()
    assert res.mean_within < res.mean_across, res.summary()


def test_task_vector_of_b_overrides_demos_of_a(model: Any) -> None:
    res = conflicting_tasks(model, [("next_letter", "to_upper")], n=30, n_dev=20, seed=0)
    pair = res[("next_letter", "to_upper")]
    assert pair.conflicting_accuracy_b > pair.conflicting_accuracy_a, pair.summary()
    assert pair.regular_accuracy_a > pair.regular_accuracy_b, pair.summary()
