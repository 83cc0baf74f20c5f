"""Golden strategy returns (STYLE "Golden returns"): every case matches its golden file at rtol 1e-9.

Companions: a changed venue file is a stale golden naming the venue (exit 1, cases and metrics named) and
restoring passes;
a changed parameter is a stale golden, never a pass; a rerun in a fresh process, cold or warm
numba cache, writes byte-identical golden files.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from basisbt.regress.golden import DEFAULT_GOLDEN_DIR, REPO_ROOT, builtin_cases, read_golden, regress

pytestmark = pytest.mark.slow

ENV = {"COLUMNS": "250", "NO_COLOR": "1"}


def _describe(outcomes) -> str:
    lines = []
    for oc in outcomes:
        if oc.failed:
            moved = ", ".join(f"{m.key}: {m.golden!r} -> {m.now!r}" for m in (oc.identity + oc.moved)[:6])
            lines.append(f"{oc.case.name}: {oc.status} {oc.message} {moved}")
    return "\n".join(lines)


def test_every_case_matches_its_golden(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make test` runs the whole regression: drift, stale, missing, a failed run or a failed independent check
    (`bless_checks`, run on every case: the ledger, fills, funding and fees recomputed) fails the build."""
    import basisbt.regress.golden as golden
    checked: list[str] = []
    real = golden.bless_checks

    def counting(run):
        checked.append(run.case.name)
        return real(run)
    monkeypatch.setattr(golden, "bless_checks", counting)
    outcomes = regress(builtin_cases(), DEFAULT_GOLDEN_DIR)
    assert outcomes
    assert not any(oc.failed for oc in outcomes), (
        "golden regression failed (if the change is intended: `make golden` after the independent checks, and "
        "say why the numbers moved in the commit):\n" + _describe(outcomes))
    ran = [oc.case.name for oc in outcomes if oc.status != "skipped"]
    assert checked == ran and len(ran) >= 28, (checked, ran)


def test_a_matching_golden_whose_run_fails_the_checks_is_not_a_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    import basisbt.regress.golden as golden
    monkeypatch.setattr(golden, "bless_checks", lambda run: ["fees: from spec -1.0, pnl.fees -2.0"])
    r = _cli(["--only", "perp_short__feb-2025-crash"])
    assert r.exit_code == 1, r.output
    assert "check-failed" in r.output and "fees: from spec -1.0" in r.output, r.output


def _cli(args: list[str]):
    from basisbt.cli.app import app
    return CliRunner().invoke(app, ["regress", *args], env=ENV)


def test_a_changed_venue_file_is_a_stale_golden_naming_the_venue(tmp_path: Path) -> None:
    """One fee rate (binance perp taker) changed in a copy of the venue file given with --venues-dir: the golden
    describes another run (stale, exit 1) and says which venue changed; without the copy: pass (exit 0)."""
    from basisbt.data.venues import BUILTIN_DIR
    patched = tmp_path / "venues"
    patched.mkdir()
    text = (BUILTIN_DIR / "binance.toml").read_text()
    new, n = re.subn(r"(?m)^taker_fee = ([0-9.]+)", lambda m: f"taker_fee = {float(m[1]) * 1.2!r}", text)
    assert n >= 1
    (patched / "binance.toml").write_text(new)

    r = _cli(["--only", "perp_short", "--venues-dir", str(patched)])
    assert r.exit_code == 1, r.output
    for case in ("perp_short__feb-2025-crash", "perp_short__bull-carry", "perp_short__death-spiral",
                 "perp_short__squeeze"):
        assert re.search(rf"{case}\s.*stale.*venue binance changed", r.output), r.output
    assert "venue_fingerprint.binance" in r.output and "venue bybit changed" not in r.output
    for metric in ("metrics.pnl.fees", "ledger.fee.total", "metrics.equity_end"):       # and what moved
        assert metric in r.output, r.output

    r = _cli(["--only", "perp_short"])
    assert r.exit_code == 0, r.output
    assert "stale" not in r.output and "drift" not in r.output


def test_changed_params_are_stale_not_pass(tmp_path: Path) -> None:
    cases = tmp_path / "cases.toml"
    body = ('golden_dir = "g"\n[[case]]\nname = "ps__crash"\nstrategy = "perp_short"\n'
            'data = "scenario:feb-2025-crash"\n[case.params]\nhedge_ratio = {h}\n')
    cases.write_text(body.format(h=1.0))
    r = _cli(["--cases", str(cases)])
    assert r.exit_code == 1 and "missing" in r.output, r.output
    r = _cli(["--cases", str(cases), "--update"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "g" / "ps__crash.toml").exists()
    assert _cli(["--cases", str(cases)]).exit_code == 0

    cases.write_text(body.format(h=0.9))          # a different run under the same golden name
    r = _cli(["--cases", str(cases)])
    assert r.exit_code == 1, r.output
    assert "stale" in r.output and "config_id" in r.output, r.output

    cases.write_text(body.format(h=1.0))          # a golden whose data fingerprint no longer matches
    g = tmp_path / "g" / "ps__crash.toml"
    g.write_text(re.sub(r'data_fingerprint = "[0-9a-f]+"', 'data_fingerprint = "0000000000000000"', g.read_text()))
    r = _cli(["--cases", str(cases)])
    assert r.exit_code == 1 and "stale" in r.output and "data_fingerprint" in r.output, r.output


def test_rerun_in_fresh_process_is_bit_identical(tmp_path: Path) -> None:
    """Cold numba cache, then warm: both fresh processes write exactly the committed golden bytes."""
    numba_cache = tmp_path / "numba"
    env = {**os.environ, **ENV, "NUMBA_CACHE_DIR": str(numba_cache)}
    written = []
    for label in ("cold", "warm"):
        out = tmp_path / label
        p = subprocess.run([sys.executable, "-m", "basisbt.cli.app", "regress", "--update", "--only", "feb-2025-crash",
                            "--golden-dir", str(out)], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                           timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        written.append({f.name: f.read_bytes() for f in sorted(out.glob("*.toml"))})
        if label == "cold":
            assert any(numba_cache.rglob("*.nbi")), "the first process should have filled the numba cache"
    cold, warm = written
    assert cold and cold == warm
    for name, blob in cold.items():
        committed = DEFAULT_GOLDEN_DIR / name
        assert committed.exists(), f"{name} is not blessed yet"
        assert blob == committed.read_bytes(), f"{name}: a fresh process does not reproduce the golden bit for bit"
        assert read_golden(committed)        # and it parses back
