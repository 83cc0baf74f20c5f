"""Golden strategy returns: cases, golden files, comparison at rtol 1e-9, and the checks that bless them.

A golden case is (name, strategy, params, data source, run config). Running it gives a flat,
sorted `key = value` table: `config_id`, `data_fingerprint`, `venue_fingerprint.<venue>` (what each venue's
spec blocks in force said, data/venues.Venue.fingerprint), every scalar of metrics.json
(`metrics.pnl.funding`, ...), equity at fixed checkpoints (`equity."<bar close>"`: start, every
`checkpoint_days`, end) and ledger totals and row counts by kind (`ledger.funding.total`).
It is stored as `<golden_dir>/<name>.toml`; `<name>` is `<strategy>__<dataset>`.

Statuses: `pass`; `drift` (a value moved beyond rtol 1e-9, or a key appeared/disappeared);
`stale` (config_id, data or venue fingerprint differs: the golden describes another run, never a pass; the
message names what changed, e.g. "venue binance changed");
`missing` (no golden file yet); `error` (the run raised); `skipped` (optional data absent);
`check-failed` (the run fails `bless_checks`, which recompute the headline numbers independently of the
kernels from the raw dataset, the venue spec, fills and ledger). The checks run on every compared case,
not only when blessing: a golden that matches a run that fails them is not a pass.
`update=True` re-blesses: the run must first pass `bless_checks`.

No typer/rich here: basisbt/cli/regress.py is the command line.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import math
import re
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from basisbt.batch.execute import Memo, prepare
from basisbt.batch.spec import DataSpec, RunSpec
from basisbt.data.checks import build_dataclass
from basisbt.data.dataset import Dataset
from basisbt.data.errors import ConfigError
from basisbt.data.names import slug
from basisbt.data.venues import venue_set
from basisbt.engine.config import RunConfig
from basisbt.engine.results import PNL_PARTS, RunResult
from basisbt.reports.metrics import compute_metrics
from basisbt.reports.tomlfmt import toml_value

RTOL = 1e-9                 # runs are deterministic; this only absorbs platform noise. Never loosen it.
ATOL_MONEY = 1e-9           # x initial capital: the "zero" of a quote-valued key (1e-3 on a 1M book)
ATOL = 1e-300               # every other key: relative comparison only (0 must stay 0)
CHECKPOINT_DAYS = 7.0
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_GOLDEN_DIR = REPO_ROOT / "tests" / "golden"
CASES_FILE = "basisbt-golden.toml"
FREQTRADE_DIR = "../shared/data/freqtrade/binance"     # relative to the repo root; optional real data
REAL_DATA_CASE: dict[str, Any] = dict(strategy="perp_short", data=f"freqtrade:{FREQTRADE_DIR}", symbol="ETH/USDT",
                      dataset="binance-eth-usdt-real", run={"start": "2024-11-01", "end": "2025-03-01"})
# built-in variants beyond the defaults, so the goldens cover the liquidation path (full with insurance on
# binance, partial tier step-down on bybit): (name, strategy, scenario, params[, {timeframe, run}])
EXTRA_CASES: tuple[tuple[Any, ...], ...] = (
    ("perp_short-usdt-5x__squeeze", "perp_short", "squeeze", {"collateral": "usdt", "leverage": 5.0}),
    ("perp_short-usdt-5x-bybit__squeeze", "perp_short", "squeeze",
     {"collateral": "usdt", "leverage": 5.0, "venue": "bybit"}),
    # the hedge on the venue that fails (venue-default's bybit): its whole book written off, 60 % recovered
    ("perp_short-bybit__venue-default", "perp_short", "venue-default", {"venue": "bybit"}),
    # USDe margin liquidated by the depeg, at the scenario's own defaults (15m bars from 21:00;
    # tests/scenarios/test_collateral_depeg.py has the hand arithmetic)
    ("perp_short-usde-10x__collateral-depeg", "perp_short", "collateral-depeg",
     {"collateral": "usde", "leverage": 10.0}),
)

# scenarios whose builtin goldens cover only some strategies (the venue-event scenarios: the hedgers they test)
SCENARIO_STRATEGIES: dict[str, tuple[str, ...]] = {"adl-crash": ("perp_short", "synthetic_dollar"),
                                                   "venue-default": ("perp_short", "synthetic_dollar")}

IDENTITY_KEYS = ("config_id", "data_fingerprint")
VENUE_KEY = "venue_fingerprint."      # + venue name: identity keys too
_SKIP_METRICS = {"conventions", "config_id", "data_fingerprint", "venue_fingerprint", "strategy", "dataset",
                 "data_quality",
                 "orders_rejected",       # kept as orders_rejected_total
                 "venue_blocks",          # which spec blocks were used: a changed block moves the numbers
                 "benchmark"}
# data_quality is kept as its totals only: a gap appearing or vanishing must move a golden
_QUALITY_TOTALS = ("stale_total", "funding_priced_stale_total", "orders_refused_total")
# quote-valued keys: their atol is ATOL_MONEY x initial capital (leaf names of metrics.json)
_MONEY_LEAVES = {"equity_start", "equity_end", "net_flows", "attribution_residual", "liquidation_cost",
                 "liquidation_fees", "insurance_loss", "funding_captured", "funding_available", "book_notional_avg",
                 "funding_received", "funding_paid", "funding_passive",
                 "traded_notional", "fees_paid", "slippage_paid", "total"} | set(PNL_PARTS)
_MONEY_PREFIXES = ("equity.", "ledger.", "metrics.pnl.", "metrics.pnl_by_venue.", "metrics.funding_available_by_venue.",
                   "metrics.funding_passive_by_venue.",
                   "metrics.liquidations_by_venue.", "metrics.synthetic_dollar.")
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


class GoldenError(ValueError):
    """A cases file or golden file we cannot use (names the file and the problem)."""


# -- cases -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GoldenCase:
    """One strategy x dataset x config whose returns must not move silently."""

    name: str                                   # file stem, `<strategy>__<dataset>`
    strategy: str                               # built-in name or path/to/file.py:ClassName
    data: str                                   # scenario:NAME | freqtrade:DIR | cache[:SYMBOL] | dataset .toml
    params: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)     # RunConfig keys (start, end, slippage, ...)
    symbol: str = "ETH/USDT"                    # freqtrade: which pair
    timeframe: str = "1h"
    checkpoint_days: float = CHECKPOINT_DAYS
    optional: bool = False                      # skip (not fail) when the data is absent
    base_dir: Path = REPO_ROOT                  # relative paths in strategy/data resolve here
    only_venues: tuple[str, ...] = ()           # keep only these venues of the data (bb.run's only_venues)
    spot_from: str | None = None                # price every venue's spot from this venue's (bb.run's spot_from)

    def describe(self) -> str:
        bits = [f"strategy={self.strategy}", f"data={self.data}"]
        if self.data.startswith("freqtrade:"):
            bits.append(f"symbol={self.symbol}")
        if self.params:
            bits.append(f"params={_inline(self.params)}")
        if self.run:
            bits.append(f"run={_inline(self.run)}")
        if self.only_venues:
            bits.append(f"only_venues={','.join(self.only_venues)}")
        if self.spot_from:
            bits.append(f"spot_from={self.spot_from}")
        return " ".join(bits)


def _inline(d: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={d[k]!r}" for k in sorted(d)) + "}"


def builtin_cases() -> list[GoldenCase]:
    """Every built-in strategy on every embedded scenario (found at run time), EXTRA_CASES, real data if present."""
    from basisbt.data.scenarios import list_scenarios
    from basisbt.strategies.registry import builtin_strategies
    cases = []
    for strat in sorted(builtin_strategies()):
        for sc in list_scenarios():
            if strat not in SCENARIO_STRATEGIES.get(sc.name, (strat,)):
                continue
            cases.append(GoldenCase(f"{strat}__{sc.name}", strat, f"scenario:{sc.name}", timeframe=sc.timeframe))
    scenarios = {sc.name: sc for sc in list_scenarios()}    # each scenario at its own default bar size
    for name, strat, scenario, params, *more in EXTRA_CASES:
        if strat in builtin_strategies() and scenario in scenarios:
            how: dict[str, Any] = more[0] if more else {}
            cases.append(GoldenCase(name, strat, f"scenario:{scenario}", params=dict(params),
                                    run=dict(how.get("run", {})),
                                    timeframe=how.get("timeframe", scenarios[scenario].timeframe)))
    rd = REAL_DATA_CASE
    cases.append(GoldenCase(f"{rd['strategy']}__{rd['dataset']}", rd["strategy"], rd["data"], run=dict(rd["run"]),
                            symbol=rd["symbol"], optional=True))
    return cases


_CASE_KEYS = {"name", "strategy", "data", "params", "run", "symbol", "timeframe", "checkpoint_days", "optional",
              "only_venues", "spot_from"}


def load_cases_file(path: str | Path) -> tuple[list[GoldenCase], Path | None, bool]:
    """Read a cases TOML -> (cases, golden_dir or None, include_builtin). Unknown keys are errors."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise GoldenError(f"{p}: no such cases file") from None
    except tomllib.TOMLDecodeError as e:
        raise GoldenError(f"{p}: invalid TOML ({e})") from None
    unknown = sorted(set(doc) - {"golden_dir", "include_builtin", "case"})
    if unknown:
        raise GoldenError(f"{p}: unknown key {unknown[0]!r}; valid: golden_dir, include_builtin, [[case]]")
    base = p.resolve().parent
    cases, seen = [], set()
    for k, c in enumerate(doc.get("case", []), 1):
        bad = sorted(set(c) - _CASE_KEYS)
        if bad:
            raise GoldenError(f"{p}: case {k}: unknown key {bad[0]!r}; valid: {', '.join(sorted(_CASE_KEYS))}")
        for req in ("strategy", "data"):
            if req not in c:
                raise GoldenError(f"{p}: case {k} needs {req!r}")
        ds_label = slug(c["data"].split(":", 1)[1] if c["data"].startswith("scenario:") else Path(c["data"]).stem)
        name = c.get("name") or f"{slug(Path(c['strategy'].split(':')[-1]).stem)}__{ds_label}"
        if not _BARE.match(name.replace(".", "_")):
            raise GoldenError(f"{p}: case name {name!r}: use letters, digits, '_', '-', '.'")
        if name in seen:
            raise GoldenError(f"{p}: case name {name!r} appears twice (give each case a unique name)")
        seen.add(name)
        cases.append(GoldenCase(name, c["strategy"], c["data"], dict(c.get("params", {})), dict(c.get("run", {})),
                                c.get("symbol", "ETH/USDT"), c.get("timeframe", "1h"),
                                float(c.get("checkpoint_days", CHECKPOINT_DAYS)), bool(c.get("optional", False)),
                                base, tuple(c.get("only_venues", ())), c.get("spot_from")))
    gdir = doc.get("golden_dir")
    return cases, (base / gdir if gdir else None), bool(doc.get("include_builtin", False))


