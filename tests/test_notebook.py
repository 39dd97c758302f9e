"""examples/walkthrough.ipynb runs end to end on the embedded default model (marked ``model``).

The notebook's ``parameters`` cell is replaced by a small setting (a minute or so on two CPU
cores). The kernel runs this test's own interpreter (``sys.executable``), through a kernelspec
written to a temporary folder, so the notebook sees the same virtual environment as pytest
whatever kernels are installed elsewhere.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "walkthrough.ipynb"

SMALL_PARAMETERS = """\
MODEL = "gemma-3-270m"
TASKS = ["to_upper", "country_capital"]
N_EXAMPLES = 6
N_DEV = 6
N_TEST = 6
N_DEMOS = 5
N_CORRUPTED = 3
FV_KS = (2,)
SEED = 0
"""

# Appended to the notebook: the kernel is this interpreter, and the steps left their results.
CHECKS = f"""\
import sys
assert sys.prefix == {sys.prefix!r}, sys.prefix
assert loaded == theta
assert set(sweeps) == set(results) == set(TASKS)
for name, r in results.items():
    assert r.layer == sweeps[name].best_layer
    assert len(r.hypothesis.predictions) == N_TEST
assert len(top) == 10 and all(a.prob >= b.prob for a, b in zip(top, top[1:]))
from tvlens.fv.methods import COMPARED_MODES
assert comparison.task == fv_task and list(comparison.accuracies) == list(COMPARED_MODES)
assert all(len(m.predictions) == N_TEST for m in comparison.modes.values())
assert comparison.modes["regular"] is results[fv_task].regular  # known=, not rerun
assert comparison.layers["hypothesis"] == results[fv_task].layer
assert len(comparison.to_dataframe()) == len(COMPARED_MODES)
assert effects.n_prompts == min(N_CORRUPTED, N_DEV)
assert tuple(effects.aie.shape) == (model.cfg.n_layers, model.cfg.n_heads)
assert fv.k in FV_KS and set(comparison.k_dev) == set(FV_KS)
assert fv.heads == tuple((la, h) for la, h, _ in effects.top_heads(fv.k))
assert fv.layer == comparison.layers["fv_zero_shot"]
assert fv_loaded == fv and fv_loaded.layer == fv.layer
assert set(whole) == {{"Regular", "TV Hypothesis", "TV multi-position", "TV learned"}}
assert all(len(r.predictions) == N_TEST for r in whole.values())
assert len(learned.losses) == 21 and learned.layer == cc_layer
print("CHECKS OK", {{name: r.accuracies for name, r in results.items()}}, comparison.accuracies)
"""


def parameters_cell(nb: Any) -> Any:
    """The one cell tagged ``parameters``."""
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged 'parameters', found {len(cells)}"
    return cells[0]


def this_python_kernel(tmp_path: Path) -> Any:
    """A KernelManager whose kernel is ``sys.executable`` (not whatever ``python3`` finds)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    kernels = tmp_path / "kernels"
    (kernels / "tvlens-test").mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tvlens test (this interpreter)",
        "language": "python",
    }
    (kernels / "tvlens-test" / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(kernels)])
    return KernelManager(kernel_name="tvlens-test", kernel_spec_manager=specs)


def test_notebook_structure() -> None:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    cell = parameters_cell(nb)
    names = {line.split("=")[0].strip() for line in SMALL_PARAMETERS.splitlines()}
    for name in names:
        assert f"{name} =" in cell.source, f"the parameters cell has no {name}"
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"]
    assert "## 8. Function vectors beside task vectors" in headings
    for c in nb.cells:  # committed without outputs
        if c.cell_type == "code":
            assert not c.outputs and c.execution_count is None, c.source


@pytest.mark.model
def test_notebook_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    models = pytest.importorskip("tvlens.models")
    spec = models.EMBEDDED_MODELS[models.DEFAULT_MODEL]
    try:  # skip, as the other model tests do, when the model's package is not installed
        metadata.distribution(spec.package)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{spec.package} is not installed: {spec.install_hint}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("PLOTLY_RENDERER", "plotly_mimetype")  # never a browser

    nb = nbformat.read(NOTEBOOK, as_version=4)
    parameters_cell(nb).source = SMALL_PARAMETERS
    nb.cells.append(nbformat.v4.new_code_cell(CHECKS))
    client = nbclient.NotebookClient(
        nb,
        km=this_python_kernel(tmp_path),
        timeout=600,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails

    for cell in nb.cells:
        if cell.cell_type == "code":
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            assert not errors, cell.source
    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "CHECKS OK" in last, last
    figures = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "application/vnd.plotly.v1+json" in o.get("data", {})
    ]
    assert len(figures) == 5, "expected the layer-sweep, modes, vocabulary, AIE and methods figures"
    table = [  # the methods table, displayed as the last expression of its cell
        o
        for c in nb.cells
        if c.cell_type == "code" and "compare_methods(" in c.source
        for o in c.outputs
        if o.get("output_type") == "execute_result"
    ]
    assert len(table) == 1 and "fv_zero_shot" in table[0]["data"]["text/plain"], table
