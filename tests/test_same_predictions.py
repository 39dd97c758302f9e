"""``scripts/same_predictions.py``: two runs' predictions compared task by task."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import build_tiny
from tvlens.engine.config import RunConfig
from tvlens.run.protocol import ProtocolConfig, run_protocol

ROOT = Path(__file__).resolve().parents[1]
CFG = {"n_dev": 4, "n_test": 4, "n_baseline": 4, "n_demos": 3, "tasks": ["to_upper", "to_lower"]}


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "same_predictions", ROOT / "scripts" / "same_predictions.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["same_predictions"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("answers", ["single", "any"])
def test_same_runs_pass_and_a_changed_prediction_fails(tmp_path: Path, answers: str) -> None:
    model = build_tiny("bridge")
    a, b = tmp_path / "a", tmp_path / "b"
    run_protocol(model, ProtocolConfig(answers=answers, **CFG), a, progress=False)  # type: ignore[arg-type]
    other = RunConfig(batch_size=1, generate_batch_size=1)  # another schedule, same numbers
    run_protocol(model, ProtocolConfig(answers=answers, run=other, **CFG), b, progress=False)  # type: ignore[arg-type]
    script = _script()
    assert script.main([str(a), str(b)]) == 0
    path = b / "results.json"
    data = json.loads(path.read_text())
    row = data["tasks"]["to_lower"]["baseline_examples"][2]["baseline"]
    key = "generated_token_ids" if answers == "any" else "predicted_token_id"
    row[key] = [7] if answers == "any" else 7
    path.write_text(json.dumps(data))
    assert script.main([str(a), str(b)]) == 1
    assert script.differences(data["tasks"]["to_upper"], data["tasks"]["to_upper"]) == []
    assert script.differences(
        json.loads((a / "results.json").read_text())["tasks"]["to_lower"], data["tasks"]["to_lower"]
    ) == ["baseline_examples[2].baseline"]
