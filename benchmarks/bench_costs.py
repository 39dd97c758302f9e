"""Benchmark: what each path of `tvlens run` costs, as ratios measured in one process.

On a few tasks of the embedded default (3 by default), in this order:

(1) `tvlens run` (the paper's protocol), `--methods tv,fv` (with `--aie`), and
    `--answers any`, each into a fresh folder: their wall times;
(2) the protocol's floor: one arrow-logits forward over every Regular prompt of dev + test
    and every Baseline prompt the protocol samples, batched;
(3) the AIE of every head on the protocol's 25 shuffled-label dev prompts, exact (a pass per
    prompt and head) and by attribution (one forward and backward pass per prompt): their
    times, the Spearman correlation of the two AIE matrices, the overlap of their top-10 heads,
    and whether `attribution+verify` chooses the exact AIE's top-k heads for every k the
    function vector tries;
(4) one function-vector candidate's dev sweep on the first task (a vector added at the arrow
    of each of its 50 x n_layers rows) against the fp32 unembedding of those rows alone;
(5) `tvlens run` again with `--argmax fp32` (every greedy token from fp32 logits): its time
    over (1)'s (`RunConfig.argmax="auto"`: bf16 logits verified in fp32 where the CPU has
    native bf16), and whether every record of the two runs is the same (it must be).

Prints one line per measurement and, as its last line,
`fv_run_over_tv_run=… any_run_over_single_run=… protocol_over_floor=… atp_speedup_vs_exact=…
atp_topk_overlap=… fv_sweep_over_unembedding=… fp32_argmax_over_auto=… verify_agrees=<tasks>/<n>`.
Exits 1 if a verified head's AIE differs from the exact AIE (they must be equal: the same
computation) or if the fp32-argmax run's records differ from the default run's. A benchmark,
not a test.

    python benchmarks/bench_costs.py                       # 3 tasks, Gemma 3 270M (minutes)
    python benchmarks/bench_costs.py --skip-runs           # the AIE part only
    python benchmarks/bench_costs.py --skip-runs --tasks paper   # the AIE on all 18 tasks
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

TASKS = ["list_first", "en_fr", "country_capital"]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``fn()``'s seconds and value."""
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two tensors' entries (ties broken by position)."""
    ra = a.flatten().argsort().argsort().double()
    rb = b.flatten().argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


def sample_sets(model: Any, task_name: str, cfg: Any) -> tuple[list, list, list]:
    """The protocol's (dev, test, baseline) examples of a task (tvlens.run.protocol's draw)."""
    from tvlens.tasks import for_model, get_task

    kept = for_model(get_task(task_name), model, cfg.prompt_format, max_tokens=1)
    dev, test = kept.dev_test(
        cfg.n_dev, cfg.n_test, n_demos=cfg.n_demos, n_dummy=cfg.n_dummy, seed=cfg.seed
    )
    base = kept.sample(cfg.n_baseline, n_demos=1, n_dummy=1, seed=cfg.seed + 2)
    return dev, test, base


def floor_s(model: Any, tasks: list[str], cfg: Any) -> float:
    """(2): arrow logits of every Regular (dev + test) and Baseline prompt, batched."""
    from tvlens.engine.runner import Runner
    from tvlens.prompts import icl_prompts, zero_shot_prompts

    runner = Runner(model, cfg.run, fmt=cfg.prompt_format)
    texts: list[str] = []
    for name in tasks:
        dev, test, base = sample_sets(model, name, cfg)
        texts += icl_prompts([*dev, *test], cfg.prompt_format)
        texts += zero_shot_prompts(base, cfg.prompt_format)
    seconds, _ = timed(lambda: runner.predict(texts))  # the greedy token at each arrow
    return seconds


