"""The frozen result of one backtest, as plain data: what reports, goldens and notebooks read.

`RunResult` is the engine's answer and imports nothing above the engine. The notebook conveniences
(`metrics()`, `plot()`, `save()`, `load()`, `with_benchmark()`) are bound where reports live: `basisbt.Results`
(basisbt/results.py) is a RunResult with them, and is what `bb.run` and every other front door return.

Frames (all times UTC, datetime64[ns, UTC]):
- `timeline`: one row per bar CLOSE instant. Columns: `equity` (quote), the per-bar PnL parts
  `pnl_funding, pnl_basis, pnl_price, pnl_fees, pnl_slippage, pnl_lending, pnl_liquidation`
  (they sum to the bar's equity change less `flows`), `flows` (external capital in + / out -, e.g.
  mints and redemptions: not PnL), `lending_value`, `in_transit`, and per venue V:
  `V:spot_qty, V:perp_qty, V:spot_px, V:perp_px, V:mark_px, V:basis, V:funding_rate (NaN off settlement),
  V:margin_balance, V:maint_margin, V:liq_px (NaN without a position), V:dist_liq` (|mark-liq|/mark).
  Per protocol P: `P:supply` (quote), `P:apy`.
- `ledger`: every cash movement: ts, venue, kind (engine.kernels.codes.LEDGER_KINDS), amount, ref.
- `fills`: ts, venue, instrument ('spot'|'perp'), qty (signed base), price, ref_price, fee, slippage, reason.
- `liquidations`: ts, venue, qty, price, fee, insurance_loss, socialized (beyond the insurance fund), kind (the
  mechanism: engine.kernels.codes.LIQ_KINDS, 'full', 'partial', 'book', 'book_slice' or 'backstop').
- `venue_events`: scheduled ADL and venue defaults that changed the book (engine/venue_events.py): ts, venue,
  kind ('adl' | 'default' | 'default_loss'), instrument, qty (signed change, base), price, amount (quote).
- `attribution`: index venue names plus 'lending', columns the seven PnL parts (totals).
- `extras`: strategy-specific series keyed by name (e.g. 'backing_ratio', 'reserve_fund').
`venue_blocks`: per venue, the spec blocks (data/venues/*.toml `effective_from`) in force and from/to when.
`venue_fingerprint`: per venue, the hash of what its spec blocks in force over the run said, after the run's
overrides (data/venues.Venue.fingerprint); part of `config_id`.

A run with `frames=False` (sweeps, Monte Carlo) builds none of timeline, ledger, fills and liquidations:
they are `NotKept` placeholders that raise `FramesNotKept` when read, and `records` holds the arrays the
metrics are computed from instead (reports.metrics reads either, with identical results).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import pandas as pd

from basisbt.engine.kernels.codes import PNL

if TYPE_CHECKING:
    from basisbt.engine.kernels.arrays import Records
    from basisbt.engine.market import Market

PNL_PARTS = PNL.labels            # funding, basis, price, fees, slippage, lending, liquidation (one table)


class FramesNotKept(RuntimeError):
    """A frame was asked of Results computed with frames=False (metrics only)."""


class NotKept:
    """Stands in for a frame a frames=False run did not build: reading it raises FramesNotKept."""

    def __init__(self, name: str) -> None:
        self.__dict__["name"] = name

    def _fail(self, *_: Any, **__: Any) -> NoReturn:
        raise FramesNotKept(f"this run kept metrics only (frames=False): its {self.__dict__['name']} frame "
                            "was not built; run with frames=True to get it")

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        self._fail()

    __getitem__ = __len__ = __iter__ = __contains__ = __bool__ = __array__ = _fail

    def __repr__(self) -> str:
        return f"<{self.__dict__['name']}: not kept (frames=False)>"


@dataclass(frozen=True)
class RunRecords:
    """What a frames=False run keeps instead of frames: the aligned market, the per-bar record arrays,
    the ledger rows sorted by time (keys, amounts, account names) and the fills and liquidations as dicts."""

    market: Market
    rec: Records
    ledger_keys: np.ndarray
    ledger_amounts: np.ndarray
    ledger_names: tuple[str, ...]
    fills: tuple[dict[str, Any], ...]
    liquidations: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class RunResult:
    """One run's frames, tables and identity (the module docstring says what each holds)."""

    strategy: str
    dataset: str
    venues: tuple[str, ...]
    protocols: tuple[str, ...]
    initial_equity: float
    timeline: pd.DataFrame
    ledger: pd.DataFrame
    fills: pd.DataFrame
    liquidations: pd.DataFrame
    attribution: pd.DataFrame
    config: dict[str, Any]
    config_id: str
    data_fingerprint: str
    params: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, pd.Series] = field(default_factory=dict)
    log: tuple[str, ...] = ()
    data_quality: dict[str, Any] = field(default_factory=dict)   # engine.market quality + orders refused
    orders_rejected: dict[str, int] = field(default_factory=dict)  # orders the venue refused, by kind
    venue_blocks: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # spec block in force: from, to
    venue_fingerprint: dict[str, str] = field(default_factory=dict)  # venue -> hash of its specs used (config_id)
    # scheduled venue events that moved the book (ADL, default): ts, venue, kind, instrument, qty (signed change
    # of the position, base), price, amount (quote: realized PnL, spot proceeds, or - the default loss)
    venue_events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["ts", "venue", "kind", "instrument", "qty", "price", "amount"]))
    records: RunRecords | None = field(default=None, repr=False, compare=False)   # frames=False runs only
    benchmark: dict[str, str] = field(default_factory=dict)   # file, column, series, unit (reports/benchmark.py)

    @property
    def has_frames(self) -> bool:
        """False for a frames=False run: metrics() works, the frames raise FramesNotKept."""
        return not isinstance(self.timeline, NotKept)

    @property
    def equity(self) -> pd.Series:
        return self.timeline["equity"]

    def to_frame(self) -> pd.DataFrame:
        """The per-bar timeline (a copy), the frame a notebook user starts from."""
        return self.timeline.copy()
