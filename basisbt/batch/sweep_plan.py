"""Planning a sweep: the cells of a grid or a random sample of a strategy's declared parameters, times the
datasets, each cell a RunSpec (`SweepPlan.spec`).

A cell is (data, parameters); its id is a hash of the strategy, data, parameters, run keys and the venue set's
content hash, so a rerun of the same sweep finds the cells already stored and runs only the rest. The batch
layer has no Python front door of its own: its errors name the sweep command's options.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from basisbt.batch.backends import BatchError
from basisbt.batch.spec import DataSpec, RunSpec
from basisbt.data.checks import build_dataclass, check_range, coerce, did_you_mean
from basisbt.data.errors import ConfigError, DataError
from basisbt.data.venues import VenueSet
from basisbt.engine.config import RunConfig

# A plan lists every cell (its id is how a rerun knows what is stored): 100,000 cells take ~2.5 s and ~200 MB
# to plan. A bigger sweep is refused before anything is drawn or allocated; split it into several --out.
MAX_CELLS = 100_000


class SweepError(BatchError):
    """A sweep we cannot run as asked (bad grid, range, sort key...): one line, exit 2."""


@dataclass(frozen=True)
class Cell:
    """One run of the sweep: a dataset and the varied parameters (the fixed ones live in the plan)."""

    id: str
    data: str
    params: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class SweepPlan:
    """Everything a sweep runs: the strategy, fixed parameters, run keys, the varied axes and the cells."""

    strategy: str
    datas: tuple[str, ...]
    axes: tuple[str, ...]                      # varied parameter names, in table order
    fixed: dict[str, Any]
    run: dict[str, Any]
    timeframe: str | None
    cache_dir: str | None
    cells: tuple[Cell, ...]
    mode: str                                  # 'grid' or 'samples N seed S'
    venues_dirs: tuple[str, ...] = ()          # --venues-dir, searched before $BASISBT_VENUES and the built-ins
    timeout: float | None = None               # seconds a strategy call may run (RunConfig.timeout; not in cell ids)

    @functools.cached_property
    def _shared(self) -> RunSpec:
        run = {**self.run, **({"timeout": self.timeout} if self.timeout is not None else {})}
        return RunSpec(strategy=self.strategy, config=build_dataclass(RunConfig, run, "run config key"),
                       venues=VenueSet(list(self.venues_dirs)))

    def spec(self, cell: Cell) -> RunSpec:
        """The RunSpec of one cell: the plan's strategy, fixed and varied parameters, run keys and venues."""
        return self._shared.replace(params={**self.fixed, **dict(cell.params)},
                                    data=DataSpec(cell.data, timeframe=self.timeframe, cache_dir=self.cache_dir))

    def job(self, cell: Cell) -> dict[str, Any]:
        """What a worker needs for one cell: small and picklable (names, numbers and a spec; no frames)."""
        return {"id": cell.id, "data": cell.data, "axes": list(self.axes), "spec": self.spec(cell)}


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls.Params)}


def _check_value(cls: type, f: dataclasses.Field, raw: Any, option: str) -> Any:
    """A grid value coerced to the parameter's type and checked against its choices and bounds."""
    from basisbt.strategies.base import param_range
    try:
        value = coerce(raw, f.type, f"{option} {f.name}")
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{f.name} = {value!r} is not allowed; valid: {param_range(f)}")
        check_range(f.name, value, **(f.metadata.get("bounds") or {}))
    except ConfigError as e:
        raise SweepError(f"{option}: {cls.name}: {e}") from None
    return value


def parse_grid(cls: type, items: Iterable[str]) -> dict[str, list[Any]]:
    """`param=v1,v2,...` strings as {param: [values]}, each value of the declared type and in range."""
    fields = _fields(cls)
    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise SweepError(f"--grid {item!r}: expected param=v1,v2,..., e.g. --grid leverage=2,3,5")
        name, _, values = (s.strip() for s in item.partition("="))
        if name not in fields:
            raise SweepError(f"--grid {name!r}: {cls.name} has no such parameter{did_you_mean(name, list(fields))}; "
                             f"valid: {', '.join(fields)}")
        if name in grid:
            raise SweepError(f"--grid {name}: given twice; list all its values in one --grid {name}=a,b,c")
        raw = [v.strip() for v in values.split(",") if v.strip()]
        if not raw:
            raise SweepError(f"--grid {name}=: no values; give at least one, e.g. --grid {name}=a,b")
        vals = [_check_value(cls, fields[name], v, "--grid") for v in raw]
        if len(set(map(repr, vals))) < len(vals):
            raise SweepError(f"--grid {name}: a value is listed twice ({values.strip()})")
        grid[name] = vals
    return grid


