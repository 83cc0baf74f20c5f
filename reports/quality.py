"""Data-quality and venue-spec tables of a run (metrics.json `data_quality`, `venue_blocks`) for both reports."""
from __future__ import annotations

from typing import Any

COLUMNS = ["venue", "stream", "bars / settlements", "missing", "longest gap", "not listed", "note"]


def quality_rows(q: dict[str, Any]) -> list[list[str]]:
    """One row per venue and stream; the note says what the engine did about what was missing."""
    rows: list[list[str]] = []
    for v, vq in (q.get("venues") or {}).items():
        for kind in ("spot", "perp", "mark"):
            s = vq.get(kind) or {}
            note = "priced stale at the last close; orders refused" if s.get("bars_missing") else ""
            if s.get("bars_filled"):
                note += f" ({s['bars_filled']} of them flat bars an import's --fill-gaps wrote)"
            if s.get("perp_fallback_bars"):
                note = f"{s['perp_fallback_bars']} bars use the perp bar" + (f"; {note}" if note else "")
            rows.append([v, kind, str(s.get("bars_expected", "")), str(s.get("bars_missing", "")),
                         str(s.get("longest_gap", "")), str(s.get("unlisted_bars", "")), note])
        f = vq.get("funding") or {}
        notes = [f"{f['priced_stale']} priced at a stale close"] if f.get("priced_stale") else []
        if f.get("missing_before_first"):
            notes.append(f"{f['missing_before_first']} missing before the first row while the perp trades")
        if f.get("missing_after_last"):
            notes.append(f"{f['missing_after_last']} missing after the last row")
        note = "; ".join(notes)
        if f.get("oracle"):             # a venue paying funding on an oracle (Hyperliquid): which one
            note = f"paid on the oracle: {f['oracle']}" + (f"; {note}" if note else "")
        rows.append([v, "funding", str(f.get("settlements", "")), str(f.get("intervals_missing", "")),
                     str(f.get("longest_gap", "")), "", note])
    return rows


def quality_summary(q: dict[str, Any]) -> str:
    """One sentence: clean data, or the totals that need a look."""
    refused = q.get("orders_refused") or {}
    filled = f" ({q['filled_total']} of them filled by an import)" if q.get("filled_total") else ""
    parts = [f"{q.get('stale_total', 0)} stale bars{filled}", f"{q.get('funding_priced_stale_total', 0)} funding "
             "settlements priced stale", f"{q.get('funding_missing_total', 0)} expected funding settlements missing "
             "(from each venue's dated interval)", f"{sum(refused.values())} orders refused"]
    detail = "; ".join(f"{k}: {n}" for k, n in refused.items())
    return ", ".join(parts) + (f" ({detail})" if detail else "") + "."


def refusals_summary(rejected: dict[str, int], q: dict[str, Any]) -> str:
    """One sentence: what the venues refused (orders, transfers, collateral and margin moves; metrics.json
    orders_rejected) and the outflows paid on credit (data_quality.outflows_on_credit), or that nothing was."""
    credit = q.get("outflows_on_credit") or {}
    if not rejected and not credit:
        return "The venues refused nothing the strategy asked for."
    parts = [f"Refused by the venues: {sum(rejected.values())}"
             + (f" ({'; '.join(f'{k}: {n}' for k, n in rejected.items())})" if rejected else "")]
    if credit:
        parts.append("outflows paid beyond the venue's cash, on credit: " + "; ".join(
            f"{v}: {c['count']} ({c['amount']:,.2f})" for v, c in credit.items()))
    return ", ".join(parts) + "."


def venue_block_rows(blocks: dict[str, list[dict[str, str]]]) -> list[list[str]]:
    """One row per venue and spec block in force during the run: venue, block date, from, to (minutes, UTC)."""
    def minute(t: str) -> str:
        return t[:16].replace("T", " ")
    return [[v, b["block"], minute(b["from"]), minute(b.get("to", ""))] for v, bl in blocks.items() for b in bl]
