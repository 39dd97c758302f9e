"""Generation with θ patched in: batched == one at a time, KV cache == recompute, patch
positions, stop strings, next-token equivalence, answer scoring, bad input."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.conftest import build_tiny, count_fwd_hooks
from tests.helpers import letter_examples
from tvlens import ICLExample, baseline, hypothesis, regular
from tvlens.engine.decoding import greedy_generate
from tvlens.engine.kv_cache import kv_cache_kind
from tvlens.engine.patches import Patches
from tvlens.engine.runner import RunConfig, Runner
from tvlens.evaluation.answer_scoring import (
    GenerationResult,
    answer_steps,
    answer_within,
    as_stops,
    exact_match,
    first_token_correct,
    normalize_answer,
    score_answer,
    token_f1,
)
from tvlens.evaluation.generation import (
    generate_baseline,
    generate_hypothesis,
    generate_regular,
)
from tvlens.hooks import resid_hook_name
from tvlens.prompts import DEFAULT_FORMAT as FMT
from tvlens.prompts import PromptFormat
from tvlens.testing import tiny_hf_bridge

KINDS = ["hooked", "bridge", "hf-llama", "hf-gemma3"]
TEXTS = [
    "a -> A\nb -> B\nc ->",
    "d ->",
    "x -> X\ny -> Y\nz -> Z\nw ->",
    "cat dog ->",
    "e -> E\nf ->",
]
EXAMPLES = letter_examples(5, n_demos=3, n_dummy=2, seed=3)
_MODELS: dict[str, Any] = {}


def build(kind: str) -> Any:
    if kind.startswith("hf-"):
        return tiny_hf_bridge(arch=kind[3:])  # type: ignore[arg-type]
    return build_tiny(kind)


@pytest.fixture(scope="module", params=KINDS)
def model(request: pytest.FixtureRequest) -> Any:
    """One tiny model of each class, built once for this module (no hooks left on it)."""
    if request.param not in _MODELS:
        _MODELS[request.param] = build(request.param)
    return _MODELS[request.param]


@pytest.fixture()
def no_jaxtyping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Call tvlens without the test session's jaxtyping + beartype layer, as users do."""
    import jaxtyping

    monkeypatch.setattr(jaxtyping.config, "jaxtyping_disable", True)


