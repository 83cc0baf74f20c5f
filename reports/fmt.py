"""Formatting at the report edge, the one layer every page uses: fractions to percent, quote amounts, times,
and the headline metric rows. None and NaN show as MISSING."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from basisbt.reports.metrics import MIN_ANNUALIZE_DAYS

MISSING = "–"


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def pct(x: float | None, digits: int = 2) -> str:
    """A fraction as percent text (0.0512 -> '5.12 %'); '–' for None or NaN."""
    return MISSING if x is None or x != x else f"{x * 100:,.{digits}f} %"


def money(x: float | None, digits: int = 0) -> str:
    """A quote amount with thousands separators ('1,234,567'); '–' for None or NaN."""
    return MISSING if x is None or x != x else f"{x:,.{digits}f}"


def num(x: float | None, digits: int = 2) -> str:
    """A plain number; '–' for None or NaN."""
    return MISSING if x is None or x != x else f"{x:,.{digits}f}"


def format_value(value: Any, kind: str, digits: int | None = None) -> str:
    """A report model cell's text (reports/model.Cell): kind 'text' (str, '' for None), 'money' (0 digits by
    default), 'pct' (2), 'num' (2), 'int' ('21,564'), 'time' (to the minute, UTC), 'day' (UTC) or 'move' (a pair
    of fractions, from and to: '48.9 % → 100.0 %', 1 digit; '–' for a missing end)."""
    if kind == "text":
        return "" if value is None else str(value)
    if _missing(value):
        return MISSING
    if kind == "money":
        return money(float(value), 0 if digits is None else digits)
    if kind == "pct":
        return pct(float(value), 2 if digits is None else digits)
    if kind == "num":
        return num(float(value), 2 if digits is None else digits)
    if kind == "int":
        return f"{int(value):,}"
    if kind == "move":
        a, b = value
        return f"{pct(a, 1 if digits is None else digits)} → {pct(b, 1 if digits is None else digits)}"
    if kind in ("time", "day"):
        return when(value) if kind == "time" else when(value)[:10]
    raise ValueError(f"unknown cell kind {kind!r}")


def when(t: Any) -> str:
    """A time as 'YYYY-MM-DD HH:MM' (UTC): an ISO string is cut, a Timestamp converted; '–' for None or ''."""
    if _missing(t) or t == "":
        return MISSING
    if isinstance(t, str):
        return t[:16].replace("T", " ")
    ts = pd.Timestamp(t)
    return (ts.tz_convert("UTC") if ts.tzinfo is not None else ts).strftime("%Y-%m-%d %H:%M")


def period(m: dict[str, Any]) -> str:
    """'start → end UTC (N days, M bars)' from metrics."""
    return (f"{when(m.get('start'))} → {when(m.get('end'))} UTC ({num(m.get('days'), 1)} days, "
            f"{m.get('bars', 0)} bars)")


def window(m: dict[str, Any]) -> dict[str, Any]:
    """metrics' `window` block; rebuilt from `days` for a metrics dict written before it existed."""
    w = m.get("window")
    if isinstance(w, dict) and "short" in w:
        return w
    days = m.get("days") or 0.0
    return {"days": days, "short": days < MIN_ANNUALIZE_DAYS, "min_days": MIN_ANNUALIZE_DAYS}


def is_short(m: dict[str, Any]) -> bool:
    """True when the run is shorter than MIN_ANNUALIZE_DAYS: annualized figures are extrapolations."""
    return bool(window(m).get("short"))


def annualized_mark(m: dict[str, Any]) -> str:
    """' (annualized from N days)' for a short window, '' otherwise."""
    return f" (annualized from {num(window(m).get('days'), 1)} days)" if is_short(m) else ""


def annualized(m: dict[str, Any], text: str) -> str:
    """An annualized figure's text, marked with the window length when the window is short."""
    return text if text == "–" else text + annualized_mark(m)


def window_note(m: dict[str, Any]) -> str:
    """One sentence for short windows (empty otherwise): annualized figures are extrapolations."""
    if not is_short(m):
        return ""
    return (f"Short window: {num(window(m).get('days'), 1)} days (< {MIN_ANNUALIZE_DAYS:g}). APY, "
            "volatility, Sharpe, Sortino, Calmar and turnover are extrapolated to a 365-day year from "
            f"it; the period figure is the total return, {pct(m.get('total_return'))}.")


def sortino_text(m: dict[str, Any]) -> str:
    """Sortino with the number of losing days its downside deviation rests on."""
    w = window(m)
    text = annualized(m, num(m.get("sortino")))
    if "losing_days" in w and "daily_returns" in w:
        text += f"; {w['losing_days']} losing of {w['daily_returns']} days"
    return text


