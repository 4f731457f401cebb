-- Household features "as of" each date in `asof` (one definition; DuckDB dialect, transpiled by sqlglot for Spark).
-- Inputs (Parquet snapshot, monitoring/snapshot.py): household, household_version, member_version, income_record,
-- guarantee_status, dept_event (department triggers, POLICY.md §6; monitoring/dept_events.py — may be empty),
-- model_output (household_id, as_of, pmt_pc_income, pmt_pc_income_hi: proxy-means estimates, risk/pmt.py — may be empty);
-- asof_dates(as_of DATE, known_before TIMESTAMP, win_start DATE, prev_start DATE, m3_start DATE, six_start DATE,
--            y3_start DATE);
-- params(as_of DATE, province VARCHAR, monitoring_line DOUBLE, sharp_drop_ratio DOUBLE, uses_claims BOOLEAN,
--        deducts_oop BOOLEAN, med_oop_trigger_monitored DOUBLE, med_oop_trigger_general DOUBLE, param_version VARCHAR).
-- Time rule: a row counts for as_of only if it was true by then (valid_from/period_end/status_date <= as_of) AND
-- known by then (recorded_at < known_before = as_of + 1 day). No feature can read later data.
WITH hv AS (
  SELECT a.as_of, v.household_id, v.region_code, v.hh_type, v.relocated, v.active,
         ROW_NUMBER() OVER (PARTITION BY a.as_of, v.household_id
                            ORDER BY v.valid_from DESC, v.recorded_at DESC, v.id DESC) AS rn
  FROM household_version AS v
  JOIN asof_dates AS a ON v.valid_from <= a.as_of AND v.recorded_at < a.known_before
),
hh AS (
  SELECT hv.as_of, hv.household_id, h.hh_no, hv.region_code, SUBSTRING(hv.region_code, 1, 2) AS province,
         hv.hh_type, hv.relocated
  FROM hv JOIN household AS h ON h.id = hv.household_id
  WHERE hv.rn = 1 AND hv.active
),
mv AS (
  SELECT a.as_of, m.person_id, m.household_id, m.active, m.birth_date, m.schooling, m.health, m.labour_skill,
         m.migrant_months, m.med_insured, m.disability_grade, m.relation,
         ROW_NUMBER() OVER (PARTITION BY a.as_of, m.person_id
                            ORDER BY m.valid_from DESC, m.recorded_at DESC, m.id DESC) AS rn
  FROM member_version AS m
  JOIN asof_dates AS a ON m.valid_from <= a.as_of AND m.recorded_at < a.known_before
),
mem AS (
  SELECT as_of, household_id, person_id, health, labour_skill, migrant_months, med_insured, disability_grade,
         schooling, relation, YEAR(as_of) - YEAR(birth_date) AS age
  FROM mv WHERE rn = 1 AND active
),
-- member versions that became true in the last 6 months (births, deaths, moves, illness/disability onsets);
-- requires as_of >= 6 months after the registry's first load (earlier, the initial load counts as changes)
mchg AS (
  SELECT a.as_of, m.household_id,
         CAST(COUNT(*) AS BIGINT) AS member_changes_6m,
         CAST(SUM(CASE WHEN m.active THEN 0 ELSE 1 END) AS BIGINT) AS member_exits_6m,
         -- onsets recorded in the last 6 months (a new version with the condition; POLICY.md §7 因病/因残)
         CAST(SUM(CASE WHEN m.active AND m.health = '患有大病' THEN 1 ELSE 0 END) AS BIGINT) AS new_serious_ill_6m,
         CAST(SUM(CASE WHEN m.active AND m.disability_grade IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS new_disabled_6m
  FROM member_version AS m
  JOIN asof_dates AS a ON m.valid_from <= a.as_of AND m.recorded_at < a.known_before AND m.valid_from >= a.six_start
  GROUP BY a.as_of, m.household_id
),
mem_agg AS (
  SELECT as_of, household_id,
         CAST(COUNT(*) AS BIGINT) AS size,
         CAST(SUM(CASE WHEN labour_skill IN ('普通劳动力', '技能劳动力') AND age < 60 THEN 1 ELSE 0 END) AS BIGINT) AS n_labour,
         CAST(SUM(CASE WHEN labour_skill = '技能劳动力' THEN 1 ELSE 0 END) AS BIGINT) AS n_skilled,
         CAST(SUM(CASE WHEN labour_skill = '弱劳动力或半劳动力' THEN 1 ELSE 0 END) AS BIGINT) AS n_weak_labour,
         CAST(SUM(CASE WHEN health = '患有大病' THEN 1 ELSE 0 END) AS BIGINT) AS n_serious_ill,
         CAST(SUM(CASE WHEN health = '长期慢性病' THEN 1 ELSE 0 END) AS BIGINT) AS n_chronic,
         CAST(SUM(CASE WHEN disability_grade IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS n_disabled,
         CAST(SUM(CASE WHEN disability_grade IN (1, 2) THEN 1 ELSE 0 END) AS BIGINT) AS n_severe_disabled,
         CAST(SUM(CASE WHEN migrant_months > 0 THEN 1 ELSE 0 END) AS BIGINT) AS n_migrant,
         CAST(SUM(CASE WHEN schooling IN ('普通高中', '中职', '高职', '本科', '研究生') THEN 1 ELSE 0 END) AS BIGINT) AS n_students_post,
         CAST(SUM(CASE WHEN age >= 6 AND age < 16 THEN 1 ELSE 0 END) AS BIGINT) AS n_compulsory_age,
         CAST(SUM(CASE WHEN age >= 60 THEN 1 ELSE 0 END) AS BIGINT) AS n_elderly,
         CAST(SUM(CASE WHEN age < 16 THEN 1 ELSE 0 END) AS BIGINT) AS n_children,
         CAST(SUM(CASE WHEN med_insured = FALSE THEN 1 ELSE 0 END) AS BIGINT) AS n_not_insured,
         MAX(CASE WHEN relation = '户主' THEN age ELSE NULL END) AS head_age
  FROM mem GROUP BY as_of, household_id
),
inc_known AS (
  SELECT a.as_of, a.win_start, a.prev_start, a.m3_start, a.six_start, a.y3_start, i.id, i.household_id, i.period, i.period_start, i.period_end,
         i.wage + i.business - i.business_cost + i.property + i.transfer AS net,
         i.business - i.business_cost AS business_net,
         i.claims, i.medical_oop, i.education_cost,
         ROW_NUMBER() OVER (PARTITION BY a.as_of, i.household_id, i.period
                            ORDER BY i.recorded_at DESC, i.id DESC) AS rn
  FROM income_record AS i
  JOIN asof_dates AS a ON i.period_end <= a.as_of AND i.recorded_at < a.known_before
),
inc AS (SELECT * FROM inc_known WHERE rn = 1),
inc_month AS (
  SELECT as_of, household_id,
         CAST(SUM(CASE WHEN period_start >= win_start THEN 1 ELSE 0 END) AS BIGINT) AS months_12,
         ROUND(SUM(CASE WHEN period_start >= win_start THEN net ELSE 0 END), 2) AS net_sum_12,
         ROUND(SUM(CASE WHEN period_start >= win_start THEN claims ELSE 0 END), 2) AS claims_sum_12,
         ROUND(SUM(CASE WHEN period_start >= win_start THEN medical_oop ELSE 0 END), 2) AS oop_sum_12,
         ROUND(SUM(CASE WHEN period_start >= win_start THEN education_cost ELSE 0 END), 2) AS edu_sum_12,
         CAST(SUM(CASE WHEN period_start < win_start AND period_start >= prev_start THEN 1 ELSE 0 END) AS BIGINT) AS months_prev,
         ROUND(SUM(CASE WHEN period_start < win_start AND period_start >= prev_start THEN net ELSE 0 END), 2) AS net_sum_prev,
         MAX(CASE WHEN period_start >= win_start THEN id ELSE NULL END) AS last_income_id,
         MIN(CASE WHEN period_start >= win_start THEN id ELSE NULL END) AS first_income_id,
         -- income trend: the last 3 complete months vs the 3 before (early warning, issue 4)
         CAST(SUM(CASE WHEN period_start >= m3_start THEN 1 ELSE 0 END) AS BIGINT) AS months_3m,
         SUM(CASE WHEN period_start >= m3_start THEN net ELSE 0 END) AS net_sum_3m,
         CAST(SUM(CASE WHEN period_start >= six_start AND period_start < m3_start THEN 1 ELSE 0 END) AS BIGINT) AS months_p3m,
         SUM(CASE WHEN period_start >= six_start AND period_start < m3_start THEN net ELSE 0 END) AS net_sum_p3m,
         -- business net income (因产业项目失败, POLICY.md §7): 12-month sum; last 3 months vs the same 3 months a
         -- year before (year on year, so the harvest season does not read as a fall; both windows complete)
         ROUND(SUM(CASE WHEN period_start >= win_start THEN business_net ELSE 0 END), 2) AS bus_sum_12,
         SUM(CASE WHEN period_start >= m3_start THEN business_net ELSE 0 END) AS bus_sum_3m,
         CAST(SUM(CASE WHEN period_start >= y3_start AND period_start < win_start THEN 1 ELSE 0 END) AS BIGINT) AS months_y3m,
         SUM(CASE WHEN period_start >= y3_start AND period_start < win_start THEN business_net ELSE 0 END) AS bus_sum_y3m
  FROM inc WHERE LENGTH(period) = 7 GROUP BY as_of, household_id
),
inc_last AS (
  SELECT as_of, household_id, MAX(period_end) AS last_income_end FROM inc GROUP BY as_of, household_id
),
dept AS (
  SELECT a.as_of, a.six_start, d.household_id, d.village_code, d.event_kind, d.event_date, d.amount
  FROM dept_event AS d
  JOIN asof_dates AS a ON d.event_date <= a.as_of AND d.recorded_at < a.known_before AND d.event_date >= a.win_start
),
dept_hh AS (
  SELECT as_of, household_id,
         MAX(CASE WHEN event_kind = 'MED_OOP' THEN amount ELSE NULL END) AS dept_med_oop_12m,
         CAST(SUM(CASE WHEN event_kind = 'JOB_LOSS' AND event_date >= six_start THEN 1 ELSE 0 END) AS BIGINT) AS dept_job_loss_6m,
         CAST(SUM(CASE WHEN event_kind = 'DISASTER' AND event_date >= six_start THEN 1 ELSE 0 END) AS BIGINT) AS dept_disaster_6m,
         SUM(CASE WHEN event_kind = 'DISASTER' AND event_date >= six_start THEN COALESCE(amount, 0) ELSE 0 END) AS dept_disaster_loss_6m,
         CAST(SUM(CASE WHEN event_kind = 'HOUSE_CD' AND event_date >= six_start THEN 1 ELSE 0 END) AS BIGINT) AS dept_house_cd_6m,
         CAST(SUM(CASE WHEN event_kind = 'DROPOUT' AND event_date >= six_start THEN 1 ELSE 0 END) AS BIGINT) AS dept_dropout_6m,
         CAST(SUM(CASE WHEN event_kind = 'DISABILITY_NEW' AND event_date >= six_start THEN 1 ELSE 0 END) AS BIGINT) AS dept_disability_6m,
         CAST(SUM(CASE WHEN event_kind = 'DEATH' AND event_date >= six_start THEN 1 ELSE 0 END) AS BIGINT) AS dept_death_6m,
         CAST(SUM(CASE WHEN event_kind = 'ASSIST_NEW' AND event_date >= six_start THEN 1 ELSE 0 END) AS BIGINT) AS dept_assist_new_6m,
         -- public-welfare job exits (programmes/jobs.py): the subsidy of the 12 months before the exit, of which
         -- (12 - months since the exit)/12 is still inside the rolling window and will drop out of it
         CAST(SUM(CASE WHEN event_kind = 'PWJ_EXIT' AND event_date >= six_start THEN 1 ELSE 0 END) AS BIGINT) AS dept_pwj_exit_6m,
         SUM(CASE WHEN event_kind = 'PWJ_EXIT' AND event_date >= six_start
                  THEN COALESCE(amount, 0) * (12 - ((YEAR(as_of) * 12 + MONTH(as_of)) - (YEAR(event_date) * 12 + MONTH(event_date)))) / 12.0
                  ELSE 0 END) AS dept_pwj_lost_12m
  FROM dept WHERE household_id IS NOT NULL GROUP BY as_of, household_id
),
dept_village AS (
  SELECT as_of, village_code,
         CAST(SUM(CASE WHEN event_kind = 'WATER' AND event_date >= six_start THEN 1 ELSE 0 END) AS BIGINT) AS dept_water_6m
  FROM dept WHERE village_code IS NOT NULL GROUP BY as_of, village_code
),
inc_year AS (
  SELECT as_of, household_id, id AS year_income_id, period AS year_period, net AS year_net, claims AS year_claims,
         medical_oop AS year_oop, education_cost AS year_edu, business_net AS year_business
  FROM (
    SELECT inc.*, ROW_NUMBER() OVER (PARTITION BY as_of, household_id ORDER BY period_end DESC) AS yr
    FROM inc WHERE LENGTH(period) = 4
  ) AS y WHERE yr = 1
),
g AS (
  SELECT * FROM (
    SELECT a.as_of, s.id AS guarantee_id, s.household_id, s.status_date, s.housing_safe, s.dropout, s.water_safe,
           s.uninsured_member,
           ROW_NUMBER() OVER (PARTITION BY a.as_of, s.household_id
                              ORDER BY s.status_date DESC, s.recorded_at DESC, s.id DESC) AS rn
    FROM guarantee_status AS s
    JOIN asof_dates AS a ON s.status_date <= a.as_of AND s.recorded_at < a.known_before
  ) AS gg WHERE rn = 1
),
base AS (
  SELECT hh.as_of, hh.household_id, hh.hh_no, hh.region_code, hh.province, hh.hh_type, hh.relocated,
         COALESCE(m.size, 0) AS size, COALESCE(m.n_labour, 0) AS n_labour, COALESCE(m.n_skilled, 0) AS n_skilled,
         COALESCE(m.n_weak_labour, 0) AS n_weak_labour, COALESCE(m.n_serious_ill, 0) AS n_serious_ill,
         COALESCE(m.n_chronic, 0) AS n_chronic, COALESCE(m.n_disabled, 0) AS n_disabled,
         COALESCE(m.n_severe_disabled, 0) AS n_severe_disabled, COALESCE(m.n_migrant, 0) AS n_migrant,
         COALESCE(m.n_students_post, 0) AS n_students_post, COALESCE(m.n_compulsory_age, 0) AS n_compulsory_age,
         COALESCE(m.n_elderly, 0) AS n_elderly, COALESCE(m.n_children, 0) AS n_children,
         COALESCE(m.n_not_insured, 0) AS n_not_insured,
         CASE WHEN im.months_12 >= 6 THEN 'monthly' WHEN iy.year_net IS NOT NULL THEN 'yearly' ELSE 'none' END
           AS income_source,
         CAST(COALESCE(im.months_12, 0) AS BIGINT) AS income_months,
         CASE WHEN im.months_12 >= 6 THEN im.net_sum_12 * 12.0 / im.months_12 ELSE iy.year_net END AS net_12m,
         CASE WHEN im.months_12 >= 6 THEN im.claims_sum_12 * 12.0 / im.months_12 ELSE iy.year_claims END AS claims_12m,
         CASE WHEN im.months_12 >= 6 THEN im.oop_sum_12 * 12.0 / im.months_12 ELSE iy.year_oop END AS oop_12m,
         CASE WHEN im.months_12 >= 6 THEN im.edu_sum_12 * 12.0 / im.months_12 ELSE iy.year_edu END AS edu_12m,
         CASE WHEN im.months_12 >= 6 THEN im.bus_sum_12 * 12.0 / im.months_12 ELSE iy.year_business END AS business_12m,
         CASE WHEN im.months_3m = 3 AND im.months_y3m = 3 AND im.bus_sum_y3m > 0
              THEN (im.bus_sum_3m / im.months_3m) / (im.bus_sum_y3m / im.months_y3m) - 1.0 END AS business_yoy_3m,
         CASE WHEN im.months_prev >= 6 THEN im.net_sum_prev * 12.0 / im.months_prev ELSE NULL END AS net_prev_12m,
         im.first_income_id, im.last_income_id, iy.year_income_id, iy.year_period,
         g.guarantee_id, g.status_date AS guarantee_date,
         COALESCE(NOT g.housing_safe, FALSE) AS housing_unsafe, COALESCE(g.dropout, FALSE) AS dropout,
         COALESCE(NOT g.water_safe, FALSE) AS water_unsafe, COALESCE(g.uninsured_member, FALSE) AS uninsured_member,
         COALESCE(m.head_age, 0) AS head_age,
         COALESCE(mc.member_changes_6m, 0) AS member_changes_6m, COALESCE(mc.member_exits_6m, 0) AS member_exits_6m,
         COALESCE(mc.new_serious_ill_6m, 0) AS new_serious_ill_6m, COALESCE(mc.new_disabled_6m, 0) AS new_disabled_6m,
         CASE WHEN im.months_3m > 0 AND im.months_p3m > 0 AND im.net_sum_p3m > 0
              THEN (im.net_sum_3m / im.months_3m) / (im.net_sum_p3m / im.months_p3m) - 1.0 END AS income_trend_3m,
         CASE WHEN il.last_income_end IS NOT NULL
              THEN CAST((YEAR(hh.as_of) * 12 + MONTH(hh.as_of)) - (YEAR(il.last_income_end) * 12 + MONTH(il.last_income_end)) AS BIGINT)
         END AS months_since_income,
         COALESCE(dh.dept_med_oop_12m, 0) AS dept_med_oop_12m, COALESCE(dh.dept_job_loss_6m, 0) AS dept_job_loss_6m,
         COALESCE(dh.dept_disaster_6m, 0) AS dept_disaster_6m,
         COALESCE(dh.dept_disaster_loss_6m, 0) AS dept_disaster_loss_6m,
         COALESCE(dh.dept_house_cd_6m, 0) AS dept_house_cd_6m, COALESCE(dh.dept_dropout_6m, 0) AS dept_dropout_6m,
         COALESCE(dh.dept_disability_6m, 0) AS dept_disability_6m, COALESCE(dh.dept_death_6m, 0) AS dept_death_6m,
         COALESCE(dh.dept_assist_new_6m, 0) AS dept_assist_new_6m,
         COALESCE(dh.dept_pwj_exit_6m, 0) AS dept_pwj_exit_6m, COALESCE(dh.dept_pwj_lost_12m, 0) AS dept_pwj_lost_12m, COALESCE(dv.dept_water_6m, 0) AS dept_water_6m,
         p.monitoring_line, p.sharp_drop_ratio, p.uses_claims, p.deducts_oop,
         CASE WHEN hh.hh_type = '脱贫户' THEN p.med_oop_trigger_monitored ELSE p.med_oop_trigger_general END
           AS med_oop_trigger,
         mo.pmt_pc_income, mo.pmt_pc_income_hi,
         p.param_version
  FROM hh
  LEFT JOIN mem_agg AS m ON m.as_of = hh.as_of AND m.household_id = hh.household_id
  LEFT JOIN inc_month AS im ON im.as_of = hh.as_of AND im.household_id = hh.household_id
  LEFT JOIN inc_year AS iy ON iy.as_of = hh.as_of AND iy.household_id = hh.household_id
  LEFT JOIN g ON g.as_of = hh.as_of AND g.household_id = hh.household_id
  LEFT JOIN mchg AS mc ON mc.as_of = hh.as_of AND mc.household_id = hh.household_id
  LEFT JOIN inc_last AS il ON il.as_of = hh.as_of AND il.household_id = hh.household_id
  LEFT JOIN dept_hh AS dh ON dh.as_of = hh.as_of AND dh.household_id = hh.household_id
  LEFT JOIN model_output AS mo ON mo.as_of = hh.as_of AND mo.household_id = hh.household_id
  LEFT JOIN dept_village AS dv ON dv.as_of = hh.as_of AND dv.village_code = hh.region_code
  LEFT JOIN params AS p ON p.as_of = hh.as_of AND p.province = hh.province
)
SELECT base.*,
       CASE WHEN size > 0 THEN net_12m / size END AS pc_net_12m,
       CASE WHEN size > 0 THEN net_prev_12m / size END AS pc_net_prev_12m,
       CASE WHEN size > 0 THEN (net_12m - dept_pwj_lost_12m) / size END AS pc_net_after_pwj_exit,
       CASE WHEN net_prev_12m > 0 THEN 1.0 - net_12m / net_prev_12m END AS income_drop_ratio,
       CASE WHEN size > 0 THEN (net_12m
              + CASE WHEN uses_claims THEN COALESCE(claims_12m, 0) ELSE 0 END
              - CASE WHEN deducts_oop THEN COALESCE(oop_12m, 0) ELSE 0 END) / size
       END AS ref_pc_12m,
       -- the risk type a household's make-up points to when only its income is known (POLICY.md §7)
       CASE WHEN n_labour = 0 AND n_weak_labour = 0 THEN '缺劳动力'
            WHEN n_severe_disabled > 0 THEN '因残'
            WHEN n_serious_ill > 0 OR n_chronic > 0 THEN '因病'
            WHEN n_students_post > 0 THEN '因学'
            WHEN n_migrant > 0 THEN '因务工就业不稳'
            WHEN n_disabled > 0 THEN '因残'
            WHEN n_labour = 0 THEN '缺劳动力'
            ELSE '其他' END AS profile_risk_type
FROM base
