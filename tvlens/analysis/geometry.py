"""Robustness of task vectors (the paper's Section 5.1): θ clusters by task.

Many θ per task, each from a different demonstration set S and dummy query x', are
compared in θ-space: a 2-D t-SNE map, within- and across-task cosine distances, the
silhouette score and a leave-one-out k-NN task accuracy. The scores are pure functions on
arrays, so they can be used (and tested) on any vectors.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from tvlens._compat import model_name
from tvlens._example import ICLExample
from tvlens.analysis._sampling import (
    examples_from_pairs,
    resolve_task,
    task_input_space,
    task_name,
    task_pairs,
)
from tvlens.engine.runner import RunArg, Runner
from tvlens.evaluation.extract import thetas_on
from tvlens.evaluation.methods import Method
from tvlens.evaluation.scorers import NextToken
from tvlens.evaluation.sweep import sweep_on
from tvlens.hooks import check_layer
from tvlens.prompts import PromptFormat
from tvlens.protocol import HookedModel

Vectors = Float[Tensor, "n d"] | Float[np.ndarray, "n d"]

DEFAULT_K = 5
"""Neighbours in :func:`knn_accuracy` as used by :func:`robustness` (majority vote)."""


# ---- pure scores on arrays -------------------------------------------------------------
def _as_array(vectors: Vectors) -> np.ndarray:
    if isinstance(vectors, Tensor):
        return vectors.detach().cpu().double().numpy()
    return np.asarray(vectors, dtype=np.float64)


def _check_labels(n: int, labels: Sequence[str]) -> np.ndarray:
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} vectors; pass one label per vector")
    return np.asarray([str(x) for x in labels], dtype=object)


def cosine_distance_matrix(vectors: Vectors) -> Float[np.ndarray, "n n"]:
    """Pairwise cosine distances ``1 - cos(u, v)``, in ``[0, 2]``, zero on the diagonal.

    Raises:
        ValueError: if a vector is all zeros (its direction is undefined).
    """
    x = _as_array(vectors)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if bool((norms == 0).any()):
        raise ValueError("a vector is all zeros; cosine distance needs non-zero vectors")
    unit = x / norms
    dist = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    return dist


def cosine_distances_within_across(
    vectors: Vectors, labels: Sequence[str]
) -> tuple[Float[np.ndarray, " n_within"], Float[np.ndarray, " n_across"]]:
    """Cosine distances of all unordered pairs, split into same-task and cross-task pairs.

    Returns:
        ``(within, across)``: distances of pairs with equal labels, then with different
        labels, each pair counted once.

    Example:
        >>> within, across = cosine_distances_within_across(
        ...     np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), ["a", "a", "b"])
        >>> within.tolist(), across.tolist()
        ([0.0], [1.0, 1.0])
    """
    dist = cosine_distance_matrix(vectors)
    lab = _check_labels(dist.shape[0], labels)
    i, j = np.triu_indices(dist.shape[0], k=1)
    same = lab[i] == lab[j]
    pair_dist = dist[i, j]
    return pair_dist[same], pair_dist[~same]


def knn_accuracy(vectors: Vectors, labels: Sequence[str], k: int = DEFAULT_K) -> float:
    """Leave-one-out k-nearest-neighbour task accuracy under cosine distance.

    Each vector is labelled by a majority vote of its ``k`` nearest other vectors; a tied
    vote goes to the tied label with the nearest member. The score is the fraction of
    vectors whose vote equals their own label.

    Raises:
        ValueError: unless ``1 <= k <= n - 1``.
    """
    dist = cosine_distance_matrix(vectors)
    n = dist.shape[0]
    lab = _check_labels(n, labels)
    if not 1 <= k <= n - 1:
        raise ValueError(f"k={k} neighbours needs 1 <= k <= n - 1 = {n - 1} ({n} vectors)")
    np.fill_diagonal(dist, np.inf)
    correct = 0
    for row in range(n):
        nearest = np.argsort(dist[row], kind="stable")[:k]
        votes: dict[str, int] = {}
        for idx in nearest:
            votes[lab[idx]] = votes.get(lab[idx], 0) + 1
        top = max(votes.values())
        pred = next(lab[idx] for idx in nearest if votes[lab[idx]] == top)
        correct += int(pred == lab[row])
    return correct / n


def silhouette(vectors: Vectors, labels: Sequence[str]) -> float:
    """Mean silhouette coefficient under cosine distance (scikit-learn), in ``[-1, 1]``.

    Raises:
        ValueError: unless there are at least 2 labels and fewer labels than vectors.
    """
    from sklearn.metrics import silhouette_score

    x = _as_array(vectors)
    lab = _check_labels(x.shape[0], labels)
    n_labels = len(set(lab.tolist()))
    if not 2 <= n_labels <= x.shape[0] - 1:
        raise ValueError(
            f"silhouette needs 2 <= number of labels <= n - 1; got {n_labels} labels "
            f"for {x.shape[0]} vectors"
        )
    return float(silhouette_score(x, lab, metric="cosine"))


def tsne_embedding(
    vectors: Vectors, *, perplexity: float = 30.0, seed: int = 0
) -> Float[np.ndarray, "n 2"]:
    """A 2-D t-SNE map under cosine distance, PCA-initialised, with ``random_state=seed``.

    ``perplexity`` is clipped to ``n - 1`` (scikit-learn needs it below the sample count).
    """
    from sklearn.manifold import TSNE

    x = _as_array(vectors)
    n = x.shape[0]
    if n < 3:
        raise ValueError(f"t-SNE needs at least 3 vectors, got {n}")
    tsne = TSNE(
        n_components=2,
        perplexity=min(float(perplexity), float(n - 1)),
        metric="cosine",
        init="pca",
        random_state=seed,
    )
    return np.asarray(tsne.fit_transform(x), dtype=np.float64)


# ---- the result ------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class RobustnessResult:
    """Task vectors of several tasks at one layer, and how well they separate by task.

    Attributes:
        layer: the layer θ was read at.
        vectors: ``[n, d_model]`` θ, one per (S, x') draw.
        labels: the task of each vector.
        embedding: ``[n, 2]`` t-SNE coordinates.
        within: cosine distances of same-task pairs.
        across: cosine distances of cross-task pairs.
        silhouette: silhouette score (cosine) of the task labelling.
        knn_accuracy: leave-one-out k-NN task accuracy (cosine, ``knn_k`` neighbours).
        knn_k: neighbours used by ``knn_accuracy``.
        model_name: the model's name.
        layer_accuracy: with an automatic layer, the per-layer Hypothesis accuracy
            (mean over tasks) it was chosen by; ``None`` when the layer was given.
    """

    layer: int
    vectors: Float[Tensor, "n d_model"]
    labels: tuple[str, ...]
    embedding: Float[np.ndarray, "n 2"]
    within: Float[np.ndarray, " n_within"]
    across: Float[np.ndarray, " n_across"]
    silhouette: float
    knn_accuracy: float
    knn_k: int
    model_name: str = ""
    layer_accuracy: tuple[float, ...] | None = None

    @property
    def tasks(self) -> tuple[str, ...]:
        """The distinct tasks, in order of first appearance."""
        return tuple(dict.fromkeys(self.labels))

    @property
    def mean_within(self) -> float:
        """Mean cosine distance between θ of the same task."""
        return float(self.within.mean()) if self.within.size else float("nan")

    @property
    def mean_across(self) -> float:
        """Mean cosine distance between θ of different tasks."""
        return float(self.across.mean()) if self.across.size else float("nan")

    def summary(self) -> dict[str, Any]:
        """The numeric summary as a JSON-ready dict."""
        return {
            "layer": self.layer,
            "n_vectors": len(self.labels),
            "tasks": list(self.tasks),
            "mean_within": self.mean_within,
            "mean_across": self.mean_across,
            "silhouette": self.silhouette,
            "knn_accuracy": self.knn_accuracy,
            "knn_k": self.knn_k,
        }

    def to_dataframe(self) -> Any:
        """One row per vector: ``task``, ``tsne_x``, ``tsne_y``."""
        import pandas as pd

        return pd.DataFrame(
            {
                "task": list(self.labels),
                "tsne_x": self.embedding[:, 0],
                "tsne_y": self.embedding[:, 1],
            }
        )


def summarize_vectors(
    vectors: Vectors,
    labels: Sequence[str],
    *,
    layer: int,
    k: int = DEFAULT_K,
    perplexity: float = 30.0,
    seed: int = 0,
    model_name: str = "",
    layer_accuracy: tuple[float, ...] | None = None,
) -> RobustnessResult:
    """All robustness scores of given vectors (what :func:`robustness` returns).

    Raises:
        ValueError: with fewer than 2 tasks.
    """
    if len(set(labels)) < 2:
        raise ValueError(f"robustness needs at least 2 tasks to compare, got {sorted(set(labels))}")
    tensor = vectors.detach().cpu().float() if isinstance(vectors, Tensor) else None
    if tensor is None:
        tensor = torch.as_tensor(_as_array(vectors), dtype=torch.float32)
    within, across = cosine_distances_within_across(tensor, labels)
    return RobustnessResult(
        layer=layer,
        vectors=tensor,
        labels=tuple(str(x) for x in labels),
        embedding=tsne_embedding(tensor, perplexity=perplexity, seed=seed),
        within=within,
        across=across,
        silhouette=silhouette(tensor, labels),
        knn_accuracy=knn_accuracy(tensor, labels, k),
        knn_k=k,
        model_name=model_name,
        layer_accuracy=layer_accuracy,
    )


# ---- the experiment --------------------------------------------------------------------
TaskSpec = Sequence[Any] | Mapping[str, Sequence[ICLExample]]


def _examples_by_task(
    model: HookedModel,
    tasks: TaskSpec,
    *,
    n_vectors: int,
    n_demos: int,
    n_dummy: int,
    seed: int,
    fmt: PromptFormat,
) -> dict[str, list[ICLExample]]:
    """The examples of each task of :func:`robustness` (checked: 2 tasks or more, 2 vectors
    per task or more)."""
    if isinstance(tasks, str) or len(tasks) < 2:
        raise ValueError("robustness needs at least 2 tasks to compare; pass 2 or more")
    if n_vectors < 2:
        raise ValueError(f"n_vectors must be >= 2 per task, got {n_vectors}")
    if isinstance(tasks, Mapping):
        return {str(name): list(exs) for name, exs in tasks.items()}
    out: dict[str, list[ICLExample]] = {}
    for spec in tasks:
        task = resolve_task(spec, model, fmt)
        name = task_name(task)
        if name in out:
            raise ValueError(f"task {name!r} is listed twice")
        if callable(getattr(task, "sample", None)):
            exs = task.sample(n_vectors, n_demos=n_demos, n_dummy=n_dummy, seed=seed)
        else:
            pairs = task_pairs(task)
            exs = examples_from_pairs(
                pairs,
                n_vectors,
                n_demos=n_demos,
                n_dummy=n_dummy,
                rng=random.Random(seed),
                task=name,
                dummy_space=task_input_space(task, pairs),
            )
        out[name] = list(exs)
    return out


def _thetas_at_layer(
    runner: Runner, by_task: Mapping[str, list[ICLExample]], layer: int | None
) -> tuple[int, Tensor, tuple[float, ...] | None]:
    """``(layer, θ of every example there, Hypothesis accuracy per layer or None)``.

    ``layer=None`` chooses the layer with the best Hypothesis accuracy (mean over tasks) on
    these examples, reusing the θ extracted at every layer.
    """
    examples = [ex for exs in by_task.values() for ex in exs]
    if layer is not None:
        layer = check_layer(layer, runner.n_layers)
        return layer, thetas_on(runner, examples, [layer])[:, 0], None
    thetas = thetas_on(runner, examples)
    correct = sweep_on(runner, Method.hypothesis(thetas), examples, NextToken()).correct
    label_arr = np.asarray([name for name, exs in by_task.items() for _ in exs], dtype=object)
    per_task = np.stack([correct.float().numpy()[label_arr == name].mean(0) for name in by_task])
    best = int(np.argmax(per_task.mean(0)))
    return best, thetas[:, best], tuple(float(a) for a in per_task.mean(0))


def robustness(
    model: HookedModel,
    tasks: TaskSpec,
    *,
    n_vectors: int = 50,
    n_demos: int = 4,
    n_dummy: int = 1,
    layer: int | None = None,
    k: int = DEFAULT_K,
    perplexity: float = 30.0,
    seed: int = 0,
    fmt: PromptFormat | None = None,
    run: RunArg = None,
) -> RobustnessResult:
    """Many θ per task, each from its own S and x', and how well they cluster by task.

    Args:
        model: a ``HookedTransformer`` or ``TransformerBridge``.
        tasks: task names (looked up in :mod:`tvlens.tasks` and kept to single-token
            answers for ``model``), task objects (``.name`` and
            ``.sample(n, n_demos=, n_dummy=, seed=)`` or ``.pairs``), or a mapping
            ``name -> list[ICLExample]`` (then ``n_vectors``, ``n_demos`` and ``n_dummy``
            are not used).
        n_vectors: θ per task, one per sampled example.
        n_demos: demonstrations per θ.
        n_dummy: dummy queries per θ (θ is their mean); 1 as in the paper.
        layer: the layer θ is read at; ``None`` chooses the layer with the best
            Hypothesis accuracy (mean over tasks) on these same examples, reusing the
            extracted θ (a few extra zero-shot passes).
        k: neighbours of the leave-one-out k-NN accuracy (majority vote, cosine).
        perplexity: t-SNE perplexity (clipped below the number of vectors).
        seed: seeds sampling and t-SNE.
        run: a :class:`~tvlens.engine.config.RunConfig` or a
            :class:`~tvlens.engine.runner.Runner` of ``model`` (batching, sink token, packing).

    Raises:
        ValueError: with fewer than 2 tasks, or ``k`` not below the number of vectors.

    Example:
        >>> res = robustness(model, ["to_upper", "en_fr", "country_capital"])  # doctest: +SKIP
        >>> res.summary()["knn_accuracy"], res.mean_within < res.mean_across  # doctest: +SKIP
        (1.0, True)
    """
    runner = Runner.bind(model, run, fmt)
    by_task = _examples_by_task(
        model, tasks, n_vectors=n_vectors, n_demos=n_demos, n_dummy=n_dummy, seed=seed,
        fmt=runner.fmt,
    )  # fmt: skip
    layer, vectors, layer_accuracy = _thetas_at_layer(runner, by_task, layer)
    return summarize_vectors(
        vectors,
        [name for name, exs in by_task.items() for _ in exs],
        layer=layer,
        k=k,
        perplexity=perplexity,
        seed=seed,
        model_name=model_name(model),
        layer_accuracy=layer_accuracy,
    )
