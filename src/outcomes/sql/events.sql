-- Events: follow-up of each analysed procedure, then each adverse event row cleaned with the first
-- exclusion rule it breaks.
--
-- Input  proc_checked(_order, _row, procedure_id, _reason, procedure_date)  -- from procedures.sql
--        proc_src(_order, last_contact_days, last_contact_date)            -- raw, canonical names
--        events_src(_order, _row, procedure_id, event, days_after, event_date, severity, level,
--                   adjacent)                                             -- raw, canonical names
--        _map_last_contact_date, _map_event_date (raw, value TIMESTAMP), _map_event,
--        _map_severity (raw, value VARCHAR), _map_adjacent (raw, value BOOLEAN): each distinct raw
--        value read once in Python (outcomes.safety), as registry.py does for procedures
-- Output proc_followup: one row per analysed procedure, last_contact_days (NULL when unknown or
--        unreadable, with _remark saying why)
--        events_checked: one row per input row, cleaned columns, _reason (NULL = analysed), the
--        column and raw value the rule read (_column, _value), _bad_severity, _bad_adjacent
--
-- Placeholders: <ws_trim> (trim Python's whitespace), <last_contact_days> / <last_contact_days_present>
-- and <days_after> / <days_after_present> (a number read from the raw column, and whether one was
-- given), <last_contact_date> and <last_contact_days_raw> (the raw columns, or NULL), <max_days>
-- (20 years).
--
-- Rules of events_checked, in order (a row gets the first it breaks): procedure_id missing, its
-- procedure was excluded, unknown procedure id, event missing, unknown event code, an event_date
-- whose procedure has only a year, time missing, time not a number, event_date unreadable, time not
-- finite or more than 20 years away, more than a day before the procedure. A severity other than
-- major or minor, and an adjacent flag that is not yes or no, become NULL (the row is kept).
-- days_after comes from days_after, else from event_date minus the procedure's date in calendar days
-- (an event on the day of the procedure is day 0 whatever the clock times; so is last_contact_date).
CREATE OR REPLACE TEMP TABLE proc_followup AS
WITH given AS (
    SELECT
        c._order,
        c._row,
        c.procedure_id,
        c.procedure_date,
        {last_contact_days} AS days_given,
        {last_contact_days_present} AS days_present,
        NULLIF({ws_trim}(CAST({last_contact_date} AS VARCHAR)), '') AS date_text,
        CAST({last_contact_days_raw} AS VARCHAR) AS days_text,
        m.value AS contact_date
    FROM proc_checked AS c
    JOIN proc_src AS s ON c._order = s._order
    LEFT JOIN _map_last_contact_date AS m ON {last_contact_date} = m.raw
    WHERE c._reason IS NULL AND {followed}
),
counted AS (
    SELECT
        _order, _row, procedure_id, days_given, days_present, date_text, days_text, contact_date, procedure_date,
        COALESCE(
            days_given,
            date_diff('microsecond', date_trunc('day', procedure_date), date_trunc('day', contact_date)) / 1e6 / 86400.0
        ) AS days
    FROM given
)
SELECT
    _order,
    _row,
    procedure_id,
    contact_date AS last_contact_date,
    CASE WHEN days >= 0 AND days <= {max_days} THEN days END AS last_contact_days,
    CASE
        WHEN days_present AND days_given IS NULL THEN 'last_contact_days'
        WHEN days_given IS NOT NULL THEN 'last_contact_days'
        ELSE 'last_contact_date'
    END AS _remark_column,
    CASE WHEN days_present OR days_given IS NOT NULL THEN days_text ELSE date_text END AS _remark_value,
    CASE
        WHEN days_present AND days_given IS NULL AND days IS NULL THEN 'not a number; set to missing'
        WHEN days_given IS NULL AND date_text IS NOT NULL AND contact_date IS NULL
            THEN 'unreadable date set to missing'
        WHEN days_given IS NULL AND contact_date IS NOT NULL AND procedure_date IS NULL
            THEN 'needs the procedure''s date, and the procedure has only a year (give last_contact_days); set to missing'
        WHEN days < 0 OR days > {max_days} OR NOT (days = days)
            THEN 'before the procedure or more than 20 years after it; set to missing'
    END AS _remark
FROM counted;

CREATE OR REPLACE TEMP TABLE events_checked AS
WITH known AS (
    SELECT procedure_id, max(CASE WHEN _reason IS NULL THEN 1 ELSE 0 END) AS analysed
    FROM proc_checked
    WHERE procedure_id IS NOT NULL AND {has_events}
    GROUP BY procedure_id
),
cleaned AS (
    SELECT
        s._order,
        s._row,
        NULLIF({ws_trim}(CAST(s.procedure_id AS VARCHAR)), '') AS procedure_id,
        NULLIF({ws_trim}(CAST(s.event AS VARCHAR)), '') AS event_text,
        m_event.value AS event,
        {days_after} AS days_given,
        {days_after_present} AS days_present,
        CAST(s.days_after AS VARCHAR) AS days_text,
        NULLIF({ws_trim}(CAST(s.event_date AS VARCHAR)), '') AS date_text,
        m_date.value AS event_date,
        NULLIF({ws_trim}(CAST(s.severity AS VARCHAR)), '') AS severity_text,
        m_severity.value AS severity,
        NULLIF({ws_trim}(CAST(s.level AS VARCHAR)), '') AS level,
        NULLIF({ws_trim}(CAST(s.adjacent AS VARCHAR)), '') AS adjacent_text,
        m_adjacent.value AS adjacent
    FROM events_src AS s
    LEFT JOIN _map_event AS m_event ON s.event = m_event.raw
    LEFT JOIN _map_event_date AS m_date ON s.event_date = m_date.raw
    LEFT JOIN _map_severity AS m_severity ON s.severity = m_severity.raw
    LEFT JOIN _map_adjacent AS m_adjacent ON s.adjacent = m_adjacent.raw
),
timed AS (
    SELECT
        e._order, e._row, e.procedure_id, e.event_text, e.event, e.days_given, e.days_present, e.days_text,
        e.date_text, e.event_date, e.severity_text, e.severity, e.level, e.adjacent_text, e.adjacent,
        k.analysed,
        p.procedure_date,
        COALESCE(
            e.days_given,
            date_diff('microsecond', date_trunc('day', p.procedure_date), date_trunc('day', e.event_date))
                / 1e6 / 86400.0
        ) AS days_after
    FROM cleaned AS e
    LEFT JOIN known AS k ON e.procedure_id = k.procedure_id
    LEFT JOIN proc_checked AS p ON e.procedure_id = p.procedure_id AND p._reason IS NULL
),
ruled AS (
    SELECT
        *,
        CASE
            WHEN procedure_id IS NULL THEN 1
            WHEN analysed = 0 THEN 2
            WHEN analysed IS NULL THEN 3
            WHEN event_text IS NULL THEN 4
            WHEN event IS NULL THEN 5
            WHEN days_after IS NULL AND NOT days_present AND event_date IS NOT NULL AND procedure_date IS NULL THEN 6
            WHEN days_after IS NULL AND NOT days_present AND date_text IS NULL THEN 7
            WHEN days_after IS NULL AND days_present THEN 8
            WHEN days_after IS NULL THEN 9
            WHEN NOT (abs(days_after) <= {max_days}) THEN 10
            WHEN days_after < -1 THEN 11
        END AS _rule
    FROM timed
)
SELECT
    _order,
    _row,
    procedure_id,
    event,
    days_after,
    severity,
    level,
    adjacent,
    _rule,
    CASE _rule
        WHEN 1 THEN 'procedure_id missing'
        WHEN 2 THEN 'its procedure was excluded'
        WHEN 3 THEN 'unknown procedure id (not in the procedures table)'
        WHEN 4 THEN 'event missing'
        WHEN 5 THEN 'unknown event code (map the clinic''s label in the mapping file''s [events.values.event])'
        WHEN 6 THEN 'event_date needs the procedure''s date, and the procedure has only a year (give days_after)'
        WHEN 7 THEN 'time missing (give days_after or event_date)'
        WHEN 8 THEN 'time is not a number'
        WHEN 9 THEN 'event_date unreadable'
        WHEN 10 THEN 'time not finite or more than 20 years from the procedure'
        WHEN 11 THEN 'event more than a day before the procedure'
    END AS _reason,
    CASE
        WHEN _rule <= 3 THEN 'procedure_id'
        WHEN _rule <= 5 THEN 'event'
        WHEN _rule = 6 OR _rule = 9 THEN 'event_date'
        WHEN _rule = 7 AND date_text IS NULL THEN 'days_after'
        WHEN _rule >= 7 AND days_given IS NULL THEN 'event_date'
        WHEN _rule >= 7 THEN 'days_after'
    END AS _column,
    CASE
        WHEN _rule <= 3 THEN procedure_id
        WHEN _rule <= 5 THEN event_text
        WHEN _rule = 6 OR _rule = 9 THEN date_text
        WHEN _rule = 7 THEN days_text
        WHEN _rule >= 7 AND days_given IS NULL THEN date_text
        WHEN _rule >= 7 THEN days_text
    END AS _value,
    CASE WHEN severity_text IS NOT NULL AND severity IS NULL THEN 1 ELSE 0 END AS _bad_severity,
    severity_text AS _severity_text,
    CASE WHEN adjacent_text IS NOT NULL AND adjacent IS NULL THEN 1 ELSE 0 END AS _bad_adjacent,
    adjacent_text AS _adjacent_text
FROM ruled;
