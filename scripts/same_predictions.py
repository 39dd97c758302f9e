"""Whether two `tvlens run` folders made the same predictions, task by task.

For each task both runs finished: the best layer, the dev accuracy per layer, and per test and
Baseline example every mode both runs hold (the greedy token, or under `--answers any` the
generated token ids). Times and modes only one run holds are ignored, so a run with
`--methods tv,fv` can be checked against one with `tv` alone. A check for a change that must
not move a number (a faster path, another batch size): prints one line per task and exits 1 if
any differs.

    python scripts/same_predictions.py results/before results/after
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _prediction(row: dict[str, Any]) -> Any:
    return row.get("generated_token_ids", row.get("predicted_token_id"))


def _rows(record: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [
        {m: _prediction(v) for m, v in ex.items() if isinstance(v, dict) and "input_ids" in v}
        for ex in record.get(key, [])
    ]


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What differs between two task records (empty: the same predictions)."""
    out = [k for k in ("best_layer", "dev_accuracy_per_layer") if a.get(k) != b.get(k)]
    for key in ("test_examples", "baseline_examples"):
        ra, rb = _rows(a, key), _rows(b, key)
        if len(ra) != len(rb):
            out.append(f"{key}: {len(ra)} vs {len(rb)} examples")
            continue
        for i, (x, y) in enumerate(zip(ra, rb, strict=True)):
            for mode in sorted(x.keys() & y.keys()):
                if x[mode] != y[mode]:
                    out.append(f"{key}[{i}].{mode}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    args = p.parse_args(argv)
    a, b = (
        json.loads((d / "results.json").read_text())["tasks"] for d in (args.before, args.after)
    )
    shared = [k for k in a if k in b and a[k].get("status") == b[k].get("status") == "ok"]
    if not shared:
        print("no task finished in both runs")
        return 1
    bad = 0
    for key in shared:
        diff = differences(a[key], b[key])
        bad += bool(diff)
        print(f"{key}: " + ("same" if not diff else "DIFFERENT " + ", ".join(diff[:5])))
    print(f"{len(shared) - bad}/{len(shared)} tasks made the same predictions")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