def patches_for(runner: Runner, n: int, mode: str = "add", seed: int = 0) -> Patches:
    gen = torch.Generator().manual_seed(seed)
    vectors = torch.randn(n, runner.d_model, generator=gen)
    return Patches.at_layer(vectors, runner.n_layers // 2, mode)  # type: ignore[arg-type]


# ---- padding and batching ------------------------------------------------------------------
@pytest.mark.parametrize("at", ["arrow", "all"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_batched_equals_one_at_a_time(model, side, at) -> None:
    runner = Runner(model, RunConfig(batch_size=3, generate_batch_size=3))
    patches = patches_for(runner, len(TEXTS))
    kw: dict[str, Any] = {"patches": patches, "at": at, "max_new_tokens": 5, "stop": ()}
    batched = runner.generate(TEXTS, FMT, padding_side=side, **kw)
    for i, text in enumerate(TEXTS):
        kw["patches"] = Patches.at_layer(patches.vectors[i : i + 1], int(patches.layers[0]), "add")
        alone = runner.generate([text], FMT, kv_cache=False, **kw)
        assert alone.token_ids[0] == batched.token_ids[i], (i, side, at)
        assert alone.input_ids[0] == batched.input_ids[i]
        assert batched.stop_reasons[i] == ("length" if len(alone.token_ids[0]) == 5 else "eos")


def test_generations_value(tiny_model) -> None:
    runner = Runner(tiny_model)
    gens = runner.generate(TEXTS[:2], FMT, max_new_tokens=3, stop=())
    assert len(gens) == 2
    one = gens[1]
    assert one.token_ids == gens.token_ids[1]
    assert one.input_ids == tuple(runner.token_ids([TEXTS[1]], FMT)[0])
    tok = tiny_model.tokenizer
    if one.stop_reason != "eos":
        assert one.text == tok.decode(list(one.token_ids))


# ---- KV cache ------------------------------------------------------------------------------
def _assert_cache_equals_recompute(runner: Runner) -> None:
    patches = patches_for(runner, len(TEXTS))
    for side in ("left", "right"):
        for at in ("arrow", "all"):
            for p in (None, patches):
                kw: dict[str, Any] = {"patches": p, "at": at, "max_new_tokens": 6, "stop": ()}
                cached = runner.generate(TEXTS, FMT, kv_cache=True, padding_side=side, **kw)
                recomputed = runner.generate(TEXTS, FMT, kv_cache=False, **kw)
                assert cached.kv_cache and not recomputed.kv_cache
                assert cached.token_ids == recomputed.token_ids, (side, at, p is None)


def test_kv_cache_verdict_and_agreement(model) -> None:
    runner = Runner(model, RunConfig(batch_size=4))
    verdict = runner.kv_cache
    assert runner.kv_cache is verdict  # probed once per Runner
    if kv_cache_kind(model):  # HookedTransformer, or a bridge over an HF model
        assert verdict.usable, verdict.reason
    if verdict.usable:
        assert runner.generate(TEXTS, FMT, max_new_tokens=2).kv_cache  # auto uses it
        _assert_cache_equals_recompute(runner)
        return
    # a TransformerBridge over no HF model (the tiny native one) has no cache to drive
    assert "no KV cache" in verdict.reason
    assert not runner.generate(TEXTS, FMT, max_new_tokens=2).kv_cache
    with pytest.raises(ValueError, match="kv_cache=True cannot be used"):
        runner.generate(TEXTS, FMT, kv_cache=True)


def _pre_hooks(model: Any) -> int:
    """tvlens's cache-alias pre-hooks on ``model`` (TransformerLens wires pre-hooks of its own)."""
    from tvlens.engine.kv_cache import _cache_as_past_key_values

    return sum(
        fn is _cache_as_past_key_values
        for m in model.modules()
        for fn in m._forward_pre_hooks.values()
    )


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_hf_bridge_generates_with_the_cache_exactly(arch) -> None:
    """transformers 5 passes the HF cache to attention as ``cache``, the bridge's attention
    reads ``past_key_values``: tvlens hands it over (``hf_cache_alias``) for each cached
    batch, and the cached path then equals recompute token for token, patches included."""
    model = tiny_hf_bridge(arch=arch)  # type: ignore[arg-type]
    runner = Runner(model, RunConfig(batch_size=4))
    assert runner.kv_cache.usable, runner.kv_cache.reason
    _assert_cache_equals_recompute(runner)  # in two batches
    one_batch = Runner(runner.model, RunConfig(batch_size=8))
    for at in ("arrow", "all"):
        for side in ("left", "right"):
            _check_patch_positions(one_batch, at, True, side)
    assert _pre_hooks(model) == 0  # tvlens's pre-hooks are gone


def test_the_cache_alias_leaves_no_hook_when_a_hook_raises() -> None:
    model = tiny_hf_bridge(arch="llama")
    runner = Runner(model, RunConfig(batch_size=4))
    assert runner.kv_cache.usable

    def boom(act: torch.Tensor, hook: Any) -> torch.Tensor:
        raise RuntimeError("a user's hook fails")

    with pytest.raises(RuntimeError, match="a user's hook fails"):
        runner.generate(TEXTS, FMT, kv_cache=True, fwd_hooks=[(resid_hook_name(0), boom)])
    assert _pre_hooks(model) == 0 and count_fwd_hooks(model) == 0
    # and the model still generates (with the cache) as before
    assert runner.generate(TEXTS, FMT, kv_cache=True, max_new_tokens=2).kv_cache


# ---- where the patch goes ------------------------------------------------------------------
def _recorder(layer: int, theta: torch.Tensor, log: list[set[tuple[int, int]]]) -> Any:
    def hook(resid: torch.Tensor, hook: Any) -> torch.Tensor:
        hit = (resid == theta.to(resid.dtype)).all(-1)
        log.append({(int(r), int(p)) for r, p in hit.nonzero().tolist()})
        return resid

    return (resid_hook_name(layer), hook)


def _check_patch_positions(runner: Runner, at: str, kv_cache: bool, side: str) -> None:
    """θ (replace mode) is found, after the patch, exactly where ``at`` says, every step.

    ``runner`` must run ``TEXTS`` in one batch.
    """
    layer, steps = 1, 4
    theta = torch.full((runner.d_model,), 3.25)
    patches = Patches.at_layer(theta.expand(len(TEXTS), -1), layer, "replace")
    log: list[set[tuple[int, int]]] = []
    gens = runner.generate(
        TEXTS,
        FMT,
        patches=patches,
        at=at,
        max_new_tokens=steps,
        stop=(),
        kv_cache=kv_cache,
        padding_side=side,
        fwd_hooks=[_recorder(layer, theta, log)],
    )
    ids = runner.token_ids(TEXTS, FMT)
    order = sorted(range(len(TEXTS)), key=lambda i: len(ids[i]))  # the batch's rows
    lengths = [len(g) for g in gens.token_ids]
    assert len(log) == max(lengths)  # one forward per step (the prompt pass is the first)
    for step, written in enumerate(log):
        if kv_cache and step > 0:
            # every row is fed its new token (stopped ones too): patched only when at="all"
            want = {(r, 0) for r in range(len(TEXTS))} if at == "all" else set()
        else:
            # recompute: rows that stopped have left the batch; the prompt pass has them all
            active = [i for i in order if lengths[i] > step]
            width = max(len(ids[i]) + step for i in active)
            shifts = range(step + 1) if at == "all" else range(1)
            want = set()
            for r, i in enumerate(active):
                offset = 0 if side == "right" else width - len(ids[i]) - step
                want |= {(r, offset + len(ids[i]) - 1 + s) for s in shifts}
        assert written == want, (step, at, kv_cache, side)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("at", ["arrow", "all"])
@pytest.mark.parametrize("kv_cache", [False, True])
def test_patch_is_written_exactly_where_at_says(model, at, kv_cache, side) -> None:
    runner = Runner(model, RunConfig(batch_size=8))
    if kv_cache and not runner.kv_cache.usable:
        pytest.skip(f"no KV cache on this model: {runner.kv_cache.reason}")
    _check_patch_positions(runner, at, kv_cache, side)


def test_a_patch_at_the_arrow_changes_the_continuation(tiny_model) -> None:
    runner = Runner(tiny_model)
    patches = patches_for(runner, len(TEXTS), mode="replace", seed=1)
    plain = runner.generate(TEXTS, FMT, max_new_tokens=3, stop=())
    patched = runner.generate(TEXTS, FMT, patches=patches, max_new_tokens=3, stop=())
    assert plain.token_ids != patched.token_ids


# ---- stopping ------------------------------------------------------------------------------
def _first_containing(tok: Any, ids: tuple[int, ...], stop: str) -> int | None:
    for k in range(1, len(ids) + 1):
        if stop in tok.decode(list(ids[:k])):
            return k
    return None


def _pick_stop(tok: Any, gens: Any) -> tuple[str, int, int] | None:
    """A stop string ending some row's continuation at token 2 or later, and not every row's.

    Returns the string, the row and the number of tokens that row keeps.
    """
    for row, ids in enumerate(gens.token_ids):
        for k in range(1, len(ids)):
            piece = tok.decode([ids[k]])
            if not piece.strip() or "\ufffd" in piece or "->" in piece:
                continue
            first = _first_containing(tok, ids, piece)
            others = [_first_containing(tok, other, piece) for other in gens.token_ids]
            if first is not None and first >= 2 and any(o is None for o in others):
                return piece, row, first
    return None


def test_stop_strings_stop_and_stopped_rows_stay_unchanged(model) -> None:
    runner = Runner(model, RunConfig(batch_size=8))
    tok = model.tokenizer
    free = runner.generate(TEXTS, FMT, max_new_tokens=6, stop=())
    picked = _pick_stop(tok, free)
    if picked is None:
        pytest.skip("no usable stop string in this model's continuations")
    stop, row, k = picked
    stopped = runner.generate(TEXTS, FMT, max_new_tokens=6, stop=stop)
    for i, ids in enumerate(free.token_ids):
        cut = _first_containing(tok, ids, stop)
        if free.stop_reasons[i] == "eos" and (cut is None or cut == len(ids)):
            assert stopped.token_ids[i] == ids
            continue
        if cut is None:
            assert stopped.token_ids[i] == ids and stopped.stop_reasons[i] == "length"
        else:  # stopped where the stop string appeared; nothing generated after it
            assert stopped.token_ids[i] == ids[:cut] and stopped.stop_reasons[i] == "stop"
    assert stopped.token_ids[row] == free.token_ids[row][:k]
    assert stopped.stop_reasons[row] == "stop"
    # The default stop is the format's demo separator.
    fmt = PromptFormat(demo_sep=stop) if stop not in FMT.arrow else None
    if fmt is not None:
        zero = ["d ->", "cat dog ->"]
        by_fmt = runner.generate(zero, fmt, max_new_tokens=6)
        by_arg = runner.generate(zero, FMT, max_new_tokens=6, stop=stop)
        assert by_fmt.token_ids == by_arg.token_ids


def test_eos_stops_a_row_and_is_left_out_of_its_text() -> None:
    model = build_tiny("bridge")
    runner = Runner(model)
    free = runner.generate(TEXTS[:3], FMT, max_new_tokens=5, stop=())
    tok = model.tokenizer
    eos = free.token_ids[0][2]  # pretend the row's third token is EOS
    old = tok.eos_token
    tok.eos_token = tok.convert_ids_to_tokens(eos)
    try:
        assert tok.eos_token_id == eos
        gens = runner.generate(TEXTS[:3], FMT, max_new_tokens=5, stop=())
    finally:
        tok.eos_token = old
    first = free.token_ids[0].index(eos) + 1
    assert gens.token_ids[0] == free.token_ids[0][:first]
    assert gens.stop_reasons[0] == "eos"
    assert gens.texts[0] == tok.decode(list(free.token_ids[0][: first - 1]))


# ---- max_new_tokens=1 is next-token scoring ------------------------------------------------
def test_one_new_token_equals_next_token_scoring(model) -> None:
    runner = Runner(model, RunConfig(batch_size=3))
    layer = runner.n_layers // 2
    pairs = [
        (generate_regular(model, EXAMPLES, run=runner, max_new_tokens=1), regular(model, EXAMPLES)),
        (
            generate_hypothesis(model, EXAMPLES, layer, run=runner, max_new_tokens=1),
            hypothesis(model, EXAMPLES, layer),
        ),
        (
            generate_baseline(model, EXAMPLES, run=runner, max_new_tokens=1),
            baseline(model, EXAMPLES),
        ),
    ]
    for gen, ref in pairs:
        assert gen.mode == ref.mode
        assert [p.generated_token_ids for p in gen.predictions] == [
            (p.predicted_token_id,) for p in ref.predictions
        ]
        assert gen.first_token_accuracy == ref.accuracy
        assert [p.input_ids for p in gen.predictions] == [p.input_ids for p in ref.predictions]
        assert gen.within(1) == ref.accuracy  # one-token answers


def test_generation_result_and_dataframe(tiny_model) -> None:
    result = generate_hypothesis(tiny_model, EXAMPLES, 1, max_new_tokens=3, at="all")
    assert isinstance(result, GenerationResult)
    assert result.layer == 1 and result.at == "all" and result.max_new_tokens == 3
    assert set(result.metrics) == {"exact_match", "first_token", "f1", "within_k"}
    assert result.accuracy == result.exact_match
    df = result.to_dataframe()
    assert len(df) == len(EXAMPLES)
    for col in ("generated_token_ids", "generated_text", "predicted", "exact_match", "f1"):
        assert col in df.columns
    p = result.predictions[0]
    assert p.dummy_queries == EXAMPLES[0].dummy_queries and p.layer == 1
    assert 1 <= len(p.generated_token_ids) <= 3
    assert p.predicted == normalize_answer(p.generated_text, result.stops)
    base = generate_baseline(tiny_model, EXAMPLES, max_new_tokens=2)
    assert base.predictions[0].demos == () and base.layer is None


def test_results_do_not_depend_on_batch_size(tiny_model) -> None:
    one = RunConfig(batch_size=1, generate_batch_size=1)
    a = generate_regular(tiny_model, EXAMPLES, run=one, max_new_tokens=4)
    b = generate_regular(tiny_model, EXAMPLES, run=RunConfig(batch_size=16), max_new_tokens=4)
    assert [p.generated_token_ids for p in a.predictions] == [
        p.generated_token_ids for p in b.predictions
    ]


def test_generate_batch_size_sets_the_rows_decoded_together(tiny_model, monkeypatch) -> None:
    sizes: list[int] = []
    real = Runner.batches

    def spy(prompts, todo, size):
        sizes.append(size)
        return real(prompts, todo, size)

    monkeypatch.setattr(Runner, "batches", staticmethod(spy))
    kw: dict[str, Any] = {"max_new_tokens": 1, "kv_cache": False}  # no cache probe
    Runner(tiny_model, RunConfig(generate_batch_size=2)).generate(TEXTS, FMT, **kw)
    Runner(tiny_model).generate(TEXTS, FMT, rows_per_pass=5, **kw)
    Runner(tiny_model).generate(TEXTS, FMT, **kw)
    assert sizes == [2, 5, RunConfig().generate_batch_size]


# ---- scoring (pure) ------------------------------------------------------------------------
BUENOS, AIRES, DIAS, NL, OTHER = 11, 12, 13, 5, 99  # token ids of a made-up tokenizer


@pytest.mark.parametrize(
    ("text", "ids", "em", "first", "f1", "steps"),
    [
        (" Buenos Aires\n", [BUENOS, AIRES, NL], True, True, 1.0, 2),
        (" Buenos Dias\n", [BUENOS, DIAS, NL], False, True, 0.5, None),
        (" Buenos Aires is big", [BUENOS, AIRES, OTHER], False, True, 2 * (2 / 4 * 1) / 1.5, 2),
        (" Paris\n Buenos Aires", [OTHER, NL, BUENOS, AIRES], False, False, 0.0, None),
        (" Buenos", [BUENOS], False, True, 2 / 3, None),
        ("", [], False, False, 0.0, None),
    ],
)
def test_scoring_buenos_aires(text, ids, em, first, f1, steps) -> None:
    s = score_answer(text, ids, "Buenos Aires", [BUENOS, AIRES], ("\n",))
    assert s.exact_match is em
    assert s.first_token is first
    assert s.f1 == pytest.approx(f1)
    assert s.answer_steps == steps
    assert s.within(2) is (steps is not None)
    assert s.within(1) is False
    assert answer_within(ids, [BUENOS, AIRES], 8) is (steps is not None)


def test_scoring_helpers(no_jaxtyping) -> None:
    assert normalize_answer("  Paris \n Rome", ("\n",)) == "Paris"
    assert normalize_answer(" a;b\nc", ("\n", ";")) == "a"
    assert exact_match(" Paris\n", "Paris") and not exact_match(" paris\n", "Paris")
    assert token_f1("", "") == 1.0 and token_f1("a", "") == 0.0
    assert token_f1("a a b", "a b") == pytest.approx(0.8)
    assert first_token_correct([3], [3, 4]) and not first_token_correct([], [3])
    assert answer_steps([3, 4, 5], [3, 4]) == 2 and answer_steps([3], [3, 4]) is None
    assert as_stops("\n") == ("\n",) and as_stops(()) == ()
    with pytest.raises(ValueError, match="non-empty"):
        as_stops("")
    with pytest.raises(TypeError, match="stop strings must be str"):
        as_stops([1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="k must be"):
        answer_within([1], [1], 0)


# ---- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"max_new_tokens": 0}, ValueError, "max_new_tokens must be >= 1"),
        ({"max_new_tokens": -2}, ValueError, "max_new_tokens must be >= 1"),
        ({"max_new_tokens": True}, TypeError, "max_new_tokens must be an int"),
        ({"max_new_tokens": 2.0}, TypeError, "max_new_tokens must be an int"),
        ({"at": "middle"}, ValueError, "at must be 'arrow'"),
        ({"padding_side": "up"}, ValueError, "padding_side"),
        ({"kv_cache": "yes"}, TypeError, "kv_cache must be"),
        ({"stop": ""}, ValueError, "non-empty"),
    ],
)
def test_generate_refuses_bad_arguments(tiny_model, no_jaxtyping, kwargs, err, match) -> None:
    runner = Runner(tiny_model)
    with pytest.raises(err, match=match):
        runner.generate(TEXTS, FMT, **kwargs)
    with pytest.raises(err, match=match):
        greedy_generate(runner, TEXTS, FMT, **kwargs)


def test_generate_refuses_bad_prompts_and_patches(tiny_model) -> None:
    runner = Runner(tiny_model)
    with pytest.raises(ValueError, match="empty batch"):
        runner.generate([], FMT)
    with pytest.raises(ValueError, match="does not end with the arrow"):
        runner.generate(["a -> A"], FMT)
    with pytest.raises(ValueError, match="2 patches for 5 prompts"):
        runner.generate(TEXTS, FMT, patches=patches_for(runner, 2))


def test_modes_refuse_bad_input(tiny_model, no_jaxtyping) -> None:
    with pytest.raises(ValueError, match="empty batch"):
        generate_regular(tiny_model, [])
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1"):
        generate_baseline(tiny_model, EXAMPLES, max_new_tokens=0)
    with pytest.raises(ValueError, match="out of range"):
        generate_hypothesis(tiny_model, EXAMPLES, 99)
    with pytest.raises(ValueError, match="at must be 'arrow'"):
        generate_hypothesis(tiny_model, EXAMPLES, 1, at="everywhere")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of ICLExample"):
        generate_regular(tiny_model, EXAMPLES[0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="vector tensor must be"):
        generate_hypothesis(tiny_model, EXAMPLES, 1, vector=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="another model"):
        generate_regular(tiny_model, EXAMPLES, run=Runner(build_tiny("bridge", n_layers=2)))


def test_generate_sweep_equals_generate_hypothesis_per_layer(tiny_model) -> None:
    from tvlens.evaluation.generation import generate_sweep

    examples = letter_examples(4, n_demos=2, n_dummy=1, seed=5)
    sweep = generate_sweep(
        tiny_model, examples, max_new_tokens=3, run=RunConfig(sweep_batch_size=5)
    )
    assert sorted(sweep) == list(range(tiny_model.cfg.n_layers))
    for layer, result in sweep.items():
        plain = generate_hypothesis(
            tiny_model, examples, layer, max_new_tokens=3, run=RunConfig(batch_size=1)
        )
        assert [p.generated_token_ids for p in result.predictions] == [
            p.generated_token_ids for p in plain.predictions
        ]
        assert result.exact_match == plain.exact_match


def test_first_token_sweep_scores_the_first_token_of_long_answers(tiny_model) -> None:
    from tvlens import layer_sweep

    long = [
        ICLExample(demos=(("a", "A b"),), query=q, answer=q.upper() + " b", dummy_queries=("c",))
        for q in "defg"
    ]
    with pytest.raises(ValueError, match="tokens"):
        layer_sweep(tiny_model, long)
    sweep = layer_sweep(tiny_model, long, first_token=True)
    first = [
        tiny_model.tokenizer(" " + q.upper(), add_special_tokens=False)["input_ids"][0]
        for q in "defg"
    ]
    assert (sweep.correct == (sweep.predicted_token_ids == torch.tensor(first)[:, None])).all()


def test_cached_equals_recompute_when_rows_stop_at_different_steps(model) -> None:
    """The cached path unembeds only the rows still generating: with a stop string that ends
    some rows early, every row's tokens and stop reason equal the recomputed ones."""
    runner = Runner(model, RunConfig(batch_size=8))
    if not runner.kv_cache.usable:
        pytest.skip(f"no KV cache on this model: {runner.kv_cache.reason}")
    free = runner.generate(TEXTS, FMT, max_new_tokens=6, stop=(), kv_cache=False)
    picked = _pick_stop(model.tokenizer, free)
    if picked is None:
        pytest.skip("no usable stop string in this model's continuations")
    stop = picked[0]
    for side in ("left", "right"):
        cached = runner.generate(TEXTS, FMT, max_new_tokens=6, stop=stop, kv_cache=True,
                                 padding_side=side)  # fmt: skip
        recomputed = runner.generate(TEXTS, FMT, max_new_tokens=6, stop=stop, kv_cache=False)
        assert cached.token_ids == recomputed.token_ids
        assert cached.stop_reasons == recomputed.stop_reasons
        lengths = {len(ids) for ids in cached.token_ids}
        assert len(lengths) > 1  # rows did stop at different steps