def sampleable(f: dataclasses.Field) -> bool:
    """A parameter a random sample can draw: choices, a bool, or a number with both bounds."""
    b = f.metadata.get("bounds") or {}
    return bool(f.metadata.get("choices")) or f.type in ("bool", bool) or (
        f.type in ("float", "int", float, int) and ("ge" in b or "gt" in b) and ("le" in b or "lt" in b))


def sample_params(cls: type, names: list[str], n: int, seed: int) -> list[dict[str, Any]]:
    """`n` draws over the declared ranges of `names` (uniform; ints inclusive; choices and bools equally likely)."""
    fields = _fields(cls)
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        draw: dict[str, Any] = {}
        for name in names:
            f = fields[name]
            b = f.metadata.get("bounds") or {}
            if f.metadata.get("choices"):
                draw[name] = rng.choice(list(f.metadata["choices"]))
            elif f.type in ("bool", bool):
                draw[name] = rng.random() < 0.5
            else:
                lo, hi = b.get("ge", b.get("gt")), b.get("le", b.get("lt"))
                if f.type in ("int", int):
                    lo_i = math.ceil(lo) + (1 if "gt" in b and float(lo).is_integer() else 0)
                    hi_i = math.floor(hi) - (1 if "lt" in b and float(hi).is_integer() else 0)
                    draw[name] = rng.randint(lo_i, hi_i)
                else:
                    x = rng.uniform(lo, hi)
                    while ("gt" in b and x <= lo) or ("lt" in b and x >= hi):   # open bounds: draw again
                        x = rng.uniform(lo, hi)
                    draw[name] = round(x, 12)
        out.append(draw)
    return out


