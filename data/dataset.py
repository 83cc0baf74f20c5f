"""A Dataset: every canonical frame one backtest reads, for one or several base assets across venues."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import pandas as pd

from basisbt.data.errors import ConfigError
from basisbt.data.venue_events import VenueEvent, fingerprint_text


@dataclass(frozen=True)
class Dataset:
    """Canonical frames keyed by venue (bars, funding) or protocol (lending).

    `spot`, `perp`, `mark` map venue -> bar frame; `funding` venue -> funding frame;
    `lending` protocol -> lending frame; `flows` is an optional mint/redeem frame; `index`
    venue -> index-price bars (open, high, low, close), optional: empty unless imported.
    `collateral`: venue -> bars (open, high, low, close, in quote) of the collateral asset named
    `collateral_asset` (e.g. USDe) that an account on that venue can hold as margin; optional.
    `oracle`: venue -> oracle-price bars (open, high, low, close), the price a venue whose file says
    `funding_price = "oracle"` (Hyperliquid) pays funding on; optional: imported, or built for a run from the
    spot series (data/oracle.py).
    All frames follow data.schemas. `symbol` is the spot symbol, e.g. 'ETH/USDT'.

    Several assets: `extra_assets` holds one Dataset per further base asset (its spot, perp, mark,
    funding and index frames for the same quote and timeframe; its own lending, flows, events and
    collateral are not read). The run trades each (venue, asset) pair with a perp as its own instrument;
    lending, flows, venue events and the collateral asset belong to this, the primary, Dataset.
    Build one with `Dataset.combine`.
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
    extra_assets: tuple[Dataset, ...] = ()   # further base assets (same quote, timeframe), see above
    oracle: dict[str, pd.DataFrame] = field(default_factory=dict)   # venue -> oracle-price bars (optional)

    @property
    def venues(self) -> list[str]:
        """Venues that have a perp of any asset, in a stable (sorted) order."""
        if not self.extra_assets:
            return sorted(self.perp)
        return sorted(set(self.perp).union(*(d.perp for d in self.extra_assets)))

    @property
    def assets(self) -> list[str]:
        """Base assets of the run, the primary first (e.g. ['ETH', 'BTC'])."""
        return [self.base] + [d.base for d in self.extra_assets]

    def asset(self, base: str) -> Dataset:
        """The frames of one base asset (this Dataset for the primary)."""
        if base == self.base:
            return replace(self, extra_assets=()) if self.extra_assets else self
        for d in self.extra_assets:
            if d.base == base:
                return d
        raise ValueError(f"asset {base!r} not in dataset {self.name!r}; assets: {', '.join(self.assets)}")

    @staticmethod
    def combine(parts: list[Dataset], name: str | None = None) -> Dataset:
        """One multi-asset Dataset from single-asset ones: the first is primary (its lending, flows,
        events and collateral are the run's); all must share quote and timeframe and differ in base."""
        if not parts:
            raise ValueError("Dataset.combine needs at least one dataset")
        first = parts[0]
        seen: set[str] = set()
        for d in parts:
            if d.extra_assets:
                raise ValueError(f"Dataset.combine: {d.name!r} already holds several assets")
            if d.timeframe != first.timeframe or d.quote != first.quote:
                raise ValueError(f"Dataset.combine: {d.name!r} is {d.symbol} {d.timeframe}, but {first.name!r} is "
                                 f"{first.symbol} {first.timeframe}; assets must share quote and timeframe")
            if d.base in seen:
                raise ValueError(f"Dataset.combine: asset {d.base} given twice")
            seen.add(d.base)
        if len(parts) == 1:
            return first
        return replace(first, name=name or "+".join(d.name for d in parts), extra_assets=tuple(parts[1:]))

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
        for key in sorted(self.oracle):         # after collateral, for the same reason
            yield "oracle", key, self.oracle[key]

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
        for extra in self.extra_assets:         # only then, so single-asset datasets keep their fingerprint
            h.update(f"|asset:{extra.symbol}:{extra.fingerprint()}".encode())
        return h.hexdigest()[:16]

    def perp_span(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """(first, last) perp bar open over every venue and asset; None when there is no perp bar at all."""
        firsts, lasts = [], []
        for d in (self, *self.extra_assets):
            for f in d.perp.values():
                if len(f):
                    firsts.append(f["ts"].iloc[0])
                    lasts.append(f["ts"].iloc[-1])
        return (min(firsts), max(lasts)) if firsts else None

    def between(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> Dataset:
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

    def _between(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> Dataset:
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
                       collateral_asset=self.collateral_asset,
                       extra_assets=tuple(d._between(start, end) for d in self.extra_assets),
                       oracle=cut_all(self.oracle))

    def with_venues(self, venues: list[str]) -> Dataset:
        """Only these venues' frames (lending and flows kept): `bb.run(..., only_venues=["binance", "bybit"])`."""
        unknown = [v for v in venues if v not in self.venues]
        if unknown or not venues:
            raise ConfigError(f"{{only_venues}}: {', '.join(unknown) or '(none)'} not in the data; "
                              f"valid: {', '.join(self.venues)}", key="only_venues")

        def keep(d: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
            return {k: v for k, v in d.items() if k in venues}

        return replace(self, spot=keep(self.spot), perp=keep(self.perp), mark=keep(self.mark),
                       funding=keep(self.funding), index=keep(self.index), collateral=keep(self.collateral),
                       oracle=keep(self.oracle),
                       venue_events=tuple(e for e in self.venue_events if e.venue in venues),
                       extra_assets=tuple(replace(d, spot=keep(d.spot), perp=keep(d.perp), mark=keep(d.mark),
                                                  funding=keep(d.funding), index=keep(d.index), oracle=keep(d.oracle))
                                          for d in self.extra_assets))

    def with_shared_spot(self, source: str) -> Dataset:
        """Every venue's spot leg priced from one venue's spot bars, as when spot is held in custody
        off-exchange (Ethena) and only the perps trade on the venues: `bb.run(..., spot_from=VENUE)`."""
        if source not in self.spot:
            raise ConfigError(f"{{spot_from}}: no spot bars for {source!r}; venues with spot: "
                              f"{', '.join(sorted(self.spot)) or 'none'}", key="spot_from")
        for d in self.extra_assets:
            if source not in d.spot:
                raise ConfigError(f"{{spot_from}}: no {d.base} spot bars for {source!r}; venues with {d.base} "
                                  f"spot: {', '.join(sorted(d.spot)) or 'none'}", key="spot_from")
        return replace(self, spot={v: self.spot[source] for v in self.perp},
                       notes=self.notes + (f"spot of every venue is {source}'s spot",),
                       extra_assets=tuple(replace(d, spot={v: d.spot[source] for v in d.perp})
                                          for d in self.extra_assets))
