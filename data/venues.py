"""Venue specs: fees, funding interval, margin tiers, haircuts, transfers, loaded from data/venues/*.toml.

A venue file holds one or more `[[spec]]` blocks, each with an `effective_from` date; the block
in force at a time is the latest one that started on or before it (tiers and intervals change).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

VENUE_DIR = Path(__file__).with_name("venues")


class VenueSpecError(ValueError):
    """A venue file that is missing, malformed, or breaks a rule (names the file and the rule)."""


@dataclass(frozen=True)
class TierTable:
    """Maintenance-margin tiers for one perp: tier k covers notional in [floor[k], floor[k+1])."""

    floor: np.ndarray   # quote notional where the tier starts (floor[0] == 0)
    rate: np.ndarray    # maintenance margin rate (fraction)
    amount: np.ndarray  # maintenance amount (quote): mm = notional * rate - amount
    max_leverage: np.ndarray

    def maintenance(self, notional: float) -> float:
        k = int(np.searchsorted(self.floor, abs(notional), side="right") - 1)
        return abs(notional) * float(self.rate[k]) - float(self.amount[k])


@dataclass(frozen=True)
class VenueSpec:
    name: str
    effective_from: pd.Timestamp
    maker_fee: float              # perp, fraction of notional
    taker_fee: float
    spot_maker_fee: float
    spot_taker_fee: float
    funding_interval_h: float     # default interval; data may override per settlement
    funding_cap: dict[str, float]  # |rate| cap per interval (fraction) by base asset; "*" = any other base
    liquidation_fee: float        # fraction of liquidated notional (a close at the liquidation price)
    withdrawal_fee: float         # quote units per transfer out
    withdrawal_delay_s: float     # seconds money is in transit
    # the venue's liquidation model (docs/architecture.md §4); defaults are Binance's
    maintenance: str = "deduction"            # "deduction": rate x notional - running-sum amount; "whole_position"
    trigger_fee: float = 0.0                  # added to the tier rate in the breach test (OKX: taker fee)
    close_fee_in_maintenance: bool = False    # maintenance includes the taker fee to close at bankruptcy (Bybit)
    liquidation_price: str = "liquidation"    # full close "liquidation" (+ liquidation_fee) or "bankruptcy"
    partial: str = "none"                     # "none" or "step": first step down the tiers, paying the taker fee
    partial_from_tier: int = 2                # 1-based tier from which a breach steps down (OKX 3)
    partial_tiers: int = 1                    # tiers stepped down at a time (OKX 2)
    tier_unit: str = "notional"               # tier floors in quote "notional" or "base" units (OKX contracts)
    cross_liquidation: str = "all"            # a cross account with several perps is liquidated whole
    haircuts: dict[str, float] = field(default_factory=dict)   # asset -> collateral haircut
    # -- issue 23 (kernel money path), to move into the typed venue schema: see _money_fields ----------------
    insurance_fund: dict[str, float] = field(default_factory=dict)   # base -> fund size (quote) at effective_from
    liq_price_tick: dict[str, float] = field(default_factory=dict)   # base -> tick of the REPORTED liquidation price
    tiers: dict[str, TierTable] = field(default_factory=dict)  # base asset -> tiers
    sources: dict[str, str] = field(default_factory=dict)

    def cap_for(self, base: str | None = None) -> float:
        """|funding rate| cap per interval for `base` (caps are per symbol); None: the widest of the block."""
        if base is not None and base in self.funding_cap:
            return self.funding_cap[base]
        if base is not None and "*" in self.funding_cap:
            return self.funding_cap["*"]
        return max(self.funding_cap.values())

    @property
    def partial_liquidation(self) -> bool:
        """True when a breach first steps the position down the tiers (spec `partial = "step"`)."""
        return self.partial == "step"

    def fund_for(self, base: str) -> float:
        """The venue's insurance fund for `base` at this block's date (quote); "*" = any other base."""
        return self.insurance_fund.get(base, self.insurance_fund.get("*", 0.0))

    def tick_for(self, base: str) -> float:
        """Tick the venue rounds its reported liquidation price to for `base` (0: it reports the exact root)."""
        return self.liq_price_tick.get(base, self.liq_price_tick.get("*", 0.0))

    def tier_table(self, base: str) -> TierTable:
        try:
            return self.tiers[base]
        except KeyError:
            raise VenueSpecError(f"{self.name}: no margin tiers for {base}; have {sorted(self.tiers)}") from None


def available_venues() -> list[str]:
    return sorted(p.stem for p in VENUE_DIR.glob("*.toml"))


def _tier_table(path: Path, base: str, rows: list[dict], whole_position: bool = False) -> TierTable:
    try:
        floor = np.array([float(r["floor"]) for r in rows])
        rate = np.array([float(r["rate"]) for r in rows])
        amount = np.array([float(r.get("amount", 0.0)) if whole_position else float(r["amount"]) for r in rows])
        lev = np.array([float(r.get("max_leverage", 1.0 / r["rate"] / 2)) for r in rows])
    except KeyError as e:
        raise VenueSpecError(f"{path}: tier of {base} lacks key {e}") from None
    if floor[0] != 0 or np.any(np.diff(floor) <= 0) or np.any(np.diff(rate) < 0):
        raise VenueSpecError(f"{path}: tiers of {base} must start at 0 with rising floors and rates")
    if whole_position and np.any(amount != 0):
        raise VenueSpecError(f"{path}: tiers of {base}: maintenance = \"whole_position\" applies the rate to the "
                             f"whole position, so `amount` must be 0 or left out")
    return TierTable(floor, rate, amount, lev)


def _funding_cap(path: Path, value: Any) -> dict[str, float]:
    """`funding_cap = 0.003` (every symbol) or `funding_cap = { ETH = 0.00375, BTC = 0.003 }` (per base asset)."""
    caps = dict(value) if isinstance(value, dict) else {"*": value}
    try:
        out = {str(k): float(v) for k, v in caps.items()}
    except (TypeError, ValueError):
        raise VenueSpecError(f"{path}: funding_cap must be a number or a table of BASE = number, got {value!r}") from None
    if not out or not all(0.0 < v < 1.0 for v in out.values()):
        raise VenueSpecError(f"{path}: funding_cap values must be fractions in (0, 1), got {value!r}")
    return out


@lru_cache(maxsize=None)
def _load_file(path: Path) -> tuple[VenueSpec, ...]:
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise VenueSpecError(f"{path}: {e}") from None
    specs = []
    for block in doc.get("spec", []):
        try:
            model = _liquidation_model(path, block)
            fund, tick = _money_fields(path, doc, block)
            spec = VenueSpec(
                name=doc["name"],
                effective_from=pd.Timestamp(block["effective_from"], tz="UTC"),
                maker_fee=float(block["maker_fee"]), taker_fee=float(block["taker_fee"]),
                spot_maker_fee=float(block["spot_maker_fee"]), spot_taker_fee=float(block["spot_taker_fee"]),
                funding_interval_h=float(block["funding_interval_h"]),
                funding_cap=_funding_cap(path, block["funding_cap"]),
                liquidation_fee=float(block["liquidation_fee"]),
                withdrawal_fee=float(block["withdrawal_fee"]),
                withdrawal_delay_s=float(block["withdrawal_delay_min"]) * 60.0,
                **model,
                haircuts={k: float(v) for k, v in block.get("haircuts", {}).items()},
                tiers={b: _tier_table(path, b, rows, model["maintenance"] == "whole_position")
                       for b, rows in block.get("tiers", {}).items()},
                sources=dict(block.get("sources", {})),
                insurance_fund=fund, liq_price_tick=tick,
            )
        except KeyError as e:
            raise VenueSpecError(f"{path}: spec block lacks key {e}") from None
        specs.append(spec)
    if not specs:
        raise VenueSpecError(f"{path}: no [[spec]] blocks")
    return tuple(sorted(specs, key=lambda s: s.effective_from))


# -- issue 23 (kernel money path): the spec fields the engine's money path added; the venue-schema work moves
# them into the typed schema. Both are per base asset, like funding_cap.
#   [[insurance_fund]] tables at the top of a venue file: effective_from + BASE = size (quote), dated like the
#     spec blocks (the table in force at a block's date is its `insurance_fund`); required in every venue file;
#   liq_price_tick = { ETH = 0.01 } in a spec block: the tick the venue rounds its REPORTED liquidation price
#     to (OKX); optional, absent = the exact root.
def _per_base(path: Path, key: str, value: Any, lo: float, hi: float) -> dict[str, float]:
    """`{ BASE = number }` (or one number for every base) with every value in [lo, hi)."""
    table = dict(value) if isinstance(value, dict) else {"*": value}
    out: dict[str, float] = {}
    for k, v in table.items():
        if k == "effective_from":
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= float(v) < hi:
            raise VenueSpecError(f"{path}: {key}.{k} = {v!r}; must be a number in [{lo:g}, {hi:g})")
        out[str(k)] = float(v)
    return out


def _money_fields(path: Path, doc: dict, block: dict) -> tuple[dict[str, float], dict[str, float]]:
    """(insurance_fund: the file's [[insurance_fund]] table in force at the block's date, liq_price_tick)."""
    funds = doc.get("insurance_fund")
    if not isinstance(funds, list) or not funds:
        raise VenueSpecError(f"{path}: needs [[insurance_fund]] tables (effective_from and BASE = size in quote)")
    if any(not isinstance(f, dict) or "effective_from" not in f for f in funds):
        raise VenueSpecError(f"{path}: every [[insurance_fund]] table needs effective_from")
    at = pd.Timestamp(block["effective_from"], tz="UTC")
    dated = sorted(((pd.Timestamp(f["effective_from"], tz="UTC"), f) for f in funds), key=lambda x: x[0])
    in_force = [f for t, f in dated if t <= at]
    if not in_force:
        raise VenueSpecError(f"{path}: no [[insurance_fund]] table in force at {at.date()} (the earliest is "
                             f"{dated[0][0].date()})")
    tick = _per_base(path, "liq_price_tick", block["liq_price_tick"], 0.0, 1e6) if "liq_price_tick" in block else {}
    return _per_base(path, "insurance_fund", in_force[-1], 0.0, 1e15), tick


CHOICES = {"maintenance": ("deduction", "whole_position"), "liquidation_price": ("liquidation", "bankruptcy"),
           "partial": ("none", "step"), "tier_unit": ("notional", "base"),
           # several perps in one cross account: "all" closes every perp of the account at once (the only rule
           # modelled; no venue publishes an order among positions that we have on record, docs/architecture.md §4)
           "cross_liquidation": ("all",)}


def _liquidation_model(path: Path, block: dict) -> dict:
    """The liquidation-model fields of a spec block, checked (docs/architecture.md §4).

    `trigger_fee` may be a number or "taker" (the block's taker fee). A block without `partial` may
    give the older boolean `partial_liquidation`: true is partial = "step" from tier 2, one tier at a time.
    """
    where = f"{path} (block effective_from {block.get('effective_from')!r})"
    out: dict = {}
    for key, allowed in CHOICES.items():
        value = block.get(key, allowed[0])
        if key == "partial" and "partial" not in block:
            value = "step" if block.get("partial_liquidation", False) is True else "none"
        if value not in allowed:
            raise VenueSpecError(f"{where}: {key} = {value!r}; valid: {', '.join(map(repr, allowed))}")
        out[key] = value
    trig = block.get("trigger_fee", 0.0)
    if trig == "taker":
        trig = block["taker_fee"]
    close = block.get("close_fee_in_maintenance", False)
    if isinstance(trig, bool) or not isinstance(trig, (int, float)) or not 0 <= trig < 0.01:
        raise VenueSpecError(f"{where}: trigger_fee = {trig!r}; give a fraction in [0, 0.01) or \"taker\"")
    if not isinstance(close, bool):
        raise VenueSpecError(f"{where}: close_fee_in_maintenance = {close!r}; give true or false")
    start, step = block.get("partial_from_tier", 2), block.get("partial_tiers", 1)
    if isinstance(start, bool) or isinstance(step, bool) or not isinstance(start, int) or not isinstance(step, int) \
            or start < 2 or step < 1:
        raise VenueSpecError(f"{where}: partial_from_tier = {start!r}, partial_tiers = {step!r}; give whole "
                             f"numbers, partial_from_tier >= 2 (tier 1 has no tier below) and partial_tiers >= 1")
    out.update(trigger_fee=float(trig), close_fee_in_maintenance=close, partial_from_tier=start, partial_tiers=step)
    return out


def all_blocks(name: str, directory: Path | None = None) -> tuple[VenueSpec, ...]:
    """Every dated spec block of venue `name`, oldest first (a run spanning several uses each in turn)."""
    load_venue(name, directory=directory)              # the name checks and the unknown-venue message
    return _load_file((directory or VENUE_DIR) / f"{name}.toml")


def load_venue(name: str, at: pd.Timestamp | str | None = None, directory: Path | None = None) -> VenueSpec:
    """The spec of venue `name` in force at time `at` (latest block started on or before it)."""
    from basisbt.data.names import UnsafeName, check_name
    try:
        check_name(name, "venue")
    except UnsafeName as e:
        raise VenueSpecError(f"{e}; known: {', '.join(available_venues())}") from None
    path = (directory or VENUE_DIR) / f"{name}.toml"
    if not path.exists():
        raise VenueSpecError(f"unknown venue {name!r}; known: {', '.join(available_venues())}")
    specs = _load_file(path)
    if at is None:
        return specs[-1]
    when = pd.Timestamp(at)
    when = when.tz_localize("UTC") if when.tzinfo is None else when
    live = [s for s in specs if s.effective_from <= when]
    return live[-1] if live else specs[0]


DEFAULT_FUNDING_CAP = 0.0075   # venues without a spec file: the widest cap of any spec here (OKX ETH +-0.75 %)


def spec_values(venue: str, ts_ns: np.ndarray, value: Callable[[VenueSpec], float],
                directory: Path | None = None) -> np.ndarray | None:
    """value(block) of the venue's spec block in force at each time (the earliest block before the first);
    None for a venue without a spec file."""
    path = (directory or VENUE_DIR) / f"{venue}.toml"
    if not path.exists():
        return None
    specs = _load_file(path)
    starts = np.array([s.effective_from.value for s in specs], dtype=np.int64)
    k = np.clip(np.searchsorted(starts, np.asarray(ts_ns, dtype=np.int64), side="right") - 1, 0, len(specs) - 1)
    return np.array([value(s) for s in specs], dtype=np.float64)[k]


def funding_caps(venue: str, ts_ns: np.ndarray, base: str | None = None,
                 directory: Path | None = None) -> tuple[np.ndarray, str]:
    """|rate| cap per settlement for `base` from the venue's spec block in force at each time, and where it came from.

    Caps are per symbol and dated (Binance ETH 0.375 % until 2024-02, BTC 0.3 %); without `base` the widest
    cap of the block. A venue without a spec file gets DEFAULT_FUNDING_CAP. Importers use this to refuse
    rates a venue cannot print (a percent read as a fraction is 100x too large).
    """
    caps = spec_values(venue, ts_ns, lambda s: s.cap_for(base), directory)
    if caps is None:
        return (np.full(np.shape(ts_ns), DEFAULT_FUNDING_CAP),
                f"default cap (no spec file for venue {venue!r})")
    return caps, f"data/venues/{venue}.toml"
