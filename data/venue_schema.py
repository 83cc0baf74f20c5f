"""The venue schema: every key a venue file may hold, declared once, and the checks every venue goes through.

A venue file (`data/venues/*.toml`, or one in a user's venue directory), a run's `venue_overrides` table and a
notebook's `Venue.replace(...)` are all read by `parse_block` / `parse_file` here. Each field of `VenueSpec`
carries a `Rule` in its dataclass metadata: what type it takes, its unit, its range or choices, a one-line doc,
when it is used, whether a run may override it, and the kernel cfg columns it fills. From these come:

- the checks: an unknown key is refused with the file, the key and a did-you-mean; a wrong type or a value out
  of range is refused; a field used only under another field's value (`used_when`) is required there and
  refused elsewhere (`liquidation_fee` only with `liquidation_price = "liquidation"`: with "bankruptcy" the
  margin left at the liquidation price is lost instead, so a fee there would do nothing);
- the kernel's cfg column layout (`CFG_COLUMNS`, numbered in engine/kernels/codes.py) and the row written
  into it for one slot (`kernel_values`); the kernels' numba cache key hashes this file (engine/kernels);
- the field table of docs/venues.md (data/venue_docs.py renders it from these rules; a test fails when the page
  is stale).

Adding a field is one declaration in `VenueSpec` (with `kernel=` if the kernels read it). No pandas at module
level (the standard library, numpy, data/errors.py): engine/kernels/codes.py imports this module.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from basisbt.data.checks import did_you_mean, in_range, range_text
from basisbt.data.errors import DataError

if TYPE_CHECKING:
    from basisbt.data.funding_formula import FundingFormula

REQUIRED: Any = dataclasses.MISSING


class VenueSpecError(DataError):
    """A venue that is missing, malformed or breaks a rule: one line naming the file (or table) and the key."""

    def __init__(self, message: str, *, key: str | tuple[str, ...] | None = None) -> None:
        super().__init__(message, key=key)

    def _message(self) -> str:
        return self.rule


@dataclass(frozen=True)
class Rule:
    """What one venue key takes and does (the dataclass metadata of a VenueSpec / TierRow field)."""

    kind: str                 # fraction | number | int | bool | choice | date | asset | text | fee_or_taker |
    #                           caps | ratios | weights | tiers | sources
    unit: str
    doc: str
    default: Any = REQUIRED
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] = ()
    used_when: tuple[str, tuple[Any, ...]] | None = None   # (field, values): used, so required, only then
    overridable: bool = False                               # a run's venue_overrides may set it
    kernel: dict[str, Callable[..., float] | None] = field(default_factory=dict)   # cfg column -> value(spec, slot)
    level: str = "block"                                    # file | block | tier row
    quiet_default: bool = False     # left out of a venue's fingerprint while at its default: a field added after
    #                                 runs were identified by fingerprint keeps the identity of those not using it

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def bounds(self) -> dict[str, float | None]:
        """ge, gt, le, lt as keywords of data/checks.py's in_range and range_text."""
        return {"ge": self.ge, "gt": self.gt, "le": self.le, "lt": self.lt}


def spec_field(kind: str, unit: str, doc: str, *, default: Any = REQUIRED, kernel: str | dict | None = None,
               **rule: Any) -> Any:
    """A VenueSpec field with its Rule. `kernel="C_X"` writes the field's own value into cfg column C_X; a dict
    {column: fn(spec, slot)} computes it. A field with `used_when` and no default is required where used and
    None elsewhere."""
    cols = kernel if isinstance(kernel, dict) else ({kernel: None} if kernel else {})
    r = Rule(kind, unit, doc, default=default, kernel=cols, **rule)
    meta = {"rule": r}
    if default is REQUIRED:
        return field(metadata=meta)
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class SlotContext:
    """What a kernel value depends on besides the spec: the slot's base asset and the dataset's collateral asset."""

    base: str
    collateral_asset: str = ""


FORMULAS = ("interest_clamp", "premium")


@dataclass(frozen=True)
class TierTable:
    """Maintenance-margin tiers for one perp: tier k covers notional in [floor[k], floor[k+1])."""

    floor: np.ndarray   # quote notional (or base units, tier_unit = "base") where the tier starts (floor[0] == 0)
    rate: np.ndarray    # maintenance margin rate (fraction)
    amount: np.ndarray  # maintenance amount (quote): mm = notional * rate - amount (0 for whole-position venues)
    max_leverage: np.ndarray

    def maintenance(self, notional: float) -> float:
        k = int(np.searchsorted(self.floor, abs(notional), side="right") - 1)
        return abs(notional) * float(self.rate[k]) - float(self.amount[k])


