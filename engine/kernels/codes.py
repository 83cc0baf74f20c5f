"""Integer codes shared by kernels and the Python layer, each table declared once with its labels and docs.

A table is a NamedTuple instance of 0..n-1 (`codes(...)`): numba reads a global NamedTuple's fields as
compile-time ints (`LEDGER.FUNDING`, as vectorbt's enums do), Python reads `LEDGER.labels[k]` (what Results and
reports show) and the docs read `LEDGER.docs[k]` (docs/architecture.md §5 tables, written by docs/generate.py).
The kernels' short names (`K_FUNDING`) are unpacked from the table, so a name, its number, its label and its
description cannot fall out of step: one row says all four. Array column layouts (account state, records, ledger,
transfers, liquidation rows) are tables too, their widths (`N_ACCT`...) their lengths. The cfg columns are laid out
by the venue schema (data/venue_schema.py CFG_COLUMNS). This file is hashed into the numba cache key
(engine/kernels/__init__.py): a changed table recompiles the kernels.
"""
from __future__ import annotations

from collections import namedtuple
from typing import cast

from basisbt.data.venue_schema import CFG_COLUMNS


class CodeTable(tuple[int, ...]):
    """What a code table is to a type checker: ints, with `.labels` and `.docs` and a field per code (at run time
    each table is a NamedTuple of its own, made by `codes`)."""

    labels: tuple[str, ...]
    docs: tuple[str, ...]
    _fields: tuple[str, ...]

    def __getattr__(self, name: str) -> int: ...


def codes(typename: str, rows: tuple[tuple[str, str, str], ...]) -> CodeTable:
    """A code table from (NAME, label, description) rows: a NamedTuple `typename` of the codes 0..n-1 (numba
    reads `TABLE.NAME` as a compile-time int), with `.labels` and `.docs` (one per code) on its type."""
    cls = namedtuple(typename, [name for name, _, _ in rows])            # type: ignore[misc]
    cls.labels = tuple(label for _, label, _ in rows)
    cls.docs = tuple(doc for _, _, doc in rows)
    return cast(CodeTable, cls(*range(len(rows))))


INSTRUMENT = codes("Instrument", (
    ("SPOT", "spot", "the venue's spot market: base units bought with, and sold for, quote cash"),
    ("PERP", "perp", "the venue's linear perpetual: a signed position margined in quote (short < 0)"),
))
SPOT, PERP = INSTRUMENT
INSTRUMENTS = INSTRUMENT.labels

# columns of the per-venue account state `acct` (V, N_ACCT); with several assets a row is one (venue, asset)
# slot, and A_CASH / A_COLL are used on the venue's home slot only (C_HOME_OFF)
ACCT = codes("AccountColumn", (
    ("CASH", "cash", "quote cash on the venue (cross-margin wallet)"),
    ("SPOT", "spot", "spot base units held on the venue"),
    ("QTY", "qty", "signed perp position, base units (short < 0)"),
    ("ENTRY", "entry", "average entry price of the perp position"),
    ("ISO", "isolated", "isolated margin assigned to the perp (quote); 0 in cross mode"),
    ("COLL", "collateral", "units of the venue's collateral asset (USDe-like, own price series); margin at price x "
                           "ratio"),
    ("FUND", "insurance_fund", "the venue's insurance fund for this slot's symbol (quote): the venue's money, not the "
                               "account's; drawn by deficits beyond bankruptcy, fed by the clearance fee (§4)"),
    # a book liquidation in progress (C_BOOK venues, Hyperliquid): what its slices are a share of, and when the next
    ("LIQ_BASE", "liq_base", "|position| when a book liquidation began (slices are C_SLICE of it); 0 when none is "
                             "under way"),
    ("WAIT", "wait", "on the account's wallet row: bars to wait at the next bar's open before the next slice"),
))
A_CASH, A_SPOT, A_QTY, A_ENTRY, A_ISO, A_COLL, A_FUND, A_LIQ_BASE, A_WAIT = ACCT
N_ACCT = len(ACCT)

