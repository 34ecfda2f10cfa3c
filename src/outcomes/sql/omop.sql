-- OMOP CDM v5.4 -> the canonical tables proc_raw and ass_raw, inside the database, as
-- sources.omop.load_omop selects them (then procedures.sql, assessments.sql and endpoints.sql run).
--
-- Input  the CDM tables ({person}, {procedure_occurrence}, {visit_occurrence}, {provider},
--        {condition_occurrence}, {measurement}, {observation}, {concept}) and small code tables
--        made from SourceSettings: _omop_codes(what, code, pattern, vocabulary, concept_id, label,
--        addon, pos) for procedures, pain, procedure fields and LL2335-9 answers;
--        _omop_conditions(prefix, etiology, fracture, event_only, pos); _omop_visit_kinds(concept_id, kind);
--        {death}, {observation_period} (empty stand-ins when the CDM lacks them) and
--        _omop_event_codes(prefix, event, severity, rank, pos) for the adverse events.
-- Output proc_raw, ass_raw (canonical columns, _order, _row), ev_raw (the events table, read only
--        when _omop_followed says so), _omop_flow(tbl, read, used) and _omop_left_out(tbl, reason,
--        n_rows): the records left out, by reason key (sources.omop.LEFT_OUT gives the text).
--        {text_number} is the number in r.text (value_as_string), by the one number rule
--        (checks.number_sql; load_omop reads it with checks.number_values).
--
-- A record's code is matched as load_omop does: the code in its *_source_value (after the last
-- "|" or ":"), else its concept's (vocabulary, code), else its concept id; procedures of one
-- patient, day and kind form one session (add-on codes add levels). A pain score goes to the
-- procedure it names (*_event_id with field 1147082), else by time: the patient's latest
-- procedure at or before it (within {horizon_hours} h), else as a baseline the next procedure
-- (within {window_hours} h), keeping only the last score before a procedure. Each score belongs
-- to at most one procedure: the last score before a procedure is its baseline, not the previous
-- procedure's follow-up.
CREATE OR REPLACE TEMP TABLE _omop_po AS
WITH po AS (
    SELECT
        CAST(x.procedure_occurrence_id AS BIGINT) AS rid,
        CAST(x.person_id AS BIGINT) AS person,
        CAST(x.procedure_date AS DATE) AS day,
        COALESCE(CAST(x.procedure_datetime AS TIMESTAMP), CAST(CAST(x.procedure_date AS DATE) AS TIMESTAMP)) AS t,
        COALESCE(CAST(x.quantity AS DOUBLE), 1.0) AS quantity,
        CAST(x.provider_id AS BIGINT) AS provider,
        CAST(x.visit_occurrence_id AS BIGINT) AS visit,
        x.procedure_source_value AS source_value,
        upper(ws_trim(regexp_replace(ws_trim(x.procedure_source_value), '^.*[|:]', ''))) AS source_code,
        CAST(x.procedure_concept_id AS BIGINT) AS concept_id,
        CAST(x.procedure_source_concept_id AS BIGINT) AS source_concept_id,
        c1.vocabulary_id AS c1_vocabulary, upper(c1.concept_code) AS c1_code,
        c2.vocabulary_id AS c2_vocabulary, upper(c2.concept_code) AS c2_code
    FROM {procedure_occurrence} AS x
    LEFT JOIN {concept} AS c1 ON c1.concept_id = x.procedure_concept_id
    LEFT JOIN {concept} AS c2 ON c2.concept_id = x.procedure_source_concept_id
),
codes AS (SELECT * FROM _omop_codes WHERE what = 'procedure'),
matches AS (
    SELECT po.rid, c.pos FROM po JOIN codes AS c ON c.code = po.source_code
    UNION ALL
    SELECT po.rid, 100000 + c.pos FROM po JOIN codes AS c ON c.vocabulary = po.c1_vocabulary AND c.code = po.c1_code
    UNION ALL
    SELECT po.rid, 100000 + c.pos FROM po JOIN codes AS c ON c.vocabulary = po.c2_vocabulary AND c.code = po.c2_code
    UNION ALL
    SELECT po.rid, 200000 + c.pos FROM po JOIN codes AS c ON c.concept_id = po.concept_id
    UNION ALL
    SELECT po.rid, 200000 + c.pos FROM po JOIN codes AS c ON c.concept_id = po.source_concept_id
    UNION ALL
    -- selected but not classified: a code inside a longer source value
    SELECT po.rid, 900000 FROM po JOIN codes AS c ON po.source_value LIKE '%' || c.pattern || '%'
),
best AS (SELECT rid, min(pos) AS pos FROM matches GROUP BY rid)
SELECT po.rid, po.person, po.day, po.t, po.quantity, po.provider, po.visit, k.label AS kind, k.addon
FROM po
JOIN best AS b ON b.rid = po.rid
LEFT JOIN codes AS k ON k.pos = b.pos % 100000 AND b.pos < 900000;

