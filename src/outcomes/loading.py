"""Loading records: CSV, Excel or Parquet files (or DataFrames) into a validated :class:`Cohort`.

The order is fixed: read -> privacy guard -> mapping (renames, codes, wide to long) ->
validation with row accounting.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import math
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from .cohort import EXCLUSION_COLUMNS, Cohort
from .definitions import Definitions
from .exceptions import InputError
from .function import check_function_scores, split_function_rows
from .limits import Limits, check_parquet, check_shape, check_xlsx, open_bounded
from .mapping import ASSESSMENT_COLUMNS, EVENT_COLUMNS, PROCEDURE_COLUMNS, WIDE_PATTERN, Mapping
from .privacy import check_identifiers
from .checks import RawTables, check_frames
from .validation import require_procedure_columns
from .wide import melt_wide, no_scores_message

__all__ = ["detect_encoding", "load_records", "read_table"]

# Columns of a REDCap records export (raw names and the labels export's headers).
REDCAP_NAMES = ("record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
                "Record ID", "Event Name", "Repeat Instrument", "Repeat Instance")

Source = str | os.PathLike[str] | pd.DataFrame
_READERS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".xlsx": "excel", ".xlsm": "excel",
            ".parquet": "parquet", ".pq": "parquet"}
# gzip'd text tables are read as the table inside (".csv.gz", ".tsv.gz", ".txt.gz")
_GZIP = ".gz"
# How many rows at the top of a file may hold titles above the header row.
_HEADER_SEARCH_ROWS = 30
# Decimal commas ("7,5", "1.234,5") in files whose fields are separated by ";" or tabs.
_PANDAS_MAJOR = int(pd.__version__.split(".")[0])
_DECIMAL_COMMA = r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_bytes(path: Path, limits: Limits | None = None) -> bytes:
    """The bytes of a text table (the table inside a .gz), counted against the limits while read."""
    with open_bounded(path, limits) as fh:
        return fh.read()


def _kind(path: Path) -> str | None:
    """The reader for a file name ("csv", "tsv", "excel", "parquet"), or None."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == _GZIP:
        kind = _READERS.get(suffixes[-2]) if len(suffixes) > 1 else None
        return kind if kind in ("csv", "tsv") else None
    return _READERS.get(path.suffix.lower())


def detect_encoding(raw: bytes) -> tuple[str, str | None]:
    """The encoding of a text file and a note saying how it was chosen (None for plain UTF-8).

    A byte-order mark decides; then UTF-8 if every byte sequence is valid UTF-8; else the most
    coherent encoding charset-normalizer finds. Where it finds several equally coherent ones
    (a short file of Western names fits cp1250 as well as cp1252), cp1252, the Windows default
    that Excel writes in Western Europe and the Americas, is preferred.

    Examples
    --------
    >>> detect_encoding("Peña;Müller".encode("cp1252"))[0]
    'cp1252'
    >>> detect_encoding("Peña".encode("utf-8"))
    ('utf-8', None)
    """
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "UTF-8 with a byte-order mark"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "UTF-16 (Excel's 'Unicode text')"
    try:
        raw.decode("utf-8")
        return "utf-8", None
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw))
    if not matches:
        return "cp1252", "not UTF-8 and no encoding fits every byte; read as cp1252, unreadable bytes replaced"
    best = min((m.chaos, -m.coherence) for m in matches)
    tied = [m for m in matches if (m.chaos, -m.coherence) == best]
    western = [m for m in tied if "cp1252" in m.could_be_from_charset]
    chosen = "cp1252" if western else tied[0].encoding
    return chosen, f"not UTF-8; read as {chosen} (detected by charset-normalizer)"


def _split_lines(text: str, sep: str, limit: int) -> list[list[str]]:
    return [[cell.strip() for cell in row] for row in csv.reader(text.splitlines()[:limit], delimiter=sep)]


def _delimiter(text: str) -> str:
    """The delimiter of a text table: the one that splits the most of its first lines into the
    same number (above zero) of fields, "," on a tie (European spreadsheets write ";")."""
    lines = [line for line in text.splitlines()[:_HEADER_SEARCH_ROWS] if line.strip()]
    best, score = ",", (0, 0)
    for sep in (",", ";", "\t", "|"):
        counts = pd.Series([len(row) - 1 for row in csv.reader(lines, delimiter=sep)], dtype=int)
        counts = counts[counts > 0]
        if counts.empty:
            continue
        mode = int(counts.mode().max())
        candidate = (int((counts == mode).sum()), mode)
        if candidate > score:
            best, score = sep, candidate
    return best


