"""The numbers the docs show that a run or the code produces, written into the pages by this script, never typed.

    python docs/generate.py            # rewrite every generated region of README.md and docs/*.md
    python docs/generate.py --check    # exit 1 naming the regions that are stale (tests/integration/test_docs.py)

A page marks a region as

    <!-- generated: NAME (python docs/generate.py) -->
    ...
    <!-- /generated -->

for a block (a table, an excerpt), or `<!-- gen NAME.KEY -->value<!-- /gen -->` for one number inside a
sentence. NAME is a function below; it runs the backtests it needs (through `bb.run`, as a reader would) and
returns the block's text, or a dict of the inline values.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+)[^>]*-->\n)(?P<body>.*?)(<!-- /generated -->)", re.S)
INLINE = re.compile(r"(<!-- gen (?P<name>[\w-]+)\.(?P<key>\w+) -->)(?P<body>.*?)(<!-- /gen -->)")


@cache
def metrics(strategy: str, scenario: str, **params: Any) -> dict[str, Any]:
    import basisbt as bb
    return bb.run(strategy, f"scenario:{scenario}", params=params, frames=False).metrics()


def _money(x: float) -> str:
    return f"{x:,.0f}"


def cli_options() -> str:
    """api.md: every `basisbt run` option and the bb.run keyword it is passed as, with the option's help."""
    import typer.main

    from basisbt.cli.app import app
    from basisbt.cli.options import RUN_OPTIONS
    cmd = typer.main.get_command(app).commands["run"]
    helps = {next(f for f in p.opts if f.startswith("--")): " ".join((getattr(p, "help", "") or "").split())
             for p in cmd.params if any(f.startswith("--") for f in p.opts)}
    rows = ["| `basisbt run` | `bb.run` | what |", "| --- | --- | --- |"]
    for flag, key in RUN_OPTIONS.items():
        rows.append(f"| `{flag}` | `{key}=` | {helps.get(flag, '').replace('|', '/')} |")
    return "\n".join(rows) + "\n"


SCENARIOS = ("bull-carry", "feb-2025-crash", "death-spiral", "squeeze", "adl-crash", "venue-default")
COLUMNS = (("perp_short (spot)", "perp_short", {}), ("perp_short (usdt, 5x)", "perp_short",
                                                      {"collateral": "usdt", "leverage": 5.0}),
           ("funding_allocator", "funding_allocator", {}), ("lending_rebalance", "lending_rebalance", {}),
           ("synthetic_dollar", "synthetic_dollar", {}))


def _cell(m: dict[str, Any]) -> str:
    if "synthetic_dollar" in m:
        s = m["synthetic_dollar"]
        return (f"backing min {s['backing_ratio_min']:.4f}, reserve {_money(s['reserve_fund_end'])}"
                f"{' (exhausted)' if s['reserve_exhausted'] else ''}")
    out = _money(m["equity_end"])
    notes = [f"funding {m['pnl']['funding']:+,.0f}"]
    if m["liquidations"]:
        notes.append(f"{m['liquidations']} liquidation{'s' * (m['liquidations'] > 1)}")
    if m["pnl"]["lending"]:
        notes.append(f"lending {m['pnl']['lending']:+,.0f}")
    return f"{out} ({', '.join(notes)})"


