"""The Strategy template (docs/architecture.md §6): typed Params, hooks that receive one event, no-ops by default.

Subclass it, declare `Params` as a frozen kw_only dataclass (fields with `param(default, doc)`),
override the hooks you need, and act through `ctx` only: it shows data up to now and takes orders.
The hooks are the engine's protocol (engine/hooks.py); this class adds the declared, checked parameters.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from basisbt.data.checks import build_dataclass, check_range, did_you_mean, range_text
from basisbt.data.errors import ConfigError
from basisbt.engine.hooks import Hooks


def param(default: Any, doc: str, choices: tuple[Any, ...] | None = None, *, ge: float | None = None,
          gt: float | None = None, le: float | None = None, lt: float | None = None) -> Any:
    """A strategy parameter: default, one-line doc, and the values it may take (choices or numeric bounds).

    Bounds are checked on every value from --set, a config file or Python (NaN and inf are never
    valid for a number), so `leverage=-5` is an exit-2 error naming the range, not a run.
    """
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    if ge is not None and gt is not None or le is not None and lt is not None:
        raise TypeError("param(): give at most one lower (ge/gt) and one upper (le/lt) bound")
    return field(default=default, metadata={"doc": doc, "choices": choices, "bounds": bounds})


def param_range(f: dataclasses.Field[Any]) -> str:
    """The valid values of a declared parameter, as text for tables and errors ('' when unconstrained)."""
    choices = f.metadata.get("choices")
    if choices:
        return "one of " + ", ".join(map(str, choices))
    bounds = f.metadata.get("bounds") or {}
    return range_text(f.name, **bounds) if bounds else ""


class Strategy(Hooks):
    """Base class for every strategy. `decide` sets when hooks run: 'bar', 'funding' or every N bars;
    `multi_asset = True` when the strategy names the asset of its calls (ctx.price(v, asset=...)): it can run
    on data with several assets; others are refused such data up front rather than failing at their first call."""

    summary: ClassVar[str] = ""

    @dataclass(frozen=True, kw_only=True)
    class Params:
        pass

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if not dataclasses.is_dataclass(cls.Params):
            raise TypeError(f"{cls.__name__}.Params must be a dataclass")
        if not (cls.decide in ("bar", "funding") or (isinstance(cls.decide, int) and cls.decide > 0)):
            raise TypeError(f"{cls.__name__}.decide must be 'bar', 'funding' or a positive int")
        if not cls.name:
            cls.name = cls.__name__

    def __init__(self, **params: Any) -> None:
        self.p = build_dataclass(self.Params, params, f"parameter of strategy {self.name!r}")
        for f in dataclasses.fields(self.p):
            value = getattr(self.p, f.name)
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise ConfigError(f"{self.name}: {f.name} must be one of {', '.join(map(str, choices))}, "
                                  f"not {value!r}")
            try:
                check_range(f.name, value, **(f.metadata.get("bounds") or {}))
            except ConfigError as e:
                raise ConfigError(f"{self.name}: {e}") from None

    @classmethod
    def param_table(cls) -> list[tuple[str, str, Any, str]]:
        """(name, type, default, doc) for each parameter; the doc ends with the valid range if declared."""
        rows = []
        for f in dataclasses.fields(cls.Params):
            typ = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            doc, rng = f.metadata.get("doc", ""), param_range(f)
            rows.append((f.name, typ, f.default, f"{doc} [{rng}]" if rng and not f.metadata.get("choices") else doc))
        return rows

    def params_dict(self) -> dict[str, Any]:
        """The parameters as a dict (part of the run's identity)."""
        return dataclasses.asdict(self.p)


def require_venue(venue: str, venues: list[str], what: str = "venue") -> None:
    """ConfigError naming the valid venues when `venue` is not one of them."""
    if venue not in venues:
        raise ConfigError(f"{what} {venue!r} is not in the data{did_you_mean(venue, venues)}; "
                          f"valid: {', '.join(venues)}")
