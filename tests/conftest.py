"""Shared test set-up: headless plotting, a numba cache inside the repo, no hypothesis deadlines."""
import os
from pathlib import Path

from hypothesis import settings

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".numba_cache"))

# A first example may include a numba compile (seconds on a cold cache); timing is not what
# these properties test, and speed lives in `make bench`.
settings.register_profile("basisbt", deadline=None)
settings.load_profile("basisbt")
