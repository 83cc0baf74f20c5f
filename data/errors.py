"""The one exception every data path raises: it names the file, the row and the broken rule."""
from __future__ import annotations


class DataError(ValueError):
    """Bad input data. `str()` is a single line a user can act on: file, row, rule."""

    def __init__(self, rule: str, *, file: str | None = None, row: int | None = None,
                 detail: str = "") -> None:
        self.rule = rule
        self.file = file
        self.row = row
        self.detail = detail
        super().__init__(self._message())

    def _message(self) -> str:
        where = self.file or "<frame>"
        if self.row is not None:
            where += f", row {self.row}"
        msg = f"{where}: {self.rule}"
        return f"{msg} ({self.detail})" if self.detail else msg
