"""Validators: every broken rule is a DataError naming file, 1-based row and rule; repairs are explicit."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basisbt.data.errors import DataError
from basisbt.data.validate import (
    repair,
    validate_bars,
    validate_flows,
    validate_funding,
    validate_lending,
    validate_mark,
)


def bars(n=6, start="2024-01-01", tf="1h"):
    ts = pd.date_range(start, periods=n, freq=tf, tz="UTC")
    o = 100 + np.arange(n, dtype=float)
    return pd.DataFrame({"ts": ts, "open": o, "high": o + 2, "low": o - 2, "close": o + 1, "volume": np.ones(n)})


def err(fn, df, **kw) -> DataError:
    with pytest.raises(DataError) as e:
        fn(df, file="f.csv", **kw)
    return e.value


def test_valid_bars_come_back_canonical():
    out = validate_bars(bars(), timeframe="1h")
    assert str(out["ts"].dtype) == "datetime64[ns, UTC]" and out["open"].dtype == np.float64


@pytest.mark.parametrize("mutate,row,rule", [
    (lambda d: d.assign(ts=d.ts.dt.tz_localize(None)), 1, "naive timestamp"),
    (lambda d: d.iloc[[0, 2, 1, 3, 4, 5]].reset_index(drop=True), 3, "not sorted"),
    (lambda d: pd.concat([d.iloc[:3], d.iloc[2:]], ignore_index=True), 4, "duplicate time"),
    (lambda d: d.assign(close=[1, 2, np.nan, 4, 5, 6.0]), 3, "NaN or inf in 'close'"),
    (lambda d: d.assign(volume=[1, 1, 1, np.inf, 1, 1.0]), 4, "NaN or inf in 'volume'"),
    (lambda d: d.assign(low=[98, 99, -1, 101, 102, 103.0]), 3, "price <= 0 in 'low'"),
    (lambda d: d.assign(high=[102, 103, 104, 100, 106, 107.0]), 4, "high < max(open, close)"),
    (lambda d: d.assign(low=[98, 99, 100, 101, 105, 103.0]), 5, "low > min(open, close)"),
    (lambda d: d.assign(ts=d.ts + pd.Timedelta("1min")), 1, "off the 1h grid"),
    (lambda d: d.assign(open=["1", "2", "x", "4", "5", "6"]), 3, "non-numeric"),
    (lambda d: d.drop(columns="volume"), None, "missing column 'volume'"),
])
def test_bar_rules(mutate, row, rule):
    e = err(validate_bars, mutate(bars()), timeframe="1h")
    assert e.row == row and rule in e.rule and e.file == "f.csv"
    assert str(e).startswith("f.csv") and "\n" not in str(e)


def test_unknown_timeframe_and_mark():
    assert "unknown timeframe" in err(validate_bars, bars(), timeframe="7h").rule
    validate_mark(bars().drop(columns="volume"), timeframe="1h")


def funding(times, rates):
    return pd.DataFrame({"ts": pd.to_datetime(times, utc=True, format="ISO8601"), "rate": rates})


def test_funding_interval_changes_and_bound():
    f = validate_funding(funding(["2024-01-01 00:00", "2024-01-01 08:00", "2024-01-01 12:00", "2024-01-01 13:00"],
                                 [1e-4, 2e-4, -1e-4, 5e-5]))
    assert f["interval_h"].tolist() == [8.0, 8.0, 4.0, 1.0]
    # no global bound below a real venue's cap: Hyperliquid prints up to 4 % an hour (its own cap is checked by
    # check_funding_cap); 100 % a settlement is no venue's
    assert validate_funding(funding(["2024-01-01", "2024-01-01 01:00"], [1e-4, 0.035]))["rate"].iloc[1] == 0.035
    e = err(validate_funding, funding(["2024-01-01", "2024-01-01 08:00"], [1e-4, 1.0]))
    assert e.row == 2 and "bound 1" in e.rule
    e = err(validate_funding, funding(["2024-01-01"], [0.05]), bound=0.04)
    assert e.row == 1 and "bound 0.04" in e.rule


H = pd.Timedelta(hours=1)


@pytest.mark.parametrize("hours, covered", [
    # hourly records with rows missing (Hyperliquid's shared files lose nine days a month): each row covers 1 h
    ([0, 1, 2, 3, 4, 225, 226, 227, 228], [1] * 9),
    ([0, 240, 241, 242, 243], [1] * 5),                    # the first row after a hole at the start
    ([0, 1, 2, 3, 5, 6, 7, 8], [1] * 8),                   # one missing hour
    ([0, 8, 16, 32, 40, 48], [8] * 6),                     # one missing 8-hour settlement
    # the interval changes: 8h -> 1h (the last 8-hourly row still covers 8 h) and 1h -> 8h (kept by the next rows)
    ([0, 8, 16, 24, 25, 26, 27, 28], [8, 8, 8, 8, 1, 1, 1, 1]),
    ([0, 1, 2, 3, 11, 19, 27, 35], [1, 1, 1, 1, 8, 8, 8, 8]),
    ([0, 8, 12, 13], [8, 8, 4, 1]),                        # too few rows to call anything a hole
])
def test_settlement_intervals_are_read_from_the_spacing_and_holes_are_not_intervals(hours, covered):
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    f = validate_funding(funding([t0 + h * H for h in hours], [1e-4] * len(hours)))
    assert f["interval_h"].tolist() == [float(c) for c in covered]


def test_funding_jitter_is_an_error_until_repaired():
    df = funding(["2024-01-01 00:00:00.004", "2024-01-01 08:00", "2024-01-01 08:00"], [1e-4, 2e-4, 2e-4])
    assert "settlement grid" in err(validate_funding, df.iloc[:2]).rule
    fixed, log = repair(df, "funding", file="f.csv")
    assert any("snapped 1" in line for line in log) and any("duplicate" in line for line in log)
    assert len(validate_funding(fixed)) == 2


def test_repair_fills_small_gaps_only():
    d = bars(10).drop(index=[3, 6, 7, 8]).reset_index(drop=True)
    fixed, log = repair(d, "perp", timeframe="1h", max_fill=1)
    assert len(fixed) == 7 and "forward-filled 1" in log[0]
    row = fixed.iloc[3]
    assert row.open == row.high == row.low == row.close == d.iloc[2].close and row.volume == 0.0
    validate_bars(fixed, timeframe="1h")


def test_same_time_different_values_is_not_repaired():
    d = pd.concat([bars(3), bars(3).assign(close=[101.5, 102.5, 103.5])], ignore_index=True)
    fixed, _ = repair(d, "spot")
    assert "duplicate time" in err(validate_bars, fixed).rule


def test_lending_and_flows():
    ts = pd.date_range("2024-01-01", periods=3, freq="1D", tz="UTC")
    validate_lending(pd.DataFrame({"ts": ts, "supply_apy": [0.05, 0.06, 0.04]}))
    e = err(validate_lending, pd.DataFrame({"ts": ts, "supply_apy": [0.05, 6.0, 0.04]}))
    assert e.row == 2 and "percent read as fraction" in e.rule
    assert "mint < 0" in err(validate_flows, pd.DataFrame({"ts": ts, "mint": [1, -1, 0.0], "redeem": [0, 0, 0.0]})).rule


@st.composite
def broken_bars(draw):
    n = draw(st.integers(2, 30))
    d = bars(n)
    kind = draw(st.sampled_from(["shuffle", "dup", "nan", "neg", "naive", "inf"]))
    i = draw(st.integers(0, n - 1))
    if kind == "shuffle":
        perm = draw(st.permutations(list(range(n))))
        if perm == sorted(perm):
            perm = perm[::-1]
        d = d.iloc[perm].reset_index(drop=True)
    elif kind == "dup":
        d = pd.concat([d, d.iloc[[i]]]).sort_values("ts", kind="stable").reset_index(drop=True)
    elif kind == "nan":
        d.loc[i, draw(st.sampled_from(["open", "high", "low", "close", "volume"]))] = np.nan
    elif kind == "inf":
        d.loc[i, "close"] = -np.inf
    elif kind == "neg":
        d.loc[i, ["open", "low"]] = -draw(st.floats(0, 1e6))
    else:
        d["ts"] = d["ts"].dt.tz_localize(None)
    return d


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_bars())
def test_broken_frames_always_raise_dataerror(d):
    with pytest.raises(DataError) as e:
        validate_bars(d, timeframe="1h", file="x")
    assert e.value.row is not None and 1 <= e.value.row <= len(d)


def test_canonical_copy_keeps_times_and_owns_its_memory():
    """The fast path (no Timestamp boxing) must give the same times and a frame that shares nothing."""
    d = bars(50)
    out = validate_bars(d, timeframe="1h")
    assert str(out["ts"].dtype) == "datetime64[ns, UTC]"
    assert (out["ts"].to_numpy(dtype="datetime64[ns]") == d["ts"].to_numpy(dtype="datetime64[ns]")).all()
    before = d["close"].to_numpy().copy()
    out.loc[0, "close"] = -1.0
    assert (d["close"].to_numpy() == before).all()
