"""Metrics that do not mislead (issue 13 item 8): short windows are marked, and the funding capture
ratio is bounded in [-1, 1] for every sign of funding. Expected numbers are worked out by hand."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from basisbt.engine.results import PNL_PARTS
from basisbt.reports import fmt
from basisbt.reports import metrics as M
from basisbt.reports.markdown import render_markdown
from basisbt.results import Results

# -- hand-built runs ---------------------------------------------------------------------------------

def _daily_run(n_days: int, daily_return: float = 0.001) -> Results:
    """n_days + 1 daily bars (days = n_days), equity compounding at daily_return, all of it funding."""
    ts = pd.date_range("2025-01-01", periods=n_days + 1, freq="D", tz="UTC", name="ts")
    eq = 100.0 * (1 + daily_return) ** np.arange(n_days + 1)
    tl = pd.DataFrame({"equity": eq}, index=ts)
    for p in PNL_PARTS:
        tl[f"pnl_{p}"] = 0.0
    tl["pnl_funding"] = np.diff(eq, prepend=100.0)
    empty = pd.DataFrame()
    return Results(strategy="hand", dataset=f"{n_days}-days", venues=(), protocols=(), initial_equity=100.0,
                   timeline=tl, ledger=empty, fills=empty, liquidations=empty, attribution=empty, config={},
                   config_id="c", data_fingerprint="d")


def _funding_run(book: dict[str, tuple[list[float], list[float], list[float]]]) -> Results:
    """A run whose only PnL is funding. book[venue] = (perp_qty, mark_px, rate) per bar, one settlement
    per bar; each settlement pays -qty * mark * rate into the ledger and the bar's pnl_funding."""
    venues = tuple(book)
    n = len(next(iter(book.values()))[0])
    ts = pd.date_range("2025-03-01 08:00", periods=n, freq="8h", tz="UTC", name="ts")
    tl = pd.DataFrame(index=ts)
    pnl_funding = np.zeros(n)
    ledger = []
    for v, (qty, mark, rate) in book.items():
        q, px, r = (np.asarray(x, dtype=float) for x in (qty, mark, rate))
        pay = -q * px * r
        pnl_funding += pay
        tl[f"{v}:perp_qty"], tl[f"{v}:spot_qty"] = q, -q
        tl[f"{v}:mark_px"], tl[f"{v}:funding_rate"] = px, r
        ledger += [{"ts": t, "venue": v, "kind": "funding", "amount": a, "ref": ""} for t, a in zip(ts, pay, strict=True)]
    for p in PNL_PARTS:
        tl[f"pnl_{p}"] = 0.0
    tl["pnl_funding"] = pnl_funding
    tl.insert(0, "equity", 1_000_000.0 + np.cumsum(pnl_funding))
    empty = pd.DataFrame()
    return Results(strategy="hand", dataset="funding", venues=venues, protocols=(), initial_equity=1_000_000.0,
                   timeline=tl, ledger=pd.DataFrame(ledger), fills=empty, liquidations=empty,
                   attribution=empty, config={}, config_id="c", data_fingerprint="d")


# -- the window ----------------------------------------------------------------------------------------

def test_short_window_is_flagged_and_annualized_keys_kept() -> None:
    m = M.compute_metrics(_daily_run(30))
    w = m["window"]
    # 31 daily bars at 00:00: days = 30 < 90. Each bar closes its own UTC day (a midnight close ends the
    # day before), so 31 daily returns: 0 for the first (equity_start -> 100), then 30 of +0.1 %; none < 0
    assert w == {"days": 30.0, "min_days": 90.0, "short": True, "daily_returns": 31, "losing_days": 0,
                 "note": "annualized from 30.0 days (< 90): apy, volatility, sharpe, sortino, calmar, "
                         "turnover extrapolate a short window to a 365-day year; total_return is the "
                         "period figure"}
    # the period figure and the kept (extrapolated) APY: 1.001^30 - 1 and 1.001^365 - 1
    assert m["total_return"] == pytest.approx(1.001 ** 30 - 1, rel=1e-12)
    assert m["apy"] == pytest.approx(1.001 ** 365 - 1, rel=1e-9)
    assert m["conventions"]["annualized_min_days"] == 90.0
    assert set(m["conventions"]["annualized_keys"]) == {"apy", "volatility", "sharpe", "sortino", "calmar",
                                                        "turnover"}
    json.dumps(m, allow_nan=False)


