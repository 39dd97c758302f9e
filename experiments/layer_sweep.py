"""Layer sweep: Hypothesis accuracy per layer for each task (the paper's layer figure).

python experiments/layer_sweep.py --tasks to_upper en_fr country_capital --n 30
"""

from __future__ import annotations

from _common import load, parser, write

from tvlens import get_task, layer_sweep
from tvlens.report.plots import layer_sweep_figure
from tvlens.tasks import for_model


def main() -> None:
    args = parser(
        __doc__ or "",
        default_tasks=["to_upper", "en_fr", "antonyms", "country_capital"],
        n=30,
        out="results/layer_sweep",
    ).parse_args()
    model = load(args)
    sweeps = {}
    for name in args.tasks:
        task = for_model(get_task(name), model)
        examples = task.sample(args.n, n_demos=5, n_dummy=2, seed=args.seed)
        sweeps[task.name] = layer_sweep(model, examples)
        print(
            f"{task.name}: best layer {sweeps[task.name].best_layer} "
            f"({sweeps[task.name].best_accuracy:.2f})"
        )
    data = {
        "model": args.model,
        "n": args.n,
        "tasks": {
            n: {"accuracy": list(s.accuracy), "best_layer": s.best_layer} for n, s in sweeps.items()
        },
    }
    fig = layer_sweep_figure({n: list(s.accuracy) for n, s in sweeps.items()})
    write(args.out, "layer_sweep", data, [fig], f"Layer sweep on {args.model}")


if __name__ == "__main__":
    main()
