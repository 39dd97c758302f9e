"""How reports write numbers: accuracies, intervals, p-values, test results."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def fmt_acc(x: Any, bold: bool = False) -> str:
    """``0.58`` (``–`` for a missing or non-finite value), in bold for Markdown if asked."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"**{x:.2f}**" if bold else f"{x:.2f}"


def fmt_ci(x: Any, ci: Sequence[float] | None = None, bold: bool = False) -> str:
    """``0.58 [0.44, 0.71]`` (the interval left out where there is none)."""
    if ci is None or fmt_acc(x) == "–" or any(v is None for v in ci):
        return fmt_acc(x, bold)
    return f"{fmt_acc(x, bold)} [{ci[0]:.2f}, {ci[1]:.2f}]"


def fmt_p(p: float | None) -> str:
    """A p-value to two significant digits, ``<0.001`` below that."""
    if p is None or not math.isfinite(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.2g}"


def fmt_test(test: Mapping[str, Any] | None) -> str:
    """``+0.30 (p 0.002)``: the accuracy difference and the test's p-value."""
    if not test or test.get("difference") is None:
        return "–"
    return f"{test['difference']:+.2f} (p {fmt_p(test.get('p'))})"
