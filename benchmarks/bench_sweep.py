"""Benchmark: tvlens.layer_sweep vs the straightforward TransformerLens loop vs the floor.

(a) loop: what a user writes by hand — per example, `run_with_cache` on each dummy prompt to
    read θ, then per layer one `run_with_hooks` on `x ->` with θ patched (full logits);
(b) `tvlens.layer_sweep` on the same examples;
(c) floor: one batched forward over the Regular ICL prompts, logits at the arrow only.
Checks that (a) and (b) give the same per-layer accuracies; prints times and peak RSS, and as
its last line `speedup_vs_loop=<a/b> overhead_vs_floor=<b/c> additive_sweep_over_unembedding=...`
(one function-vector candidate's dev sweep against the unembedding of its rows alone). A
benchmark, not a test.

    python benchmarks/bench_sweep.py --task country_capital --n 20
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


def loop_sweep(model, examples, fmt) -> list[float]:
    """(a): the hand-written loop, `tvlens.testing.reference_sweep` (also the tests' oracle)."""
    from tvlens.prompts import single_answer_token
    from tvlens.testing import reference_sweep

    preds = reference_sweep(model, examples, fmt)
    answers = torch.tensor(
        [single_answer_token(model.tokenizer, ex.answer, fmt) for ex in examples]
    )
    return (preds == answers[:, None]).float().mean(0).tolist()


def unembed_only(model, rows: int, batch: int = 512) -> float:
    """Seconds to unembed ``rows`` residual vectors: d_model x d_vocab each, unavoidable."""
    from tvlens._compat import unembed

    h = torch.randn(min(rows, batch), model.cfg.d_model)
    t = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, rows, batch):
            unembed(model, h[: min(batch, rows - start)])
    return time.perf_counter() - t


def floor(model, examples, fmt, batch_size: int) -> None:
    """(c): the Regular ICL prompts, batched, logits at the arrow only."""
    from tvlens.engine.batching import chunks
    from tvlens.engine.runner import RunConfig, Runner
    from tvlens.prompts import icl_prompts

    runner = Runner(model, RunConfig(batch_size=batch_size))
    texts = icl_prompts(examples, fmt)
    for sl in chunks(len(texts), batch_size):
        runner.logits(runner.tokenize(texts[sl], fmt))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="gemma-3-270m")
    p.add_argument("--task", default="country_capital")
    p.add_argument("--n", type=int, default=20, help="examples")
    p.add_argument("--n-demos", type=int, default=5)
    p.add_argument("--n-dummy", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--skip-loop", action="store_true", help="skip (a); print only (b) and (c)")
    args = p.parse_args(argv)

    from tvlens import RunConfig, extract_thetas, layer_sweep
    from tvlens.models import load_model
    from tvlens.prompts import DEFAULT_FORMAT
    from tvlens.tasks import filter_single_token, get_task

    fmt = DEFAULT_FORMAT
    torch.set_grad_enabled(False)
    model = load_model(args.model)
    task = filter_single_token(get_task(args.task), model.tokenizer, fmt)
    examples = task.sample(args.n, n_demos=args.n_demos, n_dummy=args.n_dummy, seed=0)
    print(
        f"model={args.model} task={args.task} n={args.n} layers={model.cfg.n_layers} "
        f"threads={torch.get_num_threads()}"
    )

    floor(model, examples[:2], fmt, args.batch_size)  # warm-up
    t = time.perf_counter()
    floor(model, examples, fmt, args.batch_size)
    t_floor = time.perf_counter() - t
    print(f"(c) floor: {t_floor:.2f} s")

    t = time.perf_counter()
    run = RunConfig(batch_size=args.batch_size)
    sweep = layer_sweep(model, examples, fmt=fmt, run=run)
    t_sweep = time.perf_counter() - t
    print(
        f"(b) tvlens.layer_sweep: {t_sweep:.2f} s, best layer {sweep.best_layer} "
        f"({sweep.best_accuracy:.2f})"
    )
    # Where (b) goes: θ extraction (n * n_dummy ICL prompts, no unembedding) and the patched
    # zero-shot rows (n * n_layers), of which the unembedding alone is a floor of its own.
    t = time.perf_counter()
    thetas = extract_thetas(model, examples, fmt=fmt, run=run)
    t_extract = time.perf_counter() - t
    t = time.perf_counter()
    layer_sweep(model, examples, fmt=fmt, thetas=thetas, run=run)
    t_rows = time.perf_counter() - t
    n_rows = len(examples) * model.cfg.n_layers
    t_unembed = unembed_only(model, n_rows)
    print(
        f"    of which: extraction {t_extract:.2f} s, patched rows {t_rows:.2f} s "
        f"(unembedding alone {t_unembed:.2f} s for {n_rows} rows)"
    )
    print(
        "    lower bound of any schedule of this protocol, (extraction + unembedding) / floor: "
        f"{(t_extract + t_unembed) / t_floor:.2f}"
    )
    # One dev sweep of a function-vector candidate (--methods fv runs 8 per task): a vector
    # added at the arrow of each zero-shot row, n * n_layers rows, nothing to extract.
    from tvlens.fv.methods import additive_sweep

    t = time.perf_counter()
    additive_sweep(model, examples, thetas.mean((0, 1)), fmt=fmt, run=run)
    t_add = time.perf_counter() - t
    print(
        f"    an additive (FV candidate) sweep: {t_add:.2f} s, "
        f"{t_add / t_unembed:.2f}x the unembedding of its {n_rows} rows"
    )

    if args.skip_loop:
        t_loop = float("nan")
    else:
        t = time.perf_counter()
        acc_loop = loop_sweep(model, examples, fmt)
        t_loop = time.perf_counter() - t
        print(f"(a) hand-written loop: {t_loop:.2f} s")
        same = all(abs(x - y) < 1e-9 for x, y in zip(acc_loop, sweep.accuracy, strict=True))
        print(f"per-layer accuracies equal: {same}")
        print("loop  :", " ".join(f"{a:.2f}" for a in acc_loop))
        print("tvlens:", " ".join(f"{a:.2f}" for a in sweep.accuracy))
    print(f"peak RSS: {peak_rss_gb():.2f} GB")
    print(
        f"speedup_vs_loop={t_loop / t_sweep:.2f} overhead_vs_floor={t_sweep / t_floor:.2f} "
        f"additive_sweep_over_unembedding={t_add / t_unembed:.2f}"
    )
    if not args.skip_loop and not same:
        print("ERROR: the loop and tvlens.layer_sweep disagree", file=sys.stderr)
        return 1  # a fast path that disagrees with its reference fails the benchmark
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
