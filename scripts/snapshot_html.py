"""Render tvlens HTML reports to PNG with Debian's headless chromium (a static export offline).

plotly's own image export needs kaleido and a browser download; a headless chromium screenshot
of the self-contained HTML needs neither.

    python scripts/snapshot_html.py results/gemma-3-270m/report.html docs/img/report.png
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path


def snapshot(html: Path, png: Path, width: int = 1200, height: int = 900) -> None:
    """Screenshot ``html`` into ``png`` at the given window size."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                "--virtual-time-budget=10000",
                f"--screenshot={png.resolve()}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
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
