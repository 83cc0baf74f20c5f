"""Venue events a dataset or scenario can schedule: auto-deleveraging (ADL), halts, defaults (issue 15 items 4-5)
and market-wide bankruptcies (issue 23 item 8).

A dataset TOML lists them as `[[venue_events]]` tables; a scenario module sets `VENUE_EVENTS`. The runner
(engine/runner.py) applies each at the first bar OPEN at or after its time, between kernel calls:
- `adl`: time, venue, fraction in (0, 1], price > 0. Our perp on the venue, if in profit at `price`
  (a short: price < entry), is reduced by `fraction` at `price`, no fee; otherwise nothing happens (logged).
- `halt`: venue, start < end, `stop_trading` and `stop_withdrawals` (both true by default). Orders on the
  venue are refused ("venue halted"), transfers out of it refused, transfers to it arrive at `end` at the
  earliest. With `stop_marks` (default false) the venue's mark and index stop at their last close before the
  halt (no liquidation can trigger inside it; the first bar after it is checked from there); with
  `stop_funding` (default false) no funding is settled inside the halt. Otherwise marks, funding and
  liquidation checks continue.
- `bankruptcy`: time, venue, side ("long" | "short": the side whose positions went bankrupt), qty > 0 (their
  size, base units), price > 0 (their bankruptcy price), loss > 0 (the deficit, quote, the venue must cover), and
  optionally adl_from >= 0. Other traders' liquidations, which a single-account backtest does not hold: the
  venue's insurance fund for the symbol pays `loss` while it can; the share it cannot cover is deleveraged
  (ADL) from profitable opposite positions at `price`, no fee, ranked by the venue's ADL score (Binance's
  LeveragePnl). Our perp is reached, up to that share of `qty`, if it is opposite, in profit at the last mark
  and its score is at least `adl_from` (how deep the queue went; 0: every profitable position). engine/venue_events.py.
- `default`: time, venue, price > 0, recovery in [0, 1], delay_h >= 0. The perp is closed at `price`, the
  spot valued at the venue's spot price then, and the whole balance written off; recovery x balance
  arrives `delay_h` later on the first other venue (in the dataset's venue order).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from basisbt.data.errors import DataError

KINDS = ("adl", "halt", "default", "bankruptcy")
_KEYS = {
    "adl": {"kind", "venue", "time", "fraction", "price"},
    "halt": {"kind", "venue", "start", "end", "stop_trading", "stop_withdrawals", "stop_marks", "stop_funding"},
    "default": {"kind", "venue", "time", "price", "recovery", "delay_h"},
    "bankruptcy": {"kind", "venue", "time", "side", "qty", "price", "loss", "adl_from"},
}
SIDES = ("long", "short")


@dataclass(frozen=True)
class VenueEvent:
    """One scheduled venue event; `time` is the ADL/default instant or the halt's start (UTC)."""

    kind: str                              # 'adl' | 'halt' | 'default'
    venue: str
    time: pd.Timestamp
    end: pd.Timestamp | None = None        # halt: when trading/withdrawals resume
    fraction: float = math.nan             # adl: share of the profitable position closed
    price: float = math.nan                # adl: the price it is closed at; default: the perp's close price
    recovery: float = math.nan             # default: share of the balance returned
    delay_h: float = 0.0                   # default: hours until the recovered part arrives
    stop_trading: bool = True              # halt
    stop_withdrawals: bool = True          # halt
    stop_marks: bool = False               # halt: the venue's mark and index stop (no liquidation inside it)
    stop_funding: bool = False             # halt: no funding settled inside it
    side: str = ""                         # bankruptcy: the side whose positions went bankrupt ('long' | 'short')
    qty: float = math.nan                  # bankruptcy: their size, base units
    loss: float = math.nan                 # bankruptcy: the deficit (quote) the venue must cover
    adl_from: float = 0.0                  # bankruptcy: ADL score down to which the queue is reached

    def describe(self) -> str:
        """One line for the run log and error messages."""
        if self.kind == "adl":
            return f"ADL {self.venue} {self.fraction:g} of the profitable position at {self.price:,.2f}"
        if self.kind == "bankruptcy":
            return (f"bankruptcy on {self.venue}: {self.side}s of {self.qty:g} base at {self.price:,.2f}, "
                    f"a deficit of {self.loss:,.2f}")
        if self.kind == "halt":
            what = " and ".join(w for w, on in (("trading", self.stop_trading), ("withdrawals", self.stop_withdrawals),
                                                 ("marks", self.stop_marks), ("funding", self.stop_funding))
                                if on) or "nothing"
            return f"halt {self.venue} ({what}) until {self.end.isoformat() if self.end is not None else '?'}"
        return (f"default {self.venue}: positions closed at {self.price:,.2f}, {self.recovery:g} of the balance "
                f"returned after {self.delay_h:g} h")


def _time(value: Any, what: str, fail: Any) -> pd.Timestamp:
    if isinstance(value, str):
        try:
            ts = pd.Timestamp(value)
        except ValueError:
            fail(f"{what} {value!r} is not a time")
    elif hasattr(value, "year"):                          # TOML datetimes arrive as datetime objects
        ts = pd.Timestamp(value)
    else:
        fail(f"{what} must be a time like \"2025-02-03T04:00:00Z\", not {value!r}")
    if ts.tzinfo is None:
        fail(f"{what} {value!r} has no time zone (write it in UTC, ending in Z)")
    return ts.tz_convert("UTC")