def select(cases: list[GoldenCase], only: list[str] | None) -> list[GoldenCase]:
    """Cases matching any --only pattern: the case name, its strategy, its dataset part, or a glob on the name."""
    if not only:
        return cases
    out = []
    for c in cases:
        ds = c.name.split("__", 1)[-1]
        if any(pat in (c.name, c.strategy, ds, c.data) or fnmatch.fnmatchcase(c.name, pat) for pat in only):
            out.append(c)
    return out


# -- running a case -------------------------------------------------------------------------------------

class DataAbsent(RuntimeError):
    """An optional case's data is not on this machine."""


def _resolve_path(text: str, base: Path) -> Path:
    p = Path(text)
    return p if p.is_absolute() else base / p


def load_case_data(case: GoldenCase) -> Dataset:
    """The Dataset of a `freqtrade:DIR` case: the freqtrade tree imported through a temporary parquet cache."""
    from basisbt.data import cache
    from basisbt.data.ingest.freqtrade import import_freqtrade
    root = _resolve_path(case.data.split(":", 1)[1], case.base_dir)
    if not root.is_dir():
        raise DataAbsent(f"{root} not found")
    items = import_freqtrade(root, symbols=[case.symbol], timeframe=case.timeframe)
    with tempfile.TemporaryDirectory(prefix="basisbt-golden-") as tmp:
        cache.write_many(tmp, [(i.key, i.frame, i.source) for i in items])
        return cache.load_dataset(tmp, case.symbol, case.timeframe, name=case.data)


