"""Steerable versus decodable: at every layer L, does θ_L steer, can it be read, and does it
tell tasks apart?

Per task, on the same test examples (one prompt format):

* **patch accuracy**: the paper's Hypothesis with θ_L patched at layer L (the sweep on the
  test examples; the dev sweep, which chooses the paper's L, is recorded beside it);
* **answer rank**: the logit lens (final norm, then unembedding) of the residual at the
  arrow of each ``S + x' ->`` prompt θ is read from: the rank of x''s own answer (its first
  token), so 0 means the layer already decodes the answer of the prompt it was read from;
* **task-word rank**: the logit lens of θ_L itself (the mean over dummy queries, what is
  patched): the best rank of a word naming the task (:mod:`tvlens.studies.task_words`);
* **probe accuracy** (across tasks): a logistic-regression probe trained on the dev
  examples' θ_L of every task, scored on the test examples' θ_L (disjoint queries), telling
  which task θ_L came from.

Example:
    >>> doc = layer_profile(model, ["en_fr", "antonyms", "to_upper"])  # doctest: +SKIP
    >>> doc["summary"]["patch_accuracy"]  # mean over tasks, one value per layer
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from tvlens.analysis.vocab import lens_logits
from tvlens.engine.runner import Runner
from tvlens.evaluation.methods import Method
from tvlens.evaluation.scorers import NextToken
from tvlens.evaluation.sweep import sweep_on
from tvlens.prompts import PromptFormat, dummy_prompts, get_format, require_format
from tvlens.protocol import HookedModel
from tvlens.run.protocol import model_meta
from tvlens.studies.common import StudySettings, TooFewPairsError, shared_examples
from tvlens.studies.folder import Study, TaskOutput, run_in_memory, run_study
from tvlens.studies.task_words import task_word_ids
from tvlens.tokenization import answer_token_ids

#: A rank below this counts as decodable (the answer's; the task words' use ``10 * TOP_K``).
TOP_K = 10


@torch.inference_mode()
def lens_ranks(
    model: HookedModel, resid: Float[Tensor, "n d_model"], token_ids: Int[Tensor, "n m"]
) -> Int[Tensor, "n m"]:
    """The rank (0 = the top token) of each of ``token_ids[i]`` in the logit lens of
    ``resid[i]`` (the model's final norm, then its unembedding), in rows of 64."""
    out = []
    for rows, ids in zip(resid.split(64), token_ids.split(64), strict=True):
        logits = lens_logits(model, rows)
        chosen = logits.gather(1, ids.to(logits.device))
        out.append((logits[:, None, :] > chosen[:, :, None]).sum(-1).cpu())
    return torch.cat(out)


def _thetas(runner: Runner, examples: Sequence[Any]) -> tuple[Tensor, Tensor]:
    """Per dummy prompt the residual at every layer, and θ (their mean per example)."""
    n_dummy = len(examples[0].dummy_queries)
    prompts = dummy_prompts(examples, runner.fmt)
    resid = runner.resid_at_arrows(prompts, list(range(runner.n_layers)), group_size=n_dummy)
    return resid, resid.unflatten(0, (len(examples), n_dummy)).mean(1)


def layer_profile_task(
    model: HookedModel,
    task: str,
    settings: StudySettings | None = None,
    fmt: str | PromptFormat = "arrow",
) -> TaskOutput:
    """One task's record (see the module docstring), and its θ as a safetensors file
    ``<task>.thetas.safetensors`` (dev and test, every layer, fp16) for the probe."""
    from safetensors.torch import save

    settings = settings or StudySettings()
    f = get_format(fmt) if isinstance(fmt, str) else require_format(fmt)
    try:
        ex = shared_examples(model, task, [f], settings)
    except TooFewPairsError as err:
        return {"status": "skipped", "reason": str(err)}, ()
    runner = Runner(model, settings.run, fmt=f)
    n_layers, tok = runner.n_layers, model.tokenizer
    _, dev_theta = _thetas(runner, ex.dev)
    per_dummy, test_theta = _thetas(runner, ex.test)
    dev_sweep = sweep_on(runner, Method.hypothesis(dev_theta), ex.dev, NextToken())
    test_sweep = sweep_on(runner, Method.hypothesis(test_theta), ex.test, NextToken())
    # the answer of each dummy prompt, where the task knows it (its first token)
    dummies = [d for e in ex.test for d in e.dummy_queries]
    known = [i for i, d in enumerate(dummies) if d in ex.answers]
    ids = torch.tensor([answer_token_ids(tok, ex.answers[dummies[i]], f)[0] for i in known])
    record: dict[str, Any] = {
        "status": "ok",
        "category": ex.category,
        "n_pairs": ex.n_pairs,
        "n_kept": ex.n_kept,
        "best_layer": int(dev_sweep.best_layer),
        "dev_accuracy_per_layer": [float(a) for a in dev_sweep.accuracy],
        "patch_accuracy": [float(a) for a in test_sweep.accuracy],
        "n_answer_prompts": len(known),
    }
    if known:
        resid = per_dummy[known].transpose(0, 1).reshape(-1, per_dummy.shape[-1])
        ranks = lens_ranks(model, resid, ids.repeat(n_layers)[:, None])[:, 0]
        ranks = ranks.view(n_layers, len(known)).float()
        record["answer_top1"] = (ranks == 0).float().mean(1).tolist()
        record["answer_topk"] = (ranks < TOP_K).float().mean(1).tolist()
        record["answer_median_rank"] = ranks.median(1).values.tolist()
    words = task_word_ids(ex.task, tok)
    record["task_words"] = words
    if words:
        flat = test_theta.transpose(0, 1).reshape(-1, test_theta.shape[-1])
        wids = torch.tensor(list(words.values()))[None].expand(flat.shape[0], -1)
        best = lens_ranks(model, flat, wids).min(1).values.view(n_layers, -1).float()
        record["task_word_topk"] = (best < 10 * TOP_K).float().mean(1).tolist()
        record["task_word_median_rank"] = best.median(1).values.tolist()
    blob = save({"dev": dev_theta.half().contiguous(), "test": test_theta.half().contiguous()})
    return record, [(f"{ex.task}.thetas.safetensors", blob)]


def probe_accuracy(train: dict[str, Tensor], test: dict[str, Tensor], seed: int = 0) -> list[float]:
    """Per layer, the held-out accuracy of a logistic-regression probe telling tasks apart.

    Args:
        train: ``{task: θ [n, n_layers, d_model]}`` to fit on (the dev examples).
        test: the same tasks' θ to score on (the test examples).
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    names = list(train)
    if len(names) < 2 or set(test) != set(names):
        raise ValueError(f"a probe needs >= 2 tasks with θ to train and test, got {names}")
    y_tr = np.concatenate([[i] * len(train[t]) for i, t in enumerate(names)])
    y_te = np.concatenate([[i] * len(test[t]) for i, t in enumerate(names)])
    n_layers = next(iter(train.values())).shape[1]
    out = []
    for layer in range(n_layers):
        x_tr = torch.cat([train[t][:, layer] for t in names]).float().numpy()
        x_te = torch.cat([test[t][:, layer] for t in names]).float().numpy()
        lr = LogisticRegression(max_iter=2000, random_state=seed)
        probe = make_pipeline(StandardScaler(), lr)
        probe.fit(x_tr, y_tr)
        out.append(float(probe.score(x_te, y_te)))
    return out


def _probe(tasks: dict[str, Any], folder: Path | None, mem: dict[str, Any]) -> dict[str, Any]:
    from safetensors.torch import load

    ok = [k for k, t in tasks.items() if t.get("status") == "ok"]
    if len(ok) < 2:
        return {"probe": None}
    thetas = {}
    for k in ok:
        name = (tasks[k].get("files") or [f"{k}.thetas.safetensors"])[0]
        raw = mem[k] if folder is None else (folder / name).read_bytes()
        thetas[k] = load(raw)
    acc = probe_accuracy(
        {k: v["dev"] for k, v in thetas.items()}, {k: v["test"] for k, v in thetas.items()}
    )
    return {"probe": {"accuracy_per_layer": acc, "chance": 1 / len(ok), "tasks": ok}}


def layers_study(
    model: HookedModel,
    settings: StudySettings | None = None,
    fmt: str | PromptFormat = "arrow",
    *,
    _mem: dict[str, Any] | None = None,
) -> Study:
    """The layers study as a :class:`~tvlens.studies.folder.Study` (for ``run_study``)."""
    from tvlens.studies.layers_report import layer_averages, layers_figures, layers_summary

    settings = settings or StudySettings()
    f = get_format(fmt) if isinstance(fmt, str) else require_format(fmt)
    meta = {
        **model_meta(model),
        **settings.comparable(),
        "format": f.to_dict(),
        "top_k": TOP_K,
        "execution": settings.execution(),
    }

    def compute(task: str) -> TaskOutput:
        record, files = layer_profile_task(model, task, settings, f)
        if _mem is not None:
            _mem[task] = files[0][1] if files else b""
        return record, files

    def finish(tasks: dict[str, Any], folder: Path | None) -> dict[str, Any]:
        probe = _probe(tasks, folder, _mem or {})
        return {**probe, "summary": layer_averages({"tasks": tasks, **probe})}

    keys = list(settings.tasks)
    return Study("layers", meta, keys, compute, layers_summary, layers_figures, finish)


def layer_profile(
    model: HookedModel,
    tasks: Sequence[str],
    fmt: str | PromptFormat = "arrow",
    *,
    out: str | None = None,
    progress: bool = False,
    **sizes: Any,
) -> dict[str, Any]:
    """Steerable vs decodable, layer by layer, on ``tasks`` (see the module docstring).

    With ``out`` the study is written there (``layers.json``, ``summary.md``,
    ``report.html``, and each task's θ; locked and resumable, as ``tvlens layers`` does);
    without it, it runs in memory. ``sizes`` are
    :class:`~tvlens.studies.common.StudySettings` fields.

    Returns:
        ``{"meta", "tasks": {task: record}, "probe", "summary"}``; ``summary`` holds each
        curve averaged over tasks, one value per layer.
    """
    mem: dict[str, Any] = {}
    study = layers_study(model, StudySettings(tasks=tuple(tasks), **sizes), fmt, _mem=mem)
    if out is not None:
        return run_study(study, out, progress=progress)
    return run_in_memory(study)
