"""ccxt's real request building and parsing, replayed against hand-written raw exchange responses.

No network: a requests.Session subclass answers by URL path + query params in each exchange's raw
JSON format (binance fapi/api v3, bybit v5, okx v5). Covers a page boundary, HTTP 429, a 503
followed by success, BadSymbol, a resumed (tail-only) second fetch and the cache round trip.
"""
from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlparse

import pandas as pd
import pytest
import requests
import typer
from typer.testing import CliRunner

from basisbt.data import cache
from basisbt.data.ingest import fetch as F

H = 3_600_000
T0 = int(pd.Timestamp("2024-01-01", tz="UTC").value // 10**6)
NOW = T0 + 1500 * H + 123            # pinned clock: 1500 complete hourly bars after T0


def price(t_ms: int) -> float:
    return 2000.0 + (t_ms // H) % 50


class Replay(requests.Session):
    """Answers ccxt's HTTP calls from a route table; `fail` queues (path, status, body) answers first."""

    def __init__(self, routes):
        super().__init__()
        self.routes = routes
        self.calls: list[tuple[str, dict]] = []
        self.fail: list[tuple[str, int, str]] = []

    def request(self, method, url, **kw):
        u = urlparse(url)
        params = dict(parse_qsl(u.query))
        self.calls.append((u.path, params))
        for i, (path, status, body) in enumerate(self.fail):
            if path == u.path:
                del self.fail[i]
                return self._resp(url, status, body)
        if u.path not in self.routes:
            return self._resp(url, 404, json.dumps({"code": -1, "msg": f"no route {u.path}"}))
        status, body = self.routes[u.path](params)
        return self._resp(url, status, body if isinstance(body, str) else json.dumps(body))

    @staticmethod
    def _resp(url, status, text):
        r = requests.Response()
        r.status_code = status
        r.url = url
        r.reason = {200: "OK", 429: "Too Many Requests", 503: "Service Unavailable", 400: "Bad Request"}.get(status, "")
        r._content = text.encode()
        r.headers["Content-Type"] = "application/json" if text[:1] in "[{" else "text/html"
        return r


def _window(params, start_key, end_key, default_limit):
    lim = int(params.get("limit", default_limit))
    a = int(params[start_key])
    b = int(params[end_key]) if end_key in params else a + lim * H
    return a, b, lim


# ---------------------------------------------------------------- binance raw formats

def binance_klines(params, first=T0 - 24 * H):
    a, b, lim = _window(params, "startTime", "endTime", 500)
    out = []
    t = max(a + (-a) % H, first)
    while t <= b and len(out) < lim and t < NOW - H:
        p = price(t)
        out.append([t, f"{p:.2f}", f"{p + 5:.2f}", f"{p - 5:.2f}", f"{p + 1:.2f}", "12.5", t + H - 1,
                    "25000.0", 100, "6.0", "12000.0", "0"])
        t += H
    return 200, out


def binance_funding(params):
    a, lim = int(params["startTime"]), int(params.get("limit", 100))
    b = int(params.get("endTime", NOW))
    out, t = [], a + (-a) % (8 * H)
    while t <= min(b, NOW) and len(out) < lim:
        jitter = 3 if (t // (8 * H)) % 5 == 0 else 0           # Binance's ms jitter on some settlements
        out.append({"symbol": "ETHUSDT", "fundingTime": t + jitter, "fundingRate": "0.00010000",
                    "markPrice": f"{price(t):.8f}"})
        t += 8 * H
    return 200, out


def _mk(id_, symbol, type_, **kw):
    base, rest = symbol.split("/")
    quote = rest.split(":")[0]
    settle = rest.split(":")[1] if ":" in rest else None
    m = {"id": id_, "symbol": symbol, "base": base, "quote": quote, "settle": settle, "baseId": base,
         "quoteId": quote, "settleId": settle, "type": type_, "spot": type_ == "spot", "margin": False,
         "swap": type_ == "swap", "future": False, "option": False, "active": True, "contract": type_ == "swap",
         "linear": True if type_ == "swap" else None, "inverse": False if type_ == "swap" else None,
         "contractSize": 1.0 if type_ == "swap" else None, "expiry": None, "expiryDatetime": None,
         "strike": None, "optionType": None, "taker": 0.001, "maker": 0.001,
         "precision": {"amount": 0.001, "price": 0.01}, "limits": {"amount": {"min": None, "max": None},
                                                                   "price": {"min": None, "max": None},
                                                                   "cost": {"min": None, "max": None},
                                                                   "leverage": {"min": None, "max": None}},
         "created": None, "info": kw.pop("info", {})}
    m.update(kw)
    return m


def make_binance(session):
    ex = F.make_exchange("binance", session=session, config={"rateLimit": 1})
    ex.set_markets([_mk("ETHUSDT", "ETH/USDT", "spot"), _mk("ETHUSDT", "ETH/USDT:USDT", "swap"),
                    _mk("BTCUSDT", "BTC/USDT", "spot")])
    ex.milliseconds = lambda: NOW
    return ex


BINANCE_ROUTES = {"/api/v3/klines": binance_klines, "/fapi/v1/klines": binance_klines,
                  "/fapi/v1/markPriceKlines": binance_klines, "/fapi/v1/indexPriceKlines": binance_klines,
                  "/fapi/v1/fundingRate": binance_funding}


@pytest.fixture
def binance():
    s = Replay(dict(BINANCE_ROUTES))
    return s, (lambda _id: make_binance(s))


def test_binance_full_fetch_pages_retries_and_round_trip(tmp_path, binance):
    global NOW
    session, factory = binance
    session.fail = [("/fapi/v1/klines", 429, json.dumps({"code": -1003, "msg": "Too many requests"})),
                    ("/api/v3/klines", 503, "<html>Service Unavailable</html>")]
    sleeps: list[float] = []
    seen: list[tuple] = []
    reports = F.fetch(["binance"], "ETH/USDT", since=pd.Timestamp(T0 * 10**6, tz="UTC"), timeframe="1h",
                      cache_dir=tmp_path, exchange_factory=factory, sleep=sleeps.append,
                      progress=lambda *a: seen.append(a))
    by = {r.stream: r for r in reports}
    assert set(by) == {"spot", "perp", "mark", "index", "funding"}
    for s in ("spot", "perp", "mark", "index"):
        assert by[s].rows == 1500, s
    assert by["spot"].requests == 2          # pages of 1000 + 500 ...
    assert sum(path == "/api/v3/klines" for path, _ in session.calls) == 3   # ... plus the 503 retried
    assert sleeps == [1.0, 2.0]              # 503: 1 s, 429: 2 s (rate limits back off harder)
    pages = [p for path, p in session.calls if path == "/fapi/v1/klines"]
    assert int(pages[-1]["startTime"]) == T0 + 1000 * H          # page 2 starts after the last bar received
    assert seen and seen[-1][1] == seen[-1][2]

    listing = cache.list_cache(tmp_path)
    assert set(listing["stream"]) == {"spot", "perp", "mark", "index", "funding"}
    perp = listing[listing.stream == "perp"].iloc[0]
    assert perp.rows == 1500 and perp.start == pd.Timestamp(T0 * 10**6, tz="UTC") and perp.gaps == 0
    ds = cache.load_dataset(tmp_path, "ETH/USDT", "1h")
    assert ds.venues == ["binance"]
    fund = ds.funding["binance"]
    assert (fund["ts"].astype("int64") % (3600 * 10**9) == 0).all()         # jitter snapped
    assert (fund["interval_h"] == 8.0).all() and len(fund) == 188
    assert ds.perp["binance"]["close"].iloc[0] == price(T0) + 1

    # second run, clock 10h later: only the missing tail is asked for
    session.calls.clear()
    later = NOW + 10 * H

    def factory2(_id):
        ex = make_binance(session)
        ex.milliseconds = lambda: later
        return ex
    old_now, NOW = NOW, later
    try:
        reports = F.fetch(["binance"], "ETH/USDT", since=pd.Timestamp(T0 * 10**6, tz="UTC"),
                          cache_dir=tmp_path, exchange_factory=factory2, sleep=sleeps.append)
    finally:
        NOW = old_now
    kl = [p for path, p in session.calls if path == "/fapi/v1/klines"]
    assert len(kl) == 1 and int(kl[0]["startTime"]) == T0 + 1500 * H
    assert {r.stream: r.rows for r in reports}["perp"] == 10
    assert cache.list_cache(tmp_path).query("stream == 'perp'").rows.iloc[0] == 1510


def test_bad_symbol_names_what_is_listed(tmp_path, binance):
    _, factory = binance
    with pytest.raises(F.FetchError, match=r"'SOL/USDT' not listed"):
        F.fetch(["binance"], "SOL/USDT", since=pd.Timestamp(T0 * 10**6, tz="UTC"), cache_dir=tmp_path,
                exchange_factory=factory)
    assert cache.list_cache(tmp_path).empty
    with pytest.raises(F.FetchError, match=r"'BTC/USDT:USDT' not listed; available like it: BTC/USDT"):
        F.fetch(["binance"], "BTC/USDT", since=pd.Timestamp(T0 * 10**6, tz="UTC"), cache_dir=tmp_path,
                exchange_factory=factory)


def test_exchange_side_bad_symbol_and_exhausted_retries(tmp_path, binance):
    session, factory = binance
    session.routes["/fapi/v1/fundingRate"] = lambda p: (400, {"code": -1121, "msg": "Invalid symbol."})
    with pytest.raises(F.FetchError, match="bad symbol"):
        F.fetch(["binance"], "ETH/USDT", since=pd.Timestamp(T0 * 10**6, tz="UTC"), streams=("funding",),
                cache_dir=tmp_path, exchange_factory=factory, sleep=lambda s: None)
    session.routes["/fapi/v1/klines"] = lambda p: (503, "<html>busy</html>")
    session.fail = []
    with pytest.raises(F.FetchError, match="gave up after 3 attempts; run again to resume"):
        F.fetch(["binance"], "ETH/USDT", since=pd.Timestamp(T0 * 10**6, tz="UTC"), streams=("perp",),
                cache_dir=tmp_path, exchange_factory=factory, sleep=lambda s: None, retries=2)


def test_killed_run_leaves_valid_cache_and_resumes(tmp_path, binance):
    session, factory = binance
    calls = {"n": 0}

    def dying(params):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt           # the user hits ^C during page 3
        return binance_klines(params)
    session.routes["/fapi/v1/klines"] = dying
    F.PAGE_SIZES["binance"]["ohlcv"] = 500
    try:
        with pytest.raises(KeyboardInterrupt):
            F.fetch(["binance"], "ETH/USDT", since=pd.Timestamp(T0 * 10**6, tz="UTC"), streams=("perp",),
                    cache_dir=tmp_path, exchange_factory=factory, flush_pages=1)
        part = cache.list_cache(tmp_path)
        assert part.rows.tolist() == [1000]                    # two flushed pages, file valid
        assert not list(tmp_path.rglob("*.tmp"))
        session.calls.clear()
        F.fetch(["binance"], "ETH/USDT", since=pd.Timestamp(T0 * 10**6, tz="UTC"), streams=("perp",),
                cache_dir=tmp_path, exchange_factory=factory, flush_pages=1)
    finally:
        F.PAGE_SIZES["binance"]["ohlcv"] = 1000
    assert int(session.calls[0][1]["startTime"]) == T0 + 1000 * H
    assert cache.list_cache(tmp_path).rows.tolist() == [1500]


# ---------------------------------------------------------------- bybit v5 raw format (newest first)

def bybit_kline(params):
    a, b, lim = _window(params, "start", "end", 200)
    rows = []
    t = a
    while t <= b and t < NOW - H:
        p = price(t)
        rows.append([str(t), f"{p}", f"{p + 5}", f"{p - 5}", f"{p + 1}", "10", "20000"])
        t += H
    rows = rows[-lim:][::-1]                      # bybit: the NEWEST `limit` rows, newest first
    return 200, {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "symbol": "ETHUSDT", "list": rows},
                 "retExtInfo": {}, "time": NOW}


def bybit_funding(params):
    a, b, lim = int(params["startTime"]), int(params["endTime"]), int(params["limit"])
    rows, t = [], a + (-a) % H
    while t <= min(b, NOW):
        step = 8 * H if t < T0 + 400 * H else H           # the interval changes 8h -> 1h
        if t < T0 + 400 * H and (t - T0) % (8 * H):
            t += H
            continue
        rows.append({"symbol": "ETHUSDT", "fundingRate": "0.0001", "fundingRateTimestamp": str(t)})
        t += step if step == H else 8 * H
    rows = rows[-lim:][::-1]
    return 200, {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": rows}, "retExtInfo": {},
                 "time": NOW}


def test_bybit_newest_first_pages_and_interval_change(tmp_path):
    s = Replay({"/v5/market/kline": bybit_kline, "/v5/market/funding/history": bybit_funding})
    s.fail = [("/v5/market/kline", 429, json.dumps({"retCode": 10006, "retMsg": "Too many visits!"}))]

    def factory(_id):
        ex = F.make_exchange("bybit", session=s, config={"rateLimit": 1})
        ex.set_markets([_mk("ETHUSDT", "ETH/USDT:USDT", "swap", info={"fundingInterval": "480"}),
                        _mk("ETHUSDT", "ETH/USDT", "spot")])
        ex.milliseconds = lambda: NOW
        return ex
    reports = F.fetch(["bybit"], "ETH/USDT", since=pd.Timestamp(T0 * 10**6, tz="UTC"), streams=("perp", "funding"),
                      cache_dir=tmp_path, exchange_factory=factory, sleep=lambda s: None)
    assert {r.stream: r.rows for r in reports} == {"perp": 1500, "funding": 50 + 1101}
    assert all(int(p["limit"]) <= 1000 for path, p in s.calls if path == "/v5/market/kline")
    f = cache.read(tmp_path, cache.key_for("funding", "bybit", "ETH/USDT:USDT"))
    assert f["interval_h"].iloc[1] == 8.0 and f["interval_h"].iloc[-1] == 1.0
    assert cache.list_cache(tmp_path).gaps.tolist() == [0, 0]


# ---------------------------------------------------------------- okx v5 raw format

def okx_candles(params):
    before, after = int(params["before"]), int(params["after"])
    lim = int(params.get("limit", 100))
    rows, t = [], before + 1 + (-(before + 1)) % H
    while t < after and t < NOW - H:
        p = price(t)
        rows.append([str(t), f"{p}", f"{p + 5}", f"{p - 5}", f"{p + 1}", "10", "1", "2000", "1"])
        t += H
    return 200, {"code": "0", "msg": "", "data": rows[-lim:][::-1]}


def okx_funding(params):
    before, after = int(params["before"]), int(params["after"])
    rows, t = [], before + 1 + (-(before + 1)) % (8 * H)
    while t < min(after, NOW):
        rows.append({"instId": "ETH-USDT-SWAP", "instType": "SWAP", "fundingRate": "0.0002", "realizedRate": "0.0002",
                     "fundingTime": str(t), "method": "current_period", "formulaType": "noRate"})
        t += 8 * H
    return 200, {"code": "0", "msg": "", "data": rows[::-1][: int(params.get("limit", 100))]}


def test_okx_mark_and_funding(tmp_path):
    s = Replay({"/api/v5/market/history-candles": okx_candles, "/api/v5/market/candles": okx_candles,
                "/api/v5/market/history-mark-price-candles": okx_candles,
                "/api/v5/market/mark-price-candles": okx_candles,
                "/api/v5/public/funding-rate-history": okx_funding})

    def factory(_id):
        ex = F.make_exchange("okx", session=s, config={"rateLimit": 1})
        ex.set_markets([_mk("ETH-USDT-SWAP", "ETH/USDT:USDT", "swap", info={"instFamily": "ETH-USDT"}),
                        _mk("ETH-USDT", "ETH/USDT", "spot")])
        ex.milliseconds = lambda: NOW
        return ex
    reports = F.fetch(["okx"], "ETH/USDT", since=pd.Timestamp(T0 * 10**6, tz="UTC"),
                      streams=("perp", "mark", "funding"), cache_dir=tmp_path, exchange_factory=factory)
    by = {r.stream: r for r in reports}
    assert by["perp"].rows == 1500 and by["perp"].requests == 5       # 300 a page
    assert by["mark"].rows == 1500 and by["mark"].requests == 15      # 100 a page
    assert by["funding"].rows == 188
    f = cache.read(tmp_path, cache.key_for("funding", "okx", "ETH/USDT:USDT"))
    assert f["rate"].eq(0.0002).all()


def test_cli_fetch_and_data_list(tmp_path, binance, monkeypatch):
    from basisbt.cli import data as cli_data
    _, factory = binance
    real = F.fetch
    monkeypatch.setattr(F, "fetch", lambda *a, **k: real(*a, **{**k, "exchange_factory": factory}))
    app = typer.Typer()
    cli_data.register(app)
    r = CliRunner().invoke(app, ["fetch", "--exchange", "binance", "--symbol", "ETH/USDT", "--since", "2024-01-01",
                                 "--streams", "perp,funding", "--cache", str(tmp_path)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["data", "list", "--cache", str(tmp_path)])
    assert r.exit_code == 0 and "funding" in r.output and "1500" in r.output
    monkeypatch.undo()
    r = CliRunner().invoke(app, ["fetch", "--exchange", "nope", "--cache", str(tmp_path)])
    assert r.exit_code == 2 and "unknown exchange 'nope'" in r.output and "Traceback" not in r.output