# columns of the per-slot configuration `vcfg` (S, N_CFG): laid out by the venue schema (data/venue_schema.py
# CFG_COLUMNS: each venue field's kernel columns in field order, then the run's), which also says what fills each
# one (`kernel_values`) and documents it (docs/venues.md). numba freezes these numbers into the compiled kernels;
# the cache key hashes the schema file too (engine/kernels/__init__.py), so a new layout recompiles.
_CFG = {name: k for k, name in enumerate(CFG_COLUMNS)}
C_TAKER = _CFG["C_TAKER"]                  # perp taker fee, fraction of notional
C_MAKER = _CFG["C_MAKER"]                  # perp maker fee less the maker rebate
C_SPOT_TAKER = _CFG["C_SPOT_TAKER"]
C_SPOT_MAKER = _CFG["C_SPOT_MAKER"]
C_LIQ_FEE = _CFG["C_LIQ_FEE"]              # liquidation (clearance) fee, fraction of liquidated notional
C_HAIRCUT = _CFG["C_HAIRCUT"]              # 1 - collateral ratio of the slot's base asset posted as margin
C_SPOT_COLL = _CFG["C_SPOT_COLL"]          # 1.0 if spot on the venue counts as perp margin (Ethena set-up)
C_ISOLATED = _CFG["C_ISOLATED"]            # 1.0 for isolated margin, 0.0 for cross
C_SLIP = _CFG["C_SLIP"]                    # fixed slippage, fraction of price
C_SLIP_IMPACT = _CFG["C_SLIP_IMPACT"]      # volume model: extra slippage = impact * sqrt(order qty / bar volume)
C_PARTIAL = _CFG["C_PARTIAL"]              # 1.0: liquidation first steps the position down the tiers
# venue liquidation models (docs/architecture.md §4, spec fields in data/venues/*.toml)
C_TRIGGER_FEE = _CFG["C_TRIGGER_FEE"]      # added to the tier rate in the breach test (OKX: taker fee; 0 elsewhere)
C_CLOSE_FEE = _CFG["C_CLOSE_FEE"]          # fee rate to close at the bankruptcy price, in maintenance (Bybit: taker)
C_BANKRUPTCY = _CFG["C_BANKRUPTCY"]        # 1.0: a full liquidation takes the position over at the bankruptcy price
C_BOOK = _CFG["C_BOOK"]                    # 1.0: sold into the book, no fee (Hyperliquid): the four columns below
C_SLICE = _CFG["C_SLICE"]                  # share of the position per order above C_SLICE_ABOVE (0.2)
C_SLICE_ABOVE = _CFG["C_SLICE_ABOVE"]      # notional above which the book liquidation goes in slices (100,000)
C_COOLDOWN_S = _CFG["C_COOLDOWN_S"]        # seconds between two slices (30)
C_BACKSTOP = _CFG["C_BACKSTOP"]            # below this x the level the liquidator vault takes the account (2/3)
C_PARTIAL_FROM = _CFG["C_PARTIAL_FROM"]    # 1-based tier from which a breach first steps down (OKX 3)
C_PARTIAL_TIERS = _CFG["C_PARTIAL_TIERS"]  # tiers stepped down at a time (OKX 2, Bybit 1)
C_TIER_BASE = _CFG["C_TIER_BASE"]          # 1.0: tier floors are in base units (|qty|, OKX contracts x ctVal)
C_COLL_RATIO = _CFG["C_COLL_RATIO"]        # collateral ratio of the collateral asset (A_COLL): margin at price x ratio
C_MM_THRESHOLD = _CFG["C_MM_THRESHOLD"]    # breach when margin balance <= threshold x maintenance (PM 1.05)
# several assets: each (venue, asset) pair is a row ("slot") of acct/cfg; a venue's slots are contiguous and
# share one cross wallet, held on the venue's first slot (its home): home = v - cfg[v, C_HOME_OFF]
C_HOME_OFF = _CFG["C_HOME_OFF"]            # offset back to the slot that holds the venue's cash (0: its own home)
# the money path (issue 23): the reported liquidation price's tick, and the symbol's insurance fund at the block
C_LIQ_TICK = _CFG["C_LIQ_TICK"]            # tick of the REPORTED liquidation price (OKX); 0 = the exact root
C_FUND_SIZE = _CFG["C_FUND_SIZE"]          # the symbol's insurance fund in force (quote; A_FUND starts here)
N_CFG = len(CFG_COLUMNS)

