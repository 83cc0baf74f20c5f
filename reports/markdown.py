"""report.md: a terminal- and PR-comment-friendly summary of one run."""
from __future__ import annotations

from typing import Any

import pandas as pd

from basisbt.engine.results import Results
from basisbt.reports import assets, attribution, quality
from basisbt.reports.fmt import CONVENTIONS_TEXT, annualized_mark, headline_rows, money, num, pct, when, window_note


def _table(header: list[str], rows: list[list[str]], align: str = "") -> str:
    """A GitHub-flavoured Markdown table; `align` is one char per column ('l' or 'r')."""
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _payout_section(results: Results) -> list[str]:
    """A synthetic dollar's payout periods: realized revenue, the stakers' and the reserve's parts, and the APY
    published for the period that pays it (rows stamped at each period's close); none for other runs."""
    ex = results.extras or {}
    if "period_revenue" not in ex or not len(ex["period_revenue"]):
        return []
    apy = ex.get("staker_apy", pd.Series(dtype=float))
    rows = []
    for ts, x in ex["period_revenue"].items():
        a = apy.get(ts, float("nan"))
        rows.append([pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M"), money(x, 2),
                     money(ex["period_staker_payout"].get(ts), 2), money(ex["period_reserve_take"].get(ts), 2),
                     pct(a)])
    return ["## Payout periods (realized revenue, paid through the next period)", "",
            _table(["period closed (UTC)", "revenue", "to stakers", "to the reserve", "APY published"], rows),
            ""]


def render_markdown(results: Results, metrics: dict[str, Any]) -> str:
    """The Markdown report: headline metrics, attribution by venue, liquidations, ledger summary."""
    m = metrics
    out = [f"# {results.strategy} on {results.dataset}", ""]
    out += [f"**{pct(m['total_return'])}** total return over {num(m.get('days'), 1)} days, "
            f"**{pct(m['apy'])}** APY{annualized_mark(m)}, "
            f"max drawdown **{pct(m['max_drawdown'])}**, **{m['liquidations']}** liquidation(s).", ""]
    if window_note(m):
        out += [f"> {window_note(m)}", ""]
    out += ["## Metrics", "", _table(["metric", "value"], [[a, b] for a, b in headline_rows(m)],
                                     "lr"), ""]
    attr = attribution.by_venue(results)
    multi = bool(assets.assets_of(results))
    out += ["## PnL attribution (quote)", ""]
    out.append(_table(["venue:asset" if multi else "venue", *attr.columns],
                      [[str(v), *[money(x) for x in row]] for v, row in attr.iterrows()]))
    out += ["", f"Residual (equity change − sum of parts): {m.get('attribution_residual', 0.0):.3g}",
            ""]
    if multi:
        out += asset_sections(results, m)
    out += _payout_section(results)
    liq = results.liquidations
    out += ["## Liquidations", ""]
    if liq is None or len(liq) == 0:
        out += ["None.", ""]
    else:
        rows = [[str(pd.Timestamp(r["ts"])), str(r["venue"]), f"{r['qty']:,.4f}",
                 f"{r['price']:,.2f}", money(r.get("fee"), 2), money(r.get("insurance_loss"), 2)]
                for _, r in liq.iterrows()]
        out += [_table(["time (UTC)", "venue", "qty (base)", "price", "fee", "insurance loss"], rows,
                       "llrrrr"), ""]
    dist = m.get("min_dist_liq") or {}
    if dist:
        out += ["Closest approach to liquidation: " + "; ".join(
            f"{v} {pct(d.get('min'), 1)} at {when(d.get('ts'))} UTC" for v, d in dist.items() if d.get("min") is not None), ""]
    if results.data_quality:
        out += ["## Data quality", "", quality.quality_summary(results.data_quality), "",
                _table(quality.COLUMNS, quality.quality_rows(results.data_quality), "llrrrrl"), ""]
    b = metrics.get("benchmark")
    if b:
        corr = "n/a" if b["correlation"] is None else f"{b['correlation']:.3f}"
        diff = "n/a" if b["mean_difference"] is None else f"{b['mean_difference']:.6g}"
        out += ["## Benchmark", "", f"`{b['series']}` against `{b['column']}` of {b['file']} (daily means, "
                f"{b['days']} days): correlation {corr}, mean difference (run - benchmark) {diff}.", ""]
    if results.venue_blocks:
        out += ["## Venue specs in force", "",
                _table(("venue", "spec block", "from (UTC)", "to (UTC)"), quality.venue_block_rows(results.venue_blocks),
                       "llll"), ""]
    led = attribution.ledger_by_kind(results)
    out += ["## Ledger by kind (quote, + = inflow)", ""]
    if len(led) == 0:
        out += ["Empty ledger.", ""]
    else:
        out += [_table(["kind", "rows", "inflow", "outflow", "net"],
                       [[str(k), str(int(r["count"])), money(r["inflow"]), money(r["outflow"]),
                         money(r["net"])] for k, r in led.iterrows()]), ""]
    out += ["## Conventions", "", CONVENTIONS_TEXT, ""]
    out += [f"config_id `{results.config_id}`  ", f"data_fingerprint `{results.data_fingerprint}`", ""]
    return "\n".join(out)


ALLOCATION_PNG = "allocation.png"   # the several-asset allocation chart beside report.md in a run directory


def asset_sections(results: Results, metrics: dict[str, Any]) -> list[str]:
    """A several-asset run's report.md sections: attribution per asset, allocation by asset and venue
    (shares, the allocation.png chart written beside it, the switches between assets)."""
    from basisbt.reports.html import allocation_rows, switch_rows
    attr = assets.attribution_table(results)
    out = ["## Attribution per asset (quote)", "",
           _table(["asset", *attr.columns], [[str(a), *[money(x) for x in row]] for a, row in attr.iterrows()]),
           "", "The venue:asset rows above summed per asset; lending stays its own row.", ""]
    alloc = metrics.get("allocation_by_asset") or {}
    out += ["## Allocation by asset and venue", "",
            "Hedge notional = |perp qty| × mark price. Mean share: each bar's share averaged over the bars "
            f"that hold a hedge; last share: at the last such bar ({when(alloc.get('last_ts'))} UTC).", ""]
    for group, name in (("by_asset", "asset"), ("by_venue", "venue")):
        out += [_table([name, "mean share", "last share", "mean notional (quote)"],
                       allocation_rows(metrics, group)), ""]
    out += [f"![Allocation by asset and venue]({ALLOCATION_PNG})", ""]
    sw = switch_rows(results)
    out += [f"### Switches between assets ({sw['total']})", "",
            f"Bars where a perp position changed and some asset's share of the hedge had moved more than "
            f"{sw['threshold']} from the previous row (the first hedge is 'opened', going flat 'closed').", ""]
    if sw["rows"]:
        out += [_table(sw["columns"], sw["rows"], "ll" + "r" * (len(sw["columns"]) - 2)), ""]
        if sw["truncated"]:
            out += [f"First {len(sw['rows'])} of {sw['total']} switches.", ""]
    else:
        out += ["None.", ""]
    return out
