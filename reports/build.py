"""Build one run's report model (reports/model.py) from its RunResult and metrics: every table, note and chart
of report.md and report.html, computed once. The writers only render what this returns."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from basisbt.engine.results import RunResult
from basisbt.reports import assets, attribution, quality
from basisbt.reports import model as M
from basisbt.reports.fmt import (
    CONVENTIONS_TEXT,
    annualized_mark,
    headline_rows,
    is_short,
    num,
    pct,
    period,
    when,
    window,
    window_note,
)
from basisbt.reports.model import Card, Cell, Chart, Code, Columns, Report, Section, Table, Text

MAX_FILL_ROWS = 200
MAX_LOG_LINES = 200

# (anchor id, title) of a chart drawn from the Results (reports/plots.chart_builders), PNG bytes
ChartPng = tuple[str, str, bytes]


def run_report(results: RunResult, metrics: dict[str, Any], *, charts: Sequence[ChartPng] = (),
               allocation_png: bytes | None = None, run_toml: str = "") -> Report:
    """The report of one run. `charts` are the drawn charts in page order (reports/chartproc.ChartJob.finish;
    none: the page has no chart section), `allocation_png` a several-asset run's allocation chart (the file
    report.md links to), `run_toml` the run.toml text the HTML page shows."""
    m = metrics
    multi = bool(assets.assets_of(results))
    cards = _cards(m)
    sections = [
        Section("metrics", "Metrics", (Table(("metric", "value"), tuple((M.text(a), M.text(b))
                                                                     for a, b in headline_rows(m)),
                                             align="lr", kind="kv", split=True),)),
        _attribution(results, m, multi),
        *(_asset_sections(results, m, allocation_png) if multi else ()),
        *_payouts(results),
        *_worst_days(results),
        _liquidations(results, m),
        *_data_quality(results),
        *_benchmark(m),
        *_venue_specs(results),
        _ledger(results),
        _fills(results),
        Section("conventions", "Conventions", (Text(CONVENTIONS_TEXT),), nav="Conventions"),
        *((Section("config", "Configuration (run.toml)", (Code(run_toml),), only="html"),) if run_toml else ()),
        *((Section("log", "Run log", (Code("\n".join(results.log[:MAX_LOG_LINES])),), only="html"),)
          if results.log else ()),
    ]
    c = {card.key: card.cell.text for card in cards}
    return with_charts(Report(
        title=f"{results.strategy} on {results.dataset}",
        subtitle=(f"{period(m)} · config `{str(results.config_id)[:16]}` · "
                  f"data `{str(results.data_fingerprint)[:23]}`",),
        summary=(f"**{c['return']}** total return over {num(m.get('days'), 1)} days, **{c['apy']}** APY"
                 f"{annualized_mark(m)}, max drawdown **{c['drawdown']}**, **{c['liquidations']}** "
                 "liquidation(s)."),
        cards=cards, warning=window_note(m), sections=tuple(sections),
        footer_md=(f"config_id `{results.config_id}`  ", f"data_fingerprint `{results.data_fingerprint}`")), charts)


def with_charts(report: Report, charts: Sequence[ChartPng]) -> Report:
    """The run report with its chart section (HTML), placed before the liquidations: report.md, which shows
    none of them, is written before they are drawn."""
    if not charts:
        return report
    section = Section("charts", "Charts", tuple(Chart(k, title, png) for k, title, png in charts), only="html")
    at = [s.id for s in report.sections].index("liquidations")
    return replace(report, sections=(*report.sections[:at], section, *report.sections[at:]))


def _cards(m: dict[str, Any]) -> tuple[Card, ...]:
    """Headline figures: return, APY, Sharpe, max drawdown, liquidations, funding captured. For a short window
    the APY and Sharpe cards say they are annualized from N days."""
    ann = f" (annualized from {num(window(m).get('days'), 1)} days)" if is_short(m) else ""
    dd = m["max_drawdown"]
    return (
        Card("return", f"Total return over {num(m.get('days'), 1)} days", M.pct(m["total_return"], signed=True)),
        Card("apy", "APY" + ann, M.pct(m["apy"], signed=True)),
        Card("sharpe", "Sharpe" + ann, M.num(m["sharpe"])),
        Card("drawdown", "Max drawdown", Cell(dd, "pct", 2, tone="neg" if (dd or 0) < 0 else "")),
        Card("liquidations", "Liquidations", Cell(m["liquidations"], "int", tone="neg" if m["liquidations"] else "")),
        Card("funding", "Funding (quote)", M.money(m.get("funding_captured"), signed=True)),
    )


def money_table(df: pd.DataFrame, name: str, total_row: str | None = None, label: Any = str) -> Table:
    """A frame of quote amounts as a table of signed money cells: a first column `name` (the index, shown by
    `label`) and the frame's columns; the row named `total_row` is bold."""
    rows = tuple((M.text(label(i)), *(M.money(float(x), signed=True) for x in r)) for i, r in df.iterrows())
    strong = frozenset(k for k, i in enumerate(df.index) if total_row is not None and str(i) == total_row)
    return Table((name, *(str(c) for c in df.columns)), rows, strong=strong)


