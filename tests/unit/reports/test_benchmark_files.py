"""--benchmark reads files as they come (issue 25 item 5) and checks their scale (issue 26 item 6): a DefiLlama
export (Timestamp in unix seconds, Date, Base in percent), unix s/ms/us/ns and ISO times, a named time column,
percent detected or stated, a percent/fraction mix-up refused naming --benchmark-unit, non-finite values and a
comparison with no common day refused (exit 2, naming the file; for no common day, both spans)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import basisbt as bb
from basisbt.cli.app import app
from basisbt.data.errors import DataError
from basisbt.engine.config import ConfigError


@pytest.fixture(scope="module")
def synth():
    # a week-long period so the published APY changes daily: the run series the benchmarks are built from
    return bb.run("synthetic_dollar", "scenario:feb-2025-crash", params={"payout_period_h": 24.0})


@pytest.fixture(scope="module")
def daily(synth) -> pd.Series:
    s = synth.extras["staker_apy"].dropna()
    d = s.groupby(s.index.floor("D")).mean()
    assert d.abs().mean() > 0 and d.nunique() > 3          # a varying, non-zero series to compare with
    return d


def defillama(path, days: pd.Series, base_percent: np.ndarray) -> str:
    """A DefiLlama yield export: Timestamp (unix s), Date, Base and Reward (percent)."""
    pd.DataFrame({"Timestamp": (days.index.as_unit("s").asi8 // 1).astype(np.int64),
                  "Date": days.index.strftime("%Y-%m-%d"), "Base": base_percent,
                  "Reward": 0.0}).to_csv(path, index=False)
    return str(path)


def test_a_defillama_export_is_read_in_unix_seconds_and_percent(synth, daily, tmp_path) -> None:
    f = defillama(tmp_path / "susde.csv", daily, daily.to_numpy() * 100.0 + 0.5)      # +0.5 point
    res = synth.with_benchmark(f"{f}:Base")
    b = res.metrics()["benchmark"]
    assert b["unit"] == "percent" and b["unit_from"] == "detected" and b["time"] == "Timestamp (unix s)"
    assert b["days"] == len(daily) and b["first_day"] == daily.index[0].date().isoformat()
    assert b["correlation"] == pytest.approx(1.0, abs=1e-12)
    assert b["mean_difference"] == pytest.approx(-0.005, abs=1e-12)        # run - (run + 0.5 %)
    # the Date column gives the same days when named
    by_date = synth.with_benchmark(f"{f}:Base", time_column="Date").metrics()["benchmark"]
    assert by_date["time"] == "Date (ISO 8601)" and by_date["days"] == b["days"]
    assert by_date["mean_difference"] == pytest.approx(b["mean_difference"], abs=1e-15)


@pytest.mark.parametrize("unit,scale", [("s", 1), ("ms", 10**3), ("us", 10**6), ("ns", 10**9)])
def test_unix_times_in_any_unit(synth, daily, tmp_path, unit, scale) -> None:
    f = tmp_path / "b.csv"
    secs = daily.index.as_unit("s").asi8
    pd.DataFrame({"time": secs * scale + 3600 * scale, "apy": daily.to_numpy()}).to_csv(f, index=False)  # 01:00
    b = synth.with_benchmark(f"{f}:apy").metrics()["benchmark"]
    assert b["time"] == f"time (unix {unit})" and b["days"] == len(daily) and b["unit"] == "fraction"
    assert b["mean_difference"] == pytest.approx(0.0, abs=1e-15)


def test_iso_times_with_and_without_a_zone(synth, daily, tmp_path) -> None:
    f = tmp_path / "b.csv"
    stamps = [t.strftime("%Y-%m-%dT12:00:00+02:00") if k % 2 else t.strftime("%Y-%m-%d 10:00")
              for k, t in enumerate(daily.index)]                            # both 10:00 UTC
    pd.DataFrame({"Date": stamps, "apy": daily.to_numpy()}).to_csv(f, index=False)
    b = synth.with_benchmark(f"{f}:apy").metrics()["benchmark"]
    assert b["days"] == len(daily) and b["mean_difference"] == pytest.approx(0.0, abs=1e-15)


def test_a_percent_file_read_as_fractions_is_refused_naming_the_flag(synth, daily, tmp_path) -> None:
    f = defillama(tmp_path / "pct.csv", daily, daily.to_numpy() * 100.0)
    with pytest.raises(DataError, match=r"pct.csv: benchmark Base read as fraction is ~100x the run's "
                                        r"staker_apy .*pass --benchmark-unit percent"):
        synth.with_benchmark(f"{f}:Base", unit="fraction")
    g = tmp_path / "frac.csv"
    pd.DataFrame({"date": daily.index.strftime("%Y-%m-%d"), "apy": daily.to_numpy()}).to_csv(g, index=False)
    with pytest.raises(DataError, match=r"read as percent is ~1/100x .*pass --benchmark-unit fraction"):
        synth.with_benchmark(f"{g}:apy", unit="percent")
    # stated right, both pass and agree with auto
    assert synth.with_benchmark(f"{f}:Base", unit="percent").metrics()["benchmark"]["unit_from"] == "stated"
    assert synth.with_benchmark(f"{g}:apy", unit="fraction").metrics()["benchmark"]["mean_difference"] == \
        pytest.approx(0.0, abs=1e-15)


def test_auto_reads_a_percent_file_several_times_off_the_run_as_percent(synth, daily, tmp_path) -> None:
    # issue 26's case: a published 9 % (9.0 in the file) against a run at 33 %: 27x as read, percent
    f = defillama(tmp_path / "low.csv", daily, daily.to_numpy() * 27.0)
    b = synth.with_benchmark(f"{f}:Base").metrics()["benchmark"]
    assert b["unit"] == "percent" and b["benchmark_mean"] == pytest.approx(0.27 * b["run_mean"], rel=1e-12)


def test_auto_refuses_what_it_cannot_tell(synth, daily, tmp_path) -> None:
    f = tmp_path / "far.csv"
    pd.DataFrame({"date": daily.index.strftime("%Y-%m-%d"), "x": daily.to_numpy() * 1e5}).to_csv(f, index=False)
    with pytest.raises(DataError, match="cannot tell the unit of x.*pass --benchmark-unit"):
        synth.with_benchmark(f"{f}:x")
    # stated, a series 1e5 x larger is another quantity: compared as given
    assert synth.with_benchmark(f"{f}:x", unit="fraction").metrics()["benchmark"]["correlation"] == \
        pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ConfigError, match="--benchmark-unit 'pct': use one of auto, fraction, percent"):
        synth.with_benchmark(f"{f}:x", unit="pct")


BAD_FILES = [   # (file text, time_column, the one-line message)
    ("date,apy\n2025-01-28,0.05\n2025-01-29,\n2025-01-30,inf\n", None,
     r"b.csv, row 4: benchmark apy not finite: 'inf'"),
    ("date,apy\n2025-01-28,0.05\n2025-01-29,-Infinity\n", None, r"row 3: benchmark apy not finite"),
    ("Timestamp,apy\n1738000000,0.05\n1738086400,0.05\n17380000,0.06\n", None,
     r"row 4: benchmark time '17380000' in unix s is 1970-07-21, outside"),
    ("Timestamp,apy\n12,0.05\n13,0.06\n", None, "unix times in no unit"),
    ("date,apy\n03/02/2025,0.05\n", None, r"row 2: benchmark time not readable: '03/02/2025' \(want ISO 8601"),
    ("date,apy\n2025-01-28,0.05\n", "when", "--benchmark-time 'when': no such column; columns: date, apy"),
]


@pytest.mark.parametrize("text,time_column,message", BAD_FILES)
def test_bad_cells_name_their_row(synth, tmp_path, text, time_column, message) -> None:
    f = tmp_path / "b.csv"
    f.write_text(text)
    with pytest.raises(DataError, match=message):
        synth.with_benchmark(f"{f}:apy", time_column=time_column)


def test_the_cli_refuses_no_common_day_and_a_mixup_with_exit_2(tmp_path, daily) -> None:
    f = tmp_path / "late.csv"
    pd.DataFrame({"date": ["2026-01-01", "2026-01-02"], "apy": [5.0, 6.0]}).to_csv(f, index=False)
    r = CliRunner().invoke(app, ["run", "-s", "synthetic_dollar", "--benchmark", f"{f}:apy",
                                 "--out", str(tmp_path / "r")])
    assert r.exit_code == 2, r.output
    line = " ".join(r.output.split())
    assert "late.csv: benchmark apy and the run's staker_apy share no day" in line
    assert "the benchmark spans 2026-01-01..2026-01-02, the run's staker_apy 2025-02-03..2025-02-17" in line
    assert not (tmp_path / "r").exists()
    g = defillama(tmp_path / "pct.csv", daily, daily.to_numpy() * 100.0)
    r = CliRunner().invoke(app, ["run", "-s", "synthetic_dollar", "--set", "payout_period_h=24",
                                 "--benchmark", f"{g}:Base", "--benchmark-unit", "fraction",
                                 "--out", str(tmp_path / "s")])
    assert r.exit_code == 2 and "--benchmark-unit percent" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["run", "-s", "synthetic_dollar", "--set", "payout_period_h=24",
                                 "--benchmark", f"{g}:Base", "--out", str(tmp_path / "t")])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "t" / "metrics.json").read_text())["benchmark"]
    assert meta["unit"] == "percent" and meta["correlation"] == pytest.approx(1.0, abs=1e-12)
    r = CliRunner().invoke(app, ["run", "--benchmark-unit", "percent", "--out", str(tmp_path / "u")])
    assert r.exit_code == 2 and "go with --benchmark" in r.output
