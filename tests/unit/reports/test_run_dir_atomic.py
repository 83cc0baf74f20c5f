"""Run directories are written whole: old or new after a kill, never a mix; foreign targets refused."""
from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from basisbt.reports.writers import RunTargetError, write_run
from tests.unit.reports.conftest import real_run


def snapshot(d: Path) -> dict[str, bytes]:
    """Every file under d (relative path -> bytes)."""
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def old_new():
    """Two different runs: the old one has a run.log (its liquidation), the new one none (a merge would keep it)."""
    old = real_run("perp_short", "squeeze", collateral="usdt", leverage=5.0)
    new = real_run("perp_short", "feb-2025-crash")
    assert old.log and not new.log and old.config_id != new.config_id
    return old, new


def test_rerun_replaces_never_merges(tmp_path, old_new):
    old, new = old_new
    d = tmp_path / "run"
    write_run(old, d)
    assert (d / "run.log").exists()
    write_run(new, d)
    assert not (d / "run.log").exists(), "a file of the previous run survived the rerun"
    assert new.config_id in (d / "run.toml").read_text() and old.config_id not in (d / "run.toml").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["run"], "temporary siblings left behind"
    assert oct((d / "metrics.json").stat().st_mode & 0o777) != oct(0o600)


def test_foreign_targets_refused(tmp_path, old_new):
    f = tmp_path / "file"
    f.write_text("keep me")
    with pytest.raises(RunTargetError, match="not a directory"):
        write_run(old_new[0], f)
    assert f.read_text() == "keep me"
    d = tmp_path / "mydocs"
    d.mkdir()
    (d / "thesis.tex").write_text("keep me too")
    with pytest.raises(RunTargetError, match="not a basisbt run"):
        write_run(old_new[0], d)
    assert snapshot(d) == {"thesis.tex": b"keep me too"}
    with pytest.raises(RunTargetError, match="is a file"):
        write_run(old_new[0], f / "sub")
    empty = tmp_path / "empty"
    empty.mkdir()
    write_run(old_new[0], empty)                      # an empty directory is fine
    assert (empty / "run.toml").exists()


def _cheap_reports(results, out_dir, *, dpi=110, metrics=None, charts=None):
    """Stand-in for the plots: the swap, not the rendering, is what a kill can break."""
    from basisbt.reports.writers import atomic_write_text
    atomic_write_text(out_dir / "report.md", "x" * 200_000)
    return {"config_id": results.config_id}


def test_kill_during_rewrite_leaves_old_or_new(tmp_path, old_new, monkeypatch):
    import basisbt.reports.writers as writers_mod
    monkeypatch.setattr(writers_mod, "render_reports", _cheap_reports)
    old, new = old_new
    d = tmp_path / "run"
    write_run(old, d)
    before = snapshot(d)
    t0 = time.perf_counter()
    write_run(new, tmp_path / "ref")
    after = snapshot(tmp_path / "ref")
    took = time.perf_counter() - t0
    rng = random.Random(13)
    seen = set()
    for trial in range(20):
        pid = os.fork()
        if pid == 0:                                  # child: rewrite the run dir, then vanish
            try:
                write_run(new, d)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, took * 1.1))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        now = snapshot(d)
        if now == before:
            seen.add("old")
        else:
            assert now == after, f"trial {trial}: run dir is a mix of two runs"
            seen.add("new")
            write_run(old, d)                         # back to the old run for the next trial
        # the next writer cleans what the killed one left
    write_run(old, d)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref", "run"]
    assert "old" in seen
