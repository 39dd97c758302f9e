"""``tvlens run --methods tv,fv --aie ...``: how the AIE ranks heads is a protocol setting,
recorded, compared on resume, and refused where no function vector is built (issue 21)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import build_tiny
from tvlens.cli import main
from tvlens.run.files import dumps_strict, write_output
from tvlens.run.protocol import ProtocolConfig, run_protocol

CFG = dict(tasks=["to_upper"], n_dev=4, n_test=4, n_baseline=4, n_demos=3, n_dummy=2)
SMALL = ["--n-dev", "4", "--n-test", "4", "--n-baseline", "4", "--n-demos", "3", "--no-progress"]


@pytest.fixture(scope="module")
def model():
    return build_tiny("bridge")


def test_aie_is_checked_when_the_config_is_made(no_jaxtyping: None) -> None:
    assert ProtocolConfig(tasks=["to_upper"]).aie == "exact"
    with pytest.raises(ValueError, match="aie must be one of exact, attribution, "):
        ProtocolConfig(**CFG, methods=["tv", "fv"], aie="gradient")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"runs none: add fv \(--methods tv,fv\) or drop --aie"):
        ProtocolConfig(**CFG, aie="attribution")


def test_a_run_records_how_its_aie_was_computed_and_resumes_only_so(model, tmp_path) -> None:
    out = tmp_path / "run"
    cfg = ProtocolConfig(**CFG, methods=["tv", "fv"], aie="attribution+verify")
    res = run_protocol(model, cfg, out, progress=False)
    assert res["meta"]["fv"]["aie"] == "attribution+verify"
    ie = res["tasks"]["to_upper"]["fv"]["indirect_effect"]
    assert ie["method"] == "attribution+verify" and ie["verified_heads"]
    # the FV's heads are verified heads (k <= n_verify = 2 x the largest k)
    heads = res["tasks"]["to_upper"]["fv"]["function_vector"]["heads"]
    assert {tuple(h) for h in heads} <= {tuple(h) for h in ie["verified_heads"]}
    with pytest.raises(ValueError, match=r"fv\.aie: 'attribution\+verify' \(in results\.json\) "
                                         r"vs 'exact' \(this run\)"):  # fmt: skip
        run_protocol(model, ProtocolConfig(**CFG, methods=["tv", "fv"]), out, progress=False)


def test_a_run_from_before_aie_existed_resumes_as_exact(model, tmp_path) -> None:
    out = tmp_path / "run"
    cfg = ProtocolConfig(**CFG, methods=["tv", "fv"])
    first = run_protocol(model, cfg, out, progress=False)
    assert first["meta"]["fv"]["aie"] == "exact"
    data = json.loads((out / "results.json").read_text())
    del data["meta"]["fv"]["aie"]  # what tvlens wrote before --aie
    write_output(out, "results.json", dumps_strict(data))  # as tvlens wrote it
    again = run_protocol(model, cfg, out, progress=False)  # resumes: nothing to run
    assert again["tasks"]["to_upper"]["accuracy"] == first["tasks"]["to_upper"]["accuracy"]
    with pytest.raises(ValueError, match=r"fv\.aie: 'exact' \(in results\.json\) vs "
                                         r"'attribution' \(this run\)"):  # fmt: skip
        run_protocol(model, ProtocolConfig(**CFG, methods=["tv", "fv"], aie="attribution"), out,
                     progress=False)  # fmt: skip


def test_cli_takes_aie(tmp_path, monkeypatch) -> None:
    import tvlens.models

    monkeypatch.setattr(tvlens.models, "load_model", lambda *a, **k: build_tiny("bridge"))
    out = tmp_path / "cli"
    main(["run", "--tasks", "to_upper", *SMALL, "--methods", "tv,fv", "--aie", "attribution",
          "--out", str(out)])  # fmt: skip
    data = json.loads((out / "results.json").read_text())
    assert data["meta"]["fv"]["aie"] == "attribution"
    assert data["tasks"]["to_upper"]["fv"]["indirect_effect"]["method"] == "attribution"
    with pytest.raises(SystemExit):
        main(["run", "--tasks", "to_upper", "--aie", "gradient", "--out", str(tmp_path / "x")])
