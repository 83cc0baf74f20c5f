"""`basisbt import hyperliquid`: fundingHistory records as the API returns them, and the shared real records."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from basisbt.cli.app import app
from basisbt.data import cache
from basisbt.data.errors import DataError
from basisbt.data.ingest.common import finalize
from basisbt.data.ingest.hyperliquid import import_hyperliquid

H = 3_600_000
T0 = int(pd.Timestamp("2025-02-01", tz="UTC").value // 10**6)
SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "hyperliquid"


def write(tmp_path: Path, records: list[dict], name: str = "hl.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(records))
    return p


def imported(path: Path, **kw) -> pd.DataFrame:
    items = import_hyperliquid(path, **kw)
    finalize(items)
    assert len(items) == 1
    return items[0].frame


def formula(p: float) -> float:
    """Hyperliquid's hourly rate from the hour's premium, written out: (P + clamp(0.01 % - P, +-0.05 %)) / 8."""
    return (p + min(max(0.0001 - p, -0.0005), 0.0005)) / 8


def test_both_spellings_stamps_after_the_hour_and_rates_from_the_premium(tmp_path):
    recs = [
        {"coin": "ETH", "fundingRate": "0.0000552776", "premium": "0.0009422208", "time": T0 + 151},
        {"coin": "ETH", "funding_rate": "0.0000125", "premium": "0.0003", "time": T0 + H + 6},
        {"coin": "ETH", "premium": "-0.001", "time": T0 + 2 * H + 110_963},        # no rate: from the premium
        {"coin": "ETH", "premium": "0.0003", "time": T0 + 3 * H + 400},
        {"coin": "ETH", "fundingRate": "0.035", "premium": "0.28", "time": T0 + 5 * H + 80},   # 3.5 %/h: a real print
    ]
    f = imported(write(tmp_path, recs))
    want_ts = [T0 + k * H for k in (0, 1, 2, 3, 5)]
    assert (f["ts"].astype("int64") // 10**6).tolist() == want_ts
    np.testing.assert_allclose(f["rate"], [0.0000552776, 0.0000125, formula(-0.001), formula(0.0003), 0.035],
                               rtol=0, atol=1e-15)
    assert f["rate"].iloc[2] == pytest.approx(-0.0000625, abs=1e-15)     # (-0.001 + 0.0005) / 8
    assert f["interval_h"].tolist() == [1.0] * 5                         # the missing 04:00 is a gap, not a 2 h interval


def test_a_premium_beyond_the_cap_prints_the_cap(tmp_path):
    f = imported(write(tmp_path, [{"coin": "ETH", "premium": str(p), "time": T0 + k * H} for k, p in
                                  enumerate([0.5, -0.5, 0.0003])]))
    assert f["rate"].tolist()[:2] == [0.04, -0.04]                       # 0.5 / 8 = 6.25 %/h, capped at 4 %


def test_a_print_above_4pct_is_refused_with_file_and_record(tmp_path):
    p = write(tmp_path, [{"coin": "ETH", "fundingRate": "0.0000125", "time": T0},
                         {"coin": "ETH", "fundingRate": "0.0000125", "time": T0 + H},
                         {"coin": "ETH", "fundingRate": "0.0401", "time": T0 + 2 * H}])
    with pytest.raises(DataError) as e:
        imported(p)
    assert e.value.file == str(p) and e.value.row == 3 and "hyperliquid ETH cap of 4.0000%" in e.value.rule


@pytest.mark.parametrize("rec, says", [
    ({"coin": "ETH", "fundingRate": "0.0001", "time": T0 + 6 * 60_000}, "stamped 360.000 s after the hour"),
    ({"coin": "ETH", "fundingRate": "0.0001", "funding_rate": "0.0002", "time": T0}, "disagree"),
    ({"coin": "ETH", "fundingRate": "x", "time": T0}, "fundingRate is not a number"),
    ({"coin": "ETH", "time": T0}, "neither a rate"),
    ({"fundingRate": "0.0001", "time": T0}, "no 'coin'"),
    ({"coin": "ETH", "fundingRate": "0.0001"}, "no 'time'"),
])
def test_bad_records_are_refused_naming_the_record(tmp_path, rec, says):
    good = {"coin": "ETH", "fundingRate": "0.0000125", "time": T0 - H}
    p = write(tmp_path, [good, rec])
    with pytest.raises(DataError) as e:
        imported(p)
    assert says in str(e.value) and e.value.row == 2 and e.value.file == str(p)


def test_several_coins_and_pages(tmp_path):
    (tmp_path / "pages").mkdir()
    write(tmp_path / "pages", [{"coin": c, "fundingRate": "0.0000125", "time": T0 + k * H + 5}
                               for k in range(3) for c in ("ETH", "BTC")], "page1.json")
    write(tmp_path / "pages", [{"coin": "ETH", "fundingRate": "0.0000125", "time": T0 + k * H + 5}
                               for k in range(3, 6)], "page2.json")
    items = import_hyperliquid(tmp_path / "pages")
    finalize(items)
    assert {it.key.symbol: len(it.frame) for it in items} == {"BTC/USDC:USDC": 3, "ETH/USDC:USDC": 6}
    with pytest.raises(DataError, match="hold several coins"):
        import_hyperliquid(tmp_path / "pages", symbol="ETH/USDC")
    with pytest.raises(DataError, match="no 'SOL' records"):
        import_hyperliquid(tmp_path / "pages", coin="SOL")


def test_cli_import_list_and_errors(tmp_path):
    cache_dir = tmp_path / "cache"
    p = write(tmp_path, [{"coin": "ETH", "fundingRate": "0.0000125", "time": T0 + k * H + 9} for k in range(4)])
    r = CliRunner().invoke(app, ["import", "hyperliquid", str(p), "--cache", str(cache_dir)])
    assert r.exit_code == 0, r.output
    listing = cache.list_cache(cache_dir)
    assert listing[["venue", "symbol", "stream", "rows"]].values.tolist() == [["hyperliquid", "ETH/USDC:USDC",
                                                                               "funding", 4]]
    r = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["data", "list", "--cache", str(cache_dir)])
    assert r.exit_code == 0 and "hyperliquid" in r.output and "ETH/USDC:USDC" in r.output
    bad = write(tmp_path, [{"coin": "ETH", "fundingRate": "0.05", "time": T0}], "bad.json")
    for args, says in (([str(bad)], "bad.json, row 1: |funding rate| above the hyperliquid ETH cap"),
                       ([str(tmp_path / "none.json")], "no such file"),
                       ([str(write(tmp_path, {"a": 1}, "obj.json"))], "expected a JSON array")):   # type: ignore[arg-type]
        r = CliRunner().invoke(app, ["import", "hyperliquid", *args, "--cache", str(cache_dir)])
        assert r.exit_code == 2 and says in r.output and "Traceback" not in r.output, r.output
        assert len(r.output.strip().splitlines()) == 1


# ------------------------------------------------------------------ the shared real records (../shared/data)

@pytest.mark.parametrize("coin", ["ETH", "BTC"])
def test_every_shared_record_is_the_formula_on_its_premium(coin, tmp_path):
    path = SHARED / f"fundingHistory_{coin}_2024-2025.json"
    if not path.is_file():
        pytest.skip(f"{path} absent (fresh clone)")
    recs = json.loads(path.read_text())
    rates = np.array([float(r["funding_rate"]) for r in recs])
    want = np.array([formula(float(r["premium"])) for r in recs])
    assert len(recs) == 12192 and np.max(np.abs(rates - want)) <= 1e-9
    # the importer, given only the premiums, prints the recorded rates (its formula: the venue file's)
    derived = imported(write(tmp_path, [{k: v for k, v in r.items() if k != "funding_rate"} for r in recs]))
    assert np.max(np.abs(derived["rate"].to_numpy() - rates)) <= 1e-9
    recorded = imported(path)
    assert recorded["rate"].to_numpy().tolist() == rates.tolist()
    assert (recorded["interval_h"] == 1.0).all()
