"""``tvlens run --methods tv,fv``: function vectors beside task vectors in one run.

With ``"fv"`` in :attr:`~tvlens.run.protocol.ProtocolConfig.methods`, each task runs
:func:`~tvlens.fv.methods.compare_methods` on the protocol's own dev and test examples after
the task-vector protocol, reusing its Regular and Hypothesis predictions and its layer, so
every method is scored on the same test queries. The task's record then holds:

* ``accuracy`` (and so ``counts``, ``accuracy_ci``, the summary's means and intervals):
  the five modes of :data:`~tvlens.run.names.FV_MODES` beside ``baseline`` /
  ``hypothesis`` / ``regular``
  (with ``--answers any``: exact match of generated answers, and each method's
  ``first_token_accuracy`` and ``f1`` beside it);
* ``test_examples``: one prediction per method per row (the ``shuffled`` and
  ``fv_shuffled`` rows ran on the same query with its demonstrations' labels shuffled);
* ``fv``: each method's layer, its dev accuracy per layer, the function vector's
  provenance (heads, k, layer, norm), the AIE of every head with the top heads and what it
  was computed from (the clean examples of the mean head activations, the shuffled-label
  examples they were patched into, the answer token of each: enough to recompute it with
  plain hooks, ``tests/test_independent_oracles.py``), the dev accuracy of each candidate
  k, the phase times, and ``file``: the vector itself is written beside results.json as
  ``<task>.fv.safetensors`` + ``<task>.fv.json``.

With ``--answers any`` every method generates its answers and is scored as the task
vectors are (:class:`~tvlens.evaluation.scorers.Generation`: exact match, first token, F1),
on the same test examples; each method's layer, the head activations and the AIE score the
answer's first token on dev, as the TV layer is chosen under ``--answers any``.

The settings (:data:`FV_SETTINGS`: candidate ks, shuffled-label prompts of the AIE, the
definition of a head's output) are the README's and are recorded in ``meta.fv``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tvlens._example import ICLExample
from tvlens.engine.runner import Runner
from tvlens.evaluation.scorers import Generation
from tvlens.fv.comparison import MethodComparison, Scored
from tvlens.fv.indirect_effect import AIEMethod
from tvlens.fv.methods import compare_methods
from tvlens.fv.vector import DEFAULT_KS, FunctionVector
from tvlens.run.files import write_outputs
from tvlens.run.names import FV_MODES, PROTOCOL_METHODS

FV_SETTINGS: dict[str, Any] = {"k": list(DEFAULT_KS), "n_corrupted": 25, "head_output": "residual"}
"""How ``--methods tv,fv`` builds function vectors (recorded in ``meta.fv``)."""

LEARNED_SETTINGS: dict[str, Any] = {"steps": 50, "lr": 0.05, "batch_size": 16, "init": "tv_multi"}
"""How ``--methods tv,tv_learned`` fits its vectors (recorded in ``meta.tv_learned``): Adam
steps, the learning rate relative to the init's scale, dev examples per mini-batch, and the
init (the dev examples' mean multi-position θ_t, :mod:`tvlens.evaluation.multi`)."""


def check_methods(methods: Any) -> list[str]:
    """``methods`` as a list in :data:`~tvlens.run.names.PROTOCOL_METHODS` order.

    Raises:
        TypeError: not a list or tuple of strings (a plain ``"tv,fv"`` is refused).
        ValueError: an unknown or repeated method, or no ``"tv"``. (``"fv"`` runs under
            either ``answers``; with ``"any"`` it is scored by generation.)
    """
    if not isinstance(methods, (list, tuple)) or not all(isinstance(m, str) for m in methods):
        hint = f"; did you mean {methods.split(',')!r}?" if isinstance(methods, str) else ""
        raise TypeError(f"methods must be a list of method names, got {methods!r}{hint}")
    unknown = [m for m in methods if m not in PROTOCOL_METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {list(PROTOCOL_METHODS)}")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods {list(methods)} name one method twice")
    if "tv" not in methods:
        raise ValueError(
            "methods must include 'tv': function vectors are compared with the task-vector "
            "protocol's Regular and Hypothesis on the same test examples; pass ['tv', 'fv']"
        )
    return [m for m in PROTOCOL_METHODS if m in methods]


def run_function_vectors(
    runner: Runner,
    dev: Sequence[ICLExample],
    test: Sequence[ICLExample],
    *,
    regular: Scored,
    hypothesis: Scored,
    tv_layer: int,
    seed: int,
    scorer: Generation | None = None,
    aie: AIEMethod = "exact",
) -> MethodComparison:
    """:func:`compare_methods` on the protocol's examples, reusing its Regular / Hypothesis;
    ``runner`` brings the model and the prompt format, ``aie`` ranks the heads.

    ``scorer=None`` scores the next token (``--answers single``); a
    :class:`~tvlens.evaluation.scorers.Generation` scores generated answers
    (``--answers any``), ``regular`` and ``hypothesis`` being generated as well.
    """
    return compare_methods(
        runner.model,
        test,
        dev=dev,
        k=FV_SETTINGS["k"],
        head_output=FV_SETTINGS["head_output"],
        tv_layer=tv_layer,
        n_corrupted=FV_SETTINGS["n_corrupted"],
        known={"regular": regular, "hypothesis": hypothesis},
        seed=seed,
        scorer=scorer,
        run=runner,
        aie=aie,
    )


def add_modes(record: dict[str, Any], results: Mapping[str, Scored]) -> dict[str, Any]:
    """``record`` (a finished task) with more modes merged in: each test row's prediction,
    and each mode's accuracy (first-token accuracy and F1 too where answers are generated).

    Raises:
        ValueError: a mode not scored on the record's test examples, row by row.
    """
    rows = record["test_examples"]
    for mode, res in results.items():
        preds = res.predictions
        if [(p.query, p.answer) for p in preds] != [(r["query"], r["answer"]) for r in rows]:
            raise ValueError(f"{mode} was not scored on this task's test examples")
    out = dict(record)
    out["test_examples"] = [
        {**row, **{m: res.predictions[i].to_record() for m, res in results.items()}}
        for i, row in enumerate(rows)
    ]
    out["accuracy"] = {**record["accuracy"], **{m: r.accuracy for m, r in results.items()}}
    for key in ("first_token_accuracy", "f1"):
        if key in record:  # answers "any": the other metrics of the generations too
            more = {m: float(getattr(r, key)) for m, r in results.items()}
            out[key] = {**record[key], **more}
    return out


def add_function_vectors(record: dict[str, Any], result: MethodComparison) -> dict[str, Any]:
    """``record`` (a finished task-vector task) with ``result``'s methods merged in
    (:func:`add_modes`) and the function vector's provenance as ``fv``.

    Raises:
        ValueError: if ``result`` was not scored on the record's test examples, row by row.
    """
    rec = result.vectors_record()
    fv = {
        "layers": dict(result.layers),
        "dev_accuracy_per_layer": rec["dev_accuracy_per_layer"],
        "function_vector": rec["function_vector"],
        "indirect_effect": rec["indirect_effect"],
        "k_dev": rec["k_dev"],
        "clean_accuracy": rec["clean_accuracy"],
        "baseline_on_test_accuracy": result.modes["baseline"].accuracy,
        "phase_times_s": rec["phase_times_s"],
    }
    return {**add_modes(record, {m: result.modes[m] for m in FV_MODES}), "fv": fv}


def write_function_vector(out: Path, key: str, fv: FunctionVector) -> str:
    """Write ``out/<key>.fv.safetensors`` and ``.json`` (atomic, in the run's manifest).

    A file of that name that tvlens did not write (or that was edited since) is kept:
    the pair then goes to ``<key>.fv.tvlens-<pid>.*`` (:func:`~tvlens.run.files.write_outputs`
    moves both files, so the pair keeps one stem, and warns).

    Returns:
        The stem to pass to :meth:`FunctionVector.load`, relative to ``out``.
    """
    blob, text = fv.to_bytes()
    stem = f"{key}.fv"
    written = write_outputs(out, [(f"{stem}.safetensors", blob), (f"{stem}.json", text)])
    return written[0].name.removesuffix(".safetensors")
