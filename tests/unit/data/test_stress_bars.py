"""Stress-path bars: each hourly bar's OHLC is the first, highest, lowest and last of its SUB + 1 sub-step
prices (checked bar by bar against a plain loop), and the perp's mark bars are its OHLC without volume."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from basisbt.data.stress.model import SUB, StressModel, _ohlc, generate_path


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 50), data=st.data())
def test_ohlc_is_each_bars_first_high_low_last(n: int, data: st.DataObject) -> None:
    px = data.draw(arrays(np.float64, n * SUB + 1, elements=st.floats(1.0, 1e5)))
    got = _ohlc(px, n)
    for i in range(n):
        window = [float(x) for x in px[i * SUB:(i + 1) * SUB + 1]]
        assert (got["open"][i], got["high"][i], got["low"][i], got["close"][i]) == \
            (window[0], max(window), min(window), window[-1])


def test_path_frames_are_well_formed() -> None:
    ds = generate_path(StressModel(days=10), 5, 2)
    for v in ds.venues:
        spot, perp, mark = ds.spot[v], ds.perp[v], ds.mark[v]
        assert list(spot.columns) == ["ts", "open", "high", "low", "close", "volume"]
        assert list(mark.columns) == ["ts", "open", "high", "low", "close"]
        assert mark.equals(perp.drop(columns="volume"))
        assert (spot["high"] >= spot[["open", "close"]].max(axis=1)).all()
        assert np.array_equal(spot["open"].to_numpy()[1:], spot["close"].to_numpy()[:-1])   # gapless
