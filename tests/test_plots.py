"""Figure builders return plotly figures; write_html writes one self-contained file."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from tvlens import ICLExample, LayerSweepResult
from tvlens.analysis import (
    ConflictPairResult,
    ConflictResult,
    RobustnessResult,
    summarize_vectors,
)
from tvlens.report.plots import (
    conflict_figure,
    distance_histogram_figure,
    layer_sweep_figure,
    modes_figure,
    robustness_figure,
    vocab_figure,
    write_html,
)


def robustness_result() -> RobustnessResult:
    rng = np.random.default_rng(0)
    centers = np.eye(3, 8) * 5
    vectors = np.concatenate([c + 0.1 * rng.standard_normal((6, 8)) for c in centers])
    labels = ["a"] * 6 + ["b"] * 6 + ["c"] * 6
    return summarize_vectors(vectors, labels, layer=2, k=1, seed=0)


def conflict_result(n_pairs: int = 2) -> ConflictResult:
    ex = ICLExample(demos=(("a", "b"),), query="c", answer="d")
    ids = torch.tensor([1, 2, 3])
    pair = ConflictPairResult(
        task_a="next_letter",
        task_b="to_upper",
        layer=1,
        dev_accuracy=0.5,
        examples_a=(ex,) * 3,
        examples_b=(ex,) * 3,
        answer_ids_a=ids,
        answer_ids_b=ids + 10,
        regular_ids=ids,
        conflicting_ids=torch.tensor([11, 12, 3]),
    )
    return ConflictResult(pairs=(pair,) * n_pairs)


def test_layer_sweep_figure() -> None:
    fig = layer_sweep_figure({"a": [0.1, 0.5, 0.2], "b": [0.0, 0.9, 0.4]})
    assert isinstance(fig, go.Figure) and len(fig.data) == 3
    mean = fig.data[-1]
    assert mean.name == "mean" and list(mean.y) == pytest.approx([0.05, 0.7, 0.3])
    assert mean.line.width == 5 and fig.data[0].line.width is None
    sweep = LayerSweepResult(
        task="a",
        layers=(3, 4),
        accuracy=(0.2, 0.6),
        correct=torch.zeros(2, 2, dtype=torch.bool),
        predicted_token_ids=torch.zeros(2, 2, dtype=torch.long),
    )
    fig = layer_sweep_figure({"a": sweep})
    assert len(fig.data) == 2 and list(fig.data[0].x) == [3, 4]
    with pytest.raises(ValueError, match="different numbers of layers"):
        layer_sweep_figure({"a": [0.1], "b": [0.1, 0.2]})


def test_modes_figure() -> None:
    fig = modes_figure(
        {
            "t1": {"regular": 1.0, "hypothesis": 0.8, "baseline": 0.1},
            "t2": {"regular": 0.9, "hypothesis": 0.7, "baseline": 0.0},
        }
    )
    assert isinstance(fig, go.Figure) and len(fig.data) == 3
    assert [t.name for t in fig.data] == ["baseline", "hypothesis", "regular"]
    assert list(fig.data[2].y) == [1.0, 0.9]


def test_robustness_figures() -> None:
    res = robustness_result()
    fig = robustness_figure(res)
    assert isinstance(fig, go.Figure) and len(fig.data) == 3
    assert sum(len(t.x) for t in fig.data) == 18
    hist = distance_histogram_figure(res)
    assert isinstance(hist, go.Figure) and len(hist.data) == 2
    assert len(hist.data[0].x) == len(res.within) and len(hist.data[1].x) == len(res.across)


def test_conflict_figure() -> None:
    fig = conflict_figure(conflict_result(2))
    assert isinstance(fig, go.Figure) and len(fig.data) == 4
    by_name = {t.name: list(t.y) for t in fig.data}
    assert by_name["Regular, w.r.t. A"] == [1.0, 1.0]
    assert by_name["Conflicting, w.r.t. B"] == pytest.approx([2 / 3, 2 / 3])


def test_vocab_figure() -> None:
    table = pd.DataFrame(
        {
            "task": ["a", "a", "b", "b"],
            "rank": [0, 1, 0, 1],
            "token": [" x", " y", " z", " w"],
            "token_id": [1, 2, 3, 4],
            "prob": [0.5, 0.2, 0.4, 0.1],
        }
    )
    fig = vocab_figure(table)
    assert isinstance(fig, go.Figure) and len(fig.data) == 1


def test_write_html_is_self_contained(tmp_path) -> None:
    res = robustness_result()
    figures = {
        "t-SNE": robustness_figure(res),
        "distances": distance_histogram_figure(res),
        "conflict": conflict_figure(conflict_result(1)),
    }
    path = write_html(figures, tmp_path / "sub" / "report.html", title="tvlens <report>")
    text = path.read_text(encoding="utf-8")
    assert "https://cdn" not in text and "http://cdn" not in text
    assert "<script src=" not in text.lower()
    assert text.count("* plotly.js v") == 1  # the library is inlined exactly once
    assert text.count('class="plotly-graph-div"') == 3
    assert "<h2>t-SNE</h2>" in text and "tvlens &lt;report&gt;" in text
    plain = write_html([conflict_figure(conflict_result(1))], tmp_path / "one.html")
    assert plain.read_text(encoding="utf-8").count("* plotly.js v") == 1
    with pytest.raises(ValueError, match="no figures"):
        write_html([], tmp_path / "none.html")


def test_core_modules_do_not_import_plotly() -> None:
    code = (
        "import sys, tvlens, tvlens.hooks, tvlens.analysis; "
        "assert not [m for m in sys.modules if m.startswith('plotly')], 'plotly imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
