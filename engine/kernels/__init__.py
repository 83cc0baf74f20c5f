"""numba kernels: pure functions on numpy arrays (each with a plain-Python twin in tests/reference).

numba's on-disk cache is keyed on each function's own source file, but constants imported from
codes.py (or an inlined helper from margin.py) are frozen into the compiled code: after editing
codes.py a cached `advance` would keep the old column numbers. So the cache lives in a directory
named after a hash of every kernel source file, and of the venue schema (data/venue_schema.py), which lays
out the cfg columns codes.py numbers: any kernel edit or new cfg layout starts a fresh cache.

This package does not import numba itself: `codes` and `arrays` are plain Python, and a command that
only reads them (`basisbt strategies`) should not pay ~0.2 s for numba. When numba is not loaded yet the
cache directory goes into NUMBA_CACHE_DIR, which numba reads when a kernel module first imports it;
when it is, into numba's config directly.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

_PREFIX = "kernels-"


def _schema_file() -> Path:
    """data/venue_schema.py as installed (the source of the cfg layout)."""
    spec = importlib.util.find_spec("basisbt.data.venue_schema")
    if spec is None or spec.origin is None:
        raise RuntimeError("basisbt.data.venue_schema is not importable: a broken install")
    return Path(spec.origin)


def _sources_key() -> str:
    h = hashlib.sha256()
    for p in [*sorted(Path(__file__).parent.glob("*.py")), _schema_file()]:
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()[:12]


def _cache_dir(base: str) -> str:
    """`<base>/kernels-<hash of the kernel sources>`; a base that is already such a directory (set here in a
    parent process, inherited through the environment) is replaced by its parent."""
    if Path(base).name.startswith(_PREFIX):
        base = str(Path(base).parent)
    base = base or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"),
                                "basisbt", "numba")
    return os.path.join(base, f"{_PREFIX}{_sources_key()}")


if "numba" in sys.modules:
    from numba.core import config as _numba_config
    if not _numba_config.DISABLE_JIT:
        _numba_config.CACHE_DIR = _cache_dir(_numba_config.CACHE_DIR)
else:
    os.environ["NUMBA_CACHE_DIR"] = _cache_dir(os.environ.get("NUMBA_CACHE_DIR", ""))