def case_spec(case: GoldenCase, venues: Any = None, loaded: dict[tuple, Dataset] | None = None) -> RunSpec:
    """The RunSpec of a case (a golden case is a spec plus expected numbers): its data labelled as the case
    names it (`case.data`: part of config_id), a relative dataset TOML or strategy file found beside the cases
    file. A `freqtrade:DIR` case's data is imported here (and kept in `loaded` for the next case)."""
    if case.data.startswith("freqtrade:"):
        key = (case.data, case.symbol, case.timeframe, str(case.base_dir))
        if loaded is None or key not in loaded:
            ds = load_case_data(case)
            if loaded is not None:
                loaded[key] = ds
        data = DataSpec(loaded[key] if loaded is not None else ds, label=case.data)
    elif case.data.endswith(".toml"):               # a dataset TOML fixes its own timeframe
        path = _resolve_path(case.data, case.base_dir)
        if not path.exists() and case.optional:
            raise DataAbsent(f"{path} not found")
        data = DataSpec(str(path), label=case.data)
    else:
        data = DataSpec(case.data, timeframe=case.timeframe)
    data = dataclasses.replace(data, only_venues=tuple(case.only_venues), spot_from=case.spot_from)
    return RunSpec(strategy=case.strategy, params=dict(case.params), data=data,
                   config=build_dataclass(RunConfig, dict(case.run), "run config key"),
                   venues=venue_set(venues), base_dir=str(case.base_dir))


@dataclass
class CaseRun:
    """A finished case: the results, the (cut) dataset it ran on, and its flat golden table."""

    case: GoldenCase
    results: RunResult
    dataset: Dataset
    config: RunConfig
    values: dict[str, Any]
    seconds: float
    venues: dict[str, Any] = field(default_factory=dict)    # the run's venues after its overrides (data/venues.Venue)


def run_case(case: GoldenCase, data_cache: Memo | None = None, venues: Any = None,
             loaded: dict[tuple, Dataset] | None = None) -> CaseRun:
    """Run one case through the one executor (`data_cache`: a Memo sharing datasets between cases; `venues`:
    where the run's venues come from, data/venues.venue_set, default $BASISBT_VENUES then the built-ins)."""
    import time
    t0 = time.perf_counter()
    spec = case_spec(case, venues, loaded)
    eng = prepare(spec, memo=data_cache)
    res = eng.run()
    return CaseRun(case, res, eng.dataset, spec.config, golden_values(res, case.checkpoint_days),
                   time.perf_counter() - t0, eng.venues)


