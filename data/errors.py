"""The two input errors every path raises: `DataError` (bad data: file, row, rule) and `ConfigError` (a key or
value we cannot use: the message names it and the valid choices).

Both name the run inputs they are about the way the front door that took them spells them. A message that names
a run input writes it as `{key}`, the input's key being `bb.run`'s keyword (`{timeframe}`, `{spot_from}`,
`{only_venues}`), and lists its keys: `str(e)` reads `timeframe '1m' does not apply ...` for a Python caller, and
the command line prints `e.spelled(FLAGS)`, `--timeframe '1m' does not apply ...` (basisbt/cli/options.py holds
its spellings).
"""
from __future__ import annotations

from collections.abc import Mapping


def _spell(template: str, keys: tuple[str, ...], names: Mapping[str, str]) -> str:
    for k in keys:
        template = template.replace("{" + k + "}", names.get(k, k))
    return template


class Spelled(Exception):
    """An error whose message names run inputs by key (see the module docstring); `key` one key or several."""

    keys: tuple[str, ...] = ()
    template: str = ""

    def __init__(self, message: str = "", *, key: str | tuple[str, ...] | None = None) -> None:
        self.keys, self.template = _keys(key), message
        super().__init__(_spell(message, self.keys, {}))

    def spelled(self, names: Mapping[str, str]) -> str:
        """The message naming its inputs as `names` spells them (key -> e.g. '--timeframe'), else as str()."""
        return _spell(self.template, self.keys, names) if self.keys else str(self)


def _keys(key: str | tuple[str, ...] | None) -> tuple[str, ...]:
    return () if key is None else (key,) if isinstance(key, str) else tuple(key)


class ConfigError(Spelled, ValueError):
    """A config key or value we cannot use (the message names it and the valid choices)."""


class DataError(Spelled, ValueError):
    """Bad input data. `str()` is a single line a user can act on: file, row, rule."""

    def __init__(self, rule: str, *, file: str | None = None, row: int | None = None,
                 detail: str = "", key: str | tuple[str, ...] | None = None) -> None:
        self.rule = rule
        self.file = file
        self.row = row
        self.detail = detail
        super().__init__(self._message(), key=key)

    def _message(self) -> str:
        where = self.file or "<frame>"
        if self.row is not None:
            where += f", row {self.row}"
        msg = f"{where}: {self.rule}"
        return f"{msg} ({self.detail})" if self.detail else msg