@dataclass(frozen=True)
class TierRow:
    """One maintenance-margin tier of a `[[spec.tiers.BASE]]` table (checked like the block's fields)."""

    floor: float = spec_field("number", "quote notional (base units with tier_unit = \"base\")",
                              "where the tier starts; the first floor is 0, then they rise", ge=0.0, level="tier")
    rate: float = spec_field("fraction", "fraction of notional",
                             "maintenance margin rate of the tier; rates never fall", gt=0.0, le=1.0, level="tier")
    amount: float | None = spec_field(
        "number", "quote", "maintenance amount: mm = notional x rate - amount, the running sum of rate steps x "
        "floors (Binance `cum`, Bybit deduction); whole-position venues have none", ge=0.0,
        used_when=("maintenance", ("deduction",)), level="tier")
    max_leverage: float | None = spec_field(
        "number", "x", "max leverage in the tier: an order whose initial margin (notional / max_leverage) the "
        "margin balance does not cover is refused (whole); default 1 / (2 x rate)", ge=1.0, le=1000.0,
        default=None, level="tier")


@dataclass(frozen=True, kw_only=True)
class VenueSpec:
    """One dated block of a venue file, checked: the rules in force from `effective_from` (docs/venues.md)."""

    # -- file level (the same for every block of a file)
    name: str = spec_field("text", "", "venue name; a file's must equal its stem (kraken.toml: \"kraken\")",
                           level="file")
    quote: str = spec_field("asset", "", "quote and settlement currency of the venue's perps and its cash "
                            "(USDT, USDC): it is margin at its full value; a transfer to or from a venue with "
                            "another quote converts at the spot taker fee", level="file")
    # -- a block
    effective_from: Any = spec_field("date", "UTC", "first instant the block applies "
                                     "(\"2024-10-01\" = 2024-10-01 00:00 UTC)")
    maker_fee: float = spec_field(
        "fraction", "fraction of notional", "perp maker fee, lowest (VIP0 / regular) tier: paid on fills of "
        "resting (maker) orders", ge=0.0, lt=0.01, overridable=True,
        kernel={"C_MAKER": lambda s, slot: s.maker_fee - s.maker_rebate})
    maker_rebate: float = spec_field(
        "fraction", "fraction of notional", "what the venue pays on perp maker fills instead of a fee (needs "
        "maker_fee = 0; overriding one of the two sets the other to 0); C_MAKER = maker_fee - maker_rebate",
        default=0.0, ge=0.0, le=0.001, overridable=True)
    taker_fee: float = spec_field(
        "fraction", "fraction of notional", "perp taker fee, lowest tier: every market order pays it, and so do "
        "what derives from it (trigger_fee = \"taker\", close_fee_in_maintenance, partial step-downs)",
        ge=0.0, lt=0.01, overridable=True, kernel="C_TAKER")
    spot_maker_fee: float = spec_field(
        "fraction", "fraction of notional", "spot maker fee, lowest tier (resting spot orders)", ge=0.0, lt=0.01,
        overridable=True, kernel={"C_SPOT_MAKER": lambda s, slot: s.spot_maker_fee - s.spot_maker_rebate})
    spot_maker_rebate: float = spec_field(
        "fraction", "fraction of notional", "what the venue pays on spot maker fills instead of a fee (needs "
        "spot_maker_fee = 0)", default=0.0, ge=0.0, le=0.001, overridable=True)
    spot_taker_fee: float = spec_field(
        "fraction", "fraction of notional", "spot taker fee, lowest tier; also what a quote conversion pays "
        "(a transfer between venues of different quotes)", ge=0.0, lt=0.01, overridable=True,
        kernel="C_SPOT_TAKER")
    funding_interval_h: float = spec_field(
        "number", "hours", "default funding interval: scenarios settle on it; the engine takes each settlement's "
        "interval from the funding rows, and this only where a row has none; data quality counts the settlements "
        "missing on it", gt=0.0, le=24.0)
    funding_cap: dict = spec_field(
        "caps", "fraction per settlement", "cap on the absolute rate of one settlement: one number for every symbol, or a "
        "table per base asset (\"*\" for the rest); importers refuse rates above 1.25 x the cap", gt=0.0, lt=1.0)
    funding_formula: str = spec_field(
        "choice", "", "how a settlement's rate F follows from the premium P (scenario and stress funding): "
        "\"interest_clamp\" F = P + clamp(funding_interest - P, +-funding_clamp) (Binance, Bybit); \"premium\" "
        "F = P (OKX, interest 0 and no clamp); each settlement pays F x interval_h / funding_base_h, capped",
        choices=FORMULAS)
    funding_interest: float | None = spec_field(
        "fraction", "fraction per funding_base_h", "interest rate I of the formula (Binance, Bybit 0.01 % per 8h)",
        ge=-0.01, le=0.01, used_when=("funding_formula", ("interest_clamp",)))
    funding_clamp: float | None = spec_field(
        "fraction", "fraction per funding_base_h", "clamp on I - P (Binance, Bybit 0.05 %)",
        ge=0.0, le=0.01, used_when=("funding_formula", ("interest_clamp",)))
    funding_base_h: float = spec_field(
        "number", "hours", "hours the formula's rate is quoted for: a settlement over interval_h pays "
        "F x interval_h / funding_base_h (an 8h formula paid hourly pays 1/8 of it)", default=8.0, gt=0.0, le=24.0)
    funding_cap_exact: bool = spec_field(
        "bool", "", "true: funding_cap is the venue's documented hard bound (Hyperliquid's 4 %/h) and importers refuse "
        "any rate above it; false: rates up to 1.25 x the cap pass (caps inferred or dated to a snapshot)",
        default=False, quiet_default=True)
    funding_price: str = spec_field(
        "choice", "", "the price a settlement is paid on: \"mark\" (Binance, Bybit, OKX: the mark known at the "
        "settlement) or \"oracle\" (Hyperliquid: size x oracle price; the run's oracle is the data's `oracle` stream, "
        "the weighted median of the data's spot series over oracle_weights, or one venue's spot: RunConfig.oracle)",
        default="mark", choices=("mark", "oracle"), quiet_default=True)
    oracle_weights: dict | None = spec_field(
        "weights", "weight per venue", "the venues whose spot prices make the oracle and their weights in its "
        "weighted median (Hyperliquid: binance 3, okx 2, bybit 2, kraken 1, kucoin 1, gate 1, mexc 1, hyperliquid "
        "1); a run uses those of them it has spot data for", gt=0.0, le=1000.0,
        used_when=("funding_price", ("oracle",)))
    liquidation_price: str = spec_field(
        "choice", "", "a breached position is closed at the liquidation price paying liquidation_fee "
        "(\"liquidation\", Binance), or taken over at the bankruptcy price: the margin left at the liquidation "
        "price is lost (\"bankruptcy\", Bybit, OKX), or sold into the book at the breach point's mark less the "
        "run's slippage, no fee, the trader keeping what is left (\"book\", Hyperliquid; liquidation_slice, "
        "backstop_threshold)", default="liquidation", choices=("liquidation", "bankruptcy", "book"),
        kernel={"C_BANKRUPTCY": lambda s, slot: 1.0 if s.liquidation_price == "bankruptcy" else 0.0,
                "C_BOOK": lambda s, slot: 1.0 if s.liquidation_price == "book" else 0.0})
    liquidation_fee: float | None = spec_field(
        "fraction", "fraction of liquidated notional", "clearance fee of a liquidation at the liquidation price",
        ge=0.0, lt=0.5, used_when=("liquidation_price", ("liquidation",)), overridable=True,
        kernel={"C_LIQ_FEE": lambda s, slot: s.liquidation_fee or 0.0})
    liquidation_slice: float = spec_field(
        "fraction", "fraction of the position", "book liquidation of a position above liquidation_slice_above: "
        "orders of this share of the position (as it was when the liquidation began), one per "
        "liquidation_cooldown_s while the account stays breached (Hyperliquid 20 %); 0: one order for all",
        default=0.0, ge=0.0, le=1.0, used_when=("liquidation_price", ("book",)), kernel="C_SLICE")
    liquidation_slice_above: float = spec_field(
        "number", "quote notional", "notional above which a book liquidation goes in slices (Hyperliquid 100,000 "
        "USDC); at or below it the rest goes at once", default=0.0, ge=0.0, le=1e15,
        used_when=("liquidation_price", ("book",)), kernel="C_SLICE_ABOVE")
    liquidation_cooldown_s: float = spec_field(
        "number", "seconds", "wait between two slices of a book liquidation (Hyperliquid 30 s): read on the bar's "
        "walk as time (a fraction f of the walk is f x the bar's length), so a 1h bar holds up to 120 slice times "
        "and a 1m bar two; carried into the next bar", default=0.0, ge=0.0, le=86400.0,
        used_when=("liquidation_price", ("book",)), kernel="C_COOLDOWN_S")
    backstop_threshold: float = spec_field(
        "number", "x maintenance", "book liquidation: where margin balance falls below this share of the "
        "liquidation level before the book has closed the position, the venue's liquidator vault takes over every "
        "cross position (isolated: that position) at its mark and the cross margin (isolated: its margin): "
        "nothing is returned (Hyperliquid 2/3); 0: no backstop", default=0.0, ge=0.0, lt=1.0,
        used_when=("liquidation_price", ("book",)), kernel="C_BACKSTOP")
    liquidation_threshold: float = spec_field(
        "number", "x maintenance", "liquidated at margin balance <= threshold x maintenance (1 for a standard "
        "account; margin_mode = \"portfolio\" sets Binance Portfolio Margin's 1.05)", default=1.0, ge=1.0,
        le=2.0, overridable=True, kernel="C_MM_THRESHOLD")
    maintenance: str = spec_field(
        "choice", "", "tier rate x notional minus the running-sum `amount` (\"deduction\": Binance `cum`, Bybit), "
        "or the rate on the whole position (\"whole_position\": OKX; tiers have no `amount`)",
        default="deduction", choices=("deduction", "whole_position"))
    trigger_fee: Any = spec_field(
        "fee_or_taker", "fraction of notional, or \"taker\"", "added to the tier rate in the breach test (OKX: "
        "equity <= maintenance + taker fee); \"taker\" follows taker_fee, overrides included", default=0.0,
        ge=0.0, lt=0.01, kernel={"C_TRIGGER_FEE": lambda s, slot: s.trigger_rate})
    close_fee_in_maintenance: bool = spec_field(
        "bool", "", "maintenance includes taker_fee x the value at the perp's bankruptcy price (Bybit's fee to "
        "close); follows taker_fee, overrides included", default=False,
        kernel={"C_CLOSE_FEE": lambda s, slot: s.close_fee_rate})
    partial: str = spec_field(
        "choice", "", "\"step\": a breach in a tier >= partial_from_tier first reduces the position to the cap of "
        "the tier partial_tiers below, paying the taker fee, and the rest is re-checked", default="none",
        choices=("none", "step"), kernel={"C_PARTIAL": lambda s, slot: 1.0 if s.partial == "step" else 0.0})
    partial_from_tier: int = spec_field(
        "int", "tier (1-based)", "first tier whose breach steps down (Bybit 2, OKX 3)", default=2, ge=2, le=100,
        used_when=("partial", ("step",)), kernel="C_PARTIAL_FROM")
    partial_tiers: int = spec_field(
        "int", "tiers", "tiers stepped down at a time (Bybit 1, OKX 2)", default=1, ge=1, le=100,
        used_when=("partial", ("step",)), kernel="C_PARTIAL_TIERS")
    tier_unit: str = spec_field(
        "choice", "", "what tier floors count: quote notional, or base units (OKX contracts: write "
        "contracts x ctVal)", default="notional", choices=("notional", "base"),
        kernel={"C_TIER_BASE": lambda s, slot: 1.0 if s.tier_unit == "base" else 0.0})
    cross_liquidation: str = spec_field(
        "choice", "", "several perps in one cross account: \"all\" closes every one at the breach (the only "
        "rule modelled; docs/architecture.md §4)", default="all", choices=("all",))
    collateral: dict = spec_field(
        "ratios", "ratio (0, 1] per asset", "assets other than the quote that count as margin and their "
        "collateral value ratio (0.95 = valued at 95 %); an asset left out is not collateral here (spot "
        "collateral or a collateral asset on it is refused); the quote counts in full and is not listed",
        gt=0.0, le=1.0, overridable=True,
        kernel={"C_HAIRCUT": lambda s, slot: 1.0 - s.collateral.get(slot.base, 0.0),
                "C_COLL_RATIO": lambda s, slot: s.collateral.get(slot.collateral_asset, 0.0)})
    # -- the money path (issue 23): the venue's insurance fund and how it reports a liquidation price
    insurance_fund: dict = spec_field(
        "caps", "quote per symbol", "the venue's insurance fund for each base asset's perp at this block's date "
        "(one number for every symbol, or BASE = size, \"*\" for the rest): drawn by liquidation deficits beyond "
        "the bankruptcy price and by market-wide `bankruptcy` venue events, fed by clearance fees and margin lost at "
        "bankruptcy; a deficit it cannot cover is socialized (ADL, docs/architecture.md §4). No venue publishes "
        "per-symbol sizes we have on record: mark the number `# approximate:`", ge=0.0, lt=1e15, overridable=True,
        kernel={"C_FUND_SIZE": lambda s, slot: s.fund_for(slot.base)})
    liq_price_tick: dict = spec_field(
        "caps", "price per base asset", "the tick the venue rounds its REPORTED liquidation price to, one tick "
        "toward the mark (OKX ETH 0.01: root 2,722.1497 reported 2,722.16): records, ctx.margin and distance "
        "metrics only, never where the engine liquidates; absent: the exact root", default={}, ge=0.0, lt=1e6,
        kernel={"C_LIQ_TICK": lambda s, slot: s.tick_for(slot.base)})
    adl_model: str = spec_field(
        "choice", "", "how the venue auto-deleverages a profitable opposite position when another account goes "
        "bankrupt (venue events `bankruptcy`, `adl`): \"leverage_pnl\" ranks by Binance's LeveragePnl and closes "
        "at the bankrupt's price (the event's); \"previous_mark\" ranks by (mark / entry) x (notional / account "
        "value) (entry / mark for a short) and closes at the previous mark (Hyperliquid)", default="leverage_pnl",
        choices=("leverage_pnl", "previous_mark"), quiet_default=True)
    withdrawal_fee: float = spec_field(
        "number", "quote units per transfer", "charged on every transfer out of the venue", ge=0.0, le=1e6,
        overridable=True)
    withdrawal_delay_min: float = spec_field(
        "number", "minutes", "time a transfer out of the venue is in transit (neither here nor there)", ge=0.0,
        le=43200.0, overridable=True)
    deposit_delay_min: float = spec_field(
        "number", "minutes", "time a transfer into the venue takes on top of its source's delay (a bridge: "
        "Hyperliquid credits USDC sent to its Arbitrum bridge in under a minute)", default=0.0, ge=0.0,
        le=43200.0, overridable=True, quiet_default=True)
    portfolio_margin: bool = spec_field(
        "bool", "", "whether a run may set margin_mode = \"portfolio\" (Binance Portfolio Margin's preset) here; "
        "false where the venue's own portfolio margin is not that preset and is not modelled (Hyperliquid: "
        "pre-alpha from 2025-12-23, only HYPE counts as collateral)", default=True, quiet_default=True)
    tiers: dict = spec_field(
        "tiers", "table per base asset", "maintenance tiers of each base asset's perp, lowest first "
        "([[spec.tiers.ETH]] rows: floor, rate, amount, max_leverage)")
    sources: dict = spec_field(
        "sources", "text per key", "where each number comes from: key -> page, URL, date (not part of a run's "
        "identity)", default={})

    # -- values derived from the fields (after overrides: they follow taker_fee)
    @property
    def trigger_rate(self) -> float:
        """trigger_fee as a fraction: "taker" is this block's taker fee."""
        return self.taker_fee if self.trigger_fee == "taker" else float(self.trigger_fee)

    @property
    def close_fee_rate(self) -> float:
        """The fee rate to close at the bankruptcy price counted in maintenance (Bybit: the taker fee), else 0."""
        return self.taker_fee if self.close_fee_in_maintenance else 0.0

    @property
    def withdrawal_delay_s(self) -> float:
        return float(self.withdrawal_delay_min) * 60.0

    @property
    def deposit_delay_s(self) -> float:
        return float(self.deposit_delay_min) * 60.0

    @property
    def partial_liquidation(self) -> bool:
        """True when a breach first steps the position down the tiers (partial = "step")."""
        return self.partial == "step"

    def collateral_ratio(self, asset: str) -> float:
        """The collateral value ratio of `asset` here: 1 for the quote, 0 for an asset that is not collateral."""
        return 1.0 if asset == self.quote else float(self.collateral.get(asset, 0.0))

    def cap_for(self, base: str | None = None) -> float:
        """|funding rate| cap per settlement for `base` (caps are per symbol); None: the widest of the block."""
        if base is not None and base in self.funding_cap:
            return float(self.funding_cap[base])
        if base is not None and "*" in self.funding_cap:
            return float(self.funding_cap["*"])
        return float(max(self.funding_cap.values()))

    def fund_for(self, base: str) -> float:
        """The insurance fund for `base`'s perp at this block (quote); "*" = any other base, 0 if none is given."""
        return float(self.insurance_fund.get(base, self.insurance_fund.get("*", 0.0)))

    def tick_for(self, base: str) -> float:
        """The tick of `base`'s reported liquidation price (0: the venue reports the exact root)."""
        return float(self.liq_price_tick.get(base, self.liq_price_tick.get("*", 0.0)))

    def tier_table(self, base: str) -> TierTable:
        """The TierTable of `base` (VenueSpecError naming the bases the block has)."""
        try:
            return self.tiers[base]
        except KeyError:
            raise VenueSpecError(f"{self.name}: no margin tiers for {base}; have {sorted(self.tiers)}") from None

    @property
    def funding(self) -> FundingFormula:
        """This block's FundingFormula (data/funding_formula.py): the rate a premium prints."""
        from basisbt.data.funding_formula import FundingFormula
        return FundingFormula(self.funding_formula, self.funding_interest or 0.0, self.funding_clamp or 0.0,
                              float(self.funding_base_h))


