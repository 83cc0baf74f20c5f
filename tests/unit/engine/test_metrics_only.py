"""run(..., frames=False): the same metrics as the full path, key for key, and no frames to read.

The metrics of a frames=False run are computed from the record arrays the frames would be built from
(reports.metrics.RunView); equality is exact (==, NaN written as None by json_safe), not approximate: both
paths feed the same values in the same order to the same arithmetic.
"""
from __future__ import annotations

import pandas as pd
import pytest

import basisbt as bb
from basisbt.engine.results import FramesNotKept

CASES = [
    ("perp_short", "scenario:feb-2025-crash", {}),
    ("perp_short", "scenario:squeeze", {"collateral": "usdt", "leverage": 5.0}),        # a liquidation
    ("funding_allocator", "scenario:bull-carry", {}),
    ("lending_rebalance", "scenario:death-spiral", {}),
    ("synthetic_dollar", "scenario:feb-2025-crash", {}),                                  # flows and extras
]


@pytest.fixture(scope="module")
def datasets() -> dict[str, bb.Dataset]:
    return {d: bb.load(d) for d in {d for _, d, _ in CASES}}


@pytest.mark.parametrize("strategy,data,params", CASES, ids=[f"{s}-{d[9:]}" for s, d, _ in CASES])
def test_every_metric_matches_the_full_path(strategy, data, params, datasets):
    full = bb.run(strategy, datasets[data], params=params)
    lean = bb.run(strategy, datasets[data], params=params, frames=False)
    a, b = full.metrics(), lean.metrics()
    assert list(a) == list(b)
    assert {k: b[k] for k in b if a[k] != b[k]} == {}
    pd.testing.assert_frame_equal(full.attribution, lean.attribution, check_exact=True)
    if strategy == "perp_short" and params:
        assert a["liquidations"] >= 1          # the case meant to cover liquidation rows does have some


def test_a_frame_of_a_metrics_only_run_fails_clearly(datasets, tmp_path):
    res = bb.run("perp_short", datasets["scenario:feb-2025-crash"], frames=False)
    assert not res.has_frames and res.metrics()["bars"] > 0
    for read in (lambda: res.timeline["equity"], lambda: len(res.fills), lambda: res.ledger.columns,
                 lambda: res.equity, lambda: res.to_frame(), lambda: res.save(tmp_path / "run")):
        with pytest.raises(FramesNotKept, match="frames=True"):
            read()
    assert not (tmp_path / "run").exists()
    assert "not kept" in repr(res.timeline) and res._repr_html_() is None


def test_runs_on_one_dataset_hash_it_once_even_with_a_window(monkeypatch):
    ds = bb.load("scenario:feb-2025-crash")
    calls = []
    real = bb.Dataset._hash_frames
    monkeypatch.setattr(bb.Dataset, "_hash_frames", lambda self: calls.append(self.name) or real(self))
    a = [bb.run("perp_short", ds, frames=False, end="2025-02-01").data_fingerprint for _ in range(3)]
    assert len(calls) == 1 and len(set(a)) == 1               # the cut window is kept and hashed once
    assert bb.run("perp_short", ds, frames=False).data_fingerprint != a[0] and len(calls) == 2