-- Adverse events are read when the CDM follows its persons: rows in death or observation_period
-- for the cohort's persons (OHDSI's conventions give every person an observation period).
CREATE OR REPLACE TEMP TABLE _omop_followed AS
SELECT count(*) > 0 AS followed
FROM (SELECT person_id FROM {death} WHERE person_id IN (SELECT person FROM _omop_po)
      UNION ALL
      SELECT person_id FROM {observation_period} WHERE person_id IN (SELECT person FROM _omop_po)) AS x;

CREATE OR REPLACE TEMP TABLE _omop_remap AS
WITH p AS (
    SELECT
        *,
        CASE WHEN day IS NOT NULL AND person IS NOT NULL
             THEN 'D' || CAST(person AS VARCHAR) || '|' || CAST(day AS VARCHAR) || '|' || kind
             ELSE 'R' || CAST(rid AS VARCHAR) END AS day_key,
        row_number() OVER (ORDER BY addon, t, rid) AS seq
    FROM _omop_po
    WHERE kind IS NOT NULL
),
first_primary AS (
    SELECT day_key, min(seq) AS seq FROM p WHERE NOT addon GROUP BY day_key
),
keyed AS (
    SELECT
        p.*,
        CASE
            WHEN NOT p.addon AND {merge_sessions} THEN p.day_key
            WHEN NOT p.addon THEN 'R' || CAST(p.rid AS VARCHAR)
            WHEN f.seq IS NOT NULL AND {merge_sessions} THEN p.day_key
            WHEN f.seq IS NOT NULL THEN 'R' || CAST(fp.rid AS VARCHAR)
            ELSE p.day_key
        END AS session
    FROM p
    LEFT JOIN first_primary AS f ON f.day_key = p.day_key
    LEFT JOIN p AS fp ON fp.seq = f.seq
),
firsts AS (SELECT session, min(seq) AS seq, sum(quantity) AS levels FROM keyed GROUP BY session)
SELECT k.rid, kept.rid AS kept, k.rid = kept.rid AS is_kept, f.levels
FROM keyed AS k
JOIN firsts AS f ON f.session = k.session
JOIN keyed AS kept ON kept.seq = f.seq;

CREATE OR REPLACE TEMP TABLE _omop_procs AS
SELECT p.rid, p.person, p.day, p.t, p.provider, p.visit, p.kind, r.levels
FROM _omop_po AS p
JOIN _omop_remap AS r ON r.rid = p.rid
WHERE r.is_kept;

CREATE OR REPLACE TEMP TABLE _omop_conds AS
WITH c AS (
    SELECT
        CAST(x.condition_occurrence_id AS BIGINT) AS cid,
        CAST(x.person_id AS BIGINT) AS person,
        CAST(CAST(x.condition_start_date AS DATE) AS TIMESTAMP) AS onset,
        CAST(x.visit_occurrence_id AS BIGINT) AS visit,
        upper(replace(replace(x.condition_source_value, '.', ''), ' ', '')) AS norm
    FROM {condition_occurrence} AS x
    WHERE x.person_id IN (SELECT person FROM _omop_po)
),
hits AS (
    -- the adverse events' codes (new fractures, complication events) only when followed
    SELECT c.cid, m.fracture, m.etiology, m.pos
    FROM c JOIN _omop_conditions AS m ON c.norm LIKE m.prefix || '%'
    CROSS JOIN _omop_followed AS f
    WHERE f.followed OR NOT m.event_only
),
firsts AS (SELECT cid, min(pos) FILTER (WHERE fracture) AS fx_pos, count(*) AS n FROM hits GROUP BY cid)
SELECT c.cid, c.person, c.onset, c.visit, c.norm, f.fx_pos IS NOT NULL AS fracture,
       NULLIF(m.etiology, '') AS etiology
FROM c
JOIN firsts AS f ON f.cid = c.cid
LEFT JOIN _omop_conditions AS m ON m.pos = f.fx_pos;

CREATE OR REPLACE TEMP TABLE _omop_fracture AS
WITH direct AS (
    SELECT p.rid, c.cid, c.onset, c.etiology,
           row_number() OVER (PARTITION BY p.rid ORDER BY c.cid) AS k
    FROM _omop_procs AS p JOIN _omop_conds AS c ON c.visit = p.visit
    WHERE c.fracture AND c.onset IS NOT NULL
),
near AS (
    SELECT p.rid, c.cid, c.onset, c.etiology, p.t,
           row_number() OVER (PARTITION BY p.rid ORDER BY c.onset DESC, c.cid DESC) AS k
    FROM _omop_procs AS p JOIN _omop_conds AS c ON c.person = p.person
    WHERE c.fracture AND c.onset <= p.t AND p.rid NOT IN (SELECT rid FROM direct)
)
SELECT rid, cid, onset, etiology FROM direct WHERE k = 1
UNION ALL
SELECT rid, cid, onset, etiology FROM near
WHERE k = 1 AND date_diff('microsecond', onset, t) <= {lookback_days} * 86400000000.0;

