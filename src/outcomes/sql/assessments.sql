-- Pain scores: clean each input row and give the number of the first exclusion rule it breaks.
--
-- Input  ass_src(_order, _row, procedure_id, hours_after, pain, instrument)  -- raw values
--        proc_checked (procedures.sql)
--        _map_instrument(raw, instrument, unknown, scale)  -- each distinct raw label
-- Output ass_checked(_order, pid, hours_after, pain, _rule): pid is the procedure's _order (an
--        integer key for the joins and group-bys that follow), pain is on 0-10 and _rule is NULL
--        for an analysed score, else the number of the rule (registry._ASSESSMENT_RULES has the
--        reasons). Kept narrow: a registry has tens of millions of scores.
--
-- Rules, in the order of validation.validate_assessments: 1 procedure_id missing; 2 its
-- procedure was excluded; 3 unknown procedure id; 4 unknown instrument; 5 pain missing; 6 pain is
-- not a number; 7 pain outside 0-10 (after the instrument's scale); 8 time missing; 9 time is not
-- a number; 10 time before the baseline window; 11, among the rows left, a repeated (procedure,
-- time) after its first row in file order.
CREATE OR REPLACE TEMP TABLE ass_checked AS
WITH cleaned AS (
    SELECT
        s._order,
        NULLIF({ws_trim}(CAST(s.procedure_id AS VARCHAR)), '') AS procedure_id,
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
        c._order,
        a.pid,
        c.hours_value AS hours_after,
        c.pain_value * c.scale AS pain,
        CAST(CASE
            WHEN c.procedure_id IS NULL THEN 1
            WHEN a.procedure_id IS NULL AND e.procedure_id IS NOT NULL THEN 2
            WHEN a.procedure_id IS NULL THEN 3
            WHEN c.instrument_unknown THEN 4
            WHEN c.pain_value IS NULL AND NOT c.pain_present THEN 5
            WHEN c.pain_value IS NULL THEN 6
            WHEN c.pain_value * c.scale < 0 OR c.pain_value * c.scale > 10 THEN 7
            WHEN c.hours_value IS NULL AND NOT c.hours_present THEN 8
            WHEN c.hours_value IS NULL THEN 9
            WHEN c.hours_value < -{baseline_window_hours} THEN 10
        END AS TINYINT) AS _rule
    FROM cleaned AS c
    LEFT JOIN analysed_ids AS a ON c.procedure_id = a.procedure_id
    LEFT JOIN excluded_ids AS e ON c.procedure_id = e.procedure_id
),
repeats AS (
    -- rows repeating an earlier row's (procedure, time) among the rows no rule excluded; only
    -- the three columns needed go through the window
    SELECT _order
    FROM (SELECT _order, row_number() OVER (PARTITION BY pid, hours_after ORDER BY _order) AS k
          FROM ruled WHERE _rule IS NULL) AS numbered
    WHERE k > 1
)
SELECT
    r._order, r.pid, r.hours_after, r.pain,
    COALESCE(r._rule, CASE WHEN d._order IS NOT NULL THEN CAST(11 AS TINYINT) END) AS _rule
FROM ruled AS r
LEFT JOIN repeats AS d ON r._order = d._order;
