"""One report model, two renderings: the model of a real run holds the sections and tables it should (checked
against facts the model does not compute: metrics.json's PnL, the scenario's funding spell), and report.md and
report.html, parsed back, show the same cells for every table they both have."""
from __future__ import annotations

import math
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from basisbt.engine.results import PNL_PARTS
from basisbt.reports import fmt
from basisbt.reports import model as M
from basisbt.reports.build import run_report, with_charts
from basisbt.reports.html import to_html
from basisbt.reports.markdown import to_markdown
from basisbt.reports.metrics import compute_metrics
from basisbt.reports.model import Cell, Report, Section, Table, Text
from basisbt.results import Results

# ---- reading the renderings back ----

def md_tables(md: str) -> dict[str, list[list[list[str]]]]:
    """report.md's tables per section heading (without the '#'s): each a list of rows (the header first)."""
    out: dict[str, list[list[list[str]]]] = {}
    heading, rows = "", []
    for line in [*md.splitlines(), ""]:
        if line.startswith("| "):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(re.fullmatch(r":?-{3}:?", c) for c in cells):
                rows.append(cells)
            continue
        if rows:
            out.setdefault(heading, []).append(rows)
            rows = []
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
    return out


class _Tables(HTMLParser):
    """report.html's tables per section heading: rows of cell texts; a kv table's rows have no header."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.heading: str | None = None
        self.heading_text = ""
        self.rows: list[list[str]] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("h2", "h3"):
            self.heading, self.heading_text = tag, ""
        elif tag == "table":
            self.rows = []
        elif tag == "tr" and self.rows is not None:
            self.rows.append([])
        elif tag in ("td", "th") and self.rows is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == self.heading:
            self.heading = None
        elif tag in ("td", "th") and self.cell is not None and self.rows is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None
        elif tag == "table" and self.rows is not None:
            self.tables.setdefault(self.heading_text.strip(), []).append(self.rows)
            self.rows = None

    def handle_data(self, data: str) -> None:
        if self.heading:
            self.heading_text += data
        if self.cell is not None:
            self.cell.append(data)


def html_tables(html: str) -> dict[str, list[list[list[str]]]]:
    p = _Tables()
    p.feed(html)
    return p.tables


def _model_rows(t: Table) -> list[list[str]]:
    return ([] if t.kind == "kv" else [list(t.columns)]) + t.texts


def _drawn(report: Report) -> Report:
    """The run report with a stand-in chart section (the charts' pixels are not what is compared here)."""
    return with_charts(report, [("equity", "Equity and drawdown", b"\x89PNG stand-in")])


# ---- the model of a real run ----

def test_model_sections_of_a_single_asset_run(crash_run: Results) -> None:
    report = _drawn(run_report(crash_run, compute_metrics(crash_run), run_toml="format = 2\n"))
    ids = [s.id for s in report.sections]
    assert ids == ["metrics", "attribution", "worst-days", "charts", "liquidations", "data-quality", "venue-specs",
                   "ledger", "fills", "conventions", "config"]
    assert [s.id for s in report.for_("md")] == ["metrics", "attribution", "liquidations", "data-quality",
                                                 "venue-specs", "ledger", "conventions"]
    assert not report.section("liquidations").tables()[0].rows          # the crash run is never liquidated
    assert report.section("attribution").tables()[0].columns == ("venue", *PNL_PARTS, "total")
    # 2 fills (spot bought, perp sold at the first bar), both in the table
    fills = report.section("fills").tables()[0]
    assert len(fills.rows) == len(crash_run.fills) == 2 and fills.shown_of is None


def test_attribution_table_sums_to_the_runs_pnl(synth_run: Results) -> None:
    """metrics.json's pnl.total is equity_end - equity_start - net flows; the table's rows add up to it, each row's
    total is the sum of its parts, and the total row is the column sums."""
    m = compute_metrics(synth_run)
    t = run_report(synth_run, m).section("attribution").tables()[0]
    values = np.array([[c.value for c in r[1:]] for r in t.rows], dtype=float)
    body, total = values[:-1], values[-1]
    assert [r[0].text for r in t.rows] == [*synth_run.venues, "lending", "total"] and t.strong == {len(t.rows) - 1}
    scale = abs(m["equity_start"])
    assert np.allclose(body[:, -1], body[:, :-1].sum(axis=1), rtol=0, atol=1e-9 * scale)
    assert np.allclose(total, body.sum(axis=0), rtol=0, atol=1e-9 * scale)
    pnl = m["equity_end"] - m["equity_start"] - m["net_flows"]
    assert total[-1] == pytest.approx(pnl, abs=1e-8 * scale)
    assert t.row("total")[-1].text == fmt.money(pnl)


def test_liquidation_row_is_the_liquidation(liq_run: Results) -> None:
    report = run_report(liq_run, compute_metrics(liq_run))
    t = report.section("liquidations").tables()[0]
    liq = liq_run.liquidations.iloc[0]
    assert len(t.rows) == 1
    # Binance closes the whole short at the liquidation price (no tier step-down there): kind 'full'
    assert [c.value for c in t.rows[0][1:]] == [liq["venue"], "full", liq["qty"], liq["price"], liq["fee"],
                                                 liq["insurance_loss"]]
    assert t.rows[0][0].text == pd.Timestamp(liq["ts"]).strftime("%Y-%m-%d %H:%M")


def test_synthetic_dollar_payout_periods(synth_run: Results) -> None:
    """Each payout period splits its revenue between the stakers and the reserve."""
    t = run_report(synth_run, compute_metrics(synth_run)).section("payouts").tables()[0]
    assert len(t.rows) == len(synth_run.extras["period_revenue"]) > 0
    for r in t.rows:
        revenue, stakers, reserve = (c.value for c in r[1:4])
        assert stakers + reserve == pytest.approx(revenue, abs=1e-6)


def test_switches_name_the_rotation(rotation_run: Results) -> None:
    """The book opens on both assets, leaves ETH while ETH's funding is negative (06-11 to 06-21; the allocator
    weighs 7 trailing days) and comes back to it after."""
    report = run_report(rotation_run, compute_metrics(rotation_run))
    assert [s.id for s in report.sections][:5] == ["metrics", "attribution", "attribution-assets",
                                                   "allocation-assets", "switches"]
    t = report.section("switches").tables()[0]
    assert t.columns == ("time (UTC)", "what", "ETH share", "BTC share", "hedge notional (quote)")
    rows = [(pd.Timestamp(r[0].value), r[1].value, r[2].value, r[3].value) for r in t.rows]
    assert rows[0][1] == "opened" and all(math.isnan(x) for x in (rows[0][2][0], rows[0][3][0]))
    spell_start, spell_end = pd.Timestamp("2025-06-11", tz="UTC"), pd.Timestamp("2025-06-21", tz="UTC")
    away = [r for r in rows if spell_start <= r[0] <= spell_end + pd.Timedelta(days=7) and r[1] == "moved"]
    assert away and all(eth[1] < eth[0] and btc[1] > btc[0] for _, _, eth, btc in away)
    back = [r for r in rows if r[0] > spell_end and r[1] == "moved" and r[2][1] > r[2][0]]
    assert back and back[-1][2][1] > min(r[2][1] for r in away)
    for _, _, eth, btc in rows:                                # two assets: their shares add up to 1
        assert eth[1] + btc[1] == pytest.approx(1.0, abs=1e-12)
    # the per-asset attribution sums the venue:asset rows
    by_slot = report.section("attribution").tables()[0]
    per_asset = report.section("attribution-assets").tables()[0]
    for asset in ("ETH", "BTC"):
        slots = [r for r in by_slot.rows if r[0].text.endswith(":" + asset)]
        assert per_asset.row(asset)[-1].value == pytest.approx(sum(r[-1].value for r in slots), abs=1e-6)


# ---- two renderings, the same cells ----

@pytest.mark.parametrize("run", ["crash_run", "liq_run", "synth_run", "rotation_run"])
def test_markdown_and_html_show_the_same_tables(run: str, request: pytest.FixtureRequest) -> None:
    results = request.getfixturevalue(run)
    report = _drawn(run_report(results, compute_metrics(results), run_toml="format = 2\n"))
    md, html = md_tables(to_markdown(report)), html_tables(to_html(report))
    both = [s for s in report.for_("md") if s.only == ""]
    assert both and all(s.title in md for s in both if s.tables() and s.tables()[0].rows)
    for s in both:
        model = [_model_rows(t) for t in s.tables() if t.rows]
        assert md.get(s.title, []) == [[list(t.columns)] + t.texts for t in s.tables() if t.rows], s.title
        if s.id == "metrics":                                     # HTML: two label/value halves side by side
            assert [row for half in html[s.title] for row in half] == model[0], s.title
        else:
            assert html.get(s.title, []) == model, s.title
    for s in report.for_("html"):                                # HTML-only tables are rendered as modelled too
        if s.only == "html" and s.tables():
            assert html[s.title] == [_model_rows(t) for t in s.tables() if t.rows], s.title


def test_headline_cards_are_the_markdown_summary(rotation_run: Results) -> None:
    m = compute_metrics(rotation_run)
    report = run_report(rotation_run, m)
    md, html = to_markdown(report), to_html(report)
    summary = md.splitlines()[2]
    for key in ("return", "apy", "drawdown", "liquidations"):
        text = report.card(key).cell.text
        assert f"**{text}**" in summary and f">{text}</div>" in html
    assert report.card("return").cell.text == fmt.pct(m["total_return"])
    assert report.card("apy").cell.value == m["apy"] and "annualized from 30.0 days" in report.card("apy").label


def test_only_charts_with_a_file_are_linked_from_markdown(rotation_run: Results) -> None:
    report = _drawn(run_report(rotation_run, compute_metrics(rotation_run), allocation_png=b"png"))
    md, html = to_markdown(report), to_html(report)
    assert "![Allocation by asset and venue](allocation.png)" in md and "![Equity" not in md
    assert html.count("<img") == 2 and 'id="fig-allocation-assets"' in html and 'id="fig-equity"' in html


# ---- the pieces ----

def test_cells_format_through_one_layer() -> None:
    assert M.money(-1234.5).text == "-1,234" and M.money(1234.5, 2).text == "1,234.50"
    assert M.pct(0.0512).text == "5.12 %" and M.pct(0.0512, 1, " (annualized from 30.0 days)").text == \
        "5.1 % (annualized from 30.0 days)"
    assert M.num(float("nan"), suffix=" *").text == "–"               # no mark on a missing value
    assert M.count(21564).text == "21,564" and M.text(None).text == ""
    assert M.time("2025-06-13T09:00:00+00:00").text == "2025-06-13 09:00"
    assert M.time(pd.Timestamp("2025-06-13 11:00", tz="Europe/Paris")).text == "2025-06-13 09:00"
    assert M.day(pd.Timestamp("2025-06-13 23:00", tz="UTC")).text == "2025-06-13"
    assert M.move(float("nan"), 0.502).text == "– → 50.2 %"
    assert [M.money(x, signed=True).tone for x in (-0.6, -0.4, 0.4, 0.6)] == ["neg", "", "", "pos"]
    with pytest.raises(ValueError, match="3 columns"):
        Table(("a", "b", "c"), ((M.text("x"),),))


def test_markup_is_escaped_in_each_rendering() -> None:
    t = Table(("name", "value"), ((M.text("a|b"), M.money(1.0)), (M.text("<i>"), M.money(2.0))))
    report = Report("T", (Section("s", "S <x>", (Text("see `data/venues/<venue>.toml`"), t)),))
    md, html = to_markdown(report), to_html(report)
    assert "| a\\|b | 1 |" in md and md_tables(md)["S <x>"] == [[["name", "value"], ["a|b", "1"], ["<i>", "2"]]]
    assert "<code>data/venues/&lt;venue&gt;.toml</code>" in html and "&lt;i&gt;" in html and "<i>" not in html
    assert html_tables(html)["S <x>"] == [[["name", "value"], ["a|b", "1"], ["<i>", "2"]]]


def test_numbers_align_right() -> None:
    t = Table(("venue", "qty", "note"), ((M.text("binance"), M.num(1.0), M.text("x")),))
    assert t.alignment == "lrl"
    assert "| :--- | ---: | :--- |" in to_markdown(Report("T", (Section("s", "S", (t,)),)))
    assert Cell(1.0, "money").numeric and not M.time("2025-01-01").numeric


# ---- the other pages: the same model and renderer ----

def test_comparison_page_is_its_model(crash_run: Results, liq_run: Results) -> None:
    from pathlib import Path

    from basisbt.reports.compare import comparison_report
    mets = [compute_metrics(crash_run), compute_metrics(liq_run)]
    report = comparison_report(["a", "b"], [Path("runs/a"), Path("runs/b")], mets, b"png")
    t = report.section("metrics").tables()[0]
    assert t.columns == ("metric", "a", "b")
    for m, pnl, ret in zip(mets, t.row("PnL (quote)")[1:], t.row("total return (period)")[1:], strict=True):
        assert pnl.value == m["equity_end"] - m["equity_start"] - m["net_flows"] == m["pnl"]["total"]
        assert ret.tone == ("neg" if m["total_return"] < 0 else "pos")
    apy = t.row("APY")[1]                                       # 21 days: annualized, marked
    assert apy.text == fmt.pct(mets[0]["apy"]) + " (annualized from 21.0 days)"
    html = to_html(report)
    assert html_tables(html)["Metrics side by side"] == [_model_rows(t)]
    assert "<code>a</code> = runs/a" in html


def test_sweep_and_stress_pages_are_their_models() -> None:
    from basisbt.reports.stress import stress_report
    from basisbt.reports.sweep import sweep_report
    table = pd.DataFrame({"cell": ["a", "b"], "data": "scenario:feb-2025-crash", "leverage": [2.0, 3.0],
                          "apy": [2.88201, math.nan], "days": 7.0, "error": ["", "boom"]})
    sw = sweep_report(table, strategy="perp_short", datas=["scenario:feb-2025-crash"], mode="grid", sort="apy",
                      axes=["leverage"], fixed={"collateral": "usdt"}, heatmap=None, heat_axes=None)
    cells = sw.section("cells").tables()[0]
    assert cells.column("apy")[0].text == "288.20 % *" and cells.column("apy")[1].text == "–"
    assert "1 cells failed" in sw.subtitle[0] and sw.subtitle[1] == "fixed: `collateral=usdt`"
    assert html_tables(to_html(sw))["Best 2 of 2 cells"] == [_model_rows(cells)]
    outcome = {"paths": 3, "p": 0.3, "ci95": [0.1, 0.6]}
    summary = {"paths": 11, "paths_failed": 1, "liquidated": outcome, "reserve_out": outcome,
               "backing_below_1": outcome, "negative_yield": outcome,
               "apy": {"median": 0.05, "p5": -0.01, "p95": 0.09, "mean": 0.04, "mean_ci95": [0.03, 0.05]}}
    st = stress_report(summary, strategy="synthetic_dollar", params={}, model={"spell_days": 30}, seed=0,
                       source="the regime model", fan_bytes=b"png")
    rows = st.section("outcomes").tables()[0].texts
    assert rows[0] == ["any liquidation", "3 / 10", "30.00 %", "10.00 % – 60.00 %"]
    html = html_tables(to_html(st))
    assert html["APY over the horizon"] == [[["p5", "-1.00 %"], ["median", "5.00 %"], ["p95", "9.00 %"],
                                             ["mean", "4.00 %"], ["mean, 95 % interval", "3.00 % – 5.00 %"]]]
    assert html["Path model"] == [[["spell_days", "30"]]]
