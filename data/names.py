"""Names that become parts of a path (venue, protocol, symbol, asset, scenario, timeframe) are checked here.

One helper, used wherever such a name enters: CLI flags, CSV columns, dataset TOML keys, run
configs, the cache's `Key`, venue spec lookup and scenario lookup. A name is 1-64 characters
from [A-Za-z0-9._/-] (symbols may also hold ':' as in 'ETH/USDT:USDT'), has no '..', does not
start with '/', '.' or '-', and (unless it is a symbol) holds no '/': so `../../x` can never
write outside the cache or read a file outside `data/venues/`.
"""
from __future__ import annotations

import re

from basisbt.data.errors import DataError

MAX_LEN = 64
_NAME = re.compile(r"[A-Za-z0-9._-]+")
_SYMBOL = re.compile(r"[A-Za-z0-9._/:-]+")


class UnsafeName(DataError):
    """A venue/protocol/symbol/scenario name that cannot safely become part of a path."""

    def _message(self) -> str:
        msg = f"{self.file}: {self.rule}" if self.file else self.rule
        return f"{msg} ({self.detail})" if self.detail else msg


def check_name(name: str, what: str = "name", *, symbol: bool = False) -> str:
    """Return `name` unchanged if it is safe to put in a path; else raise UnsafeName saying the rule."""
    if not isinstance(name, str):
        raise UnsafeName(f"{what} must be a string, not {type(name).__name__}")
    shown = repr(name[:MAX_LEN]) + ("…" if len(name) > MAX_LEN else "")
    allowed = "[A-Za-z0-9._/:-]" if symbol else "[A-Za-z0-9._-]"
    pattern = _SYMBOL if symbol else _NAME
    if not name or len(name) > MAX_LEN:
        raise UnsafeName(f"{what} {shown}: must be 1-{MAX_LEN} characters")
    if not pattern.fullmatch(name):
        raise UnsafeName(f"{what} {shown}: only {allowed} are allowed")
    if ".." in name or name[0] in "/.-" or name.endswith("/"):
        raise UnsafeName(f"{what} {shown}: no '..', and no leading '/', '.' or '-' (names become paths)")
    return name


def check_symbol(symbol: str, what: str = "symbol") -> str:
    """check_name for a market symbol ('ETH/USDT', 'ETH/USDT:USDT', 'USDT')."""
    return check_name(symbol, what, symbol=True)


def slug(text: str) -> str:
    """A label made safe for a file or directory name: runs of other characters become one '-'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")
