-- Endpoints: one row per analysed procedure, as endpoints.derive_endpoints.
--
-- Input  proc_checked, ass_checked; _thresholds(baseline, threshold): Definitions.relief_threshold
--        of each distinct baseline score, computed in Python.
-- Output endpoints: ENDPOINT_COLUMNS, poor_general_health, multiple_levels and the procedure
--        fields carried along.
--
-- Relief at a score: pain <= threshold + 1e-9 (Definitions.is_relief). Per procedure, from its
-- scores after the procedure: the number, the last time, the first time with relief, whether a
-- score fell in the 48-hour window ({horizon_low} to {horizon_high} h), the last time before it,
-- the score nearest {success_target} h inside {success_low} to {success_high} h (ties to the
-- earlier); then, knowing the first relief, the last time without relief before it and the first
-- time without relief after it.
CREATE OR REPLACE TEMP TABLE endpoints AS
WITH
procs AS (SELECT * EXCLUDE (_reason), _order AS pid FROM proc_checked WHERE _reason IS NULL),
scores AS (SELECT pid, hours_after AS hours, pain FROM ass_checked WHERE _rule IS NULL),
pre AS (
    -- baseline: the last score in the window before the procedure
    SELECT pid, arg_max(pain, hours) AS last_pre
    FROM scores
    WHERE hours <= 0 AND hours >= -{baseline_window_hours}
    GROUP BY pid
),
base AS (
    SELECT p.*, COALESCE(p.baseline_pain, pre.last_pre) AS baseline, t.threshold
    FROM procs AS p
    LEFT JOIN pre USING (pid)
    LEFT JOIN _thresholds AS t ON COALESCE(p.baseline_pain, pre.last_pre) = t.baseline
),
thresholds AS (SELECT pid, threshold FROM base),  -- narrow: the join below probes every score
post AS (
    SELECT s.pid, s.hours, COALESCE(s.pain <= t.threshold + 1e-9, false) AS relieved
    FROM scores AS s
    JOIN thresholds AS t USING (pid)
    WHERE s.hours > 0
),
first_pass AS (
    SELECT
        pid,
        count(*) AS n_followup,
        max(hours) AS last_fu,
        min(hours) FILTER (WHERE relieved) AS first_relief,
        count(*) FILTER (WHERE hours >= {horizon_low} AND hours <= {horizon_high}) > 0 AS seen_in_window,
        max(hours) FILTER (WHERE hours < {horizon_low}) AS last_before_window
    FROM post
    GROUP BY pid
),
nearest AS (
    -- only the scores inside the success window go through the (distance, time) comparison
    SELECT
        pid,
        arg_min(relieved, (abs(hours - {success_target}), hours)) AS success_value,
        arg_min(hours, (abs(hours - {success_target}), hours)) AS success_at
    FROM post
    WHERE hours >= {success_low} AND hours <= {success_high}
    GROUP BY pid
),
relief_at AS (SELECT pid, COALESCE(first_relief, 'inf'::DOUBLE) AS first_relief FROM first_pass),
second_pass AS (
    -- only the scores without relief matter here
    SELECT
        p.pid,
        max(p.hours) FILTER (WHERE p.hours < f.first_relief) AS last_without,
        min(p.hours) FILTER (WHERE p.hours > f.first_relief) AS first_loss
    FROM post AS p
    JOIN relief_at AS f USING (pid)
    WHERE NOT p.relieved
    GROUP BY p.pid
),
flags AS (
    SELECT
        b.*,
        f.* EXCLUDE (pid),
        w.success_value, w.success_at,
        s.last_without, s.first_loss,
        b.baseline IS NOT NULL AS evaluable,
        f.first_relief IS NOT NULL AS observed,
        CASE WHEN b.baseline IS NOT NULL THEN COALESCE(f.first_relief, f.last_fu) END AS time_to_relief
    FROM base AS b
    LEFT JOIN first_pass AS f USING (pid)
    LEFT JOIN nearest AS w USING (pid)
    LEFT JOIN second_pass AS s USING (pid)
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
    procedure_id,
    patient_id,
    procedure,
    baseline AS baseline_pain,
    CASE WHEN evaluable THEN threshold END AS relief_threshold,
    COALESCE(n_followup, 0) AS n_followup,
    last_fu AS last_followup_hours,
    time_to_relief AS time_to_relief_hours,
    CASE WHEN timed THEN observed END AS relief_observed,
    CASE WHEN observed THEN (CASE WHEN timed THEN COALESCE(last_without, 0.0) END) ELSE last_fu END
        AS relief_interval_low_hours,
    CASE WHEN timed THEN (CASE WHEN observed THEN first_relief ELSE 'inf'::DOUBLE END) END
        AS relief_interval_high_hours,
    CASE WHEN unknown THEN COALESCE(last_before_window, 0.0) ELSE time_to_relief END AS horizon_time_hours,
    CASE WHEN timed THEN observed AND NOT unknown END AS horizon_event,
    CASE
        WHEN relieved_by AND evaluable THEN true
        WHEN evaluable AND NOT relieved_by AND COALESCE(seen_in_window, false) THEN false
    END AS relief_by_horizon,
    CASE WHEN has_window AND evaluable THEN success_value END AS success,
    CASE WHEN evaluable THEN success_at END AS success_hours,
    COALESCE(success_value AND has_window AND evaluable, false) AS success_worst_case,
    time_to_loss AS time_to_loss_hours,
    CASE WHEN time_to_loss IS NOT NULL THEN loss_seen END AS loss_observed,
    fracture_age_days,
    CASE WHEN fracture_age_days IS NOT NULL THEN fracture_age_days <= {early_max_days} END AS early_treatment,
    CASE WHEN discharge IS NOT NULL THEN discharge = 'same_day' END AS same_day_discharge,
    CASE WHEN discharge IS NOT NULL THEN discharge <> 'same_day' END AS overnight,
    asa_class >= 3 AS poor_general_health,
    levels_treated >= 2 AS multiple_levels,
    physician_id, site_id, procedure_date, age, sex, asa_class, levels_treated, etiology, complication,
    discharge, length_of_stay_hours, height_restoration_pct, kyphotic_angle_change_deg
FROM final;
