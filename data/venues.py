"""Venues: the dated spec files a run reads (fees, funding, margin tiers, collateral, transfers) and where they live.

A venue file holds one or more `[[spec]]` blocks, each with an `effective_from` date; the block in force at a
time is the latest one that started on or before it. Every file goes through the one schema
(data/venue_schema.py): unknown keys, wrong types and fields that would do nothing are refused, naming the
file and the key.

Venues are inputs of a run. A `VenueSet` is where a run finds them: `Venue` objects given in code first (a
notebook's `bb.venue("binance").replace(taker_fee=0.0004)`), then the directories given (`--venues-dir`),
then those of `BASISBT_VENUES` (os.pathsep-separated), then the built-in files in data/venues/. A venue found
earlier shadows one of the same name later. A `Venue`'s `fingerprint` hashes what it says (its checked values,
not its comments or sources), so a changed file changes the identity of every run that used the blocks it
changed (engine/runner.py: config_id and `venue_fingerprint`).
"""
from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from basisbt.data.venue_schema import (
    SPEC_RULES,
    TierTable,
    VenueSpec,
    VenueSpecError,
    check_value,
    did_you_mean,
    identity_values,
    override_changes,
    parse_block,
    parse_file,
    to_raw,
)

__all__ = ["BUILTIN_DIR", "ENV", "TierTable", "Venue", "VenueSet", "VenueSpec", "VenueSpecError", "all_blocks",
           "available_venues", "builtin_venue", "funding_caps", "funding_caps_exact", "load_venue", "spec_values", "venue_set"]

BUILTIN_DIR = Path(__file__).with_name("venues")
ENV = "BASISBT_VENUES"


@dataclass(frozen=True)
class Venue:
    """One venue: its dated spec blocks (oldest first) and where they came from."""

    name: str
    blocks: tuple[VenueSpec, ...]
    source: str                          # the file, or what built it in code

    @property
    def quote(self) -> str:
        return self.blocks[0].quote

    def at(self, when: pd.Timestamp | str | None = None) -> VenueSpec:
        """The block in force at `when` (the latest started on or before it; the first before the first; the
        latest for None). A time without a zone is UTC."""
        if when is None:
            return self.blocks[-1]
        t = pd.Timestamp(when)
        t = t.tz_localize("UTC") if t.tzinfo is None else t
        live = [s for s in self.blocks if s.effective_from <= t]
        return live[-1] if live else self.blocks[0]

    def in_force(self, t0_ns: int, t1_ns: int) -> tuple[VenueSpec, ...]:
        """The blocks in force over [t0, t1]: the one at t0 and every one starting after it, up to t1."""
        first = self.at(pd.Timestamp(int(t0_ns), unit="ns", tz="UTC"))
        return tuple(s for s in self.blocks if s is first or t0_ns < s.effective_from.value <= t1_ns)

    def replace(self, **changes: Any) -> Venue:
        """A copy with `changes` applied to every block and checked by the schema again (a key set to None is
        removed). Values derived from another field follow it: replace(taker_fee=x) also moves
        trigger_fee = "taker" (OKX) and the fee to close in maintenance (Bybit). `name` and `quote` rename the
        venue or change its quote."""
        file_values = {"name": self.name, "quote": self.quote}
        for key in ("name", "quote"):
            if key in changes:
                file_values[key] = changes.pop(key)
        where = f"{self.name}.replace"
        for key in ("name", "quote"):
            check_value(SPEC_RULES[key], file_values[key], where, key)
        blocks = []
        for s in self.blocks:
            raw = {k: v for k, v in {**to_raw(s), **changes}.items() if v is not None}
            blocks.append(parse_block(raw, f"{where} (block {s.effective_from.date()})", file_values))
        return Venue(file_values["name"], tuple(blocks), f"{self.source} + replace({_args(changes)})")

    def with_overrides(self, kv: dict[str, Any]) -> Venue:
        """This venue with a run's `venue_overrides.<venue>` table applied (docs/api.md): overridable fields,
        margin_mode presets, collateral ratios merged into the file's."""
        if not kv:
            return self
        if kv.get("margin_mode") == "portfolio" and not all(s.portfolio_margin for s in self.blocks):
            raise VenueSpecError(f"venue_overrides.{self.name}.margin_mode = 'portfolio': {self.source} says "
                                 f"portfolio_margin = false (its portfolio margin is not Binance's preset and is not "
                                 f"modelled); valid: 'standard'")
        blocks = [parse_block({**to_raw(s), **override_changes(self.name, dict(kv), dict(s.collateral))},
                              f"venue_overrides.{self.name} (block {s.effective_from.date()})",
                              {"name": self.name, "quote": self.quote})
                  for s in self.blocks]
        return Venue(self.name, tuple(blocks), f"{self.source} + venue_overrides")

    def fingerprint(self, t0_ns: int | None = None, t1_ns: int | None = None) -> str:
        """sha256 (16 hex digits) of what the venue says over [t0, t1] (all blocks without a span): name, quote
        and every checked value of the blocks in force, sources left out (they do not change a run), and so are
        fields added later while at their default (venue_schema.identity_values)."""
        memo = self.__dict__.setdefault("_fingerprints", {})     # frozen, but a cache is not state
        if (t0_ns, t1_ns) not in memo:
            blocks = self.blocks if t0_ns is None or t1_ns is None else self.in_force(t0_ns, t1_ns)
            doc = {"name": self.name, "quote": self.quote,
                   "blocks": [identity_values(s) for s in blocks]}
            blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=repr)
            memo[(t0_ns, t1_ns)] = hashlib.sha256(blob.encode()).hexdigest()[:16]
        return memo[(t0_ns, t1_ns)]


