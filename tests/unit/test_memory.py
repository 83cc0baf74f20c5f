"""basisbt.memory: the huge-page switch the CLI and the benchmark flip, and its opt-out."""
import numpy as np

from basisbt.memory import ENV, prefer_small_pages


def test_prefer_small_pages_turns_numpy_madvise_off(monkeypatch):
    setter = np._core.multiarray._set_madvise_hugepage
    before = setter(True)                      # returns the previous setting
    try:
        monkeypatch.delenv(ENV, raising=False)
        assert prefer_small_pages() is True
        assert setter(True) is False           # it was off
    finally:
        setter(before)


def test_env_keeps_huge_pages(monkeypatch):
    setter = np._core.multiarray._set_madvise_hugepage
    before = setter(True)
    try:
        monkeypatch.setenv(ENV, "1")
        assert prefer_small_pages() is False
        assert setter(True) is True            # untouched
    finally:
        setter(before)
