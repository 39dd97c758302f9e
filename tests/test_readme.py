"""The README's tiny-model code blocks run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_tiny_model_blocks_run(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks()
    assert len(blocks) >= 5
    namespace: dict = {}
    # the tiny-model walkthrough, the Runner, Runner.record, generation, the hooks
    for block in blocks[:5]:
        exec(compile(block, str(README), "exec"), namespace)
    assert (tmp_path / "to_upper_theta.safetensors").exists()
    assert (tmp_path / "to_upper_theta.json").exists()
    assert namespace["logits"].shape[0] == 2
    assert len(namespace["reg"].predictions) == 10
    assert 0.0 <= namespace["hyp"].exact_match <= 1.0
    model, z = namespace["model"], namespace["z"]
    assert z.shape == (10, model.cfg.n_heads, model.cfg.d_head)
    assert namespace["acts"].logits.shape == (10, model.cfg.d_vocab)