# columns the run fills (not venue fields): the strategy's margin set-up, the run's slippage, the slot layout
RUN_COLUMNS: dict[str, str] = {
    "C_SPOT_COLL": "1.0 if spot on the venue counts as perp margin (ctx.configure(spot_collateral=True))",
    "C_ISOLATED": "1.0 for isolated margin, 0.0 for cross (ctx.configure(isolated=True))",
    "C_SLIP": "fixed slippage, fraction of price (RunConfig.slippage)",
    "C_SLIP_IMPACT": "volume model: extra slippage = impact x sqrt(order qty / bar volume)",
    "C_HOME_OFF": "offset back to the slot that holds the venue's cash (0: the slot is its own home)",
}


def _rules(cls: type) -> dict[str, Rule]:
    return {f.name: f.metadata["rule"] for f in dataclasses.fields(cls)}


SPEC_RULES: dict[str, Rule] = _rules(VenueSpec)
TIER_RULES: dict[str, Rule] = _rules(TierRow)
FILE_KEYS = tuple(k for k, r in SPEC_RULES.items() if r.level == "file") + ("spec",)
BLOCK_KEYS = tuple(k for k, r in SPEC_RULES.items() if r.level == "block")
OVERRIDABLE = tuple(k for k, r in SPEC_RULES.items() if r.overridable)