def _args(changes: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in changes.items())[:120]


_PARSED: dict[tuple[str, str], Venue] = {}


def _read(path: Path) -> Venue:
    """The venue file at `path`, checked (parsed once per content: an edited file is read again)."""
    shown = f"data/venues/{path.name}" if path.parent == BUILTIN_DIR else str(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise VenueSpecError(f"{shown}: {e.strerror or e}") from None
    key = (shown, hashlib.sha256(data).hexdigest())
    venue = _PARSED.get(key)
    if venue is None:
        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise VenueSpecError(f"{shown}: not a TOML file ({e})") from None
        blocks = parse_file(doc, shown, stem=path.stem)
        venue = _PARSED[key] = Venue(blocks[0].name, blocks, shown)
    return venue


VenueLike = Venue | str | os.PathLike


class VenueSet:
    """Where a run finds its venues: Venue objects, then directories (or single .toml files) in the order given,
    then `$BASISBT_VENUES` (with `env`), then the built-in files (with `builtin`)."""

    def __init__(self, items: Iterable[VenueLike] = (), *, env: bool = True, builtin: bool = True) -> None:
        self._venues: dict[str, Venue] = {}
        self._paths: list[Path] = []
        for it in items:
            if isinstance(it, Venue):
                self._venues.setdefault(it.name, it)
            else:
                self._paths.append(_checked_path(Path(it), "venue directory"))
        if env:
            for d in filter(None, os.environ.get(ENV, "").split(os.pathsep)):
                self._paths.append(_checked_path(Path(d), f"${ENV} entry"))
        if builtin:
            self._paths.append(BUILTIN_DIR)

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(self._paths)

    def _file(self, name: str) -> Path | None:
        for p in self._paths:
            f = p if p.suffix == ".toml" else p / f"{name}.toml"
            if f.stem == name and f.is_file():
                return f
        return None

    def names(self) -> list[str]:
        """Every venue this set can give, sorted."""
        found = set(self._venues)
        for p in self._paths:
            found |= {p.stem} if p.suffix == ".toml" else {f.stem for f in p.glob("*.toml")}
        return sorted(found)

    def has(self, name: str) -> bool:
        return name in self._venues or self._file(name) is not None

    def get(self, name: str) -> Venue:
        """The venue `name` (VenueSpecError naming the known ones and where they were looked for)."""
        from basisbt.data.names import UnsafeName, check_name
        if name in self._venues:
            return self._venues[name]
        try:
            check_name(name, "venue")
        except UnsafeName as e:
            raise VenueSpecError(f"{e}; known: {', '.join(self.names())}") from None
        f = self._file(name)
        if f is None:
            raise VenueSpecError(f"unknown venue {name!r}{did_you_mean(name, self.names())}; known: "
                                 f"{', '.join(self.names())} (searched {self.describe()}); a venue of your own: its "
                                 "file in a directory given as {venues}, or listed in $BASISBT_VENUES", key="venues")
        return _read(f)

    def check(self) -> VenueSet:
        """Read every venue file of the set's directories now (not the built-ins, which the tests read): a bad one
        is refused before any data is loaded. Returns self."""
        for p in self._paths:
            if p != BUILTIN_DIR:
                for f in ([p] if p.suffix == ".toml" else sorted(p.glob("*.toml"))):
                    _read(f)
        return self

    def describe(self) -> str:
        return ", ".join(["code"] * bool(self._venues) + [str(p) for p in self._paths])

    def fingerprint(self) -> str:
        """One hash over every venue of the set (all their blocks): what a batch of runs (a sweep) depends on."""
        h = hashlib.sha256()
        for n in self.names():
            h.update(f"{n}={self.get(n).fingerprint()};".encode())
        return h.hexdigest()[:16]


def _checked_path(p: Path, what: str) -> Path:
    if p.is_dir() or (p.suffix == ".toml" and p.is_file()):
        return p
    raise VenueSpecError(f"{what} {p}: not a directory of venue .toml files"
                         + (" (it does not exist)" if not p.exists() else ""))


def venue_set(venues: VenueSet | VenueLike | Iterable[VenueLike] | None = None) -> VenueSet:
    """A VenueSet from what a caller gives: None (the default: $BASISBT_VENUES, then the built-ins), a
    VenueSet, one Venue or directory, or a list of them (searched in order, before the default)."""
    if isinstance(venues, VenueSet):
        return venues
    if venues is None:
        return VenueSet()
    if isinstance(venues, (Venue, str, os.PathLike)):
        return VenueSet([venues])
    return VenueSet(list(venues))


def available_venues(venues: VenueSet | None = None) -> list[str]:
    return (venues or VenueSet()).names()


def _only(directory: Path | None, venues: VenueSet | None) -> VenueSet:
    """The set a function looks in: just `directory` when given (tests, tools), else `venues` or the default."""
    if directory is not None:
        return VenueSet([directory], env=False, builtin=False)
    return venues or VenueSet()


def all_blocks(name: str, directory: Path | None = None, venues: VenueSet | None = None) -> tuple[VenueSpec, ...]:
    """Every dated spec block of venue `name`, oldest first (a run spanning several uses each in turn)."""
    return _only(directory, venues).get(name).blocks


def load_venue(name: str, at: pd.Timestamp | str | None = None, directory: Path | None = None,
               venues: VenueSet | None = None) -> VenueSpec:
    """The spec of venue `name` in force at time `at` (latest block started on or before it)."""
    return _only(directory, venues).get(name).at(at)


def builtin_venue(name: str) -> Venue:
    """A built-in venue (data/venues/NAME.toml), whatever $BASISBT_VENUES says: embedded scenarios and stress
    paths are generated from these, so `scenario:NAME` is the same data for every venue search path."""
    return VenueSet(env=False).get(name)


DEFAULT_FUNDING_CAP = 0.0075   # venues without a spec file: the widest cap of any spec here (OKX ETH +-0.75 %)


def spec_values(venue: str, ts_ns: np.ndarray, value: Callable[[VenueSpec], float],
                directory: Path | None = None, venues: VenueSet | None = None) -> np.ndarray | None:
    """value(block) of the venue's spec block in force at each time (the earliest block before the first);
    None for a venue without a spec file."""
    vs = _only(directory, venues)
    if not vs.has(venue):
        return None
    specs = vs.get(venue).blocks
    starts = np.array([s.effective_from.value for s in specs], dtype=np.int64)
    k = np.clip(np.searchsorted(starts, np.asarray(ts_ns, dtype=np.int64), side="right") - 1, 0, len(specs) - 1)
    return np.array([value(s) for s in specs], dtype=np.float64)[k]


def funding_caps(venue: str, ts_ns: np.ndarray, base: str | None = None,
                 directory: Path | None = None, venues: VenueSet | None = None) -> tuple[np.ndarray, str]:
    """|rate| cap per settlement for `base` from the venue's spec block in force at each time, and where it came from.

    Caps are per symbol and dated (Binance ETH 0.375 % until 2024-02, BTC 0.3 %); without `base` the widest
    cap of the block. A venue without a spec file gets DEFAULT_FUNDING_CAP. Importers use this to refuse
    rates a venue cannot print (a percent read as a fraction is 100x too large).
    """
    vs = _only(directory, venues)
    caps = spec_values(venue, ts_ns, lambda s: s.cap_for(base), venues=vs)
    if caps is None:
        return (np.full(np.shape(ts_ns), DEFAULT_FUNDING_CAP),
                f"default cap (no spec file for venue {venue!r})")
    return caps, vs.get(venue).source


def funding_caps_exact(venue: str, ts_ns: np.ndarray, venues: VenueSet | None = None) -> np.ndarray:
    """Per time, whether the venue's cap in force is its documented hard bound (`funding_cap_exact`); False for a
    venue without a spec file."""
    exact = spec_values(venue, ts_ns, lambda s: float(s.funding_cap_exact), venues=_only(None, venues))
    return np.zeros(np.shape(ts_ns), bool) if exact is None else np.asarray(exact, dtype=bool)
