-- Procedures: clean each input row and name the first exclusion rule it breaks.
--
-- Input  proc_src(_order, _row, procedure_id, patient_id, procedure, procedure_date, fracture_date,
--                 fracture_age_days, baseline_pain, levels_treated, etiology, age, sex, asa_class,
--                 discharge, length_of_stay_hours, complication, physician_id, site_id,
--                 height_restoration_pct, kyphotic_angle_change_deg)  -- raw values, canonical names
--        _map_procedure, _map_procedure_date, _map_fracture_date, _map_sex, _map_discharge,
--        _map_complication, _map_etiology, _map_physician_id, _map_site_id  -- (raw, value)
-- Output proc_checked: cleaned columns, _row (as a spreadsheet numbers it), _reason (NULL = analysed)
--
-- Rules, in the order of validation.validate_procedures (a row gets the first it breaks):
--   procedure_id missing; patient_id missing; unknown procedure type; procedure_date missing or
--   unreadable; fracture dated after the procedure. Optional numbers outside their range, or not
--   whole where they must be, become NULL (the row is kept). Text is trimmed of whitespace as
--   Python's str.strip() does ({ws_trim}).
CREATE OR REPLACE TEMP TABLE proc_checked AS
WITH cleaned AS (
    SELECT
        s._order,
        s._row,
        NULLIF({ws_trim}(CAST(s.procedure_id AS VARCHAR)), '') AS procedure_id,
        NULLIF({ws_trim}(CAST(s.patient_id AS VARCHAR)), '') AS patient_id,
        m_procedure.value AS procedure,
        CAST(m_procedure_date.value AS TIMESTAMP) AS procedure_date,
        CAST(m_fracture_date.value AS TIMESTAMP) AS fracture_date,
        {fracture_age_days} AS fracture_age_given,
        {baseline_pain} AS baseline_pain,
        {levels_treated} AS levels_treated,
        m_etiology.value AS etiology,
        {age} AS age,
        m_sex.value AS sex,
        {asa_class} AS asa_class,
        m_discharge.value AS discharge_code,
        {length_of_stay_hours} AS length_of_stay_hours,
        m_complication.value AS complication,
        m_physician_id.value AS physician_id,
        m_site_id.value AS site_id,
        {height_restoration_pct} AS height_restoration_pct,
        {kyphotic_angle_change_deg} AS kyphotic_angle_change_deg
    FROM proc_src AS s
    LEFT JOIN _map_procedure AS m_procedure ON s.procedure = m_procedure.raw
    LEFT JOIN _map_procedure_date AS m_procedure_date ON s.procedure_date = m_procedure_date.raw
    LEFT JOIN _map_fracture_date AS m_fracture_date ON s.fracture_date = m_fracture_date.raw
    LEFT JOIN _map_etiology AS m_etiology ON s.etiology = m_etiology.raw
    LEFT JOIN _map_sex AS m_sex ON s.sex = m_sex.raw
    LEFT JOIN _map_discharge AS m_discharge ON s.discharge = m_discharge.raw
    LEFT JOIN _map_complication AS m_complication ON s.complication = m_complication.raw
    LEFT JOIN _map_physician_id AS m_physician_id ON s.physician_id = m_physician_id.raw
    LEFT JOIN _map_site_id AS m_site_id ON s.site_id = m_site_id.raw
),
derived AS (
    SELECT
        _order, _row, procedure_id, patient_id, procedure, procedure_date, fracture_date, baseline_pain,
        levels_treated, etiology, age, sex, asa_class, length_of_stay_hours, complication, physician_id,
        site_id, height_restoration_pct, kyphotic_angle_change_deg,
        -- days from the fracture to the procedure: from the dates, else the given number
        COALESCE(
            date_diff('microsecond', fracture_date, procedure_date) / 1e6 / 86400.0,
            fracture_age_given
        ) AS fracture_age_days,
        -- discharge label, else from the length of stay (under 12 h same day, under 48 h overnight)
        COALESCE(
            discharge_code,
            CASE
                WHEN length_of_stay_hours < {same_day_max_hours} THEN 'same_day'
                WHEN length_of_stay_hours < {overnight_max_hours} THEN 'overnight'
                WHEN length_of_stay_hours IS NOT NULL THEN 'admitted'
            END
        ) AS discharge
    FROM cleaned
)
SELECT
    *,
    CASE
        WHEN procedure_id IS NULL THEN 'procedure_id missing'
        WHEN patient_id IS NULL THEN 'patient_id missing'
        WHEN procedure IS NULL THEN 'unknown procedure type (not vertebroplasty or kyphoplasty)'
        WHEN procedure_date IS NULL THEN 'procedure_date missing or unreadable'
        WHEN fracture_age_days < 0 THEN 'fracture dated after the procedure (negative fracture age)'
    END AS _reason
FROM derived;
