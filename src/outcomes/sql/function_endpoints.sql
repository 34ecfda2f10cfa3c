-- The function endpoint of each procedure: change from baseline on ODI or RMDQ and whether it
-- reached the instrument's minimal important change. The one definition: derive_endpoints runs it
-- in DuckDB (outcomes.function.function_endpoints).
--
-- Input  fn_scores(pid, hours_after, instrument, score)  -- analysed function scores
-- Output fn_endpoints(pid, function_instrument, function_baseline, function_followup,
--        function_hours, function_change, function_regained), one row per procedure with an ODI
--        or RMDQ score.
--
-- baseline: the last score in [-baseline window, 0] h; follow-up: the score nearest the target
-- (336 h) inside the window (168 to 1008 h), ties to the earlier; change = baseline - follow-up
-- (positive = better; both scales count disability); regained: change >= the minimal important
-- change, ODI 10 and RMDQ 5 points (Ostelo 2008), NULL when the baseline or the follow-up is
-- missing. Instrument: ODI preferred when a procedure has both with a baseline and a follow-up,
-- else the one that has both, else ODI when it has any score.
CREATE OR REPLACE TEMP TABLE fn_endpoints AS
WITH scored AS (
    SELECT pid, hours_after, instrument, score FROM fn_scores WHERE instrument IN ('odi', 'rmdq')
),
present AS (SELECT DISTINCT pid, instrument FROM scored),
base AS (
    SELECT pid, instrument, score AS baseline
    FROM (SELECT pid, instrument, score,
                 row_number() OVER (PARTITION BY pid, instrument ORDER BY hours_after DESC) AS k
          FROM scored WHERE hours_after <= 0 AND hours_after >= -{baseline_window_hours}) AS b
    WHERE k = 1
),
follow AS (
    SELECT pid, instrument, score AS followup, hours_after AS followup_hours
    FROM (SELECT pid, instrument, score, hours_after,
                 row_number() OVER (PARTITION BY pid, instrument
                                    ORDER BY abs(hours_after - {target_hours}), hours_after) AS k
          FROM scored WHERE hours_after >= {window_low_hours} AND hours_after <= {window_high_hours}) AS f
    WHERE k = 1
),
ranked AS (
    SELECT
        p.pid, p.instrument, b.baseline, f.followup, f.followup_hours,
        row_number() OVER (
            PARTITION BY p.pid
            ORDER BY CASE WHEN b.baseline IS NOT NULL AND f.followup IS NOT NULL THEN 0 ELSE 1 END,
                     CASE WHEN p.instrument = 'odi' THEN 0 ELSE 1 END
        ) AS k
    FROM present AS p
    LEFT JOIN base AS b ON p.pid = b.pid AND p.instrument = b.instrument
    LEFT JOIN follow AS f ON p.pid = f.pid AND p.instrument = f.instrument
)
SELECT
    pid,
    instrument AS function_instrument,
    baseline AS function_baseline,
    followup AS function_followup,
    followup_hours AS function_hours,
    baseline - followup AS function_change,
    CASE
        WHEN baseline IS NULL OR followup IS NULL THEN CAST(NULL AS BOOLEAN)
        -- scores are compared after rounding away floating-point noise, as the pain thresholds
        WHEN baseline - followup >= (CASE WHEN instrument = 'odi' THEN {mcid_odi} ELSE {mcid_rmdq} END) - 1e-9
            THEN true
        ELSE false
    END AS function_regained
FROM ranked
WHERE k = 1;