CREATE OR REPLACE TEMP TABLE _omop_records AS
WITH raw AS (
    SELECT
        0 AS tab,
        CAST(x.measurement_id AS BIGINT) AS rid,
        CAST(x.person_id AS BIGINT) AS person,
        COALESCE(CAST(x.measurement_datetime AS TIMESTAMP), CAST(CAST(x.measurement_date AS DATE) AS TIMESTAMP)) AS t,
        CAST(x.value_as_number AS DOUBLE) AS number,
        CAST(NULL AS VARCHAR) AS text,
        CAST(x.value_as_concept_id AS BIGINT) AS value_concept,
        upper(ws_trim(regexp_replace(ws_trim(x.value_source_value), '^.*[|:]', ''))) AS value_code,
        x.measurement_source_value AS source_value,
        CAST(x.measurement_concept_id AS BIGINT) AS concept_id,
        CAST(x.measurement_source_concept_id AS BIGINT) AS source_concept_id,
        CASE WHEN CAST(x.meas_event_field_concept_id AS BIGINT) = 1147082
             THEN CAST(x.measurement_event_id AS BIGINT) END AS link
    FROM {measurement} AS x
    WHERE x.person_id IN (SELECT person FROM _omop_po)
    UNION ALL
    SELECT
        1 AS tab,
        CAST(x.observation_id AS BIGINT),
        CAST(x.person_id AS BIGINT),
        COALESCE(CAST(x.observation_datetime AS TIMESTAMP), CAST(CAST(x.observation_date AS DATE) AS TIMESTAMP)),
        CAST(x.value_as_number AS DOUBLE),
        x.value_as_string,
        CAST(x.value_as_concept_id AS BIGINT),
        upper(ws_trim(regexp_replace(ws_trim(x.value_source_value), '^.*[|:]', ''))),
        x.observation_source_value,
        CAST(x.observation_concept_id AS BIGINT),
        CAST(x.observation_source_concept_id AS BIGINT),
        CASE WHEN CAST(x.obs_event_field_concept_id AS BIGINT) = 1147082 THEN CAST(x.observation_event_id AS BIGINT) END
    FROM {observation} AS x
    WHERE x.person_id IN (SELECT person FROM _omop_po)
),
r AS (
    SELECT raw.*, upper(ws_trim(regexp_replace(ws_trim(raw.source_value), '^.*[|:]', ''))) AS source_code,
           c.vocabulary_id AS c_vocabulary, upper(c.concept_code) AS c_code,
           v.vocabulary_id AS v_vocabulary, upper(v.concept_code) AS v_code
    FROM raw
    LEFT JOIN {concept} AS c ON c.concept_id = raw.concept_id
    LEFT JOIN {concept} AS v ON v.concept_id = raw.value_concept
),
codes AS (SELECT * FROM _omop_codes WHERE what IN ('pain', 'field', 'function')),
matches AS (
    SELECT r.tab, r.rid, c.what, c.pos FROM r JOIN codes AS c ON c.code = r.source_code
    UNION ALL
    SELECT r.tab, r.rid, c.what, 100000 + c.pos FROM r JOIN codes AS c
        ON c.vocabulary = r.c_vocabulary AND c.code = r.c_code
    UNION ALL
    SELECT r.tab, r.rid, c.what, 200000 + c.pos FROM r JOIN codes AS c ON c.concept_id = r.concept_id
    UNION ALL
    SELECT r.tab, r.rid, c.what, 200000 + c.pos FROM r JOIN codes AS c ON c.concept_id = r.source_concept_id
    UNION ALL
    SELECT r.tab, r.rid, c.what, 900000 FROM r JOIN codes AS c ON r.source_value LIKE '%' || c.pattern || '%'
),
best AS (
    SELECT tab, rid, min(pos) FILTER (WHERE what = 'pain') AS pain_pos, min(pos) FILTER (WHERE what = 'field') AS field_pos,
           min(pos) FILTER (WHERE what = 'function') AS function_pos
    FROM matches GROUP BY tab, rid
),
answers AS (SELECT * FROM _omop_codes WHERE what = 'answer'),
answer_matches AS (
    SELECT r.tab, r.rid, a.pos, a.number FROM r JOIN answers AS a ON a.code = r.value_code
    UNION ALL
    SELECT r.tab, r.rid, 100000 + a.pos, a.number FROM r JOIN answers AS a
        ON a.vocabulary = r.v_vocabulary AND a.code = r.v_code
),
answer AS (
    SELECT tab, rid, number
    FROM (SELECT tab, rid, number, row_number() OVER (PARTITION BY tab, rid ORDER BY pos) AS k FROM answer_matches) AS a
    WHERE k = 1
)
SELECT
    r.tab, r.rid, r.person, r.t, r.link,
    CASE WHEN b.pain_pos < 900000 THEN 'pain' WHEN b.field_pos < 900000 THEN 'field'
         WHEN b.function_pos < 900000 THEN 'function' END AS what,
    CASE WHEN b.pain_pos < 900000 THEN pk.label WHEN b.field_pos < 900000 THEN fk.label ELSE xk.label END AS label,
    COALESCE(
        r.number,
        {text_number},
        a.number
    ) AS value