def cell_id(strategy: str, data: str, params: dict[str, Any], run: dict[str, Any], timeframe: str | None,
            venues: str = "") -> str:
    """A stable id of one cell's inputs (first 16 hex digits of a sha256): equal inputs, equal id. `venues` is
    the fingerprint of the venue set the cells run with (a changed venue file reruns them)."""
    blob = json.dumps({"strategy": strategy, "data": data, "params": params, "run": run, "timeframe": timeframe,
                       "venues": venues}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def plan_sweep(strategy: str, datas: list[str], *, grid: list[str] = (), samples: int | None = None,  # type: ignore[assignment]
               seed: int = 0, vary: list[str] | None = None, fixed: dict[str, str] | None = None,
               run: dict[str, Any] | None = None, timeframe: str | None = None,
               cache_dir: str | None = None, venues_dirs: tuple[str, ...] = (),
               timeout: float | None = None) -> SweepPlan:
    """Check a sweep's inputs and list its cells (grid: every combination; samples: N seeded draws),
    each cell's parameters validated by building the strategy. SweepError names the first bad input."""
    from basisbt.strategies.registry import instantiate, load_strategy_class
    try:
        cls = load_strategy_class(strategy)
    except (ConfigError, ValueError) as e:
        raise SweepError(str(e)) from None
    fields = _fields(cls)
    datas = list(dict.fromkeys(datas or ["scenario:feb-2025-crash"]))
    for data in datas:
        check_data(data)
    fixed_vals: dict[str, Any] = {}
    for k, v in (fixed or {}).items():
        if k not in fields:
            raise SweepError(f"--set {k!r}: {cls.name} has no such parameter{did_you_mean(k, list(fields))}; "
                             f"valid: {', '.join(fields)}")
        fixed_vals[k] = _check_value(cls, fields[k], v, "--set")
    run = dict(run or {})
    try:
        build_dataclass(RunConfig, {**run, **({"timeout": timeout} if timeout is not None else {})}, "run config key")
        venues_key = VenueSet(list(venues_dirs)).fingerprint()
    except (ConfigError, DataError) as e:
        raise SweepError(str(e)) from None
    if samples is not None and grid:
        raise SweepError("give either --grid or --samples (with --vary to choose what is drawn), not both")
    if samples is None:
        if vary:
            raise SweepError("--vary goes with --samples; a grid varies the parameters its --grid options name")
        axes_vals = parse_grid(cls, grid)
        size = math.prod(len(v) for v in axes_vals.values()) * len(datas)
        if size > MAX_CELLS:
            raise SweepError(f"--grid: {' x '.join(str(len(v)) for v in axes_vals.values())} values x "
                             f"{len(datas)} dataset(s) = {size:,} cells, above the {MAX_CELLS:,} a sweep takes; "
                             f"use fewer values, or split the sweep over several --out directories")
        both = sorted(set(axes_vals) & set(fixed_vals))
        if both:
            raise SweepError(f"--set {both[0]} and --grid {both[0]}: a parameter is either fixed or varied")
        names = list(axes_vals)
        combos: list[dict[str, Any]] = [{}]
        for name in names:
            combos = [{**c, name: v} for c in combos for v in axes_vals[name]]
        mode = "grid"
    else:
        if samples < 1:
            raise SweepError(f"--samples {samples}: need at least 1")
        if samples * len(datas) > MAX_CELLS:
            raise SweepError(f"--samples {samples:,} x {len(datas)} dataset(s) is above the {MAX_CELLS:,} cells a "
                             f"sweep takes; draw fewer, or run several --seed values into separate --out directories")
        if vary:
            names = list(dict.fromkeys(vary))
            for name in names:
                if name not in fields:
                    raise SweepError(f"--vary {name!r}: {cls.name} has no such parameter"
                                     f"{did_you_mean(name, list(fields))}; valid: {', '.join(fields)}")
                if not sampleable(fields[name]):
                    raise SweepError(f"--vary {name}: no declared range to draw from (needs choices, a bool, or "
                                     f"both bounds); list its values with --grid {name}=a,b instead")
                if name in fixed_vals:
                    raise SweepError(f"--set {name} and --vary {name}: a parameter is either fixed or varied")
        else:
            names = [k for k, f in fields.items() if sampleable(f) and k not in fixed_vals]
            if not names:
                raise SweepError(f"--samples: {cls.name} declares no parameter with a range to draw from")
        combos = sample_params(cls, names, samples, seed)
        mode = f"samples {samples} seed {seed}"
    cells = []
    seen = set()
    for data in datas:
        for combo in combos:
            params = {**fixed_vals, **combo}
            try:
                instantiate(cls, params)
            except ConfigError as e:
                raise SweepError(f"cell {data} {_fmt(combo)}: {e}") from None
            cid = cell_id(cls.name, data, params, run, timeframe, venues_key)
            if cid in seen:
                continue                        # a sample drawn twice (a small choice space) runs once
            seen.add(cid)
            cells.append(Cell(cid, data, tuple(combo.items())))
    if not cells:
        raise SweepError("the sweep has no cells")
    return SweepPlan(strategy=strategy, datas=tuple(datas), axes=tuple(names), fixed=fixed_vals, run=run,
                     timeframe=timeframe, cache_dir=cache_dir, cells=tuple(cells), mode=mode,
                     venues_dirs=tuple(venues_dirs), timeout=timeout)


def check_data(data: str) -> None:
    """SweepError for a --data that names nothing, found before any cell runs: an unknown scenario, a dataset
    TOML that is not there, or a form --data does not take (cache contents are the workers' to read)."""
    from basisbt.data.scenarios import _MODULES, real
    from basisbt.data.sources import FORMS
    if data.startswith("scenario:"):
        name = data.split(":", 2)[1]
        names = [*_MODULES, *real.BY_NAME]
        if name not in names:
            raise SweepError(f"--data {data}: unknown scenario{did_you_mean(name, names)}; valid: {', '.join(names)}")
    elif data.endswith(".toml"):
        if not Path(data).is_file():
            raise SweepError(f"--data {data}: no such dataset TOML")
    elif data.startswith("stress:"):
        from basisbt.data.stress.source import parse
        try:
            parse(data)
        except ConfigError as e:
            raise SweepError(f"--data {data}: {e}") from None
    elif not (data == "cache" or data.startswith("cache:")):
        raise SweepError(f"--data {data!r}: {FORMS}")


def _fmt(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)"
