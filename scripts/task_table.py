"""Print the README's task table: pairs per task and how many survive a model's tokenizer.

python scripts/task_table.py [--model gemma-3-270m] [--format arrow]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="gemma-3-270m")
    p.add_argument("--format", default="arrow")
    args = p.parse_args()

    from tvlens.models import load_model
    from tvlens.prompts import get_format
    from tvlens.tasks import PAPER_TASKS, filter_single_token, get_task, list_tasks

    tokenizer = load_model(args.model).tokenizer
    fmt = get_format(args.format)
    print(f"| task | category | pairs | single-token on {args.model} |")
    print("|---|---|---|---|")
    for name in list_tasks():
        task = get_task(name)
        try:
            kept = filter_single_token(task, tokenizer, fmt).n_kept
        except ValueError:
            kept = 0
        mark = "" if name in PAPER_TASKS else " (extra)"
        print(f"| {name}{mark} | {task.category} | {len(task)} | {kept} |")


if __name__ == "__main__":
    main()
