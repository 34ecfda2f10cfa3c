-- Safety endpoints: one row per analysed procedure from its follow-up and its adverse events.
--
-- Input  proc_followup(_order, procedure_id, last_contact_days)   -- events.sql
--        events_checked(procedure_id, event, days_after, severity, _reason)  -- events.sql
-- Output safety(_order, procedure_id, last_contact_days, major_complication_30d,
--        minor_complication_30d, death_30d, new_fracture_days, new_fracture_status)
--
-- Placeholders: <window_days> (Definitions.complication_window_days, 30), <has_events> (TRUE when an
-- events table was given: without one every endpoint here is NULL, unknown rather than "none").
--
-- Endpoints (events from day 0, the day of the procedure, onwards):
--   major_complication_30d  a major event other than death at day 0 to <window_days> (inclusive);
--                           NULL (not known) when there is none but a complication of unknown
--                           severity in that window (an OMOP condition, an unlabelled event)
--   minor_complication_30d  the same for a minor event
--   death_30d               death at day 0 to <window_days>; FALSE when death came later or the
--                           last contact is at or after <window_days>; else NULL (not known)
--   new_fracture_days       days to the first new fracture, else to death, else to the last
--                           contact; NULL when none of them is known
--   new_fracture_status     1 a new fracture first (on the day of death counts as first),
--                           2 death first (the competing risk), 0 censored at the last contact
CREATE OR REPLACE TEMP TABLE safety AS
WITH analysed AS (
    SELECT procedure_id, event, days_after, severity
    FROM events_checked
    WHERE _reason IS NULL AND days_after >= 0
),
per_procedure AS (
    SELECT
        procedure_id,
        max(CASE WHEN severity = 'major' AND event <> 'death' AND days_after <= {window_days} THEN 1 ELSE 0 END)
            AS major,
        max(CASE WHEN severity = 'minor' AND event <> 'death' AND days_after <= {window_days} THEN 1 ELSE 0 END)
            AS minor,
        max(CASE WHEN severity IS NULL AND event NOT IN ('death', 'new_fracture') AND days_after <= {window_days}
                 THEN 1 ELSE 0 END) AS unsure,
        min(CASE WHEN event = 'death' THEN days_after END) AS death_days,
        min(CASE WHEN event = 'new_fracture' THEN days_after END) AS fracture_days
    FROM analysed
    GROUP BY procedure_id
),
joined AS (
    SELECT
        f._order,
        f.procedure_id,
        f.last_contact_days,
        COALESCE(e.major, 0) AS major,
        COALESCE(e.minor, 0) AS minor,
        COALESCE(e.unsure, 0) AS unsure,
        e.death_days,
        e.fracture_days,
        CASE
            WHEN e.fracture_days IS NOT NULL AND (e.death_days IS NULL OR e.fracture_days <= e.death_days) THEN 1
            WHEN e.death_days IS NOT NULL THEN 2
            WHEN f.last_contact_days IS NOT NULL THEN 0
        END AS status
    FROM proc_followup AS f
    LEFT JOIN per_procedure AS e ON f.procedure_id = e.procedure_id
)
SELECT
    _order,
    procedure_id,
    last_contact_days,
    CASE WHEN {has_events} AND (major = 1 OR unsure = 0) THEN major = 1 END AS major_complication_30d,
    CASE WHEN {has_events} AND (minor = 1 OR unsure = 0) THEN minor = 1 END AS minor_complication_30d,
    CASE
        WHEN NOT {has_events} THEN NULL
        WHEN death_days <= {window_days} THEN TRUE
        WHEN death_days IS NOT NULL THEN FALSE
        WHEN last_contact_days >= {window_days} THEN FALSE
    END AS death_30d,
    CASE
        WHEN NOT {has_events} THEN NULL
        WHEN status = 1 THEN fracture_days
        WHEN status = 2 THEN death_days
        WHEN status = 0 THEN last_contact_days
    END AS new_fracture_days,
    CASE WHEN {has_events} THEN CAST(status AS INTEGER) END AS new_fracture_status
FROM joined;
