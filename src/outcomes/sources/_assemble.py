"""Shared steps of the clinical-standard sources: sessions, linking scores by time, the cohort.

Both readers (FHIR, OMOP) stage their records as flat frames with the same columns, then:

1. :func:`merge_sessions` makes one procedure of the records of one session (same patient, day
   and kind): an add-on code (each additional level) or a second record adds levels.
2. :func:`link_scores` gives each pain score at most one procedure: by an explicit link when
   the record has one (FHIR ``Observation.partOf``, OMOP ``measurement_event_id``), else by time:
   the last score in the baseline window before a procedure is its baseline, and only its
   baseline (it is not also the previous procedure's follow-up); other scores belong to the
   patient's latest procedure before them, up to the follow-up horizon (and so never past the
   next procedure). Two procedures at the same instant (two kinds in one session): the first
   recorded takes the score.
3. :func:`build_cohort` hands the canonical tables to :func:`outcomes.loading.load_records` (so the
   privacy guard, validation and row accounting are the CSV path's) and adds the source-level
   accounting ("fhir:Observation", "omop:measurement", ...) to the cohort.

Everything is vectorised (``merge_asof`` and group-bys), no loop over records.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np
import pandas as pd

from ..cohort import EXCLUSION_COLUMNS, REMARK_COLUMNS, Cohort
from ..definitions import Definitions
from ..loading import load_records
from ..mapping import Mapping

__all__ = ["build_cohort", "excluded", "isin", "last_contact", "link_events", "link_nearest", "link_scores", "lookup",
           "merge_sessions"]

HOUR = pd.Timedelta(hours=1)
REASON_SESSION = "another record of the same session (patient, day, procedure): counted in levels_treated"
REASON_NO_PROCEDURE = "patient has no analysed vertebroplasty or kyphoplasty procedure"
REASON_LINK_LEFT_OUT = "linked to a procedure that is not analysed (another operation, or left out)"
REASON_UNLINKED = ("unlinked: not within the baseline window before, or the follow-up horizon after, "
                   "a procedure of this patient")
REASON_EARLIER_BASELINE = ("an earlier score in the baseline window (the last score before the "
                           "procedure is its baseline)")
REMARK_BASELINE_NOT_FOLLOW_UP = ("baseline of the patient's next procedure, so not also a follow-up of the "
                                 "previous one (a score belongs to at most one procedure)")


def excluded(table: str, source: Any, row: Any, column: Any, value: Any, reason: Any,
             procedure_id: Any = None) -> pd.DataFrame:
    """Exclusion-log rows (``cohort.EXCLUSION_COLUMNS``); arguments are arrays or scalars."""
    n = max((len(v) for v in (source, row, column, value, reason, procedure_id)
             if isinstance(v, (pd.Series, np.ndarray, list))), default=0)
    if n == 0:
        return pd.DataFrame(columns=EXCLUSION_COLUMNS)

    def col(v, dtype="string"):
        if isinstance(v, (pd.Series, np.ndarray, list)):
            return pd.array(np.asarray(v, dtype=object), dtype=dtype)
        return pd.array([v] * n, dtype=dtype)

    return pd.DataFrame({
        "table": table, "source": col(source), "row": col(row, "Int64"), "column": col(column),
        "value": col(value), "reason": col(reason), "procedure_id": col(procedure_id),
    })[EXCLUSION_COLUMNS]


def remarks(table: str, source: Any, row: Any, column: str, value: Any, remark: str) -> pd.DataFrame:
    frame = excluded(table, source, row, column, value, remark)
    return frame.rename(columns={"reason": "remark"})[REMARK_COLUMNS]


def isin(values: pd.Series, pool: Any) -> pd.Series:
    """``values.isin(pool)`` for text ids through pyarrow (an order of magnitude faster on
    millions of rows than pandas' own for pyarrow-backed strings); missing values are False."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pool = pd.Series(list(pool) if isinstance(pool, (set, frozenset, dict)) else pool, dtype=object)
    left = pa.array(values.astype(object).where(values.notna(), None).astype("string"))
    right = pa.array(pool.dropna().astype(str).drop_duplicates().astype("string"))
    hit = pc.fill_null(pc.is_in(left, value_set=right), False)
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=values.index)


def lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``table[key]`` for each key (missing where absent), aligned to ``keys``; ``table`` is
    deduplicated on its index first. (``Series.map`` with an all-missing key array fails in
    pandas 3.)"""
    table = table[~table.index.duplicated()]
    table = table[table.index.notna()]
    values = table.reindex(keys.astype(object).where(keys.notna(), None).to_numpy()).to_numpy()
    return pd.Series(values, index=keys.index)


def hours_between(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier) / HOUR


def merge_sessions(procs: pd.DataFrame, *, table: str, merge: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """One row per session; returns (procedures, exclusions, {record id: kept id}).

    ``procs`` has ``procedure_id, patient_id, procedure, addon, levels, t, procedure_date,
    complication, _source, _row`` and any other fields (first non-missing value of the session
    wins; ``complication`` is true when any record says so). ``levels`` is the levels a record
    contributes (NaN: not stated, and then 1: a first-level code such as CPT 22510 or 22513 is
    one level treated, as the CSV's ``levels_treated = 1``).
    """
    procs = procs.reset_index(drop=True)
    order = np.lexsort((np.arange(len(procs)), procs["t"].to_numpy(), procs["addon"].to_numpy()))
    procs = procs.iloc[order]
    primary = ~procs["addon"].astype(bool)
    day_key = procs["patient_id"].astype(str) + "\x1f" + procs["procedure_date"].astype(str) + "\x1f" + procs["procedure"].astype(str)
    dated = procs["procedure_date"].notna() & procs["patient_id"].notna()
    day_key = day_key.where(dated, "\x1e" + procs["procedure_id"].astype(str))  # undated: a session of its own
    if merge:
        session = day_key.where(primary, None)
    else:
        session = (procs["procedure_id"].astype(str) + "\x1f").where(primary, None)
    # an add-on joins the first primary record of its patient, day and kind; alone it stands for itself
    first_primary = pd.Series(session[primary].to_numpy(), index=day_key[primary].to_numpy())
    first_primary = first_primary[~first_primary.index.duplicated()]
    addon_session = day_key.map(first_primary)
    session = session.fillna(addon_session).fillna(day_key)
    procs = procs.assign(_session=session.to_numpy())
    grouped = procs.groupby("_session", sort=False)
    levels = procs["levels"].astype(float).fillna(1.0)
    total = levels.groupby(procs["_session"].to_numpy(), sort=False).sum(min_count=1)
    kept = grouped.first()
    kept["levels_treated"] = total.reindex(kept.index).to_numpy()
    if "complication" in procs:
        comp = procs["complication"].astype("boolean")
        any_true = comp.groupby(procs["_session"].to_numpy(), sort=False).max()
        kept["complication"] = any_true.reindex(kept.index).to_numpy()
    kept_id = grouped["procedure_id"].transform("first")
    merged = procs["procedure_id"] != kept_id
    log = excluded(table, procs.loc[merged, "_source"], procs.loc[merged, "_row"], "code",
                   procs.loc[merged, "_code"] if "_code" in procs else None,
                   REASON_SESSION, kept_id[merged])
    remap = dict(zip(procs["procedure_id"].astype(str), kept_id.astype(str)))
    kept = kept.reset_index(drop=True).drop(columns=["levels", "addon"], errors="ignore")
    kept = kept.sort_values(["_order"] if "_order" in kept else ["t"], kind="stable").reset_index(drop=True)
    return kept, log, remap


def _remapped(link: pd.Series, remap: dict[str, str]) -> pd.Series:
    """Links as object values (missing: None), record ids replaced by their session's kept id."""
    link = link.astype(object).where(link.notna(), None)
    return link.map(remap).fillna(link).astype(object)


def _candidates(scores: pd.DataFrame, procs: pd.DataFrame, *, window_hours: float,
                horizon_hours: float, keep_all: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(follow-up pairs, baseline pairs) of score index ``_i`` and procedure id, with hours;
    ``keep_all`` keeps every procedure at the same instant (else the first in ``procs``)."""
    s = scores[["_i", "patient_id", "t"]].dropna(subset=["t", "patient_id"])
    s = s.assign(patient_id=s["patient_id"].astype(object), t=s["t"].astype("datetime64[ns]")).sort_values("t", kind="stable")
    p = procs[["procedure_id", "patient_id", "t"]].assign(_k=np.arange(len(procs)))
    p = p.dropna(subset=["t", "patient_id"])
    p = p.assign(patient_id=p["patient_id"].astype(object), t=p["t"].astype("datetime64[ns]")).sort_values("t", kind="stable")
    p_times = p[["patient_id", "t"]].drop_duplicates().rename(columns={"t": "t_proc"})
    p_times = p_times.assign(t_key=p_times["t_proc"])
    pairs = {}
    for name, direction, exact in (("follow", "backward", True), ("base", "forward", False)):
        hit = pd.merge_asof(s, p_times.sort_values("t_key", kind="stable"), left_on="t", right_on="t_key",
                            by="patient_id", direction=direction, allow_exact_matches=exact)
        hit = hit.dropna(subset=["t_proc"])
        gap = hours_between(hit["t"], hit["t_proc"])
        hit = hit[(gap <= horizon_hours) if name == "follow" else (-gap <= window_hours)]
        # every procedure of the patient at that instant (two kinds in one session)
        both = hit.merge(p.rename(columns={"t": "t_proc"}), on=["patient_id", "t_proc"], how="inner")
        both["hours_after"] = hours_between(both["t"], both["t_proc"])
        if not keep_all:  # at most one procedure per score: the first recorded at that instant
            both = both.sort_values(["_i", "_k"], kind="stable").drop_duplicates("_i")
        pairs[name] = both[["_i", "procedure_id", "hours_after", "t"]]
    return pairs["follow"], pairs["base"]


def link_scores(scores: pd.DataFrame, procs: pd.DataFrame, remap: dict[str, str], *, table: str,
                window_hours: float, horizon_hours: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Assign each pain score to at most one procedure; returns (assessments, exclusions, remarks).

    ``scores`` has ``_source, _row, patient_id, t, pain, instrument, link`` (link: a procedure
    record id or missing). The assessments keep ``_source, _row`` of the score they came from;
    each score gives at most one assessment (the rule is in the module docstring). The remarks
    name the scores taken as a procedure's baseline that also lay within the previous
    procedure's follow-up.
    """
    scores = scores.reset_index(drop=True).assign(_i=lambda f: np.arange(len(f)))
    procs = procs[["procedure_id", "patient_id", "t"]]
    known = set(procs["procedure_id"].astype(str))
    link = _remapped(scores["link"], remap)
    has_link = link.notna()
    link_ok = has_link & isin(link, known)
    logs = [excluded(table, scores.loc[has_link & ~link_ok, "_source"], scores.loc[has_link & ~link_ok, "_row"],
                     "link", link[has_link & ~link_ok], REASON_LINK_LEFT_OUT)]
    linked = scores[link_ok].assign(procedure_id=link[link_ok].to_numpy())
    t_proc = procs.drop_duplicates("procedure_id").set_index("procedure_id")["t"].reindex(linked["procedure_id"])
    linked = linked.assign(hours_after=hours_between(linked["t"], pd.Series(t_proc.to_numpy(), index=linked.index)))

    free = scores[~has_link]
    no_proc = ~isin(free["patient_id"], procs["patient_id"])
    logs.append(excluded(table, free.loc[no_proc, "_source"], free.loc[no_proc, "_row"], "subject",
                         free.loc[no_proc, "patient_id"], REASON_NO_PROCEDURE))
    free = free[~no_proc]
    follow, base = _candidates(free, procs, window_hours=window_hours, horizon_hours=horizon_hours)
    base = base.sort_values(["procedure_id", "t", "_i"], kind="stable")
    last = ~base.duplicated("procedure_id", keep="last")
    # the last score before a procedure is its baseline only: not also the previous one's follow-up
    taken = follow["_i"].isin(base.loc[last, "_i"])
    both_ways = free["_i"].isin(follow.loc[taken, "_i"])
    follow = follow[~taken]
    used = pd.concat([follow, base[last]], ignore_index=True)
    earlier = free["_i"].isin(base.loc[~last, "_i"]) & ~free["_i"].isin(used["_i"])
    nowhere = ~free["_i"].isin(used["_i"]) & ~earlier
    # the time as the record gives it (FHIR: the effective[x] text), else as ISO text
    shown = free["effective"] if "effective" in free else free["t"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    logs.append(excluded(table, free.loc[earlier, "_source"], free.loc[earlier, "_row"], "effective",
                         shown[earlier], REASON_EARLIER_BASELINE))
    logs.append(excluded(table, free.loc[nowhere, "_source"], free.loc[nowhere, "_row"], "effective",
                         shown[nowhere], REASON_UNLINKED))
    notes = remarks(table, free.loc[both_ways, "_source"], free.loc[both_ways, "_row"], "effective",
                    shown[both_ways], REMARK_BASELINE_NOT_FOLLOW_UP)
    timed = used.merge(free.drop(columns=["t"]), on="_i", how="left")
    keep = ["procedure_id", "hours_after", "pain", "instrument", "_source", "_row", "_i"]
    out = _concat([linked[keep], timed[keep]])
    out = out.sort_values("_i", kind="stable").drop(columns="_i").reset_index(drop=True)
    frames = [f for f in logs if not f.empty]
    log = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=EXCLUSION_COLUMNS)
    return out, log, notes


def link_each_instrument(scores: pd.DataFrame, procs: pd.DataFrame, remap: dict[str, str], *, table: str,
                         window_hours: float, horizon_hours: float
                         ) -> tuple[pd.DataFrame, list[pd.DataFrame], list[pd.DataFrame]]:
    """Function scores (ODI, RMDQ, EQ-5D VAS) linked as :func:`link_scores` links pain scores,
    each instrument on its own: the last ODI before a procedure is its ODI baseline whatever the
    pain or RMDQ scores beside it. ``scores`` as for :func:`link_scores` (the value in ``pain``);
    returns (assessments, exclusion frames, remark frames)."""
    parts, logs, notes = [], [], []
    for _, part in scores.groupby(scores["instrument"].astype(str), sort=True):
        linked, log, note = link_scores(part, procs, remap, table=table, window_hours=window_hours,
                                        horizon_hours=horizon_hours)
        parts.append(linked)
        logs.append(log)
        notes.append(note)
    columns = ["procedure_id", "hours_after", "pain", "instrument", "_source", "_row"]
    out = _concat(parts) if parts else pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return out, logs, notes


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat`` of the non-empty frames (the first when all are empty): pandas 2 warns
    (FutureWarning) when an empty part would decide the result's dtypes."""
    parts = [f for f in frames if not f.empty] or frames[:1]
    return pd.concat(parts, ignore_index=True)


def link_nearest(values: pd.DataFrame, procs: pd.DataFrame, remap: dict[str, str], *,
                 window_hours: float, horizon_hours: float) -> tuple[pd.Series, np.ndarray]:
    """Per procedure, the value of the linked (else the nearest in time) record.

    ``values`` has ``patient_id, t, value, link``. Returns the values indexed by procedure id and
    the positions (in ``values``) of the records taken.
    """
    values = values.reset_index(drop=True).assign(_i=lambda f: np.arange(len(f)))
    link = _remapped(values["link"], remap)
    linked = values[link.notna()].assign(procedure_id=link[link.notna()].to_numpy(), distance=-1.0)
    free = values[link.isna()]
    follow, base = _candidates(free, procs, window_hours=window_hours, horizon_hours=horizon_hours, keep_all=True)
    timed = _concat([follow, base]).merge(free[["_i", "value"]], on="_i")
    timed["distance"] = timed["hours_after"].abs()
    both = _concat([linked[["procedure_id", "value", "distance", "_i"]],
                    timed[["procedure_id", "value", "distance", "_i"]]])
    both = both[isin(both["procedure_id"], procs["procedure_id"])]
    both = both.dropna(subset=["value"]).sort_values(["procedure_id", "distance", "_i"], kind="stable")
    taken = both.drop_duplicates("procedure_id")
    return taken.set_index("procedure_id")["value"], taken["_i"].to_numpy()


def fracture_for(procs: pd.DataFrame, conditions: pd.DataFrame, links: pd.DataFrame, *,
                 lookback_days: float) -> pd.DataFrame:
    """Fracture onset and etiology per procedure: a linked fracture condition, else the patient's
    latest fracture diagnosed within the look-back before the procedure.

    ``procs`` has ``procedure_id, patient_id, t``; ``links`` pairs ``procedure_id, key`` (the
    conditions a procedure names: FHIR reasonReference, OMOP the conditions of its visit);
    ``conditions`` has ``key, patient_id, onset (datetime), onset_text, etiology`` (fracture-coded
    only). Returns a frame indexed by procedure id with ``fracture_date`` (text), ``etiology`` and
    the condition ``key`` taken.
    """
    empty = pd.DataFrame({"fracture_date": pd.Series(dtype="string"), "etiology": pd.Series(dtype="string"),
                          "key": pd.Series(dtype="string")})
    if conditions.empty:
        return empty
    conds = conditions.dropna(subset=["onset"]).drop_duplicates("key")
    pairs = links[isin(links["procedure_id"], procs["procedure_id"])].rename(columns={"key": "links"})
    direct = pairs.merge(conds, left_on="links", right_on="key", how="inner")
    direct = direct.drop_duplicates("procedure_id")
    rest = procs[~isin(procs["procedure_id"], direct["procedure_id"])][["procedure_id", "patient_id", "t"]]
    rest = rest.dropna(subset=["t", "patient_id"])
    rest = rest.assign(patient_id=rest["patient_id"].astype(object), t=rest["t"].astype("datetime64[ns]"))
    c = conds.dropna(subset=["patient_id"])
    c = c.assign(patient_id=c["patient_id"].astype(object), onset=c["onset"].astype("datetime64[ns]"))
    near = pd.merge_asof(rest.sort_values("t", kind="stable"),
                         c.sort_values("onset", kind="stable")[["patient_id", "onset", "onset_text", "etiology", "key"]],
                         left_on="t", right_on="onset", by="patient_id", direction="backward")
    near = near[near["onset"].notna() & ((near["t"] - near["onset"]) <= pd.Timedelta(days=lookback_days))]
    cols = ["procedure_id", "onset_text", "etiology", "key"]
    both = pd.concat([direct[cols], near[cols]])
    out = both.set_index("procedure_id").rename(columns={"onset_text": "fracture_date"})
    out["etiology"] = out["etiology"].astype("string").replace("", pd.NA)
    return out


def link_events(events: pd.DataFrame, procs: pd.DataFrame, remap: dict[str, str], *,
                horizon_days: float) -> pd.Series:
    """The procedure of each adverse event: its own link (FHIR ``suspectEntity``, OMOP the visit)
    when that procedure is analysed, else the patient's latest procedure on or before the event's
    day (strictly before it where ``strict``: a fracture diagnosed on the procedure's day is the
    one treated), up to ``horizon_days`` later.

    ``events`` has ``patient_id``, ``day`` (datetime, calendar day), ``link`` (procedure id or
    missing) and ``strict`` (bool); ``procs`` has ``procedure_id``, ``patient_id`` and
    ``procedure_date`` (text or datetime). Returns procedure ids aligned to ``events`` (missing:
    no procedure).
    """
    out = pd.Series(pd.NA, index=events.index, dtype="object")
    if events.empty or procs.empty:
        return out
    link = _remapped(events["link"], remap) if "link" in events else pd.Series(pd.NA, index=events.index)
    linked = link.notna() & isin(link, procs["procedure_id"])
    out[linked] = link[linked].to_numpy()
    p = pd.DataFrame({"procedure_id": procs["procedure_id"].astype(object).to_numpy(),
                      "patient_id": procs["patient_id"].astype(object).to_numpy(),
                      "p_day": pd.to_datetime(procs["procedure_date"], errors="coerce").to_numpy()})
    p = p.dropna(subset=["p_day", "patient_id"]).astype({"p_day": "datetime64[ns]", "patient_id": object,
                                                        "procedure_id": object}).sort_values("p_day", kind="stable")
    free = events[~linked & events["patient_id"].notna() & events["day"].notna()]
    free = free.assign(_i=np.arange(len(free)), patient_id=free["patient_id"].astype(object),
                       day=pd.to_datetime(free["day"]).astype("datetime64[ns]"))
    for strict in (False, True):
        part = free[free["strict"].astype(bool) == strict].sort_values("day", kind="stable")
        part = part[["_i", "patient_id", "day"]].astype({"patient_id": object})
        if part.empty:
            continue
        hit = pd.merge_asof(part, p, left_on="day", right_on="p_day", by="patient_id", direction="backward",
                            allow_exact_matches=not strict)
        near = hit["procedure_id"].notna() & ((hit["day"] - hit["p_day"]) <= pd.Timedelta(days=horizon_days))
        index = part.index[near.to_numpy()]
        out[index] = hit.loc[near, "procedure_id"].to_numpy()
    return out


def last_contact(procs: pd.DataFrame, dates: pd.DataFrame, follow_up: pd.DataFrame | None = None) -> pd.Series:
    """Each procedure's last contact, as ``YYYY-MM-DD`` text; missing without one.

    ``follow_up`` (``patient_id``, ``day``) holds the recorded ends of a patient's follow-up for
    adverse events (OMOP ``observation_period_end_date``, a FHIR follow-up ``EpisodeOfCare``'s
    ``period.end``): a patient with one is followed to the latest of them, whatever other records
    come later (a pain score at a later visit does not say that fractures were looked for). For
    the other patients it is the calendar day of the latest dated record in ``dates``
    (``patient_id``, ``day``).
    """
    def latest(frame: pd.DataFrame) -> pd.Series:
        return (frame.dropna(subset=["patient_id", "day"])
                .assign(day=lambda f: pd.to_datetime(f["day"], errors="coerce"))
                .dropna(subset=["day"]).groupby("patient_id")["day"].max())

    last = latest(dates)
    if follow_up is not None and len(follow_up):
        ends = latest(follow_up)
        last = pd.concat([last[~last.index.isin(ends.index)], ends])
    day = lookup(procs["patient_id"], last.dt.strftime("%Y-%m-%d"))
    return day.astype("string")


def frame_digest(*frames: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _relabel(log: pd.DataFrame, table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Point the canonical table's exclusion rows (DataFrame positions) at the source records."""
    mask = log["table"] == table
    if not mask.any() or "_source" not in frame:
        return log
    log = log.copy()
    pos = pd.to_numeric(log.loc[mask, "row"], errors="coerce").astype("Int64")
    ok = pos.notna() & (pos >= 0) & (pos < len(frame))
    idx = pos[ok].astype(int).to_numpy()
    log["source"] = log["source"].astype("object")
    log["row"] = log["row"].astype("object")
    log.loc[ok[ok].index, "source"] = frame["_source"].to_numpy()[idx]
    log.loc[ok[ok].index, "row"] = frame["_row"].to_numpy()[idx]
    return log


def build_cohort(procedures: pd.DataFrame, assessments: pd.DataFrame, *, source_log: list[pd.DataFrame],
                 source_remarks: list[pd.DataFrame], read: dict[str, int], sources: dict[str, str],
                 input_hashes: dict[str, str], mapping: Mapping, definitions: Definitions,
                 allow_identifiers: bool, privacy_warnings: tuple[str, ...] = (),
                 events: pd.DataFrame | None = None) -> Cohort:
    """Validate the canonical tables through :func:`load_records` and add the source accounting
    (``events``: the adverse events table, or None when the source holds no event records)."""
    proc_in = procedures.drop(columns=[c for c in procedures if str(c).startswith("_")]).reset_index(drop=True)
    ass_in = assessments.drop(columns=[c for c in assessments if str(c).startswith("_")]).reset_index(drop=True)
    ev_in = (events.drop(columns=[c for c in events if str(c).startswith("_")]).reset_index(drop=True)
             if events is not None and not events.empty else None)
    cohort = load_records(proc_in, ass_in, ev_in, mapping=mapping, definitions=definitions,
                          allow_identifiers=allow_identifiers)
    if events is not None and ev_in is None:  # event records exist, and none is about an analysed procedure
        cohort = dataclasses.replace(cohort, has_events=True, read={**cohort.read, "events": 0})
    log = _relabel(cohort.exclusions, "procedures", procedures.reset_index(drop=True))
    log = _relabel(log, "assessments", assessments.reset_index(drop=True))
    if ev_in is not None:
        log = _relabel(log, "events", events.reset_index(drop=True))
    # every part as object columns (the canonical log's dtype): pandas 2 warns (FutureWarning)
    # when parts of different dtypes meet all-missing columns in a concat
    frames = [f for f in source_log if not f.empty]
    exclusions = pd.concat([f.astype(object) for f in (log, *frames)], ignore_index=True) if frames else log
    remark_frames = [f for f in source_remarks if not f.empty]
    rem = (pd.concat([f.astype(object) for f in (cohort.remarks, *remark_frames)], ignore_index=True)
           if remark_frames else cohort.remarks)
    return dataclasses.replace(
        cohort,
        exclusions=exclusions,
        remarks=rem,
        read={**cohort.read, **read},
        sources={**cohort.sources, **sources},
        input_hashes={**cohort.input_hashes, **input_hashes},
        privacy_warnings=tuple(privacy_warnings) + cohort.privacy_warnings,
    )
