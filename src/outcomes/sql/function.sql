-- Function scores (ODI, RMDQ, EQ-5D VAS): clean each input row and give the number of the first
-- exclusion rule it breaks. The one definition of these rules: load_records runs it in DuckDB
-- (outcomes.function.check_function_scores) on the rows whose instrument is a function one.
--
-- Input  fn_src(_order, procedure_id, hours_after, score, instrument, undated)  -- raw values;
--            undated: the time came from assessed_at and the procedure has no full date
--        proc_checked(_order, procedure_id, _reason)  -- every procedure row, _reason NULL when
--            analysed (procedures.sql; load_records passes its validated procedures)
--        _map_function(raw, instrument, low, high)  -- each distinct raw instrument label: the
--            function instrument and the range of its scale
-- Output fn_checked(_order, pid, procedure_id, hours_after, instrument, score, _rule): pid is the
--        procedure's _order, score stays on the instrument's own scale, _rule is NULL for an
--        analysed score, else the number of the rule (outcomes.function.FUNCTION_RULES has the
--        reasons).
--
-- Rules, in the order of the pain scores' (assessments.sql): 1 procedure_id
-- missing; 2 its procedure was excluded; 3 unknown procedure id; 4 score missing; 5 score is not a
-- number; 6 score outside the instrument's range; 7 assessed_at without the procedure's date; 8
-- time missing; 9 time is not a number; 10 time not finite or more than 20 years from the
-- procedure; 11 time before the baseline window; 12, among the rows left, a repeated (procedure,
-- instrument, time) after its first row in file order.
CREATE OR REPLACE TEMP TABLE fn_checked AS
WITH cleaned AS (
    SELECT
        s._order,
        NULLIF({ws_trim}(CAST(s.procedure_id AS VARCHAR)), '') AS procedure_id,
        m.instrument,
        m.low,
        m.high,
        {score_value} AS score_value,
        {score_present} AS score_present,
        {hours_value} AS hours_value,
        {hours_present} AS hours_present,
        COALESCE(s.undated, false) AS undated
    FROM fn_src AS s
    LEFT JOIN _map_function AS m ON s.instrument = m.raw
),
analysed_ids AS (SELECT procedure_id, _order AS pid FROM proc_checked WHERE _reason IS NULL),
excluded_ids AS (SELECT DISTINCT procedure_id FROM proc_checked WHERE _reason IS NOT NULL AND procedure_id IS NOT NULL),
ruled AS (
    SELECT
        c._order,
        a.pid,
        c.procedure_id,
        c.hours_value AS hours_after,
        c.instrument,
        c.score_value AS score,
        CAST(CASE
            WHEN c.procedure_id IS NULL THEN 1
            WHEN a.procedure_id IS NULL AND e.procedure_id IS NOT NULL THEN 2
            WHEN a.procedure_id IS NULL THEN 3
            WHEN c.score_value IS NULL AND NOT c.score_present THEN 4
            WHEN c.score_value IS NULL THEN 5
            WHEN c.score_value < c.low OR c.score_value > c.high THEN 6
            WHEN c.undated THEN 7
            WHEN c.hours_value IS NULL AND NOT c.hours_present THEN 8
            WHEN c.hours_value IS NULL THEN 9
            WHEN NOT (c.hours_value BETWEEN -{max_hours} AND {max_hours}) THEN 10
            WHEN c.hours_value < -{baseline_window_hours} THEN 11
        END AS TINYINT) AS _rule
    FROM cleaned AS c
    LEFT JOIN analysed_ids AS a ON c.procedure_id = a.procedure_id
    LEFT JOIN excluded_ids AS e ON c.procedure_id = e.procedure_id
),
repeats AS (
    SELECT _order
    FROM (SELECT _order, row_number() OVER (PARTITION BY pid, instrument, hours_after ORDER BY _order) AS k
          FROM ruled WHERE _rule IS NULL) AS numbered
    WHERE k > 1
)
SELECT
    r._order, r.pid, r.procedure_id, r.hours_after, r.instrument, r.score,
    COALESCE(r._rule, CASE WHEN d._order IS NOT NULL THEN CAST(12 AS TINYINT) END) AS _rule
FROM ruled AS r
LEFT JOIN repeats AS d ON r._order = d._order;
