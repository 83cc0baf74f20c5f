"""Turn a `--data` argument into a Dataset: `scenario:NAME`, `cache[:SYMBOL]`, or a dataset TOML."""
from __future__ import annotations

from data.dataset import Dataset


class UnknownSource(ValueError):
    """A --data value that names nothing we can load (the message lists the valid forms)."""


def resolve_data(source: str, *, timeframe: str | None = None) -> Dataset:
    """Load the dataset a `--data` string names."""
    if source.startswith("scenario:"):
        from data.scenarios import load_scenario
        return load_scenario(source.split(":", 1)[1], timeframe=timeframe or "1h")
    raise UnknownSource(f"unknown data source {source!r}; use scenario:NAME, cache[:SYMBOL] or a dataset .toml")
