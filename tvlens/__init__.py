"""tvlens: task vectors of in-context learning on TransformerLens models.

Hendel, Geva and Globerson (2023), "In-Context Learning Creates Task Vectors", as
compositions of TransformerLens hooks that work on ``HookedTransformer`` and
``TransformerBridge``.
"""

from tvlens._example import ICLExample
from tvlens.evaluate import (
    EvaluationResult,
    LayerSweepResult,
    ModeResult,
    Prediction,
    baseline,
    evaluate,
    hypothesis,
    layer_sweep,
    regular,
)
from tvlens.extract import extract_task_vectors, extract_thetas, task_vector
from tvlens.hooks import (
    logits_at_hooks,
    resid_extractor_hooks,
    resid_hook_name,
    task_vector_hooks,
)
from tvlens.prompts import (
    DEFAULT_FORMAT,
    PAPER_FORMAT,
    PromptBatch,
    PromptFormat,
    tokenize_prompts,
)
from tvlens.protocol import HookedModel
from tvlens.tasks import PAPER_TASKS, Task, get_task, list_tasks
from tvlens.vectors import TaskVector

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_FORMAT",
    "PAPER_FORMAT",
    "PAPER_TASKS",
    "EvaluationResult",
    "HookedModel",
    "ICLExample",
    "LayerSweepResult",
    "ModeResult",
    "Prediction",
    "PromptBatch",
    "PromptFormat",
    "Task",
    "TaskVector",
    "__version__",
    "baseline",
    "evaluate",
    "extract_task_vectors",
    "extract_thetas",
    "get_task",
    "hypothesis",
    "layer_sweep",
    "list_tasks",
    "logits_at_hooks",
    "regular",
    "resid_extractor_hooks",
    "resid_hook_name",
    "task_vector",
    "task_vector_hooks",
    "tokenize_prompts",
]