# the kernels' per-slot cfg columns: the venue fields' columns in field order, then the run's
CFG_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(
    [c for r in SPEC_RULES.values() for c in r.kernel] + list(RUN_COLUMNS)))

# keys of older files and configs, refused with what replaced them
RENAMED = {
    "haircuts": "collateral = { ASSET = ratio } (ratio = 1 - haircut; the quote is not listed, an asset left out "
                "is not collateral)",
    "haircut": "collateral = { ASSET = ratio } (ratio = 1 - haircut)",
    "collateral_ratio": "collateral = { ASSET = ratio } (e.g. collateral = { USDe = 0.9 })",
    "partial_liquidation": "partial = \"step\" (with partial_from_tier, partial_tiers)",
}

# venue_overrides presets: margin_mode = "portfolio" is Binance Portfolio Margin (docs/venue-facts.md):
# liquidated at uniMMR <= 1.05; collateral rates BTC/ETH 0.95, USDT/USDC 0.9999 (USDe: no recorded rate, the
# stable rate). Keys given next to it win; its collateral ratios are merged into the file's table.
MARGIN_MODES: dict[str, dict[str, Any]] = {
    "standard": {},
    "portfolio": {"liquidation_threshold": 1.05, "collateral": {"ETH": 0.95, "BTC": 0.95, "USDe": 0.9999}},
}


