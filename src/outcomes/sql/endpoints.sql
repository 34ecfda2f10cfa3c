-- Endpoints: one row per analysed procedure. The single definition of every endpoint of
-- outcomes.derive_endpoints (which runs these statements in process, with DuckDB over the
-- validated frames) and of outcomes.evaluate_registry (DuckDB, Spark, PostgreSQL).
--
-- Input  proc_checked(_order, _reason, baseline_pain, fracture_age_days, discharge, asa_class,
--        levels_treated, and the fields carried along); ass_checked(pid, hours_after, pain, _rule)
--        with pid the procedure's _order; _thresholds(baseline, threshold):
--        Definitions.relief_threshold of each distinct baseline score, computed in Python.
-- Output endpoint_base (baseline, threshold, the procedure's own fields) and endpoint_post (each
--        follow-up score as pid, hours, relieved), read by endpoint_values: pid and every derived
--        column; endpoint_rows: pid, ENDPOINT_COLUMNS, poor_general_health, multiple_levels and
--        the procedure fields carried along.
--
-- Times are hours after the procedure (a month is 730.5 h wherever a label names months; the
-- loaders convert). Scores after the procedure (hours > 0) are follow-up; a score at or before
-- it (-{baseline_window_hours} <= hours <= 0, the baseline window) is a baseline candidate, the
-- latest one the baseline when the procedures table gives none. Scores outside the window,
-- non-finite or absurd times never reach here: the validation excludes them with a reason.
--
-- Relief at a score: pain <= threshold + {relief_tolerance} (Definitions.at_or_below_threshold; NULL
-- pain or threshold is no relief). Per procedure, from its follow-up scores: the number, the
-- last time, the first time with relief, whether a score fell in the 48-hour window
-- ({horizon_low} to {horizon_high} h), the last time before it, the score nearest
-- {success_target} h inside {success_low} to {success_high} h (ties to the earlier); then,
-- knowing the first relief, the last time without relief before it and the first time without
-- relief after it.
CREATE OR REPLACE TEMP TABLE endpoint_base AS
-- one row per analysed procedure: its baseline, the relief threshold and its own fields (fracture
-- age, discharge, general health, levels treated)
WITH
procs AS (
    SELECT
        _order AS pid,
        baseline_pain,
        fracture_age_days,
        CASE WHEN fracture_age_days IS NOT NULL THEN fracture_age_days <= {early_max_days} END AS early_treatment,
        CASE WHEN discharge IS NOT NULL THEN discharge = 'same_day' END AS same_day_discharge,
        CASE WHEN discharge IS NOT NULL THEN discharge <> 'same_day' END AS overnight,
        asa_class >= 3 AS poor_general_health,
        levels_treated >= 2 AS multiple_levels
    FROM proc_checked
    WHERE _reason IS NULL
),
window_scores AS (
    -- the baseline candidates of the procedures that give no baseline of their own
    SELECT pid, hours_after, pain
    FROM ass_checked
    WHERE _rule IS NULL AND hours_after <= 0 AND hours_after >= -{baseline_window_hours}
        AND pid IN (SELECT pid FROM procs WHERE baseline_pain IS NULL)
),
pre AS (
    -- the latest of them (times are unique per procedure)
    SELECT s.pid, s.pain AS last_pre
    FROM window_scores AS s
    JOIN (SELECT pid, max(hours_after) AS latest FROM window_scores GROUP BY pid) AS m
        ON m.pid = s.pid AND m.latest = s.hours_after
)
SELECT
    p.pid, COALESCE(p.baseline_pain, pre.last_pre) AS baseline, t.threshold,
    p.fracture_age_days, p.early_treatment, p.same_day_discharge, p.overnight, p.poor_general_health,
    p.multiple_levels
FROM procs AS p
LEFT JOIN pre ON pre.pid = p.pid
LEFT JOIN _thresholds AS t ON COALESCE(p.baseline_pain, pre.last_pre) = t.baseline;

-- every follow-up score, narrowed to (procedure, time, relief)
CREATE OR REPLACE TEMP TABLE endpoint_post AS
SELECT s.pid, s.hours_after AS hours, COALESCE(s.pain <= b.threshold + {relief_tolerance}, false) AS relieved
FROM ass_checked AS s
JOIN endpoint_base AS b ON b.pid = s.pid
WHERE s._rule IS NULL AND s.hours_after > 0;

