"""Data commands of the CLI: `fetch`, `import {freqtrade,binance-vision,csv,hyperliquid,lending}`, `data list`.

`register(app)` adds them to the lead's typer app. Bad input exits 2 with one line (file, row, rule).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from basisbt.cli.common import err, fail, key_values
from basisbt.data.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

out = Console()

CacheOpt = typer.Option(None, "--cache", help="cache dir (default $BASISBT_CACHE or ~/.cache/basisbt)")
DupOpt = typer.Option("error", "--on-duplicate",
                      help="rows with the same time: error (default), keep-last or keep-first (file order)")
SnapOpt = typer.Option(None, "--snap", metavar="TOL",
                       help="move bars at most TOL off the grid onto it (e.g. 5s, 2min); further off is refused")
def _zone(tz: str | None) -> str | None:
    """--tz checked when given (an unknown zone is refused even for a file whose times all carry an offset)."""
    if tz is None:
        return None
    import zoneinfo
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(f"unknown time zone {tz!r}; use an IANA name such as Europe/London or UTC") from None
    return tz


def _fill(n: int) -> int:
    if n < 0:
        raise typer.BadParameter(f"{n}: give 0 (no filling) or a number of bars")
    return n


TzOpt = typer.Option(None, "--tz", metavar="ZONE", callback=_zone,
                     help="times without an offset are local times in this IANA zone, DST-aware "
                          "(e.g. Europe/London); converted to UTC")
AssumeUtcOpt = typer.Option(False, "--assume-utc", help="times without an offset are UTC")
FillOpt = typer.Option(0, "--fill-gaps", metavar="N", callback=_fill,
                       help="with --repair: fill holes of at most N bars with flat bars at the last close, stored "
                            "as filled: counted in data_quality and refused to orders like missing bars")
WhereOpt = typer.Option([], "--where", help="keep rows with column=value ('a,b' = either), repeatable; "
                                            "e.g. --where symbol=ETH-USDT")


class _LogToConsole(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"[dim]{escape(record.getMessage())}[/dim]", highlight=False)


def _logging() -> None:
    lg = logging.getLogger("basisbt")
    if not any(isinstance(h, _LogToConsole) for h in lg.handlers):
        lg.addHandler(_LogToConsole())
    lg.setLevel(logging.INFO)
    for name in ("basisbt.data.validate",):
        logging.getLogger(name).handlers = lg.handlers
        logging.getLogger(name).setLevel(logging.INFO)


def _ts(v: str | None, name: str) -> pd.Timestamp | None:
    import pandas as pd
    if v is None:
        return None
    try:
        t = pd.Timestamp(v)
    except (ValueError, TypeError):
        fail(f"--{name} {v!r} is not a date (use e.g. 2024-01-01 or 2024-01-01T08:00Z)")
    if pd.isna(t):                      # '', 'nan', 'NaT': pandas reads them as "no time", not as a date
        fail(f"--{name} {v!r} is not a date (use e.g. 2024-01-01 or 2024-01-01T08:00Z)")
    if not 2009 <= t.year < 2100:       # exchanges hold nothing before 2009; 2999 would overflow the ns clock
        fail(f"--{name} {v!r} is outside 2009..2100")
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _summary(entries: list[dict], title: str) -> None:
    import pandas as pd
    t = Table(title=title)
    for c in ("venue", "symbol", "stream", "timeframe", "start", "end", "rows", "gaps"):
        t.add_column(c)
    for e in entries:
        span = [str(pd.Timestamp(e[k], tz="UTC")) if e.get(k) is not None else "-" for k in ("start", "end")]
        t.add_row(e["venue"], e["symbol"], e["stream"], e["timeframe"], *span, str(e["rows"]), str(len(e["gaps"])))
    out.print(t)


def _names(**flags: str | None) -> None:
    """Check venue/protocol/symbol/asset flags before any file is read (they become cache paths)."""
    from basisbt.data.names import check_name, check_symbol
    for flag, value in flags.items():
        if value is None:
            continue
        opt = "--" + flag.replace("_", "-")
        for v in (x.strip() for x in value.split(",")) if flag == "symbol" else (value,):
            (check_symbol if flag in ("symbol", "asset") else check_name)(v, opt)


def _choices(**flags: tuple[str | None, Iterable[str]]) -> None:
    """Refuse a flag whose value is not one of its valid values, naming the flag (before any file is read)."""
    for flag, (value, valid) in flags.items():
        names = list(valid)
        if value is not None and value not in names:
            fail(f"--{flag.replace('_', '-')} {value!r}: unknown value; valid: {', '.join(names)}")


def _prescan(path: Path) -> None:
    """Refuse a missing input or a CSV whose first line is huge before an importer reads it whole."""
    from basisbt.data.safe_io import check_text_table
    if not path.exists():
        raise DataError("no such file or directory", file=str(path))
    files = [path] if path.is_file() else [p for p, _ in zip(path.rglob("*"), range(10_000), strict=False) if p.is_file()]
    for f in files:
        check_text_table(f, error=lambda m, f=f: DataError(m.split(": ", 1)[1], file=str(f)))
    if path.is_file() and path.suffix.lower() == ".csv":
        with open(path, "rb") as fh:
            lines = [ln for ln in fh.read(1 << 16).splitlines()[:2] if ln.strip()]
        if len(lines) < 2:
            raise DataError("no data rows (empty or header only)", file=str(path))


def _root(cache_dir: Path | None) -> Path:
    """The cache root, refused (exit 2) when it or a parent is a file."""
    from basisbt.data import cache
    return cache.check_root(cache.default_root(cache_dir))


def _store(items, root: Path, repair: bool, max_fill: int, *, on_duplicate: str = "error", snap: str | None = None,
           allow_extreme: bool = False) -> None:
    """Snap, repair, resolve duplicates, check units and validate every item, then write them as one unit."""
    from basisbt.data.ingest.common import ON_DUPLICATE, ImportOptions, finalize
    from basisbt.data.validate import parse_tolerance
    if on_duplicate not in ON_DUPLICATE:
        fail(f"--on-duplicate {on_duplicate!r}: use one of {', '.join(ON_DUPLICATE)}")
    if max_fill and not repair:
        fail(f"--fill-gaps {max_fill} goes with --repair (it fills the holes a repair finds)")
    if snap is not None:
        try:
            parse_tolerance(snap)
        except DataError:
            fail(f"--snap {snap!r} is not a duration; use e.g. 5s, 2min, 500ms")
    finalize(items, ImportOptions(on_duplicate=on_duplicate, snap=snap, repair=repair, max_fill=max_fill,
                                  allow_extreme=allow_extreme))
    from basisbt.data import cache
    entries = cache.write_many(root, [(i.key, i.frame, i.source) for i in items])
    _summary(entries, f"imported into {root}")


def _guard(fn):
    """Run a command body, turning data/fetch errors into exit code 2 and one line."""
    from basisbt.data.ingest.fetch import FetchError, NetworkFailure
    from basisbt.data.sources import UnknownSource
    try:
        fn()
    except NetworkFailure as e:
        fail(str(e), code=3)                   # the network failed, not the arguments
    except (DataError, FetchError, UnknownSource) as e:
        fail(str(e))


def register(app: typer.Typer) -> None:
    """Add fetch, import and data commands to `app`."""
    imp = typer.Typer(help="Import files into the cache: freqtrade, binance-vision, csv, hyperliquid, lending.",
                      no_args_is_help=True)
    data_app = typer.Typer(help="Inspect the data cache.", no_args_is_help=True)

    @app.command("fetch")
    def fetch_cmd(exchange: str = typer.Option("binance", "--exchange", help="comma-separated ccxt ids"),
                  symbol: str = typer.Option("ETH/USDT", "--symbol", help="spot symbol; the perp is SYMBOL:QUOTE"),
                  since: str | None = typer.Option(None, "--since"), until: str | None = typer.Option(None, "--until"),
                  timeframe: str = typer.Option("1h", "--timeframe"),
                  streams: str = typer.Option("spot,perp,mark,index,funding", "--streams"),
                  retries: int = typer.Option(5, "--retries", help="retries per request on network errors "
                                                                   "(backoff 1, 2, 4, ... s); 0-20"),
                  cache_dir: Path | None = CacheOpt) -> None:
        """Fetch spot/perp/mark/index bars and funding over ccxt (incremental, resumable).

        Arguments are checked before any request; a network failure names the exchange, the
        endpoint and the cause (DNS, timeout, HTTP status) and exits 3.
        """
        _logging()
        from basisbt.data.ingest.fetch import fetch
        t0, t1 = _ts(since, "since"), _ts(until, "until")

        def body() -> None:
            root = _root(cache_dir)
            with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[rows]} rows"),
                          TimeElapsedColumn(), console=err) as prog:
                tasks: dict[str, int] = {}

                def progress(label: str, done: int, total: int, rows: int) -> None:
                    if label not in tasks:
                        tasks[label] = prog.add_task(label, total=total, rows=0)
                    prog.update(tasks[label], completed=done, total=total, rows=rows)

                reports = fetch([e.strip() for e in exchange.split(",") if e.strip()], symbol, since=t0, until=t1,
                                timeframe=timeframe, streams=tuple(s.strip() for s in streams.split(",")),
                                cache_dir=root, progress=progress, retries=retries)
            t = Table(title=f"fetched into {root}")
            for c in ("venue", "stream", "symbol", "rows added", "requests", "gaps", "note"):
                t.add_column(c)
            for r in reports:
                t.add_row(r.venue, r.stream, r.symbol, str(r.rows), str(r.requests), str(r.gaps), r.skipped)
            out.print(t)
        _guard(body)

    @imp.command("freqtrade")
    def imp_freqtrade(path: Path, venue: str | None = typer.Option(None, "--venue"),
                      symbol: str | None = typer.Option(None, "--symbol", help="comma-separated, e.g. ETH/USDT"),
                      timeframe: str | None = typer.Option(None, "--timeframe"),
                      repair: bool = typer.Option(False, "--repair"), fill: int = FillOpt,
                      on_duplicate: str = DupOpt, snap: str | None = SnapOpt,
                      cache_dir: Path | None = CacheOpt) -> None:
        """Import a freqtrade user_data/data/<exchange> tree (spot, -futures, -mark, -index, -funding_rate)."""
        _logging()
        from basisbt.data.ingest.freqtrade import import_freqtrade
        syms = [s.strip() for s in symbol.split(",")] if symbol else None

        def body() -> None:
            _names(venue=venue, symbol=symbol, timeframe=timeframe)
            root = _root(cache_dir)
            _prescan(path)
            _store(import_freqtrade(path, venue=venue, symbols=syms, timeframe=timeframe), root, repair, fill,
                   on_duplicate=on_duplicate, snap=snap)
        _guard(body)

    @imp.command("binance-vision")
    def imp_vision(path: Path, kind: str | None = typer.Option(None, "--kind", help="klines, markPriceKlines, indexPriceKlines, fundingRate"),
                   market: str | None = typer.Option(None, "--market", help="spot or um"),
                   symbol: str | None = typer.Option(None, "--symbol"), venue: str = typer.Option("binance", "--venue"),
                   repair: bool = typer.Option(False, "--repair"), fill: int = FillOpt,
                   on_duplicate: str = DupOpt, snap: str | None = SnapOpt,
                   cache_dir: Path | None = CacheOpt) -> None:
        """Import Binance public dumps (zip/csv, header or not, ms or µs times; klines, mark, index, funding)."""
        _logging()
        from basisbt.data.ingest.binance_vision import KINDS, import_binance_vision
        def body() -> None:
            _names(venue=venue, symbol=symbol)
            _choices(kind=(kind, KINDS), market=(market, ("spot", "um")))
            root = _root(cache_dir)
            _prescan(path)
            _store(import_binance_vision(path, kind=kind, market=market, symbol=symbol, venue=venue), root, repair,
                   fill, on_duplicate=on_duplicate, snap=snap)
        _guard(body)

    @imp.command("csv")
    def imp_csv(path: Path, mapping: Path | None = typer.Option(None, "--mapping", help="mapping TOML"),
                stream: str | None = typer.Option(None, "--stream"), time: str | None = typer.Option(None, "--time"),
                time_unit: str | None = typer.Option(None, "--time-unit", help="iso, s, ms, us, ns"),
                venue: str | None = typer.Option(None, "--venue"), symbol: str | None = typer.Option(None, "--symbol"),
                venue_column: str | None = typer.Option(None, "--venue-column"),
                symbol_column: str | None = typer.Option(None, "--symbol-column"),
                timeframe: str | None = typer.Option(None, "--timeframe"),
                rate_unit: str | None = typer.Option(
                    None, "--rate-unit", help="funding: fraction (default), percent or bps; lending: fraction, percent or ray"),
                rate_basis: str | None = typer.Option(None, "--rate-basis", help="funding: interval or annualized"),
                apr: bool = typer.Option(False, "--apr", help="lending values are APRs: converted to APY (per-second)"),
                col: list[str] = typer.Option([], "--col", help="canonical=source, repeatable"),
                where: list[str] = WhereOpt,
                assume_utc: bool = AssumeUtcOpt, tz: str | None = TzOpt,
                ignore_column: list[str] = typer.Option([], "--ignore-column", metavar="NAME",
                                                        help="a source column never read, even when named like a "
                                                             "canonical one (repeatable), e.g. --ignore-column mark_price"),
                repair: bool = typer.Option(False, "--repair"), fill: int = FillOpt,
                on_duplicate: str = DupOpt, snap: str | None = SnapOpt,
                allow_extreme: bool = typer.Option(False, "--allow-extreme", help="lending: accept APY outside -50 %..+100 %"),
                cache_dir: Path | None = CacheOpt) -> None:
        """Import any CSV/parquet through a column mapping (flags or --mapping TOML)."""
        _logging()
        from basisbt.data.ingest.csv_import import CsvMapping, import_csv, load_mapping

        def body() -> None:
            from basisbt.data.ingest.common import TIME_UNITS
            from basisbt.data.ingest.csv_import import STREAM_COLS
            from basisbt.data.schemas import TIMEFRAMES_NS
            _names(venue=venue, symbol=symbol, timeframe=timeframe)
            _choices(stream=(stream, STREAM_COLS), time_unit=(time_unit, TIME_UNITS),
                     timeframe=(timeframe, TIMEFRAMES_NS), rate_basis=(rate_basis, ("interval", "annualized")))
            root = _root(cache_dir)
            _prescan(path)
            cols = key_values(col, "--col", "rate=funding_rate", form="canonical=source")
            wh = key_values(where, "--where", "symbol=ETH-USDT", form="column=value")
            over = dict(stream=stream, time=time, time_unit=time_unit, venue=venue, symbol=symbol,
                        venue_column=venue_column, symbol_column=symbol_column, timeframe=timeframe,
                        rate_unit=rate_unit, rate_basis=rate_basis, apr=apr or None, assume_utc=assume_utc or None,
                        tz=tz)
            if mapping:
                m = load_mapping(mapping, **over)
                m.columns.update(cols)
                m.where.update(wh)
                m.ignore = [*m.ignore, *ignore_column]
            else:
                if not stream:
                    fail("csv import needs --stream or --mapping FILE.toml")
                m = CsvMapping(**{k: v for k, v in over.items() if v is not None}, columns=cols, where=wh,
                               ignore=list(ignore_column))
            _store(import_csv(path, m), root, repair, fill, on_duplicate=on_duplicate, snap=snap,
                   allow_extreme=allow_extreme)
        _guard(body)

    @imp.command("hyperliquid")
    def imp_hyperliquid(path: Path, coin: str | None = typer.Option(None, "--coin", help="only this coin's records, "
                                                                                           "e.g. ETH"),
                        symbol: str | None = typer.Option(None, "--symbol", help="perp to store them under "
                                                             "(default COIN/USDC:USDC)"),
                        venue: str = typer.Option("hyperliquid", "--venue"),
                        repair: bool = typer.Option(False, "--repair"), on_duplicate: str = DupOpt,
                        cache_dir: Path | None = CacheOpt) -> None:
        """Import Hyperliquid fundingHistory records as its info API returns them (JSON array, or a directory of
        pages): fundingRate or funding_rate, ms times snapped onto the hour, rates from the premium where only it
        is given, the 4 %/h cap checked per record, gaps kept."""
        _logging()
        from basisbt.data.ingest.hyperliquid import import_hyperliquid

        def body() -> None:
            _names(venue=venue, symbol=symbol, asset=coin)
            root = _root(cache_dir)
            _prescan(path)
            _store(import_hyperliquid(path, venue=venue, coin=coin, symbol=symbol), root, repair, 0,
                   on_duplicate=on_duplicate)
        _guard(body)

    @imp.command("lending")
    def imp_lending(path: Path, protocol: str = typer.Option(..., "--protocol", "--venue"),
                    asset: str = typer.Option("USDT", "--asset", "--symbol"),
                    fmt: str = typer.Option("auto", "--format", help="auto, plain, defillama, aave"),
                    unit: str = typer.Option("auto", "--rate-unit", "--unit",
                                             help="fraction, percent or ray; auto: Aave ray or fraction by size, "
                                                  "plain fraction"),
                    apr: bool = typer.Option(False, "--apr", help="plain files: values are APRs, converted to APY"),
                    base_only: bool = typer.Option(False, "--base-only", help="DefiLlama: apyBase, no rewards"),
                    where: list[str] = WhereOpt,
                    assume_utc: bool = AssumeUtcOpt, tz: str | None = TzOpt,
                    on_duplicate: str = DupOpt,
                    allow_extreme: bool = typer.Option(False, "--allow-extreme", help="accept APY outside -50 %..+100 %"),
                    cache_dir: Path | None = CacheOpt) -> None:
        """Import lending-rate history (plain time,apy; DefiLlama chart export; Aave subgraph/aavescan APR)."""
        _logging()
        from basisbt.data.ingest.lending import import_lending
        def body() -> None:
            _names(protocol=protocol, asset=asset)
            _choices(format=(fmt, ("auto", "plain", "defillama", "aave")))
            root = _root(cache_dir)
            _prescan(path)
            wh = key_values(where, "--where", "symbol=USDT", form="column=value")
            _store(import_lending(path, protocol=protocol, asset=asset, fmt=fmt, unit=unit, apr=apr,
                                  base_only=base_only, assume_utc=assume_utc, where=wh, tz=tz),
                   root, False, 0, on_duplicate=on_duplicate, allow_extreme=allow_extreme)
        _guard(body)

    @data_app.command("list")
    def data_list(cache_dir: Path | None = CacheOpt) -> None:
        """List what the cache holds: venue, symbol, stream, span, rows, gaps; then per symbol and timeframe
        the venues and streams `--data cache:SYMBOL` loads, and the multi-asset `cache:A,B` values it can serve."""
        def body() -> None:
            from basisbt.data import cache
            root = _root(cache_dir)
            df = cache.list_cache(root)
            if df.empty:
                out.print(f"cache {root} is empty (basisbt fetch / basisbt import fill it)")
                return
            t = Table(title=str(root))
            for c in df.columns:
                t.add_column(c)
            for row in df.itertuples(index=False):
                t.add_row(*[escape(str(v)) for v in row])
            out.print(t)
            assets = cache.assets_summary(df)
            if assets.empty:
                return
            a = Table(title="assets: what --data cache:SYMBOL loads")
            for c in ("symbol", "timeframe", "venues: streams"):
                a.add_column(c)
            for r in assets.itertuples(index=False):
                a.add_row(escape(r.symbol), escape(r.timeframe), escape(r.venues))
            out.print(a)
            for source, tf in cache.asset_combinations(assets):
                out.print(f"several assets: --data {source} --timeframe {tf} (the first symbol is the primary; "
                          f"same quote and timeframe)", markup=False, highlight=False, soft_wrap=True)
        _guard(body)

    app.add_typer(imp, name="import")
    app.add_typer(data_app, name="data")
