"""Numbers of results.json recomputed from what it records, with plain TransformerLens hooks.

The oracle here is written in the test and uses no tvlens function for its inputs: the
prompts are rendered from ``meta.format``'s fields and the recorded examples, the arrow is
found from each prompt's own tokens (one prompt per pass, no padding), the mean ``hook_z``
is read with ``run_with_cache`` and the heads are patched with ``run_with_hooks``; only the
tokenizer (``model.to_tokens``) and the model come from outside the test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch

from tests.conftest import build_tiny
from tvlens.run.protocol import ProtocolConfig, run_protocol

CFG = dict(tasks=["to_upper"], n_dev=4, n_test=4, n_baseline=4, n_demos=3, n_dummy=2)


@pytest.fixture(scope="module")
def model() -> Any:
    return build_tiny("bridge")


@pytest.fixture(scope="module")
def results(model: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny ``tvlens run --methods tv,fv``, as results.json holds it on disk."""
    out = tmp_path_factory.mktemp("independent") / "run"
    run_protocol(model, ProtocolConfig(**CFG, methods=["tv", "fv"]), out, progress=False)
    return json.loads((out / "results.json").read_text())


def render(fmt: dict[str, str], pairs: list[list[str]]) -> str:
    """``S + x ->`` of one recorded example (its demonstrations, then [query, answer])."""
    *demos, (query, _) = pairs
    pre, arrow, out = fmt["input_prefix"], fmt["arrow"], fmt["output_prefix"]
    shown = [f"{pre}{x}{arrow}{out}{y}" for x, y in demos]
    return fmt["demo_sep"].join([*shown, f"{pre}{query}{arrow}"])


def arrow_position(model: Any, tokens: torch.Tensor, arrow: str) -> int:
    """The last token of one prompt's tokens, checked to end the arrow."""
    position = tokens.shape[1] - 1
    assert model.tokenizer.decode(tokens[0, : position + 1].tolist()).endswith(arrow)
    return position


def hand_written_aie(
    model: Any,
    fmt: dict[str, str],
    clean: list[list[list[str]]],
    corrupted: list[list[list[str]]],
    answers: list[int],
) -> torch.Tensor:
    """The AIE of every head: mean hook_z over ``clean`` patched into ``corrupted``."""
    n_layers, n_heads = int(model.cfg.n_layers), int(model.cfg.n_heads)
    names = [f"blocks.{layer}.attn.hook_z" for layer in range(n_layers)]
    with torch.inference_mode():
        rows = []
        for pairs in clean:
            tokens = model.to_tokens(render(fmt, pairs))
            at = arrow_position(model, tokens, fmt["arrow"])
            _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
            rows.append(torch.stack([cache[name][0, at].float() for name in names]))
        mean_z = torch.stack(rows).mean(0)  # [n_layers, n_heads, d_head]

        aie = torch.zeros(n_layers, n_heads)
        for pairs, answer in zip(corrupted, answers, strict=True):
            tokens = model.to_tokens(render(fmt, pairs))
            at = arrow_position(model, tokens, fmt["arrow"])
            base = model(tokens)[0, at].float().softmax(-1)[answer]
            for layer in range(n_layers):
                for head in range(n_heads):

                    def patch(
                        z: torch.Tensor, hook: Any, la: int = layer, h: int = head, p: int = at
                    ) -> Any:
                        z[:, p, h] = mean_z[la, h].to(z.dtype)
                        return z

                    logits = model.run_with_hooks(tokens, fwd_hooks=[(names[layer], patch)])
                    prob = logits[0, at].float().softmax(-1)[answer]
                    aie[layer, head] += (prob - base) / len(corrupted)
    return aie


def test_the_recorded_aie_is_recomputed_from_its_recorded_prompts(model, results) -> None:
    fmt = results["meta"]["format"]
    effect = results["tasks"]["to_upper"]["fv"]["indirect_effect"]
    clean, corrupted = effect["clean_examples"], effect["corrupted_examples"]
    answers = effect["answer_token_ids"]
    assert len(clean) == CFG["n_dev"] and len(corrupted) == len(answers) == effect["n_corrupted"]
    for pairs, shuffled, answer in zip(clean, corrupted, answers, strict=True):
        # the same query and demonstration inputs, every demonstration's label wrong
        assert shuffled[-1] == pairs[-1]
        assert [x for x, _ in shuffled[:-1]] == [x for x, _ in pairs[:-1]]
        assert all(y != c for (_, y), (_, c) in zip(shuffled[:-1], pairs[:-1], strict=True))
        # the answer token is the tokenizer's, after the arrow
        ids = model.tokenizer(fmt["output_prefix"] + pairs[-1][1], add_special_tokens=False)
        assert ids["input_ids"] == [answer]
    aie = hand_written_aie(model, fmt, clean, corrupted, answers)
    assert float(aie.abs().max()) > 0
    torch.testing.assert_close(torch.tensor(effect["aie"]), aie, atol=1e-5, rtol=0)
