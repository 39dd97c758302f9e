"""Function vectors beside task vectors: AIE per head, top heads, FV vs TV vs baselines.

For each task: mean head activations over the dev examples' ICL prompts, the AIE of every
head on the same prompts with shuffled labels, the function vector (top-k heads), a layer
sweep on dev for every additive vector, and the test accuracy of Regular / TV Hypothesis /
FV zero-shot / FV + shuffled labels / layer-average / mean difference / Baseline. With
``--ks`` it also measures k and the three definitions of a head's output.

python experiments/function_vectors.py --tasks to_upper en_fr country_capital antonyms
"""

from __future__ import annotations

import time

from _common import load, parser, write

from tvlens import RunConfig, Runner, get_task
from tvlens.fv.heads import HEAD_OUTPUTS
from tvlens.fv.indirect_effect import mean_aie, top_heads
from tvlens.fv.methods import add_at_layer, additive_sweep, compare_methods, comparison_table
from tvlens.fv.vector import DEFAULT_KS, build_function_vector
from tvlens.report.plots import aie_figure, comparison_figure, layer_sweep_figure
from tvlens.tasks import for_model


def measure_k(model, result, dev, test, ks, runner) -> list[dict]:
    """Dev-best layer and test accuracy of the FV for each k and head-output definition."""
    rows = []
    for head_output in HEAD_OUTPUTS:
        for k in ks:
            fv = build_function_vector(
                result.activations, result.effects, k=k, head_output=head_output
            )
            sweep = additive_sweep(model, dev, fv.vector, run=runner)
            test_acc = add_at_layer(model, test, fv.vector, sweep.best_layer, run=runner).accuracy
            rows.append(
                {
                    "task": result.task,
                    "head_output": head_output,
                    "k": k,
                    "layer": sweep.best_layer,
                    "dev": sweep.best_accuracy,
                    "test": test_acc,
                    "norm": float(fv.vector.norm()),
                }
            )
            print(f"  k={k:2d} {head_output:10s} layer {sweep.best_layer:2d} "
                  f"dev {sweep.best_accuracy:.2f} test {test_acc:.2f}")  # fmt: skip
    return rows


def main() -> None:
    p = parser(
        __doc__ or "",
        default_tasks=["to_upper", "en_fr", "country_capital", "antonyms"],
        n=50,
        out="results/function_vectors",
    )
    p.add_argument(
        "--k",
        type=int,
        nargs="+",
        default=list(DEFAULT_KS),
        help="heads in the FV (several: pick on dev)",
    )
    p.add_argument("--n-corrupted", type=int, default=25, help="shuffled-label prompts of the AIE")
    p.add_argument("--head-output", default="residual", choices=HEAD_OUTPUTS)
    p.add_argument("--n-demos", type=int, default=5)
    p.add_argument("--ks", type=int, nargs="*", default=[], help="also measure these k")
    args = p.parse_args()
    t0 = time.perf_counter()
    model = load(args)
    print(f"model loaded in {time.perf_counter() - t0:.1f} s")
    runner = Runner(model, RunConfig())
    results, k_rows, records = [], [], {}
    for name in args.tasks:
        start = time.perf_counter()
        task = for_model(get_task(name), model)
        dev, test = task.dev_test(args.n, args.n, n_demos=args.n_demos, seed=args.seed)
        res = compare_methods(
            model,
            test,
            dev=dev,
            k=args.k,
            head_output=args.head_output,
            n_corrupted=args.n_corrupted,
            seed=args.seed,
            run=runner,
        )
        wall = time.perf_counter() - start
        results.append(res)
        heads = ", ".join(f"({la},{h}) {s:.3f}" for la, h, s in res.effects.top_heads(5))
        acc = " ".join(f"{m}={a:.2f}" for m, a in res.accuracies.items())
        print(
            f"{task.name} [{wall:.1f} s] k={res.function_vector.k} layers {res.layers}"
            f"\n  top heads {heads}\n  {acc}"
        )
        print(
            f"  clean acc {float(res.activations.clean_correct.float().mean()):.2f}, corrupted "
            f"acc {res.effects.corrupted_accuracy:.2f}, decomposition error "
            f"{res.activations.decomposition_error:.1e}"
        )
        record = res.to_record()
        record["wall_time_s"] = wall
        if len(args.k) > 1:  # test accuracy of every candidate k at its own dev-best layer
            record["k_test"] = {}
            for k, (layer, dev_acc) in res.k_dev.items():
                fv = build_function_vector(
                    res.activations, res.effects, k=k, head_output=args.head_output
                )
                acc = add_at_layer(model, test, fv.vector, layer, run=runner).accuracy
                record["k_test"][str(k)] = {"layer": layer, "dev": dev_acc, "test": acc}
                print(f"  k={k:2d}: layer {layer:2d} dev {dev_acc:.2f} test {acc:.2f}")
        if args.ks:
            k_rows += measure_k(model, res, dev, test, args.ks, runner)
        records[task.name] = record
    table = comparison_table(results)
    print(table.round(2).to_string())
    aie_all = mean_aie([r.effects for r in results])
    universal = top_heads(aie_all, min(10, aie_all.numel()))
    print("top heads across tasks:", [(la, h, round(s, 3)) for la, h, s in universal])
    data = {
        "model": args.model,
        "n": args.n,
        "k": args.k,
        "n_corrupted": args.n_corrupted,
        "head_output": args.head_output,
        "seed": args.seed,
        "table": {t: table.loc[t].to_dict() for t in table.index},
        "mean_aie": aie_all.tolist(),
        "top_heads_across_tasks": universal,
        "k_sweep": k_rows,
        "tasks": records,
        "wall_time_s": time.perf_counter() - t0,
    }
    figures = [
        comparison_figure({r.task: r.accuracies for r in results}),
        aie_figure(aie_all, top=universal, title=f"AIE averaged over {len(results)} tasks"),
        layer_sweep_figure(
            {r.task: r.sweeps["fv"] for r in results}, title="FV zero-shot accuracy per layer (dev)"
        ),
        *[r.effects.figure(k=r.function_vector.k) for r in results],
    ]
    write(args.out, "function_vectors", data, figures, f"Function vectors on {args.model}")
    print(f"total wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