def fv_sweep_over_unembedding(model: Any, task: str) -> float:
    """One function-vector candidate's dev sweep (a vector added at the arrow of every
    (example, layer) row) over the unembedding of those rows alone, its floor."""
    from tvlens._compat import unembed
    from tvlens.engine.runner import Runner
    from tvlens.fv.methods import additive_sweep
    from tvlens.run.protocol import ProtocolConfig

    cfg = ProtocolConfig(tasks=[task])
    dev, _, _ = sample_sets(model, task, cfg)
    runner = Runner(model, cfg.run, fmt=cfg.prompt_format)
    vector = 0.1 * torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(0))
    sweep_s, _ = timed(lambda: additive_sweep(model, dev, vector, run=runner))
    rows, h = len(dev) * model.cfg.n_layers, torch.randn(512, model.cfg.d_model)

    def unembed_rows() -> None:
        with torch.inference_mode():
            for start in range(0, rows, 512):
                unembed(model, h[: min(512, rows - start)])

    unembed_s, _ = timed(unembed_rows)
    print(f"fv sweep {sweep_s:.1f} s, unembedding of its {rows} rows {unembed_s:.1f} s")
    return sweep_s / unembed_s


def runs(model: Any, tasks: list[str], aie: str) -> dict[str, float]:
    """(1) and (2): seconds of each run, and of the floor."""
    from tvlens.engine.config import RunConfig
    from tvlens.run.protocol import ProtocolConfig, run_protocol

    cfgs = {
        "tv": ProtocolConfig(tasks=tasks),
        "fv": ProtocolConfig(tasks=tasks, methods=["tv", "fv"], aie=aie),  # type: ignore[arg-type]
        "any": ProtocolConfig(tasks=tasks, answers="any"),
        "tv_fp32": ProtocolConfig(tasks=tasks, run=RunConfig(argmax="fp32")),
    }
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in cfgs.items():
            run = functools.partial(run_protocol, model, cfg, Path(tmp) / name, progress=False)
            out[name], _ = timed(run)
            print(f"run {name}: {out[name]:.1f} s", flush=True)
        out["fp32_records_equal"] = float(same_records(Path(tmp) / "tv", Path(tmp) / "tv_fp32"))
    out["floor"] = floor_s(model, tasks, cfgs["tv"])
    print(f"floor: {out['floor']:.1f} s", flush=True)
    return out


def same_records(a: Path, b: Path) -> bool:
    """Whether two runs' results.json hold the same task records, times aside."""
    import json

    from tvlens.run.merge import untimed

    def tasks(folder: Path) -> Any:
        return untimed(json.loads((folder / "results.json").read_text())["tasks"])

    same = tasks(a) == tasks(b)
    print(f"records of the fp32-argmax run equal the default run's: {same}", flush=True)
    return same


def aie_part(model: Any, tasks: list[str]) -> tuple[list[dict[str, Any]], bool]:
    """(3): per task, exact vs attribution; False if a verified head is not exact."""
    from tvlens.fv.heads import mean_head_activations, shuffle_labels
    from tvlens.fv.indirect_effect import indirect_effects
    from tvlens.fv.vector import DEFAULT_KS
    from tvlens.run.methods import FV_SETTINGS
    from tvlens.run.protocol import ProtocolConfig

    cfg = ProtocolConfig(tasks=tasks)
    n_verify = 2 * max(DEFAULT_KS)
    rows, exact_ok = [], True
    for name in tasks:
        dev, _, _ = sample_sets(model, name, cfg)
        acts = mean_head_activations(model, dev)
        corrupted = shuffle_labels(dev[: FV_SETTINGS["n_corrupted"]], cfg.seed)
        aie = functools.partial(indirect_effects, model, corrupted, acts)
        t_exact, exact = timed(aie)
        t_atp, atp = timed(functools.partial(aie, method="attribution"))
        t_ver, ver = timed(functools.partial(aie, method="attribution+verify", n_verify=n_verify))
        v = ver.verified
        assert v is not None
        gap = float((ver.cie[:, v] - exact.cie[:, v]).abs().max())
        # the same computation in other packed rows: equal to float noise (probabilities)
        if not torch.allclose(ver.cie[:, v], exact.cie[:, v], atol=1e-4, rtol=1e-3):
            exact_ok = False
            print(
                f"ERROR {name}: a verified head's AIE differs from the exact AIE", file=sys.stderr
            )
        n_heads = exact.aie.numel()
        ks = [min(k, n_heads) for k in DEFAULT_KS]
        top = {k: {h[:2] for h in exact.top_heads(k)} for k in ks}
        agree = all({h[:2] for h in ver.top_heads(k)} == top[k] for k in ks)
        ten = min(10, n_heads)
        overlap = len(heads_of(atp, ten) & heads_of(exact, ten)) / ten
        row = {"task": name, "exact_s": t_exact, "atp_s": t_atp, "verify_s": t_ver,
               "spearman": spearman(atp.aie, exact.aie), "top10_overlap": overlap,
               "verify_agrees": agree, "verified_max_abs_diff": gap}  # fmt: skip
        rows.append(row)
        print(
            f"aie {name}: exact {t_exact:.1f} s, attribution {t_atp:.1f} s, "
            f"+verify {t_ver:.1f} s; spearman {row['spearman']:.2f}, top-10 overlap "
            f"{overlap:.1f}, verify picks the exact top-k for every k: {agree}; verified vs "
            f"exact CIE {gap:.1e}",
            flush=True,
        )
    return rows, exact_ok


