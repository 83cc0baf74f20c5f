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

import pandas as pd

TABLES = ("equity", "ledger", "fills", "extras")    # Parquet unless csv=True
SMALL_TABLES = ("liquidations", "attribution")       # always CSV: a few rows a person reads
FORMATS = ("parquet", "csv")
PARQUET_COMPRESSION = "snappy"                        # fastest to write of pyarrow's codecs; every reader has it


def table_name(table: str, csv: bool) -> str:
    """The file name of a table: `equity.parquet`, or `equity.csv` when csv or a small table."""
    return f"{table}.{'csv' if csv or table in SMALL_TABLES else 'parquet'}"


def sha256(data: bytes | memoryview) -> str:
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


def parquet_bytes(df: pd.DataFrame) -> memoryview:
    """Parquet bytes of a frame without its index (a view of pyarrow's buffer: no 100 MB copy): snappy, no
    dictionary for numbers (it costs more time than it saves on float columns), statistics on `ts` only
    (what readers filter by)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pa.Table.from_pandas(df, preserve_index=False)
    text = [f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=PARQUET_COMPRESSION, use_dictionary=text or False,
                   write_statistics=["ts"] if "ts" in table.column_names else False)
    return memoryview(sink.getvalue())


def table_bytes(df: pd.DataFrame, name: str) -> bytes | memoryview:
    """The bytes of file `name` (its suffix says the format)."""
    return parquet_bytes(df) if name.endswith(".parquet") else csv_bytes(df)


def read_table(path: Path) -> pd.DataFrame:
    """A table file as written by table_bytes (by its suffix). Raises what pandas/pyarrow raise."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq
        return pq.read_table(path).to_pandas()
    return pd.read_csv(path, encoding="utf-8")