def _attribution(results: RunResult, m: dict[str, Any], multi: bool) -> Section:
    by = "venue and asset" if multi else "venue"
    return Section("attribution", f"PnL attribution by {by} (quote)", (
        money_table(attribution.by_venue(results), "venue:asset" if multi else "venue", "total"),
        Text(f"Residual (equity change − sum of parts): {m.get('attribution_residual') or 0.0:.3g}", "note")))


def _asset_sections(results: RunResult, m: dict[str, Any], allocation_png: bytes | None) -> list[Section]:
    """A several-asset run's sections: attribution per asset, allocation by asset and venue (shares and the
    allocation.png chart), the switches between assets."""
    alloc = m.get("allocation_by_asset") or {}
    shares = tuple(Table((name, "mean share", "last share", "mean notional (quote)"),
                         tuple((M.text(k), M.pct(mean, 1), M.pct(last, 1), M.money(notional))
                               for k, mean, last, notional in assets.allocation_table(m, group)))
                   for group, name in (("by_asset", "asset"), ("by_venue", "venue")))
    chart = Chart("allocation-assets", "Allocation by asset and venue", allocation_png,
                  caption="Hedge notional per asset and venue (colour: asset, shade: venue), and the shares by asset "
                          "and by venue; dotted lines mark the switches below.", file=M.ALLOCATION_PNG)
    return [
        Section("attribution-assets", "Attribution per asset (quote)", (
            money_table(assets.attribution_table(results), "asset", "total"),
            Text("The venue:asset rows above summed per asset; lending stays its own row.", "note")),
            nav="Attribution per asset"),
        Section("allocation-assets", "Allocation by asset and venue", (
            Text("Hedge notional = |perp qty| × mark price. Mean share: each bar's share averaged over the bars "
                 f"that hold a hedge; last share: at the last such bar ({when(alloc.get('last_ts'))} UTC).", "note"),
            Columns(shares), chart), nav="Allocation by asset and venue"),
        _switches(results),
    ]


def switch_table(results: RunResult, limit: int = assets.MAX_SWITCH_ROWS) -> Table:
    """The switches between assets (reports.assets.allocation_switches): time, what, each asset's share
    from → to ('–': no hedge), hedge notional after; at most `limit` rows (`shown_of` says how many there were)."""
    sw = assets.allocation_switches(results)
    names = assets.assets_of(results)
    rows = tuple((M.time(r["ts"]), M.text(r["what"]), *(M.move(r[f"{a} from"], r[f"{a} to"]) for a in names),
                  M.money(r["hedge notional"])) for _, r in sw.head(limit).iterrows())
    return Table(("time (UTC)", "what", *(f"{a} share" for a in names), "hedge notional (quote)"), rows,
                 scroll=True, shown_of=len(sw) if len(sw) > limit else None)


def _switches(results: RunResult) -> Section:
    table = switch_table(results)
    total = table.shown_of or len(table.rows)
    return Section("switches", f"Switches between assets ({total})", (
        Text("Bars where a perp position changed and some asset's share of the hedge had moved more than "
             f"{assets.SWITCH_THRESHOLD * 100:g} percentage points from the previous row (the first hedge is "
             "'opened', going flat 'closed').", "note"),
        table, *_shown_of(table, "switches")), level=3)


def _shown_of(table: Table, what: str, where: str = "") -> tuple[Text, ...]:
    """The note under a table cut to its first rows."""
    if table.shown_of is None:
        return ()
    return (Text(f"First {len(table.rows)} of {table.shown_of} {what}{where}.", "note"),)


def _payouts(results: RunResult) -> list[Section]:
    """A synthetic dollar's payout periods: realized revenue, the stakers' and the reserve's parts, and the APY
    published for the period that pays it (rows stamped at each period's close); none for other runs."""
    ex = results.extras or {}
    if "period_revenue" not in ex or not len(ex["period_revenue"]):
        return []
    apy = ex.get("staker_apy", pd.Series(dtype=float))
    rows = tuple((M.time(ts), M.money(x, 2), M.money(ex["period_staker_payout"].get(ts), 2),
                  M.money(ex["period_reserve_take"].get(ts), 2), M.pct(apy.get(ts)))
                 for ts, x in ex["period_revenue"].items())
    return [Section("payouts", "Payout periods (realized revenue, paid through the next period)", (
        Table(("period closed (UTC)", "revenue", "to stakers", "to the reserve", "APY published"), rows),))]


def _worst_days(results: RunResult, n: int = 5) -> list[Section]:
    """The n UTC days with the most negative total PnL, with their parts (HTML)."""
    daily = attribution.per_period(results, "1D")
    worst = daily[daily["total"] < 0].sort_values("total").head(n)
    if not len(worst):
        return []
    table = money_table(worst, "day (UTC)", label=lambda t: pd.Timestamp(t).strftime("%Y-%m-%d"))
    return [Section("worst-days", "Worst days (PnL per UTC day, quote)", (table,), only="html")]


