"""Loose input values (flags, TOML, keyword arguments) checked against declared types and ranges: one place for
the rules every front door applies, so a bad value reads the same wherever it came in.

A failure is a ConfigError naming the key, the value and what is valid (a close match for a misspelt key).
"""
from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Sequence
from typing import Any

from basisbt.data.errors import ConfigError


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """' (did you mean X?)' when a close match exists, else ''."""
    m = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {m[0]!r}?)" if m else ""


def range_text(name: str, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
               lt: float | None = None) -> str:
    """The valid range as a reader writes it: '0 < leverage <= 125'."""
    lo = f"{ge:g} <= " if ge is not None else (f"{gt:g} < " if gt is not None else "")
    hi = f" <= {le:g}" if le is not None else (f" < {lt:g}" if lt is not None else "")
    return f"{lo}{name}{hi}" if lo or hi else f"{name} finite"


def in_range(value: float, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
             lt: float | None = None) -> bool:
    """True when the number is finite and inside the bounds given (NaN never is)."""
    return math.isfinite(value) and (ge is None or value >= ge) and (gt is None or value > gt) and \
        (le is None or value <= le) and (lt is None or value < lt)


def check_range(name: str, value: Any, *, ge: float | None = None, gt: float | None = None,
                le: float | None = None, lt: float | None = None) -> None:
    """ConfigError naming the valid range unless value is finite and inside it (NaN is never inside)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if not in_range(value, ge=ge, gt=gt, le=le, lt=lt):
        raise ConfigError(f"{name} = {value!r} is out of range; valid: {range_text(name, ge=ge, gt=gt, le=le, lt=lt)}")


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
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if typ is int:
            f = float(value)
            if f != int(f):
                raise ValueError(value)
            return int(f)
        if typ is str:
            return str(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name}: expected {typ.__name__}, got {value!r}") from None
    return value


def build_dataclass(cls: type, values: dict[str, Any], what: str) -> Any:
    """Instantiate a frozen dataclass from loose values: unknown keys and bad types are ConfigErrors."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in values.items():
        if k not in fields:
            raise ConfigError(f"unknown {what} {k!r}{did_you_mean(k, list(fields))}; valid: {', '.join(fields)}")
        kwargs[k] = v if str(fields[k].type).startswith("dict[") else coerce(v, fields[k].type, k)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{what}: {e}") from None
