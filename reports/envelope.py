"""Thin a long time series to what a chart can show, keeping every extreme (min/max envelope, "M4").

The x range is cut into `columns` equal slices, at least one per pixel column of the chart. From each
slice every series keeps its first and last point, its minimum and its maximum (and its first NaN, so a
gap stays a gap): the line drawn through the kept points passes through the same highest and lowest
value in every pixel column as the line through all of them, so what is drawn is the same picture
(Jugel et al., "M4: a visualization-oriented time series data aggregation", VLDB 2014). A year of
1-minute bars (525,600 points) becomes at most 4 x columns points per series before matplotlib sees it:
drawing goes from seconds to milliseconds, and a one-bar liquidation spike is still drawn.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COLUMNS_PER_PIXEL = 2       # slices per pixel column of the figure: more than enough for antialiased lines


def columns_for(width_in: float, dpi: float) -> int:
    """How many slices a chart `width_in` inches wide at `dpi` needs (COLUMNS_PER_PIXEL per pixel)."""
    return max(1, int(round(width_in * dpi * COLUMNS_PER_PIXEL)))


def _segment_first(mask: np.ndarray, seg: np.ndarray, nseg: int) -> np.ndarray:
    """The first index i with mask[i] in each segment (segments numbered 0..nseg-1, non-decreasing)."""
    idx = np.flatnonzero(mask)
    if not idx.size:
        return idx
    s = seg[idx]
    keep = np.ones(idx.size, bool)
    keep[1:] = s[1:] != s[:-1]
    return idx[keep]


def envelope_index(x: np.ndarray, ys: Sequence[np.ndarray], columns: int) -> np.ndarray:
    """Sorted indices of the points to draw: for each of `columns` equal slices of x (non-decreasing), each
    series' first, last, minimum and maximum point and its first NaN. All indices when there are no more
    points than 4 x columns (nothing to gain)."""
    x = np.asarray(x)
    n = len(x)
    if n <= 4 * columns or n < 3:
        return np.arange(n)
    xf = x.view("i8").astype(float) if x.dtype.kind == "M" else np.asarray(x, dtype=float)
    lo, hi = xf[0], xf[-1]
    span = hi - lo
    if not np.isfinite(span) or span <= 0:
        return np.arange(n)
    slice_no = np.minimum(((xf - lo) / span * columns).astype(np.int64), columns - 1)   # floor: xf >= lo
    starts = np.flatnonzero(np.r_[True, slice_no[1:] != slice_no[:-1]])
    nseg = starts.size
    seg = np.repeat(np.arange(nseg), np.diff(np.r_[starts, n]))
    keep = [starts, np.r_[starts[1:] - 1, n - 1]]
    for y in ys:
        y = np.asarray(y, dtype=float)
        finite = ~np.isnan(y)
        if not finite.all():
            keep.append(_segment_first(~finite, seg, nseg))
        if not finite.any():
            continue
        filled_hi = np.where(finite, y, -np.inf)
        filled_lo = np.where(finite, y, np.inf)
        seg_max = np.maximum.reduceat(filled_hi, starts)
        seg_min = np.minimum.reduceat(filled_lo, starts)
        keep.append(_segment_first(finite & (y == seg_max[seg]), seg, nseg))
        keep.append(_segment_first(finite & (y == seg_min[seg]), seg, nseg))
    return np.unique(np.concatenate(keep))
