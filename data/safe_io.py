"""Reading user files without surprises: size caps, UTF-8 decoding and OS errors become one-line errors.

A user file (config TOML, dataset TOML, CSV header) is read whole only when it is small; a 1 GB
one-line file is refused after reading a capped prefix, and messages quote at most a short excerpt.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

MAX_TOML_BYTES = 4 << 20          # a config or dataset TOML larger than 4 MiB is not one
MAX_LINE_BYTES = 1 << 20          # a CSV header or row longer than 1 MiB is not a table
EXCERPT = 60


def excerpt(text: str | bytes, n: int = EXCERPT) -> str:
    """A short, single-line quote of some text for an error message."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    one = " ".join(text[: n * 2].split())
    return repr(one[:n] + ("…" if len(one) > n or len(text) > n * 2 else ""))


def file_problem(path: Path, what: str) -> str | None:
    """Why `path` cannot be read as a `what` ("no such file", "is a directory, ..."), or None when it is a file."""
    p = Path(path)
    if p.is_file():
        return None
    if p.is_dir():
        return f"is a directory, expected a {what}"
    return f"not a regular file, expected a {what}" if p.exists() else "no such file"


def read_small_text(path: Path, what: str, *, error: type[Exception], limit: int = MAX_TOML_BYTES) -> str:
    """The UTF-8 text of a small user file; `error` (one line naming the path) if missing, a dir, huge or binary.

    OSErrors other than "not there / not a file" (permissions, I/O) are re-raised for the CLI to
    report as environment failures.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{p}: no such {what}") from None
    except IsADirectoryError:
        raise error(f"{p}: is a directory, expected a {what}") from None
    except OSError as e:
        if e.errno in (errno.EISDIR, errno.ENOTDIR):
            raise error(f"{p}: not a {what}") from None
        raise
    if len(data) > limit:
        raise error(f"{p}: larger than {limit >> 20} MiB; not a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{p}: not UTF-8 text (byte {e.start}); not a {what}") from None


def check_text_table(path: Path, *, error: type[Exception], limit: int = MAX_LINE_BYTES) -> None:
    """Refuse a CSV-like file whose first line is longer than `limit` bytes or that is not text.

    Reads at most `limit` bytes, so a 1 GB one-line file costs a megabyte, not the 10 GB pandas
    would take to split its "header".
    """
    p = Path(path)
    if p.suffix.lower() not in (".csv", ".txt", ".tsv") or not p.is_file():
        return
    with open(p, "rb") as fh:
        head = fh.read(limit)
    if b"\0" in head[:65536]:
        raise error(f"{p}: binary data, not a CSV text file (starts {excerpt(head[:40])})")
    if len(head) >= limit and b"\n" not in head:
        raise error(f"{p}: first line longer than {limit >> 20} MiB; not a CSV (starts {excerpt(head)})")


def fsync_path(path: Path) -> None:
    """Flush a file's or a directory's entries to disk (best effort: some filesystems refuse it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def new_temp(path: Path) -> Path:
    """A fresh, empty temp file beside `path` (mode 0666 minus the umask; mkstemp would give 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return tmp


def atomic_write(path: Path, write: Callable[[Path], object], make_temp: Callable[[Path], Path] = new_temp) -> None:
    """All or nothing: `write(tmp)` fills a temp file beside `path`, which is flushed and renamed over it.
    An OSError that names no file (a full disk or a file-size limit hit inside a writer) is raised again
    naming `path`, so the one-line error says where."""
    tmp = make_temp(Path(path))
    try:
        write(tmp)
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename is None:
            raise with_path(e, path) from e
        raise


_ERRNO_IN_TEXT = re.compile(r"\[errno (\d+)\]", re.IGNORECASE)


def with_path(e: OSError, path: Path) -> OSError:
    """`e` naming `path`, with its errno (read from the text where a library such as pyarrow only wrote it
    there: "[errno 28] No space left on device")."""
    code = e.errno
    if code is None:
        m = _ERRNO_IN_TEXT.search(str(e))
        code = int(m.group(1)) if m else None
    if code is None:
        return OSError(f"{path}: {e}")
    return OSError(code, os.strerror(code), str(path))


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see atomic_write)."""
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(text.encode("utf-8")))
