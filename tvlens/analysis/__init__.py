"""The paper's analyses as library calls.

* :func:`robustness` (Section 5.1): θ of many (S, x') draws cluster by task; t-SNE,
  within/across cosine distances, silhouette and k-NN task accuracy.
* :func:`conflicting_tasks` (Section 5.2): θ of task B patched into a prompt of task A
  makes the model answer B.
* :func:`vocab_projection` / :func:`vocab_table` (Section 6): θ read through the final
  norm and unembedding.

Nothing here imports plotly; figures live in :mod:`tvlens.report.plots`.
"""

from tvlens.analysis.conflict import (
    DEFAULT_CONFLICT_PAIRS,
    ConflictPairResult,
    ConflictResult,
    conflict_pair,
    conflicting_tasks,
)
from tvlens.analysis.geometry import (
    RobustnessResult,
    cosine_distance_matrix,
    cosine_distances_within_across,
    knn_accuracy,
    robustness,
    silhouette,
    summarize_vectors,
    tsne_embedding,
)
from tvlens.analysis.vocab import TokenProb, project_topk, vocab_projection, vocab_table

__all__ = [
    "DEFAULT_CONFLICT_PAIRS",
    "ConflictPairResult",
    "ConflictResult",
    "RobustnessResult",
    "TokenProb",
    "conflict_pair",
    "conflicting_tasks",
    "cosine_distance_matrix",
    "cosine_distances_within_across",
    "knn_accuracy",
    "project_topk",
    "robustness",
    "silhouette",
    "summarize_vectors",
    "tsne_embedding",
    "vocab_projection",
    "vocab_table",
]
