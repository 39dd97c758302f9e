"""Render tvlens HTML reports to PNG with Debian's headless chromium (a static export offline).

plotly's own image export needs kaleido and a browser download; a headless chromium screenshot
of the self-contained HTML needs neither.

    python scripts/snapshot_html.py results/gemma-3-270m/report.html docs/img/report.png
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path


def snapshot(html: Path, png: Path, width: int = 1200, height: int = 900) -> None:
    """Screenshot ``html`` into ``png`` at the given window size."""
    from tvlens.report.summary import chromium_command

    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        size = (f"--window-size={width},{height}", "--hide-scrollbars")
        cmd = chromium_command(html, profile, *size, f"--screenshot={png.resolve()}")
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    print(f"wrote {png}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("html", type=Path)
    p.add_argument("png", type=Path)
    p.add_argument("--width", type=int, default=1200)
    p.add_argument("--height", type=int, default=900)
    args = p.parse_args()
    snapshot(args.html, args.png, args.width, args.height)


if __name__ == "__main__":
    main()