def kernel_values(spec: VenueSpec, slot: SlotContext) -> dict[str, float]:
    """The cfg values of one slot from its venue's spec block: {column: value} for every venue-field column."""
    out: dict[str, float] = {}
    for name, r in SPEC_RULES.items():
        for col, fn in r.kernel.items():
            out[col] = float(getattr(spec, name) if fn is None else fn(spec, slot))
    return out


# -- checking values ------------------------------------------------------------------------------------------
_ASSET = re.compile(r"[A-Za-z0-9]{1,20}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _number(value: Any, r: Rule, where: str, key: str, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise VenueSpecError(f"{where}: {key} = {value!r}: expected {'a whole number' if integer else 'a number'}"
                          f" ({r.unit or r.kind})")
    v = float(value)
    if not in_range(v, **r.bounds):
        unit = f" ({r.unit})" if r.unit else ""
        raise VenueSpecError(f"{where}: {key} = {value!r} is out of range; valid: {range_text(key, **r.bounds)}{unit}")
    return int(value) if integer else v


def _table(value: Any, where: str, key: str, what: str) -> dict:
    if not isinstance(value, dict):
        raise VenueSpecError(f"{where}: {key} = {value!r}: expected a table {what}"[:300])
    return value


def _keyed(value: Any, r: Rule, where: str, key: str, pattern: re.Pattern, form: str, what: str) -> dict[str, float]:
    """A table NAME = number: each name matching `pattern`, each number checked by the rule."""
    out = {}
    for name, v in _table(value, where, key, f"of {form}").items():
        if not pattern.fullmatch(str(name)):
            raise VenueSpecError(f"{where}: {key}.{name}: not {what}")
        out[str(name)] = _number(v, r, where, f"{key}.{name}")
    return out


