"""tvlens: task vectors of in-context learning on TransformerLens models.

Hendel, Geva and Globerson (2023), "In-Context Learning Creates Task Vectors", as
compositions of TransformerLens hooks that work on ``HookedTransformer`` and
``TransformerBridge``.
"""

from tvlens._example import ICLExample
from tvlens._version import __version__
from tvlens.engine.config import RunConfig
from tvlens.engine.decoding import Generations
from tvlens.engine.fused_hooks import fuse_hooks
from tvlens.engine.patches import ArrowActivations, Patches, PromptPatches, StepPatches
from tvlens.engine.runner import Runner
from tvlens.evaluation.answer_scoring import GenerationResult
from tvlens.evaluation.extract import extract_task_vectors, extract_thetas, task_vector
from tvlens.evaluation.generation import (
    generate_baseline,
    generate_hypothesis,
    generate_regular,
)
from tvlens.evaluation.learned import LearnedVectors, learn_vectors
from tvlens.evaluation.methods import Method, MethodLike
from tvlens.evaluation.modes import baseline, evaluate, hypothesis, regular
from tvlens.evaluation.multi import MultiPosition, answer_thetas_on
from tvlens.evaluation.results import EvaluationResult, LayerSweepResult, ModeResult, Prediction
from tvlens.evaluation.scorers import Generation, NextToken
from tvlens.evaluation.sweep import layer_sweep, run_method, sweep
from tvlens.fv.heads import HeadActivations, mean_head_activations, shuffle_labels
from tvlens.fv.indirect_effect import IndirectEffects, indirect_effects
from tvlens.fv.methods import MethodComparison, compare_methods
from tvlens.fv.vector import FunctionVector, build_function_vector
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
from tvlens.run.results_json import Results, read_results
from tvlens.run.task_record import ExampleRow, TaskRecord
from tvlens.tasks import PAPER_TASKS, Task, get_task, list_tasks
from tvlens.vectors import TaskVector

__all__ = [
    "DEFAULT_FORMAT",
    "PAPER_FORMAT",
    "PAPER_TASKS",
    "ArrowActivations",
    "EvaluationResult",
    "ExampleRow",
    "FunctionVector",
    "Generation",
    "GenerationResult",
    "Generations",
    "HeadActivations",
    "HookedModel",
    "ICLExample",
    "IndirectEffects",
    "LayerSweepResult",
    "LearnedVectors",
    "Method",
    "MethodComparison",
    "MethodLike",
    "ModeResult",
    "MultiPosition",
    "NextToken",
    "Patches",
    "Prediction",
    "PromptBatch",
    "PromptFormat",
    "PromptPatches",
    "Results",
    "RunConfig",
    "Runner",
    "StepPatches",
    "Task",
    "TaskRecord",
    "TaskVector",
    "__version__",
    "answer_thetas_on",
    "baseline",
    "build_function_vector",
    "compare_methods",
    "evaluate",
    "extract_task_vectors",
    "extract_thetas",
    "fuse_hooks",
    "generate_baseline",
    "generate_hypothesis",
    "generate_regular",
    "get_task",
    "hypothesis",
    "indirect_effects",
    "layer_sweep",
    "learn_vectors",
    "list_tasks",
    "logits_at_hooks",
    "mean_head_activations",
    "read_results",
    "regular",
    "resid_extractor_hooks",
    "resid_hook_name",
    "run_method",
    "shuffle_labels",
    "sweep",
    "task_vector",
    "task_vector_hooks",
    "tokenize_prompts",
]
