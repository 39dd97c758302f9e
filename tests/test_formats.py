"""The named prompt formats (issue 22, item 1): each renders as its fields say, round-trips
through JSON, runs every path on the tiny models of every kind, and is validated as the
paper's two are."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import ALL_KINDS, tiny_of_kind
from tests.helpers import letter_examples
from tvlens import ICLExample, PromptFormat, extract_thetas, regular
from tvlens.oracles import reference_theta, render
from tvlens.prompts import FORMATS, check_examples, get_format
from tvlens.run.protocol_config import ProtocolConfig

EXAMPLES = letter_examples(4, n_demos=3, n_dummy=2, seed=5)
NEW = ("qa", "input_output", "equals", "colon", "arrow_unicode", "instruction")


def test_eight_named_formats_render_as_documented() -> None:
    assert set(NEW) | {"arrow", "paper"} == set(FORMATS)
    shown = {name: FORMATS[name].icl([("a", "b")], "c") for name in FORMATS}
    assert shown["qa"] == "Q: a\nA: b\n\nQ: c\nA:"
    assert shown["input_output"] == "Input: a\nOutput: b\n\nInput: c\nOutput:"
    assert shown["equals"] == "a = b\nc ="
    assert shown["colon"] == "a: b\nc:"
    assert shown["arrow_unicode"] == "a \u2192 b\nc \u2192"
    pre = FORMATS["instruction"].preamble
    assert pre and shown["instruction"] == pre + "a -> b\nc ->"
    assert FORMATS["instruction"].zero_shot("c") == pre + "c ->"  # zero-shot keeps it too
    for name, fmt in FORMATS.items():
        assert fmt.name == name and get_format(name) is fmt
        assert PromptFormat(**fmt.to_dict()) == fmt
        # every prompt ends with the arrow, where θ is read
        assert fmt.zero_shot("c").endswith(fmt.arrow) and fmt.icl([], "c") == fmt.zero_shot("c")


def test_a_format_without_preamble_writes_the_json_it_always_wrote() -> None:
    # results.json of earlier runs record the format; it must still compare equal
    assert "preamble" not in FORMATS["arrow"].to_dict()
    assert FORMATS["instruction"].to_dict()["preamble"] == FORMATS["instruction"].preamble


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("name", NEW)
def test_every_new_format_reads_theta_and_predicts_as_plain_hooks_do(kind: str, name: str) -> None:
    model, fmt = tiny_of_kind(kind), FORMATS[name]
    thetas = extract_thetas(model, EXAMPLES, fmt=fmt, layers=[1])
    for i, ex in enumerate(EXAMPLES[:2]):  # the oracle renders its own prompts
        want = reference_theta(model, ex, fmt)[1].float()
        assert torch.allclose(thetas[i, 0], want, atol=1e-4), (name, i)
    got = regular(model, EXAMPLES[:2], fmt=fmt)
    for p, ex in zip(got.predictions, EXAMPLES[:2], strict=True):
        logits = model(render(fmt, ex.demos, ex.query))[0, -1]
        assert p.predicted_token_id == int(logits.argmax())


def test_the_formats_give_different_prompts_and_different_thetas() -> None:
    model = tiny_of_kind("hooked" if "hooked" in ALL_KINDS else "bridge")
    seen = [extract_thetas(model, EXAMPLES[:1], fmt=FORMATS[n], layers=[1])[0, 0] for n in NEW]
    for i in range(len(seen)):
        for j in range(i):
            assert not torch.allclose(seen[i], seen[j], atol=1e-4), (NEW[i], NEW[j])


def test_data_holding_a_formats_arrow_is_refused_naming_the_format() -> None:
    bad = ICLExample(demos=(("10:30", "ten thirty"),), query="a", answer="A", dummy_queries=("b",))
    check_examples([bad], FORMATS["arrow"])  # fine where ':' is not the arrow
    with pytest.raises(ValueError, match=r"contains the arrow ':' of format 'colon'"):
        check_examples([bad], FORMATS["colon"])
    qa = ICLExample(demos=(("a", "b"),), query="say A: yes", answer="A", dummy_queries=("b",))
    with pytest.raises(ValueError, match=r"arrow 'A:' of format 'qa'"):
        check_examples([qa], FORMATS["qa"])


def test_a_preamble_may_not_hold_the_arrow(no_jaxtyping: None) -> None:
    with pytest.raises(ValueError, match=r"preamble .* contains the arrow '->'.*reword"):
        PromptFormat(preamble="Map x -> y.\n", name="bad")
    with pytest.raises(TypeError, match=r"PromptFormat.preamble must be a str"):
        PromptFormat(preamble=None, name="bad")  # type: ignore[arg-type]


def test_the_protocol_and_the_cli_take_every_named_format() -> None:
    for name in FORMATS:
        assert ProtocolConfig(format=name).prompt_format is FORMATS[name]
    with pytest.raises(ValueError, match=r"unknown prompt format 'yaml'.*'qa'"):
        ProtocolConfig(format="yaml")
    from tvlens.cli import _parser

    args = _parser().parse_args(["run", "--format", "input_output", "--out", "x"])
    assert args.format == "input_output"


@pytest.mark.parametrize("name", NEW)
def test_the_fast_paths_probe_in_the_runners_own_format(name: str) -> None:
    # the packing and KV-cache probes render their prompts in the Runner's format; with the
    # arrow format's prompts they failed on every other arrow, turning both fast paths off
    from tvlens import Runner
    from tvlens.engine.decoding import probe_kv_cache
    from tvlens.engine.probes import probe_packing

    for kind in ("hooked", "hf-llama"):
        if kind not in ALL_KINDS:
            continue
        model = tiny_of_kind(kind)
        runner, plain = Runner(model, fmt=FORMATS[name]), Runner(model)
        assert probe_packing(runner).exact == probe_packing(plain).exact  # HF bridges only
        assert probe_kv_cache(runner).usable, probe_kv_cache(runner).reason
    assert probe_packing(Runner(tiny_of_kind("hf-llama"), fmt=FORMATS[name])).exact
