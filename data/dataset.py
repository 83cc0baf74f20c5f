"""A Dataset: every canonical frame one backtest reads, for one base asset across venues."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import pandas as pd

from basisbt.data.venue_events import VenueEvent, fingerprint_text


@dataclass(frozen=True)
class Dataset:
    """Canonical frames keyed by venue (bars, funding) or protocol (lending).

    `spot`, `perp`, `mark` map venue -> bar frame; `funding` venue -> funding frame;
    `lending` protocol -> lending frame; `flows` is an optional mint/redeem frame; `index`
    venue -> index-price bars (open, high, low, close), optional: empty unless imported.
    `collateral`: venue -> bars (open, high, low, close, in quote) of the collateral asset named
    `collateral_asset` (e.g. USDe) that an account on that venue can hold as margin; optional.
    All frames follow data.schemas. `symbol` is the spot symbol, e.g. 'ETH/USDT'.
    """

    name: str
    symbol: str
    timeframe: str
    spot: dict[str, pd.DataFrame]
    perp: dict[str, pd.DataFrame]
    mark: dict[str, pd.DataFrame] = field(default_factory=dict)
    funding: dict[str, pd.DataFrame] = field(default_factory=dict)
    lending: dict[str, pd.DataFrame] = field(default_factory=dict)
    flows: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()
    index: dict[str, pd.DataFrame] = field(default_factory=dict)   # venue -> index-price bars (optional)
    venue_events: tuple[VenueEvent, ...] = ()   # scheduled ADL / halts / defaults (data/venue_events.py)
    collateral: dict[str, pd.DataFrame] = field(default_factory=dict)  # venue -> collateral-asset bars (optional)
    collateral_asset: str = ""

    @property
    def venues(self) -> list[str]:
        """Venues that have a perp, in a stable (sorted) order."""
        return sorted(self.perp)

    @property
    def protocols(self) -> list[str]:
        return sorted(self.lending)

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1].split(":")[0]

    def frames(self):
        """Yield (stream, key, frame) for every frame, in a fixed order."""
        for stream in ("spot", "perp", "mark", "funding", "lending"):
            table = getattr(self, stream)
            for key in sorted(table):
                yield stream, key, table[key]
        if self.flows is not None:
            yield "flows", "-", self.flows
        for key in sorted(self.index):          # last, so datasets without index bars keep their fingerprint
            yield "index", key, self.index[key]
        for key in sorted(self.collateral):     # after index, for the same reason
            yield "collateral", key, self.collateral[key]

    def fingerprint(self) -> str:
        """sha256 over every frame's bytes: equal data <=> equal fingerprint (for goldens).

        Hashed once per Dataset (~0.1 s on a year of 1m bars), then reused by every run on it:
        like the Dataset itself, its frames must not be modified in place.
        """
        fp = self.__dict__.get("_fingerprint")
        if fp is None:
            fp = self.__dict__["_fingerprint"] = self._hash_frames()   # frozen: bypass __setattr__
        return fp

    def _hash_frames(self) -> str:
        """The fingerprint's value; the hash itself must never change (goldens store it)."""
        h = hashlib.sha256(f"{self.symbol}|{self.timeframe}".encode())
        for stream, key, frame in self.frames():
            h.update(f"|{stream}:{key}:{','.join(frame.columns)}|".encode())
            h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        if self.venue_events:                   # only then, so datasets without events keep their fingerprint
            h.update(f"|venue_events:{fingerprint_text(self.venue_events)}".encode())
        return h.hexdigest()[:16]

    def between(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> "Dataset":
        """The same dataset cut to rows with start <= ts < end (either bound may be None).

        The cut is kept on this Dataset (frozen, like the fingerprint), so runs over one window, as in a
        sweep with --start/--end, cut and hash it once."""
        cuts = self.__dict__.setdefault("_cuts", {})
        key = (start, end)
        if key not in cuts:
            if len(cuts) >= 8:                  # a few windows at a time; forget the oldest
                cuts.pop(next(iter(cuts)))
            cuts[key] = self._between(start, end)
        return cuts[key]

    def _between(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> "Dataset":
        def cut(f: pd.DataFrame) -> pd.DataFrame:
            m = pd.Series(True, index=f.index)
            if start is not None:
                m &= f["ts"] >= start
            if end is not None:
                m &= f["ts"] < end
            return f[m].reset_index(drop=True)

        def cut_all(d: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
            return {k: cut(v) for k, v in d.items()}

        return Dataset(self.name, self.symbol, self.timeframe, cut_all(self.spot), cut_all(self.perp),
                       cut_all(self.mark), cut_all(self.funding), cut_all(self.lending),
                       None if self.flows is None else cut(self.flows), self.notes, cut_all(self.index),
                       venue_events=self.venue_events, collateral=cut_all(self.collateral),
                       collateral_asset=self.collateral_asset)

    def with_venues(self, venues: list[str]) -> "Dataset":
        """Only these venues' frames (lending and flows kept): `basisbt run --venues binance,bybit`."""
        unknown = [v for v in venues if v not in self.perp]
        if unknown or not venues:
            raise ValueError(f"--venues: {', '.join(unknown) or '(none)'} not in the data; "
                             f"valid: {', '.join(self.venues)}")

        def keep(d: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
            return {k: v for k, v in d.items() if k in venues}

        return replace(self, spot=keep(self.spot), perp=keep(self.perp), mark=keep(self.mark),
                       funding=keep(self.funding), index=keep(self.index), collateral=keep(self.collateral),
                       venue_events=tuple(e for e in self.venue_events if e.venue in venues))

    def with_shared_spot(self, source: str) -> "Dataset":
        """Every venue's spot leg priced from one venue's spot bars, as when spot is held in custody
        off-exchange (Ethena) and only the perps trade on the venues: `basisbt run --spot-from VENUE`."""
        if source not in self.spot:
            raise ValueError(f"--spot-from: no spot bars for {source!r}; venues with spot: "
                             f"{', '.join(sorted(self.spot)) or 'none'}")
        return replace(self, spot={v: self.spot[source] for v in self.perp},
                       notes=self.notes + (f"spot of every venue is {source}'s spot",))
