import pytest

"""With NUMBA_DISABLE_JIT=1 the kernels run as plain Python (how the goldens were cross-checked):
the engine must still work that way, compiled entry points included (engine/kernels/entry.py)."""
import os
import subprocess
import sys
from pathlib import Path

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_golden_case_passes_without_the_jit():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-m", "basisbt.cli.app", "regress", "--only", "perp_short__feb-2025-crash",
                          "--only", "perp_short-usdt-5x-bybit__squeeze"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 pass" in out.stdout
