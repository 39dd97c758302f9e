"""Robustness: many θ per task (different S and x'), t-SNE and distance histograms.

python experiments/robustness.py --tasks to_upper en_fr country_capital antonyms --n 30
"""

from __future__ import annotations

from _common import load, parser, write

from tvlens.analysis import robustness
from tvlens.report.plots import distance_histogram_figure, robustness_figure


def main() -> None:
    p = parser(
        __doc__ or "",
        default_tasks=["to_upper", "next_letter", "en_fr", "fr_en", "antonyms", "country_capital"],
        n=30,
        out="results/robustness",
    )
    p.add_argument("--layer", type=int, default=None, help="default: best layer of a sweep")
    args = p.parse_args()
    model = load(args)
    res = robustness(model, args.tasks, n_vectors=args.n, layer=args.layer, seed=args.seed)
    print(res.summary())
    data = {
        "model": args.model,
        "n_vectors": args.n,
        "summary": res.summary(),
        "embedding": res.embedding.tolist(),
        "labels": list(res.labels),
    }
    write(
        args.out,
        "robustness",
        data,
        [robustness_figure(res), distance_histogram_figure(res)],
        f"Task-vector robustness on {args.model}",
    )


if __name__ == "__main__":
    main()
