"""Plain-Python twin of engine.kernels.advance.advance: the same bar loop over lists and floats."""
from __future__ import annotations

import math

from tests.reference import kernels as k


def advance(acct, cfg, tiers, mkt, i0, i1):
    """Return per-bar (equity, pnl parts dict, liquidations) for a book given as plain dicts.

    acct: list of dicts cash, spot, qty, entry, iso (optional coll: collateral-asset units); cfg: list of dicts
    liq_fee, taker, haircut, spot_coll, isolated, optional coll_ratio and thr (threshold), and the liquidation
    model (all optional, Binance's by default): partial, partial_from (1-based tier), partial_tiers, trigger,
    close_fee, base (tiers in base units), bankrupt, and `home` (several assets: the index of the entry that
    holds this one's venue cash; cross entries with one home are one account); tiers: list of (floor, rate,
    amount) lists; mkt: dict of 2-D lists (optional coll_low, coll_close).
    State is copied, not mutated. Stops after the first bar with a liquidation.
    """
    acct = [dict(a) for a in acct]
    prev_s = list(mkt["prev_spot"])
    prev_m = list(mkt["prev_mark"])
    lend = list(mkt["lend"])
    out = []

    def coll_px(name, i, v):
        return mkt[name][i][v] if name in mkt else math.nan

    def home(v):
        return cfg[v].get("home", v)

    def holder(v):
        """The entry whose cash (or isolated margin) is v's wallet."""
        return a_of(v) if cfg[v]["isolated"] else acct[home(v)]

    def a_of(v):
        return acct[v]

    def members(h):
        return [u for u in range(len(acct)) if home(u) == h and not cfg[u]["isolated"]]

    def spot_in_mark(i, u):
        s_i, m_i = mkt["spot_close"][i][u], mkt["mark_close"][i][u]
        r = s_i / m_i if s_i > 0 and m_i > 0 else 1.0
        return acct[u]["spot"] * r if cfg[u]["spot_coll"] and not cfg[u]["isolated"] else 0.0

    def liquidate_group(i, h, parts, liqs):
        """A cross account with several open perps: every mark walks from the open toward its extreme
        together; the account goes at the first point where balance <= the summed levels, all perps at once."""
        us = [u for u in members(h) if not math.isnan(mkt["mark_low"][i][u])]

        def mark(u, lam, fav):
            down = (acct[u]["qty"] >= 0) != fav
            x = mkt["mark_low"][i][u] if down else mkt["mark_high"][i][u]
            o = mkt["mark_open"][i][u]
            return o + lam * (x - o)

        def gap(lam, fav):
            c_low = coll_px("coll_low", i, h)
            bal = acct[h]["cash"] + (acct[h].get("coll", 0.0) * c_low * cfg[h].get("coll_ratio", 1.0)
                                     if acct[h].get("coll", 0.0) else 0.0)
            level = 0.0
            for u in us:
                a, c, m = acct[u], cfg[u], mark(u, lam, fav)
                bal += a["qty"] * (m - a["entry"]) + spot_in_mark(i, u) * (1 - c["haircut"]) * m
                if a["qty"]:
                    notional = abs(a["qty"] * m)
                    kk = k.tier_index(abs(a["qty"]) if c.get("base") else notional, tiers[u][0])
                    thr = c.get("thr", 1.0) or 1.0
                    level += thr * (notional * (tiers[u][1][kk] + c.get("trigger", 0.0) + c.get("close_fee", 0.0))
                                    - tiers[u][2][kk])
            return bal - level

        if gap(1.0, False) > 0 and gap(1.0, True) > 0:
            return                                      # not breached either way over the bar
        fav = gap(1.0, False) > 0
        lam = 0.0
        if gap(0.0, fav) > 0:
            lo, hi = 0.0, 1.0
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                lo, hi = (lo, mid) if gap(mid, fav) <= 0 else (mid, hi)
            lam = hi
        px = {u: mark(u, lam, fav) for u in us}
        if acct[h].get("coll", 0.0):                    # collateral units are sold at the low first
            c_low = coll_px("coll_low", i, h)
            acct[h]["cash"] += acct[h]["coll"] * c_low
            prev = coll_px("coll_close", max(i - 1, 0), h)
            parts["price"] += acct[h]["coll"] * (c_low - prev) if not math.isnan(prev) else 0.0
            acct[h]["coll"] = 0.0
        for u in us:
            a, c = acct[u], cfg[u]
            q, p = a["qty"], px[u]
            if not q:
                continue
            realized = q * (p - a["entry"])
            a["qty"], a["entry"] = 0.0, 0.0

            def balance():
                return acct[h]["cash"] + sum(acct[x]["qty"] * (px[x] - acct[x]["entry"])
                                             + spot_in_mark(i, x) * (1 - cfg[x]["haircut"]) * px[x] for x in us)
            acct[h]["cash"] += realized
            fee = max(balance(), 0.0) if c.get("bankrupt") else abs(q) * p * c["liq_fee"]
            acct[h]["cash"] -= fee
            ins = max(-balance(), 0.0)
            acct[h]["cash"] += ins
            s_ref = p * prev_s[u] / prev_m[u]
            parts["price"] += -q * (prev_s[u] - s_ref)
            parts["basis"] += -q * ((prev_m[u] - prev_s[u]) - (p - s_ref))
            parts["liquidation"] += ins - fee
            liqs.append((u, q, p, fee, ins))

    for i in range(i0, i1):
        parts = dict(funding=0.0, basis=0.0, price=0.0, lending=0.0, liquidation=0.0)
        liqs = []
        done_groups = set()
        for v, a in enumerate(acct):
            if a["qty"] == 0:
                continue
            wallet_key = "iso" if cfg[v]["isolated"] else "cash"
            wa = holder(v)
            others = 0.0
            if not cfg[v]["isolated"] and not math.isnan(mkt["mark_low"][i][v]):
                open_ = [u for u in members(home(v)) if acct[u]["qty"] != 0]
                if len(open_) > 1:
                    if home(v) not in done_groups:
                        done_groups.add(home(v))
                        liquidate_group(i, home(v), parts, liqs)
                    continue
                # one open perp: the account's other spot collateral counts at its bar low, as a constant
                others = sum(spot_in_mark(i, u) * (1 - cfg[u]["haircut"]) * mkt["mark_low"][i][u]
                             for u in members(home(v)) if u != v and not math.isnan(mkt["mark_low"][i][u]))
            # posted spot is valued at spot, not mark: in mark units it is spot/mark of itself
            s_i, m_i = mkt["spot_close"][i][v], mkt["mark_close"][i][v]
            ratio = s_i / m_i if s_i > 0 and m_i > 0 else 1.0
            coll = a["spot"] * ratio if cfg[v]["spot_coll"] and not cfg[v]["isolated"] else 0.0
            lo, hi = mkt["mark_low"][i][v], mkt["mark_high"][i][v]
            if math.isnan(lo):
                continue
            thr = cfg[v].get("thr", 1.0) or 1.0
            hv = v if cfg[v]["isolated"] else home(v)
            c_low = coll_px("coll_low", i, hv)

            c = cfg[v]
            model = dict(trigger=c.get("trigger", 0.0), close_fee=c.get("close_fee", 0.0), base=c.get("base", False),
                         thr=thr)

            def first_breach(start):
                # collateral-asset units count at the bar's low x ratio (cross only)
                extra = wa.get("coll", 0.0) * c_low * cfg[hv].get("coll_ratio", 1.0) \
                    if wa.get("coll", 0.0) and not c["isolated"] else 0.0
                args = (wa[wallet_key] + extra + others, a["qty"], a["entry"], coll, c["haircut"], *tiers[v])
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
                    fee = max(wa[wallet_key] + q * (px - a["entry"]) + rest * (px - a["entry"])
                              + coll * (1 - cfg[v]["haircut"]) * px + others, 0.0)
                else:
                    fee = abs(q) * px * fee_rate
                wa[wallet_key] += q * (px - a["entry"]) - fee
                entry = a["entry"]
                a["qty"], a["entry"] = rest, (entry if rest else 0.0)
                bal = wa[wallet_key] + rest * (px - entry) + coll * (1 - cfg[v]["haircut"]) * px + others
                ins = max(-bal, 0.0)
                wa[wallet_key] += ins
                if wallet_key == "iso" and rest == 0.0:
                    acct[home(v)]["cash"] += a["iso"]
                    a["iso"] = 0.0
                s_ref = px * prev_s[v] / prev_m[v]
                parts["price"] += -q * (prev_s[v] - s_ref)
                parts["basis"] += -q * ((prev_m[v] - prev_s[v]) - (px - s_ref))
                parts["liquidation"] += ins - fee
                liqs.append((v, q, px, fee, ins))

            px = first_breach(mkt["mark_open"][i][v])
            if math.isnan(px):
                continue
            if wa.get("coll", 0.0) and not c["isolated"]:      # the venue sells the collateral at the low
                wa["cash"] += wa["coll"] * c_low
                prev = coll_px("coll_close", max(i - 1, 0), hv)
                parts["price"] += wa["coll"] * (c_low - prev) if not math.isnan(prev) else 0.0
                wa["coll"] = 0.0
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
                pay = k.funding_payment(a["qty"], [mkt["funding_px"][i][v]], [r])
                holder(v)["iso" if cfg[v]["isolated"] else "cash"] += pay
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
