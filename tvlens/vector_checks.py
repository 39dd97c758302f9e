"""Checks of a saved vector's fields, shared by :class:`tvlens.TaskVector` and
:class:`tvlens.fv.FunctionVector` (their messages name the class and the field)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from tvlens.files import json_safe


def int_field(value: Any, where: str, low: int | None) -> int:
    """``value`` as a Python int (numpy ints converted), ``>= low`` unless ``low`` is None.

    Raises:
        TypeError: naming ``where`` (``TaskVector.d_model``) for a value that is no int.
        ValueError: for an int below ``low``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where} must be an int, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{where} must be >= {low}, got {value}")
    return int(value)


def checked_extra(extra: Any, owner: str) -> dict[str, Any]:
    """``extra`` as plain JSON data (:func:`tvlens.files.json_safe`).

    Raises:
        TypeError: if ``extra`` is no dict, or holds what JSON cannot.
        ValueError: for a NaN or infinite float in it.
    """
    if not isinstance(extra, Mapping):
        raise TypeError(
            f"{owner}.extra must be a dict, got {type(extra).__name__}; pass a dict of JSON values"
        )
    safe: dict[str, Any] = json_safe(extra, "extra")
    return safe


def check_finite(vector: Tensor, kind: str, owner: str) -> None:
    """Refuse a tensor with NaN or inf entries.

    Raises:
        ValueError: counting them and naming the likely cause.
    """
    bad = int((~torch.isfinite(vector)).sum())
    if bad:
        raise ValueError(
            f"{owner}.vector has {bad} NaN or inf entries (of {vector.numel()}); a {kind} "
            "must be finite: check the run that produced it (e.g. a float16 overflow)"
        )
