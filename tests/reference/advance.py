"""Plain-Python twin of engine.kernels.advance.advance: the same bar loop over lists and floats."""
from __future__ import annotations

import math

from tests.reference import kernels as k


def advance(acct, cfg, tiers, mkt, i0, i1):
    """Return per-bar (equity, pnl parts dict, liquidations) for a book given as plain dicts.

    acct: list of dicts cash, spot, qty, entry, iso (optional coll: collateral-asset units); cfg: list of dicts
    liq_fee, taker, haircut, spot_coll, isolated, optional coll_ratio and thr (threshold), and the liquidation
    model (all optional, Binance's by default): partial, partial_from (1-based tier), partial_tiers, trigger,
    close_fee, base (tiers in base units), bankrupt; tiers: list of (floor, rate, amount) lists; mkt: dict of
    2-D lists (optional coll_low, coll_close).
    State is copied, not mutated. Stops after the first bar with a liquidation.
    """
    acct = [dict(a) for a in acct]
    prev_s = list(mkt["prev_spot"])
    prev_m = list(mkt["prev_mark"])
    lend = list(mkt["lend"])
    out = []

    def coll_px(name, i, v):
        return mkt[name][i][v] if name in mkt else math.nan

    for i in range(i0, i1):
        parts = dict(funding=0.0, basis=0.0, price=0.0, lending=0.0, liquidation=0.0)
        liqs = []
        for v, a in enumerate(acct):
            if a["qty"] == 0:
                continue
            wallet_key = "iso" if cfg[v]["isolated"] else "cash"
            # posted spot is valued at spot, not mark: in mark units it is spot/mark of itself
            s_i, m_i = mkt["spot_close"][i][v], mkt["mark_close"][i][v]
            ratio = s_i / m_i if s_i > 0 and m_i > 0 else 1.0
            coll = a["spot"] * ratio if cfg[v]["spot_coll"] and not cfg[v]["isolated"] else 0.0
            lo, hi = mkt["mark_low"][i][v], mkt["mark_high"][i][v]
            if math.isnan(lo):
                continue
            thr = cfg[v].get("thr", 1.0) or 1.0
            c_low = coll_px("coll_low", i, v)

            c = cfg[v]
            model = dict(trigger=c.get("trigger", 0.0), close_fee=c.get("close_fee", 0.0), base=c.get("base", False),
                         thr=thr)

            def first_breach(start):
                # collateral-asset units count at the bar's low x ratio (cross only)
                extra = a.get("coll", 0.0) * c_low * c.get("coll_ratio", 1.0) \
                    if a.get("coll", 0.0) and not c["isolated"] else 0.0
                args = (a[wallet_key] + extra, a["qty"], a["entry"], coll, c["haircut"], *tiers[v])
                for worst in ((hi, lo) if a["qty"] < 0 else (lo, hi)):
                    if k.is_breached(*args, worst, **model):
                        if k.is_breached(*args, start, **model):
                            return start
                        px = k.liquidation_price(*args, start, **model)
                        return worst if math.isnan(px) or px < lo or px > hi else px
                return math.nan

            def close(q, px, fee_rate, bankrupt=False):
                rest = a["qty"] - q
                rest = 0.0 if abs(rest) < 1e-12 * max(abs(q), 1.0) else rest
                if bankrupt:    # taken over at the bankruptcy price: what the book still holds at px is lost
                    fee = max(a[wallet_key] + q * (px - a["entry"]) + rest * (px - a["entry"])
                              + coll * (1 - cfg[v]["haircut"]) * px, 0.0)
                else:
                    fee = abs(q) * px * fee_rate
                a[wallet_key] += q * (px - a["entry"]) - fee
                entry = a["entry"]
                a["qty"], a["entry"] = rest, (entry if rest else 0.0)
                bal = a[wallet_key] + rest * (px - entry) + coll * (1 - cfg[v]["haircut"]) * px
                ins = max(-bal, 0.0)
                a[wallet_key] += ins
                if wallet_key == "iso" and rest == 0.0:
                    a["cash"] += a["iso"]
                    a["iso"] = 0.0
                s_ref = px * prev_s[v] / prev_m[v]
                parts["price"] += -q * (prev_s[v] - s_ref)
                parts["basis"] += -q * ((prev_m[v] - prev_s[v]) - (px - s_ref))
                parts["liquidation"] += ins - fee
                liqs.append((v, q, px, fee, ins))

            px = first_breach(mkt["mark_open"][i][v])
            if math.isnan(px):
                continue
            if a.get("coll", 0.0) and not c["isolated"]:      # the venue sells the collateral at the low
                a["cash"] += a["coll"] * c_low
                prev = coll_px("coll_close", max(i - 1, 0), v)
                parts["price"] += a["coll"] * (c_low - prev) if not math.isnan(prev) else 0.0
                a["coll"] = 0.0
            floors = tiers[v][0]
            tier = k.tier_index(a["qty"] if c.get("base") else a["qty"] * px, floors)      # 0-based
            if c.get("partial") and tier >= 1 and tier + 1 >= c.get("partial_from", 2):
                to = max(tier - c.get("partial_tiers", 1), 0)          # the tier stepped down to; keep its cap
                keep = (floors[to + 1] if c.get("base") else floors[to + 1] / px) * (1 - 1e-9)
                close(a["qty"] - keep if a["qty"] > 0 else a["qty"] + keep, px, c["taker"])   # a step: taker fee
                px = first_breach(px)
                if math.isnan(px):
                    continue
            close(a["qty"], px, c["liq_fee"], c.get("bankrupt", False))
        for v, a in enumerate(acct):
            r = mkt["funding_rate"][i][v]
            if a["qty"] != 0 and not math.isnan(r):
                pay = k.funding_payment(a["qty"], mkt["funding_px"][i][v], r)
                a["iso" if cfg[v]["isolated"] else "cash"] += pay
                parts["funding"] += pay
        for p in range(len(lend)):
            g = k.lending_interest(lend[p], mkt["lend_apy"][i][p], mkt["dt_years"][i])
            lend[p] += g
            parts["lending"] += g
        equity = sum(lend)
        for v, a in enumerate(acct):
            s, m = mkt["spot_close"][i][v], mkt["mark_close"][i][v]
            if math.isnan(s) and math.isnan(m):      # venue not listed yet
                equity += a["cash"] + a["iso"]
                continue
            s, m = (m if math.isnan(s) else s), (s if math.isnan(m) else m)
            if math.isnan(prev_s[v]):
                prev_s[v], prev_m[v] = s, m
            parts["price"] += (a["spot"] + a["qty"]) * (s - prev_s[v])
            parts["basis"] += a["qty"] * ((m - prev_m[v]) - (s - prev_s[v]))
            prev_s[v], prev_m[v] = s, m
            equity += a["cash"] + a["iso"] + a["spot"] * s + a["qty"] * (m - a["entry"])
            if a.get("coll", 0.0):
                c = coll_px("coll_close", i, v)
                equity += a["coll"] * c
                parts["price"] += a["coll"] * (c - coll_px("coll_close", max(i - 1, 0), v))
        out.append((equity, parts, liqs))
        if liqs:
            break
    return out
