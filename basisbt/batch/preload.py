"""Imported once by a local batch pool's forkserver (basisbt/batch/backends.py): loads the engine and its compiled
kernels there, so every worker process forked from it starts with them instead of loading them again."""
from __future__ import annotations

from basisbt.batch.backends import warm

warm()
