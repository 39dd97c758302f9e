"""``tvlens grid``: cells, grid.json, reruns, failures; Ray == in-process; a killed actor."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from tvlens.cli import main
from tvlens.run.grid import Cell, grid, tiny_load
from tvlens.run.protocol import ProtocolConfig

# Both build on TransformerLens 3 and 4 (no HookedTransformer), of different depth.
MODELS = ["tiny-bridge", "tiny-hf-llama"]
TASKS = ["to_upper", "to_lower"]
SEEDS = [0, 1]
SMALL = dict(n_dev=4, n_test=5, n_baseline=4, n_demos=3, n_dummy=2)
CFG = ProtocolConfig(tasks=TASKS, **SMALL)
ONE = ProtocolConfig(tasks=["to_upper"], **SMALL)
KEYS = [f"{m}/arrow/seed-{s}" for m in MODELS for s in SEEDS]


class CountingLoader:
    """``tiny_load`` that counts loads per model and fails as told (in-process only)."""

    def __init__(self, fail: dict[str, BaseException] | None = None) -> None:
        self.loads: list[str] = []
        self.fail = fail or {}

    def __call__(self, name: str) -> Any:
        self.loads.append(name)
        if name in self.fail:
            raise self.fail[name]
        return tiny_load(name)


def run_local(out: Path, load: Any = None, **kw: Any) -> Any:
    args = dict(out=out, load=load or tiny_load, backend="local", progress=False)
    return grid(MODELS, CFG, SEEDS, **{**args, **kw})


def predictions(folder: Path) -> dict[str, Any]:
    """Per task: accuracies, best layer, every prediction (what must not depend on the backend)."""
    res = json.loads((folder / "results.json").read_text())
    out = {}
    for name, t in res["tasks"].items():
        preds = [
            [ex[m]["predicted_token_id"] for m in ("regular", "hypothesis")]
            for ex in t["test_examples"]
        ]
        base = [ex["baseline"]["predicted_token_id"] for ex in t["baseline_examples"]]
        out[name] = (t["accuracy"], t["best_layer"], t["dev_accuracy_per_layer"], preds, base)
    return out


@pytest.fixture(scope="module")
def local_grid(tmp_path_factory) -> tuple[Path, Any, CountingLoader]:
    out = tmp_path_factory.mktemp("grid") / "local"
    load = CountingLoader()
    return out, run_local(out, load), load


def test_every_cell_writes_its_folder_and_grid_json_lists_them(local_grid) -> None:
    out, res, load = local_grid
    assert load.loads == MODELS  # each model loaded once for its two cells
    assert res.backend == "local" and sorted(res.ran) == sorted(KEYS) and not res.failed
    data = json.loads((out / "grid.json").read_text())
    assert data["kind"] == "tvlens-grid" and data["tasks"] == TASKS
    assert data["models"] == MODELS and data["seeds"] == SEEDS and data["formats"] == ["arrow"]
    assert data["summary"] == {"n_cells": 4, "n_ok": 4, "n_failed": 0, "n_pending": 0,
                               "n_running": 0}  # fmt: skip
    assert set(data["cells"]) == set(KEYS)
    for key, c in data["cells"].items():
        assert c["status"] == "ok" and c["error"] is None and c["ran"] and c["dir"] == key
        assert c["n_tasks_ok"] == 2 and c["peak_rss_mb"] > 0 and c["wall_time_s"] > 0
        assert c["worker"]["backend"] == "local"
        results = json.loads((out / key / "results.json").read_text())
        assert results["meta"]["seed"] == c["seed"] and set(results["tasks"]) == set(TASKS)
        assert (out / key / "report.html").exists()
    # the model is loaded by the first cell of each model only
    assert [data["cells"][k]["load_time_s"] is not None for k in KEYS] == [True, False] * 2
    # seeds sample different examples
    s0, s1 = (predictions(out / f"tiny-bridge/arrow/seed-{s}") for s in SEEDS)
    assert s0 != s1
    # the comparison covers the four cells
    assert res.comparison is not None and len(res.comparison.runs) == 4
    assert data["compare"] == "compare" and (out / "compare" / "summary.md").exists()
    cmp = json.loads((out / "compare" / "comparison.json").read_text())
    assert cmp["tasks"] == TASKS and len(cmp["runs"]) == 4


def test_rerun_schedules_nothing_and_a_deleted_cell_only(local_grid, tmp_path) -> None:
    src, _, _ = local_grid
    out = tmp_path / "g"
    shutil.copytree(src, out)
    before = {k: (out / k / "results.json").read_bytes() for k in KEYS}
    load = CountingLoader()
    res = run_local(out, load)
    assert res.ran == () and load.loads == [] and len(res.ok) == 4
    data = json.loads((out / "grid.json").read_text())
    assert not any(c["ran"] for c in data["cells"].values())
    assert all(c["peak_rss_mb"] for c in data["cells"].values())  # kept from the first run
    # one cell's results gone: only that cell runs, only its model loads
    gone = "tiny-hf-llama/arrow/seed-1"
    (out / gone / "results.json").unlink()
    res = run_local(out, load)
    assert res.ran == (gone,) and load.loads == ["tiny-hf-llama"] and len(res.ok) == 4
    assert predictions(out / gone) == predictions(src / gone)
    assert all((out / k / "results.json").read_bytes() == before[k] for k in KEYS if k != gone)


def test_a_partial_cell_resumes_from_its_finished_tasks(local_grid, tmp_path) -> None:
    src, _, _ = local_grid
    out = tmp_path / "g"
    shutil.copytree(src, out)
    key = "tiny-bridge/arrow/seed-0"
    (out / key / "report.html").unlink()  # as if stopped before the final write
    res = run_local(out, CountingLoader())
    assert res.ran == (key,)
    assert predictions(out / key) == predictions(src / key)


def test_failing_cells_are_recorded_and_the_grid_goes_on(tmp_path) -> None:
    out = tmp_path / "g"
    # one cell's folder holds a results.json tvlens did not write: that cell fails its checks
    foreign = Cell("tiny-bridge", "arrow", 1).folder(out)
    foreign.mkdir(parents=True)
    (foreign / "results.json").write_text("{}")
    load = CountingLoader(fail={"tiny-hf-llama": MemoryError("CUDA out of memory (simulated)")})
    seen: list[str] = []
    res = run_local(out, load, on_cell=lambda rec: seen.append(rec["dir"]))
    assert res.ok == ["tiny-bridge/arrow/seed-0"]
    assert sorted(res.failed) == sorted(k for k in KEYS if k != "tiny-bridge/arrow/seed-0")
    assert load.loads == MODELS  # a failed load is not retried for the model's next cell
    assert seen == ["tiny-bridge/arrow/seed-0", *(f"tiny-hf-llama/arrow/seed-{s}" for s in SEEDS)]
    data = json.loads((out / "grid.json").read_text())
    c = data["cells"]["tiny-bridge/arrow/seed-1"]
    assert c["status"] == "failed" and "not written by tvlens" in c["error"] and not c["ran"]
    for s in SEEDS:
        c = data["cells"][f"tiny-hf-llama/arrow/seed-{s}"]
        assert c["status"] == "failed" and "out of memory (simulated)" in c["error"]
        assert c["peak_rss_mb"] > 0 and "MemoryError" in c["traceback"]
    assert data["summary"]["n_ok"] == 1 and data["summary"]["n_failed"] == 3
    assert res.comparison is not None and len(res.comparison.runs) == 1


def test_a_bad_task_file_fails_every_cell_before_any_model_loads(tmp_path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"a": ')
    load = CountingLoader()
    cfg = ProtocolConfig(tasks=["to_upper", str(bad)], **SMALL)
    res = grid(MODELS, cfg, SEEDS, out=tmp_path / "g", load=load, backend="local",
               progress=False)  # fmt: skip
    assert load.loads == [] and res.ok == [] and len(res.failed) == 4
    assert all("broken.json" in c["error"] for c in res.cells.values())
    assert res.comparison is None
    data = json.loads((tmp_path / "g" / "grid.json").read_text())
    assert data["compare"] is None and data["summary"]["n_failed"] == 4


def test_arguments_are_checked_before_anything_runs(tmp_path) -> None:
    with pytest.raises(TypeError, match="did you mean"):
        grid("tiny-bridge", CFG, SEEDS, out=tmp_path, backend="local")
    with pytest.raises(ValueError, match="repeat"):
        grid(MODELS, CFG, [0, 0], out=tmp_path, backend="local")
    with pytest.raises(ValueError, match="unknown prompt format"):
        grid(MODELS, CFG, SEEDS, ["arow"], out=tmp_path, backend="local")
    with pytest.raises(ValueError, match="cannot name a folder"):
        grid(["../x"], CFG, SEEDS, out=tmp_path, backend="local")
    with pytest.raises(ValueError, match="set them in that loader"):
        grid(MODELS, CFG, SEEDS, out=tmp_path, load=tiny_load, dtype="bfloat16")
    with pytest.raises(ValueError, match="backend='ray'"):
        grid(MODELS, CFG, SEEDS, out=tmp_path, backend="local", address="auto")
    (tmp_path / "results.json").write_text("{}")
    with pytest.raises(ValueError, match="holds a run"):
        grid(MODELS, CFG, SEEDS, out=tmp_path, backend="local", load=tiny_load)
    assert not (tmp_path / "grid.json").exists()


def test_the_grid_takes_one_protocol_config(tmp_path, no_jaxtyping) -> None:
    # the protocol is one ProtocolConfig (it checks its own settings), not keywords
    with pytest.raises(TypeError, match="takes the protocol as a ProtocolConfig"):
        grid(MODELS, TASKS, SEEDS, out=tmp_path, backend="local")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected keyword argument 'seed'"):
        grid(MODELS, CFG, SEEDS, out=tmp_path, backend="local", seed=3)  # type: ignore[call-arg]
    # seeds and formats default to the protocol's own
    cfg = ProtocolConfig(tasks=["to_upper"], **{**SMALL, "seed": 4, "format": "paper"})
    res = grid(["tiny-bridge"], cfg, out=tmp_path / "g", load=tiny_load, backend="local",
               progress=False)  # fmt: skip
    assert res.ok == ["tiny-bridge/paper/seed-4"]


def test_cli_grid_in_process(tmp_path, capsys) -> None:
    from tvlens.run import grid as grid_module

    args = ["grid", "--models", "tiny-bridge", "--tasks", "to_upper", "--seeds", "0",
            "--out", str(tmp_path / "g"), "--backend", "local", "--n-dev", "4", "--n-test",
            "5", "--n-baseline", "4", "--n-demos", "3"]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grid_module, "_default_loader", lambda **kw: tiny_load)
        assert main(args) == 0
    out, err = capsys.readouterr()
    assert "1 of 1 cells finished (1 run now, local" in out and "compare/summary.md" in out
    assert "tiny-bridge/arrow/seed-0: ok, 1 task(s)" in err
    args[args.index("--n-dev") + 1] = "5"
    assert main(args) == 1  # other settings: the cell refuses them, before any model loads
    assert "holds a run with other settings: n_dev: 4" in capsys.readouterr().err


def test_cli_grid_runs_function_vectors_in_every_cell(tmp_path) -> None:
    from tvlens.run import grid as grid_module

    args = ["grid", "--models", "tiny-bridge", "--tasks", "to_upper", "--seeds", "0", "1",
            "--out", str(tmp_path / "g"), "--backend", "local", "--n-dev", "4", "--n-test",
            "5", "--n-baseline", "4", "--n-demos", "3", "--methods", "tv,fv",
            "--quiet"]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grid_module, "_default_loader", lambda **kw: tiny_load)
        assert main(args) == 0
    for seed in (0, 1):
        res = json.loads(
            (tmp_path / "g" / f"tiny-bridge/arrow/seed-{seed}/results.json").read_text()
        )
        assert res["meta"]["methods"] == ["tv", "fv"]
        assert "fv_zero_shot" in res["tasks"]["to_upper"]["accuracy"]
        assert "fv" in res["tasks"]["to_upper"]


# ---- Ray --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=100 * 2**20)  # fmt: skip
    yield ray
    ray.shutdown()


def test_ray_grid_equals_in_process_and_a_killed_actor_only_reruns_its_cells(
    ray_local, local_grid, tmp_path
) -> None:
    ray = ray_local
    src, _, _ = local_grid
    out = tmp_path / "ray"
    killed: list[str] = []

    def kill_first_actor(rec: dict[str, Any]) -> None:
        # kill the actor of the first cell back, while it runs (or holds) its second cell
        if not killed and rec["status"] == "ok":
            killed.append(rec["model"])
            ray.kill(ray.get_actor(rec["worker"]["actor"]))

    res = grid(MODELS, CFG, SEEDS, out=out, load=tiny_load, backend="ray", progress=False,
               on_cell=kill_first_actor)  # fmt: skip
    assert res.backend == "ray" and len(killed) == 1
    lost = [k for k in KEYS if k.startswith(killed[0]) and k not in res.ok]
    assert len(lost) == 1 and res.failed == lost
    assert "actor" in res.cells[lost[0]]["error"] and "died" in res.cells[lost[0]]["error"]
    for key in res.ok:
        c = res.cells[key]
        assert c["worker"]["backend"] == "ray" and c["peak_rss_mb"] > 0
        assert predictions(out / key) == predictions(src / key)  # == in-process
    data = json.loads((out / "grid.json").read_text())
    assert data["backend"]["name"] == "ray" and data["backend"]["cpus_per_actor"] == 1
    # the rerun runs the lost cell only (resuming its folder if it had started)
    res = grid(MODELS, CFG, SEEDS, out=out, load=tiny_load, backend="ray", progress=False)
    assert res.ran == tuple(lost) and sorted(res.ok) == sorted(KEYS)
    for key in KEYS:
        assert predictions(out / key) == predictions(src / key)
    assert not list(out.rglob(".tvlens.lock"))


def test_ray_refuses_resources_no_node_has(ray_local, tmp_path) -> None:
    with pytest.raises(ValueError, match="largest node"):
        grid(["tiny-bridge"], ONE, [0], out=tmp_path / "g2", load=tiny_load,
             backend="ray", progress=False, num_gpus=1)  # fmt: skip


def test_without_ray_auto_runs_in_process_and_says_how_to_go_parallel(
    tmp_path, monkeypatch, capsys
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    res = grid(["tiny-bridge"], ONE, [0], out=tmp_path, load=tiny_load)
    assert res.backend == "local" and res.ok
    assert "pip install 'tvlens[ray]'" in capsys.readouterr().err
    with pytest.raises(ImportError, match=r"tvlens\[ray\]"):
        grid(["tiny-bridge"], ONE, [0], out=tmp_path, load=tiny_load, address="auto")


def test_a_cell_worker_records_failures_instead_of_raising(tmp_path) -> None:
    """The worker class itself: a cell run through it never raises."""
    from tvlens.run.grid import CellWorker
    from tvlens.run.plan import preflight

    w = CellWorker(tiny_load, "tiny-bridge")
    cfg = ProtocolConfig(tasks=["to_upper"], **SMALL)
    rec = w.run(Cell("tiny-bridge", "arrow", 0), preflight(cfg, tmp_path / "c"))
    assert rec["status"] == "ok" and rec["load_time_s"] is not None
    # the same folder from another thread while locked: a recorded failure, not an exception
    from tvlens.run.lock import run_lock

    with run_lock(tmp_path / "c"):
        box: list[dict[str, Any]] = []
        t = threading.Thread(
            target=lambda: box.append(
                w.run(Cell("tiny-bridge", "arrow", 0), preflight(cfg, tmp_path / "c"))
            )
        )
        t.start()
        t.join()
    assert box[0]["status"] == "failed" and "in use" in box[0]["error"]
