"""Conflicting tasks: demos of task A, θ of task B patched in; which task wins?

python experiments/conflict.py --n 50
"""

from __future__ import annotations

from _common import load, parser, write

from tvlens.analysis import DEFAULT_CONFLICT_PAIRS, conflicting_tasks
from tvlens.report.plots import conflict_figure


def main() -> None:
    p = parser(__doc__ or "", default_tasks=[], n=50, out="results/conflict")
    p.add_argument(
        "--pairs",
        nargs="+",
        default=None,
        metavar="A:B",
        help="task pairs as A:B (default: the paper's five)",
    )
    args = p.parse_args()
    pairs = (
        [tuple(s.split(":", 1)) for s in args.pairs] if args.pairs else list(DEFAULT_CONFLICT_PAIRS)
    )
    model = load(args)
    res = conflicting_tasks(model, pairs, n=args.n, seed=args.seed)
    df = res.to_dataframe()
    print(df.to_string(index=False))
    write(
        args.out,
        "conflict",
        {"model": args.model, "pairs": df.to_dict(orient="records")},
        [conflict_figure(res)],
        f"Conflicting tasks on {args.model}",
    )


if __name__ == "__main__":
    main()