FROM r
JOIN best AS b ON b.tab = r.tab AND b.rid = r.rid
LEFT JOIN codes AS pk ON pk.pos = b.pain_pos % 100000 AND pk.what = 'pain'
LEFT JOIN codes AS fk ON fk.pos = b.field_pos % 100000 AND fk.what = 'field'
LEFT JOIN codes AS xk ON xk.pos = b.function_pos % 100000 AND xk.what = 'function'
LEFT JOIN answer AS a ON a.tab = r.tab AND a.rid = r.rid;

-- the candidates by time of each score (pain or function) and procedure field without a link: the
-- patient's latest procedure at or before it (follow-up), its next procedure (baseline)
CREATE OR REPLACE TEMP TABLE _omop_timed AS
WITH free AS (SELECT * FROM _omop_records WHERE what IS NOT NULL AND value IS NOT NULL AND t IS NOT NULL AND link IS NULL),
follow_at AS (
    SELECT f.tab, f.rid, max(p.t) AS t_proc
    FROM free AS f JOIN _omop_procs AS p ON p.person = f.person AND p.t <= f.t
    GROUP BY f.tab, f.rid
),
base_at AS (
    SELECT f.tab, f.rid, min(p.t) AS t_proc
    FROM free AS f JOIN _omop_procs AS p ON p.person = f.person AND p.t > f.t
    GROUP BY f.tab, f.rid
)
SELECT f.tab, f.rid, f.what, f.label, p.rid AS pid, 0 AS baseline_candidate, f.t,
       date_diff('microsecond', p.t, f.t) / 3600000000.0 AS hours
FROM free AS f
JOIN follow_at AS a ON a.tab = f.tab AND a.rid = f.rid
JOIN _omop_procs AS p ON p.person = f.person AND p.t = a.t_proc
WHERE date_diff('microsecond', p.t, f.t) / 3600000000.0 <= {horizon_hours}
UNION ALL
SELECT f.tab, f.rid, f.what, f.label, p.rid AS pid, 1 AS baseline_candidate, f.t,
       date_diff('microsecond', p.t, f.t) / 3600000000.0 AS hours
FROM free AS f
JOIN base_at AS a ON a.tab = f.tab AND a.rid = f.rid
JOIN _omop_procs AS p ON p.person = f.person AND p.t = a.t_proc
WHERE -date_diff('microsecond', p.t, f.t) / 3600000000.0 <= {window_hours};

CREATE OR REPLACE TEMP TABLE _omop_links AS
WITH s AS (SELECT * FROM _omop_records WHERE what IS NOT NULL AND value IS NOT NULL AND t IS NOT NULL),
timed AS (SELECT * FROM _omop_timed),
linked AS (
    SELECT s.tab, s.rid, s.what, m.kept AS pid, -1.0 AS distance, 0 AS baseline_candidate,
           date_diff('microsecond', p.t, s.t) / 3600000000.0 AS hours
    FROM s
    JOIN _omop_remap AS m ON m.rid = s.link
    JOIN _omop_procs AS p ON p.rid = m.kept
),
last_base AS (
    -- per table and procedure, only the last score before it is its baseline: the last pain
    -- score, and the last score of each function instrument (ODI, RMDQ, EQ-5D VAS: SourceSettings.
    -- function, each on its own as sources._assemble.link_each_instrument links them)
    SELECT tab, rid, pid
    FROM (SELECT tab, rid, pid,
                 row_number() OVER (PARTITION BY tab, what, CASE WHEN what = 'function' THEN label END, pid
                                    ORDER BY t DESC, rid DESC) AS k
          FROM timed WHERE baseline_candidate = 1 AND what IN ('pain', 'function')) AS b
    WHERE k = 1
)
SELECT tab, rid, what, pid, hours, distance FROM linked
UNION ALL
-- scores: follow-up pairs of scores that are no procedure's baseline, and the baselines kept
SELECT t.tab, t.rid, t.what, t.pid, t.hours, abs(t.hours) AS distance
FROM timed AS t
WHERE t.what IN ('pain', 'function') AND t.baseline_candidate = 0
  AND NOT EXISTS (SELECT 1 FROM last_base AS b WHERE b.tab = t.tab AND b.rid = t.rid)
