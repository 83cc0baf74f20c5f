"""Shared test set-up: headless plotting, a numba cache inside the repo, no hypothesis deadlines."""
import os
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".numba_cache"))

# A first example may include a numba compile (seconds on a cold cache); timing is not what
# these properties test, and speed lives in `make bench`.
settings.register_profile("basisbt", deadline=None)
# CI (.ci/run) explores the same examples on every run, so a landing is never decided by the draw; `make test`
# draws new ones each time (and replays failures from .hypothesis/), which is where new counterexamples come from.
settings.register_profile("ci", parent=settings.get_profile("basisbt"), derandomize=True)
settings.load_profile(os.environ.get("BASISBT_HYPOTHESIS_PROFILE", "basisbt"))

# A test may skip only because ../shared (real data, recorded references) is absent from this clone, or the
# platform lacks what it exercises. Any other skip is a test that silently stopped checking: it fails here.
ALLOWED_SKIPS = ("shared", "absent (fresh clone)", "reads /proc", "no file-size limit", "needs fork")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ANN001, ANN201 - pytest's hook signature
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        if not any(a in reason for a in ALLOWED_SKIPS):
            rep.outcome = "failed"
            rep.longrepr = f"skipped for a reason that is not a missing ../shared or platform: {reason}"
