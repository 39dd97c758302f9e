"""Studies beyond the paper (issue 22), each one library call and one ``tvlens`` subcommand
writing ``<kind>.json``, ``summary.md`` and ``report.html`` (locked, atomic, resumable):

* :func:`~tvlens.studies.transfer.transfer_matrix` (``tvlens transfer``): θ and the FV
  extracted under one prompt format, patched into zero-shot runs under another.
* :func:`~tvlens.studies.layers.layer_profile` (``tvlens layers``): per layer, whether θ
  steers (patch accuracy), whether it can be read (logit lens of the answer and of words
  naming the task) and whether it tells tasks apart (a linear probe).
* :func:`~tvlens.studies.compose.compose` (``tvlens compose``): composite tasks (A, then B)
  against their parts: the composite's θ, θ_A + θ_B, θ_A then θ_B, each part alone.
"""

from tvlens.studies.common import StudySettings
from tvlens.studies.compose import compose
from tvlens.studies.layers import layer_profile
from tvlens.studies.transfer import transfer_matrix

__all__ = ["StudySettings", "compose", "layer_profile", "transfer_matrix"]
