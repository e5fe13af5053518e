"""Read a long CSV or Parquet table as chunks of whole series, out of core, whatever the order of its rows.

DuckDB (the `stream` extra) groups the rows by series without loading the file: one pass lists the series
(sorted like the in-memory loader sorts them) and gives each a chunk number, a second pass writes the rows
to a temporary Parquet dataset partitioned by chunk; each chunk is then read back alone, in the file's row
order, and goes through the loader's own row checks (`files.check_rows`), so a chunk is the frame
`read_data` would give for those series and errors name the same file rows. Checks about the whole file
(header, time and id columns, all-empty columns, empty ids) run first, on the whole file.

Why DuckDB rather than pyarrow datasets: grouping unsorted rows needs a sort or a hash partition that
spills to disk under a memory limit; DuckDB does that in one statement (`COPY ... PARTITION_BY`), while a
pyarrow dataset can only filter, which would read the file once per chunk.
A CSV is first converted, in bounded pandas chunks with the loader's separator and missing-value rules, to
a temporary Parquet file of text columns (numbers are parsed by the row checks, as for the whole file).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import InputError

DEFAULT_CHUNK_SERIES = 10_000
"""Series per streamed chunk: 10,000 series x 400 rows held about 1 GiB at once in `forecast predict`
(experiments/benchmarks/batch_predict.py)."""
STREAM_ABOVE_ROWS = 10_000_000
"""`forecast predict` streams a long file above this many rows (in memory, 50,000 series x 400 rows peaked
at 2.2 GiB), when the `stream` extra is installed."""
DUCKDB_MEMORY = "1GB"
"""DuckDB's memory limit while it groups the rows; beyond it, it spills to the temporary folder."""
ROW = "__forecast_row"
"""Column holding each row's 0-based position in the file (for messages)."""
CSV_BLOCK_ROWS = 1_000_000


def stream_extra_error(what: str) -> InputError:
    return InputError(f"{what} needs DuckDB, which is not installed: pip install 'forecast[stream]'")


def _duckdb():
    try:
        import duckdb
    except ImportError:
        raise stream_extra_error("streaming prediction") from None
    return duckdb


def stream_available() -> bool:
    """True when the `stream` extra (DuckDB) is installed."""
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def estimated_rows(path: str | os.PathLike[str]) -> int:
    """Rows of a CSV or Parquet file without reading it: Parquet's footer, or a CSV's size over the mean
    length of its first lines. 0 for anything else (a bundled dataset name)."""
    from forecast.data.sources.files import is_text_table, table_suffix

    path = Path(path)
    if not path.is_file():
        return 0
    suffix = table_suffix(path)
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows
        except (OSError, ValueError):
            return 0  # the loader reports a damaged file
    if is_text_table(suffix) and not suffix.endswith((".gz", ".zip", ".bz2", ".xz")):
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
        lines = max(head.count(b"\n"), 1)
        return int(path.stat().st_size / (len(head) / lines))
    return 0