UNION ALL
SELECT t.tab, t.rid, t.what, t.pid, t.hours, abs(t.hours) AS distance
FROM timed AS t JOIN last_base AS b ON b.tab = t.tab AND b.rid = t.rid AND b.pid = t.pid
UNION ALL
-- procedure fields: every candidate; the nearest is taken below
SELECT t.tab, t.rid, t.what, t.pid, t.hours, abs(t.hours) AS distance FROM timed AS t WHERE t.what = 'field';

CREATE OR REPLACE TEMP TABLE _omop_fields AS
SELECT pid, label, value, tab, rid
FROM (SELECT l.pid, r.label, r.value, l.tab, l.rid,
             row_number() OVER (PARTITION BY l.pid, r.label ORDER BY l.distance, l.tab, l.rid) AS k
      FROM _omop_links AS l JOIN _omop_records AS r ON r.tab = l.tab AND r.rid = l.rid
      WHERE l.what = 'field') AS f
WHERE k = 1;

-- ass_raw takes the function scores (ODI, RMDQ, EQ-5D VAS: the codes with what = 'function')
-- beside the pain scores (instrument odi, rmdq or eq5d_vas, the value on its own scale); the
-- registry's function rules (function.sql) read them there.
CREATE OR REPLACE TEMP TABLE ass_raw AS
SELECT
    (l.tab * 1099511627776 + l.rid) * 8
        + row_number() OVER (PARTITION BY l.tab, l.rid ORDER BY l.pid) - 1 AS _order,
    l.rid AS _row,
    CAST(l.pid AS VARCHAR) AS procedure_id,
    l.hours AS hours_after,
    r.value AS pain,
    r.label AS instrument
FROM _omop_links AS l
JOIN _omop_records AS r ON r.tab = l.tab AND r.rid = l.rid
WHERE l.what IN ('pain', 'function');

