"""Imported once by a local sweep's forkserver (engine/sweep.py): loads the engine and its compiled kernels
there, so every worker process forked from it starts with them instead of loading them again."""
from __future__ import annotations

from basisbt.engine.sweep import warm

warm()
