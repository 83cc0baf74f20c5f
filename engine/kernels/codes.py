"""Integer codes shared by kernels and the Python layer (numba cannot see enums or strings)."""
from __future__ import annotations

from basisbt.data.venue_schema import CFG_COLUMNS


# instruments
SPOT = 0
PERP = 1
INSTRUMENTS = ("spot", "perp")

# columns of the per-venue account state `acct` (V, N_ACCT); with several assets a row is one (venue, asset)
# slot, and A_CASH / A_COLL are used on the venue's home slot only (C_HOME_OFF)
A_CASH = 0     # quote cash on the venue (cross-margin wallet)
A_SPOT = 1     # spot base units held on the venue
A_QTY = 2      # signed perp position, base units (short < 0)
A_ENTRY = 3    # average entry price of the perp position
A_ISO = 4      # isolated margin assigned to the perp (quote); 0 in cross mode
A_COLL = 5     # units of the venue's collateral asset (USDe-like, own price series); margin at price x ratio
A_FUND = 6     # the venue's insurance fund for this slot's symbol (quote): the venue's money, not the account's;
               # drawn by deficits beyond bankruptcy, fed by the clearance fee (docs/architecture.md §4)
# a book liquidation in progress (C_BOOK venues, Hyperliquid): what its slices are a share of, and when the next may go
A_LIQ_BASE = 7  # |position| when the liquidation began (slices are C_SLICE of it); 0 when none is under way
A_WAIT = 8      # on the account's wallet row: bars to wait at the next bar's open before the next slice (cooldown)
N_ACCT = 9

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

# PnL parts (columns of pnl records), in the order of engine.results.PNL_PARTS (tests/unit/engine/test_codes.py)
P_FUNDING = 0
P_BASIS = 1
P_PRICE = 2
P_FEES = 3
P_SLIPPAGE = 4
P_LENDING = 5
P_LIQUIDATION = 6
N_PNL = 7

# per-venue per-bar record columns: the book at the bar's close (what Context reads) and its margin
R_SPOT = 0
R_QTY = 1
R_MARGIN = 2
R_MAINT = 3
R_LIQ_PX = 4
R_CASH = 5
R_ENTRY = 6
R_ISO = 7
R_COLL = 8     # collateral-asset units held (A_COLL)
N_REC = 9

# ledger kinds: every cash movement (quote units, + in / - out of the holder)
K_SPOT_TRADE = 0    # cash paid (-) or received (+) for spot
K_REALIZED = 1      # realized perp PnL on reducing a position
K_FEE = 2           # trading fee (-)
K_FUNDING = 3       # funding paid (-) or received (+)
K_LENDING = 4       # lending interest credited to a protocol balance (+)
K_LIQ_FEE = 5       # liquidation fee (-)
K_INSURANCE = 6     # shortfall absorbed by the venue's insurance fund (+ to the account)
K_TRANSFER_OUT = 7  # money leaving a venue or protocol (-)
K_TRANSFER_IN = 8   # money arriving at a venue (+)
K_LEND_SUPPLY = 9   # money arriving in a lending protocol (+)
K_WITHDRAWAL_FEE = 10
K_DEPOSIT = 11      # initial capital, and external capital added later (e.g. mints)
K_WITHDRAWAL = 12   # external capital taken out (e.g. redemptions) (-)
K_ADL = 13          # realized perp PnL of a position the venue auto-deleveraged (engine/runner.py, venue events)
K_DEFAULT_LOSS = 14  # the part of a defaulted venue's balance that is not recovered (-)
K_COLL_TRADE = 15   # cash paid (-) for collateral-asset units, or received (+) when they are sold (incl. at liquidation)
K_SOCIALIZED = 16   # a deficit beyond the insurance fund, covered by ADL of other traders' opposite positions (+)
K_BACKSTOP = 17     # the cross (or isolated) margin a venue's liquidator vault takes over with the positions (-)
LEDGER_KINDS = ("spot_trade", "realized_pnl", "fee", "funding", "lending_interest", "liquidation_fee",
                "insurance", "transfer_out", "transfer_in", "lending_supply", "withdrawal_fee", "deposit",
                "withdrawal", "adl", "default_loss", "collateral_trade", "socialized", "backstop")

# ledger integer columns (ledger_i); the amount lives in ledger_f
L_TS = 0
L_VENUE = 1   # venue index, or V + protocol index for lending, -1 for none
L_KIND = 2
L_REF = 3     # fill id, liquidation id or -1
N_LEDGER_I = 4

# in-transit transfers (K, N_TRANSIT); amount 0 marks a free slot
T_ARRIVE_NS = 0
T_DEST = 1     # venue index, or V + protocol index
T_AMOUNT = 2
N_TRANSIT = 3

# what a venue did with an order (fill_order's status) and why it refused it. Venues refuse an order they cannot
# take whole (Binance -2010 insufficient balance, -2019 margin is insufficient): nothing is cut any more, so
# O_REDUCED is not produced (kept so old codes keep their meaning); O_CANCELLED ends a resting limit order.
O_FILLED = 0
O_REDUCED = 1
O_REFUSED = 2
O_CANCELLED = 3
ORDER_STATUS = ("filled", "reduced", "refused", "cancelled")
WHY_NONE = 0
WHY_CASH = 1        # a spot buy costs more than the venue's cash
WHY_HOLDINGS = 2    # a spot sell exceeds the spot held (spot cannot be shorted)
WHY_MARGIN = 3      # a perp order needs more initial margin than the margin balance (tier max leverage)
WHY_HALTED = 4      # the venue's trading (or withdrawals, for a transfer) is halted (a scheduled venue event)
WHY_DEFAULTED = 5   # the venue has defaulted: nothing trades or moves there any more
WHY_POST_ONLY = 6   # a limit order that would trade at once (take liquidity): maker orders are post-only
WHY_EXPIRED = 7     # a resting limit order reached its expiry unfilled
WHY_LIQUIDATED = 8  # the venue cancels a liquidated (or auto-deleveraged) position's resting orders
REJECT_REASONS = ("", "not enough cash", "more than the spot held", "initial margin above margin balance",
                  "venue halted", "venue defaulted", "would take liquidity (post-only)", "expired",
                  "position liquidated or deleveraged")

# why an advance stopped
STOP_END = 0
STOP_LIQUIDATION = 1
STOP_LEDGER_FULL = 2

# liquidation report (filled when advance stops with STOP_LIQUIDATION); up to LIQ_SLOTS rows per venue (a book
# liquidation's slices are rows of their own: at most 1 / C_SLICE of them, then the rest or the backstop)
LIQ_SLOTS = 8
Q_VENUE = 0
Q_QTY = 1
Q_PRICE = 2
Q_FEE = 3
Q_INSURANCE = 4
Q_BAR = 5
Q_SOCIAL = 6    # deficit beyond the insurance fund, socialized (ADL of other traders); 0 when the fund covered it
Q_BACKSTOP = 7  # 1.0: taken over by the venue's liquidator vault with the margin (Q_FEE: the margin it took)
N_LIQ = 8

