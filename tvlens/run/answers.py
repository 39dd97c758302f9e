"""``tvlens run --answers any``: the protocol on answers of any length, by generation.

The layer is chosen on the dev set by first-token accuracy (the layer sweep scoring the
answer's first token, packed and batched as for single tokens): on Gemma 3 270M it picked
the same layer as an exact-match sweep over generations on every task measured, at a
fraction of the cost (README, "Answers of any length"). Regular, Hypothesis and Baseline
then generate up to ``max_new_tokens`` tokens; exact match is the headline accuracy, with
first-token accuracy and word F1 beside it. With ``--methods tv,fv`` the function-vector
methods generate on the same test examples and are scored the same way
(:mod:`tvlens.run.methods`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tvlens._example import ICLExample
from tvlens.engine.runner import Runner
from tvlens.evaluation.answer_scoring import GenerationResult
from tvlens.evaluation.learned import LearnedVectors, learn_vectors
from tvlens.evaluation.methods import Method
from tvlens.evaluation.multi import MultiPosition, answer_thetas_on
from tvlens.evaluation.scorers import Generation, NextToken
from tvlens.evaluation.sweep import run_method_on, sweep_on
from tvlens.run.methods import (
    LEARNED_SETTINGS,
    add_function_vectors,
    add_modes,
    run_function_vectors,
)
from tvlens.run.protocol_config import ProtocolConfig


def _metrics(results: dict[str, GenerationResult], name: str) -> dict[str, float]:
    return {mode: float(getattr(r, name)) for mode, r in results.items()}


def run_generated(
    runner: Runner,
    examples: tuple[list[ICLExample], list[ICLExample], list[ICLExample]],
    cfg: ProtocolConfig,
    timed: Callable[[str, Callable[[], Any]], Any],
    vectors: dict[str, Any] | None = None,
    dummy_answers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The generated protocol on one task's ``(dev, test, baseline)`` examples.

    ``runner`` brings the model and the prompt format; ``cfg`` is the protocol
    (``answers="any"``);
    ``timed(phase, fn)`` runs and times each phase. Returns the record's results part
    (layer, accuracies, per-example generations, where they stopped); with ``"tv_multi"``
    in ``cfg.methods``, multi-position task vectors at the TV layer (each dummy query's
    answer looked up in ``dummy_answers``); with ``"tv_learned"``, learned ones
    (:func:`fit_learned`); with ``"fv"``, the function-vector methods too (and the task's FV
    in ``vectors["function_vector"]``).
    """
    dev, test, base = examples
    scorer = Generation(cfg.max_new_tokens)  # Regular and Baseline carry no patch
    patched = Generation(cfg.max_new_tokens, at="all" if cfg.patch_at == "all" else "arrow")
    sweep = timed(
        "layer_sweep",
        lambda: sweep_on(runner, Method.hypothesis(), dev, NextToken(first_token=True)),
    )
    reg = timed("regular", lambda: run_method_on(runner, Method.regular(), test, scorer))
    hyp = timed(
        "hypothesis",
        lambda: run_method_on(runner, Method.hypothesis(), test, patched, layer=sweep.best_layer),
    )
    bas = timed("baseline", lambda: run_method_on(runner, Method.baseline(), base, scorer))
    results = {"baseline": bas, "hypothesis": hyp, "regular": reg}
    out = {
        "answers": "any",
        "metric": "exact_match",
        "dev_metric": "first_token",
        "dev_accuracy_per_layer": list(sweep.accuracy),
        "best_layer": sweep.best_layer,
        "accuracy": _metrics(results, "exact_match"),
        "first_token_accuracy": _metrics(results, "first_token_accuracy"),
        "f1": _metrics(results, "f1"),
        **_example_records(reg, hyp, bas),
    }
    out = _with_answer_methods(out, runner, (dev, test), sweep.best_layer, cfg, timed,
                               dummy_answers or {})  # fmt: skip
    if "fv" not in cfg.methods:
        return {**out, "stop_reasons": stop_reasons(out)}
    fv = timed(
        "function_vectors",
        lambda: run_function_vectors(
            runner, dev, test, regular=reg, hypothesis=hyp, tv_layer=sweep.best_layer,
            seed=cfg.seed, scorer=patched, aie=cfg.aie,
        ),
    )  # fmt: skip
    if vectors is not None:
        vectors["function_vector"] = fv.function_vector
    out = add_function_vectors(out, fv)
    return {**out, "stop_reasons": stop_reasons(out)}


