"""The README's code blocks run as written, on a tiny model.

Convention (README.md and docs/*.md alike; ``tests/test_docs.py`` runs the pages): every fenced
``python`` block runs in the tests, the blocks of one file in order in one namespace. A block
that needs a real model, the network, or is only illustrative is marked on the line right
before its fence with ``<!-- no-test: REASON -->`` (the reason is required) and is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NO_TEST = re.compile(r"^<!-- no-test:(.*)-->\s*$")
FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)")


class Block(NamedTuple):
    """A fenced ``python`` block: its first code line (1-based), code, and no-test reason."""

    line: int
    code: str
    no_test: str | None


def python_blocks(path: Path) -> list[Block]:
    """The ``python`` blocks of a Markdown file, in order (fences nested in longer fences and
    blocks of other languages are not ``python`` blocks)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i].strip())
        if not m:
            i += 1
            continue
        fence, lang = m.group(1), m.group(2)
        start = i + 1
        i += 1
        while i < len(lines):
            s = lines[i].strip()
            if s.startswith(fence[0] * len(fence)) and set(s) == {fence[0]}:
                break
            i += 1
        if lang == "python":
            before = NO_TEST.match(lines[start - 2]) if start >= 2 else None
            reason = before.group(1).strip() if before else None
            blocks.append(Block(start + 1, "\n".join(lines[start:i]) + "\n", reason))
        i += 1
    return blocks


def run_blocks(path: Path, namespace: dict) -> int:
    """Run the runnable blocks of ``path`` in ``namespace``; returns how many ran."""
    ran = 0
    for block in python_blocks(path):
        if block.no_test is None:
            code = "\n" * (block.line - 1) + block.code  # tracebacks point at the file's line
            exec(compile(code, str(path), "exec"), namespace)
            ran += 1
    return ran


def test_readme_tiny_model_blocks_run(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(README)
    # the tiny-model walkthrough, the Runner, Runner.record, the hooks: all runnable
    assert len(blocks) >= 4 and all(b.no_test is None for b in blocks)
    namespace: dict = {}
    assert run_blocks(README, namespace) == len(blocks)
    assert (tmp_path / "to_upper_theta.safetensors").exists()
    assert (tmp_path / "to_upper_theta.json").exists()
    assert namespace["logits"].shape[0] == 2
    assert len(namespace["reg"].predictions) == 10
    model, z = namespace["model"], namespace["z"]
    assert z.shape == (10, model.cfg.n_heads, model.cfg.d_head)
    assert namespace["acts"].logits.shape == (10, model.cfg.d_vocab)


def test_readme_is_a_front_door() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.split("\n")) <= 300
    assert "make run" in text and "make test" in text
    assert "<!-- table: gemma-3-270m-fv/main -->" in text  # the headline table
    for target in re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", text):
        assert (ROOT / target).is_file(), target


def test_block_parser_reads_markers_and_nested_fences(tmp_path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "```python\nx = 1\n```\n\n<!-- no-test: needs Gemma -->\n```python\ny = 2\n```\n\n"
        "````markdown\n```python\nz = 3\n```\n````\n\n```bash\nls\n```\n"
    )
    blocks = python_blocks(page)
    assert [(b.code, b.no_test) for b in blocks] == [("x = 1\n", None), ("y = 2\n", "needs Gemma")]
    assert blocks[0].line == 2 and blocks[1].line == 7
    ns: dict = {}
    assert run_blocks(page, ns) == 1 and ns["x"] == 1 and "y" not in ns
