"""basisbt sweep: grid and sample planning, the local and Dask backends giving the same table, resuming.

Tiny data: five days of the feb-2025-crash scenario at 1h (120 bars), six cells.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from basisbt.batch.spec import DataSpec
from basisbt.batch.sweep import run_cell, run_sweep, sort_table
from basisbt.batch.sweep_plan import SweepError, plan_sweep, sample_params
from basisbt.batch.sweep_store import METRIC_COLUMNS, cell_path
from basisbt.cli.app import app
from basisbt.strategies.perp_short import PerpShort

DATA = "scenario:feb-2025-crash"
RUN = {"end": "2025-02-01"}                     # 2025-01-27 .. 2025-02-01: 5 days, 120 hourly bars
GRID = ["collateral=spot,usdt", "leverage=2,3,5"]


def plan():
    return plan_sweep("perp_short", [DATA], grid=GRID, run=RUN)


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """The table without the wall-clock column, in cell order."""
    return table.drop(columns=["run_s"]).sort_values("cell").reset_index(drop=True)


@pytest.fixture(scope="module")
def local_table(tmp_path_factory) -> pd.DataFrame:
    return run_sweep(plan(), tmp_path_factory.mktemp("local"), jobs=1)


def test_a_grid_is_every_combination_with_stable_ids():
    p = plan()
    assert p.axes == ("collateral", "leverage")
    assert [dict(c.params) for c in p.cells] == [{"collateral": c, "leverage": lv} for c in ("spot", "usdt")
                                                  for lv in (2.0, 3.0, 5.0)]
    assert len({c.id for c in p.cells}) == 6 and [c.id for c in plan().cells] == [c.id for c in p.cells]
    two = plan_sweep("perp_short", [DATA, "scenario:squeeze"], grid=["leverage=2,3"], run=RUN)
    assert len(two.cells) == 4 and {c.data for c in two.cells} == {DATA, "scenario:squeeze"}


def test_samples_stay_inside_the_declared_ranges_and_repeat_with_the_seed():
    draws = sample_params(PerpShort, ["leverage", "hedge_ratio", "cash_buffer", "collateral"], 200, seed=7)
    assert draws == sample_params(PerpShort, ["leverage", "hedge_ratio", "cash_buffer", "collateral"], 200, seed=7)
    assert all(0 < d["leverage"] <= 125 and 0 <= d["hedge_ratio"] <= 2 and 0 <= d["cash_buffer"] < 1
               and d["collateral"] in ("spot", "usdt", "usde") for d in draws)
    assert {d["collateral"] for d in draws} == {"spot", "usdt", "usde"}
    p = plan_sweep("perp_short", [DATA], samples=5, seed=1, vary=["leverage", "hedge_ratio"], run=RUN)
    assert p.axes == ("leverage", "hedge_ratio") and len(p.cells) == 5


@pytest.mark.parametrize("kw,msg", [
    ({"grid": ["levrage=2,3"]}, "no such parameter (did you mean 'leverage'?)"),
    ({"grid": ["leverage=-1,2"]}, "leverage = -1.0 is out of range"),
    ({"grid": ["leverage="]}, "no values"),
    ({"grid": ["collateral=spot,btc"]}, "collateral = 'btc' is not allowed; valid: one of spot, usdt"),
    ({"grid": ["leverage=2,x"]}, "expected float, got 'x'"),
    ({"grid": ["leverage=2"], "samples": 3}, "not both"),
    ({"samples": 3, "vary": ["venue"]}, "no declared range"),
    ({"grid": ["leverage=2"], "fixed": {"leverage": "3"}}, "either fixed or varied"),
    ({"grid": ["leverage=2"], "datas": ["scenario:sqeeze"]}, "unknown scenario (did you mean 'squeeze'?)"),
    ({"grid": ["leverage=2"], "datas": ["nowhere.toml"]}, "no such dataset TOML"),
])
def test_bad_sweeps_say_what_is_wrong(kw, msg):
    datas = kw.pop("datas", [DATA])
    with pytest.raises(SweepError) as e:
        plan_sweep("perp_short", datas, run=RUN, **kw)
    assert msg in str(e.value)


def test_a_cell_is_the_metrics_of_the_same_run(local_table):
    import basisbt as bb
    row = local_table[(local_table["collateral"] == "usdt") & (local_table["leverage"] == 5.0)].iloc[0]
    m = bb.run("perp_short", DATA, params={"collateral": "usdt", "leverage": 5.0}, **RUN).metrics()
    assert json.loads(row["metrics"]) == m
    assert row["apy"] == m["apy"] and row["pnl_total"] == m["pnl"]["total"] and row["error"] == ""


def test_dask_local_cluster_gives_the_same_table_cell_for_cell(local_table, tmp_path):
    """Two Dask worker processes (not threads): the cells, their datasets and results cross a process boundary
    as they do on a real cluster. dask[distributed] is a dependency: imported, never skipped."""
    import dask.distributed  # noqa: F401
    table = run_sweep(plan(), tmp_path, jobs=2, scheduler="local", processes=True)
    pd.testing.assert_frame_equal(comparable(table), comparable(local_table), check_exact=True)
    assert len(table) == 6


def test_local_processes_give_the_same_table(local_table, tmp_path):
    table = run_sweep(plan(), tmp_path, jobs=2)
    pd.testing.assert_frame_equal(comparable(table), comparable(local_table), check_exact=True)


def test_a_killed_sweep_resumes_with_only_the_missing_cells(local_table, tmp_path):
    p = plan()
    ran: list[str] = []
    half = run_sweep(p, tmp_path, jobs=1, max_cells=1, on_row=lambda r: ran.append(r["cell"]))
    half = run_sweep(p, tmp_path, jobs=1, max_cells=2, on_row=lambda r: ran.append(r["cell"]))
    assert len(half) == 3 and len(ran) == 3                          # "killed" after three cells
    lost = cell_path(tmp_path, ran[0])                               # and the file of the first one lost
    assert lost.is_file()
    lost.unlink()
    (tmp_path / "cells" / ".half-written.parquet.tmp").write_bytes(b"PAR1 torn")   # a temp file never renamed
    again: list[str] = []
    full = run_sweep(p, tmp_path, jobs=1, on_row=lambda r: again.append(r["cell"]))
    assert sorted(again) == sorted({c.id for c in p.cells} - set(ran[1:]))           # 4 cells: only the missing
    pd.testing.assert_frame_equal(comparable(full), comparable(local_table), check_exact=True)
    nothing: list[str] = []
    run_sweep(p, tmp_path, jobs=1, on_row=lambda r: nothing.append(r["cell"]))
    assert nothing == []


def test_sorting_puts_the_best_first_and_nan_last():
    t = pd.DataFrame({"cell": ["a", "b", "c", "d"], "apy": [0.1, float("nan"), 0.3, 0.1]})
    assert sort_table(t, "apy")["cell"].tolist() == ["c", "a", "d", "b"]
    assert sort_table(t, "apy", ascending=True)["cell"].tolist() == ["a", "d", "c", "b"]
    with pytest.raises(SweepError, match="--sort 'apr'"):
        sort_table(t, "apr")


def test_a_failing_cell_is_a_row_with_its_error():
    p = plan()
    job = p.job(p.cells[0])
    job["spec"] = job["spec"].replace(data=DataSpec("scenario:no-such-scenario"))
    row = run_cell(job)
    assert "no-such-scenario" in row["error"] and all(row[k] != row[k] for k in METRIC_COLUMNS)   # NaN


runner = CliRunner()


def test_cli_sweep_writes_table_heatmap_and_page(tmp_path):
    out = tmp_path / "sw"
    args = ["sweep", "--grid", "leverage=2,5", "--grid", "collateral=spot,usdt", "--end", "2025-02-01",
            "--jobs", "1", "--sort", "sharpe", "--out", str(out)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 4 and table["sharpe"].is_monotonic_decreasing
    assert (out / "heatmap.png").read_bytes()[:4] == b"\x89PNG"
    assert "Sweep: perp_short" in (out / "report.html").read_text()
    r = runner.invoke(app, args)                                     # all stored: nothing runs again
    assert r.exit_code == 0 and "running 0" in r.output


@pytest.mark.parametrize("args,msg", [
    (["--grid", "levrage=2,3"], "no such parameter"),
    (["--grid", "leverage=0,2"], "out of range"),
    (["--grid", "leverage="], "no values"),
    (["--grid", "leverage=2,3", "--sort", "apr"], "--sort 'apr'"),
    (["--grid", "leverage=2,3", "--heatmap", "leverage,hedge_ratio"], "not a varied parameter"),
    (["--samples", "0"], "at least 1"),
    (["--grid", "leverage=2", "--jobs", "0"], "at least 1"),
    (["--grid", "leverage=2", "--scheduler", "nowhere:1"], "expected tcp://HOST:PORT"),
])
def test_cli_bad_sweeps_are_one_line_and_exit_2(args, msg, tmp_path):
    r = runner.invoke(app, ["sweep", "--end", "2025-02-01", "--out", str(tmp_path / "x"), *args])
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert msg in r.output and lines[-1].startswith("error:") and "Traceback" not in r.output