@pytest.mark.parametrize("n_days, short", [(89, True), (90, False), (120, False)])
def test_window_threshold_is_90_days(n_days: int, short: bool) -> None:
    m = M.compute_metrics(_daily_run(n_days))
    assert m["days"] == n_days and m["window"]["short"] is short
    rows = dict(fmt.headline_rows(m))
    assert ("annualized from" in rows["APY (365-day year, compounded)"]) is short
    assert ("annualized from" in rows["Sharpe (rf = 0)"]) is short
    assert (fmt.window_note(m) != "") is short


def test_losing_days_counted() -> None:
    # five-point series of test_reports_metrics: daily returns 0, .1, -.1, .1, .1 -> 1 losing day of 5
    ts = pd.date_range("2025-01-01", periods=5, freq="D", tz="UTC", name="ts")
    eq = np.array([100.0, 110.0, 99.0, 108.9, 119.79])
    m = M.window_info(4.0, M.daily_returns(pd.Series(eq, index=ts), 100.0))
    assert (m["daily_returns"], m["losing_days"], m["short"]) == (5, 1, True)


def test_reports_mark_short_window(crash_run: Results) -> None:
    """The run's closes span 504 hourly bars: days = 503 / 24 = 20.958..., shown as 21.0."""
    m = M.compute_metrics(crash_run)
    assert len(crash_run.timeline) == 504
    assert m["window"]["short"] and m["days"] == pytest.approx(503 / 24, rel=1e-15)
    rows = dict(fmt.headline_rows(m))
    for label in ("APY (365-day year, compounded)", "Volatility (daily returns, annualized)", "Sharpe (rf = 0)",
                  "Calmar (APY / |max drawdown|)", "Turnover (x average equity per year)"):
        assert rows[label].endswith(" (annualized from 21.0 days)"), (label, rows[label])
    assert "(annualized from 21.0 days); " in rows["Sortino (rf = 0, target 0)"]
    assert rows["Sortino (rf = 0, target 0)"].endswith(
        f"{m['window']['losing_days']} losing of {m['window']['daily_returns']} days")
    md = render_markdown(crash_run, m)
    head = md.splitlines()[2]
    assert "total return over 21.0 days" in head and "APY (annualized from 21.0 days)" in head
    assert "Short window: 21.0 days (< 90)" in md
    from basisbt.reports.build import run_report
    report = run_report(crash_run, m)
    cards = {c.label: c.cell.text for c in report.cards}
    assert "APY (annualized from 21.0 days)" in cards and "Sharpe (annualized from 21.0 days)" in cards
    assert report.warning.startswith("Short window: 21.0 days")
    assert "shorter than 90 days" in fmt.CONVENTIONS_TEXT


def test_cli_summary_marks_short_window(crash_run: Results, tmp_path, capsys) -> None:
    from basisbt.cli.app import _summary
    _summary(crash_run, tmp_path, (0.1, 0.2))
    text = capsys.readouterr().out
    assert "(annualized from 21.0 days)" in text
    assert "capture ratio" in text
    assert "run 0.10 s, files and report 0.20 s" in " ".join(text.split())   # rich may wrap the last line


# -- funding capture ----------------------------------------------------------------------------------

def test_negative_funding_short_pays_ratio_minus_one() -> None:
    # short 10 ETH at 2,000 (notional 20,000) through three negative settlements:
    # pays 20,000 x (1, 2, 1) bp = 2 + 4 + 2 = 8; received 0, paid 8, available 8 -> ratio (0 - 8) / 8 = -1.
    # (The old definition, captured / (avg notional x sum of rates) = -8 / (20,000 x -4 bp) = -8 / -8,
    # read +1 here: a book that paid every settlement looked like a perfect capture.)
    m = M.compute_metrics(_funding_run({"a": ([-10] * 3, [2000] * 3, [-1e-4, -2e-4, -1e-4])}))
    assert m["funding_captured"] == pytest.approx(-8.0, rel=1e-12)
    assert m["funding_received"] == 0.0
    assert m["funding_paid"] == pytest.approx(8.0, rel=1e-12)
    assert m["funding_available"] == pytest.approx(8.0, rel=1e-12)
    assert m["funding_capture_ratio"] == -1.0
    assert m["funding_passive"] == pytest.approx(-8.0, rel=1e-12)   # 20,000 x -4 bp


