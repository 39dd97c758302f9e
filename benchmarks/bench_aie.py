"""Benchmark: the AIE of every head, tvlens vs the straightforward TransformerLens loop.

(a) loop: per corrupted prompt, one `run_with_hooks` per head with that head's `hook_z` set
    to its clean mean at the last position, full logits, one prompt at a time (what a user
    writes by hand, and what Todd et al.'s code does):
    `tvlens.testing.reference_indirect_effects`;
(b) `tvlens.fv.indirect_effect.indirect_effects`: all heads of a prompt in one group of rows
    (one packed row per prompt on a bridge over an HF model), logits at the arrow only.
Both patch the same mean activations (computed once, not timed). Checks that the CIEs are
equal (to float tolerance) and the top heads the same; prints times and peak RSS and, as its
last line, `aie_speedup_vs_loop=<a/b>`. A benchmark, not a test.

    python benchmarks/bench_aie.py --task to_upper --n 25
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import torch


def peak_rss_gb() -> float:
    """Peak resident set size of this process in GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="gemma-3-270m")
    p.add_argument("--task", default="to_upper")
    p.add_argument("--n", type=int, default=25, help="corrupted prompts")
    p.add_argument("--n-clean", type=int, default=25, help="clean prompts of the mean")
    p.add_argument("--n-demos", type=int, default=5)
    p.add_argument("--method", default="auto", choices=["auto", "packed", "batched"])
    p.add_argument("--skip-loop", action="store_true", help="time (b) only")
    args = p.parse_args(argv)

    from tvlens import RunConfig, Runner
    from tvlens.fv.heads import mean_head_activations, shuffle_labels
    from tvlens.fv.indirect_effect import indirect_effects
    from tvlens.models import load_model
    from tvlens.prompts import DEFAULT_FORMAT
    from tvlens.tasks import filter_single_token, get_task
    from tvlens.testing import reference_indirect_effects

    fmt = DEFAULT_FORMAT
    torch.set_grad_enabled(False)
    model = load_model(args.model)
    task = filter_single_token(get_task(args.task), model.tokenizer, fmt)
    clean = task.sample(args.n_clean, n_demos=args.n_demos, n_dummy=1, seed=0)
    corrupted = shuffle_labels(task.sample(args.n, n_demos=args.n_demos, n_dummy=1, seed=1))
    runner = Runner(model, RunConfig(method=args.method))
    n_heads = model.cfg.n_layers * model.cfg.n_heads
    print(
        f"model={args.model} task={args.task} n={args.n} heads={n_heads} "
        f"packs={runner.packs} threads={torch.get_num_threads()}"
    )
    acts = mean_head_activations(model, clean, fmt=fmt, run=runner)
    indirect_effects(model, corrupted[:1], acts, fmt=fmt, run=runner)  # warm-up

    t = time.perf_counter()
    effects = indirect_effects(model, corrupted, acts, fmt=fmt, run=runner)
    t_fast = time.perf_counter() - t
    print(f"(b) tvlens.indirect_effects: {t_fast:.2f} s ({args.n * (n_heads + 1)} rows)")
    top = effects.top_heads(5)
    print("    top heads:", ", ".join(f"({la},{h}) {s:.3f}" for la, h, s in top))

    if args.skip_loop:
        t_loop = float("nan")
    else:
        t = time.perf_counter()
        ref = reference_indirect_effects(model, corrupted, acts.z, fmt)
        t_loop = time.perf_counter() - t
        print(f"(a) per-head-per-prompt loop: {t_loop:.2f} s ({args.n * (n_heads + 1)} passes)")
        diff = float((effects.cie - ref).abs().max())
        ref_top = [(la, h) for la, h, _ in _top(ref.mean(0), 5)]
        same_top = ref_top == [(la, h) for la, h, _ in top]
        print(f"max |CIE tvlens - CIE loop| = {diff:.2e}; same top-5 heads: {same_top}")
        if diff > 1e-4 or not same_top:
            print("ERROR: the loop and tvlens disagree", file=sys.stderr)
            return 1
    print(f"peak RSS: {peak_rss_gb():.2f} GB")
    print(f"aie_speedup_vs_loop={t_loop / t_fast:.1f}")
    return 0


def _top(aie: torch.Tensor, k: int) -> list[tuple[int, int, float]]:
    from tvlens.fv.indirect_effect import top_heads

    return top_heads(aie, k)


if __name__ == "__main__":
    raise SystemExit(main())
