"""Vocabulary projection: top tokens of each task's mean θ through ln_final and unembedding.

python experiments/vocab_projection.py --tasks en_fr fr_en country_capital --k 10
"""

from __future__ import annotations

from _common import load, parser, write

from tvlens import TaskVector, extract_task_vectors, get_task, layer_sweep
from tvlens.analysis import vocab_table
from tvlens.report.plots import vocab_figure
from tvlens.tasks import for_model


def main() -> None:
    p = parser(
        __doc__ or "",
        default_tasks=[
            "en_fr",
            "fr_en",
            "en_es",
            "country_capital",
            "location_continent",
            "person_language",
            "antonyms",
            "to_upper",
        ],
        n=30,
        out="results/vocab_projection",
    )
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--layer", type=int, default=None, help="default: each task's best layer")
    args = p.parse_args()
    model = load(args)
    rows = []
    for name in args.tasks:
        task = for_model(get_task(name), model)
        examples = task.sample(args.n, n_demos=5, n_dummy=2, seed=args.seed)
        layer = args.layer if args.layer is not None else layer_sweep(model, examples).best_layer
        theta = TaskVector.mean(extract_task_vectors(model, examples)).at(layer)
        table = vocab_table(model, {task.name: theta}, k=args.k)
        rows.append(table)
        print(f"{task.name} (layer {layer}): " + ", ".join(repr(t) for t in table["token"]))
    import pandas as pd

    df = pd.concat(rows, ignore_index=True)
    write(
        args.out,
        "vocab_projection",
        {"model": args.model, "rows": df.to_dict(orient="records")},
        [vocab_figure(df)],
        f"Vocabulary projection of task vectors on {args.model}",
    )


if __name__ == "__main__":
    main()