# PnL parts (columns of the pnl records and of Results.attribution; engine/results.PNL_PARTS are the labels)
PNL = codes("PnlPart", (
    ("FUNDING", "funding", "funding paid (-) or received (+) by the perps"),
    ("BASIS", "basis", "the change of perp - spot on the hedged quantity: a hedge's mark-to-market"),
    ("PRICE", "price", "the residual delta: spot and perp not offsetting (unhedged quantity x price move)"),
    ("FEES", "fees", "trading fees, conversions and withdrawal fees (-); a maker rebate (+)"),
    ("SLIPPAGE", "slippage", "fills away from the reference price (-)"),
    ("LENDING", "lending", "interest on money lent to a protocol (+)"),
    ("LIQUIDATION", "liquidation", "liquidation fees, insurance, socialized and default losses, backstop take-overs"),
))
P_FUNDING, P_BASIS, P_PRICE, P_FEES, P_SLIPPAGE, P_LENDING, P_LIQUIDATION = PNL
N_PNL = len(PNL)

# per-venue per-bar record columns: the book at the bar's close (what Context reads) and its margin
REC = codes("RecordColumn", (
    ("SPOT", "spot_qty", "spot base units held"),
    ("QTY", "perp_qty", "signed perp position, base units"),
    ("MARGIN", "margin_balance", "margin balance (quote)"),
    ("MAINT", "maint_margin", "maintenance margin (quote)"),
    ("LIQ_PX", "liq_px", "liquidation price (NaN without a position)"),
    ("CASH", "cash", "quote cash on the venue"),
    ("ENTRY", "entry", "average entry price of the perp"),
    ("ISO", "isolated", "isolated margin (quote)"),
    ("COLL", "collateral", "collateral-asset units held (A_COLL)"),
))
R_SPOT, R_QTY, R_MARGIN, R_MAINT, R_LIQ_PX, R_CASH, R_ENTRY, R_ISO, R_COLL = REC
N_REC = len(REC)

# ledger kinds: every cash movement (quote units, + in / - out of the holder)
LEDGER = codes("LedgerKind", (
    ("SPOT_TRADE", "spot_trade", "cash paid (-) or received (+) for spot"),
    ("REALIZED", "realized_pnl", "realized perp PnL on reducing a position"),
    ("FEE", "fee", "trading fee (-); a maker rebate (+); a conversion between quotes (-)"),
    ("FUNDING", "funding", "funding paid (-) or received (+)"),
    ("LENDING", "lending_interest", "lending interest credited to a protocol balance (+)"),
    ("LIQ_FEE", "liquidation_fee", "liquidation (clearance) fee (-), or the margin lost at the bankruptcy price"),
    ("INSURANCE", "insurance", "shortfall absorbed by the venue's insurance fund (+ to the account)"),
    ("TRANSFER_OUT", "transfer_out", "money leaving a venue or protocol (-)"),
    ("TRANSFER_IN", "transfer_in", "money arriving at a venue (+)"),
    ("LEND_SUPPLY", "lending_supply", "money arriving in a lending protocol (+)"),
    ("WITHDRAWAL_FEE", "withdrawal_fee", "the source venue's fee on a transfer out (-)"),
    ("DEPOSIT", "deposit", "initial capital, and external capital added later (e.g. mints)"),
    ("WITHDRAWAL", "withdrawal", "external capital taken out (e.g. redemptions) (-)"),
    ("ADL", "adl", "realized perp PnL of a position the venue auto-deleveraged (a venue event)"),
    ("DEFAULT_LOSS", "default_loss", "the part of a defaulted venue's balance that is not recovered (-)"),
    ("COLL_TRADE", "collateral_trade", "cash paid (-) for collateral-asset units, or received (+) when they are sold "
                                       "(at liquidation too)"),
    ("SOCIALIZED", "socialized", "a deficit beyond the insurance fund, covered by ADL of other traders' opposite "
                                 "positions (+)"),
    ("BACKSTOP", "backstop", "the cross (or isolated) margin a venue's liquidator vault takes over with the positions "
                             "(-)"),
))
(K_SPOT_TRADE, K_REALIZED, K_FEE, K_FUNDING, K_LENDING, K_LIQ_FEE, K_INSURANCE, K_TRANSFER_OUT, K_TRANSFER_IN,
 K_LEND_SUPPLY, K_WITHDRAWAL_FEE, K_DEPOSIT, K_WITHDRAWAL, K_ADL, K_DEFAULT_LOSS, K_COLL_TRADE, K_SOCIALIZED,
 K_BACKSTOP) = LEDGER
