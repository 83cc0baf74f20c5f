"""Undo for the run-ahead loop: what running the kernel from bar i changes that a re-run would not overwrite.

The runner lets the kernel run past decision points and undoes it when a decision acts (engine/runner.py).
That is exact only under four invariants, which this module is the one place to state:
1. the decision's actions (fills at bar i's open) are applied BEFORE the checkpoint is taken, so restoring
   keeps them;
2. PnL row i is saved, not zeroed, because those fills already wrote to it; rows after i are zeroed, since
   only the kernel wrote there;
3. the re-run's return value (stop bar, stop code) is discarded: it runs to a bar already decided;
4. strategies read the book from the per-bar records (Context), never the live state, so the bars run
   ahead are invisible to a decision taken at an earlier bar.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from basisbt.engine.kernels.arrays import Ledger, Records, State


@dataclass(frozen=True)
class Checkpoint:
    """A copy of the book before bar `bar` is processed."""

    bar: int
    state: tuple[np.ndarray, ...]
    attr: np.ndarray
    pnl_row: np.ndarray
    ledger_rows: int

    @classmethod
    def take(cls, bar: int, state: State, rec: Records, ledger: Ledger) -> Checkpoint:
        return cls(bar, tuple(x.copy() for x in state), rec.attr.copy(), rec.pnl[bar].copy(), int(ledger.count[0]))

    def restore(self, state: State, rec: Records, ledger: Ledger, stop: int) -> None:
        """Put the book back as it was before `bar`; clear the PnL rows the kernel added in (bar, stop)."""
        for live, kept in zip(state, self.state, strict=True):
            live[...] = kept
        rec.attr[...] = self.attr
        rec.pnl[self.bar] = self.pnl_row
        rec.pnl[self.bar + 1:stop] = 0.0
        ledger.count[0] = self.ledger_rows