def strategies_table() -> str:
    """strategies.md: equity at the end of each built-in on each synthetic scenario (1,000,000 USD, defaults)."""
    rows = ["| scenario | " + " | ".join(c[0] for c in COLUMNS) + " |", "| --- |" + " --- |" * len(COLUMNS)]
    for sc in SCENARIOS:
        cells = [_cell(metrics(strategy, sc, **params)) for _, strategy, params in COLUMNS]
        rows.append(f"| {sc} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def squeeze_window() -> dict[str, str]:
    """reports.md: perp_short on the 30-day squeeze, a short window's annualized figures."""
    m = metrics("perp_short", "squeeze")
    w = m["window"]
    return {"total_return": f"{m['total_return']:.1%}", "apy": f"{m['apy']:.0%}",
            "apy_text": f"{m['apy'] * 100:.2f} % (annualized from {w['days']:.1f} days)",
            "sortino": f"{m['sortino']:.0f}", "losing_days": str(w["losing_days"]),
            "daily_returns": str(w["daily_returns"])}


def golden_excerpt() -> str:
    """regress.md: an excerpt of a golden file, as it is on disk."""
    lines = (ROOT / "tests" / "golden" / "perp_short__feb-2025-crash.toml").read_text().splitlines()
    notes = {"config_id": "sha256 of strategy, params, data label, run config and venues",
             "data_fingerprint": "sha256 of every data frame the run read",
             'equity."2025-01-27T01:00:00Z"': "equity at start, every 7 days, and at the end",
             "ledger.fee.count": "ledger rows and totals by kind",
             "metrics.max_drawdown": "every scalar of metrics.json, flattened with dots",
             "venue_fingerprint.binance": "what the venue's blocks in force said"}
    keep = ("config_id", "data_fingerprint", "equity.", "ledger.fee.", "ledger.funding.total",
            "metrics.max_drawdown ", "metrics.pnl.funding", "metrics.sharpe ", "venue_fingerprint.")
    out = ["```toml", "# (excerpt of tests/golden/perp_short__feb-2025-crash.toml)"]
    for line in lines:
        if line.startswith("#") or not line.startswith(keep):
            continue
        key = line.split(" = ")[0]
        out.append(f"{line:<48}# {notes[key]}" if key in notes else line)
    return "\n".join(out + ["```"]) + "\n"


def _adl(strategy: str) -> dict[str, float]:
    """The binance short before and after adl-crash's ADL, the ADL price and what it realized."""
    import basisbt as bb
    res = bb.run(strategy, "scenario:adl-crash")
    ev = res.venue_events
    adl = ev[(ev.kind == "adl") & (ev.venue == "binance")].iloc[0]
    short = -float(res.timeline["binance:perp_qty"][res.timeline.index < adl.ts].iloc[-1])
    return {"before": short, "after": short - float(adl.qty), "price": float(adl.price),
            "realized": float(adl.amount), "equity_end": float(res.metrics()["equity_end"]),
            "backing_min": float(res.extras["backing_ratio"].min()) if "backing_ratio" in res.extras else 0.0}


def seed_questions() -> dict[str, str]:
    """scenarios.md: what the venue-event scenarios do to the built-in hedgers."""
    import basisbt as bb
    sd, ps = _adl("synthetic_dollar"), _adl("perp_short")
    vd = bb.run("synthetic_dollar", "scenario:venue-default")
    ev = vd.venue_events
    at = ev.loc[ev.kind == "default", "ts"].iloc[0]
    loss = -float(ev.loc[ev.kind == "default_loss", "amount"].sum())
    recovery = next(e.recovery for e in bb.load("scenario:venue-default").venue_events if e.kind == "default")
    balance = loss / (1.0 - recovery)
    backing = vd.extras["backing_ratio"]
    return {"sd_before": f"{sd['before']:,.2f}", "sd_after": f"{sd['after']:,.2f}", "price": f"{sd['price']:,.0f}",
            "sd_realized": f"{sd['realized']:,.0f}", "sd_backing_min": f"{sd['backing_min']:.3f}",
            "ps_before": f"{ps['before']:,.2f}", "ps_after": f"{ps['after']:,.2f}",
            "ps_gap": f"{abs(ps['equity_end'] - 1e6):,.0f}",
            "vd_balance": _money(balance), "vd_loss": _money(loss), "vd_loss_pct": f"{loss / 1e6:.1%}",
            "vd_recovered": _money(balance - loss), "vd_backing_before": f"{float(backing[backing.index < at].iloc[-1]):.3f}",
            "vd_backing_end": f"{float(backing.iloc[-1]):.3f}",
            "ps_bybit_end": _money(metrics("perp_short", "venue-default", venue="bybit")["equity_end"])}


def code_tables() -> str:
    """architecture.md §5: the code tables of engine/kernels/codes.py, from their rows (label and description)."""
    from basisbt.engine.kernels import codes
    out = []
    for title, table, what in (("Ledger kinds", codes.LEDGER, "`Results.ledger.kind`"),
                               ("PnL parts", codes.PNL, "`pnl_<part>` columns, `attribution`, metrics `pnl`"),
                               ("Order statuses", codes.ORDER, "`RejectEvent.status`, `orders_rejected`"),
                               ("Reject reasons", codes.REJECT, "`RejectEvent.why`, `orders_rejected`"),
                               ("Liquidation kinds", codes.LIQ_KIND, "`LiquidationEvent.kind`, "
                                                                      "`Results.liquidations.kind`"),
                               ("Why the kernel stopped", codes.STOP, "`advance`'s stop code")):
        out += [f"**{title}** ({what}; `codes.{type(table).__name__}`):", "",
                "| code | name | label | meaning |", "| ---: | --- | --- | --- |"]
        out += [f"| {k} | `{name}` | `{label}` | {doc} |" for k, (name, label, doc)
                in enumerate(zip(table._fields, table.labels, table.docs, strict=True))]
        out.append("")
    return "\n".join(out)


GENERATORS: dict[str, Callable[[], Any]] = {
    "code-tables": code_tables,
    "cli-options": cli_options, "strategies-table": strategies_table, "squeeze-window": squeeze_window,
    "golden-excerpt": golden_excerpt, "seed-questions": seed_questions,
}


@cache
def _value(name: str) -> Any:
    return GENERATORS[name]()


def render(text: str) -> str:
    """The page with every generated region written afresh."""
    text = BLOCK.sub(lambda m: m.group(1) + _value(m.group("name")) + m.group(4), text)
    return INLINE.sub(lambda m: m.group(1) + _value(m.group("name"))[m.group("key")] + m.group(5), text)


def stale() -> list[str]:
    """Pages whose generated regions differ from what the generators write now."""
    return [p.name for p in PAGES if (BLOCK.search(p.read_text()) or INLINE.search(p.read_text()))
            and render(p.read_text()) != p.read_text()]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        bad = stale()
        for name in bad:
            print(f"stale: {name} (run python docs/generate.py)")
        return 1 if bad else 0
    for p in PAGES:
        text = p.read_text()
        new = render(text)
        if new != text:
            tmp = p.with_suffix(".md.tmp")
            tmp.write_text(new)
            tmp.replace(p)
            print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