LEDGER_KINDS = LEDGER.labels

# ledger integer columns (ledger_i); the amount lives in ledger_f
LEDGER_COL = codes("LedgerColumn", (
    ("TS", "ts", "time of the movement, int64 ns UTC"),
    ("VENUE", "venue", "venue index, or V + protocol index for lending, -1 for none"),
    ("KIND", "kind", "a LEDGER code"),
    ("REF", "ref", "fill id, liquidation id or -1"),
))
L_TS, L_VENUE, L_KIND, L_REF = LEDGER_COL
N_LEDGER_I = len(LEDGER_COL)

# in-transit transfers (K, N_TRANSIT); amount 0 marks a free slot
TRANSIT = codes("TransitColumn", (
    ("ARRIVE_NS", "arrive_ns", "when the money arrives (int64 ns as float)"),
    ("DEST", "dest", "venue index, or V + protocol index"),
    ("AMOUNT", "amount", "quote units on their way; 0 marks a free slot"),
))
T_ARRIVE_NS, T_DEST, T_AMOUNT = TRANSIT
N_TRANSIT = len(TRANSIT)

# what a venue did with an order (fill_order's status) and why it refused it. Venues refuse an order they cannot
# take whole (Binance -2010 insufficient balance, -2019 margin is insufficient): nothing is cut any more.
ORDER = codes("OrderStatus", (
    ("FILLED", "filled", "the order filled whole"),
    ("REDUCED", "reduced", "not produced any more (orders are never cut); kept so old codes keep their meaning"),
    ("REFUSED", "refused", "the venue refused the order whole (the reason says why)"),
    ("CANCELLED", "cancelled", "the venue cancelled a resting limit order"),
))
O_FILLED, O_REDUCED, O_REFUSED, O_CANCELLED = ORDER
ORDER_STATUS = ORDER.labels
REJECT = codes("RejectReason", (
    ("NONE", "", "not refused"),
    ("CASH", "not enough cash", "a spot buy costs more than the venue's cash (fee included); also a transfer out of "
                                "the venue (move_collateral, lend), a collateral buy or an isolated-margin top-up"),
    ("HOLDINGS", "more than the spot held", "a spot sell exceeds the spot held (spot cannot be shorted)"),
    ("MARGIN", "initial margin above margin balance", "a perp order needs more initial margin than the margin "
                                                      "balance (the tier's max leverage)"),
    ("HALTED", "venue halted", "the venue's trading (or withdrawals, for a transfer) is halted (a venue event)"),
    ("DEFAULTED", "venue defaulted", "the venue has defaulted: nothing trades or moves there any more"),
    ("POST_ONLY", "would take liquidity (post-only)", "a limit order that would trade at once: maker orders are "
                                                      "post-only"),
    ("EXPIRED", "expired", "a resting limit order reached its expiry unfilled"),
    ("LIQUIDATED", "position liquidated or deleveraged", "the venue cancels a liquidated (or auto-deleveraged) "
                                                         "position's resting orders"),
    ("BALANCE", "more than the balance", "a withdrawal above what is supplied to a lending protocol, a collateral "
                                         "sale above the units held, an isolated-margin cut above the margin there"),
))
(WHY_NONE, WHY_CASH, WHY_HOLDINGS, WHY_MARGIN, WHY_HALTED, WHY_DEFAULTED, WHY_POST_ONLY, WHY_EXPIRED,
 WHY_LIQUIDATED, WHY_BALANCE) = REJECT
