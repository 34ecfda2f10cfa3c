-- Pain scores: clean each input row and name the first exclusion rule it breaks.
--
-- Input  ass_src(_order, _row, procedure_id, hours_after, pain, instrument)  -- raw values
--        proc_checked (procedures.sql)
--        _map_instrument(raw, instrument, unknown, scale)  -- each distinct raw label
-- Output ass_checked: procedure_id, pid (the procedure's _order: an integer key for the joins and
--        group-bys that follow), hours_after, pain (0-10), instrument, _row, _reason
--
-- Rules, in the order of validation.validate_assessments: procedure_id missing; its procedure
-- was excluded; unknown procedure id; unknown instrument; pain missing; pain is not a number;
-- pain outside 0-10 (after the instrument's scale); time missing; time is not a number; time
-- before the baseline window; and, among the rows left, a repeated (procedure, time) after its
-- first row in file order.
CREATE OR REPLACE TEMP TABLE ass_checked AS
WITH cleaned AS (
    SELECT
        s._order,
        s._row,
        NULLIF({ws_trim}(CAST(s.procedure_id AS VARCHAR)), '') AS procedure_id,
        COALESCE(m.instrument, {default_instrument}) AS instrument,
        COALESCE(m.unknown, false) AS instrument_unknown,
        COALESCE(m.scale, {default_scale}) AS scale,
        {pain_value} AS pain_value,
        {pain_present} AS pain_present,
        {hours_value} AS hours_value,
        {hours_present} AS hours_present
    FROM ass_src AS s
    LEFT JOIN _map_instrument AS m ON s.instrument = m.raw
),
analysed_ids AS (SELECT procedure_id, _order AS pid FROM proc_checked WHERE _reason IS NULL),
excluded_ids AS (SELECT DISTINCT procedure_id FROM proc_checked WHERE _reason IS NOT NULL AND procedure_id IS NOT NULL),
ruled AS MATERIALIZED (
    SELECT
        c.*,
        a.pid,
        c.pain_value * c.scale AS pain,
        CASE
            WHEN c.procedure_id IS NULL THEN 'procedure_id missing'
            WHEN a.procedure_id IS NULL AND e.procedure_id IS NOT NULL THEN 'its procedure was excluded'
            WHEN a.procedure_id IS NULL THEN 'unknown procedure id (not in the procedures table)'
            WHEN c.instrument_unknown THEN 'unknown instrument (expected nrs, vas10 or vas100)'
            WHEN c.pain_value IS NULL AND NOT c.pain_present THEN 'pain missing'
            WHEN c.pain_value IS NULL THEN 'pain is not a number'
            WHEN c.pain_value * c.scale < 0 OR c.pain_value * c.scale > 10
                THEN 'pain outside 0-10 (a 0-100 VAS can be declared with instrument = ''vas100'')'
            WHEN c.hours_value IS NULL AND NOT c.hours_present THEN 'time missing'
            WHEN c.hours_value IS NULL THEN 'time is not a number'
            WHEN c.hours_value < -{baseline_window_hours} THEN {before_window_reason}
        END AS _rule
    FROM cleaned AS c
    LEFT JOIN analysed_ids AS a ON c.procedure_id = a.procedure_id
    LEFT JOIN excluded_ids AS e ON c.procedure_id = e.procedure_id
)
, repeats AS (
    -- rows repeating an earlier row's (procedure, time) among the rows no rule excluded; only
    -- the three columns needed go through the window
    SELECT _order
    FROM (SELECT _order, row_number() OVER (PARTITION BY pid, hours_value ORDER BY _order) AS k
          FROM ruled WHERE _rule IS NULL)
    WHERE k > 1
)
SELECT
    r._order, r._row, r.pid, r.procedure_id, r.hours_value AS hours_after, r.pain, r.instrument,
    COALESCE(r._rule, CASE WHEN d._order IS NOT NULL THEN 'duplicate assessment (same procedure and time)' END) AS _reason
FROM ruled AS r
LEFT JOIN repeats AS d ON r._order = d._order;
