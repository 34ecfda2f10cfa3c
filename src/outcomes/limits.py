"""Bounded input: a file may not inflate past a size, or hold more rows or columns than a limit.

Every reader of the package goes through these checks, so a compressed file that inflates to
many gigabytes (a "zip bomb"), an ``.xlsx`` whose members lie about their size, or an NDJSON
export of a billion lines ends with one :class:`~outcomes.exceptions.InputError` line instead of
an out-of-memory abort or a silent hour of work:

- ``.gz`` files (CSV, NDJSON) are decompressed through :class:`BoundedReader`, which counts the
  bytes as they are read and stops at the limit;
- ``.xlsx`` members are checked before openpyxl opens the file: their declared sizes, their
  compression ratio, and then the worksheets themselves, inflated in a stream and counted
  (declared sizes can lie); rows are counted in the same pass (Excel holds at most 1,048,576);
- Parquet row and column counts come from the file's footer;
- every table is checked for rows and columns when read.

Limits (:class:`Limits`) default to 2 GB decompressed, 20 million rows and 5,000 columns; set
them with keywords or the environment variables ``OUTCOMES_MAX_INPUT_BYTES``,
``OUTCOMES_MAX_ROWS`` and ``OUTCOMES_MAX_COLUMNS``.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from .exceptions import InputError

__all__ = ["BoundedReader", "Limits", "check_file", "check_output", "check_parquet", "check_shape", "check_xlsx", "open_bounded"]

EXCEL_MAX_ROWS = 1_048_576  # rows per worksheet in Excel 2007 and later (Microsoft's specification)
_MAX_RATIO = 200  # an xlsx member compressed more than 200:1 is refused (sheets of text stay under ~20:1)
_ENV = {"max_bytes": "OUTCOMES_MAX_INPUT_BYTES", "max_rows": "OUTCOMES_MAX_ROWS", "max_columns": "OUTCOMES_MAX_COLUMNS"}


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one input may hold.

    Parameters
    ----------
    max_bytes : int, default 2 GiB
        Bytes of one file once decompressed (``OUTCOMES_MAX_INPUT_BYTES``).
    max_rows : int, default 20,000,000
        Rows (lines of NDJSON) of one file (``OUTCOMES_MAX_ROWS``).
    max_columns : int, default 5,000
        Columns of one table (``OUTCOMES_MAX_COLUMNS``).

    Examples
    --------
    >>> Limits(max_rows=10).max_rows
    10
    """

    max_bytes: int = 2 << 30
    max_rows: int = 20_000_000
    max_columns: int = 5_000

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_rows", "max_columns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"`{name}` must be a positive whole number; got {value!r}.")

    @classmethod
    def resolve(cls, limits: Limits | None = None, **overrides: int | None) -> Limits:
        """The limits in force: ``limits`` if given, else the defaults updated from the environment;
        then the keywords that are not None."""
        base = limits if limits is not None else cls()
        changes: dict[str, int] = {}
        for name, variable in _ENV.items():
            text = os.environ.get(variable)
            if text is not None and limits is None:
                try:
                    changes[name] = int(float(text.strip()))
                except ValueError:
                    raise InputError(f"`{variable}` must be a whole number; got {text!r}.") from None
        changes.update({k: v for k, v in overrides.items() if v is not None})
        return replace(base, **changes) if changes else base

    def too_big(self, name: str) -> InputError:
        return InputError(
            f"{name} must be at most {_size(self.max_bytes)} once decompressed; it inflates past that. "
            f"Split the export, or raise the limit (OUTCOMES_MAX_INPUT_BYTES or limits=Limits(max_bytes=...)).")

    def too_many_rows(self, name: str, rows: int | None = None, cap: int | None = None) -> InputError:
        cap = cap or self.max_rows
        got = f"got {rows:,}" if rows is not None else "got more"
        return InputError(
            f"{name} must have at most {cap:,} rows; {got}. Split the export, or raise the limit "
            "(OUTCOMES_MAX_ROWS or limits=Limits(max_rows=...)).")


class BoundedReader(io.RawIOBase):
    """A binary stream that raises :class:`InputError` once more than ``limit`` bytes were read.

    Wrap a decompressing stream (``gzip.open``) in it: the count is of inflated bytes, so a
    small file that inflates without end stops at the limit, with memory bounded by what the
    caller keeps.
    """

    def __init__(self, raw: BinaryIO, limits: Limits, name: str) -> None:
        super().__init__()
        self._raw, self._limits, self._name, self.count = raw, limits, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        try:
            data = self._raw.read(len(view))
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{self._name} could not be decompressed: {type(exc).__name__}: {exc}.") from None
        n = len(data)
        view[:n] = data
        self.count += n
        if self.count > self._limits.max_bytes:
            raise self._limits.too_big(self._name)
        return n

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts with the gzip magic number (whatever its name)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_bounded(path: str | os.PathLike[str], limits: Limits | None = None) -> io.BufferedReader:
    """Open a file for reading bytes, decompressing gzip, never yielding more than ``max_bytes``.

    Examples
    --------
    >>> import gzip, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "big.csv.gz")
    >>> with gzip.open(path, "wb") as fh:
    ...     _ = fh.write(b"0" * 10_000)
    >>> open_bounded(path, Limits(max_bytes=1000)).read()
    Traceback (most recent call last):
    ...
    outcomes.exceptions.InputError: big.csv.gz must be at most 1000 bytes once decompressed; it inflates past that. Split the export, or raise the limit (OUTCOMES_MAX_INPUT_BYTES or limits=Limits(max_bytes=...)).
    """
    limits = Limits.resolve(limits)
    path = Path(path)
    raw: BinaryIO = gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")  # noqa: SIM115
    return io.BufferedReader(BoundedReader(raw, limits, path.name), buffer_size=1 << 20)