REJECT_REASONS = REJECT.labels

# why an advance stopped
STOP = codes("StopCode", (
    ("END", "end", "the last bar asked for was run"),
    ("LIQUIDATION", "liquidation", "a liquidation: its rows are in the report (LIQ), the engine tells the strategy"),
    ("LEDGER_FULL", "ledger_full", "the ledger buffer is full: the engine grows it and runs on"),
))
STOP_END, STOP_LIQUIDATION, STOP_LEDGER_FULL = STOP

# which mechanism closed a liquidated position (a liquidation row's KIND; Results.liquidations `kind`), in the
# venues' own words: OKX's and Bybit's "partial liquidation" (a tier step-down) and "full liquidation", Hyperliquid's
# liquidation orders "into the book" (20 % at a time above 100k USDC) and its liquidator vault's "backstop"
LIQ_KIND = codes("LiquidationKind", (
    ("FULL", "full", "the venue closed the whole position: at the liquidation price with the clearance fee, or taken "
                     "over at the bankruptcy price (Binance, Bybit, OKX; every perp of a multi-perp cross account)"),
    ("PARTIAL", "partial", "a tier step-down (Bybit, OKX): an order to the book cut the position to what a lower tier "
                           "holds, paying the taker fee; the rest stays open"),
    ("BOOK", "book", "sold into the book at the mark less slippage, no fee (Hyperliquid): the whole position, or what "
                     "was left of it"),
    ("BOOK_SLICE", "book_slice", "one order into the book of a position above the slice line (Hyperliquid: 20 % of it "
                                 "above 100,000 USDC); the rest stays open until the next order, 30 s later"),
    ("BACKSTOP", "backstop", "the venue's liquidator vault took the position over with the account's margin "
                             "(Hyperliquid, below 2/3 of maintenance): nothing is returned"),
))
LK_FULL, LK_PARTIAL, LK_BOOK, LK_BOOK_SLICE, LK_BACKSTOP = LIQ_KIND
LIQ_KINDS = LIQ_KIND.labels

# liquidation report (filled when advance stops with STOP_LIQUIDATION); up to LIQ_SLOTS rows per venue (a book
# liquidation's slices are rows of their own: at most 1 / C_SLICE of them, then the rest or the backstop)
LIQ_SLOTS = 8
LIQ = codes("LiquidationColumn", (
    ("VENUE", "venue", "slot index; -1 marks an unused row"),
    ("QTY", "qty", "position closed (signed base)"),
    ("PRICE", "price", "price it was closed at"),
    ("FEE", "fee", "liquidation fee, or the margin lost / taken over"),
    ("INSURANCE", "insurance_loss", "what the venue's insurance fund paid"),
    ("BAR", "bar", "bar index"),
    ("SOCIAL", "socialized", "deficit beyond the insurance fund, socialized (ADL of others); 0 when the fund covered"),
    ("KIND", "kind", "a LIQ_KIND code (LK_BACKSTOP: taken over by the venue's liquidator vault, FEE the margin)"),
))
Q_VENUE, Q_QTY, Q_PRICE, Q_FEE, Q_INSURANCE, Q_BAR, Q_SOCIAL, Q_KIND = LIQ
N_LIQ = len(LIQ)

