-- Procedures: clean each input row, name the first exclusion rule it breaks, and log the
-- optional values set to missing. The one definition of these rules: load_records runs it in
-- process (DuckDB over the frames it read), evaluate_registry where the records live.
--
-- Input  proc_src(_order, _row, procedure_id, patient_id, procedure, procedure_date, procedure_year,
--                 fracture_date, fracture_age_days, baseline_pain, levels_treated, etiology, age, sex,
--                 asa_class, discharge, length_of_stay_hours, complication, physician_id, site_id,
--                 height_restoration_pct, kyphotic_angle_change_deg)  -- raw values, canonical names
--        _map_procedure, _map_sex, _map_discharge, _map_complication, _map_etiology,
--        _map_physician_id, _map_site_id (raw, value): each distinct raw value of a coded column
--        and what it reads as (outcomes.validation.coded_values);
--        _map_procedure_date (raw, value, year), _map_fracture_date (raw, value, year): each
--        distinct raw date, its timestamp and the year of a year-only value (parse_dates).
-- Placeholders, filled by outcomes.checks: {name} and {name_present} are the number in a
-- column (NULL when missing or unreadable) and whether a value is there at all; {procedure_id} and
-- {patient_id} the trimmed text (NULL when blank); {procedure_date},
-- {procedure_date_year}, {fracture_date} read the dates; {has_*} say which columns the input has.
--
-- Output proc_checked: the cleaned columns; _rule (NULL = analysed) and _reason, the first rule
--        broken; _column and _value, the column it concerns and its raw value; _r_* flags,
--        the remarks of the row.
--        proc_remarks(_k, _order, _row, _column, _value, _remark): one row per value set to
--        missing, in the order the checks are made (_k), then in row order.
--
-- Rules, in order (a row gets the first it breaks): 1 procedure_id missing; 2 patient_id
-- missing; 3 unknown procedure type; 4 procedure_date (or, in a Safe Harbor file,
-- procedure_year) missing or unreadable; 5 fracture dated after the procedure. A remark is
-- logged for a row still in play when its check is made (remarks of the procedure year after
-- rule 3, of the fracture after rule 4, of the other values on analysed rows). Text is trimmed
-- of the whitespace Python's str.strip() removes (ws_trim).
CREATE OR REPLACE TEMP TABLE proc_checked AS
WITH cleaned AS (
    SELECT
        s._order,
        s._row,
        {procedure_id} AS procedure_id,
        {patient_id} AS patient_id,
        m_procedure.value AS procedure,
        CAST(s.procedure AS VARCHAR) AS procedure_raw,
        {procedure_date} AS date_value,
        {procedure_date_year} AS date_year,
        CAST(s.procedure_date AS VARCHAR) AS procedure_date_raw,
        {procedure_year} AS year_given,
        ({procedure_year_present} AND {procedure_year} IS NULL) AS year_unreadable,
        CAST(s.procedure_year AS VARCHAR) AS procedure_year_raw,
        {fracture_date} AS fracture_date,
        -- (whether a value is there matters only where none was read: trimmed only then)
        CASE WHEN {fracture_date} IS NULL THEN NULLIF(ws_trim(CAST(s.fracture_date AS VARCHAR)), '') IS NOT NULL
             ELSE true END AS fracture_date_given,
        {fracture_age_days} AS age_given,
        ({fracture_age_days_present} AND {fracture_age_days} IS NULL) AS age_unreadable,
        {baseline_pain} AS baseline_pain,
        ({baseline_pain_present} AND {baseline_pain} IS NULL) AS baseline_pain_unreadable,
        {levels_treated} AS levels_treated,
        ({levels_treated_present} AND {levels_treated} IS NULL) AS levels_treated_unreadable,
        {age} AS age,
        ({age_present} AND {age} IS NULL) AS age_unreadable_number,
        {asa_class} AS asa_class,
        ({asa_class_present} AND {asa_class} IS NULL) AS asa_class_unreadable,
        {length_of_stay_hours} AS length_of_stay_hours,
        ({length_of_stay_hours_present} AND {length_of_stay_hours} IS NULL) AS length_of_stay_hours_unreadable,
        {height_restoration_pct} AS height_restoration_pct,
        ({height_restoration_pct_present} AND {height_restoration_pct} IS NULL) AS height_restoration_pct_unreadable,
        {kyphotic_angle_change_deg} AS kyphotic_angle_change_deg,
        ({kyphotic_angle_change_deg_present} AND {kyphotic_angle_change_deg} IS NULL)
            AS kyphotic_angle_change_deg_unreadable,
        m_etiology.value AS etiology,
        m_sex.value AS sex,
        CASE WHEN m_sex.value IS NULL THEN NULLIF(ws_trim(CAST(s.sex AS VARCHAR)), '') IS NOT NULL
             ELSE true END AS sex_given,
        m_discharge.value AS discharge_code,
        CASE WHEN m_discharge.value IS NULL THEN NULLIF(ws_trim(CAST(s.discharge AS VARCHAR)), '') IS NOT NULL
             ELSE true END AS discharge_given,
        m_complication.value AS complication,
        m_physician_id.value AS physician_id,
        m_site_id.value AS site_id
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
dated AS (
    SELECT
        *,
        -- a given procedure year that is not a whole year from 1800 to 2200 is set to missing
        (year_given IS NOT NULL AND (year_given <> floor(year_given) OR year_given < {first_year}
                                     OR year_given > {last_year})) AS year_odd,
        -- days from the fracture to the procedure: from the dates, else the given number
        CASE WHEN {has_fracture_date}
             THEN COALESCE(date_diff('microsecond', fracture_date, date_value) / 1e6 / 86400.0, age_given)
             ELSE age_given END AS age_days
    FROM cleaned
),
ranged AS (
    SELECT
        *,
        COALESCE(date_year, CAST(year(date_value) AS INTEGER),
                 CASE WHEN NOT year_odd THEN CAST(year_given AS INTEGER) END) AS procedure_year,
        -- a fracture age over 100 years (or not finite) is a typing error
        (age_days IS NOT NULL AND NOT (abs(age_days) <= {max_fracture_age_days})) AS age_absurd,
        (baseline_pain < 0 OR baseline_pain > 10) AS baseline_pain_out,
        (levels_treated < 1 OR levels_treated > 20 OR levels_treated <> floor(levels_treated)) AS levels_treated_out,
        (age < 0 OR age > 90) AS age_out,
        (asa_class < 1 OR asa_class > 6 OR asa_class <> floor(asa_class)) AS asa_class_out,
        (length_of_stay_hours < 0) AS length_of_stay_hours_out,
        (height_restoration_pct < -100 OR height_restoration_pct > 100) AS height_restoration_pct_out,
        (kyphotic_angle_change_deg < -90 OR kyphotic_angle_change_deg > 90) AS kyphotic_angle_change_deg_out
    FROM dated
),
ruled AS (
    SELECT
        *,
        CASE WHEN NOT age_absurd THEN age_days END AS fracture_age_days,
        CASE WHEN NOT COALESCE(length_of_stay_hours_out, false) THEN length_of_stay_hours END AS length_of_stay_kept,
        CAST(CASE
            WHEN procedure_id IS NULL THEN 1
            WHEN patient_id IS NULL THEN 2
            WHEN procedure IS NULL THEN 3
            WHEN date_value IS NULL AND procedure_year IS NULL THEN 4
            WHEN NOT age_absurd AND age_days < 0 THEN 5
        END AS TINYINT) AS _rule
    FROM ranged
)
SELECT
    _order,
    _row,
    procedure_id,
    patient_id,
    procedure,
    date_value AS procedure_date,
    procedure_year,
    fracture_date,
    fracture_age_days,
    CASE WHEN NOT COALESCE(baseline_pain_out, false) THEN baseline_pain END AS baseline_pain,
    CASE WHEN NOT COALESCE(levels_treated_out, false) THEN levels_treated END AS levels_treated,
    etiology,
    CASE WHEN NOT COALESCE(age_out, false) THEN age END AS age,
    sex,
    CASE WHEN NOT COALESCE(asa_class_out, false) THEN asa_class END AS asa_class,
    -- discharge label, else from the length of stay (checks.discharge_sql: under 12 h same day,
    -- under 48 h overnight, else admitted)
    COALESCE(discharge_code, {discharge_from_stay}) AS discharge,
    length_of_stay_kept AS length_of_stay_hours,
    complication,
    physician_id,
    site_id,
    CASE WHEN NOT COALESCE(height_restoration_pct_out, false) THEN height_restoration_pct END AS height_restoration_pct,
    CASE WHEN NOT COALESCE(kyphotic_angle_change_deg_out, false) THEN kyphotic_angle_change_deg END
        AS kyphotic_angle_change_deg,
    _rule,
    CASE _rule
        WHEN 1 THEN 'procedure_id missing'
        WHEN 2 THEN 'patient_id missing'
        WHEN 3 THEN 'unknown procedure type (not vertebroplasty or kyphoplasty)'
        WHEN 4 THEN CASE WHEN {has_procedure_date} THEN 'procedure_date missing or unreadable'
                         ELSE 'procedure_year missing or not a year' END
        WHEN 5 THEN 'fracture dated after the procedure (negative fracture age)'
    END AS _reason,
    CASE _rule
        WHEN 1 THEN 'procedure_id'
        WHEN 2 THEN 'patient_id'
        WHEN 3 THEN 'procedure'
        WHEN 4 THEN CASE WHEN {has_procedure_date} THEN 'procedure_date' ELSE 'procedure_year' END
        WHEN 5 THEN 'fracture_age_days'
    END AS _column,
    CASE _rule
        WHEN 1 THEN procedure_id
        WHEN 2 THEN patient_id
        WHEN 3 THEN procedure_raw
        WHEN 4 THEN CASE WHEN {has_procedure_date} THEN procedure_date_raw ELSE procedure_year_raw END
        WHEN 5 THEN CAST(fracture_age_days AS VARCHAR)
    END AS _value,
    -- remarks: the checks a row reached (rules 1-3 come before the procedure year, rule 4 before
    -- the fracture, every rule before the other values)
    (COALESCE(_rule, 9) > 3 AND (year_unreadable OR year_odd)) AS _r_procedure_year,
    (COALESCE(_rule, 9) > 4 AND {has_fracture_date} AND fracture_date_given AND fracture_date IS NULL)
        AS _r_fracture_date,
    (COALESCE(_rule, 9) > 4 AND NOT {has_fracture_date} AND age_unreadable) AS _r_fracture_age_unreadable,
    (COALESCE(_rule, 9) > 4 AND age_absurd) AS _r_fracture_age_absurd,
    CASE WHEN age_absurd THEN CAST(age_days AS VARCHAR) END AS _fracture_age_absurd_value,
    (_rule IS NULL AND baseline_pain_unreadable) AS _r_baseline_pain_unreadable,
    (_rule IS NULL AND COALESCE(baseline_pain_out, false)) AS _r_baseline_pain_out,
    (_rule IS NULL AND levels_treated_unreadable) AS _r_levels_treated_unreadable,
    (_rule IS NULL AND COALESCE(levels_treated_out, false)) AS _r_levels_treated_out,
    (_rule IS NULL AND age_unreadable_number) AS _r_age_unreadable,
    (_rule IS NULL AND COALESCE(age_out, false)) AS _r_age_out,
    (_rule IS NULL AND asa_class_unreadable) AS _r_asa_class_unreadable,
    (_rule IS NULL AND COALESCE(asa_class_out, false)) AS _r_asa_class_out,
    (_rule IS NULL AND length_of_stay_hours_unreadable) AS _r_length_of_stay_hours_unreadable,
    (_rule IS NULL AND COALESCE(length_of_stay_hours_out, false)) AS _r_length_of_stay_hours_out,
    (_rule IS NULL AND height_restoration_pct_unreadable) AS _r_height_restoration_pct_unreadable,
    (_rule IS NULL AND COALESCE(height_restoration_pct_out, false)) AS _r_height_restoration_pct_out,
    (_rule IS NULL AND kyphotic_angle_change_deg_unreadable) AS _r_kyphotic_angle_change_deg_unreadable,
    (_rule IS NULL AND COALESCE(kyphotic_angle_change_deg_out, false)) AS _r_kyphotic_angle_change_deg_out,
    (_rule IS NULL AND discharge_given AND discharge_code IS NULL) AS _r_discharge,
    (_rule IS NULL AND sex_given AND sex IS NULL) AS _r_sex
FROM ruled;

-- log: the remarks, one row per value set to missing (the raw value as text)
CREATE OR REPLACE TEMP TABLE proc_remarks AS
WITH flagged AS MATERIALIZED (
    SELECT c.*, s.procedure_year AS raw_procedure_year, s.fracture_date AS raw_fracture_date,
           s.fracture_age_days AS raw_fracture_age_days, s.baseline_pain AS raw_baseline_pain,
           s.levels_treated AS raw_levels_treated, s.age AS raw_age, s.asa_class AS raw_asa_class,
           s.length_of_stay_hours AS raw_length_of_stay_hours,
           s.height_restoration_pct AS raw_height_restoration_pct,
           s.kyphotic_angle_change_deg AS raw_kyphotic_angle_change_deg, s.discharge AS raw_discharge,
           s.sex AS raw_sex
    FROM proc_checked AS c
    JOIN proc_src AS s ON c._order = s._order
    WHERE c._r_procedure_year OR c._r_fracture_date OR c._r_fracture_age_unreadable OR c._r_fracture_age_absurd
       OR c._r_baseline_pain_unreadable OR c._r_baseline_pain_out OR c._r_levels_treated_unreadable
       OR c._r_levels_treated_out OR c._r_age_unreadable OR c._r_age_out OR c._r_asa_class_unreadable
       OR c._r_asa_class_out OR c._r_length_of_stay_hours_unreadable OR c._r_length_of_stay_hours_out
       OR c._r_height_restoration_pct_unreadable OR c._r_height_restoration_pct_out
       OR c._r_kyphotic_angle_change_deg_unreadable OR c._r_kyphotic_angle_change_deg_out
       OR c._r_discharge OR c._r_sex
)
SELECT 1 AS _k, _order, _row, 'procedure_year' AS _column, CAST(raw_procedure_year AS VARCHAR) AS _value,
       'not a year; set to missing' AS _remark FROM flagged WHERE _r_procedure_year
UNION ALL SELECT 2, _order, _row, 'fracture_date', CAST(raw_fracture_date AS VARCHAR),
       'unreadable date set to missing' FROM flagged WHERE _r_fracture_date
UNION ALL SELECT 3, _order, _row, 'fracture_age_days', CAST(raw_fracture_age_days AS VARCHAR),
       'not a number; set to missing' FROM flagged WHERE _r_fracture_age_unreadable
UNION ALL SELECT 4, _order, _row, 'fracture_age_days', _fracture_age_absurd_value,
       'not finite or over {max_fracture_age_days_text} days; set to missing' FROM flagged WHERE _r_fracture_age_absurd
UNION ALL SELECT 5, _order, _row, 'baseline_pain', CAST(raw_baseline_pain AS VARCHAR),
       'not a number; set to missing' FROM flagged WHERE _r_baseline_pain_unreadable
UNION ALL SELECT 6, _order, _row, 'baseline_pain', CAST(raw_baseline_pain AS VARCHAR),
       'outside 0-10; set to missing' FROM flagged WHERE _r_baseline_pain_out
UNION ALL SELECT 7, _order, _row, 'levels_treated', CAST(raw_levels_treated AS VARCHAR),
       'not a number; set to missing' FROM flagged WHERE _r_levels_treated_unreadable
UNION ALL SELECT 8, _order, _row, 'levels_treated', CAST(raw_levels_treated AS VARCHAR),
       'outside 1-20 or not whole; set to missing' FROM flagged WHERE _r_levels_treated_out
UNION ALL SELECT 9, _order, _row, 'age', CAST(raw_age AS VARCHAR),
       'not a number; set to missing' FROM flagged WHERE _r_age_unreadable
UNION ALL SELECT 10, _order, _row, 'age', CAST(raw_age AS VARCHAR),
       'outside 0-90; set to missing' FROM flagged WHERE _r_age_out
UNION ALL SELECT 11, _order, _row, 'asa_class', CAST(raw_asa_class AS VARCHAR),
       'not a number; set to missing' FROM flagged WHERE _r_asa_class_unreadable
UNION ALL SELECT 12, _order, _row, 'asa_class', CAST(raw_asa_class AS VARCHAR),
       'outside 1-6 or not whole; set to missing' FROM flagged WHERE _r_asa_class_out
UNION ALL SELECT 13, _order, _row, 'length_of_stay_hours', CAST(raw_length_of_stay_hours AS VARCHAR),
       'not a number; set to missing' FROM flagged WHERE _r_length_of_stay_hours_unreadable
UNION ALL SELECT 14, _order, _row, 'length_of_stay_hours', CAST(raw_length_of_stay_hours AS VARCHAR),
       'outside 0-inf; set to missing' FROM flagged WHERE _r_length_of_stay_hours_out
UNION ALL SELECT 15, _order, _row, 'height_restoration_pct', CAST(raw_height_restoration_pct AS VARCHAR),
       'not a number; set to missing' FROM flagged WHERE _r_height_restoration_pct_unreadable
UNION ALL SELECT 16, _order, _row, 'height_restoration_pct', CAST(raw_height_restoration_pct AS VARCHAR),
       'outside -100-100; set to missing' FROM flagged WHERE _r_height_restoration_pct_out
UNION ALL SELECT 17, _order, _row, 'kyphotic_angle_change_deg', CAST(raw_kyphotic_angle_change_deg AS VARCHAR),
       'not a number; set to missing' FROM flagged WHERE _r_kyphotic_angle_change_deg_unreadable
UNION ALL SELECT 18, _order, _row, 'kyphotic_angle_change_deg', CAST(raw_kyphotic_angle_change_deg AS VARCHAR),
       'outside -90-90; set to missing' FROM flagged WHERE _r_kyphotic_angle_change_deg_out
UNION ALL SELECT 19, _order, _row, 'discharge', CAST(raw_discharge AS VARCHAR),
       'not one of same_day, overnight, admitted; set to missing' FROM flagged WHERE _r_discharge
UNION ALL SELECT 20, _order, _row, 'sex', CAST(raw_sex AS VARCHAR),
       'not F or M; set to missing' FROM flagged WHERE _r_sex;
