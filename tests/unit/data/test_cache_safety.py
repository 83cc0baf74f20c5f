"""The cache under crashes and concurrency: kill -9 mid-import leaves old or new; parallel imports keep every row."""
from __future__ import annotations

import os
import random
import signal
import stat
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from basisbt.data import cache

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")]


def bars(hours: range, tag: float) -> pd.DataFrame:
    """Hourly spot bars whose close is `tag` (so a file's state can be read off its rows)."""
    ts = pd.date_range("2025-01-01", periods=max(hours) + 1, freq="h", tz="UTC").as_unit("ns")[list(hours)]
    n = len(ts)
    c = np.full(n, tag)
    return pd.DataFrame({"ts": ts, "open": c, "high": c + 1, "low": c - 0.5, "close": c, "volume": np.ones(n)})


KEYS = [cache.key_for("spot", v, "ETH/USDT", "1h") for v in ("binance", "bybit", "okx")]


def unit(tag: float) -> list:
    """One import of three files, every row tagged the same."""
    return [(k, bars(range(24), tag), f"trial-{tag}") for k in KEYS]


def tags(root: Path) -> set[float]:
    out = set()
    for k in KEYS:
        f = cache.read(root, k)
        out |= set(f["close"].tolist())
    return out


def test_kill_9_during_multi_file_import_leaves_old_or_new(tmp_path):
    root = tmp_path / "cache"
    cache.write_many(root, unit(1.0))
    rng = random.Random(2025)
    outcomes = {}
    for trial in range(24):
        start = tags(root)
        assert len(start) == 1
        pid = os.fork()
        if pid == 0:                                   # child: commit 2.0, 3.0, 2.0, ... until killed
            try:
                tag = 2.0
                while True:
                    cache.write_many(root, unit(tag))
                    tag = 5.0 - tag
            finally:
                os._exit(0)
        if trial % 2:                                  # make sure some kills land after a commit, however slow
            deadline = time.monotonic() + 30.0         # the machine: wait for the child's first one
            while tags(root) == start and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.05))
        else:
            time.sleep(rng.uniform(0.0, 0.25))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        listing = cache.list_cache(root)               # the next user of the cache recovers it
        now = tags(root)
        assert len(now) == 1, f"trial {trial}: cache holds a mix of imports {sorted(now)}"
        assert set(listing["rows"]) == {24}
        leftovers = [p.name for p in root.rglob("*") if p.name.endswith(".tmp") or p.name == cache.JOURNAL]
        assert not leftovers, leftovers
        outcomes[trial] = now.pop()
    assert len(set(outcomes.values())) >= 2, "the kills never landed after a commit; widen the window"


def test_files_get_the_umask_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        cache.write_many(tmp_path, unit(1.0))
    finally:
        os.umask(old)
    for p in tmp_path.rglob("*.parquet"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p
    assert stat.S_IMODE((tmp_path / "manifest.json").stat().st_mode) == 0o644


def test_stray_temp_files_are_cleaned_by_the_next_write(tmp_path):
    cache.write_many(tmp_path, unit(1.0))
    stray = KEYS[0].path(tmp_path).parent / ".1h.parquet.deadbeef.tmp"
    stray.write_bytes(b"half a parquet")
    cache.write(tmp_path, KEYS[1], bars(range(24, 30), 1.0))
    assert not stray.exists()


def test_two_concurrent_imports_of_disjoint_rows_keep_every_row(tmp_path):
    root = tmp_path / "cache"
    key = KEYS[0]
    pids = []
    for hours in (range(0, 40), range(40, 80)):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for h in hours:                        # one read-merge-write per row: many chances to race
                    cache.write_many(root, [(key, bars(range(h, h + 1), 1.0), "child")])
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    frame = cache.read(root, key)
    assert len(frame) == 80 and frame["ts"].is_unique
