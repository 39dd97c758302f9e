"""Reading many prompts at their arrows: the loops behind ``Runner.resid_at_arrows``,
``Runner.predict`` and ``Runner.record``.

Each loop sends the prompts through the Runner in its length-sorted batches and, where the
Runner packs, packs consecutive prompts that share a prefix into one row; rows come back in
input order whatever the batching or the padding side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from tvlens.engine.batching import chunks
from tvlens.engine.packing import PackedBatch, pack
from tvlens.engine.patches import ArrowActivations, Predictions, PromptPatches, argmax_token
from tvlens.engine.runner_like import ArrowRunner
from tvlens.hooks import ArrowRecorder, check_position_hooks, resid_extractor_hooks
from tvlens.prompts import PromptFormat, pad_token_id
from tvlens.protocol import HookPair


def _pack_groups(
    runner: ArrowRunner, ids: Sequence[list[int]], group_size: int, groups: slice
) -> PackedBatch | None:
    """The groups ``groups`` (of ``group_size`` consecutive prompts) as packed rows."""
    rows = [ids[g * group_size : (g + 1) * group_size] for g in range(groups.start, groups.stop)]
    packed = pack(rows, pad_token_id(runner.model.tokenizer))
    limit = runner.max_packed_width
    return None if limit is not None and packed.tokens.shape[1] > limit else packed


def _packed_passes(
    runner: ArrowRunner,
    prompts: Sequence[str],
    fmt: PromptFormat | None,
    group_size: int,
    groups_per_pass: int,
) -> tuple[list[tuple[list[int], PackedBatch]], list[list[int]], list[int]]:
    """Where the Runner packs groups of ``group_size`` consecutive prompts: each packed pass
    (its prompt indices, its rows; ``groups_per_pass`` groups), the prompts' token ids, and
    the prompts left to plain batches (all, where nothing packs; groups too wide to pack)."""
    if runner.config.method == "packed":
        _ = runner.packs  # refused on a model that cannot pack, even with nothing to pack
    if group_size == 1 or not runner.packs:
        return [], [], list(range(len(prompts)))
    ids = runner.token_ids(prompts, fmt)
    passes: list[tuple[list[int], PackedBatch]] = []
    todo: list[int] = []
    for sl in chunks(len(prompts) // group_size, groups_per_pass):
        items = list(range(sl.start * group_size, sl.stop * group_size))
        packed = _pack_groups(runner, ids, group_size, sl)
        if packed is None:
            todo.extend(items)
        else:
            passes.append((items, packed))
    return passes, ids, todo


def _segment_patches(
    runner: ArrowRunner,
    patches: PromptPatches | None,
    items: list[int],
    packed: PackedBatch,
    group_size: int,
) -> list[HookPair]:
    if patches is None:
        return []
    return [
        pair
        for k in range(group_size)
        for pair in patches.hooks(items[k::group_size], packed.readout[:, k], runner.n_layers)
    ]


def resid_at_arrows(
    runner: ArrowRunner,
    prompts: Sequence[str],
    layers: Sequence[int],
    fmt: PromptFormat | None = None,
    *,
    group_size: int = 1,
) -> Float[Tensor, "n n_layers d_model"]:
    """The residual stream after ``layers`` at each arrow (see ``Runner.resid_at_arrows``)."""
    n = _check_groups(prompts, group_size)
    out = torch.empty(n, len(layers), runner.d_model)
    # A packed row holds a whole group: twice the rows per pass still holds fewer tokens
    # than the unpacked batch, and each pass pays a fixed cost per hook.
    passes, _, todo = _packed_passes(runner, prompts, fmt, group_size, 2 * runner.config.batch_size)
    for items, packed in passes:
        out[items] = runner.packed_resid(packed, layers).cpu().flatten(0, 1)
    for idx in runner.batches(prompts, todo, runner.config.batch_size):
        out[idx] = runner.resid(runner.tokenize([prompts[i] for i in idx], fmt), layers).cpu()
    return out


def resid_and_greedy_at_arrows(
    runner: ArrowRunner,
    prompts: Sequence[str],
    layers: Sequence[int],
    fmt: PromptFormat | None = None,
    *,
    group_size: int = 1,
) -> tuple[Float[Tensor, "n n_layers d_model"], Predictions]:
    """The residual after ``layers`` and the greedy next token at each arrow, both from one
    pass per batch: where the Runner packs, each group of ``group_size`` consecutive prompts
    sharing a prefix is one row (the prefix runs once for both readings)."""
    n = _check_groups(prompts, group_size)
    resid = torch.empty(n, len(layers), runner.d_model)
    values: dict[int, Tensor] = {}
    inputs: list[tuple[int, ...]] = [()] * n
    passes, ids, todo = _packed_passes(
        runner, prompts, fmt, group_size, 2 * runner.config.batch_size
    )
    for items, packed in passes:
        rec = resid_extractor_hooks(packed.readout.to(runner.device), layers)
        tokens = runner.packed_logits(packed, rec.hooks, greedy=True).flatten().cpu()
        resid[items] = rec.stacked().float().cpu().flatten(0, 1)
        for i, v in zip(items, tokens, strict=True):
            values[i], inputs[i] = v, tuple(ids[i])
    for idx in runner.batches(prompts, todo, runner.config.batch_size):
        batch = runner.tokenize([prompts[i] for i in idx], fmt)
        rec = resid_extractor_hooks(batch.positions.to(runner.device), layers)
        tokens = runner.logits(batch, rec.hooks, greedy=True).cpu()
        resid[idx] = rec.stacked().float().cpu()
        for j, (i, v) in enumerate(zip(idx, tokens, strict=True)):
            values[i], inputs[i] = v, tuple(batch.row_ids(j))
    return resid, Predictions(torch.stack([values[i] for i in range(n)]), tuple(inputs))


def predict_at_arrows(
    runner: ArrowRunner,
    prompts: Sequence[str],
    fmt: PromptFormat | None = None,
    patches: PromptPatches | None = None,
    group_size: int = 1,
    rows_per_pass: int | None = None,
    reduce: Callable[[Tensor, Sequence[int]], Tensor] = argmax_token,
) -> Predictions:
    """Next-token logits at each prompt's arrow, reduced (see ``Runner.predict``)."""
    n = _check_groups(prompts, group_size)
    _check_patches(patches, n)
    size = rows_per_pass or runner.config.batch_size
    greedy = reduce is argmax_token  # the Runner's greedy path (bf16, verified) serves it

    def reduced(out: Tensor, items: Sequence[int]) -> Tensor:
        return (out if greedy else reduce(out, items)).cpu()

    values: dict[int, Tensor] = {}
    inputs: list[tuple[int, ...]] = [()] * n
    # Keep a packed pass near half the unpacked rows: without the greedy path it returns
    # one logit vector per prompt (28 examples x 18 layers of Gemma: ~0.5 GB of logits).
    per_pass = max(1, size // (2 * group_size))
    passes, ids, todo = _packed_passes(runner, prompts, fmt, group_size, per_pass)
    for items, packed in passes:
        hooks = _segment_patches(runner, patches, items, packed, group_size)
        flat = runner.packed_logits(packed, hooks, greedy=greedy).flatten(0, 1)
        for i, v in zip(items, reduced(flat, items), strict=True):
            values[i], inputs[i] = v, tuple(ids[i])
    for idx in runner.batches(prompts, todo, size):
        batch = runner.tokenize([prompts[i] for i in idx], fmt)
        hooks = patches.hooks(idx, batch.positions, runner.n_layers) if patches else []
        out = runner.logits(batch, hooks, greedy=greedy)
        for j, (i, v) in enumerate(zip(idx, reduced(out, idx), strict=True)):
            values[i] = v
            inputs[i] = tuple(batch.row_ids(j))
    return Predictions(torch.stack([values[i] for i in range(n)]), tuple(inputs))


def record_at_arrows(
    runner: ArrowRunner,
    prompts: Sequence[str],
    hook_names: Sequence[str],
    fmt: PromptFormat | None = None,
    *,
    patches: PromptPatches | None = None,
    logits: bool = False,
) -> ArrowActivations:
    """Any hooks' activations at each prompt's arrow (see ``Runner.record``)."""
    n = _check_groups(prompts, 1)
    if isinstance(hook_names, str) or not all(isinstance(x, str) for x in hook_names):
        raise TypeError(
            f"hook_names must be a list of hook names, got {hook_names!r}"
            + (f"; did you mean [{hook_names!r}]?" if isinstance(hook_names, str) else "")
        )
    names = tuple(dict.fromkeys(hook_names))
    if not names:
        raise ValueError("record needs at least one hook name")
    check_position_hooks(names)
    _check_patches(patches, n)
    values: dict[str, Tensor] = {}
    out_logits: Tensor | None = None
    inputs: list[tuple[int, ...]] = [()] * n
    for idx in runner.batches(prompts, list(range(n)), runner.config.batch_size):
        batch = runner.tokenize([prompts[i] for i in idx], fmt)
        positions = batch.positions.to(runner.device)
        rec = ArrowRecorder(positions, names, width=int(batch.tokens.shape[1]))
        hooks = patches.hooks(idx, batch.positions, runner.n_layers) if patches else []
        got = runner.logits(batch, [*hooks, *rec.hooks]).cpu()
        if logits:
            if out_logits is None:
                out_logits = torch.zeros(n, got.shape[-1])
            out_logits[idx] = got
        for name in names:
            act = rec.get(name).cpu()
            if name not in values:
                values[name] = torch.zeros(n, *act.shape[1:])
            values[name][idx] = act
        for j, i in enumerate(idx):
            inputs[i] = tuple(batch.row_ids(j))
    return ArrowActivations(values, out_logits, tuple(inputs))


def _check_groups(prompts: Sequence[str], group_size: int) -> int:
    n = len(prompts)
    if n == 0:
        raise ValueError("empty batch: pass at least one prompt")
    if group_size < 1 or n % group_size:
        raise ValueError(f"{n} prompts do not split into groups of {group_size}")
    return n


def _check_patches(patches: PromptPatches | None, n: int) -> None:
    if patches is None:
        return
    if not isinstance(patches, PromptPatches):
        raise TypeError(
            f"patches must be a Patches, HeadPatches or another PromptPatches (with __len__ "
            f"and hooks(idx, positions, n_layers)), got {type(patches).__name__}"
        )
    if len(patches) != n:
        raise ValueError(f"{len(patches)} patches for {n} prompts")