CREATE OR REPLACE TEMP TABLE endpoint_values AS
WITH
first_pass AS (
    -- one pass over the follow-up scores. The score nearest {success_target} h inside the success
    -- window is the latest at or before it (below) or the earliest after it (above), whichever is
    -- nearer, ties to the earlier: the first by (abs(hours - target), hours). Its relief: relief
    -- at the latest (earliest) relieved score there is relief at that score (times are unique).
    SELECT
        pid,
        count(*) AS n_followup,
        max(hours) AS last_fu,
        min(hours) FILTER (WHERE relieved) AS first_relief,
        count(*) FILTER (WHERE hours >= {horizon_low} AND hours <= {horizon_high}) > 0 AS seen_in_window,
        max(hours) FILTER (WHERE hours < {horizon_low}) AS last_before_window,
        max(hours) FILTER (WHERE hours >= {success_low} AND hours <= {success_high} AND hours <= {success_target})
            AS below,
        max(hours) FILTER (WHERE hours >= {success_low} AND hours <= {success_high} AND hours <= {success_target}
                           AND relieved) AS below_relieved,
        min(hours) FILTER (WHERE hours >= {success_low} AND hours <= {success_high} AND hours > {success_target})
            AS above,
        min(hours) FILTER (WHERE hours >= {success_low} AND hours <= {success_high} AND hours > {success_target}
                           AND relieved) AS above_relieved
    FROM endpoint_post
    GROUP BY pid
),
second_pass AS (
    -- only the scores without relief of procedures with relief matter here (both are read only
    -- when relief was observed)
    SELECT
        p.pid,
        max(p.hours) FILTER (WHERE p.hours < f.first_relief) AS last_without,
        min(p.hours) FILTER (WHERE p.hours > f.first_relief) AS first_loss
    FROM endpoint_post AS p
    JOIN first_pass AS f ON f.pid = p.pid
    WHERE NOT p.relieved AND f.first_relief IS NOT NULL
    GROUP BY p.pid
),
flags AS (
    SELECT
        b.pid, b.baseline, b.threshold, b.fracture_age_days, b.early_treatment, b.same_day_discharge,
        b.overnight, b.poor_general_health, b.multiple_levels,
        f.n_followup, f.last_fu, f.first_relief, f.seen_in_window, f.last_before_window,
        CASE
            WHEN f.below IS NOT NULL AND (f.above IS NULL
                                          OR abs(f.below - {success_target}) <= abs(f.above - {success_target}))
                THEN COALESCE(f.below_relieved = f.below, false)
            WHEN f.above IS NOT NULL THEN COALESCE(f.above_relieved = f.above, false)
        END AS success_value,
        CASE
            WHEN f.below IS NOT NULL AND (f.above IS NULL
                                          OR abs(f.below - {success_target}) <= abs(f.above - {success_target}))
                THEN f.below
            ELSE f.above
        END AS success_at,
        s.last_without, s.first_loss,
        b.baseline IS NOT NULL AS evaluable,
        f.first_relief IS NOT NULL AS observed,
        CASE WHEN b.baseline IS NOT NULL THEN COALESCE(f.first_relief, f.last_fu) END AS time_to_relief
    FROM endpoint_base AS b
    LEFT JOIN first_pass AS f ON f.pid = b.pid
    LEFT JOIN second_pass AS s ON s.pid = b.pid
),
horizon AS (
    SELECT
        *,
        time_to_relief IS NOT NULL AS timed,
        observed AND first_relief <= {horizon_high} AS relieved_by,
        time_to_relief IS NOT NULL AND NOT (observed AND first_relief <= {horizon_high})
            AND NOT COALESCE(seen_in_window, false) AS unknown,
        first_loss IS NOT NULL AND observed AS loss_seen,
        success_at IS NOT NULL AS has_window
    FROM flags
),
final AS (
    SELECT
        *,
        CASE WHEN observed AND evaluable
             THEN (CASE WHEN loss_seen THEN first_loss ELSE last_fu END) - first_relief END AS time_to_loss
    FROM horizon
)
SELECT
    e.pid,
    e.baseline AS baseline_pain,
    CASE WHEN e.evaluable THEN e.threshold END AS relief_threshold,
    COALESCE(e.n_followup, 0) AS n_followup,
    e.last_fu AS last_followup_hours,
    e.time_to_relief AS time_to_relief_hours,
    CASE WHEN e.timed THEN e.observed END AS relief_observed,
    CASE WHEN e.observed THEN (CASE WHEN e.timed THEN COALESCE(e.last_without, 0.0) END) ELSE e.last_fu END
        AS relief_interval_low_hours,
    CASE WHEN e.timed THEN (CASE WHEN e.observed THEN e.first_relief ELSE CAST('inf' AS DOUBLE) END) END
        AS relief_interval_high_hours,
    CASE WHEN e.unknown THEN COALESCE(e.last_before_window, 0.0) ELSE e.time_to_relief END AS horizon_time_hours,
    CASE WHEN e.timed THEN e.observed AND NOT e.unknown END AS horizon_event,
    CASE
        WHEN e.relieved_by AND e.evaluable THEN true
        WHEN e.evaluable AND NOT e.relieved_by AND COALESCE(e.seen_in_window, false) THEN false
    END AS relief_by_horizon,
    CASE WHEN e.has_window AND e.evaluable THEN e.success_value END AS success,
    CASE WHEN e.evaluable THEN e.success_at END AS success_hours,
    COALESCE(e.success_value AND e.has_window AND e.evaluable, false) AS success_worst_case,
    e.time_to_loss AS time_to_loss_hours,
    CASE WHEN e.time_to_loss IS NOT NULL THEN e.loss_seen END AS loss_observed,
    e.fracture_age_days, e.early_treatment, e.same_day_discharge, e.overnight, e.poor_general_health,
    e.multiple_levels
FROM final AS e;

-- The procedure fields carried along beside the endpoints (registry engines): read once, by the
-- statement that adds the safety and function endpoints (joined on pid) and makes `endpoints`
-- (outcomes.registry), so the registry engines run it as a view.
CREATE OR REPLACE TEMP TABLE endpoint_rows AS
SELECT
    v.pid,
    p.procedure_id,
    p.patient_id,
    p.procedure,
    v.baseline_pain, v.relief_threshold, v.n_followup, v.last_followup_hours,
    v.time_to_relief_hours, v.relief_observed, v.relief_interval_low_hours, v.relief_interval_high_hours,
    v.horizon_time_hours, v.horizon_event, v.relief_by_horizon, v.success,
    v.success_hours, v.success_worst_case, v.time_to_loss_hours, v.loss_observed,
    v.fracture_age_days, v.early_treatment, v.same_day_discharge, v.overnight,
    v.poor_general_health, v.multiple_levels,
    p.physician_id, p.site_id, p.procedure_date, p.age, p.sex, p.asa_class, p.levels_treated, p.etiology,
    p.complication, p.discharge, p.length_of_stay_hours, p.height_restoration_pct, p.kyphotic_angle_change_deg
FROM endpoint_values AS v
JOIN proc_checked AS p ON p._order = v.pid;