def check_value(r: Rule, value: Any, where: str, key: str) -> Any:
    """`value` of key `key` checked and converted by its rule (VenueSpecError naming where and the key)."""
    kind = r.kind
    if kind in ("fraction", "number"):
        return _number(value, r, where, key)
    if kind == "int":
        return _number(value, r, where, key, integer=True)
    if kind == "bool":
        if not isinstance(value, bool):
            raise VenueSpecError(f"{where}: {key} = {value!r}: give true or false")
        return value
    if kind == "choice":
        if value not in r.choices:
            raise VenueSpecError(f"{where}: {key} = {value!r}; valid: {', '.join(map(repr, r.choices))}")
        return value
    if kind in ("text", "asset"):
        if not isinstance(value, str) or not value or (kind == "asset" and not _ASSET.fullmatch(value)):
            raise VenueSpecError(f"{where}: {key} = {value!r}: expected {'an asset symbol such as USDT' if kind == 'asset' else 'a name'}")
        return value
    if kind == "date":
        return _date(value, where, key)
    if kind == "fee_or_taker":
        if value == "taker":
            return value
        if isinstance(value, str):
            raise VenueSpecError(f"{where}: {key} = {value!r}; give a fraction in [0, 0.01) or \"taker\"")
        return _number(value, r, where, key)
    if kind == "caps":
        caps = dict(value) if isinstance(value, dict) else {"*": value}
        if not caps:
            raise VenueSpecError(f"{where}: {key} = {{}}: give one number or BASE = number entries")
        return {str(k): _number(v, r, where, f"{key}.{k}") for k, v in caps.items()}
    if kind == "ratios":
        return _keyed(value, r, where, key, _ASSET, "ASSET = ratio", "an asset symbol")
    if kind == "weights":
        out = _keyed(value, r, where, key, _NAME, "VENUE = weight", "a venue name (lower case letters, digits, - and _)")
        if not out:
            raise VenueSpecError(f"{where}: {key} = {{}}: give at least one VENUE = weight")
        return out
    if kind == "sources":
        src = _table(value, where, key, "of key = \"text\"")
        bad = [k for k, v in src.items() if not isinstance(v, str)]
        if bad:
            raise VenueSpecError(f"{where}: {key}.{bad[0]} = {src[bad[0]]!r}: a source is text")
        return dict(src)
    if kind == "tiers":
        return _table(value, where, key, "of BASE = [[rows]]")    # rows are checked in parse_block
    raise AssertionError(f"unknown rule kind {kind!r}")           # pragma: no cover (a schema bug)


