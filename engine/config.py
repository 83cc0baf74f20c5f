"""Run configuration: a frozen dataclass loaded from TOML or flags; unknown keys are errors."""
from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from basisbt.data.checks import build_dataclass, check_range, coerce, did_you_mean, range_text
from basisbt.data.errors import ConfigError
from basisbt.engine.guard import DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S

# the input checks live with the data floor (data/checks.py); the engine's config reads them from there
__all__ = ["ConfigError", "RunConfig", "build_dataclass", "check_range", "check_venue_override", "coerce",
           "config_id", "did_you_mean", "load_toml", "range_text"]


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything about a run except the strategy's own parameters and the data."""

    initial_capital: float = 1_000_000.0   # quote units, split over venues by the strategy
    fill: str = "open"                     # 'open' = next bar's open (default), 'close' = this bar's close
    slippage: float = 0.0001               # fixed slippage, fraction of price (1 bp)
    slippage_impact: float = 0.0           # volume model: + impact * sqrt(qty / bar volume)
    decide: str = ""                       # override the strategy's cadence: 'bar', 'funding' or an int N
    start: str = ""                        # ISO date; empty = start of data
    end: str = ""                          # ISO date (exclusive); empty = end of data
    venue_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # e.g. {binance={taker_fee=0.0004}}
    strict: bool = False                   # refuse data with gaps instead of pricing them stale (not in config_id)
    timeout: float = DEFAULT_TIMEOUT_S     # seconds one strategy call may run (engine/guard.py; not in config_id)
    oracle: dict[str, str] = field(default_factory=dict)   # venue -> "auto" | "imported" | "basket" | a spot venue:
    #                                        what a venue paying funding on an oracle (Hyperliquid) uses (data/oracle.py)

    def __post_init__(self) -> None:
        if self.fill not in ("open", "close"):
            raise ConfigError(f"fill must be 'open' or 'close', not {self.fill!r}")
        check_range("initial_capital", self.initial_capital, gt=0.0, le=1e15)
        check_range("slippage", self.slippage, ge=0.0, lt=1.0)
        check_range("slippage_impact", self.slippage_impact, ge=0.0, le=100.0)
        check_range("timeout", self.timeout, gt=0.0, le=MAX_TIMEOUT_S)
        d = str(self.decide)
        if d not in ("", "bar", "funding") and not (d.isdigit() and int(d) > 0):
            raise ConfigError(f"decide must be 'bar', 'funding' or a positive number of bars, not {self.decide!r}")
        if not isinstance(self.venue_overrides, dict):
            raise ConfigError("venue_overrides must be a table of venue -> {key = value}")
        for venue, kv in self.venue_overrides.items():
            check_venue_override(venue, kv)
        if not isinstance(self.oracle, dict):
            raise ConfigError('oracle must be a table of venue -> "auto", "imported", "basket" or a venue name')
        for venue, src in self.oracle.items():
            from basisbt.data.names import check_name
            try:
                check_name(str(venue), "oracle venue")
                check_name(src, f"oracle.{venue}")
            except ValueError as e:
                raise ConfigError(str(e)) from None


def check_venue_override(venue: Any, kv: Any) -> None:
    """ConfigError unless `venue` is a safe name and every override key is one the venue schema lets a run set
    (data/venue_schema.py: overridable fields, margin_mode), of the right type and in its range. Whether the
    venue uses the key (liquidation_fee on a venue that liquidates at bankruptcy) is checked with its file, at
    run set-up (engine/venue_setup.run_venues)."""
    from basisbt.data.names import check_name
    from basisbt.data.venue_schema import VenueSpecError, check_override
    try:
        check_name(str(venue), "venue_overrides venue")
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if not isinstance(kv, dict):
        raise ConfigError(f"venue_overrides.{venue}: expected a table of key = value, got {kv!r}"[:200])
    try:
        for key, value in kv.items():
            check_override(str(venue), key, value)
    except VenueSpecError as e:
        raise ConfigError(str(e)) from None
    if "maker_fee" in kv and "maker_rebate" in kv or "spot_maker_fee" in kv and "spot_maker_rebate" in kv:
        raise ConfigError(f"venue_overrides.{venue}: give a maker fee or a maker rebate, not both")


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a run TOML: top-level run keys, [params] for the strategy, strategy/data names."""
    from basisbt.data.safe_io import read_small_text
    p = Path(path)
    text = read_small_text(p, "config file", error=ConfigError)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: invalid TOML ({e})") from None
    for key in ("strategy", "data"):
        if key in doc and not isinstance(doc[key], str):
            raise ConfigError(f"{p}: {key} must be a string, not {type(doc[key]).__name__}")
    for key in ("params", "venue_overrides"):
        if key in doc and not isinstance(doc[key], dict):
            raise ConfigError(f"{p}: [{key}] must be a table, not {type(doc[key]).__name__}")
    return doc


def config_id(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a run's configuration (first 16 hex digits)."""
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
