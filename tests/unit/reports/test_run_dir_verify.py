"""`basisbt report` / Results.load verify what they re-render: the run's fingerprint (run.toml [files] and
metrics.json run_fingerprint) and the attribution identity; a changed directory is refused naming the file
and the check; a file that is not UTF-8 is named."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from basisbt.reports import writers
from basisbt.reports.loader import RunDirError, load_run
from basisbt.reports.render import render_run
from basisbt.results import Results

DPI = 40


@pytest.fixture(scope="module", params=["parquet", "csv"])
def written(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, crash_run: Results) -> Path:
    return writers.write_run(crash_run, tmp_path_factory.mktemp(request.param) / "run", dpi=DPI,
                             csv=request.param == "csv")


@pytest.fixture
def run(written: Path, tmp_path: Path) -> Path:
    """A fresh copy of the written run directory for one test to change."""
    return Path(shutil.copytree(written, tmp_path / "run"))


def _equity_file(d: Path) -> Path:
    return d / "equity.parquet" if (d / "equity.parquet").exists() else d / "equity.csv"


def _write_table(p: Path, df: pd.DataFrame) -> None:
    if p.suffix == ".parquet":
        df.to_parquet(p, index=False)
    else:
        p.write_text(df.to_csv(index=False, lineterminator="\n"))


def _read_table(p: Path) -> pd.DataFrame:
    return pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)


def _rehash(d: Path) -> None:
    """What a careful forger does: recompute run.toml [files] and metrics.json run_fingerprint, so only the
    identity check stands between an edited table and a re-rendered report."""
    toml = (d / "run.toml").read_text()
    for name in re.findall(r'^"([^"]+)" = "[0-9a-f]{64}"$', toml, flags=re.M):
        if "/" in name:
            continue
        digest = hashlib.sha256((d / name).read_bytes()).hexdigest()
        toml = re.sub(rf'^"{re.escape(name)}" = "[0-9a-f]{{64}}"$', f'"{name}" = "{digest}"', toml, flags=re.M)
    (d / "run.toml").write_text(toml)
    m = json.loads((d / "metrics.json").read_text())
    m["run_fingerprint"] = hashlib.sha256((d / "run.toml").read_bytes()).hexdigest()
    (d / "metrics.json").write_text(json.dumps(m))


def test_untouched_run_loads_and_rerenders(run: Path) -> None:
    before = (run / "metrics.json").read_bytes()
    render_run(run, dpi=DPI)
    assert (run / "metrics.json").read_bytes() == before


def test_edited_table_fails_its_fingerprint(run: Path) -> None:
    p = _equity_file(run)
    tl = _read_table(p)
    tl.loc[len(tl) - 1, "equity"] += 1_000_000.0          # the case: equity edited at the end
    _write_table(p, tl)
    with pytest.raises(RunDirError, match=rf"{re.escape(str(p))}: fingerprint check failed"):
        load_run(run)


def test_edited_and_rehashed_table_fails_the_attribution_identity(run: Path) -> None:
    p = _equity_file(run)
    tl = _read_table(p)
    n = len(tl)
    tl.loc[n - 1, "equity"] += 1_000.0       # the last bar's equity change is now its parts + 1,000
    _write_table(p, tl)
    _rehash(run)
    with pytest.raises(RunDirError) as e:
        load_run(run)
    msg = str(e.value)
    assert msg.startswith(f"{p}: attribution identity fails at bar {n} of {n}")
    assert "= 1,000 quote" in msg and "1 bar fails" in msg


def test_a_pnl_part_moved_between_bars_fails_the_identity(run: Path) -> None:
    # 50 of funding moved from bar 10 to bar 20: the totals still add up, bars 10 and 20 do not
    p = _equity_file(run)
    tl = _read_table(p)
    tl.loc[9, "pnl_funding"] -= 50.0
    tl.loc[19, "pnl_funding"] += 50.0
    _write_table(p, tl)
    _rehash(run)
    with pytest.raises(RunDirError, match=r"identity fails at bar 10 of .*= 50 quote .*2 bars fail"):
        load_run(run)


def test_edited_attribution_table_fails_the_identity(run: Path) -> None:
    p = run / "attribution.csv"
    attr = pd.read_csv(p)
    attr.loc[0, "funding"] += 250.0
    p.write_text(attr.to_csv(index=False, lineterminator="\n"))
    _rehash(run)
    with pytest.raises(RunDirError, match=rf"{re.escape(str(p))}: attribution identity fails: its funding total"):
        load_run(run)


def test_edited_run_toml_fails_the_fingerprint(run: Path) -> None:
    p = run / "run.toml"
    p.write_text(p.read_text().replace("initial_equity = 1000000.0", "initial_equity = 900000.0"))
    with pytest.raises(RunDirError, match=rf"{re.escape(str(p))}: fingerprint check failed.*run_fingerprint"):
        load_run(run)


@pytest.mark.parametrize("gone", ["metrics.json", "ledger", "attribution.csv"])
def test_missing_files_are_named(run: Path, gone: str) -> None:
    name = gone if "." in gone else _equity_file(run).name.replace("equity", gone)
    (run / name).unlink()
    with pytest.raises(RunDirError, match=rf"{re.escape(str(run / name))}: missing"):
        load_run(run)


@pytest.mark.parametrize("name", ["run.toml", "metrics.json", "liquidations.csv"])
def test_non_utf8_file_is_named(run: Path, name: str) -> None:
    with open(run / name, "ab") as fh:
        fh.write(b"caf\xe9\n")
    with pytest.raises(RunDirError, match=rf"{re.escape(str(run / name))}: "):
        load_run(run)


def test_format_1_directory_gets_the_identity_check(written: Path, tmp_path: Path, crash_run: Results) -> None:
    """A run written before fingerprints (CSV tables, format = 1, no [files]) still loads, identity-checked."""
    d = writers.write_run(crash_run, tmp_path / "old", dpi=DPI, csv=True)
    toml = (d / "run.toml").read_text().replace("format = 2", "format = 1")
    (d / "run.toml").write_text(toml[:toml.index("[files]")])
    m = json.loads((d / "metrics.json").read_text())
    del m["run_fingerprint"]
    (d / "metrics.json").write_text(json.dumps(m))
    back = load_run(d)
    pd.testing.assert_frame_equal(back.timeline, crash_run.timeline, check_exact=True, check_freq=False)
    tl = pd.read_csv(d / "equity.csv")
    tl.loc[len(tl) - 1, "equity"] -= 5.0
    (d / "equity.csv").write_text(tl.to_csv(index=False, lineterminator="\n"))
    with pytest.raises(RunDirError, match="equity.csv: attribution identity fails"):
        load_run(d)


def test_newer_format_is_refused(run: Path) -> None:
    p = run / "run.toml"
    p.write_text(p.read_text().replace("format = 2", "format = 3"))
    _rehash(run)
    with pytest.raises(RunDirError, match="format 3 was written by a newer basisbt"):
        load_run(run)


def test_files_table_cannot_point_outside(run: Path) -> None:
    p = run / "run.toml"
    p.write_text(p.read_text() + '"../../etc/passwd" = "' + "0" * 64 + '"\n')
    _rehash(run)
    with pytest.raises(RunDirError, match=r"run.toml: \[files\] lists '../../etc/passwd'"):
        load_run(run)


def test_cli_report_refuses_a_changed_run_with_exit_2(run: Path) -> None:
    typer = pytest.importorskip("typer")
    from typer.testing import CliRunner

    from basisbt.cli.report import register
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:
        pass

    p = _equity_file(run)
    tl = _read_table(p)
    tl.loc[3, "equity"] += 1.0
    _write_table(p, tl)
    html = (run / "report.html").read_bytes()
    res = CliRunner().invoke(app, ["report", str(run)])
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines() == [f"error: {p}: fingerprint check failed: its sha256 is not the one "
                                               "run.toml [files] lists (the file was changed after the run wrote it)"]
    assert (run / "report.html").read_bytes() == html      # nothing re-rendered