def _date(value: Any, where: str, key: str) -> Any:
    import datetime as dt

    import pandas as pd
    if isinstance(value, dt.datetime):
        ts = pd.Timestamp(value)
    elif isinstance(value, (dt.date, str)):
        try:
            ts = pd.Timestamp(str(value))
        except ValueError:
            ts = None
        if ts is None or ts is pd.NaT:
            raise VenueSpecError(f"{where}: {key} = {value!r}: expected a date such as \"2024-10-01\"")
    else:
        raise VenueSpecError(f"{where}: {key} = {value!r}: expected a date such as \"2024-10-01\"")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _unknown(where: str, key: str, valid: tuple[str, ...] | list[str]) -> VenueSpecError:
    if key in RENAMED:
        return VenueSpecError(f"{where}: {key!r} is no longer read; use {RENAMED[key]}")
    return VenueSpecError(f"{where}: unknown key {key!r}{did_you_mean(key, valid)}; valid: {', '.join(valid)}")


def _used(r: Rule, values: dict[str, Any]) -> bool:
    if r.used_when is None:
        return True
    other, allowed = r.used_when
    return values.get(other, SPEC_RULES[other].default) in allowed


def _check_presence(rules: dict[str, Rule], raw: dict, values: dict[str, Any], where: str,
                    context: dict[str, Any]) -> None:
    """Required keys where used, refused where they would do nothing; defaults filled in `values`."""
    for key, r in rules.items():
        used = _used(r, context)
        if key in raw and not used:
            other, allowed = r.used_when  # type: ignore[misc]
            raise VenueSpecError(f"{where}: {key} does nothing with {other} = {context.get(other)!r} (used only with "
                              f"{other} = {' or '.join(map(repr, allowed))}); remove it")
        if key not in raw:
            if used and r.required:
                raise VenueSpecError(f"{where}: lacks key {key!r} ({r.doc.split(';')[0]})")
            values[key] = None if r.required else (dict(r.default) if isinstance(r.default, dict) else r.default)


def _tier_table(rows: Any, where: str, base: str, block: dict[str, Any]) -> TierTable:
    if not isinstance(rows, list) or not rows or not all(isinstance(x, dict) for x in rows):
        raise VenueSpecError(f"{where}: tiers.{base}: expected [[spec.tiers.{base}]] rows")
    checked = []
    for k, row in enumerate(rows, 1):
        at = f"{where}: tiers.{base} row {k}"
        vals: dict[str, Any] = {}
        for key, value in row.items():
            if key not in TIER_RULES:
                raise _unknown(at, key, tuple(TIER_RULES))
            vals[key] = check_value(TIER_RULES[key], value, at, key)
        _check_presence(TIER_RULES, row, vals, at, block)
        checked.append(vals)
    floor = np.array([r["floor"] for r in checked])
    rate = np.array([r["rate"] for r in checked])
    amount = np.array([r["amount"] or 0.0 for r in checked])
    lev = np.array([r["max_leverage"] if r["max_leverage"] is not None else 1.0 / r["rate"] / 2 for r in checked])
    if floor[0] != 0 or np.any(np.diff(floor) <= 0) or np.any(np.diff(rate) < 0):
        raise VenueSpecError(f"{where}: tiers.{base} must start at floor 0 with rising floors and rates")
    return TierTable(floor, rate, amount, lev)


def parse_block(raw: dict, where: str, file_values: dict[str, Any]) -> VenueSpec:
    """One [[spec]] block (raw TOML values) checked against the schema; `file_values` holds name and quote."""
    if not isinstance(raw, dict):
        raise VenueSpecError(f"{where}: a [[spec]] block must be a table")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        r = SPEC_RULES.get(key)
        if r is None or r.level != "block":
            raise _unknown(where, key, BLOCK_KEYS)
        values[key] = check_value(r, value, where, key)
    block_rules = {k: r for k, r in SPEC_RULES.items() if r.level == "block"}
    _check_presence(block_rules, raw, values, where, values)
    if values.get("liquidation_price") == "book" and values.get("partial") == "step":
        raise VenueSpecError(f"{where}: partial = \"step\" does nothing with liquidation_price = \"book\" (a book "
                             f"liquidation goes in liquidation_slice orders); remove it")
    if values["maker_fee"] > 0 and values["maker_rebate"] > 0 or \
            values["spot_maker_fee"] > 0 and values["spot_maker_rebate"] > 0:
        raise VenueSpecError(f"{where}: maker_fee and maker_rebate (or the spot pair) both set; give a fee or a "
                          f"rebate, not both")
    quote = file_values.get("quote")
    if quote in values["collateral"]:
        raise VenueSpecError(f"{where}: collateral.{quote}: the quote counts in full and is not listed")
    if not values["tiers"]:
        raise VenueSpecError(f"{where}: tiers: give at least one [[spec.tiers.BASE]] table")
    values["tiers"] = {str(b): _tier_table(rows, where, str(b), values) for b, rows in values["tiers"].items()}
    return VenueSpec(**file_values, **values)