# -- the golden table ---------------------------------------------------------------------------------------

def _flatten(obj: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for k, v in enumerate(obj):
            _flatten(v, f"{prefix}.{k}", out)
    else:
        out[prefix] = obj


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def checkpoints(index: pd.DatetimeIndex, every_days: float) -> list[int]:
    """Row numbers of the equity checkpoints: first bar, the last bar at or before start + k*every_days, last bar."""
    if len(index) == 0:
        return []
    rows = {0, len(index) - 1}
    step = pd.Timedelta(days=every_days)
    t = index[0] + step
    while t < index[-1]:
        rows.add(int(np.searchsorted(index.asi8, t.value, side="right")) - 1)
        t += step
    return sorted(rows)


def golden_values(res: RunResult, checkpoint_days: float = CHECKPOINT_DAYS) -> dict[str, Any]:
    """The flat golden table of one run (see the module docstring)."""
    vals: dict[str, Any] = {"config_id": res.config_id, "data_fingerprint": res.data_fingerprint}
    vals.update({f"{VENUE_KEY}{v}": fp for v, fp in res.venue_fingerprint.items()})
    m = compute_metrics(res)
    flat: dict[str, Any] = {}
    _flatten({k: v for k, v in m.items() if k not in _SKIP_METRICS}, "", flat)
    vals.update({f"metrics.{k}": v for k, v in flat.items()})
    quality = m.get("data_quality") or {}
    vals.update({f"metrics.data_quality.{k}": quality[k] for k in _QUALITY_TOTALS if k in quality})
    idx = pd.DatetimeIndex(res.timeline.index)
    eq = res.timeline["equity"].to_numpy(dtype=float)
    for r in checkpoints(idx, checkpoint_days):
        vals[f"equity.{_iso(idx[r])}"] = float(eq[r])
    led = res.ledger
    for kind in sorted(set(led["kind"])):
        amounts = led.loc[led["kind"] == kind, "amount"].to_numpy(dtype=float)
        vals[f"ledger.{kind}.total"] = math.fsum(amounts)
        vals[f"ledger.{kind}.count"] = int(amounts.size)
    return vals


def _toml_key(key: str) -> str:
    if key.startswith("equity."):
        return f'equity."{key[len("equity."):]}"'
    return ".".join(p if _BARE.match(p) else '"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"'
                    for p in key.split("."))


def _toml_value(v: Any) -> str:
    """A golden value: metrics.json's null (NaN / undefined) stays a visible "null", the rest as in run.toml."""
    return '"null"' if v is None else toml_value(v)


def render(case: GoldenCase, values: dict[str, Any]) -> str:
    """The golden file text: a header comment, then sorted `key = value` lines."""
    lines = [f"# golden returns of case {case.name}: {case.describe()}",
             "# written by `basisbt regress --update` (make golden) after the bless checks passed; do not edit.",
             f"# compare: rtol {RTOL:g}; a different config_id or data_fingerprint is a stale golden."]
    lines += [f"{_toml_key(k)} = {_toml_value(values[k])}" for k in sorted(values)]
    return "\n".join(lines) + "\n"


def read_golden(path: Path) -> dict[str, Any]:
    """A golden file back into its flat table (string 'null' -> None)."""
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise GoldenError(f"{path}: not a golden file: {e}") from None
    flat: dict[str, Any] = {}
    _flatten(doc, "", flat)
    return {k: (None if v == "null" else v) for k, v in flat.items()}


def write_golden(path: Path, case: GoldenCase, values: dict[str, Any]) -> None:
    """Write atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(render(case, values))
    tmp.replace(path)


# -- comparison -----------------------------------------------------------------------------------------------

@dataclass
class Moved:
    """One value that differs from its golden (golden/now None when the key is absent on that side)."""

    key: str
    golden: Any
    now: Any
    missing_side: str = ""                     # "golden" | "now" | ""

    @property
    def delta(self) -> float | None:
        if isinstance(self.golden, (int, float)) and isinstance(self.now, (int, float)) \
                and not isinstance(self.golden, bool) and not isinstance(self.now, bool):
            return float(self.now) - float(self.golden)
        return None

    @property
    def rel(self) -> float | None:
        d = self.delta
        if d is None:
            return None
        g = abs(float(self.golden))
        return d / g if g else (math.inf if d else 0.0)


def _is_money(key: str) -> bool:
    return key.startswith(_MONEY_PREFIXES) and not key.endswith(".count") or key.rsplit(".", 1)[-1] in _MONEY_LEAVES


def same(key: str, golden: Any, now: Any, scale: float) -> bool:
    """Equal within rtol RTOL (and a tiny atol: ATOL_MONEY x scale for quote-valued keys)."""
    if isinstance(golden, bool) or isinstance(now, bool) or not isinstance(golden, (int, float)) \
            or not isinstance(now, (int, float)):
        return golden == now and type(golden) is type(now)
    g, n = float(golden), float(now)
    if math.isnan(g) or math.isnan(n):
        return math.isnan(g) and math.isnan(n)
    if math.isinf(g) or math.isinf(n):
        return g == n
    atol = ATOL_MONEY * scale if _is_money(key) else ATOL
    return abs(n - g) <= max(RTOL * max(abs(g), abs(n)), atol)


def compare(golden: dict[str, Any], now: dict[str, Any]) -> tuple[list[Moved], list[Moved]]:
    """(identity changes, moved values). Identity = config_id, data_fingerprint, venue_fingerprint.* (-> stale)."""
    keys = set(golden) | set(now)
    identity = [k for k in IDENTITY_KEYS] + sorted(k for k in keys if k.startswith(VENUE_KEY))
    ident = [Moved(k, golden.get(k), now.get(k)) for k in identity if golden.get(k) != now.get(k)]
    scale = abs(float(now.get("metrics.equity_start") or golden.get("metrics.equity_start") or 1.0))
    moved = []
    for k in sorted(keys - set(identity)):
        if k not in golden:
            moved.append(Moved(k, None, now[k], "golden"))
        elif k not in now:
            moved.append(Moved(k, golden[k], None, "now"))
        elif not same(k, golden[k], now[k], scale):
            moved.append(Moved(k, golden[k], now[k]))
    return ident, moved


# -- the independent checks that bless a golden -------------------------------------------------------------------

def _tol_ok(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), scale, 1.0)


def bless_checks(run: CaseRun) -> list[str]:
    """Recompute the headline numbers without the kernels; return what disagrees (empty = blessable).

    1. per-bar PnL identity: the seven parts sum to equity_t - equity_(t-1) - flows_t on every bar;
    2. equity from the books: sum of every ledger row except realized PnL (cash by venue, lending,
       in transit) + spot held (from fills) at the last spot close + perp PnL from fills and
       liquidations (-sum dq*px + q_end*mark_end) == equity_end, and the positions match the timeline;
    3. funding from the raw funding frames: -q(settlement bar) * px * rate summed == pnl.funding == ledger;
    4. fees from the venue spec: |qty| * price * taker rate (spot or perp; the maker rate for a maker fill) per
       fill, withdrawal fees, quote conversions (a transfer's amount x the spot taker rate) and collateral
       conversions (a collateral_trade's amount x the spot taker rate: buys, sales, forced sales) == pnl.fees;
       slippage: qty * (price - ref_price) per fill == -pnl.slippage; a liquidation's fee is the spec's rate on
       its notional, or less when that rate would take more than the account had left (then nothing is owed: no
       insurance, nothing socialized); lending and liquidation parts agree with the ledger.
    """
    res, ds = run.results, run.dataset
    tl, led, fills, liqs = res.timeline, res.ledger, res.fills, res.liquidations
    scale = float(res.initial_equity)
    problems: list[str] = []
    m = compute_metrics(res)
    pnl = m["pnl"]

    def led_sum(*kinds: str, venue: str | None = None) -> float:
        sel = led["kind"].isin(kinds)
        if venue is not None:
            sel &= led["venue"] == venue
        return math.fsum(led.loc[sel, "amount"].to_numpy(dtype=float))

    # 1. per-bar identity
    eq = tl["equity"].to_numpy(dtype=float)
    flows = tl["flows"].to_numpy(dtype=float) if "flows" in tl.columns else np.zeros(len(tl))
    parts = tl[[f"pnl_{p}" for p in PNL_PARTS]].to_numpy(dtype=float).sum(axis=1)
    d_eq = np.diff(np.r_[scale, eq]) - flows
    bad = np.flatnonzero(np.abs(parts - d_eq) > 1e-9 * np.maximum(np.abs(eq), 1.0))
    if bad.size:
        b = int(bad[0])
        problems.append(f"pnl identity broken on {bad.size} bars, first {tl.index[b]}: parts {parts[b]!r} "
                        f"vs equity change {d_eq[b]!r}")
    if not _tol_ok(pnl["total"], math.fsum(pnl[p] for p in PNL_PARTS), scale):
        problems.append(f"pnl parts sum {math.fsum(pnl[p] for p in PNL_PARTS)!r} != pnl.total {pnl['total']!r}")

    # 2. equity from the books
    money = math.fsum(led.loc[~led["kind"].isin(["realized_pnl", "adl"]), "amount"].to_numpy(dtype=float))
    vev = res.venue_events            # ADL and default closes move positions without a fill
    vev = vev[vev["instrument"].isin(["spot", "perp"])] if len(vev) else vev
    books = money
    for v in res.venues:
        f = fills[fills["venue"] == v]
        sp, pp = f[f["instrument"] == "spot"], f[f["instrument"] == "perp"]
        ev_v = vev[vev["venue"] == v] if len(vev) else vev
        ev_s = ev_v[ev_v["instrument"] == "spot"] if len(ev_v) else ev_v
        ev_p = ev_v[ev_v["instrument"] == "perp"] if len(ev_v) else ev_v
        spot_q = math.fsum(np.r_[sp["qty"].to_numpy(dtype=float),
                                 ev_s["qty"].to_numpy(dtype=float) if len(ev_s) else np.zeros(0)])
        lq = liqs[liqs["venue"] == v] if len(liqs) else liqs
        liq_dq = -lq["qty"].to_numpy(dtype=float) if len(lq) else np.zeros(0)
        liq_px = lq["price"].to_numpy(dtype=float) if len(lq) else np.zeros(0)
        ev_dq = ev_p["qty"].to_numpy(dtype=float) if len(ev_p) else np.zeros(0)
        ev_px = ev_p["price"].to_numpy(dtype=float) if len(ev_p) else np.zeros(0)
        dq = np.r_[pp["qty"].to_numpy(dtype=float), liq_dq, ev_dq]
        px = np.r_[pp["price"].to_numpy(dtype=float), liq_px, ev_px]
        perp_q = math.fsum(dq)
        tq_spot, tq_perp = float(tl[f"{v}:spot_qty"].iloc[-1]), float(tl[f"{v}:perp_qty"].iloc[-1])
        if not (abs(spot_q - tq_spot) <= 1e-9 * max(abs(tq_spot), 1.0)
                and abs(perp_q - tq_perp) <= 1e-9 * max(abs(tq_perp), 1.0)):
            problems.append(f"{v}: positions from fills (spot {spot_q!r}, perp {perp_q!r}) != timeline "
                            f"(spot {tq_spot!r}, perp {tq_perp!r})")
        books += spot_q * float(tl[f"{v}:spot_px"].iloc[-1])
        books += math.fsum(-dq * px) + perp_q * float(tl[f"{v}:mark_px"].iloc[-1])
        if f"{v}:coll_qty" in tl.columns:               # collateral-asset units still held, at their close
            books += float(tl[f"{v}:coll_qty"].iloc[-1]) * float(np.nan_to_num(tl[f"{v}:coll_px"].iloc[-1]))
    if not _tol_ok(books, float(eq[-1]), scale):
        problems.append(f"equity from ledger + fills {books!r} != equity_end {float(eq[-1])!r}")

    # 3. funding from the raw frames
    close_ns = pd.DatetimeIndex(tl.index).asi8
    open0 = close_ns[0] - (close_ns[1] - close_ns[0]) if len(close_ns) > 1 else close_ns[0]
    funding = 0.0
    gross = 0.0
    for v in res.venues:
        fr = ds.funding.get(v)
        if fr is None or fr.empty:
            continue
        t = pd.DatetimeIndex(fr["ts"]).as_unit("ns").asi8
        idx = np.searchsorted(close_ns, t, side="left")
        keep = (idx < len(close_ns)) & (t > open0)
        rate = fr["rate"].to_numpy(dtype=float)[keep]
        idx = idx[keep]
        px = tl[f"{v}:mark_px"].to_numpy(dtype=float)[idx]
        if "mark_price" in fr.columns:
            mp = fr["mark_price"].to_numpy(dtype=float)[keep]
            px = np.where(np.isfinite(mp) & (mp > 0), mp, px)
        q = tl[f"{v}:perp_qty"].to_numpy(dtype=float)[idx]
        pays = -q * px * rate
        funding += math.fsum(pays)
        gross += float(np.abs(pays).sum())
        if not _tol_ok(math.fsum(pays), led_sum("funding", venue=v), gross):
            problems.append(f"{v}: funding recomputed from the raw frame {math.fsum(pays)!r} != ledger "
                            f"{led_sum('funding', venue=v)!r}")
    if not (_tol_ok(funding, pnl["funding"], gross) and _tol_ok(pnl["funding"], led_sum("funding"), gross)):
        problems.append(f"funding: recomputed {funding!r}, pnl.funding {pnl['funding']!r}, ledger "
                        f"{led_sum('funding')!r}")

    # 4. fees from the venue spec, slippage from the fills, lending and liquidation from the ledger
    from basisbt.engine.venue_setup import run_venues
    at = pd.Timestamp(open0, unit="ns", tz="UTC")
    fee_calc, slip_calc = 0.0, 0.0
    venues = run.venues or run_venues([v.split(":")[0] for v in res.venues], run.config.venue_overrides)
    for v in res.venues:
        spec = venues[v.split(":")[0]].at(at)           # the venue's spec (a slot "venue:ASSET"), after overrides
        rates = {"spot": spec.spot_taker_fee, "perp": spec.taker_fee}
        makers = {"spot": spec.spot_maker_fee - spec.spot_maker_rebate, "perp": spec.maker_fee - spec.maker_rebate}
        f = fills[fills["venue"] == v]
        for ins in ("spot", "perp"):
            g = f[f["instrument"] == ins]
            qty, price = g["qty"].to_numpy(dtype=float), g["price"].to_numpy(dtype=float)
            maker = (g["liquidity"] == "maker").to_numpy() if "liquidity" in g.columns else np.zeros(len(g), bool)
            expect = np.abs(qty) * price * np.where(maker, makers[ins], rates[ins])
            got = g["fee"].to_numpy(dtype=float)
            if np.any(np.abs(expect - got) > 1e-12 * np.maximum(np.abs(expect), 1.0)):
                k = int(np.argmax(np.abs(expect - got)))
                problems.append(f"{v} {ins}: fill fee {got[k]!r} != |qty| * price * {rates[ins]} = {expect[k]!r}")
            fee_calc += math.fsum(expect)
            slip_calc += math.fsum(qty * (price - g["ref_price"].to_numpy(dtype=float)))
        # liquidations: fee = |qty| * price * the spec's liquidation fee, or its taker fee for the step down of a
        # partial liquidation (a step leaves a position: a later row at the same close, or the timeline's qty);
        # price inside the bar's raw mark range
        lq = liqs[liqs["venue"] == v] if len(liqs) else liqs
        if len(lq):
            liq_rate = float(spec.liquidation_fee or 0.0)
            taker_rate = spec.taker_fee
            left = tl[f"{v}:perp_qty"]
            last_at = {ts: i for i, ts in enumerate(lq["ts"])}           # last row of each close instant
            marks = ds.mark.get(v)
            marks = ds.perp[v] if marks is None or marks.empty else marks
            bar_open = pd.DatetimeIndex(marks["ts"])
            step = close_ns[1] - close_ns[0]
            # a whole close at the bankruptcy price loses the margin left, at most the liquidation level there
            level = max(spec.tier_table(ds.base).rate) + spec.trigger_rate + 2 * taker_rate
            for i, row in enumerate(lq.itertuples()):
                is_step = spec.partial_liquidation and (i != last_at[row.ts] or abs(float(left.loc[row.ts])) > 0)
                rate = taker_rate if is_step else liq_rate
                expect = abs(row.qty) * row.price * rate
                owed = float(row.insurance_loss) + float(getattr(row, "socialized", 0.0) or 0.0)
                if not is_step and spec.liquidation_price == "bankruptcy":
                    if not -1e-9 <= row.fee <= abs(row.qty) * row.price * level + 1e-9:
                        problems.append(f"{v} liquidation {row.ts}: margin lost at bankruptcy {row.fee!r} is not in "
                                        f"[0, |qty| * price * {level}]")
                elif abs(expect - row.fee) > 1e-12 * max(expect, 1.0) and not (-1e-9 <= row.fee < expect and
                                                                                  owed == 0.0):
                    problems.append(f"{v} liquidation {row.ts}: fee {row.fee!r} is neither |qty| * price * {rate} "
                                    f"= {expect!r} nor the smaller balance left with nothing owed")
                k = bar_open.get_indexer([row.ts - pd.Timedelta(int(step), "ns")])[0]
                if k < 0 or not (marks["low"].iloc[k] - 1e-9 <= row.price <= marks["high"].iloc[k] + 1e-9):
                    problems.append(f"{v} liquidation {row.ts}: price {row.price!r} outside the bar's mark range")
    fee_calc += -led_sum("withdrawal_fee")
    # conversions between quote currencies: a fee row without a fill (ref -1) is the converted amount (what was
    # sent, transfer_out, plus the fee) at that instant x the converting venue's spot taker fee
    # ... or a collateral conversion: the collateral_trade amount at that instant x the venue's spot taker fee
    outs = led[led["kind"] == "transfer_out"]
    colls = led[led["kind"] == "collateral_trade"]
    for row in led[(led["kind"] == "fee") & (led["ref"] == -1)].itertuples():
        rate = venues[str(row.venue).split(":")[0]].at(row.ts).spot_taker_fee
        traded = np.abs(colls.loc[(colls["ts"] == row.ts) & (colls["venue"] == row.venue), "amount"].to_numpy(float))
        if np.any(np.abs(traded * rate + row.amount) <= 1e-12 * max(abs(row.amount), 1.0)):
            fee_calc -= row.amount
            continue
        sent = -outs.loc[outs["ts"] == row.ts, "amount"].to_numpy(dtype=float) - row.amount
        if not np.any(np.abs(sent * rate + row.amount) <= 1e-12 * max(abs(row.amount), 1.0)):
            problems.append(f"{row.venue} conversion fee {row.amount!r} at {row.ts} is no transfer there x its spot "
                            f"taker fee {rate}")
        fee_calc -= row.amount
    if not _tol_ok(-fee_calc, pnl["fees"], scale) or not _tol_ok(pnl["fees"], led_sum("fee", "withdrawal_fee"), scale):
        problems.append(f"fees: from spec {-fee_calc!r}, pnl.fees {pnl['fees']!r}, ledger "
                        f"{led_sum('fee', 'withdrawal_fee')!r}")
    if not _tol_ok(-slip_calc, pnl["slippage"], scale):
        problems.append(f"slippage: from fills {-slip_calc!r} != pnl.slippage {pnl['slippage']!r}")
    if not _tol_ok(pnl["lending"], led_sum("lending_interest"), scale):
        problems.append(f"lending: pnl {pnl['lending']!r} != ledger interest {led_sum('lending_interest')!r}")
    kinds = ("liquidation_fee", "insurance", "socialized", "default_loss", "backstop")
    if not _tol_ok(pnl["liquidation"], led_sum(*kinds), scale):
        problems.append(f"liquidation: pnl {pnl['liquidation']!r} != ledger fees + insurance + socialized + default "
                        f"losses + margin taken by a backstop {led_sum(*kinds)!r}")
    return problems


# -- the regression -------------------------------------------------------------------------------------------------

@dataclass
class CaseOutcome:
    case: GoldenCase
    status: str                       # pass | drift | stale | missing | error | skipped | updated | unchanged | check-failed
    identity: list[Moved] = field(default_factory=list)
    moved: list[Moved] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    path: Path | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("drift", "stale", "missing", "error", "check-failed")


def regress(cases: list[GoldenCase], golden_dir: Path, *, update: bool = False,
            on_case: Callable[[CaseOutcome], None] | None = None, venues: Any = None,
            names: dict[str, str] | None = None) -> list[CaseOutcome]:
    """Run every case and compare with (or, with update, bless and rewrite) its golden file; `venues` is where
    the runs find their venues (data/venues.venue_set: --venues-dir, $BASISBT_VENUES, the built-ins); `names`
    spells the run inputs an error names (the command line's flags; data/errors.py)."""
    from basisbt.data.errors import DataError
    from basisbt.data.venues import VenueSpecError
    from basisbt.engine.market import MarketError
    from basisbt.engine.runner import StrategyError
    memo, loaded = Memo(keep=4), dict[tuple, Dataset]()
    outcomes = []
    for case in cases:
        path = Path(golden_dir) / f"{case.name}.toml"
        try:
            run = run_case(case, memo, venues, loaded)
        except DataAbsent as e:
            oc = CaseOutcome(case, "skipped" if case.optional else "error", message=f"data absent: {e}", path=path)
        except (ConfigError, DataError, VenueSpecError, MarketError, StrategyError, ValueError, OSError) as e:
            text = e.spelled(names or {}) if hasattr(e, "spelled") else str(e)
            oc = CaseOutcome(case, "error", message=f"{type(e).__name__}: {text}", path=path)
        else:
            try:
                oc = _judge(case, run, path, update)
            except GoldenError as e:
                oc = CaseOutcome(case, "error", message=str(e), seconds=run.seconds, path=path)
        outcomes.append(oc)
        if on_case is not None:
            on_case(oc)
    return outcomes


def _judge(case: GoldenCase, run: CaseRun, path: Path, update: bool) -> CaseOutcome:
    old = read_golden(path) if path.exists() else None
    ident, moved = compare(old, run.values) if old is not None else ([], [])
    if update:
        problems = bless_checks(run)
        if problems:
            return CaseOutcome(case, "check-failed", ident, moved, "; ".join(problems), run.seconds, path)
        if old is not None and not ident and not moved and path.read_text() == render(case, run.values):
            return CaseOutcome(case, "unchanged", seconds=run.seconds, path=path)
        write_golden(path, case, run.values)
        return CaseOutcome(case, "updated", ident, moved, "new golden" if old is None else "", run.seconds, path)
    if old is None:
        return CaseOutcome(case, "missing", message="no golden file (bless it with --update)", seconds=run.seconds,
                           path=path)
    if ident:
        return CaseOutcome(case, "stale", ident, moved, f"{stale_reason(ident)}: the golden is of another run",
                           run.seconds, path)
    # the run is already paid for: a golden that still matches must also still pass the checks that blessed it
    problems = bless_checks(run)
    if problems:
        return CaseOutcome(case, "drift" if moved else "check-failed", ident, moved, "; ".join(problems),
                           run.seconds, path)
    return CaseOutcome(case, "drift" if moved else "pass", ident, moved, seconds=run.seconds, path=path)


def stale_reason(ident: list[Moved]) -> str:
    """What made a golden stale, for the one-line message: "venue binance changed", "data changed", ..."""
    why = []
    for m in ident:
        if m.key.startswith(VENUE_KEY):
            venue = m.key[len(VENUE_KEY):]
            why.append(f"venue {venue} " + ("changed" if m.golden and m.now else
                                            "added" if m.now else "no longer used"))
        elif m.key == "data_fingerprint":
            why.append("data changed")
    if not why:
        why.append("config changed")
    return ", ".join(why)


def orphans(cases: list[GoldenCase], golden_dir: Path) -> list[Path]:
    """Golden files no case writes (a renamed or removed strategy/scenario)."""
    names = {c.name for c in cases}
    return sorted(p for p in Path(golden_dir).glob("*__*.toml") if p.stem not in names)


def default_cases(cases_file: str | Path | None = None) -> tuple[list[GoldenCase], Path]:
    """(cases, golden dir): from `cases_file`, else ./basisbt-golden.toml when present, else the built-ins."""
    path = Path(cases_file) if cases_file else (Path.cwd() / CASES_FILE)
    if cases_file or path.exists():
        cases, gdir, include = load_cases_file(path)
        if include:
            cases = builtin_cases() + cases
        return cases, gdir or (path.resolve().parent / "tests" / "golden")
    return builtin_cases(), DEFAULT_GOLDEN_DIR
