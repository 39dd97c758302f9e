"""mkdocs hooks for the docs site (``mkdocs.yml``: ``hooks``).

A doctest in a docstring's ``Example:`` section renders as Markdown, where an output line like
``['B', 'A']`` right after ``[y for ...]`` reads as a reference link, and mkdocs-autorefs warns
that it cannot find the target (which fails ``mkdocs build --strict``). Such targets are never
Python names: this hook turns exactly those warnings into info lines and leaves every warning
about a real cross-reference (a dotted Python name) as it is.
"""

from __future__ import annotations

import logging
import re
from typing import Any

MISSING_TARGET = re.compile(r"Could not find cross-reference target '(.*)'$")
AUTOREFS_LOGGERS = (
    "mkdocs.plugins.mkdocs_autorefs",
    "mkdocs.plugins.mkdocs_autorefs._internal.plugin",
)


class DoctestOutputIsNotAReference(logging.Filter):
    """Demote autorefs' "could not find target" for targets that are not Python names."""

    def filter(self, record: logging.LogRecord) -> bool:
        m = MISSING_TARGET.search(record.getMessage())
        if m and record.levelno == logging.WARNING and not re.fullmatch(r"[\w.]+", m.group(1)):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def on_startup(command: str, dirty: bool, **kwargs: Any) -> None:
    for name in AUTOREFS_LOGGERS:
        logging.getLogger(name).addFilter(DoctestOutputIsNotAReference())
