"""Process-wide memory settings for long array work (the CLI and `make bench` apply them).

numpy asks the kernel for transparent huge pages on every large array (madvise). Where the kernel
answers that with direct compaction (THP defrag = "madvise", the Debian/Ubuntu default), touching
a fresh array for the first time costs several times more: on the 2-vCPU development machine the
first run on a year of 1m bars took 1.64 s with it and 0.63 s without (`make bench`, and the same
with BASISBT_HUGEPAGES=1; docs/bench.md). A single backtest writes each of its arrays once, so
small pages win; a long sweep reusing memory may not (docs/bench.md). Library users opt in by
calling `prefer_small_pages()`; importing basisbt changes nothing in your process.
"""
from __future__ import annotations

import os

import numpy as np

ENV = "BASISBT_HUGEPAGES"


def prefer_small_pages() -> bool:
    """Stop numpy from madvising huge pages, unless BASISBT_HUGEPAGES=1. True if it was turned off."""
    if os.environ.get(ENV) == "1":
        return False
    core = getattr(np, "_core", None) or np.core
    setter = getattr(core.multiarray, "_set_madvise_hugepage", None)
    if setter is None:                       # a numpy without the switch: nothing to change
        return False
    setter(False)
    return True
