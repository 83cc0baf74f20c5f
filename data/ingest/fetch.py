"""Fetch exchange history over ccxt into the cache: hand pagination, retries, incremental, resumable.

Why by hand: ccxt's `paginate` assumes 8h funding (gaps on 4h/1h symbols) and bybit does not
clamp `limit`. Every request here asks for an explicit window [cur, cur + page x step) and the
next one starts after the last timestamp received (or at the window end when it was empty), so a
short or truncated page never leaves a hole. Pages are flushed to the cache in atomic batches
with the ranges they cover, so a killed run leaves a valid cache and the next run resumes.
"""
from __future__ import annotations

import difflib
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ccxt
import pandas as pd

from basisbt.data import cache
from basisbt.data.errors import DataError
from basisbt.data.schemas import TS, timeframe_ns

log = logging.getLogger("basisbt.fetch")

HOUR_MS = 3_600_000
NS_PER_MS = 1_000_000
STREAMS = ("spot", "perp", "mark", "index", "funding")

# Largest page each API accepts (ccxt clamps binance OHLCV to 1000 although fapi allows 1500;
# bybit v5 kline max 1000 and funding/history max 200; okx history candles 300 (ccxt uses 100
# for mark/index candles), okx funding-rate-history max 100). Unknown exchanges get 100.
PAGE_SIZES: dict[str, dict[str, int]] = {
    "binance": {"ohlcv": 1000, "mark": 1000, "index": 1000, "funding": 1000},
    "binanceusdm": {"ohlcv": 1000, "mark": 1000, "index": 1000, "funding": 1000},
    "bybit": {"ohlcv": 1000, "mark": 1000, "index": 1000, "funding": 200},
    "okx": {"ohlcv": 300, "mark": 100, "index": 100, "funding": 100},
    "hyperliquid": {"ohlcv": 500, "mark": 500, "index": 500, "funding": 500},   # info API: 500 records a call
}
DEFAULT_PAGE = {"ohlcv": 100, "mark": 100, "index": 100, "funding": 100}
# How each exchange takes the end of a funding window (okx: raw `after`, exclusive).
FUNDING_END_PARAM = {"okx": ("after", 0)}
# Exchanges whose funding endpoint returns the OLDEST rows from startTime on (no window needed).
FUNDING_FORWARD = {"binance", "binanceusdm", "hyperliquid"}
# How far after the settlement instant an exchange stamps its funding records (snapped onto the hour, logged):
# Binance's ms jitter by default; Hyperliquid a few hundred ms to ~2 min (data/ingest/hyperliquid.py).
FUNDING_STAMP_MS = {"hyperliquid": 5 * 60 * 1000}

ProgressFn = Callable[[str, int, int, int], None]   # (task label, done ms, total ms, rows so far)


class FetchError(Exception):
    """A fetch that cannot go on: unknown exchange, bad symbol, retries exhausted (message says what to do)."""


class NetworkFailure(FetchError):
    """Retries exhausted on a network error: the environment failed (exit 3), not the arguments."""


@dataclass
class StreamReport:
    """What one stream fetch did: rows added, requests made, remaining gaps."""

    venue: str
    stream: str
    symbol: str
    timeframe: str
    rows: int = 0
    requests: int = 0
    asked: list[tuple[int, int]] = field(default_factory=list)   # ms windows asked for
    gaps: int = 0
    skipped: str = ""