def _with_answer_methods(
    out: dict[str, Any],
    runner: Runner,
    sets: tuple[list[ICLExample], list[ICLExample]],
    layer: int,
    cfg: ProtocolConfig,
    timed: Callable[[str, Callable[[], Any]], Any],
    dummy_answers: Mapping[str, str],
) -> dict[str, Any]:
    """``out`` with ``tv_multi`` and ``tv_learned`` (where ``cfg.methods`` has them) at the
    TV ``layer``, every step patched, on the test examples of ``sets = (dev, test)``."""
    (dev, test), every_step = sets, Generation(cfg.max_new_tokens, at="all")
    if "tv_multi" in cfg.methods:
        multi = MultiPosition(dummy_answers)
        res = timed("tv_multi", lambda: run_method_on(runner, multi, test, every_step, layer=layer))
        out = add_modes(out, {"tv_multi": res})
    if "tv_learned" not in cfg.methods:
        return out
    learned = timed("tv_learned_fit", lambda: fit_learned(runner, dev, layer, cfg, dummy_answers))
    method = learned.method()
    res = timed("tv_learned", lambda: run_method_on(runner, method, test, every_step, layer=layer))
    out = add_modes(out, {"tv_learned": res})
    out["tv_learned"] = {
        "layer": learned.layer,
        "n_steps": int(learned.vectors.shape[0]),
        "n_train": len(dev),
        "losses": list(learned.losses),
        "init_norm": [float(x) for x in learned.init.norm(dim=-1)],
        "norm": [float(x) for x in learned.vectors.norm(dim=-1)],
    }
    return out


def fit_learned(
    runner: Runner,
    dev: list[ICLExample],
    layer: int,
    cfg: ProtocolConfig,
    dummy_answers: Mapping[str, str],
) -> LearnedVectors:
    """``--methods tv_learned``: vectors at ``layer`` fit to the model's own ICL answers on
    the dev examples (generated as Regular generates them), from the dev examples' mean
    multi-position θ_t (:data:`~tvlens.run.methods.LEARNED_SETTINGS`). Test never seen."""
    icl = run_method_on(runner, Method.regular(), dev, Generation(cfg.max_new_tokens))
    targets = [list(p.generated_token_ids) for p in icl.predictions]
    init = answer_thetas_on(runner, dev, [layer], dummy_answers)[:, 0].mean(0)
    s = LEARNED_SETTINGS
    return learn_vectors(
        runner, dev, layer, targets, init=init, steps=s["steps"], lr=s["lr"], seed=cfg.seed,
        batch_size=s["batch_size"],
    )  # fmt: skip


STOP_KINDS = ("separator", "early", "ran_on", "eos")
"""Where a generated answer stopped, one kind per example (:func:`stop_reasons`)."""


def stop_kind(generated: Mapping[str, Any], answer: str) -> str:
    """``"ran_on"`` (``max_new_tokens`` reached with no separator), ``"early"`` (stopped
    before the answer was whole: a proper prefix of it, or nothing), ``"separator"`` or
    ``"eos"`` (stopped there, after a whole answer or a wrong one)."""
    if generated["stop_reason"] == "length":
        return "ran_on"
    predicted, want = generated["predicted"], answer.strip()
    if predicted != want and want.startswith(predicted):
        return "early"
    return "separator" if generated["stop_reason"] == "stop" else "eos"


def stop_reasons(record: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per mode, the share of its examples of each :data:`STOP_KINDS` kind (summing to 1),
    from the record's per-example generations (Baseline: its own queries)."""
    counts: dict[str, dict[str, int]] = {}
    rows = [*record["test_examples"], *record["baseline_examples"]]
    for row in rows:
        for mode, gen in row.items():
            if isinstance(gen, Mapping) and "stop_reason" in gen:
                kinds = counts.setdefault(mode, dict.fromkeys(STOP_KINDS, 0))
                kinds[stop_kind(gen, row["answer"])] += 1
    return {
        mode: {k: v / sum(kinds.values()) for k, v in kinds.items()}
        for mode, kinds in counts.items()
    }


def _example_records(
    reg: GenerationResult, hyp: GenerationResult, bas: GenerationResult
) -> dict[str, Any]:
    """``test_examples`` (Regular and Hypothesis per row) and ``baseline_examples``."""
    return {
        "test_examples": [
            {
                "demos": [list(d) for d in r.demos],
                "query": r.query,
                "answer": r.answer,
                "dummy_queries": list(h.dummy_queries),
                "answer_token_ids": list(r.answer_token_ids),
                "regular": r.to_record(),
                "hypothesis": h.to_record(),
            }
            for r, h in zip(reg.predictions, hyp.predictions, strict=True)
        ],
        "baseline_examples": [
            {
                "query": p.query,
                "answer": p.answer,
                "answer_token_ids": list(p.answer_token_ids),
                "baseline": p.to_record(),
            }
            for p in bas.predictions
        ],
    }
