"""Loading records: CSV, Excel or Parquet files (or DataFrames) into a validated :class:`Cohort`.

The order is fixed: read -> privacy guard -> mapping (renames, codes, wide to long) ->
validation with row accounting.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd

from .cohort import Cohort
from .definitions import Definitions
from .exceptions import InputError
from .limits import Limits, check_parquet, check_shape, check_xlsx, open_bounded
from .mapping import Mapping
from .privacy import check_identifiers
from .validation import validate_assessments, validate_procedures

__all__ = ["load_records", "read_table"]

Source = str | os.PathLike[str] | pd.DataFrame
_READERS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".xlsx": "excel", ".xlsm": "excel",
            ".parquet": "parquet", ".pq": "parquet"}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _delimiter(path: Path) -> str:
    """The delimiter of a text table, from its header line: "," unless ";", tab or "|" is more
    common there (European spreadsheets export CSV with semicolons)."""
    with open_bounded(path) as fh:
        header = fh.readline(1 << 16).decode("utf-8", errors="replace")
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > counts[","] else ","


def read_table(source: Source, role: str, *, limits: Limits | None = None) -> tuple[pd.DataFrame, str, str]:
    """Read one input into a frame of raw values; returns (frame, name, sha256).

    Files are read with every column as text (ids such as "007" keep their zeros); a ``_row``
    column carries the row number a spreadsheet shows (header = row 1). A DataFrame keeps its
    values and ``_row`` is its position.
    """
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        name = f"{role} (DataFrame)"
        digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()
        frame.insert(0, "_row", range(len(frame)))
        if frame.empty:
            raise InputError(f"`{role}` must have at least one row; got an empty DataFrame.")
        return frame.reset_index(drop=True), name, digest
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"`{role}` must be a file path or a pandas DataFrame; got {type(source).__name__}.")
    path = Path(source)
    name = path.name
    if path.is_dir():
        raise InputError(f"{role.capitalize()} {name} is a folder; it must be a file (.csv, .xlsx or .parquet).")
    if not path.is_file():
        raise InputError(f"{role.capitalize()} file {name} was not found (looked for {name} in {path.parent.name or '.'}/).")
    suffix = path.suffix.lower()
    if suffix == ".gz":  # clinic.csv.gz: decompressed while read, within the limits
        suffix = Path(path.stem).suffix.lower()
        suffix = suffix if _READERS.get(suffix) in ("csv", "tsv") else ".gz"
    kind = _READERS.get(suffix)
    if kind is None:
        raise InputError(
            f"{role.capitalize()} file {name} must be .csv, .xlsx or .parquet; got {path.suffix or 'no extension'!r}."
        )
    limits = Limits.resolve(limits)
    try:
        if kind in ("csv", "tsv"):
            with open_bounded(path, limits) as fh:
                frame = pd.read_csv(fh, dtype=str, sep="\t" if kind == "tsv" else _delimiter(path),
                                    skipinitialspace=True, encoding_errors="replace", nrows=limits.max_rows + 1)
        elif kind == "excel":
            check_xlsx(path, limits)
            frame = pd.read_excel(path, dtype=object)
        else:
            check_parquet(path, limits)
            frame = pd.read_parquet(path)
    except InputError:
        raise
    except pd.errors.EmptyDataError:
        raise InputError(f"{role.capitalize()} file {name} is empty: it must have a header row and at least one row.") from None
    except Exception as exc:  # any reader failure becomes one clear line
        raise InputError(f"{role.capitalize()} file {name} could not be read as {kind}: {type(exc).__name__}: {exc}".rstrip(".") + ".") from None
    if frame.empty:
        raise InputError(f"{role.capitalize()} file {name} has no data rows: it must have at least one row.")
    check_shape(len(frame), len(frame.columns), name, limits)
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.insert(0, "_row", range(2, len(frame) + 2))
    return frame, name, _sha256(path)


def load_records(
    procedures: Source,
    assessments: Source | None = None,
    *,
    mapping: Mapping | str | os.PathLike[str] | None = None,
    definitions: Definitions | None = None,
    allow_identifiers: bool = False,
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
    mapping : Mapping or path to a TOML file, optional
        How a clinic's own columns and codes map onto the canonical tables.
    definitions : Definitions, optional
        Used for the baseline window (how long before the procedure a score may lie).
    allow_identifiers : bool, default False
        Go on even if the data look identifying; a warning then travels with the cohort.
    limits : outcomes.limits.Limits, optional
        Decompressed bytes, rows and columns one file may hold (default 2 GB, 20 million rows,
        5,000 columns; also set by the environment, see :mod:`outcomes.limits`).

    Returns
    -------
    Cohort
        Validated tables and the exclusion log; ``cohort.flow()`` accounts for every row.

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

    proc_raw, proc_name, proc_hash = read_table(procedures, "procedures", limits=limits)
    proc_raw = proc_raw.drop(columns=[c for c in mapping.procedure_drop if c in proc_raw])
    offset = 2 if proc_name != "procedures (DataFrame)" else 0
    warnings_ = [check_identifiers(proc_raw.drop(columns="_row"), source=proc_name, used=mapping.procedure_columns,
                                   allow_identifiers=allow_identifiers, row_offset=offset)]
    sources, hashes = {"procedures": proc_name}, {"procedures": proc_hash}
    if assessments is not None:
        ass_raw, ass_name, ass_hash = read_table(assessments, "assessments", limits=limits)
        ass_raw = ass_raw.drop(columns=[c for c in mapping.assessment_drop if c in ass_raw])
        offset = 2 if ass_name != "assessments (DataFrame)" else 0
        warnings_.append(check_identifiers(ass_raw.drop(columns="_row"), source=ass_name,
                                           used=mapping.assessment_columns,
                                           allow_identifiers=allow_identifiers, row_offset=offset))
        sources["assessments"], hashes["assessments"] = ass_name, ass_hash

    proc = mapping.rename(proc_raw, "procedures")
    if assessments is None:
        wide = mapping.wide_columns(proc)
        if not wide and not {"procedure_id", "procedure", "procedure_date"} <= set(proc.columns):
            validate_procedures(proc, source=proc_name, mapping=mapping)  # raises the missing-column error
        if not wide:
            raise InputError(
                f"{proc_name} has no pain scores: pass an assessments table, or include wide pain columns "
                "such as 'pain_baseline', 'pain_48h', 'pain_4w' (see the mapping file's [wide] section)."
            )
        if "procedure_id" not in proc:
            validate_procedures(proc, source=proc_name, mapping=mapping)  # raises the missing-column error
        ass = mapping.melt_wide(proc, wide)
        ass_name = f"{proc_name} (wide pain columns)"
        sources["assessments"] = ass_name
        proc = proc.drop(columns=list(wide))
    else:
        ass = mapping.rename(ass_raw, "assessments")
        if "hours_after" not in ass and "assessed_at" not in ass:
            wide = mapping.wide_columns(ass)
            if wide and "procedure_id" in ass:
                ass = mapping.melt_wide(ass, wide)

    procedures_ok, proc_excl, proc_remarks = validate_procedures(proc, source=proc_name, mapping=mapping)
    excluded_ids = proc_excl["procedure_id"].dropna()
    assessments_ok, ass_excl, ass_remarks = validate_assessments(
        ass, procedures_ok, excluded_ids, source=ass_name, mapping=mapping,
        baseline_window_hours=definitions.baseline_window_hours,
    )
    procedures_ok = procedures_ok.drop(columns=[c for c in procedures_ok if str(c).startswith("_")])
    return Cohort(
        procedures=procedures_ok,
        assessments=assessments_ok,
        exclusions=pd.concat([proc_excl, ass_excl], ignore_index=True),
        remarks=pd.concat([proc_remarks, ass_remarks], ignore_index=True),
        read={"procedures": len(proc_raw), "assessments": len(ass)},
        sources=sources,
        input_hashes=hashes,
        privacy_warnings=tuple(w for w in warnings_ if w),
    )


