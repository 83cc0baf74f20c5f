"""The event queue is every funding settlement, lending rate change and bar close, in (bar, kind, key, row)
order (docs/architecture.md §3): checked against a plain Python sort of the same entries, on every
single-asset scenario, a several-asset one and the gappy test data."""
from __future__ import annotations

import numpy as np
import pytest

from basisbt.data.scenarios import list_scenarios, load_scenario
from basisbt.engine.event_queue import EV_BAR, EV_FUNDING, EV_LENDING, build_events
from basisbt.engine.market import build_market


def _reference(m) -> list[tuple[int, int, int, int, int]]:
    rows = []
    for j in range(len(m.venues)):
        for r, (t, b) in enumerate(zip(m.funding_ts[j], m.funding_bar[j], strict=True)):
            rows.append((int(b), EV_FUNDING, j, r, int(t)))
    for p in range(len(m.protocols)):
        for b in np.flatnonzero(m.lend_update[:, p]):
            rows.append((int(b), EV_LENDING, p, int(b), int(m.close_ns[b])))
    rows += [(b, EV_BAR, -1, b, int(m.close_ns[b])) for b in range(m.n)]
    return sorted(rows)


@pytest.mark.parametrize("name", [s.name for s in list_scenarios(multi_asset=True)][:6] + ["btc-eth-rotation"])
def test_queue_is_the_sorted_inputs(name: str) -> None:
    m = build_market(load_scenario(name))
    ev = build_events(m)
    got = list(zip(ev["bar"].tolist(), ev["kind"].tolist(), ev["key"].tolist(), ev["row"].tolist(),
                   ev["known_ns"].tolist(), strict=True))
    assert got == _reference(m)