def _number(entry: dict, key: str, fail: Any, default: float | None = None) -> float:
    if key not in entry:
        if default is None:
            fail(f"needs {key}")
        return float(default)  # type: ignore[arg-type]
    v = entry[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        fail(f"{key} must be a finite number, not {v!r}")
    return float(v)


def parse_venue_event(entry: Any, k: int, venues: list[str] | None, file: str) -> VenueEvent:
    """One `[[venue_events]]` table -> VenueEvent; DataError naming the file and entry k (1-based) otherwise."""
    label = f"[[venue_events]] entry {k}"

    def fail(msg: str) -> None:
        raise DataError(f"{label}: {msg}"[:200], file=file)

    if not isinstance(entry, dict):
        fail("must be a table")
    kind = entry.get("kind")
    if kind not in KINDS:
        fail(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    label = f"[[venue_events]] entry {k} ({kind})"
    unknown = sorted(set(entry) - _KEYS[kind])
    if unknown:
        fail(f"unknown key {unknown[0]!r}; valid: {', '.join(sorted(_KEYS[kind]))}")
    venue = entry.get("venue")
    if not isinstance(venue, str) or not venue:
        fail("needs venue = \"NAME\"")
    if venues is not None and venue not in venues:
        fail(f"unknown venue {venue!r}; valid: {', '.join(venues)}")
    if kind == "halt":
        for key in ("start", "end"):
            if key not in entry:
                fail(f"needs {key}")
        start, end = _time(entry["start"], "start", fail), _time(entry["end"], "end", fail)
        if end <= start:
            fail(f"end {end.isoformat()} is not after start {start.isoformat()}")
        flags = {}
        for key in ("stop_trading", "stop_withdrawals", "stop_marks", "stop_funding"):
            v = entry.get(key, key in ("stop_trading", "stop_withdrawals"))
            if not isinstance(v, bool):
                fail(f"{key} must be true or false, not {v!r}")
            flags[key] = v
        return VenueEvent("halt", venue, start, end, **flags)
    if "time" not in entry:
        fail("needs time")
    t = _time(entry["time"], "time", fail)
    price = _number(entry, "price", fail)
    if price <= 0:
        fail(f"price must be > 0, not {price!r}")
    if kind == "bankruptcy":
        side = entry.get("side")
        if side not in SIDES:
            fail(f"side must be one of {', '.join(SIDES)} (the side that went bankrupt), not {side!r}")
        qty, loss = _number(entry, "qty", fail), _number(entry, "loss", fail)
        adl_from = _number(entry, "adl_from", fail, default=0.0)
        if qty <= 0 or loss <= 0:
            fail(f"qty and loss must be > 0, not {qty!r} and {loss!r}")
        if adl_from < 0:
            fail(f"adl_from must be >= 0, not {adl_from!r}")
        return VenueEvent("bankruptcy", venue, t, price=price, side=side, qty=qty, loss=loss, adl_from=adl_from)
    if kind == "adl":
        fraction = _number(entry, "fraction", fail)
        if not 0.0 < fraction <= 1.0:
            fail(f"fraction {fraction!r} outside (0, 1]")
        return VenueEvent("adl", venue, t, fraction=fraction, price=price)
    recovery = _number(entry, "recovery", fail)
    if not 0.0 <= recovery <= 1.0:
        fail(f"recovery {recovery!r} outside [0, 1]")
    delay = _number(entry, "delay_h", fail, default=0.0)
    if delay < 0:
        fail(f"delay_h must be >= 0, not {delay!r}")
    return VenueEvent("default", venue, t, price=price, recovery=recovery, delay_h=delay)


def parse_venue_events(entries: Any, venues: list[str] | None, file: str) -> tuple[VenueEvent, ...]:
    """Every `[[venue_events]]` entry, checked (see parse_venue_event), sorted by time; at most one default per venue."""
    if not isinstance(entries, list):
        raise DataError("venue_events must be an array of tables: [[venue_events]]", file=file)
    out = [parse_venue_event(e, k, venues, file) for k, e in enumerate(entries, 1)]
    seen: set[str] = set()
    for k, ev in enumerate(out, 1):
        if ev.kind == "default":
            if ev.venue in seen:
                raise DataError(f"[[venue_events]] entry {k} (default): {ev.venue} already defaults once", file=file)
            seen.add(ev.venue)
    return tuple(sorted(out, key=lambda e: e.time))


def check_events(events: tuple[VenueEvent, ...], venues: list[str], where: str) -> None:
    """Every event names a venue of the data (events built in Python, e.g. by a scenario)."""
    for k, ev in enumerate(events, 1):
        if ev.venue not in venues:
            raise DataError(f"[[venue_events]] entry {k} ({ev.kind}): unknown venue {ev.venue!r}; "
                            f"valid: {', '.join(venues)}", file=where)


def fingerprint_text(events: tuple[VenueEvent, ...]) -> str:
    """A stable text of the schedule for Dataset.fingerprint (only hashed when there are events)."""
    return "|".join(f"{e.kind},{e.venue},{e.time.value},{e.end.value if e.end is not None else ''},{e.fraction!r},"
                    f"{e.price!r},{e.recovery!r},{e.delay_h!r},{e.stop_trading},{e.stop_withdrawals}" + _more(e)
                    for e in events)


def _more(e: VenueEvent) -> str:
    """The fields added by issue 23, only where they differ from their defaults (older schedules hash as before)."""
    extra = []
    if e.stop_marks or e.stop_funding:
        extra.append(f"marks={e.stop_marks},funding={e.stop_funding}")
    if e.kind == "bankruptcy":
        extra.append(f"{e.side},{e.qty!r},{e.loss!r},{e.adl_from!r}")
    return "".join("," + x for x in extra)
