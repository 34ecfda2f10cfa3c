-- Pain scores: clean each input row and give the number of the first exclusion rule it breaks.
-- The one definition of these rules, run in process by load_records and where the records live
-- by evaluate_registry.
--
-- Input  ass_src(_order, _row, _column, procedure_id, hours_after, assessed_at, pain, instrument)
--        -- raw values; _column names the wide column a score came from (else NULL)
--        proc_checked (procedures.sql)
--        _map_instrument(raw, instrument_id, unknown, scale, kind): each distinct raw label, the
--        instrument it names (an id into _instruments), whether it is unknown, the factor that
--        brings its scores to 0-10, and its kind ("pain"; "function" scores are left out of this
--        table entirely: neither analysed nor excluded here)
--        _map_assessed_at(raw, value, year): each distinct raw timestamp (parse_dates)
-- Placeholders, filled by outcomes.checks: {procedure_id}, {pain}, {hours_after} and their
-- {*_present} as in procedures.sql; {assessed_at} the timestamp; {default_instrument_id}, {default_scale} for a
-- blank label; {baseline_window_hours} and its {window_days} text. {procedure_key} and {checked_key}
-- match a score to its procedure: the trimmed id on both sides (procedure_id), or, where the ids were
-- matched once per distinct value beforehand (load_records), the procedure's _order on both sides
-- (s._key, a column of ass_src, and _order). Non-missing ids are unique in proc_checked (checked before).
-- Output ass_rules(_rule, _column, _reason): the rules, in order.
--        ass_repeats(pid, hours_after, first_order): the repeated (procedure, time) pairs of
--        rule 13 and the first row of each in file order.
--        ass_checked(_order, pid, hours_after, pain, instrument_id, _rule): pid is the
--        procedure's _order (an integer key for the joins and group-bys that follow), pain is on
--        0-10 and _rule is NULL for an analysed score, else the number of the rule broken. Kept
--        narrow: a registry has tens of millions of scores.
--        ass_excluded(_rule, _order, _row, _column, _value, procedure_id): the log of excluded rows.
--
-- Rules, in order: 1 procedure_id missing; 2 its procedure was excluded; 3 unknown procedure id;
-- 4 unknown instrument; 5 pain missing; 6 pain is not a number; 7 pain outside 0-10 (after the
-- instrument's scale); 8 a timestamp whose procedure has only a year; 9 time missing; 10 time
-- is not a number; 11 time not finite or more than 20 years away; 12 time before the baseline
-- window; 13, among the rows left, a repeated (procedure, time) after its first row in file
-- order. A time is hours_after, else assessed_at minus the procedure's date.
CREATE OR REPLACE TEMP TABLE ass_rules AS
SELECT CAST(_rule AS TINYINT) AS _rule, _column, _reason FROM (VALUES
    (1, 'procedure_id', 'procedure_id missing'),
    (2, 'procedure_id', 'its procedure was excluded'),
    (3, 'procedure_id', 'unknown procedure id (not in the procedures table)'),
    (4, 'instrument', 'unknown instrument (expected nrs, vas10 or vas100)'),
    (5, 'pain', 'pain missing'),
    (6, 'pain', 'pain is not a number'),
    (7, 'pain', 'pain outside 0-10 (a 0-100 VAS can be declared with instrument = ''vas100'')'),
    (8, 'assessed_at', 'assessed_at needs the procedure''s date, and the procedure has only a year (give hours_after)'),
    (9, 'hours_after', 'time missing'),
    (10, 'hours_after', 'time is not a number'),
    (11, 'hours_after', 'time not finite or more than {max_years_text} years from the procedure'),
    (12, 'hours_after', 'time before the procedure, outside the {window_days}-day baseline window (only a baseline score may precede the procedure)'),
    (13, 'hours_after', 'duplicate assessment (same procedure and time)')
) AS rules (_rule, _column, _reason);

-- rules 1-12, each row once (rule 13 is added below)
CREATE OR REPLACE TEMP TABLE ass_checked AS
WITH cleaned AS (
    SELECT
        s._order,
        {procedure_id} AS procedure_id,
        {procedure_key} AS procedure_key,
        COALESCE(m.unknown, false) AS instrument_unknown,
        COALESCE(m.instrument_id, {default_instrument_id}) AS instrument_id,
        COALESCE(m.scale, {default_scale}) AS scale,
        {pain} AS pain_value,
        {pain_present} AS pain_present,
        {hours_after} AS hours_value,
        {hours_after_present} AS hours_present,
        {assessed_at} AS stamp
    FROM ass_src AS s
    LEFT JOIN _map_instrument AS m ON s.instrument = m.raw
    LEFT JOIN _map_assessed_at AS m_assessed_at ON s.assessed_at = m_assessed_at.raw
    WHERE COALESCE(m.kind, 'pain') <> 'function'
),
-- every procedure with an id, analysed or excluded (one join instead of two)
procedure_ids AS (
    SELECT {checked_key} AS procedure_key, _order AS pid, procedure_date, _rule IS NULL AS analysed
    FROM proc_checked
    WHERE procedure_id IS NOT NULL
),
joined AS (
    SELECT
        c.*,
        COALESCE(a.analysed, false) AS known,
        COALESCE(NOT a.analysed, false) AS was_excluded,
        CASE WHEN a.analysed THEN a.pid END AS pid,
        CASE WHEN a.analysed THEN a.procedure_date END AS procedure_date
    FROM cleaned AS c
    LEFT JOIN procedure_ids AS a ON c.procedure_key = a.procedure_key
),
timed AS (
    SELECT
        *,
        COALESCE(hours_value, date_diff('microsecond', procedure_date, stamp) / 3600000000.0) AS hours
    FROM joined
)
SELECT
    _order,
    pid,
    hours AS hours_after,
    pain_value * scale AS pain,
    instrument_id,
    CAST(CASE
        WHEN procedure_id IS NULL THEN 1
        WHEN NOT known AND was_excluded THEN 2
        WHEN NOT known THEN 3
        WHEN instrument_unknown THEN 4
        WHEN pain_value IS NULL AND NOT pain_present THEN 5
        WHEN pain_value IS NULL THEN 6
        WHEN pain_value * scale < 0 OR pain_value * scale > 10 THEN 7
        WHEN hours IS NULL AND stamp IS NOT NULL AND procedure_date IS NULL THEN 8
        WHEN hours IS NULL AND NOT (hours_present AND hours_value IS NULL) THEN 9
        WHEN hours IS NULL THEN 10
        WHEN NOT (abs(hours) <= {max_hours_after}) THEN 11
        WHEN hours < -{baseline_window_hours} THEN 12
    END AS TINYINT) AS _rule
FROM timed;

-- rule 13: among the rows no rule excluded, a row repeating an earlier row's (procedure, time).
-- The repeated pairs by an aggregate over the pairs instead of a window over every row, with
-- nothing but a count per pair (the pairs are as many as the scores); then the first row of each
-- from the rows of those pairs only (few).
CREATE OR REPLACE TEMP TABLE ass_repeats AS
WITH repeated AS (
    SELECT pid, hours_after
    FROM ass_checked
    WHERE _rule IS NULL
    GROUP BY pid, hours_after
    HAVING count(*) > 1
)
SELECT r.pid, r.hours_after, min(r._order) AS first_order
FROM ass_checked AS r
JOIN repeated AS d ON r.pid = d.pid AND r.hours_after = d.hours_after
WHERE r._rule IS NULL
GROUP BY r.pid, r.hours_after;

-- the rows after the first of each repeated pair break rule 13: an update of those few rows,
-- not a copy of every score (outcomes.checks skips it when ass_repeats is empty)
UPDATE ass_checked SET _rule = CAST(13 AS TINYINT)
FROM ass_repeats AS d
WHERE ass_checked._rule IS NULL AND ass_checked.pid = d.pid AND ass_checked.hours_after = d.hours_after
    AND ass_checked._order <> d.first_order;

-- log: the excluded rows, each with the column it concerns and its raw value as text (the
-- time as read for the last two rules)
CREATE OR REPLACE TEMP TABLE ass_excluded AS
SELECT
    c._rule,
    c._order,
    s._row,
    COALESCE(s._column, r._column) AS _column,
    CASE
        WHEN c._rule <= 3 THEN {procedure_id}
        WHEN c._rule = 4 THEN CAST(s.instrument AS VARCHAR)
        WHEN c._rule <= 7 THEN CAST(s.pain AS VARCHAR)
        WHEN c._rule = 8 THEN CAST(s.assessed_at AS VARCHAR)
        WHEN c._rule <= 11 THEN CAST(s.hours_after AS VARCHAR)
        ELSE CAST(c.hours_after AS VARCHAR)
    END AS _value,
    {procedure_id} AS procedure_id
FROM ass_checked AS c
JOIN ass_src AS s ON c._order = s._order
JOIN ass_rules AS r ON c._rule = r._rule
WHERE c._rule IS NOT NULL;
