"""Data quality counts the funding settlements a venue should have printed from the interval of the run's OWN venue
file (`--venues-dir` / `venues=`, `$BASISBT_VENUES`, a Venue in code), not from the packaged one: a user whose venue
settles every 4 h sees the 4 h settlements the data lacks."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

import basisbt as bb
from basisbt.data.venues import BUILTIN_DIR
from basisbt.engine.market import build_market
from tests.helpers import T0, bars, dataset, funding

OKX = (BUILTIN_DIR / "okx.toml").read_text()
# 48 hourly bars (T0 .. T0 + 48 h) and 8-hourly settlements at T0 + 8, 16, 24, 32, 40 h
SETTLED = [T0 + pd.Timedelta(hours=h) for h in (8, 16, 24, 32, 40)]


def data(venue: str):
    return dataset(bars(np.full(48, 2000.0)), fund=funding(SETTLED, [0.0001] * 5), venues=(venue,))


def venue_file(tmp_path, name: str, interval_h: int):
    """A directory holding okx.toml as packaged (8 h), renamed `name` and settling every `interval_h` hours."""
    d = tmp_path / "venues"
    d.mkdir(exist_ok=True)
    text = re.sub(r"^funding_interval_h = 8 ", f"funding_interval_h = {interval_h} ", OKX, flags=re.M)
    assert text != OKX
    (d / f"{name}.toml").write_text(text.replace('name = "okx"', f'name = "{name}"'))
    return d


def missing(res, venue: str) -> tuple[int, int, int]:
    f = res.data_quality["venues"][venue]["funding"]
    return f["intervals_missing"], f["missing_before_first"], f["missing_after_last"]


# Every 8 h over the 48 h window: nothing is missing. Every 4 h: each 8 h gap misses its middle settlement (4 of
# them, at T0 + 12, 20, 28, 36 h), T0 + 4 h comes before the first row and T0 + 44 h after the last (T0 + 48 h is
# the window's last close: its cut, not a hole): 4 + 1 + 1 = 6.
PACKAGED = (0, 0, 0)
EVERY_4H = (6, 1, 1)


def test_a_venues_dir_whose_interval_differs_from_the_packaged_one_is_used(tmp_path):
    ds = data("okx")
    assert missing(bb.run("perp_short", ds, params={"venue": "okx"}), "okx") == PACKAGED
    # the same Dataset object, run against the user's file: its own count (the Market is not reused across them)
    res = bb.run("perp_short", ds, params={"venue": "okx"}, venues=venue_file(tmp_path, "okx", 4))
    assert missing(res, "okx") == EVERY_4H
    assert res.metrics()["data_quality"]["funding_missing_total"] == 6


def test_basisbt_venues_and_a_venue_in_code_are_used_too(tmp_path, monkeypatch):
    monkeypatch.setenv("BASISBT_VENUES", str(venue_file(tmp_path, "okx", 4)))
    assert missing(bb.run("perp_short", data("okx"), params={"venue": "okx"}), "okx") == EVERY_4H
    monkeypatch.delenv("BASISBT_VENUES")
    two_hourly = bb.venue("okx").replace(funding_interval_h=2)
    # every 2 h: each 8 h gap misses 3 (12 in all), 3 before the first row (T0 + 2, 4, 6 h), 3 after the last
    assert missing(bb.run("perp_short", data("okx"), params={"venue": "okx"}, venues=two_hourly), "okx") == (18, 3, 3)


def test_a_venue_of_the_users_own_is_counted_on_its_interval(tmp_path):
    # no packaged file (a run could not use it without the user's): the data alone gives the median spacing, 8 h;
    # the user's file says 4 h
    ds = data("acme")
    assert tuple(build_market(ds).quality["venues"]["acme"]["funding"][k] for k in
                 ("intervals_missing", "missing_before_first", "missing_after_last")) == PACKAGED
    res = bb.run("perp_short", ds, params={"venue": "acme"}, venues=venue_file(tmp_path, "acme", 4))
    assert missing(res, "acme") == EVERY_4H