def parse_file(doc: dict, where: str, stem: str | None = None) -> tuple[VenueSpec, ...]:
    """Every block of a venue document (a parsed TOML file), oldest first; `stem` = the file's, checked against name."""
    if not isinstance(doc, dict):
        raise VenueSpecError(f"{where}: not a venue file")
    for key in doc:
        if key not in FILE_KEYS:
            raise _unknown(where, key, FILE_KEYS)
    file_values: dict[str, Any] = {}
    for key in ("name", "quote"):
        if key not in doc:
            raise VenueSpecError(f"{where}: lacks key {key!r} ({SPEC_RULES[key].doc.split(';')[0]})")
        file_values[key] = check_value(SPEC_RULES[key], doc[key], where, key)
    if stem is not None and file_values["name"] != stem:
        raise VenueSpecError(f"{where}: name = {file_values['name']!r} must equal the file name ({stem!r})")
    blocks = doc.get("spec")
    if not isinstance(blocks, list) or not blocks:
        raise VenueSpecError(f"{where}: no [[spec]] blocks")
    specs = []
    for k, raw in enumerate(blocks, 1):
        at = f"{where}: [[spec]] {k}" + (f" (effective_from {raw['effective_from']})"
                                         if isinstance(raw, dict) and "effective_from" in raw else "")
        specs.append(parse_block(raw, at, file_values))
    specs.sort(key=lambda s: s.effective_from)
    starts = [s.effective_from for s in specs]
    if len(set(starts)) != len(starts):
        raise VenueSpecError(f"{where}: two [[spec]] blocks start on the same effective_from")
    return tuple(specs)


def identity_values(spec: VenueSpec) -> dict[str, Any]:
    """What a block says, as its fingerprint hashes it: to_raw without the sources (they do not change a run) and
    without fields marked quiet_default while at their default (fields added later: a venue not using one keeps
    the fingerprint it had before the field existed)."""
    return {k: v for k, v in to_raw(spec).items()
            if k != "sources" and not (SPEC_RULES[k].quiet_default and v == SPEC_RULES[k].default)}


def to_raw(spec: VenueSpec) -> dict[str, Any]:
    """A block back in the form a file writes it (what parse_block reads): replace() edits this and re-checks it."""
    out: dict[str, Any] = {}
    for key, r in SPEC_RULES.items():
        if r.level != "block":
            continue
        v = getattr(spec, key)
        if v is None or (isinstance(v, dict) and not v and r.default == {}):     # an empty optional table
            continue
        if key == "effective_from":
            v = v.isoformat()
        elif key == "tiers":
            v = {b: [{"floor": float(t.floor[k]), "rate": float(t.rate[k]),
                      **({"amount": float(t.amount[k])} if spec.maintenance == "deduction" else {}),
                      "max_leverage": float(t.max_leverage[k])} for k in range(len(t.floor))]
                 for b, t in v.items()}
        elif isinstance(v, dict):
            v = dict(v)
        if r.used_when is not None and not _used(r, {k: getattr(spec, k) for k in SPEC_RULES}):
            continue
        out[key] = v
    return out


# -- run overrides (venue_overrides) -------------------------------------------------------------------------
def check_override(venue: str, key: str, value: Any) -> Any:
    """One venue_overrides key checked by its rule, without the venue's file (VenueSpecError naming venue and key)."""
    where = f"venue_overrides.{venue}"
    if key == "margin_mode":
        if value not in MARGIN_MODES:
            raise VenueSpecError(f"{where}.margin_mode = {value!r}; valid: {', '.join(MARGIN_MODES)}")
        return value
    r = SPEC_RULES.get(key)
    if r is None or not r.overridable:
        raise _unknown(where, key, list(OVERRIDABLE) + ["margin_mode"])
    if r.kind in ("fraction", "number") and isinstance(value, str):      # --set style text
        try:
            value = float(value)
        except ValueError:
            raise VenueSpecError(f"{where}.{key} = {value!r}: expected float") from None
    return check_value(r, value, where, key)


def override_changes(venue: str, kv: dict[str, Any], file_collateral: dict[str, float]) -> dict[str, Any]:
    """A venue_overrides table as changes to the venue's block fields: margin_mode expanded (explicit keys win),
    collateral merged into the file's table, a maker fee and a maker rebate replacing each other."""
    kv = {k: check_override(venue, k, v) for k, v in kv.items()}
    preset = dict(MARGIN_MODES[kv.pop("margin_mode", "standard")])
    if "maker_fee" in kv and "maker_rebate" in kv or "spot_maker_fee" in kv and "spot_maker_rebate" in kv:
        raise VenueSpecError(f"venue_overrides.{venue}: give a maker fee or a maker rebate, not both")
    coll = {**file_collateral, **preset.pop("collateral", {}), **kv.pop("collateral", {})}
    changes: dict[str, Any] = {**preset, **kv}
    if coll != file_collateral:
        changes["collateral"] = coll
    for fee, rebate in (("maker_fee", "maker_rebate"), ("spot_maker_fee", "spot_maker_rebate")):
        if fee in kv:
            changes[rebate] = 0.0
        if rebate in kv:
            changes[fee] = 0.0
    return changes