def check_file(path: str | os.PathLike[str], limits: Limits | None = None) -> None:
    """Refuse a file that is, or inflates to, more than ``max_bytes`` or ``max_rows`` lines.

    A plain file is judged by its size. A gzip file is inflated once in a stream (16 MB at a
    time, nothing kept: about 0.2 s per GB) counting bytes and lines, so a reader that then
    decompresses it natively (Arrow, DuckDB) never meets a bomb.
    """
    limits = Limits.resolve(limits)
    path = Path(path)
    if not is_gzip(path):
        if path.stat().st_size > limits.max_bytes:
            raise limits.too_big(path.name)
        return
    lines = size = 0
    try:
        with gzip.open(path, "rb") as fh:
            while block := fh.read(1 << 24):
                size += len(block)
                lines += block.count(b"\n")
                if size > limits.max_bytes:
                    raise limits.too_big(path.name)
                if lines > limits.max_rows:
                    raise limits.too_many_rows(path.name)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path.name} could not be decompressed: {type(exc).__name__}: {exc}.") from None


def check_shape(rows: int, columns: int, name: str, limits: Limits | None = None) -> None:
    """Raise :class:`InputError` when a table has more rows or columns than the limits allow."""
    limits = Limits.resolve(limits)
    if rows > limits.max_rows:
        raise limits.too_many_rows(name, rows)
    if columns > limits.max_columns:
        raise InputError(f"{name} must have at most {limits.max_columns:,} columns; got {columns:,}. "
                         "Export only the columns the analysis uses, or raise the limit "
                         "(OUTCOMES_MAX_COLUMNS or limits=Limits(max_columns=...)).")


def check_parquet(path: str | os.PathLike[str], limits: Limits | None = None) -> None:
    """Rows, columns and uncompressed size of a Parquet file, from its footer, before it is read."""
    import pyarrow.parquet as pq

    limits = Limits.resolve(limits)
    name = Path(path).name
    meta = pq.ParquetFile(path).metadata
    check_shape(meta.num_rows, meta.num_columns, name, limits)
    if sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) > limits.max_bytes:
        raise limits.too_big(name)


def check_xlsx(path: str | os.PathLike[str], limits: Limits | None = None) -> None:
    """Refuse an ``.xlsx`` that would inflate past the limits, before openpyxl opens it.

    The zip directory's declared sizes and ratios are checked first; then each worksheet is
    inflated in a stream (1 MB at a time, nothing kept) and its bytes and ``<row`` elements are
    counted, because a crafted file can declare small sizes and still inflate without end.
    """
    limits = Limits.resolve(limits)
    name = Path(path).name
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return  # not a zip archive at all: the reader says so in its own words
    with archive:
        members = archive.infolist()
        declared = sum(m.file_size for m in members)
        if declared > limits.max_bytes:
            raise limits.too_big(name)
        for member in members:
            if member.compress_size and member.file_size / member.compress_size > _MAX_RATIO \
                    and member.file_size > (1 << 20):
                raise InputError(f"{name} must not hold a member compressed more than {_MAX_RATIO}:1 (a zip bomb); "
                                 f"{member.filename} inflates from {_size(member.compress_size)} to "
                                 f"{_size(member.file_size)}.")
        total = 0
        cap = min(limits.max_rows, EXCEL_MAX_ROWS)
        for member in members:
            if not (member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml")) \
                    and not member.filename.startswith("xl/sharedStrings"):
                continue
            rows, tail = 0, b""
            with archive.open(member) as fh:
                while block := fh.read(1 << 20):
                    total += len(block)
                    if total > limits.max_bytes:
                        raise limits.too_big(name)
                    chunk = tail + block
                    rows += chunk.count(b"<row ") + chunk.count(b"<row>")
                    tail = chunk[-5:]
                    rows -= tail.count(b"<row ") + tail.count(b"<row>")  # counted again with the next block
                    if rows > cap:
                        break
            rows += tail.count(b"<row ") + tail.count(b"<row>")
            if rows > cap:
                where = f"{name} ({member.filename.rsplit('/', 1)[-1].removesuffix('.xml')})"
                raise limits.too_many_rows(where, rows if len(block) == 0 else None, cap)


def check_output(path: str | os.PathLike[str], *, name: str = "output") -> Path:
    """Make sure a file can be written at ``path`` before any work starts; returns the path.

    The folder is created when missing (as the writers do); a folder that cannot be created, is
    not writable, or a path that is itself a folder ends with one :class:`InputError` line.

    Examples
    --------
    >>> import tempfile, os
    >>> blocker = os.path.join(tempfile.mkdtemp(), "a_file")
    >>> open(blocker, "w").close()
    >>> check_output(os.path.join(blocker, "report.html"))
    Traceback (most recent call last):
    ...
    outcomes.exceptions.InputError: `output` must be in a folder that exists or can be created; got a_file/report.html (a_file is a file, not a folder).
    """
    path = Path(path)
    shown = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    if path.is_dir():
        raise InputError(f"`{name}` must be a file name; got {shown}, which is a folder.")
    parent = path.parent
    blocker = next((p for p in [parent, *parent.parents] if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise InputError(f"`{name}` must be in a folder that exists or can be created; got {shown} "
                         f"({blocker.name} is a file, not a folder).")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"`{name}` must be in a folder that exists or can be created; got {shown} "
                         f"({exc.strerror or type(exc).__name__}).") from None
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"`{name}` must be a place you can write to; got {shown} (permission denied).")
    return path
