"""Formatting at the report edge: fractions to percent, quote amounts, and the headline metric rows."""
from __future__ import annotations

from typing import Any


def pct(x: float | None, digits: int = 2) -> str:
    """A fraction as percent text (0.0512 -> '5.12 %'); '–' for None."""
    return "–" if x is None else f"{x * 100:,.{digits}f} %"


def money(x: float | None, digits: int = 0) -> str:
    """A quote amount with thousands separators ('1,234,567'); '–' for None."""
    return "–" if x is None else f"{x:,.{digits}f}"


def num(x: float | None, digits: int = 2) -> str:
    """A plain number; '–' for None."""
    return "–" if x is None else f"{x:,.{digits}f}"


def when(iso: str | None) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM' (UTC); '–' for None."""
    return "–" if not iso else iso[:16].replace("T", " ")


def period(m: dict[str, Any]) -> str:
    """'start → end UTC (N days, M bars)' from metrics."""
    return (f"{when(m.get('start'))} → {when(m.get('end'))} UTC ({num(m.get('days'), 1)} days, "
            f"{m.get('bars', 0)} bars)")


def headline_rows(m: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, formatted value) rows for the metrics table of report.md and report.html."""
    rows = [
        ("Period", period(m)),
        ("Equity start → end (quote)", f"{money(m['equity_start'])} → {money(m['equity_end'])}"),
        ("PnL (quote)", money(m["pnl"]["total"])),
        ("External flows, mints − redemptions (quote)", money(m.get("net_flows"))),
        ("Total return", pct(m["total_return"])),
        ("APY (365-day year, compounded)", pct(m["apy"])),
        ("Volatility (daily returns, annualized)", pct(m["volatility"])),
        ("Sharpe (rf = 0)", num(m["sharpe"])),
        ("Sortino (rf = 0, target 0)", num(m["sortino"])),
        ("Calmar (APY / |max drawdown|)", num(m.get("calmar"))),
        ("Max drawdown (per bar)", pct(m["max_drawdown"])),
        ("Max drawdown length (days)", num(m["max_drawdown_days"], 1)
         + ("" if m.get("max_drawdown_recovery") or not m.get("max_drawdown_peak")
            else " (not recovered)")),
        ("Funding captured / available (quote)",
         f"{money(m.get('funding_captured'))} / {money(m.get('funding_available'))}"
         f" ({pct(m.get('funding_capture_ratio'), 1)})"),
        ("Average perp short notional (quote)", money(m.get("book_notional_avg"))),
        ("Time hedged", pct(m.get("time_hedged"), 1)),
        ("Liquidations (count, cost in quote)",
         f"{m['liquidations']} ({money(m.get('liquidation_cost'))})"),
        ("Min distance to liquidation", ", ".join(
            f"{v}: {pct(d.get('min'), 1)} ({when(d.get('ts'))})"
            for v, d in (m.get("min_dist_liq") or {}).items() if d.get("min") is not None)
         or "no perp position"),
        ("Fills, traded notional (quote)", f"{m['n_fills']}, {money(m.get('traded_notional'))}"),
        ("Turnover (x average equity per year)", num(m.get("turnover"), 1)),
        ("Fees + slippage paid (quote)",
         f"{money(m.get('fees_paid'))} + {money(m.get('slippage_paid'))}"),
    ]
    sd = m.get("synthetic_dollar")
    if sd:
        if "backing_ratio_min" in sd:
            rows.append(("Backing ratio min / mean",
                         f"{num(sd['backing_ratio_min'], 4)} / {num(sd['backing_ratio_mean'], 4)}"))
        if "reserve_fund_min" in sd:
            rows.append(("Reserve fund low point (quote)", f"{money(sd['reserve_fund_min'])}"
                         f" at {when(sd.get('reserve_fund_min_ts'))}"))
        if "staker_apy" in sd:
            rows.append(("Staker APY (mean)", pct(sd["staker_apy"])))
    rows += [("config_id", str(m["config_id"])[:16]), ("data_fingerprint", str(m["data_fingerprint"])[:23])]
    return rows


CONVENTIONS_TEXT = (
    "Amounts in quote currency. Annualization uses a 365-day year; volatility, Sharpe and Sortino "
    "are computed on daily returns (equity at the last bar close in each UTC day (00:00, 24:00], "
    "the first day measured from the starting equity) with a risk-free rate of 0; Sortino's downside deviation counts all days "
    "against a 0 target. Max drawdown is measured on every bar. Funding available = average perp "
    "short notional × the sum of each venue's funding rates, averaged over venues. Time hedged = "
    "share of bars with a perp short and |net ETH delta| ≤ 5 % of spot held. External flows (mints, "
    "redemptions) are not PnL: returns are time-weighted, bar return = (equity − flows) / previous "
    "equity − 1."
)