def _header_known(names: set[str]) -> Any:
    """A function scoring a row as a header: how many of its cells name a known column."""
    known = {re.sub(r"[^0-9a-z]+", "_", n.strip().lower()).strip("_") for n in names}

    def score(row: list[Any]) -> int:
        hits = 0
        for cell in row:
            if cell is None or (isinstance(cell, float) and math.isnan(cell)):
                continue
            text = str(cell).strip()
            key = re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")
            if key and (key in known or WIDE_PATTERN.match(text)):
                hits += 1
        return hits
    return score


def _find_header(rows: list[list[Any]], known: Any) -> int:
    """The position of the header among the first rows: the first with the most known column
    names; with none known, the first with the most filled cells (titles fill one or two)."""
    if not rows:
        return 0
    scores = [known(row) for row in rows]
    if max(scores) > 0:
        return scores.index(max(scores))
    filled = [sum(1 for c in row if c is not None and str(c).strip() not in ("", "nan")) for row in rows]
    return filled.index(max(filled))


def _unique_columns(names: list[str], role: str, source: str, meaningful: Any, notes: list[str]) -> list[str]:
    """Column names made unique: a repeated name that means something (a canonical or wide pain
    column, or one the mapping renames) is an error; any other repeat gets a suffix and a note."""
    seen: dict[str, int] = {}
    repeats: dict[str, list[int]] = {}
    out = []
    for position, name in enumerate(names, start=1):
        if name in seen:
            if meaningful(name):
                raise InputError(
                    f"Columns {seen[name]} and {position} of {source} must have different names; both are "
                    f"{name!r} (after trimming spaces). Rename or remove one of them.")
            repeats.setdefault(name, []).append(position)
            k = 2
            while f"{name} ({k})" in seen or f"{name} ({k})" in names:
                k += 1
            name = f"{name} ({k})"
        seen.setdefault(name, position)
        out.append(name)
    for name, positions in repeats.items():
        notes.append(f"{source}: column{'s' if len(positions) > 1 else ''} {', '.join(map(str, positions))} "
                     f"repeat{'' if len(positions) > 1 else 's'} the name {name!r}; read as {name!r} (2), (3), ...")
    return out


def _header_names(cells: list[Any]) -> list[str]:
    names = []
    for i, cell in enumerate(cells):
        blank = cell is None or (isinstance(cell, float) and math.isnan(cell)) or not str(cell).strip()
        names.append(f"Unnamed: {i}" if blank else str(cell).strip())
    return names


def _decimal_commas(frame: pd.DataFrame, source: str, notes: list[str]) -> pd.DataFrame:
    """Read decimal commas ("7,5" -> "7.5", "1.234,5" -> "1234.5") in text cells."""
    changed = []
    for column in frame.columns:
        values = frame[column]
        if not values.astype("string").str.contains(",", regex=False).any():
            continue
        hit = values.astype("string").str.fullmatch(r"\s*" + _DECIMAL_COMMA + r"\s*").fillna(False).astype(bool)
        if hit.any():
            fixed = values[hit].str.strip().str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            frame[column] = values.where(~hit, fixed)
            changed.append(column)
    if changed:
        header = frame.attrs.get("header")  # the names as read, when the columns are still positions
        changed = [str(header[c]) if header is not None and isinstance(c, int) and c < len(header) else str(c)
                   for c in changed]
        notes.append(f"{source}: decimal commas read as decimal points in {', '.join(map(repr, changed[:6]))}"
                     + (f" and {len(changed) - 6} more columns" if len(changed) > 6 else ""))
    return frame


def _cells_hashable(frame: pd.DataFrame, role: str, notes: list[str]) -> pd.DataFrame:
    """A DataFrame whose cells can be compared and hashed: dict, list or set cells become text."""
    try:
        pd.util.hash_pandas_object(frame, index=False)
        return frame
    except (TypeError, ValueError):
        pass
    frame = frame.copy()
    odd = (dict, list, set, bytearray)
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object:
            mask = values.map(lambda v: isinstance(v, odd)).astype(bool)
            if mask.any():
                frame[column] = values.map(lambda v: str(v) if isinstance(v, odd) else v)
                notes.append(f"{role} (DataFrame): column {column!r} holds lists or dicts; read as text")
    return frame