def make_exchange(exchange_id: str, *, session=None, config: dict | None = None) -> ccxt.Exchange:
    """A rate-limited ccxt exchange; an unknown id is a FetchError naming close matches."""
    if exchange_id not in ccxt.exchanges:
        close = difflib.get_close_matches(exchange_id, ccxt.exchanges, n=5, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise FetchError(f"unknown exchange {exchange_id!r}; {hint}ccxt knows {len(ccxt.exchanges)} "
                         f"(e.g. binance, bybit, okx)")
    cfg = {"enableRateLimit": True, **(config or {})}
    if session is not None:
        cfg["session"] = session
    return getattr(ccxt, exchange_id)(cfg)


def _page(ex: ccxt.Exchange, kind: str) -> int:
    return PAGE_SIZES.get(ex.id, DEFAULT_PAGE)[kind]


_URL = re.compile(r"https?://[^\s?]+")
_HTTP = re.compile(r"\s*([1-5]\d\d)\b")
_DNS = ("Name or service not known", "nodename nor servname", "getaddrinfo", "NameResolutionError",
        "Temporary failure in name resolution", "No address associated")


def describe_network_error(e: Exception) -> str:
    """'DNS lookup failed' / 'timeout' / 'HTTP 503' / 'connection refused' ... and the endpoint, from a ccxt error."""
    text = str(e)
    url = _URL.search(text)
    where = f" at {url.group(0)}" if url else ""
    if any(d in text for d in _DNS):
        cause = "DNS lookup failed"
    elif isinstance(e, ccxt.RequestTimeout) or "timed out" in text.lower():
        cause = "timeout"
    elif "Connection refused" in text:
        cause = "connection refused"
    elif url and _HTTP.match(text[url.end():]):        # ccxt: "<id> GET <url> 503 Service Unavailable ..."
        cause = f"HTTP {_HTTP.match(text[url.end():]).group(1)}"
    else:
        cause = "connection failed"
    return f"{cause}{where} ({type(e).__name__})"


def call_with_retry(fn: Callable, *args, retries: int = 5, base_delay: float = 1.0,
                    sleep: Callable[[float], None] = time.sleep, label: str = "") -> object:
    """Call a ccxt method, retrying transient failures with exponential backoff (1, 2, 4, ... s)."""
    for attempt in range(retries + 1):
        try:
            return fn(*args)
        except ccxt.BadSymbol as e:
            raise FetchError(f"{label}: bad symbol ({str(e)[:120]})") from None
        except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as e:      # subclasses of NetworkError: first
            why, delay = f"rate limited: {describe_network_error(e)}", base_delay * 2 ** (attempt + 1)
        except (ccxt.ExchangeNotAvailable, ccxt.RequestTimeout) as e:
            why, delay = f"exchange unavailable: {describe_network_error(e)}", base_delay * 2 ** attempt
        except ccxt.NetworkError as e:
            why, delay = f"network error: {describe_network_error(e)}", base_delay * 2 ** attempt
        except ccxt.ExchangeError as e:
            raise FetchError(f"{label}: exchange refused the request: {str(e)[:160]}") from None
        if attempt == retries:
            raise NetworkFailure(f"{label}: {why}, gave up after {retries + 1} attempts; run again to resume "
                                 f"(--retries sets the budget, now {retries})")
        log.warning("%s: %s; retry %d/%d in %.1fs", label, why, attempt + 1, retries, delay)
        sleep(delay)
    raise FetchError(f"{label}: unreachable")   # pragma: no cover


def resolve_symbol(ex: ccxt.Exchange, symbol: str, retries: int = 5) -> None:
    """Load markets and fail clearly when the symbol is not listed (naming similar ones)."""
    markets = call_with_retry(ex.load_markets, retries=retries, label=f"{ex.id} load_markets")
    if symbol in markets:
        return
    base = symbol.split("/")[0]
    same = sorted(s for s in markets if s.split("/")[0] == base)[:8]
    close = same or difflib.get_close_matches(symbol, list(markets), n=5, cutoff=0.6)
    raise FetchError(f"{ex.id}: symbol {symbol!r} not listed; available like it: {', '.join(close) or 'none'}")


def _ohlcv_pages(ex, symbol, timeframe, start_ms, end_ms, kind, params, report, retry) -> Iterator[tuple[list, tuple[int, int]]]:
    step = timeframe_ns(timeframe) // NS_PER_MS
    page = _page(ex, kind)
    cur = start_ms
    while cur < end_ms:
        win_end = min(end_ms, cur + page * step)
        rows = retry(ex.fetch_ohlcv, symbol, timeframe, cur, page, {**params, "until": win_end - 1})
        report.requests += 1
        report.asked.append((cur, win_end))
        rows = [r for r in rows if cur <= r[0] < win_end]
        if rows:
            nxt = max(r[0] for r in rows) + step
            yield rows, (cur, nxt)
            cur = nxt
        else:
            yield [], (cur, win_end)
            cur = win_end


def _funding_pages(ex, symbol, start_ms, end_ms, report, retry) -> Iterator[tuple[list, tuple[int, int]]]:
    page = _page(ex, "funding")
    cur = start_ms
    while cur < end_ms:
        if ex.id in FUNDING_FORWARD:
            win_end, params = end_ms, {"until": end_ms - 1}
        else:   # a window no denser than one settlement an hour, so newest-first APIs cannot skip rows
            win_end = min(end_ms, cur + page * HOUR_MS)
            name, off = FUNDING_END_PARAM.get(ex.id, ("until", -1))
            params = {name: win_end + off}
        rows = retry(ex.fetch_funding_rate_history, symbol, cur, page, params)
        report.requests += 1
        report.asked.append((cur, win_end))
        rows = [r for r in rows if r.get("timestamp") is not None and cur <= r["timestamp"] < win_end]
        if rows:
            nxt = max(r["timestamp"] for r in rows) + 1
            yield rows, (cur, nxt)
            cur = nxt
        else:
            yield [], (cur, win_end)
            cur = win_end


def _bars_frame(rows: list, stream: str) -> pd.DataFrame:
    cols = ["ts", "open", "high", "low", "close", "volume"]
    df = pd.DataFrame([list(r[:6]) + [None] * (6 - len(r[:6])) for r in rows], columns=cols)
    df[TS] = pd.to_datetime(df[TS].astype("int64"), unit="ms", utc=True).astype(cache.TS_DTYPE)
    df = df.sort_values(TS, kind="stable").drop_duplicates(TS, keep="last").reset_index(drop=True)
    if stream in ("mark", "index"):
        df = df.drop(columns=["volume"])
    return df.astype({c: "float64" for c in df.columns if c != TS})


def _funding_frame(rows: list, stamp_ms: int = 1000) -> pd.DataFrame:
    df = pd.DataFrame({TS: [r["timestamp"] for r in rows], "rate": [r.get("fundingRate") for r in rows]})
    df[TS] = pd.to_datetime(df[TS].astype("int64"), unit="ms", utc=True).astype(cache.TS_DTYPE)
    df["rate"] = df["rate"].astype("float64")
    from basisbt.data.validate import snap_funding_times
    df, line = snap_funding_times(df, tolerance_ms=stamp_ms)
    df = df.sort_values(TS, kind="stable").drop_duplicates(TS, keep="last").reset_index(drop=True)
    if line:
        log.info("funding: %s", line)
    return df


def fetch_stream(ex: ccxt.Exchange, stream: str, symbol: str, *, timeframe: str, since_ms: int, until_ms: int,
                 root: Path, progress: ProgressFn | None = None, flush_pages: int = 10,
                 sleep: Callable[[float], None] = time.sleep, retries: int = 5) -> StreamReport:
    """Fetch one stream's missing ranges within [since, until) into the cache, flushing every few pages."""
    market_symbol = symbol.split(":")[0] if stream == "spot" else cache.perp_symbol(symbol)
    key = cache.key_for(stream, ex.id, market_symbol, timeframe)
    report = StreamReport(ex.id, stream, market_symbol, key.timeframe)
    label = f"{ex.id} {stream} {market_symbol}"

    def retry(fn, *args):
        return call_with_retry(fn, *args, retries=retries, sleep=sleep, label=label)

    now = ex.milliseconds()
    if stream == "funding":
        end = min(until_ms, now)
    else:
        step = timeframe_ns(timeframe) // NS_PER_MS
        end = min(until_ms, (now // step) * step)       # complete bars only
    meta = cache.read_meta(root, key)
    covered_ms = [(a // NS_PER_MS, b // NS_PER_MS) for a, b in meta.get("covered", [])]
    todo = cache.missing_ranges((since_ms, end), covered_ms)
    total = sum(b - a for a, b in todo)
    done = 0
    if progress:
        progress(label, 0, max(total, 1), 0)
    for a, b in todo:
        if stream == "funding":
            pages = _funding_pages(ex, market_symbol, a, b, report, retry)
        else:
            kind = stream if stream in ("mark", "index") else "ohlcv"
            params = {"price": stream} if stream in ("mark", "index") else {}
            pages = _ohlcv_pages(ex, market_symbol, timeframe, a, b, kind, params, report, retry)
        buf: list = []
        cov: list[tuple[int, int]] = []
        for n_pages, (rows, span) in enumerate(pages, 1):
            buf += rows
            cov.append(span)
            done += span[1] - span[0]
            if progress:
                progress(label, done, max(total, 1), report.rows + len(buf))
            if n_pages % flush_pages == 0:
                report.rows += _flush(root, key, stream, buf, cov, label)
                buf, cov = [], []
        report.rows += _flush(root, key, stream, buf, cov, label)
    meta = cache.read_meta(root, key)
    report.gaps = len(meta.get("gaps", []))
    if progress:
        progress(label, max(total, 1), max(total, 1), report.rows)
    return report


def _flush(root: Path, key: cache.Key, stream: str, rows: list, cov: list, label: str) -> int:
    if not cov:
        return 0
    frame = _funding_frame(rows, FUNDING_STAMP_MS.get(key.venue, 1000)) if stream == "funding" \
        else _bars_frame(rows, stream)
    covered = [(a * NS_PER_MS, b * NS_PER_MS) for a, b in cov]
    try:
        if stream == "funding":            # the venue's cap, as on import (Hyperliquid's 4 %/h is exact)
            from basisbt.data.validate import check_funding_cap
            check_funding_cap(frame, key.venue, base=key.symbol.split("/")[0], file=f"ccxt:{label}")
        cache.write(root, key, frame, covered=covered, source=f"ccxt:{label}")
    except DataError as e:
        raise FetchError(f"{label}: exchange data failed validation: {e}") from None
    return len(frame)


def check_args(exchanges: list[str], symbol: str, *, since: pd.Timestamp | None, until: pd.Timestamp | None,
               timeframe: str, streams: tuple[str, ...], retries: int, known: list[str] | None) -> None:
    """Every argument checked before the first request: FetchError naming the bad one."""
    from basisbt.data.names import UnsafeName, check_name, check_symbol
    if not exchanges:
        raise FetchError("--exchange is empty; e.g. --exchange binance,bybit,okx")
    try:
        for ex_id in exchanges:
            check_name(ex_id, "--exchange")
        check_symbol(symbol, "--symbol")
    except UnsafeName as e:
        raise FetchError(str(e)) from None
    if not re.fullmatch(r"[A-Z0-9.]+/[A-Z0-9.]+(:[A-Z0-9.]+)?", symbol):
        raise FetchError(f"--symbol {symbol!r}: expected BASE/QUOTE in capitals, e.g. ETH/USDT")
    for ex_id in exchanges if known is not None else ():
        if ex_id not in known:
            close = difflib.get_close_matches(ex_id, known, n=5, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise FetchError(f"unknown exchange {ex_id!r}; {hint}ccxt knows {len(known)} (e.g. binance, bybit, okx)")
    try:
        timeframe_ns(timeframe)
    except ValueError as e:
        raise FetchError(str(e)) from None
    bad = [s for s in streams if s not in STREAMS]
    if bad:
        raise FetchError(f"unknown stream {bad[0]!r}; known: {', '.join(STREAMS)}")
    if since is not None and until is not None and not pd.Timestamp(since) < pd.Timestamp(until):
        raise FetchError(f"--since {since} is not before --until {until}")
    if not 0 <= retries <= 20:
        raise FetchError(f"--retries {retries}: must be between 0 and 20")


def supported_streams(ex: ccxt.Exchange, streams: tuple[str, ...]) -> dict[str, str]:
    """Stream -> reason it is skipped, for streams this exchange does not offer."""
    need = {"spot": "fetchOHLCV", "perp": "fetchOHLCV", "mark": "fetchMarkOHLCV", "index": "fetchIndexOHLCV",
            "funding": "fetchFundingRateHistory"}
    return {s: f"{ex.id} has no {need[s]}" for s in streams if not ex.has.get(need[s])}


def fetch(exchanges: list[str], symbol: str, *, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
          timeframe: str = "1h", streams: tuple[str, ...] = STREAMS, cache_dir: str | Path | None = None,
          progress: ProgressFn | None = None, exchange_factory: Callable[[str], ccxt.Exchange] | None = None,
          sleep: Callable[[float], None] = time.sleep, flush_pages: int = 10, retries: int = 5,
          default_days: int = 90) -> list[StreamReport]:
    """Fetch spot, perp, mark, index bars and funding for `symbol` on each exchange into the cache."""
    root = cache.default_root(cache_dir)
    check_args(exchanges, symbol, since=since, until=until, timeframe=timeframe, streams=streams,
               retries=retries, known=None if exchange_factory else ccxt.exchanges)
    factory = exchange_factory or make_exchange
    spot_sym = symbol.split(":")[0]
    reports: list[StreamReport] = []
    for ex_id in exchanges:
        ex = factory(ex_id)
        now = ex.milliseconds()
        until_ms = now if until is None else int(pd.Timestamp(until).value // NS_PER_MS)
        since_ms = (until_ms - default_days * 86_400_000) if since is None else int(pd.Timestamp(since).value // NS_PER_MS)
        if since is None:
            log.info("%s: no --since, fetching the last %d days", ex_id, default_days)
        skipped = supported_streams(ex, streams)
        wanted = [s for s in streams if s not in skipped]
        if "spot" in wanted:
            resolve_symbol(ex, spot_sym, retries)
        if any(s != "spot" for s in wanted):
            resolve_symbol(ex, cache.perp_symbol(spot_sym), retries)
        for s in streams:
            if s in skipped:
                reports.append(StreamReport(ex_id, s, symbol, timeframe, skipped=skipped[s]))
                continue
            reports.append(fetch_stream(ex, s, spot_sym, timeframe=timeframe, since_ms=since_ms, until_ms=until_ms,
                                        root=root, progress=progress, flush_pages=flush_pages, sleep=sleep,
                                        retries=retries))
    return reports