def test_mixed_signs_two_venues_by_hand() -> None:
    # venue a: short 10 @ 2,000 (20,000), rates +3 bp, -1 bp -> +6, -2
    # venue b: short 5 @ 1,000 (5,000),   rates +6 bp, -2 bp -> +3, -1
    # received 6 + 3 = 9, paid 2 + 1 = 3, available 12, captured 6 -> ratio 6 / 12 = 0.5
    # passive: book 25,000 on every bar; a: 25,000 x 2 bp = 5, b: 25,000 x 4 bp = 10 -> mean 7.5
    m = M.compute_metrics(_funding_run({"a": ([-10, -10], [2000, 2000], [3e-4, -1e-4]),
                                        "b": ([-5, -5], [1000, 1000], [6e-4, -2e-4])}))
    assert m["funding_received"] == pytest.approx(9.0, rel=1e-12)
    assert m["funding_paid"] == pytest.approx(3.0, rel=1e-12)
    assert m["funding_available"] == pytest.approx(12.0, rel=1e-12)
    assert m["funding_available_by_venue"] == pytest.approx({"a": 8.0, "b": 4.0}, rel=1e-12)
    assert m["funding_captured"] == pytest.approx(6.0, rel=1e-12)
    assert m["funding_capture_ratio"] == pytest.approx(0.5, rel=1e-12)
    assert m["book_notional_avg"] == pytest.approx(25_000.0, rel=1e-12)
    assert m["funding_passive_by_venue"] == pytest.approx({"a": 5.0, "b": 10.0}, rel=1e-12)
    assert m["funding_passive"] == pytest.approx(7.5, rel=1e-12)


def test_sizing_up_into_high_funding_cannot_exceed_one() -> None:
    # 1 ETH short while the rate is 1 bp, 100 ETH short while it is 10 bp (mark 1,000, all positive):
    # received 1,000 x 1 bp + 100,000 x 10 bp = 0.1 + 100 = 100.1, paid 0 -> ratio exactly 1.
    # The old ratio: avg notional (1,000 + 100,000) / 2 = 50,500 x 11 bp = 55.55 available -> 1.80.
    m = M.compute_metrics(_funding_run({"a": ([-1, -100], [1000, 1000], [1e-4, 1e-3])}))
    assert m["funding_captured"] == pytest.approx(100.1, rel=1e-12)
    assert m["funding_passive"] == pytest.approx(55.55, rel=1e-12)
    assert m["funding_capture_ratio"] == 1.0


def test_long_perp_in_positive_funding_pays() -> None:
    # long 4 @ 500 (2,000) at +5 bp pays 1; short 4 at -5 bp also pays 1 -> ratio -1
    m = M.compute_metrics(_funding_run({"a": ([4, -4], [500, 500], [5e-4, -5e-4])}))
    assert m["funding_paid"] == pytest.approx(2.0, rel=1e-12) and m["funding_capture_ratio"] == -1.0


def test_ratio_bounded_for_random_books() -> None:
    rng = np.random.default_rng(13)
    for _ in range(200):
        n = int(rng.integers(1, 12))
        book = {v: (list(rng.normal(0, 50, n) * rng.integers(0, 2, n)),       # long, short or flat
                    list(rng.uniform(100, 5000, n)),
                    list(rng.normal(0, 1e-3, n) * 10.0 ** rng.integers(-3, 2, n)))
                for v in ("a", "b", "c")[: int(rng.integers(1, 4))]}
        m = M.compute_metrics(_funding_run(book))
        r = m["funding_capture_ratio"]
        if m["funding_available"] == 0.0:
            assert r is None
        else:
            assert -1.0 <= r <= 1.0
            assert r == pytest.approx((m["funding_received"] - m["funding_paid"]) / m["funding_available"])
            assert m["funding_received"] - m["funding_paid"] == pytest.approx(
                m["funding_captured"], rel=1e-9, abs=1e-9 * m["funding_available"])


def test_no_funding_rows_ratio_null() -> None:
    m = M.compute_metrics(_funding_run({"a": ([0, 0], [1000, 1000], [1e-4, -1e-4])}))
    assert m["funding_available"] == 0.0 and m["funding_capture_ratio"] is None


def test_comparison_and_notebook_mark_short_window(crash_run: Results, tmp_path) -> None:
    from basisbt.reports import writers
    from basisbt.reports.notebook import results_html
    from basisbt.reports.render import render_comparison
    run = writers.write_run(crash_run, tmp_path / "crash", dpi=40)
    html = render_comparison([run], tmp_path / "cmp", dpi=40).read_text()
    # APY, volatility, Sharpe, Sortino, Calmar and turnover cells: six marks
    assert html.count("(annualized from 21.0 days)") == 6
    assert "funding capture ratio" in html
    assert results_html(crash_run).count("(annualized from 21.0 days)") == 4   # APY, vol, Sharpe, Sortino