def _liquidations(results: RunResult, m: dict[str, Any]) -> Section:
    liq = results.liquidations
    rows: tuple[tuple[Cell, ...], ...] = ()
    if liq is not None and len(liq):
        # `kind`: which mechanism closed it (engine/kernels/codes.py LIQ_KIND); run directories written before it
        # existed have none
        rows = tuple((M.time(r["ts"]), M.text(r["venue"]), M.text(r.get("kind", "")),
                      M.num(float(r["qty"]), 4), M.num(float(r["price"]), 2),
                      M.money(float(r.get("fee", 0.0)), 2), M.money(float(r.get("insurance_loss", 0.0)), 2))
                     for _, r in liq.iterrows())
    dist = m.get("min_dist_liq") or {}
    closest = "; ".join(f"{v} {pct(d.get('min'), 1)} at {when(d.get('ts'))} UTC"
                        for v, d in dist.items() if d.get("min") is not None) or "no perp position"
    return Section("liquidations", "Liquidations", (
        Table(("time (UTC)", "venue", "kind", "qty (base)", "price (quote)", "fee (quote)", "insurance loss (quote)"),
              rows),
        Text(f"Closest approach to liquidation: {closest}.", "note")), nav="Liquidations")


def _data_quality(results: RunResult) -> list[Section]:
    q = results.data_quality
    if not q:
        return []
    order = {v: i for i, v in enumerate(results.venues)}   # slot order (a re-read metrics.json has sorted keys)
    q = dict(q, venues=dict(sorted((q.get("venues") or {}).items(), key=lambda kv: order.get(kv[0], len(order)))))
    return [Section("data-quality", "Data quality", (
        Text(quality.quality_summary(q), "note"),
        Text(quality.refusals_summary(results.orders_rejected, q), "note"),
        Table(tuple(quality.COLUMNS), tuple(tuple(M.text(c) for c in r) for r in quality.quality_rows(q)),
              align="llrrrrl")), nav="Data quality")]


def _benchmark(m: dict[str, Any]) -> list[Section]:
    b = m.get("benchmark")
    if not b:
        return []
    corr = "n/a" if b["correlation"] is None else f"{b['correlation']:.3f}"
    diff = "n/a" if b["mean_difference"] is None else f"{b['mean_difference']:.6g}"
    return [Section("benchmark", "Benchmark", (Text(
        f"`{b['series']}` against `{b['column']}` of {b['file']} (daily means, {b['days']} days): correlation "
        f"{corr}, mean difference (run - benchmark) {diff}."),))]


def _venue_specs(results: RunResult) -> list[Section]:
    if not results.venue_blocks:
        return []
    rows = tuple(tuple(M.text(c) for c in r) for r in quality.venue_block_rows(results.venue_blocks))
    return [Section("venue-specs", "Venue specs in force", (
        Text("The dated block of `data/venues/<venue>.toml` (tiers, fees, liquidation rules) used over each span; "
             "a run switches at the first bar opening on or after a block's date.", "note"),
        Table(("venue", "spec block", "from (UTC)", "to (UTC)"), rows, align="llll")))]


def _ledger(results: RunResult) -> Section:
    led = attribution.ledger_by_kind(results)
    rows = tuple((M.text(k), M.count(int(r["count"])), M.money(r["inflow"]), M.money(r["outflow"]), M.money(r["net"]))
                 for k, r in led.iterrows())
    return Section("ledger", "Ledger by kind (quote, + = inflow)", (
        Table(("kind", "rows", "inflow", "outflow", "net"), rows, empty="Empty ledger."),), nav="Ledger")


def _fills(results: RunResult) -> Section:
    """The first MAX_FILL_ROWS fills (HTML): time, venue, instrument, qty, price, fee, slippage, reason."""
    f = results.fills
    total = 0 if f is None else len(f)
    rows: tuple[tuple[Cell, ...], ...] = ()
    if f is not None and total:
        rows = tuple((M.time(r["ts"]), M.text(r.get("venue", "")), M.text(r.get("instrument", "")),
                      M.num(float(r["qty"]), 4), M.num(float(r["price"]), 2), M.money(float(r.get("fee", 0.0)), 2),
                      M.money(float(r.get("slippage", 0.0)), 2), M.text(r.get("reason", "")))
                     for _, r in f.head(MAX_FILL_ROWS).iterrows())
    table = Table(("time (UTC)", "venue", "instrument", "qty (base)", "price", "fee", "slippage", "reason"), rows,
                  align="lllrrrrl", scroll=True, shown_of=total if total > MAX_FILL_ROWS else None, empty="No fills.")
    return Section("fills", f"Fills ({total:,})", (
        table, *_shown_of(table, "fills", "; all of them are in the fills table (fills.parquet, or fills.csv)")),
        only="html")
