"""fetch checks its arguments before any request and names the endpoint and cause of a network failure."""
import ccxt
import pandas as pd
import pytest

from basisbt.data.ingest import fetch as F


def _no_network(ex_id):
    raise AssertionError(f"built the {ex_id} exchange (the network) before checking the arguments")


@pytest.mark.parametrize("kw, needle", [
    ({"since": pd.Timestamp("2025-01-01", tz="UTC"), "until": pd.Timestamp("2024-01-01", tz="UTC")}, "not before"),
    ({"exchanges": ["binanse"]}, "did you mean binance"),
    ({"exchanges": ["binance", "nope"]}, "unknown exchange 'nope'"),
    ({"symbol": "eth-usdt"}, "BASE/QUOTE"),
    ({"symbol": "../ETH"}, "no '..'"),
    ({"timeframe": "7m"}, "unknown timeframe"),
    ({"streams": ("spot", "trades")}, "unknown stream"),
    ({"retries": 99}, "between 0 and 20"),
])
def test_arguments_checked_before_network(kw, needle, tmp_path, monkeypatch):
    monkeypatch.setattr(F, "make_exchange", _no_network)     # building an exchange is the first network step
    args = {"exchanges": ["binance"], "symbol": "ETH/USDT", **kw}
    with pytest.raises(F.FetchError, match=needle.replace("(", r"\(")):
        F.fetch(args.pop("exchanges"), args.pop("symbol"), cache_dir=tmp_path, exchange_factory=None,
                **{k: v for k, v in args.items()})
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("exc, cause", [
    (ccxt.NetworkError("binance GET https://api.binance.com/api/v3/exchangeInfo (Caused by "
                       "NameResolutionError: Failed to resolve)"), "DNS lookup failed"),
    (ccxt.RequestTimeout("okx GET https://www.okx.com/api/v5/market/candles request timed out"), "timeout"),
    (ccxt.ExchangeNotAvailable("bybit GET https://api.bybit.com/v5/market/kline 503 Service Unavailable"), "HTTP 503"),
])
def test_network_failure_names_endpoint_and_cause(exc, cause):
    def boom():
        raise exc
    with pytest.raises(F.NetworkFailure) as ei:
        F.call_with_retry(boom, retries=1, sleep=lambda s: None, label="ex load_markets")
    msg = str(ei.value)
    assert cause in msg and "https://" in msg and type(exc).__name__ in msg and "2 attempts" in msg
