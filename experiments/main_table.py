"""The paper's main table (Regular / Hypothesis / Baseline per task): `tvlens run` as a script.

python experiments/main_table.py --out results/main_table [--tasks to_upper antonyms]
"""

from __future__ import annotations

import sys

import _common  # noqa: F401  (sets offline environment variables)

from tvlens.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["run", *sys.argv[1:]]))