def _read_text(path: Path, kind: str, name: str, role: str, *, header_row: int | None, encoding: str | None,
               known: Any, notes: list[str], limits: Limits | None = None) -> pd.DataFrame:
    """A CSV or TSV file (optionally gzip'd) as text cells with ``_row``, blank lines dropped."""
    raw = _read_bytes(path, limits)
    if b"\x00" in raw[: 1 << 16] and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{role.capitalize()} file {name} must be a text table (CSV); got binary data "
                         "(is it a workbook or another file renamed to .csv?).")
    if encoding is None:
        encoding, how = detect_encoding(raw)
        if how:
            notes.append(f"{name}: {how}; set encoding in the mapping's [{role}] section if names look wrong")
    head = raw[: 1 << 16].decode(encoding, errors="replace").lstrip("\ufeff")
    sep = "\t" if kind == "tsv" else _delimiter(head)
    if header_row is None:
        header = _find_header(_split_lines(head, sep, _HEADER_SEARCH_ROWS), known)
    else:
        header = header_row - 1
    frame = pd.read_csv(io.BytesIO(raw), dtype=str, sep=sep, header=None, skiprows=header, skip_blank_lines=False,
                        skipinitialspace=True, encoding=encoding, encoding_errors="replace")
    if frame.empty:
        raise pd.errors.EmptyDataError
    if header:
        notes.append(f"{name}: header on row {header + 1}; the {header} row{'s' if header > 1 else ''} above it "
                     "skipped (set header_row to choose another)")
    columns = list(frame.iloc[0])
    frame = frame.iloc[1:]
    frame.columns = range(frame.shape[1])
    # rows as a spreadsheet numbers them: the header's line + 1 onwards (blank lines kept until here)
    frame.insert(0, "_row", range(header + 2, header + 2 + len(frame)))
    frame.attrs["header"] = columns
    if sep != ",":
        frame = _decimal_commas(frame, name, notes)
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as pandas, text as Arrow-backed strings on pandas 2 as on pandas 3 (pandas 2
    would make a Python object of every text cell: seconds and gigabytes for a registry)."""
    if _PANDAS_MAJOR >= 3:
        return pd.read_parquet(path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = pd.StringDtype("pyarrow")
    # one block per column (no 2-D block to copy into), each Arrow column freed once converted
    return pq.read_table(path).to_pandas(types_mapper={pa.string(): text, pa.large_string(): text}.get,
                                         split_blocks=True, self_destruct=True)


def _read_excel(path: Path, name: str, *, sheet: str | int | None, header_row: int | None, known: Any,
                notes: list[str]) -> pd.DataFrame:
    """One sheet of a workbook as cells with ``_row``: the named sheet, else the first whose
    header has known column names (a cover sheet is passed over), else the first.

    Read by calamine (python-calamine, Rust): the same cells as openpyxl, 8 times faster on a
    150,000-row sheet (5 s against 40 s).
    """
    book = pd.ExcelFile(path, engine="calamine")
    names = book.sheet_names
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if not 1 <= sheet <= len(names):
            raise InputError(f"`sheet` of {name} must be a number from 1 to {len(names)}; got {sheet}.")
        sheet = names[sheet - 1]
    if sheet is not None and sheet not in names:
        raise InputError(f"`sheet` of {name} must be one of its sheets ({', '.join(map(repr, names))}); got {sheet!r}.")
    candidates = [sheet] if sheet is not None else names
    chosen, frame, header = None, None, 0
    for candidate in candidates:
        cells = pd.read_excel(book, sheet_name=candidate, header=None, dtype=object)
        rows = cells.head(_HEADER_SEARCH_ROWS).values.tolist()
        found = header_row - 1 if header_row is not None else _find_header(rows, known)
        if frame is None or (header_row is None and known(rows[found] if rows else []) > 0):
            chosen, frame, header = candidate, cells, found
            if sheet is not None or (rows and known(rows[found]) > 0):
                break
    if len(names) > 1 and sheet is None:
        notes.append(f"{name}: read sheet {chosen!r} of {len(names)} (set sheet to choose another)")
    if header:
        notes.append(f"{name}: header on row {header + 1}; the rows above it skipped (set header_row to choose another)")
    if frame.empty or header >= len(frame):
        raise pd.errors.EmptyDataError
    columns = list(frame.iloc[header])
    frame = frame.iloc[header + 1:]
    frame.columns = range(frame.shape[1])
    frame.insert(0, "_row", range(header + 2, header + 2 + len(frame)))
    frame.attrs["header"] = columns
    return frame


def read_table(
    source: Source,
    role: str,
    *,
    mapping: Mapping | None = None,
    sheet: str | int | None = None,
    header_row: int | None = None,
    encoding: str | None = None,
    notes: list[str] | None = None,
    limits: Limits | None = None,
) -> tuple[pd.DataFrame, str, str]:
    """Read one input into a frame of raw values; returns (frame, name, sha256).

    Files are read with every column as text (ids such as "007" keep their zeros); a ``_row``
    column carries the row number a spreadsheet shows (header = row 1 unless title rows sit
    above it; blank lines are dropped but keep the numbering). A DataFrame keeps its values and
    ``_row`` is its position.

    Parameters
    ----------
    source : path or DataFrame
        .csv, .tsv, .txt (optionally .gz), .xlsx, .xlsm or .parquet.
    role : {"procedures", "assessments", "events"}
    mapping : Mapping, optional
        Its column names help find the header row; its ``[role]`` section may give ``sheet``,
        ``header_row`` and ``encoding``.
    sheet, header_row, encoding : optional
        Override the mapping: the Excel sheet (name, or number from 1), the header's row (as a
        spreadsheet numbers it), the text encoding. By default the sheet is the first with known
        column names, the header the first of the top 30 rows with the most known names, and the
        encoding detected (:func:`detect_encoding`).
    notes : list, optional
        Receives one line for each reading decision worth telling (encoding, header row, sheet,
        decimal commas, repeated column names).
    limits : outcomes.limits.Limits, optional
        Decompressed bytes, rows and columns the file may hold (checked while it is read).
    """
    notes = [] if notes is None else notes
    mapping = mapping or Mapping()
    options = mapping.reading_for(role)
    sheet = options["sheet"] if sheet is None else sheet
    header_row = options["header_row"] if header_row is None else header_row
    encoding = options["encoding"] if encoding is None else encoding
    explicit = mapping.columns_for(role)
    known_names = {*PROCEDURE_COLUMNS, *ASSESSMENT_COLUMNS, *EVENT_COLUMNS, *explicit, *REDCAP_NAMES}
    known = _header_known(known_names)

    def meaningful(column: str) -> bool:
        return bool(known([column])) or column in explicit

    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        name = f"{role} (DataFrame)"
        if frame.empty:
            raise InputError(f"`{role}` must have at least one row; got an empty DataFrame.")
        frame.columns = _unique_columns([str(c).strip() for c in frame.columns], role, name, meaningful, notes)
        frame = _cells_hashable(frame, role, notes)
        try:
            hashed = pd.util.hash_pandas_object(frame, index=False)
        except (TypeError, ValueError):  # cells of several kinds in one column: hash their text
            hashed = pd.util.hash_pandas_object(frame.astype(str), index=False)
        digest = hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()
        frame.insert(0, "_row", range(len(frame)))
        return frame.reset_index(drop=True), name, digest
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"`{role}` must be a file path or a pandas DataFrame; got {type(source).__name__}.")
    path = Path(source)
    name = path.name
    if path.is_dir():
        raise InputError(f"{role.capitalize()} {name} is a folder; it must be a file (.csv, .xlsx or .parquet).")
    if not path.is_file():
        raise InputError(f"{role.capitalize()} file {name} was not found (looked for {name} in {path.parent.name or '.'}/).")
    kind = _kind(path)
    if kind is None:
        raise InputError(
            f"{role.capitalize()} file {name} must be .csv (or .csv.gz), .tsv, .xlsx or .parquet; "
            f"got {''.join(path.suffixes[-2:]) or 'no extension'!r}."
        )
    limits = Limits.resolve(limits)
    try:
        if kind in ("csv", "tsv"):
            frame = _read_text(path, kind, name, role, header_row=header_row, encoding=encoding, known=known,
                               notes=notes, limits=limits)
        elif kind == "excel":
            check_xlsx(path, limits)
            frame = _read_excel(path, name, sheet=sheet, header_row=header_row, known=known, notes=notes)
        else:
            check_parquet(path, limits)
            frame = _read_parquet(path)
            frame.insert(0, "_row", range(2, len(frame) + 2))
            frame.attrs["header"] = [c for c in frame.columns if c != "_row"]
            frame.columns = ["_row", *range(frame.shape[1] - 1)]
    except (pd.errors.EmptyDataError, IndexError):
        raise InputError(f"{role.capitalize()} file {name} is empty: it must have a header row and at least one row.") from None
    except InputError:
        raise
    except Exception as exc:  # any reader failure becomes one clear line
        detail = " ".join(str(exc).split())
        raise InputError(f"{role.capitalize()} file {name} could not be read as {kind}: {type(exc).__name__}: {detail}".rstrip(".") + ".") from None
    check_shape(len(frame), frame.shape[1] - 1, name, limits)
    header = _unique_columns(_header_names(frame.attrs.pop("header")), role, name, meaningful, notes)
    frame.columns = ["_row", *header]
    # blank lines and empty spreadsheet rows are not records; their numbers stay unused
    if kind != "parquet":
        blank = frame.drop(columns="_row").isna().all(axis=1)
        if blank.any():
            frame = frame.loc[~blank].reset_index(drop=True)
    if frame.empty:
        raise InputError(f"{role.capitalize()} file {name} has no data rows: it must have at least one row.")
    return frame, name, _sha256(path)


def load_records(
    procedures: Source,
    assessments: Source | None = None,
    events: Source | None = None,
    *,
    mapping: Mapping | str | os.PathLike[str] | None = None,
    definitions: Definitions | None = None,
    allow_identifiers: bool = False,
    sheet: str | int | None = None,
    header_row: int | None = None,
    encoding: str | None = None,
    limits: Limits | None = None,
) -> Cohort:
    """Read, check and validate procedure records and pain scores.

    Parameters
    ----------
    procedures : path or DataFrame
        One row per procedure (CSV, Excel .xlsx or Parquet). May also hold wide pain columns
        (``pain_24h``, ``vas_3mo``, ...) when there is no separate assessments table.
    assessments : path or DataFrame, optional
        One row per pain score (long form), or a wide export with one row per procedure.
    events : path or DataFrame, optional
        One row per adverse event: ``procedure_id``, ``event`` (a canonical code or a label the
        mapping's ``[events.values.event]`` maps), ``days_after`` or ``event_date``, optional
        ``severity`` (major | minor), ``level``, ``adjacent`` (see :mod:`outcomes.safety`).
        Without it the safety endpoints are unknown (NA); ``cohort.has_events`` says which.
    mapping : Mapping or path to a TOML file, optional
        How a clinic's own columns and codes map onto the canonical tables.
    definitions : Definitions, optional
        Used for the baseline window (how long before the procedure a score may lie).
    allow_identifiers : bool, default False
        Go on even if the data look identifying; a warning then travels with the cohort.
    sheet, header_row, encoding : optional
        How to read the procedures file, over the mapping's ``[procedures]`` section: the Excel
        sheet (name, or number from 1), the header's row as a spreadsheet numbers it, the text
        encoding. By default the first sheet with known columns, the first of the top 30 rows
        with the most known column names, and the detected encoding (:func:`detect_encoding`);
        ``cohort.notes`` says what was found.
    limits : outcomes.limits.Limits, optional
        Decompressed bytes, rows and columns one file may hold (default 2 GB, 20 million rows,
        5,000 columns; also set by the environment, see :mod:`outcomes.limits`).

    Returns
    -------
    Cohort
        Validated tables and the exclusion log (``cohort.exclusions``: table, source, row,
        column, value, reason for every excluded row); ``cohort.flow()`` accounts for every row;
        ``cohort.notes`` says how the files were read.

    Raises
    ------
    InputError
        A missing, unreadable or empty file, a missing required column, duplicate procedure ids.
    PrivacyError
        The data look identifying and ``allow_identifiers`` is False.

    Examples
    --------
    >>> import pandas as pd
    >>> procs = pd.DataFrame({"procedure_id": ["P1", "P2"], "patient_id": ["A", "B"],
    ...                       "procedure": ["PVP", "22513"], "procedure_date": ["2022-01-03", "2022-02-07"],
    ...                       "pain_baseline": [8, 7], "pain_48h": [3, 14]})
    >>> cohort = load_records(procs)
    >>> cohort.flow()[["table", "read", "excluded", "analysed"]].values.tolist()
    [['procedures', 2, 0, 2], ['assessments', 4, 1, 3]]
    """
    definitions = definitions or Definitions()
    mapping = Mapping.coerce(mapping)

    notes: list[str] = []
    proc_raw, proc_name, proc_hash = read_table(procedures, "procedures", mapping=mapping, sheet=sheet,
                                                header_row=header_row, encoding=encoding, notes=notes, limits=limits)
    proc_raw = _without(proc_raw, [c for c in mapping.procedure_drop if c in proc_raw])
    warnings_ = [check_identifiers(_without(proc_raw, ["_row"]), source=proc_name, used=_used_columns(mapping),
                                   allow_identifiers=allow_identifiers, row_numbers=proc_raw["_row"].to_numpy())]
    sources, hashes = {"procedures": proc_name}, {"procedures": proc_hash}
    ass_raw = export = None
    if assessments is not None:
        ass_raw, ass_name, ass_hash = read_table(assessments, "assessments", mapping=mapping, notes=notes,
                                                 limits=limits)
        ass_raw = _without(ass_raw, [c for c in mapping.assessment_drop if c in ass_raw])
        warnings_.append(check_identifiers(_without(ass_raw, ["_row"]), source=ass_name,
                                           used=mapping.assessment_columns,
                                           allow_identifiers=allow_identifiers,
                                           row_numbers=ass_raw["_row"].to_numpy()))
        sources["assessments"], hashes["assessments"] = ass_name, ass_hash
    if events is not None:
        ev_raw, ev_name, ev_hash = read_table(events, "events", mapping=mapping, notes=notes, limits=limits)
        ev_raw = _without(ev_raw, [c for c in mapping.event_drop if c in ev_raw])
        warnings_.append(check_identifiers(_without(ev_raw, ["_row"]), source=ev_name, used=mapping.event_columns,
                                           allow_identifiers=allow_identifiers,
                                           row_numbers=ev_raw["_row"].to_numpy()))
        sources["events"], hashes["events"] = ev_name, ev_hash

    set_aside = pd.DataFrame(columns=EXCLUSION_COLUMNS)
    if mapping.redcap is not None:
        if assessments is not None:
            raise InputError("`assessments` must not be given with a REDCap export (the [redcap] section of the "
                             "mapping): the export holds the pain scores; got both.")
        from .redcap import split_export

        export = split_export(proc_raw, mapping, source=proc_name, notes=notes)
        proc, ass, set_aside = export.procedures, export.assessments, export.set_aside
        ass_name = f"{proc_name} (pain scores)"
        sources["assessments"] = ass_name
    else:
        proc = _renamed(mapping, proc_raw, "procedures", proc_name)
    if mapping.redcap is not None:
        pass
    elif assessments is None:
        wide = mapping.wide_columns(proc)
        if not wide and not {"procedure_id", "procedure"} <= set(proc.columns):
            require_procedure_columns(proc.columns, proc_name)
        if not wide:
            raise InputError(no_scores_message(proc_name))
        if "procedure_id" not in proc:
            require_procedure_columns(proc.columns, proc_name)
        notes.append(_wide_note(proc_name, wide))
        ass = melt_wide(proc, wide, mapping)
        ass_name = f"{proc_name} (wide pain columns)"
        sources["assessments"] = ass_name
        proc = proc.drop(columns=list(wide))
    else:
        ass = _renamed(mapping, ass_raw, "assessments", ass_name)
        if "hours_after" not in ass and "assessed_at" not in ass:
            wide = mapping.wide_columns(ass)
            if wide and "procedure_id" in ass:
                notes.append(_wide_note(ass_name, wide))
                ass = melt_wide(ass, wide, mapping)

    # function scores (ODI, RMDQ, EQ-5D VAS) are checked and counted in a table of their own
    ass, fn_rows = split_function_rows(ass, mapping)
    if fn_rows.empty:
        fn_rows = _empty_like(fn_rows)  # not a view that keeps the scores' columns alive
    read = {"procedures": len(proc), "assessments": len(ass) + len(set_aside)}
    # the exclusion rules and remarks (outcomes/sql/procedures.sql, assessments.sql), run by DuckDB
    # over Arrow tables of the frames read; the frames are dropped first, so that the text DuckDB
    # reads by dictionary or trimmed (ids, codes, dates) is freed before DuckDB's own memory grows
    # (its connection closed before the results become pandas: memory)
    raw = RawTables(proc, ass)
    del proc, ass, proc_raw, ass_raw, export
    procedures_ok, assessments_ok, proc_excl, ass_excl, proc_remarks = check_frames(
        raw, names={"procedures": proc_name, "assessments": ass_name}, mapping=mapping,
        baseline_window_hours=definitions.baseline_window_hours, notes=notes,
    )
    del raw
    # events and follow-up (last_contact_days / last_contact_date): outcomes.safety, sql/events.sql;
    # each opens a DuckDB connection only when there is something to check
    from .safety import validate_events

    ev = _renamed(mapping, ev_raw, "events", ev_name) if events is not None else None
    procedures_ok, events_ok, ev_excl, ev_remarks = validate_events(
        ev, procedures_ok, proc_excl, source=ev_name if events is not None else "events",
        procedure_source=proc_name, mapping=mapping, notes=notes)
    procedures_ok = procedures_ok.drop(columns=[c for c in procedures_ok if str(c).startswith("_")])
    excluded_ids = proc_excl["procedure_id"].dropna()
    function_ok, fn_excl = check_function_scores(
        fn_rows, procedures_ok, excluded_ids, source=ass_name, mapping=mapping,
        baseline_window_hours=definitions.baseline_window_hours, notes=notes)
    logs = [f for f in (proc_excl, set_aside, ass_excl, fn_excl, ev_excl) if not f.empty]
    if len(fn_rows):
        read["function_scores"] = len(fn_rows)
        sources["function_scores"] = ass_name
    if events is not None:
        read["events"] = len(ev)
    return Cohort(
        procedures=procedures_ok,
        assessments=assessments_ok,
        exclusions=pd.concat(logs, ignore_index=True) if logs else proc_excl,
        remarks=pd.concat([proc_remarks, ev_remarks], ignore_index=True) if len(ev_remarks) else proc_remarks,
        function_scores=function_ok,
        read=read,
        events=events_ok,
        has_events=events is not None,
        notes=tuple(notes),
        sources=sources,
        input_hashes=hashes,
        privacy_warnings=tuple(w for w in warnings_ if w),
    )




def _without(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` without ``columns``, the other columns not copied (pandas 2 copies every column
    in ``drop`` and in a column slice of a 2-D block)."""
    if not columns:
        return frame
    if frame.columns.has_duplicates:
        return frame.drop(columns=columns)
    gone = set(columns)
    return pd.DataFrame({c: frame[c] for c in frame.columns if c not in gone}, index=frame.index, copy=False)


def _empty_like(frame: pd.DataFrame) -> pd.DataFrame:
    """An empty frame with the columns and dtypes of ``frame`` that shares no memory with it (an
    empty slice of Arrow-backed or numpy columns keeps the whole columns alive)."""
    out = pd.DataFrame({k: pd.Series([], dtype=dtype) for k, dtype in enumerate(frame.dtypes)})
    out.columns = frame.columns
    return out


def _used_columns(mapping: Mapping) -> set[str]:
    """The procedure columns the mapping puts onto the data contract, as the file names them: the
    clinic's names and, for a REDCap labels export, the dictionary's labels of those fields."""
    used = {*mapping.procedure_columns, *mapping.assessment_columns}
    if mapping.redcap is not None and mapping.redcap.dictionary is not None:
        from .redcap import read_dictionary

        labels = read_dictionary(mapping.redcap.dictionary).labels
        used |= {labels[field] for field in list(used) if field in labels}
    return used


def _renamed(mapping: Mapping, frame: pd.DataFrame, role: str, source: str) -> pd.DataFrame:
    """``mapping.rename``, refusing two columns that end up with the same canonical name."""
    # the new names from an empty frame, set on a shallow copy (pandas 2's rename copies the data)
    names = pd.Index(mapping.rename(frame.iloc[:0], role).columns)
    out = frame.copy(deep=False)
    out.columns = names
    if names.has_duplicates:
        twice = names[names.duplicated()][0]
        where = [str(frame.columns[i]) for i in range(len(names)) if names[i] == twice]
        raise InputError(
            f"Columns {', '.join(map(repr, where))} of {source} must not both mean {twice!r}; keep one, or map "
            "the other to another name in the mapping file.")
    return out


def _wide_note(source: str, columns: dict[Any, float]) -> str:
    """Which wide columns were read as which hours after the procedure."""
    shown = ", ".join(f"{c} = {h:g} h" for c, h in list(columns.items())[:12])
    more = f" and {len(columns) - 12} more" if len(columns) > 12 else ""
    return f"{source}: wide pain columns read as hours after the procedure: {shown}{more} (a month is 730.5 h)"
