"""Benchmark: the generated layer sweep, batched, vs a one-example-at-a-time generation loop.

On `--n` examples of a task (answers of any length up to `--max-new-tokens` tokens), for every
layer: (a) the loop a user writes by hand with TransformerLens, `tvlens.testing.
reference_generate` (one prompt, one layer at a time, every step a full forward); (b)
`tvlens.evaluation.generation.generate_sweep` (θ for all layers in one extraction, then all
n_examples x n_layers patched prompts decoded together). Both start from the same θ; checks
that their exact-match accuracies per layer are equal, and prints as its last line
`generate_speedup_vs_loop=<a/b>`. A benchmark, not a test.

    python benchmarks/bench_generate.py --task country_capital --n 20
"""

from __future__ import annotations

import argparse
import sys
import time

import torch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="gemma-3-270m")
    p.add_argument("--task", default="country_capital")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--max-new-tokens", type=int, default=6)
    p.add_argument("--skip-loop", action="store_true")
    args = p.parse_args(argv)

    from tvlens import extract_thetas
    from tvlens.evaluation.answer_scoring import normalize_answer
    from tvlens.evaluation.generation import generate_sweep
    from tvlens.models import load_model
    from tvlens.prompts import DEFAULT_FORMAT
    from tvlens.tasks import for_model, get_task
    from tvlens.testing import reference_generate

    fmt = DEFAULT_FORMAT
    torch.set_grad_enabled(False)
    model = load_model(args.model)
    task = for_model(get_task(args.task), model, fmt, max_tokens=args.max_new_tokens)
    examples = task.sample(args.n, n_demos=5, n_dummy=2, seed=0)
    n_layers = model.cfg.n_layers
    print(f"model={args.model} task={args.task} n={args.n} layers={n_layers}")
    thetas = extract_thetas(model, examples, fmt=fmt)

    t = time.perf_counter()
    sweep = generate_sweep(
        model, examples, fmt=fmt, thetas=thetas, max_new_tokens=args.max_new_tokens
    )
    t_sweep = time.perf_counter() - t
    em_sweep = [sweep[layer].exact_match for layer in range(n_layers)]
    print(f"(b) generate_sweep: {t_sweep:.2f} s")
    print("tvlens:", " ".join(f"{a:.2f}" for a in em_sweep))
    if args.skip_loop:
        return 0
    t = time.perf_counter()
    em_loop = []
    for layer in range(n_layers):
        hits = 0
        for ex, theta in zip(examples, thetas[:, layer], strict=True):
            ids = reference_generate(
                model, fmt.zero_shot(ex.query), theta, layer, max_new_tokens=args.max_new_tokens
            )
            text = normalize_answer(model.tokenizer.decode(ids), (fmt.demo_sep,))
            hits += text == ex.answer
        em_loop.append(hits / len(examples))
    t_loop = time.perf_counter() - t
    print(f"(a) one-at-a-time loop: {t_loop:.2f} s")
    print("loop  :", " ".join(f"{a:.2f}" for a in em_loop))
    same = all(abs(a - b) < 1e-9 for a, b in zip(em_loop, em_sweep, strict=True))
    print(f"per-layer exact match equal: {same}")
    if not same:
        print("ERROR: the loop and generate_sweep disagree", file=sys.stderr)
    print(f"generate_speedup_vs_loop={t_loop / t_sweep:.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
