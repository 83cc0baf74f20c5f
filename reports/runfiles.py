"""The data files of a run directory: which tables, in which format, as bytes, and their sha256.

The tables with a row per bar or per event (`equity` = the per-bar timeline, `ledger`, `fills`, `extras`)
are Parquet by default: a year of 1-minute bars is ~130 MB written in a fraction of a second, where CSV
took ~35 s. `csv=True` (`basisbt run --csv`) writes them as CSV instead, floats in Python's shortest
round-trip repr. The two small tables (`liquidations`, `attribution`) are always CSV. Either format
reads back to the exact same numbers (reports/loader.py).

Every file's bytes are hashed as they are written; run.toml lists the hashes (`[files]`) and metrics.json
holds the hash of run.toml (`run_fingerprint`), so `basisbt report` can tell an edited run directory
from the one the run wrote (reports/verify.py).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

TABLES = ("equity", "ledger", "fills", "extras")    # Parquet unless csv=True
SMALL_TABLES = ("liquidations", "attribution")       # always CSV: a few rows a person reads
FORMATS = ("parquet", "csv")
PARQUET_COMPRESSION = "snappy"                        # fastest to write of pyarrow's codecs; every reader has it


def table_name(table: str, csv: bool) -> str:
    """The file name of a table: `equity.parquet`, or `equity.csv` when csv or a small table."""
    return f"{table}.{'csv' if csv or table in SMALL_TABLES else 'parquet'}"


def sha256(data: bytes) -> str:
    """The hex sha256 of some bytes (what run.toml's [files] lists)."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in 8 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(8 << 20):
            h.update(block)
    return h.hexdigest()


def csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV bytes of a frame without its index (UTF-8, '\\n' line ends, repr floats)."""
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def arrow_table(df: pd.DataFrame) -> Any:
    """A pyarrow Table of the frame's columns (no index). Float columns go in as they are, NaN as NaN (not
    null: the values are the run's, and no null bitmap is built); other columns by pandas' conversion."""
    import pyarrow as pa
    arrays = [pa.array(df[c].to_numpy()) if df[c].dtype.kind == "f" else pa.array(df[c], from_pandas=True)
              for c in df.columns]
    return pa.Table.from_arrays(arrays, names=[str(c) for c in df.columns])


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write a frame as Parquet straight to `path` (streamed: no whole-file buffer to grow): snappy, no
    dictionary for numbers (it costs more time than it saves on float columns), statistics on `ts` only
    (what readers filter by). pyarrow encodes and writes without holding the GIL."""
    import pyarrow.parquet as pq
    table = arrow_table(df)
    text = [c for c in table.column_names if df[c].dtype.kind not in "fiumbM"]
    pq.write_table(table, str(path), compression=PARQUET_COMPRESSION, use_dictionary=text or False,
                   write_statistics=["ts"] if "ts" in table.column_names else False)


def write_table(df: pd.DataFrame, path: Path) -> str:
    """Write a table atomically in the format its suffix names; returns the sha256 of the bytes written."""
    from basisbt.data.safe_io import atomic_write
    if path.suffix == ".parquet":
        atomic_write(path, lambda tmp: write_parquet(df, tmp))
        return file_sha256(path)
    data = csv_bytes(df)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return sha256(data)


def read_table(path: Path) -> pd.DataFrame:
    """A table file as written by table_bytes (by its suffix). Raises what pandas/pyarrow raise."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq
        return pq.read_table(path).to_pandas()
    return pd.read_csv(path, encoding="utf-8")
