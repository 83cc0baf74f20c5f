"""Block bootstrap of real funding history: the stress model's second funding source.

Real funding has long memory (spells of weeks), so single prints are not resampled: blocks of
`block_days` consecutive days are drawn with random starts and joined, the same block for every venue
at once (cross-venue correlation is kept as it was). The history comes from any Dataset (a cache, a
dataset TOML, a freqtrade tree, the embedded real windows) via `FundingHistory.from_dataset`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from basisbt.data.dataset import Dataset

SETTLE_NS = 8 * 3_600 * 10**9


@dataclass(frozen=True)
class FundingHistory:
    """Real 8h funding rates on a common grid: rates[k, j] is venue j's print at settlement k."""

    venues: tuple[str, ...]
    rates: np.ndarray

    @classmethod
    def from_dataset(cls, ds: Dataset, venues: tuple[str, ...] | None = None) -> FundingHistory:
        """The dataset's funding on the 8h grid where every chosen venue printed (other intervals summed into it)."""
        venues = tuple(venues or sorted(ds.funding))
        missing = [v for v in venues if v not in ds.funding or ds.funding[v].empty]
        if missing:
            raise ValueError(f"{ds.name}: no funding for {', '.join(missing)}; has {', '.join(sorted(ds.funding))}")
        cols = []
        for v in venues:
            f = ds.funding[v]
            slot = f["ts"].dt.as_unit("ns").astype("int64").to_numpy() // SETTLE_NS
            cols.append(_sum_by_slot(slot, f["rate"].to_numpy(np.float64)))
        common = sorted(set.intersection(*(set(c) for c in cols)))
        if len(common) < 3 * 7:
            raise ValueError(f"{ds.name}: only {len(common)} 8h settlements shared by {', '.join(venues)}; "
                             "need at least a week")
        rates = np.array([[c[k] for c in cols] for k in common])
        return cls(venues, rates)

    def sample(self, rng: np.random.Generator, n: int, block_days: float) -> np.ndarray:
        """(n, venues) rates: blocks of block_days x 3 consecutive settlements from random starts, joined."""
        block = max(1, min(int(round(block_days * 3)), self.rates.shape[0]))
        out = np.empty((n, self.rates.shape[1]))
        k = 0
        while k < n:
            start = int(rng.integers(0, self.rates.shape[0] - block + 1))
            take = min(block, n - k)
            out[k:k + take] = self.rates[start:start + take]
            k += take
        return out


def _sum_by_slot(slot: np.ndarray, rate: np.ndarray) -> dict[int, float]:
    """Sum of the rates printed in each 8h slot (an hourly venue's eight prints make one 8h rate)."""
    keys, inv = np.unique(slot, return_inverse=True)
    return dict(zip(keys.tolist(), np.bincount(inv, weights=rate).tolist(), strict=True))
