"""Run directory: files present (Parquet tables, or CSV), atomic writes, re-render byte for byte,
self-contained HTML, CLI."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from basisbt.engine.results import PNL_PARTS
from basisbt.reports import writers
from basisbt.reports.loader import RunDirError, load_run
from basisbt.reports.metrics import compute_metrics
from basisbt.reports.render import render_comparison, render_run
from basisbt.results import Results

DPI = 40  # small images keep the suite fast


@pytest.fixture(scope="module", params=["parquet", "csv"])
def run_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, synth_run: Results) -> Path:
    """The synthetic-dollar run written with its tables in Parquet (the default) and in CSV (--csv)."""
    return writers.write_run(synth_run, tmp_path_factory.mktemp(f"run-{request.param}") / "synth", dpi=DPI,
                             csv=request.param == "csv")


def test_run_directory_contents(run_dir: Path, synth_run: Results) -> None:
    ext = "csv" if (run_dir / "equity.csv").exists() else "parquet"
    tables = [f"{t}.{ext}" for t in ("equity", "ledger", "fills", "extras")]
    for name in ("metrics.json", *tables, "liquidations.csv", "run.toml", "report.md", "report.html",
                 "attribution.csv"):
        assert (run_dir / name).is_file(), name
    other = "parquet" if ext == "csv" else "csv"
    assert not [t for t in ("equity", "ledger", "fills", "extras") if (run_dir / f"{t}.{other}").exists()]
    assert not list(run_dir.glob(".*.tmp"))
    text = (run_dir / "metrics.json").read_text()
    m = json.loads(text)
    assert list(m) == sorted(m) and text.endswith("\n") and "NaN" not in text
    # what compute_metrics gives, plus the sha256 of run.toml (the run's fingerprint)
    assert m.pop("run_fingerprint") == hashlib.sha256((run_dir / "run.toml").read_bytes()).hexdigest()
    assert m == compute_metrics(synth_run)
    doc = tomllib.loads((run_dir / "run.toml").read_text())
    assert doc["format"] == 2
    listed = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run_dir.iterdir()
              if p.name in (*tables, "liquidations.csv", "attribution.csv", "run.log")}
    assert doc["files"] == listed and len(listed) >= 6
    assert doc["strategy"] == "synthetic_dollar" and doc["data"] == "scenario:feb-2025-crash"
    assert doc["config_id"] == synth_run.config_id
    assert doc["params"] == synth_run.params and doc["config"] == synth_run.config
    md = (run_dir / "report.md").read_text()
    assert "## PnL attribution" in md and "bybit" in md


def test_tables_round_trip_exactly(run_dir: Path, synth_run: Results) -> None:
    back = Results.load(run_dir)
    pd.testing.assert_frame_equal(back.timeline, synth_run.timeline, check_exact=True,
                                  check_freq=False)
    for name in ("ledger", "fills"):
        got, want = getattr(back, name), getattr(synth_run, name)
        assert list(got.columns) == list(want.columns) and len(got) == len(want) > 0
        for c in want.columns:
            if pd.api.types.is_float_dtype(want[c]):
                np.testing.assert_array_equal(got[c].to_numpy(), want[c].to_numpy())
            else:
                assert [str(x) for x in got[c]] == [str(x) for x in want[c]], (name, c)
    pd.testing.assert_frame_equal(back.attribution, synth_run.attribution, check_exact=True, check_names=False)
    for name, s in synth_run.extras.items():
        np.testing.assert_array_equal(back.extras[name].to_numpy(), s.to_numpy())
    assert back.initial_equity == synth_run.initial_equity
    assert back.venues == synth_run.venues and back.protocols == synth_run.protocols


def test_render_run_reproduces_metrics_byte_for_byte(run_dir: Path) -> None:
    before = (run_dir / "metrics.json").read_bytes()
    render_run(run_dir, dpi=DPI)
    assert (run_dir / "metrics.json").read_bytes() == before


def test_flows_are_not_pnl(crash_run: Results) -> None:
    # a +50,000 mint at bar 100 and a -20,000 redemption at bar 300: equity jumps, PnL and returns don't
    res = crash_run
    tl = res.timeline.copy()
    flows = np.zeros(len(tl))
    flows[100], flows[300] = 50_000.0, -20_000.0
    tl["flows"] = flows
    tl["equity"] = tl["equity"] + np.cumsum(flows)
    with_flows = Results(**{**res.__dict__, "timeline": tl})
    a, b = compute_metrics(res), compute_metrics(with_flows)
    assert b["net_flows"] == 30_000.0
    assert b["pnl"]["total"] == pytest.approx(a["pnl"]["total"], rel=1e-9)
    assert b["pnl"]["total"] == pytest.approx(sum(b["pnl"][p] for p in PNL_PARTS), rel=1e-9)
    # time-weighted returns: the flows change the base, so returns move a little, not by 3 %
    assert abs(b["total_return"] - a["total_return"]) < 1e-3
    assert b["max_drawdown"] == pytest.approx(a["max_drawdown"], abs=2e-3)


class _Boom(RuntimeError):
    pass


def test_atomic_write_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "metrics.json"
    writers.atomic_write_text(target, "old\n")

    def broken_fsync(fd: int) -> None:  # the new bytes are half-way to disk when this fails
        raise _Boom("disk full")

    monkeypatch.setattr(writers.os, "fsync", broken_fsync)
    with pytest.raises(_Boom):
        writers.atomic_write_text(target, "new content that must not appear\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # temp file cleaned up


def test_write_run_failure_leaves_previous_report(tmp_path: Path, crash_run: Results,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    d = writers.write_run(crash_run, tmp_path / "run", dpi=DPI)
    old_html = (d / "report.html").read_bytes()
    import basisbt.reports.plots as plots_mod

    def broken_png(fig, dpi: int) -> bytes:
        raise _Boom("renderer crashed")

    monkeypatch.setattr(plots_mod, "figure_png", broken_png)
    with pytest.raises(_Boom):
        writers.write_run(crash_run, d, dpi=DPI)
    assert (d / "report.html").read_bytes() == old_html
    assert not list(d.glob(".*.tmp"))


def _imgs(html: str) -> list[bytes]:
    srcs = re.findall(r'<img[^>]*\ssrc="([^"]+)"', html)
    assert len(srcs) == len(re.findall(r"<img\b", html))
    out = []
    for src in srcs:
        assert src.startswith("data:image/png;base64,"), src[:40]  # no external resources
        out.append(base64.b64decode(src.split(",", 1)[1], validate=True))
    return out


def _assert_png_has_content(data: bytes) -> None:
    img = Image.open(io.BytesIO(data))
    img.verify()
    img = Image.open(io.BytesIO(data)).convert("RGB")
    arr = np.asarray(img)
    assert arr.shape[0] > 50 and arr.shape[1] > 100
    assert len(np.unique(arr.reshape(-1, 3), axis=0)) > 8  # not blank, not a single colour
    non_white = np.any(arr < 235, axis=2).mean()
    assert non_white > 0.01  # something drawn besides the frame


def test_every_img_decodes_and_is_not_blank(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text()
    imgs = _imgs(html)
    assert len(imgs) == 8  # equity, attribution, funding, basis, liquidation risk, allocation, synthetic, revenue
    for data in imgs:
        _assert_png_has_content(data)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html


def test_comparison_page(run_dir: Path, tmp_path: Path, liq_run: Results) -> None:
    other = writers.write_run(liq_run, tmp_path / "other", dpi=DPI)
    page = render_comparison([run_dir, other], tmp_path / "cmp", dpi=DPI)
    html = page.read_text()
    imgs = _imgs(html)
    assert len(imgs) == 1
    _assert_png_has_content(imgs[0])
    assert "synth" in html and "other" in html and "Sharpe" in html
    m = json.loads((tmp_path / "cmp" / "metrics.json").read_text())
    assert set(m) == {"synth", "other"}


def test_bad_run_dir(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="does not exist"):
        load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDirError, match="run.toml"):
        load_run(tmp_path / "empty")


def test_cli_report(run_dir: Path, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from basisbt.cli.report import register

    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps `report` a sub-command, as in basisbt
        pass

    runner = CliRunner()
    res = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert res.exit_code == 2
    assert "error:" in res.output and len(res.output.strip().splitlines()) == 1
    before = (run_dir / "metrics.json").read_bytes()
    res = runner.invoke(app, ["report", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert (run_dir / "metrics.json").read_bytes() == before
    res = runner.invoke(app, ["report", str(run_dir), str(run_dir), "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c" / "report.html").is_file()


def test_notebook_helpers(liq_run: Results) -> None:
    from basisbt.reports.notebook import plot, results_html

    html = results_html(liq_run)
    assert "Sharpe" in html and "liquidation" in html
    fig = plot(liq_run)
    assert len(fig.axes) == 4