-- ---- adverse events (load_omop's events table), when _omop_followed -----------------------------
-- A condition is an event by _omop_event_codes (a new-fracture code first, then the longest
-- complication prefix). Its procedure: the one of its visit (not for a new fracture), else the
-- patient's latest procedure on or before its day (strictly before, for a new fracture: one
-- diagnosed on the procedure's day is the fracture treated), up to {follow_up_days} days later.
-- A death (the person's earliest death_date) is an event of each of the person's procedures on or
-- before it. The last contact of a procedure is the latest day among the patient's procedures,
-- conditions, pain scores, death and observation_period_end_date.
CREATE OR REPLACE TEMP TABLE _omop_cond_events AS
WITH kinds AS (
    SELECT c.cid, c.person, c.visit, CAST(c.onset AS DATE) AS day, r.event, NULLIF(r.severity, '') AS severity,
           row_number() OVER (PARTITION BY c.cid ORDER BY r.rank DESC, r.pos) AS k
    FROM _omop_conds AS c
    JOIN _omop_event_codes AS r ON c.norm LIKE r.prefix || '%'
    CROSS JOIN _omop_followed AS f
    WHERE f.followed
),
cand AS (SELECT * FROM kinds WHERE k = 1),
visit_proc AS (SELECT visit, min(rid) AS rid FROM _omop_procs WHERE visit IS NOT NULL GROUP BY visit),
linked AS (
    SELECT c.cid, v.rid FROM cand AS c JOIN visit_proc AS v ON v.visit = c.visit WHERE c.event <> 'new_fracture'
),
timed AS (
    SELECT c.cid, p.rid, row_number() OVER (PARTITION BY c.cid ORDER BY p.day DESC, p.rid DESC) AS k
    FROM cand AS c
    JOIN _omop_procs AS p ON p.person = c.person
    WHERE c.cid NOT IN (SELECT cid FROM linked)
      AND (p.day < c.day OR (p.day = c.day AND c.event <> 'new_fracture'))
      AND date_diff('day', p.day, c.day) <= {follow_up_days}
),
chosen AS (SELECT cid, rid FROM linked UNION ALL SELECT cid, rid FROM timed WHERE k = 1)
SELECT c.cid, x.rid, c.event, CAST(c.day AS VARCHAR) AS event_date, c.severity
FROM cand AS c JOIN chosen AS x ON x.cid = c.cid;

CREATE OR REPLACE TEMP TABLE _omop_deaths AS
SELECT d.person, d.day, count(p.rid) > 0 AS paired
FROM (SELECT CAST(person_id AS BIGINT) AS person, CAST(death_date AS DATE) AS day,
             row_number() OVER (PARTITION BY person_id ORDER BY CAST(death_date AS DATE) NULLS LAST) AS k
      FROM {death} WHERE person_id IN (SELECT person FROM _omop_po)) AS d
LEFT JOIN _omop_procs AS p ON p.person = d.person AND d.day >= p.day
WHERE d.k = 1
GROUP BY d.person, d.day;

CREATE OR REPLACE TEMP TABLE ev_raw AS
SELECT cid AS _order, cid AS _row, CAST(rid AS VARCHAR) AS procedure_id, event, event_date, severity
FROM _omop_cond_events
UNION ALL
SELECT 1099511627776 + p.rid, d.person, CAST(p.rid AS VARCHAR), 'death', CAST(d.day AS VARCHAR), 'major'
FROM _omop_procs AS p JOIN _omop_deaths AS d ON d.person = p.person
WHERE d.day >= p.day;

-- The last contact: a person with observation periods is followed to the latest period's end,
-- whatever records come later (a pain score at a later visit does not say fractures were looked
-- for; sources._assemble.last_contact); any other person to the latest day among the patient's
-- procedures, conditions, pain and function scores and death.
CREATE OR REPLACE TEMP TABLE _omop_contact AS
WITH ends AS (
    SELECT CAST(person_id AS BIGINT) AS person, max(CAST(observation_period_end_date AS DATE)) AS day
    FROM {observation_period}
    WHERE person_id IN (SELECT person FROM _omop_po) AND observation_period_end_date IS NOT NULL
    GROUP BY CAST(person_id AS BIGINT)
),
dated AS (
    SELECT person, day FROM _omop_deaths
    UNION ALL
    SELECT person, day FROM _omop_procs
    UNION ALL
    SELECT person, CAST(onset AS DATE) FROM _omop_conds
    UNION ALL
    SELECT person, CAST(t AS DATE) FROM _omop_records
    WHERE what IN ('pain', 'function') AND value IS NOT NULL AND t IS NOT NULL
),
latest AS (
    SELECT person, day FROM ends
    UNION ALL
    SELECT d.person, max(d.day) FROM dated AS d
    WHERE NOT EXISTS (SELECT 1 FROM ends AS e WHERE e.person = d.person)
    GROUP BY d.person
)
SELECT p.rid, CAST(l.day AS VARCHAR) AS last_contact_date
FROM _omop_procs AS p
JOIN latest AS l ON l.person = p.person
CROSS JOIN _omop_followed AS f
WHERE f.followed;

CREATE OR REPLACE TEMP TABLE proc_raw AS
WITH visits AS (
    SELECT
        CAST(v.visit_occurrence_id AS BIGINT) AS visit,
        k.kind,
        date_diff('microsecond', CAST(v.visit_start_datetime AS TIMESTAMP), CAST(v.visit_end_datetime AS TIMESTAMP))
            / 3600000000.0 AS hours,
        date_diff('day', CAST(v.visit_start_date AS DATE), CAST(v.visit_end_date AS DATE)) AS days,
        CAST(CAST(v.care_site_id AS BIGINT) AS VARCHAR) AS site
    FROM {visit_occurrence} AS v
    LEFT JOIN _omop_visit_kinds AS k ON k.concept_id = CAST(v.visit_concept_id AS BIGINT)
    WHERE v.visit_occurrence_id IN (SELECT visit FROM _omop_po)
),
visit AS (
    SELECT
        visit, site,
        CASE WHEN hours >= 0 THEN hours END AS length_of_stay_hours,
        -- an outpatient visit: same day as the length of stay reads it (else overnight), or by its days
        NULLIF(CASE
            WHEN kind IS NULL OR kind <> 'outpatient' THEN kind
            WHEN hours IS NULL THEN CASE WHEN days >= 1 THEN 'overnight' ELSE 'same_day' END
            WHEN ({discharge_from_hours}) = 'same_day' THEN 'same_day'
            ELSE 'overnight'
        END, '') AS discharge
    FROM (SELECT *, row_number() OVER (PARTITION BY visit ORDER BY visit) AS k FROM visits) AS u
    WHERE k = 1
),
persons AS (
    SELECT person, gender, gender_source, year_of_birth
    FROM (SELECT CAST(person_id AS BIGINT) AS person, CAST(gender_concept_id AS BIGINT) AS gender,
                 gender_source_value AS gender_source, CAST(year_of_birth AS DOUBLE) AS year_of_birth,
                 row_number() OVER (PARTITION BY person_id ORDER BY person_id) AS k
          FROM {person} WHERE person_id IN (SELECT person FROM _omop_po)) AS u
    WHERE k = 1
),
providers AS (
    SELECT provider, site
    FROM (SELECT CAST(provider_id AS BIGINT) AS provider, CAST(CAST(care_site_id AS BIGINT) AS VARCHAR) AS site,
                 row_number() OVER (PARTITION BY provider_id ORDER BY provider_id) AS k
          FROM {provider} WHERE provider_id IN (SELECT provider FROM _omop_po)) AS u
    WHERE k = 1
),
complicated AS (SELECT DISTINCT visit FROM _omop_conds WHERE NOT fracture AND visit IS NOT NULL)
SELECT
    p.rid AS _order,
    p.rid AS _row,
    CAST(p.rid AS VARCHAR) AS procedure_id,
    CAST(p.person AS VARCHAR) AS patient_id,
    p.kind AS procedure,
    CAST(p.day AS VARCHAR) AS procedure_date,
    CAST(CAST(fx.onset AS DATE) AS VARCHAR) AS fracture_date,
    p.levels AS levels_treated,
    fx.etiology,
    CASE WHEN year(p.day) - pe.year_of_birth > 90 THEN 90.0 ELSE year(p.day) - pe.year_of_birth END AS age,
    CASE pe.gender WHEN 8532 THEN 'F' WHEN 8507 THEN 'M' ELSE pe.gender_source END AS sex,
    v.discharge,
    v.length_of_stay_hours,
    cv.visit IS NOT NULL AS complication,
    CAST(p.provider AS VARCHAR) AS physician_id,
    COALESCE(v.site, pr.site) AS site_id,
    fa.value AS asa_class,
    fh.value AS height_restoration_pct,
    fk.value AS kyphotic_angle_change_deg,
    lc.last_contact_date
FROM _omop_procs AS p
LEFT JOIN persons AS pe ON pe.person = p.person
LEFT JOIN visit AS v ON v.visit = p.visit
LEFT JOIN providers AS pr ON pr.provider = p.provider
LEFT JOIN _omop_fracture AS fx ON fx.rid = p.rid
LEFT JOIN complicated AS cv ON cv.visit = p.visit
LEFT JOIN _omop_fields AS fa ON fa.pid = p.rid AND fa.label = 'asa_class'
LEFT JOIN _omop_fields AS fh ON fh.pid = p.rid AND fh.label = 'height_restoration_pct'
LEFT JOIN _omop_fields AS fk ON fk.pid = p.rid AND fk.label = 'kyphotic_angle_change_deg'
LEFT JOIN _omop_contact AS lc ON lc.rid = p.rid;

-- The CDM records selected but left out, by reason (k: the order in which load_omop first logs
-- each reason of a table: the pain scores' reasons, then the function scores' (no score, no date,
-- then the linking of each instrument in turn, by name), then the procedure fields').
CREATE OR REPLACE TEMP TABLE _omop_left_out AS
WITH scores AS (
    SELECT r.tab, r.rid, r.what, r.label, r.value, r.t, r.link, r.person
    FROM _omop_records AS r
    WHERE NOT EXISTS (SELECT 1 FROM _omop_links AS l
                      WHERE l.tab = r.tab AND l.rid = r.rid AND l.what IN ('pain', 'function'))
      AND NOT EXISTS (SELECT 1 FROM _omop_fields AS f WHERE f.tab = r.tab AND f.rid = r.rid)
),
earlier AS (SELECT DISTINCT tab, rid FROM _omop_timed WHERE baseline_candidate = 1 AND what IN ('pain', 'function')),
instruments AS (
    SELECT label, dense_rank() OVER (ORDER BY label) AS n
    FROM (SELECT DISTINCT label FROM _omop_records WHERE what = 'function') AS i
),
score_reasons AS (
    SELECT
        CASE WHEN s.tab = 0 THEN 'omop:measurement' ELSE 'omop:observation' END AS tbl,
        CASE
            WHEN s.what IS NULL THEN 'unknown_score'
            WHEN s.what = 'field' THEN 'field'
            WHEN s.value IS NULL AND s.what = 'function' THEN 'no_function_score'
            WHEN s.value IS NULL THEN 'no_score'
            WHEN s.t IS NULL THEN 'no_date'
            WHEN s.link IS NOT NULL THEN 'link_left_out'
            WHEN pp.person IS NULL THEN 'no_procedure'
            WHEN e.rid IS NOT NULL THEN 'earlier_baseline'
            ELSE 'unlinked'
        END AS reason,
        CASE
            WHEN s.what = 'function' AND s.value IS NULL THEN 10
            WHEN s.what = 'function' AND s.t IS NULL THEN 11
            WHEN s.what = 'function' THEN 100 + 10 * i.n + CASE
                WHEN s.link IS NOT NULL THEN 0 WHEN pp.person IS NULL THEN 1 WHEN e.rid IS NOT NULL THEN 2 ELSE 3 END
        END AS k
    FROM scores AS s
    LEFT JOIN earlier AS e ON e.tab = s.tab AND e.rid = s.rid
    LEFT JOIN (SELECT DISTINCT person FROM _omop_procs) AS pp ON pp.person = s.person
    LEFT JOIN instruments AS i ON i.label = s.label AND s.what = 'function'
),
rows_out AS (
    SELECT 'omop:procedure_occurrence' AS tbl, 'unknown_procedure' AS reason, CAST(NULL AS BIGINT) AS k
    FROM _omop_po WHERE kind IS NULL
    UNION ALL
    SELECT 'omop:procedure_occurrence', 'session', NULL FROM _omop_remap WHERE NOT is_kept
    UNION ALL
    SELECT 'omop:visit_occurrence', 'visit', NULL
    FROM (SELECT DISTINCT visit_occurrence_id FROM {visit_occurrence}
          WHERE visit_occurrence_id IN (SELECT visit FROM _omop_po)
            AND visit_occurrence_id NOT IN (SELECT visit FROM _omop_procs WHERE visit IS NOT NULL)) AS v
    UNION ALL
    SELECT 'omop:condition_occurrence', 'condition', NULL FROM _omop_conds AS c
    WHERE c.cid NOT IN (SELECT cid FROM _omop_fracture)
      AND NOT (NOT c.fracture AND c.visit IS NOT NULL AND c.visit IN (SELECT visit FROM _omop_procs WHERE visit IS NOT NULL))
      AND c.cid NOT IN (SELECT cid FROM _omop_cond_events)
    UNION ALL
    SELECT tbl, reason, k FROM score_reasons
    UNION ALL
    SELECT 'omop:death', 'death', NULL FROM _omop_deaths WHERE NOT paired
    UNION ALL
    SELECT 'omop:person', 'person', NULL
    FROM (SELECT DISTINCT person_id FROM {person}
          WHERE person_id IN (SELECT person FROM _omop_po)
            AND person_id NOT IN (SELECT person FROM _omop_procs WHERE person IS NOT NULL)) AS p
),
ranked AS (
    SELECT tbl, reason, count(*) AS n_rows, min(COALESCE(k, CASE reason
            WHEN 'unknown_procedure' THEN 0 WHEN 'session' THEN 1 WHEN 'unknown_score' THEN 2
            WHEN 'no_score' THEN 3 WHEN 'no_date' THEN 4 WHEN 'link_left_out' THEN 5 WHEN 'no_procedure' THEN 6
            WHEN 'earlier_baseline' THEN 7 WHEN 'unlinked' THEN 8 WHEN 'field' THEN 100000 ELSE 10 END)) AS k
    FROM rows_out GROUP BY tbl, reason
)
SELECT r.tbl, r.reason, r.n_rows, r.k
FROM ranked AS r;

-- Records read and used per CDM table (used = read - left out).
CREATE OR REPLACE TEMP TABLE _omop_flow AS
WITH reads AS (
    SELECT 'omop:procedure_occurrence' AS tbl, (SELECT count(*) FROM _omop_po) AS n_read
    UNION ALL
    SELECT 'omop:person', (SELECT count(DISTINCT person_id) FROM {person} WHERE person_id IN (SELECT person FROM _omop_po))
    UNION ALL
    SELECT 'omop:visit_occurrence',
           (SELECT count(DISTINCT visit_occurrence_id) FROM {visit_occurrence}
            WHERE visit_occurrence_id IN (SELECT visit FROM _omop_po))
    UNION ALL
    SELECT 'omop:condition_occurrence', (SELECT count(*) FROM _omop_conds)
    UNION ALL
    SELECT 'omop:measurement', (SELECT count(*) FROM _omop_records WHERE tab = 0)
    UNION ALL
    SELECT 'omop:observation', (SELECT count(*) FROM _omop_records WHERE tab = 1)
    UNION ALL
    SELECT 'omop:death', (SELECT count(*) FROM {death} WHERE person_id IN (SELECT person FROM _omop_po))
    UNION ALL
    SELECT 'omop:observation_period',
           (SELECT count(*) FROM {observation_period} WHERE person_id IN (SELECT person FROM _omop_po))
),
outs AS (SELECT tbl, sum(n_rows) AS n_out FROM _omop_left_out GROUP BY tbl)
SELECT r.tbl, r.n_read, r.n_read - COALESCE(o.n_out, 0) AS n_used
FROM reads AS r LEFT JOIN outs AS o ON o.tbl = r.tbl;
