"""`basisbt fetch --exchange hyperliquid`: ccxt's real `hyperliquid` class builds the POST /info requests and parses
the answers, replayed from hand-written responses in Hyperliquid's raw format (no network).

Covered: market loading (metaAndAssetCtxs, spotMetaAndAssetCtxs, perpDexs: ETH/USDC:USDC and the UETH spot that
ccxt names ETH/USDC), fundingHistory paged 500 records at a time from startTime (each page starts after the last
record received), record stamps a few hundred ms to ~2 min after the hour snapped onto it, a 9-day hole kept as a
gap, candleSnapshot bars, mark/index skipped (Hyperliquid serves no such history), a print above the 4 %/h cap
refused, and the cache round trip into a dataset with Binance's USDT spot.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest
import requests

from basisbt.data import cache
from basisbt.data.ingest import fetch as F

H = 3_600_000
T0 = int(pd.Timestamp("2025-01-01", tz="UTC").value // 10**6)
NOW = T0 + 1200 * H + 500                   # 1200 complete hours after T0
HOLE = (T0 + 700 * H, T0 + 916 * H)         # nine days the records do not have (as in the shared files)


def stamp(t: int) -> int:
    """A few hundred ms after the hour; one record ~111 s late (seen in the shared records)."""
    return t + (110_963 if t == T0 + 300 * H else 100 + (t // H) % 700)


def rate(t: int) -> str:
    return "0.0000125" if (t // H) % 3 else "0.0000552776"


class Info(requests.Session):
    """Answers POST https://api.hyperliquid.xyz/info by the body's `type`, in Hyperliquid's raw format."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict] = []
        self.spike_at: int | None = None

    def request(self, method, url, **kw):
        body = json.loads(kw.get("data") or "{}")
        self.calls.append(body)
        answer = getattr(self, "_" + body.get("type", ""), None)
        r = requests.Response()
        r.url, r.status_code = url, 200 if answer else 422
        r._content = json.dumps(answer(body) if answer else {"error": "unknown type"}).encode()
        r.headers["Content-Type"] = "application/json"
        return r

    def _metaAndAssetCtxs(self, body):          # noqa: N802 (the API's names)
        ctx = {"dayNtlVlm": "1.0", "funding": "0.0000125", "impactPxs": ["3000.0", "3000.1"], "markPx": "3000.0",
               "midPx": "3000.05", "openInterest": "1.0", "oraclePx": "3000.0", "premium": "0.0", "prevDayPx": "3000.0"}
        return [{"universe": [{"name": "BTC", "szDecimals": 5, "maxLeverage": 40, "onlyIsolated": False},
                              {"name": "ETH", "szDecimals": 4, "maxLeverage": 25, "onlyIsolated": False}]},
                [dict(ctx, markPx="95000.0"), ctx]]

    def _spotMeta(self, body):                  # noqa: N802 (ccxt's fetch_currencies)
        tokens = [{"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0, "tokenId": "0x6d", "isCanonical": True},
                  {"name": "UETH", "szDecimals": 4, "weiDecimals": 9, "index": 1, "tokenId": "0xe1", "isCanonical": False}]
        return {"tokens": tokens, "universe": [{"name": "@151", "tokens": [1, 0], "index": 0, "isCanonical": False}]}

    def _spotMetaAndAssetCtxs(self, body):      # noqa: N802
        return [self._spotMeta(body), [{"dayNtlVlm": "1.0", "markPx": "3000.0", "midPx": "3000.0", "prevDayPx": "3000.0"}]]

    def _perpDexs(self, body):                  # noqa: N802
        return [None]

    def _fundingHistory(self, body):            # noqa: N802 (the oldest 500 records from startTime on)
        assert body["coin"] == "ETH"
        a, b = int(body["startTime"]), int(body.get("endTime", NOW))
        out, t = [], a - a % H
        while t <= min(b, NOW) and len(out) < 500:
            if not HOLE[0] <= t < HOLE[1] and a <= stamp(t) <= b:
                r = "0.05" if t == self.spike_at else rate(t)
                out.append({"coin": "ETH", "fundingRate": r, "premium": "0.0003", "time": stamp(t)})
            t += H
        return out

    def _candleSnapshot(self, body):            # noqa: N802 (hourly candles, 500 a call here)
        req = body["req"]
        assert req["interval"] == "1h" and req["coin"] in ("ETH", "@151")
        a, b = int(req["startTime"]), int(req["endTime"])
        out, t = [], a + (-a) % H
        while t <= b and t + H <= NOW and len(out) < 500:
            p = 3000.0 + (t // H) % 40
            out.append({"t": t, "T": t + H - 1, "s": req["coin"], "i": "1h", "o": str(p), "c": str(p + 1),
                        "h": str(p + 5), "l": str(p - 5), "v": "12.5", "n": 40})
            t += H
        return out


@pytest.fixture
def hl():
    s = Info()

    def factory(_id):
        ex = F.make_exchange("hyperliquid", session=s, config={"rateLimit": 1})
        ex.milliseconds = lambda: NOW
        return ex
    return s, factory


def test_funding_is_paged_500_from_start_snapped_to_the_hour_and_the_hole_kept(tmp_path, hl):
    session, factory = hl
    reports = F.fetch(["hyperliquid"], "ETH/USDC", since=pd.Timestamp(T0 * 10**6, tz="UTC"),
                      streams=("spot", "perp", "mark", "index", "funding"), cache_dir=tmp_path,
                      exchange_factory=factory, sleep=lambda s: None)
    by = {r.stream: r for r in reports}
    assert by["mark"].skipped == "hyperliquid has no fetchMarkOHLCV" and by["index"].skipped
    expected = 1201 - 216                                   # hours T0 .. T0+1200 less the nine-day hole
    assert by["funding"].rows == expected
    pages = [c for c in session.calls if c["type"] == "fundingHistory"]
    assert len(pages) == by["funding"].requests == 3      # 500 + 485 + an empty tail
    assert int(pages[0]["startTime"]) == T0
    assert int(pages[1]["startTime"]) == stamp(T0 + 499 * H) + 1   # page 2: just after the last record received
    f = cache.read(tmp_path, cache.key_for("funding", "hyperliquid", "ETH/USDC:USDC"))
    assert (f["ts"].astype("int64") % (3600 * 10**9) == 0).all()          # stamps snapped, the 111 s one too
    assert f["ts"].iloc[300] == pd.Timestamp((T0 + 300 * H) * 10**6, tz="UTC")
    assert (f["interval_h"] == 1.0).all()                                  # the hole is a gap, not a 217 h interval
    listing = cache.list_cache(tmp_path).set_index("stream")
    assert listing.loc["funding", "gaps"] == 1 and listing.loc["funding", "symbol"] == "ETH/USDC:USDC"
    assert listing.loc["perp", "rows"] == listing.loc["spot", "rows"] == 1200
    assert listing.loc["spot", "symbol"] == "ETH/USDC"                     # ccxt's name for the UETH spot
    candles = [c["req"]["coin"] for c in session.calls if c["type"] == "candleSnapshot"]
    assert set(candles) == {"ETH", "@151"}


def test_a_print_above_the_4pct_cap_is_refused(tmp_path, hl):
    session, factory = hl
    session.spike_at = T0 + 5 * H
    with pytest.raises(F.FetchError, match=r"hyperliquid funding ETH/USDC:USDC.*row 6.*cap of 4.0000%"):
        F.fetch(["hyperliquid"], "ETH/USDC", since=pd.Timestamp(T0 * 10**6, tz="UTC"), streams=("funding",),
                cache_dir=tmp_path, exchange_factory=factory, sleep=lambda s: None)
    assert cache.list_cache(tmp_path).empty


def test_usdc_perp_joins_usdt_spot_in_a_cache_dataset(tmp_path, hl):
    """cache:ETH/USDT takes Hyperliquid's ETH/USDC:USDC perp (its venue file's quote) beside Binance's USDT spot."""
    from basisbt.data.cache import write
    from basisbt.data.sources import resolve_data
    _, factory = hl
    F.fetch(["hyperliquid"], "ETH/USDC", since=pd.Timestamp(T0 * 10**6, tz="UTC"), streams=("perp", "funding"),
            cache_dir=tmp_path, exchange_factory=factory, sleep=lambda s: None)
    spot = cache.read(tmp_path, cache.key_for("perp", "hyperliquid", "ETH/USDC:USDC", "1h")).copy()
    write(tmp_path, cache.key_for("spot", "binance", "ETH/USDT", "1h"), spot)
    ds = resolve_data("cache:ETH/USDT", cache_dir=tmp_path).with_shared_spot("binance")
    assert ds.venues == ["hyperliquid"] and ds.symbol == "ETH/USDT"
    assert len(ds.funding["hyperliquid"]) == 985
    assert any("perp ETH/USDC:USDC (the venue's quote) hedges ETH/USDT spot" in n for n in ds.notes)
    summary = cache.assets_summary(cache.list_cache(tmp_path))
    row = summary[summary.symbol == "ETH/USDT"].iloc[0]
    assert "hyperliquid: funding(ETH/USDC:USDC) perp(ETH/USDC:USDC)" in row.venues
