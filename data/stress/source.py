"""`stress:SEED:PATH[:key=value,...]`: one generated stress path as a data source any front door takes.

`basisbt stress` runs path k of seed s as `stress:s:k` followed by the model parameters it was given
(`basisbt stress -m spell_days=30 --days 90` -> `stress:0:17:days=90,spell_days=30`), so a path the summary
points at can be run again alone, with its full report: `basisbt run --data stress:0:17:days=90,spell_days=30`.
`history=SOURCE` (funding bootstrapped from a data source, data/stress/bootstrap.py) comes last, since a source
may hold commas (`history=cache:ETH/USDT,BTC/USDT`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from basisbt.data.errors import ConfigError

if TYPE_CHECKING:
    from basisbt.data.dataset import Dataset
    from basisbt.data.stress.bootstrap import FundingHistory
    from basisbt.data.stress.model import StressModel

PREFIX = "stress:"
FORM = "stress:SEED:PATH[:key=value,...] (model keys as `basisbt stress -m`; history=SOURCE last)"
_HISTORY: dict[str, FundingHistory] = {}           # per process: a bootstrap history is read once


def stress_source(seed: int, path: int, overrides: dict[str, str] | None = None, history: str | None = None) -> str:
    """The source string of path `path` of seed `seed` with model `overrides` (as given, in their order)."""
    items = [f"{k}={v}" for k, v in (overrides or {}).items()] + ([f"history={history}"] if history else [])
    return f"{PREFIX}{seed}:{path}" + (":" + ",".join(items) if items else "")


def parse(source: str) -> tuple[int, int, StressModel, str | None]:
    """(seed, path, model, history source or None) of a `stress:` source; ConfigError naming the form."""
    from basisbt.data.stress.model import StressModel
    parts = source[len(PREFIX):].split(":", 2)
    opts = parts[2] if len(parts) == 3 else ""
    try:
        seed, path = int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        raise ConfigError(f"{{data}} {source[:80]!r}: expected {FORM}", key="data") from None
    if seed < 0 or path < 0:
        raise ConfigError(f"{{data}} {source[:80]!r}: seed and path are 0 or more", key="data")
    history = None
    if "history=" in opts:
        opts, _, history = opts.partition("history=")
        opts = opts.rstrip(",")
        if not history:
            raise ConfigError(f"{{data}} {source[:80]!r}: history= names no data source", key="data")
    overrides: dict[str, str] = {}
    for item in filter(None, opts.split(",")):
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            raise ConfigError(f"{{data}} {source[:80]!r}: {item!r} is not key=value; expected {FORM}", key="data")
        if k.strip() in overrides:          # days=30,days=40: which one did the user mean?
            raise ConfigError(f"{{data}} {source[:80]!r}: {k.strip()} given twice", key="data")
        overrides[k.strip()] = v.strip()
    return seed, path, StressModel.with_overrides(overrides, option=f"{source[:60]}:"), history


def history_of(source: str | None, load: Callable[[str], Dataset]) -> FundingHistory | None:
    """The FundingHistory of a data source (`load` reads it: data/sources.resolve_data), once per process."""
    if source is None:
        return None
    if source not in _HISTORY:
        from basisbt.data.stress.bootstrap import FundingHistory
        _HISTORY[source] = FundingHistory.from_dataset(load(source))
    return _HISTORY[source]


def load_stress(source: str, load: Callable[[str], Dataset]) -> Dataset:
    """The Dataset of a `stress:` source (data/stress/model.generate_path); `load` reads a history source."""
    from basisbt.data.stress.model import generate_path
    seed, path, model, history = parse(source)
    return generate_path(model, seed, path, history_of(history, load))