def heads_of(effects: Any, k: int) -> set[tuple[int, int]]:
    """The ``k`` heads ``effects`` ranks first."""
    return {h[:2] for h in effects.top_heads(k)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="gemma-3-270m")
    p.add_argument("--tasks", nargs="+", default=TASKS, help="task names, or 'paper' (all 18)")
    p.add_argument("--aie", default="attribution+verify", help="--aie of the fv run")
    p.add_argument("--skip-runs", action="store_true", help="the AIE part only")
    p.add_argument(
        "--json", default=None, help="also write the measurements here (scripts/doc_tables.py "
        "pin reads it)",
    )  # fmt: skip
    args = p.parse_args(argv)
    import tvlens.models
    from tvlens.tasks import PAPER_TASKS

    if args.tasks == ["paper"]:
        args.tasks = list(PAPER_TASKS)
    model = tvlens.models.load_model(args.model)
    rows, ok = aie_part(model, args.tasks)
    fields = {
        "atp_speedup_vs_exact": sum(r["exact_s"] for r in rows) / sum(r["atp_s"] for r in rows),
        "atp_topk_overlap": sum(r["top10_overlap"] for r in rows) / len(rows),
    }
    t: dict[str, float] = {}
    if not args.skip_runs:
        t = runs(model, args.tasks, args.aie)
        fields = {
            "fv_run_over_tv_run": t["fv"] / t["tv"],
            "any_run_over_single_run": t["any"] / t["tv"],
            "protocol_over_floor": t["tv"] / t["floor"],
            **fields,
            "fv_sweep_over_unembedding": fv_sweep_over_unembedding(model, args.tasks[0]),
            "fp32_argmax_over_auto": t["tv_fp32"] / t["tv"],
        }
        ok = ok and bool(t["fp32_records_equal"])
    agree = sum(r["verify_agrees"] for r in rows)
    print(
        " ".join(f"{k}={v:.2f}" for k, v in fields.items()) + f" verify_agrees={agree}/{len(rows)}"
    )
    if args.json:
        write_json(Path(args.json), args, fields, rows, t)
    return 0 if ok else 1


def write_json(
    path: Path, args: Any, fields: dict[str, float], rows: list[dict[str, Any]], runs: Any
) -> None:
    """The measurements as JSON, written atomically (temp file, fsync, rename)."""
    import json
    import os

    import tvlens
    from tvlens._compat import transformer_lens_version

    body = {
        "kind": "bench_costs",
        "command": "python benchmarks/bench_costs.py " + " ".join(sys.argv[1:]),
        "model": args.model, "tasks": list(args.tasks), "aie_of_fv_run": args.aie,
        "tvlens_version": tvlens.__version__, "torch_version": torch.__version__,
        "transformer_lens_version": transformer_lens_version(),
        "ratios": fields, "run_seconds": runs, "aie": rows,
        "verify_agrees": sum(r["verify_agrees"] for r in rows),
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(body, indent=1) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


if __name__ == "__main__":
    raise SystemExit(main())
