"""Shared flags and output helpers for the experiment scripts (thin wrappers on tvlens)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def parser(
    description: str, *, default_tasks: list[str], n: int, out: str
) -> argparse.ArgumentParser:
    """Flags every experiment takes: model, tasks, n, seed, out, device."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", default="gemma-3-270m", help="embedded name or TL model name")
    p.add_argument("--tasks", nargs="+", default=default_tasks, help="task names or files")
    p.add_argument("--n", type=int, default=n, help="examples (or vectors) per task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--out", default=out, help="results folder")
    return p


def load(args: argparse.Namespace) -> Any:
    """The model named by ``--model``."""
    from tvlens.models import load_model

    return load_model(args.model, device=args.device)


def write(out: str | Path, name: str, data: Any, figures: list[Any], title: str) -> None:
    """Write ``<out>/<name>.json`` and a self-contained ``<out>/<name>.html``."""
    from tvlens.report.plots import write_html

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=1, default=float) + "\n")
    write_html(figures, out / f"{name}.html", title=title)
    print(f"wrote {out / name}.json and {out / name}.html")
