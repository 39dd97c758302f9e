"""The names ``results.json`` gives modes and methods, one name per concept, shared by the run
(:mod:`tvlens.run`) and the report (:mod:`tvlens.report`).

- A **mode** is one way a test example was run and scored; it names a task's ``accuracy``
  entry, its ``counts``, and each prediction of a ``test_examples`` / ``baseline_examples``
  row. The paper's three (:data:`PAPER_MODES`), the five ``--methods tv,fv`` adds
  (:data:`FV_MODES`) and ``tv_multi`` / ``tv_learned`` (:data:`ANSWER_MODES`). The task
  vector's patched run is ``"hypothesis"`` everywhere in ``results.json`` (also where
  function vectors stand beside it).
- A **protocol method** is what ``tvlens run --methods`` runs (:data:`PROTOCOL_METHODS`):
  ``tv`` (the paper's protocol), ``fv`` (function vectors beside it), ``tv_multi``
  (multi-position task vectors, :mod:`tvlens.evaluation.multi`) and ``tv_learned`` (learned
  ones, :mod:`tvlens.evaluation.learned`), the last two with ``--answers any``.
  It is not the Runner's execution method (``RunConfig.method``, one of
  :data:`~tvlens.engine.config.EXECUTION_METHODS`: ``auto`` / ``packed`` / ``batched``,
  ``tvlens run --method``), which never changes a result.
- The **answers** a run scores (:data:`ANSWERS`): ``single`` or ``any``.

This module imports nothing from tvlens, so any layer may use it.
"""

from __future__ import annotations

from typing import Literal

Mode = Literal[
    "baseline",
    "hypothesis",
    "regular",
    "shuffled",
    "fv_shuffled",
    "layer_average",
    "mean_difference",
    "fv_zero_shot",
    "tv_multi",
    "tv_learned",
]
"""A mode name as ``results.json`` writes it."""

PAPER_MODES: tuple[Mode, ...] = ("baseline", "hypothesis", "regular")
"""The paper's modes, in the order tables show them: every finished task has them."""

FV_MODES: tuple[Mode, ...] = (
    "shuffled",
    "fv_shuffled",
    "layer_average",
    "mean_difference",
    "fv_zero_shot",
)
"""The modes ``--methods tv,fv`` adds to a task's record."""

ANSWER_MODES: tuple[Mode, ...] = ("tv_multi", "tv_learned")
"""The modes of the whole-answer methods (``--answers any``): multi-position task vectors
(``--methods tv,tv_multi``) and learned ones (``--methods tv,tv_learned``)."""

ALL_MODES: tuple[Mode, ...] = (*PAPER_MODES, *FV_MODES, *ANSWER_MODES)
"""Every mode ``results.json`` knows."""

ProtocolMethod = Literal["tv", "fv", "tv_multi", "tv_learned"]
"""A protocol method as ``tvlens run --methods`` takes it and ``meta.methods`` records it."""

PROTOCOL_METHODS: tuple[ProtocolMethod, ...] = ("tv", "fv", "tv_multi", "tv_learned")
"""Every protocol method, in the order ``meta.methods`` lists them."""

ANSWERS = ("single", "any")
"""What ``tvlens run --answers`` takes and ``meta.answers`` records: single-token answers
scored by the next token (the paper), or answers of any length, generated
(:mod:`tvlens.run.answers`)."""
