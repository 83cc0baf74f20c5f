"""Plain-Python twin of engine.kernels.advance.advance: the same bar loop over lists and floats.

Written from the rule in docs/architecture.md §4, not from the kernel: inside a bar every price walks from its
open toward its adverse extreme, together (the mark to its high for a short, its low for a long; posted spot on
its index path to the low; a collateral asset on its own bars to its low). The account breaches where margin
balance <= threshold x its liquidation level at the end of the walk, and is closed at the first point of the
walk where that holds (found here by bisection on the walk, never by a closed form).

A venue that sells into the book (cfg `book`, Hyperliquid; docs/architecture.md §4) closes there instead, at the
marks less the run's slippage, no fee: a position above `slice_above` notional goes `slice` of its starting size
at a time, `cooldown_s` apart (the walk read as time over the bar's length), each at a point where the account is
still breached; if its balance falls below `backstop` x its level first, the venue's vault takes every position
of the account at its mark and the margin left, and nothing comes back.
"""
from __future__ import annotations

import math

from tests.reference import kernels as k


def advance(acct, cfg, tiers, mkt, i0, i1):
    """Return per-bar (equity, pnl parts dict, liquidations) for a book given as plain dicts.

    acct: list of dicts cash, spot, qty, entry, iso (optional coll: collateral-asset units, fund: the venue's
    insurance fund for the symbol); cfg: list of dicts liq_fee, taker, haircut, spot_coll, isolated, optional
    spot_taker (fee on forced collateral sales), coll_ratio and thr (threshold), and the liquidation model (all
    optional, Binance's by default): partial, partial_from (1-based tier), partial_tiers, trigger, close_fee, base
    (tiers in base units), bankrupt, and `home` (several assets: the index of the entry that holds this one's
    venue cash; cross entries with one home are one account); tiers: list of (floor, rate, amount) lists; mkt:
    dict of 2-D lists (index_open / index_low: the price posted spot is valued at, spot when absent; optional
    coll_open, coll_low, coll_close).
    State is copied, not mutated. Stops after the first bar with a liquidation. Each liquidation is
    (venue, qty, price, fee, insurance from the fund, socialized beyond it, kind): kind is "full" (the whole position
    closed), "partial" (a tier step-down), "book" (sold into the book, nothing left), "book_slice" (an order into the
    book that leaves the rest open) or "backstop" (the vault took it).
    """
    acct = [dict(a) for a in acct]
    for a in acct:
        a.setdefault("liq_base", 0.0)
        a.setdefault("wait", 0.0)
    prev_s = list(mkt["prev_spot"])
    prev_m = list(mkt["prev_mark"])
    lend = list(mkt["lend"])
    out = []

    def get(name, i, v):
        return mkt[name][i][v] if name in mkt else math.nan

    def home(v):
        return cfg[v].get("home", v)

    def holder(v):
        """The entry whose cash (or isolated margin) is v's wallet."""
        return acct[v] if cfg[v]["isolated"] else acct[home(v)]

    def members(h):
        return [u for u in range(len(acct)) if home(u) == h and not cfg[u]["isolated"]]

    def between(a, b, lam):
        return a + lam * (b - a)

    def posted_spot(i, u, lam):
        """Margin value of entry u's posted spot `lam` along its index walk (open -> low), net of the haircut."""
        if not cfg[u]["spot_coll"] or cfg[u]["isolated"] or not acct[u]["spot"]:
            return 0.0
        o = get("index_open", i, u)
        if math.isnan(o):
            return 0.0
        return acct[u]["spot"] * (1 - cfg[u]["haircut"]) * between(o, get("index_low", i, u), lam)

    def coll_units_value(i, h, lam):
        units = acct[h].get("coll", 0.0)
        if not units:
            return 0.0
        return units * cfg[h].get("coll_ratio", 1.0) * between(get("coll_open", i, h), get("coll_low", i, h), lam)

    def mark_at(i, u, lam):
        x = mkt["mark_low"][i][u] if acct[u]["qty"] >= 0 else mkt["mark_high"][i][u]
        return between(mkt["mark_open"][i][u], x, lam)

    def first_breach(gap, lo=0.0, hi=1.0):
        """The first lam in [lo, hi] with gap(lam) <= 0 (bisection), or NaN if gap(hi) > 0."""
        if gap(hi) > 0:
            return math.nan
        if gap(lo) <= 0:
            return lo
        a, b = lo, hi
        for _ in range(200):
            mid = 0.5 * (a + b)
            a, b = (a, mid) if gap(mid) <= 0 else (mid, b)
        return b

    def sell_units(i, h, lam, parts):
        """The venue sells the collateral-asset units at their price on the walk, paying the spot taker fee."""
        units = acct[h].get("coll", 0.0)
        if not units:
            return
        px = between(get("coll_open", i, h), get("coll_low", i, h), lam)
        fee = units * px * cfg[h].get("spot_taker", 0.0)
        acct[h]["cash"] += units * px - fee
        prev = get("coll_close", max(i - 1, 0), h)
        parts["price"] += units * (px - prev) if not math.isnan(prev) else 0.0
        parts["fees"] -= fee
        acct[h]["coll"] = 0.0

    def settle(v, q, px, fee_wanted, bankrupt, to_fund, wallet_key, balance_rest, parts, liqs, kind="full"):
        """Close q of entry v at px. balance_rest(): the margin balance once closed, before any fee. The fee takes
        at most what is left; a deficit comes from the venue's fund, the rest is socialized; the account ends >= 0."""
        a = acct[v]
        wa = holder(v)
        entry = a["entry"]
        rest = a["qty"] - q
        rest = 0.0 if abs(rest) < 1e-12 * max(abs(q), 1.0) else rest
        wa[wallet_key] += q * (px - entry)
        a["qty"], a["entry"] = rest, (entry if rest else 0.0)
        left = balance_rest(rest, entry)
        fee = max(left, 0.0) if bankrupt else min(fee_wanted, max(left, 0.0))
        wa[wallet_key] -= fee
        deficit = max(fee - left, 0.0)
        fund = a.get("fund", 0.0)
        from_fund = min(deficit, max(fund, 0.0))
        a["fund"] = fund - from_fund + (fee if to_fund else 0.0)
        wa[wallet_key] += deficit
        if wallet_key == "iso" and rest == 0.0:
            acct[home(v)]["cash"] += a["iso"]
            a["iso"] = 0.0
        s_ref = px * prev_s[v] / prev_m[v]
        parts["price"] += -q * (prev_s[v] - s_ref)
        parts["basis"] += -q * ((prev_m[v] - prev_s[v]) - (px - s_ref))
        parts["liquidation"] += deficit - fee
        liqs.append((v, q, px, fee, from_fund, deficit - from_fund, kind))

    def liquidate_group(i, h, parts, liqs):
        """A cross account with several open perps: every price walks together; the account goes at the first
        point of the walk where balance <= the summed levels, all perps at once."""
        us = [u for u in members(h) if not math.isnan(mkt["mark_low"][i][u])]

        def gap(lam):
            bal = acct[h]["cash"] + coll_units_value(i, h, lam)
            level = 0.0
            for u in us:
                a, c, m = acct[u], cfg[u], mark_at(i, u, lam)
                bal += a["qty"] * (m - a["entry"]) + posted_spot(i, u, lam)
                if a["qty"]:
                    notional = abs(a["qty"] * m)
                    kk = k.tier_index(abs(a["qty"]) if c.get("base") else notional, tiers[u][0])
                    thr = c.get("thr", 1.0) or 1.0
                    level += thr * (notional * (tiers[u][1][kk] + c.get("trigger", 0.0) + c.get("close_fee", 0.0))
                                    - tiers[u][2][kk])
            return bal - level

        lam = first_breach(gap)
        if math.isnan(lam):
            return
        px = {u: mark_at(i, u, lam) for u in us}
        spot_at = {u: posted_spot(i, u, lam) for u in us}
        sell_units(i, h, lam, parts)
        for u in us:
            q = acct[u]["qty"]
            if not q:
                continue

            def balance_rest(rest, entry, u=u):
                others = sum(acct[x]["qty"] * (px[x] - acct[x]["entry"]) + spot_at[x] for x in us if x != u)
                return acct[h]["cash"] + rest * (px[u] - entry) + spot_at[u] + others

            settle(u, q, px[u], abs(q) * px[u] * cfg[u]["liq_fee"], cfg[u].get("bankrupt", False), True, "cash",
                   balance_rest, parts, liqs)

    def book_liquidation(i, h, iso, parts, liqs):
        """Bar i for the book venue account whose wallet is entry h (its isolated margin with `iso`)."""
        key = "iso" if iso else "cash"
        us = [h] if iso else [u for u in members(h) if not math.isnan(mkt["mark_low"][i][u])]
        first_member = h if iso else (members(h) or [h])[0]
        c_h = cfg[h]

        def balance(lam):
            b = acct[h][key]
            for u in us:
                b += acct[u]["qty"] * (mark_at(i, u, lam) - acct[u]["entry"])
                if not iso:
                    b += posted_spot(i, u, lam)
            return b + (0.0 if iso else coll_units_value(i, h, lam))

        def level(lam):
            total = 0.0
            for u in us:
                q = acct[u]["qty"]
                if q:
                    m = mark_at(i, u, lam)
                    c = cfg[u]
                    kk = k.tier_index(abs(q) if c.get("base") else abs(q * m), tiers[u][0])
                    total += (c.get("thr", 1.0) or 1.0) * (
                        abs(q * m) * (tiers[u][1][kk] + c.get("trigger", 0.0) + c.get("close_fee", 0.0))
                        - tiers[u][2][kk])
            return total

        def root(scale, lo, hi):
            """The first lam in [lo, hi] with balance <= scale x level (bisection), NaN if not at hi."""
            if hi < lo:
                return math.nan
            return first_breach(lambda lam: balance(lam) - scale * level(lam), lo, hi)

        wait = acct[first_member]["wait"]
        lam1 = root(1.0, 0.0, 1.0)
        if math.isnan(lam1):
            acct[first_member]["wait"] = max(wait - 1.0, 0.0)
            for u in ([h] if iso else members(h)):
                acct[u]["liq_base"] = 0.0
            return
        bar_seconds = mkt["dt_years"][i] * 365.0 * 86400.0
        step = c_h.get("cooldown_s", 0.0) / bar_seconds
        t = max(lam1, wait)
        while True:
            if c_h.get("backstop", 0.0) > 0:
                lb = root(c_h["backstop"], lam1, min(t, 1.0))
                if not math.isnan(lb):
                    vault_takes_over(i, h, iso, us, key, lb, parts, liqs)
                    acct[first_member]["wait"] = 0.0
                    return
            if t > 1.0:
                break
            if balance(t) - level(t) > 0:
                lam1 = root(1.0, t, 1.0)
                if math.isnan(lam1):
                    break
                t = lam1
                continue
            whole = balance(t) <= 1e-6           # nothing left, to float residue (a deficit just covered to 0)
            for u in us:
                q = acct[u]["qty"]
                if not q:
                    continue
                c = cfg[u]
                m = mark_at(i, u, t)
                part = q
                if not whole and c.get("slice", 0.0) > 0 and abs(q) * m > c.get("slice_above", 0.0):
                    if not acct[u]["liq_base"]:
                        acct[u]["liq_base"] = abs(q)
                    part = math.copysign(min(c["slice"] * acct[u]["liq_base"], abs(q)), q)
                s = k.slippage_fraction(part, mkt["perp_volume"][i][u], c.get("slip", 0.0), c.get("slip_impact", 0.0))
                fill = m * (1 + s) if q < 0 else m * (1 - s)
                entry = acct[u]["entry"]
                acct[h][key] += part * (fill - entry)
                rest = q - part
                rest = 0.0 if abs(rest) < 1e-12 * max(abs(part), 1.0) else rest
                acct[u]["qty"], acct[u]["entry"] = rest, (entry if rest else 0.0)
                if not rest:
                    acct[u]["liq_base"] = 0.0
                left = balance(t)                  # the account after the close, at these prices
                deficit = 0.0 if rest else max(-left, 0.0)     # a slice leaves the rest to the next order
                fund = acct[u].get("fund", 0.0)
                from_fund = min(deficit, max(fund, 0.0))
                acct[u]["fund"] = fund - from_fund
                acct[h][key] += deficit
                if iso and not rest:
                    acct[home(u)]["cash"] += acct[u]["iso"]
                    acct[u]["iso"] = 0.0
                s_ref = m * prev_s[u] / prev_m[u]
                parts["price"] += -part * (prev_s[u] - s_ref)
                parts["basis"] += -part * ((prev_m[u] - prev_s[u]) - (m - s_ref))
                parts["slippage"] += part * (fill - m)
                parts["liquidation"] += deficit
                liqs.append((u, part, fill, 0.0, from_fund, deficit - from_fund, "book_slice" if rest else "book"))
            if not any(acct[u]["qty"] for u in us):
                break
            lam1 = t
            t += step
        acct[first_member]["wait"] = max(t - 1.0, 0.0)

    def vault_takes_over(i, h, iso, us, key, lam, parts, liqs):
        """Every position of the account to the vault at its mark, then the margin left: nothing is returned."""
        if not iso:
            sell_units(i, h, lam, parts)
        rows = []
        for u in us:
            q = acct[u]["qty"]
            if not q:
                continue
            m = mark_at(i, u, lam)
            acct[h][key] += q * (m - acct[u]["entry"])
            acct[u]["qty"], acct[u]["entry"], acct[u]["liq_base"] = 0.0, 0.0, 0.0
            s_ref = m * prev_s[u] / prev_m[u]
            parts["price"] += -q * (prev_s[u] - s_ref)
            parts["basis"] += -q * ((prev_m[u] - prev_s[u]) - (m - s_ref))
            rows.append([u, q, m, 0.0, 0.0, 0.0, "backstop"])
        left = acct[h][key]
        taken, deficit = max(left, 0.0), max(-left, 0.0)
        fund = acct[h].get("fund", 0.0)
        from_fund = min(deficit, max(fund, 0.0))
        acct[h]["fund"] = fund - from_fund
        acct[h][key] = 0.0
        parts["liquidation"] += deficit - taken
        if rows:
            rows[0][3:6] = [taken, from_fund, deficit - from_fund]
        liqs.extend(tuple(r) for r in rows)

    for i in range(i0, i1):
        parts = dict(funding=0.0, basis=0.0, price=0.0, lending=0.0, liquidation=0.0, fees=0.0, slippage=0.0)
        liqs = []
        done_groups = set()
        for v, a in enumerate(acct):                  # book venues: each account as a whole
            if not cfg[v].get("book"):
                continue
            if cfg[v]["isolated"] and a["qty"]:
                book_liquidation(i, v, True, parts, liqs)
            if home(v) == v and any(acct[u]["qty"] for u in members(v)):
                book_liquidation(i, v, False, parts, liqs)
        # cross accounts holding several perps go before any single position of the bar: margin an isolated
        # liquidation frees reaches the cross wallet only after the bar's cross check (a bar does not say which came
        # first; this is the cross account's worst case)
        for v, a in enumerate(acct):
            if a["qty"] == 0 or cfg[v].get("book") or cfg[v]["isolated"] or math.isnan(mkt["mark_low"][i][v]):
                continue
            if home(v) not in done_groups and sum(1 for u in members(home(v)) if acct[u]["qty"] != 0) > 1:
                done_groups.add(home(v))
                liquidate_group(i, home(v), parts, liqs)
        for v, a in enumerate(acct):
            if a["qty"] == 0 or cfg[v].get("book"):
                continue
            c = cfg[v]
            wallet_key = "iso" if c["isolated"] else "cash"
            wa = holder(v)
            hv = v if c["isolated"] else home(v)
            others = []                                   # the account's other entries' posted spot
            if not c["isolated"] and not math.isnan(mkt["mark_low"][i][v]):
                open_ = [u for u in members(home(v)) if acct[u]["qty"] != 0]
                if len(open_) > 1:
                    if home(v) not in done_groups:
                        done_groups.add(home(v))
                        liquidate_group(i, home(v), parts, liqs)
                    continue
                others = [u for u in members(home(v)) if u != v and not math.isnan(mkt["mark_low"][i][u])]
            if math.isnan(mkt["mark_low"][i][v]):
                continue
            model = dict(trigger=c.get("trigger", 0.0), close_fee=c.get("close_fee", 0.0), base=c.get("base", False),
                         thr=c.get("thr", 1.0) or 1.0)
            m_open = mkt["mark_open"][i][v]
            worst = mkt["mark_high"][i][v] if a["qty"] < 0 else mkt["mark_low"][i][v]

            def other_spot(lam):
                return sum(posted_spot(i, u, lam) for u in others)

            def units(lam):
                return 0.0 if c["isolated"] else coll_units_value(i, hv, lam)

            def gap_from(m0, c0, lam0=0.0):
                """Balance less level `lam` along the walk from the point (m0, posted value c0) at lam0."""
                def gap(lam):
                    f = (lam - lam0) / (1.0 - lam0) if lam0 < 1.0 else 1.0
                    m = between(m0, worst, f)
                    coll = between(c0, posted_spot(i, v, 1.0) + other_spot(1.0) + units(1.0), f)
                    bal = wa[wallet_key] + a["qty"] * (m - a["entry"]) + coll
                    # Bybit's fee to close: its bankruptcy price leaves the position's own posted spot out
                    w_cf = wa[wallet_key] + units(1.0) + other_spot(1.0)
                    return bal - k.liquidation_level(w_cf, a["qty"], a["entry"], m, *tiers[v], **model)
                return gap

            lam = first_breach(gap_from(m_open, posted_spot(i, v, 0.0) + other_spot(0.0) + units(0.0)))
            if math.isnan(lam):
                continue
            px = between(m_open, worst, lam)
            if not c["isolated"]:
                sell_units(i, hv, lam, parts)

            def balance_rest(rest, entry, lam=None):
                return wa[wallet_key] + rest * (px - entry) + posted_spot(i, v, lam) + other_spot(lam)

            floors = tiers[v][0]
            tier = k.tier_index(a["qty"] if c.get("base") else a["qty"] * px, floors)      # 0-based
            if c.get("partial") and tier >= 1 and tier + 1 >= c.get("partial_from", 2):
                to = max(tier - c.get("partial_tiers", 1), 0)          # the tier stepped down to; keep its cap
                keep = (floors[to + 1] if c.get("base") else floors[to + 1] / px) * (1 - 1e-9)
                step = a["qty"] - keep if a["qty"] > 0 else a["qty"] + keep
                settle(v, step, px, abs(step) * px * c["taker"], False, False, wallet_key,
                       lambda rest, entry, lam=lam: balance_rest(rest, entry, lam), parts, liqs, "partial")
                # the rest walks on from here (the collateral units, if any, are cash now)
                lam2 = first_breach(gap_from(px, posted_spot(i, v, lam) + other_spot(lam), lam), lam)
                if math.isnan(lam2):
                    continue
                lam = lam2
                px = between(m_open, worst, lam)
            q = a["qty"]
            settle(v, q, px, abs(q) * px * c["liq_fee"], c.get("bankrupt", False), True, wallet_key,
                   lambda rest, entry, lam=lam: balance_rest(rest, entry, lam), parts, liqs)
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
                c = get("coll_close", i, v)
                equity += a["coll"] * c
                parts["price"] += a["coll"] * (c - get("coll_close", max(i - 1, 0), v))
        out.append((equity, parts, liqs))
        if liqs:
            break
    return out