class SeriesChunks:
    """Iterate a long table as validated, time-indexed frames of at most `chunk_series` whole series each.

    Use as a context manager (it owns a temporary folder, removed on exit, about the input's size in
    Parquet): `with SeriesChunks(path, ...) as chunks: for frame in chunks: ...`. Chunks come in series
    order (the order `read_data` sorts series in); each frame has `attrs["source"]` like `read_data`'s.

    numeric: columns that must hold numbers. missing, sort: the loader's policies. threads: DuckDB's
    threads (0: one per core). temp_dir: where the temporary folder goes (default: the system's).
    """

    def __init__(self, path: str | os.PathLike[str], time_col: str | None, id_col: str, *,
                 chunk_series: int = DEFAULT_CHUNK_SERIES, numeric: Sequence[str] = (), missing: str = "keep",
                 sort: bool = False, threads: int = 0, temp_dir: str | os.PathLike[str] | None = None) -> None:
        if chunk_series < 1:
            raise InputError(f"chunk_series must be >= 1, got {chunk_series}")
        self.path, self.time_col, self.id_col = Path(path), time_col, id_col
        self.chunk_series, self.numeric, self.missing, self.sort = chunk_series, tuple(numeric), missing, sort
        self.threads, self.temp_dir = threads, temp_dir
        self.columns: list[str] = []
        self.n_series = self.n_chunks = 0
        self._work: Path | None = None

    def __enter__(self) -> SeriesChunks:
        from forecast.data.sources.files import check_readable, is_text_table, table_suffix

        duckdb = _duckdb()
        check_readable(self.path)
        suffix = table_suffix(self.path)
        if suffix not in (".parquet", ".pq") and not is_text_table(suffix):
            raise InputError(f"{self.path}: unsupported extension {suffix!r}; use .csv or .parquet")
        self._work = Path(tempfile.mkdtemp(prefix="forecast-stream-", dir=self.temp_dir))
        try:
            self._decimal_comma = False
            if is_text_table(suffix):
                source, schema = self._csv_to_parquet(suffix), None
            else:
                import pyarrow.parquet as pq

                source = self.path
                try:
                    schema = pq.read_schema(self.path)
                except (OSError, ValueError) as exc:
                    raise InputError(f"{self.path}: cannot read it as parquet ({type(exc).__name__}: {exc})") from None
            self._schema = schema
            with duckdb.connect() as con:
                con.execute(f"SET memory_limit='{DUCKDB_MEMORY}'")
                con.execute(f"SET temp_directory='{_quote(self._work / 'spill')}'")
                con.execute("SET preserve_insertion_order=false")
                if self.threads:
                    con.execute(f"SET threads={int(self.threads)}")
                self._group(con, source)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Remove the temporary folder."""
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = None

    def _csv_to_parquet(self, suffix: str) -> Path:
        """The CSV as a Parquet file of text columns plus each row's file position, read in bounded blocks
        with the loader's separator and missing-value rules; integer-looking ids become integers, as the
        whole-file reader makes them."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from forecast.data.sources.files import csv_options, read_errors

        options = csv_options(self.path, suffix)
        self._decimal_comma = options["decimal"] == ","
        target = self._work / "input.parquet"
        writer, offset, integer_ids = None, 0, True
        with read_errors(self.path, suffix):
            for block in pd.read_csv(self.path, dtype=str, chunksize=CSV_BLOCK_ROWS, **options):
                if self.id_col in block.columns:
                    ids = block[self.id_col].dropna()
                    integer_ids = integer_ids and bool(ids.str.fullmatch(r"\s*[+-]?\d{1,18}\s*").all())
                block[ROW] = np.arange(offset, offset + len(block), dtype=np.int64)
                offset += len(block)
                if writer is None:
                    schema = pa.schema([(str(c), pa.string()) for c in block.columns[:-1]] + [(ROW, pa.int64())])
                    writer = pq.ParquetWriter(target, schema)
                writer.write_table(pa.Table.from_pandas(block, schema=writer.schema, preserve_index=False))
        if writer is None:
            raise InputError(f"{self.path}: has a header but no data rows")
        writer.close()
        self._integer_ids = integer_ids
        return target

    def _group(self, con, source: Path) -> None:
        """Whole-file checks, then the rows written to `<work>/parts/chunk=K/` for chunk K of the series."""
        from forecast.data.sources.files import check_empty_columns, find_key_columns

        csv = self._schema is None
        scan = (f"read_parquet('{_quote(source)}')" if csv else
                f"(SELECT * EXCLUDE (file_row_number), file_row_number AS {ROW} "
                f"FROM read_parquet('{_quote(source)}', file_row_number=true))")
        if csv and self._integer_ids and self.id_col:
            scan = f"(SELECT * REPLACE (CAST(trim({_name(self.id_col)}) AS BIGINT) AS {_name(self.id_col)}) FROM {scan})"
        con.execute(f"CREATE VIEW src AS SELECT * FROM {scan}")
        self.columns = [c for c in con.execute("SELECT * FROM src LIMIT 0").fetch_df().columns if c != ROW]
        sample = self._frame(con.sql(f"SELECT * FROM src ORDER BY {ROW} LIMIT 100").to_arrow_table())
        if not len(sample):
            raise InputError(f"{self.path}: has a header but no data rows")
        sample.pop(ROW)
        self.time_col = find_key_columns(sample, self.path, self.time_col, self.id_col)
        counts = con.execute("SELECT " + ", ".join(f"count({_name(c)})" for c in self.columns) + " FROM src").fetchall()[0]
        check_empty_columns([c for c, n in zip(self.columns, counts, strict=True) if n == 0], self.path)
        missing_id = con.execute(f"SELECT min({ROW}) FROM src WHERE {_name(self.id_col)} IS NULL").fetchall()[0][0]
        if missing_id is not None:
            raise InputError(f"{self.path}: column {self.id_col!r} row {missing_id + 1}: empty series id; fill it "
                             "or drop the row")
        key = _name(self.id_col)
        con.execute(f"CREATE TABLE series AS SELECT {key} AS series_key, "
                    f"(row_number() OVER (ORDER BY {key}) - 1) // {int(self.chunk_series)} AS chunk "
                    f"FROM (SELECT DISTINCT {key} FROM src)")
        self.n_series = con.execute("SELECT count(*) FROM series").fetchall()[0][0]
        self.n_chunks = -(-self.n_series // self.chunk_series)
        parts = self._work / "parts"
        con.execute(f"COPY (SELECT src.*, series.chunk FROM src JOIN series ON src.{key} = series.series_key) "
                    f"TO '{_quote(parts)}' (FORMAT parquet, PARTITION_BY (chunk))")
        if csv:
            (self._work / "input.parquet").unlink(missing_ok=True)

    def _frame(self, table) -> pd.DataFrame:
        """A pyarrow table of rows as a pandas frame with the dtypes the whole-file reader gives."""
        import pyarrow as pa

        if self._schema is not None:  # back to the file's own types (time zone, categories, widths)
            schema = self._schema
            if ROW in table.column_names:
                schema = schema.append(pa.field(ROW, pa.int64()))
            table = table.select(schema.names).cast(schema)
        frame = table.to_pandas()
        if not isinstance(frame.index, pd.RangeIndex):  # Parquet written with its index, as load_table does
            frame = frame.reset_index()
        return frame

    def __iter__(self) -> Iterator[pd.DataFrame]:
        import pyarrow.parquet as pq

        from forecast.data.reading import require_numeric
        from forecast.data.sources.files import check_rows

        if self._work is None:
            raise RuntimeError("use SeriesChunks as a context manager")
        for k in range(self.n_chunks):
            part = self._work / "parts" / f"chunk={k}"
            frame = self._frame(pq.read_table(part))
            rows = frame.pop(ROW).to_numpy()
            if len(rows) > 1 and (rows[1:] < rows[:-1]).any():  # back to file order, for the row checks
                order = np.argsort(rows, kind="stable")
                frame, rows = frame.take(order).reset_index(drop=True), rows[order]
            if self._decimal_comma:
                text = [c for c in frame.columns if c not in (self.time_col, self.id_col)]
                frame[text] = frame[text].apply(lambda col: col.str.replace(",", ".", regex=False))
            frame = check_rows(frame, self.path, self.time_col, self.id_col, missing=self.missing,
                               sort=self.sort, rows=rows)
            frame.attrs["source"] = str(self.path)
            require_numeric(frame, str(self.path), self.numeric)
            shutil.rmtree(part, ignore_errors=True)  # read: free its disk space
            yield frame


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _name(column: str) -> str:
    return '"' + str(column).replace('"', '""') + '"'