def headline_rows(m: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, formatted value) rows for the metrics table of report.md and report.html."""
    rows = [
        ("Period", period(m)),
        ("Equity start → end (quote)", f"{money(m['equity_start'])} → {money(m['equity_end'])}"),
        ("PnL (quote)", money(m["pnl"]["total"])),
        ("External flows, mints − redemptions (quote)", money(m.get("net_flows"))),
        ("Total return (over the period)", pct(m["total_return"])),
        ("APY (365-day year, compounded)", annualized(m, pct(m["apy"]))),
        ("Volatility (daily returns, annualized)", annualized(m, pct(m["volatility"]))),
        ("Sharpe (rf = 0)", annualized(m, num(m["sharpe"]))),
        ("Sortino (rf = 0, target 0)", sortino_text(m)),
        ("Calmar (APY / |max drawdown|)", annualized(m, num(m.get("calmar")))),
        ("Max drawdown (per bar)", pct(m["max_drawdown"])),
        ("Max drawdown length (days)", num(m["max_drawdown_days"], 1)
         + ("" if m.get("max_drawdown_recovery") or not m.get("max_drawdown_peak")
            else " (not recovered)")),
        ("Funding captured (quote)", money(m.get("funding_captured"))),
        ("Funding received / paid (quote)",
         f"{money(m.get('funding_received'))} / {money(m.get('funding_paid'))}"),
        ("Funding capture ratio (received − paid) / (received + paid), −100 … +100 %",
         pct(m.get("funding_capture_ratio"), 1)),
        ("Passive funding: 1x short of the average book, venues equal-weighted (quote)",
         money(m.get("funding_passive"))),
        ("Average perp short notional (quote)", money(m.get("book_notional_avg"))),
        ("Time hedged", pct(m.get("time_hedged"), 1)),
        ("Liquidations (count, cost in quote)",
         f"{m['liquidations']} ({money(m.get('liquidation_cost'))})"),
        ("Min distance to liquidation", ", ".join(
            f"{v}: {pct(d.get('min'), 1)} ({when(d.get('ts'))})"
            for v, d in (m.get("min_dist_liq") or {}).items() if d.get("min") is not None)
         or "no perp position"),
        ("Fills, traded notional (quote)", f"{m['n_fills']}, {money(m.get('traded_notional'))}"),
        ("Turnover (x average equity per year)", annualized(m, num(m.get("turnover"), 1))),
        ("Fees + slippage paid (quote)",
         f"{money(m.get('fees_paid'))} + {money(m.get('slippage_paid'))}"),
    ]
    rows += synthetic_rows(m.get("synthetic_dollar") or {})
    rows += [("config_id", str(m["config_id"])[:16]), ("data_fingerprint", str(m["data_fingerprint"])[:23])]
    return rows


def synthetic_rows(sd: dict[str, Any]) -> list[tuple[str, str]]:
    """Headline rows of a synthetic dollar's books (metrics.json `synthetic_dollar`); none for other runs."""
    rows: list[tuple[str, str]] = []
    if "backing_ratio_min" in sd:
        rows.append(("Backing ratio min / mean",
                     f"{num(sd['backing_ratio_min'], 4)} / {num(sd['backing_ratio_mean'], 4)}"))
    if "reserve_fund_min" in sd:
        out = f"; exhausted at {when(sd.get('reserve_exhausted_at'))}" if sd.get("reserve_exhausted") else ""
        rows.append(("Reserve fund low point / end (quote)", f"{money(sd['reserve_fund_min'])} at "
                     f"{when(sd.get('reserve_fund_min_ts'))} / {money(sd.get('reserve_fund_end'))}{out}"))
    if "staker_apy" in sd:
        periods = f" over {sd['payout_periods']} payout periods" if sd.get("payout_periods") is not None else ""
        rows.append(("Staker APY as published: mean / last", f"{pct(sd['staker_apy'])} / "
                     f"{pct(sd.get('staker_apy_last'))}{periods}"))
    if "perp_share_mean" in sd:
        rows.append(("Perp share of backing: mean (min – max)", f"{pct(sd['perp_share_mean'], 1)} "
                     f"({pct(sd.get('perp_share_min'), 1)} – {pct(sd.get('perp_share_max'), 1)})"))
    if sd.get("revenue"):
        parts = ", ".join(f"{k} {money(v)}" for k, v in sd["revenue"].items() if v)
        rows.append(("Realized revenue (quote): total; by source", f"{money(sd.get('revenue_total'))}; "
                     f"{parts or 'none'}"))
        rows.append(("Set for stakers / taken by the reserve / open period, not split yet (quote)",
                     f"{money(sd.get('staker_payouts'))} / {money(sd.get('reserve_takes'))} / "
                     f"{money(sd.get('revenue_open_period'))}"))
    return rows


CONVENTIONS_TEXT = (
    "Amounts in quote currency. Annualization uses a 365-day year; a run shorter than "
    f"{MIN_ANNUALIZE_DAYS:g} days (last bar − first bar) is a short window: its APY, volatility, Sharpe, "
    "Sortino, Calmar and turnover are extrapolations and are marked “annualized from N days”; its "
    "period figure is the total return. Volatility, Sharpe and Sortino "
    "are computed on daily returns (equity at the last bar close in each UTC day (00:00, 24:00], "
    "the first day measured from the starting equity) with a risk-free rate of 0; Sortino's downside deviation counts all days "
    "against a 0 target. Max drawdown is measured on every bar. Funding received and paid are the "
    "positive and negative funding payments of the book's perp positions (one per venue per "
    "settlement, −perp qty × price × rate); funding capture ratio = (received − paid) / (received + "
    "paid), between −100 % (every settlement paid) and +100 % (every settlement received) whatever "
    "the sign of funding, undefined when no funding flowed. Passive funding = average perp short "
    "notional × the sum of each venue's funding rates, averaged over venues. Time hedged = "
    "share of bars with a perp short and |net ETH delta| ≤ 5 % of spot held. External flows (mints, "
    "redemptions) are not PnL: returns are time-weighted, bar return = (equity − flows) / previous "
    "equity − 1."
)
