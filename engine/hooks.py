"""The calls the engine makes into a strategy: the hook protocol strategies implement (docs/architecture.md §6).

The engine declares it here and knows nothing of how a strategy is written: `basisbt.Strategy`
(strategies/base.py) implements it with typed, range-checked parameters. Every hook receives the Context and
one event and is a no-op here; a hook a strategy does not override is not a decision point of its own
(`overrides`: `on_funding`, `on_lending_rate`). New information comes as new event fields, never as new hook
arguments.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from basisbt.engine.context import Context
    from basisbt.engine.events import (
        AdlEvent,
        BarEvent,
        EndEvent,
        FillEvent,
        FundingEvent,
        LendingRateEvent,
        LiquidationEvent,
        RejectEvent,
        StartEvent,
        VenueDefaultEvent,
        VenueHaltEvent,
    )


class Hooks:
    """What a run calls on its strategy. `decide` sets when hooks run: 'bar', 'funding' or every N bars;
    `multi_asset` says the strategy names the asset of its calls, so it may be given data of several assets;
    `p` is what `ctx.params` returns."""

    name: ClassVar[str] = ""
    decide: ClassVar[str | int] = "bar"
    multi_asset: ClassVar[bool] = False
    p: Any = None

    def params_dict(self) -> dict[str, Any]:
        """The parameters as plain values: part of the run's identity (config_id)."""
        return {}

    def initial_allocation(self, venues: list[str]) -> dict[str, float]:
        """Share of the initial capital deposited on each venue (default: equal)."""
        return {v: 1.0 / len(venues) for v in venues}

    def validate(self, venues: list[str], protocols: list[str]) -> None:
        """Check parameters against the data (venue names...); raise ConfigError naming valid values."""

    # hooks: no-ops by default
    def on_start(self, ctx: Context, ev: StartEvent) -> None: ...
    def on_bar(self, ctx: Context, ev: BarEvent) -> None: ...
    def on_funding(self, ctx: Context, ev: FundingEvent) -> None: ...
    def on_lending_rate(self, ctx: Context, ev: LendingRateEvent) -> None: ...
    def on_fill(self, ctx: Context, ev: FillEvent) -> None: ...
    def on_reject(self, ctx: Context, ev: RejectEvent) -> None: ...
    def on_liquidation(self, ctx: Context, ev: LiquidationEvent) -> None: ...
    def on_adl(self, ctx: Context, ev: AdlEvent) -> None: ...
    def on_venue_halt(self, ctx: Context, ev: VenueHaltEvent) -> None: ...
    def on_venue_default(self, ctx: Context, ev: VenueDefaultEvent) -> None: ...
    def on_end(self, ctx: Context, ev: EndEvent) -> None: ...


def overrides(strategy: Hooks, hook: str) -> bool:
    """True when the strategy's class defines its own `hook` (then that hook's events are decision points)."""
    return getattr(type(strategy), hook) is not getattr(Hooks, hook)
