"""Run configuration: a frozen dataclass loaded from TOML or flags; unknown keys are errors."""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A config key or value we cannot use (the message names it and the valid choices)."""


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
    venue_overrides: dict[str, dict[str, float]] = field(default_factory=dict)  # e.g. {binance={taker_fee=0.0004}}
    strict: bool = False                   # refuse data with gaps instead of pricing them stale (not in config_id)

    def __post_init__(self) -> None:
        if self.fill not in ("open", "close"):
            raise ConfigError(f"fill must be 'open' or 'close', not {self.fill!r}")
        if self.initial_capital <= 0:
            raise ConfigError("initial_capital must be > 0")
        if self.slippage < 0 or self.slippage_impact < 0:
            raise ConfigError("slippage and slippage_impact must be >= 0")


def did_you_mean(word: str, choices: list[str]) -> str:
    """' (did you mean X?)' when a close match exists, else ''."""
    m = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {m[0]!r}?)" if m else ""


def coerce(value: Any, typ: Any, name: str) -> Any:
    """Turn a --set string (or TOML value) into the declared type of a field."""
    if isinstance(typ, str):
        typ = {"float": float, "int": int, "bool": bool, "str": str}.get(typ, str)
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            s = str(value).lower()
            if s in ("1", "true", "yes", "on"):
                return True
            if s in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if typ is float:
            return float(value)
        if typ is int:
            f = float(value)
            if f != int(f):
                raise ValueError(value)
            return int(f)
        if typ is str:
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected {typ.__name__}, got {value!r}") from None
    return value


def build_dataclass(cls: type, values: dict[str, Any], what: str) -> Any:
    """Instantiate a frozen dataclass from loose values: unknown keys and bad types are ConfigErrors."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in values.items():
        if k not in fields:
            raise ConfigError(f"unknown {what} {k!r}{did_you_mean(k, list(fields))}; valid: {', '.join(fields)}")
        kwargs[k] = v if fields[k].type in ("dict[str, dict[str, float]]",) else coerce(v, fields[k].type, k)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{what}: {e}") from None


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a run TOML: top-level run keys, [params] for the strategy, strategy/data names."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: {e}") from None


def config_id(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a run's configuration (first 16 hex digits)."""
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
