"""Monthly income panel with shocks and recovery for one chunk of households (vectorised).

The panel runs over ``WARMUP`` months before the registry window plus the ``months`` of the window,
so that rolling-12-month incomes exist from the first registry month. Shock rates are documented
assumptions (docs/SYNTH.md lists them); each shock is recorded with household, person, month and
its official risk type (POLICY.md §7), and is kept apart from the registry as ground truth.

Calibration: after shocks, each household's whole income series is multiplied by one factor so
that the person-weighted distribution of realised annual per-capita net income in the base year
follows a quantile function whose quintile-group means are the CALIBRATION.md figures (a
rank-preserving raking step; dips caused by shocks are preserved as relative changes).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fangpin.synth.population import Households, Members

WARMUP = 12
GROWTH_PER_YEAR = 23119 / 21691  # rural mean 2024 / 2023 (CALIBRATION.md [V])
BUSINESS_SEASON = np.array([0.6, 0.6, 0.7, 0.8, 0.9, 0.9, 1.2, 1.4, 1.5, 1.3, 1.1, 1.0])
BUSINESS_SEASON = BUSINESS_SEASON / BUSINESS_SEASON.mean()

# shock kinds → official risk type names (POLICY.md §7)
RISK_TYPE = {
    "serious_illness": "因病",
    "chronic_illness": "因病",
    "disability": "因残",
    "accident": "因意外事故",
    "job_loss": "因务工就业不稳",
    "business_failure": "因产业项目失败",
    "disaster": "因自然灾害",
    "death": "缺劳动力",
    "schooling": "因学",
    "dropout": "义务教育阶段适龄儿童少年失学辍学",
    "water": "饮水安全问题",
    "housing": "住房出现安全问题",
    "uninsured": "家庭成员未参加基本医疗保险",
    "structural": "其他",
}
KINDS = ["serious_illness", "chronic_illness", "disability", "accident", "job_loss", "business_failure",
         "disaster", "death", "schooling"]
KIND_INDEX = {k: i for i, k in enumerate(KINDS)}

# monthly hazards (assumptions; see docs/SYNTH.md)
H_SERIOUS_BASE, H_SERIOUS_AGE = 0.00025, 0.000018  # per person-month, + per year of age
H_CHRONIC_BASE, H_CHRONIC_AGE = 0.0004, 0.00002
H_DISABILITY = 0.0009
H_ACCIDENT = 0.0004
H_JOB_LOSS = 0.005  # per migrant worker-month
H_BUSINESS_FAIL = 0.0015  # per business household-month
H_DISASTER_VILLAGE = 0.0017  # per village-month, doubled June–September
# Who is at higher hazard (relative rates; docs/SYNTH.md item 6 gives the real-world rationale). Each hazard is
# rescaled per chunk so that its mean over the people it applies to equals the flat rate above: the dependencies
# move shocks between people, not the number of shocks (the calibrated risk-type mix stays put).
HAZARD_MODEL = 2  # 1: nearly memoryless shocks; 2: the dependencies below (cached benchmark counties carry it)
RR_SERIOUS_CHRONIC = 3.0  # serious illness (hospitalisation) for people with a chronic disease
RR_DISABILITY_CHRONIC = 2.0  # disability onset for people with a chronic disease
DISABILITY_AGE_SLOPE = 0.04  # disability onset ∝ exp(0.04 × age): ~×5 from 40 to 80
RR_JOB_LOSS_45 = 1.6  # job loss for migrant workers aged 45+
RR_JOB_LOSS_SKILLED = 0.6  # job loss for skilled workers (技能劳动力)
H_WATER_VILLAGE = 0.0015
H_BIRTH = 0.0045
H_MARRY = 0.004
H_DROPOUT = 0.00006
H_MOVE_AWAY = 0.0003
DISASTER_SUBTYPES = np.array(["洪涝", "地质", "旱灾", "气象", "生物", "地震", "其他"])
DISASTER_SUBTYPE_P = np.array([0.35, 0.15, 0.20, 0.20, 0.05, 0.03, 0.02])


@dataclass
class Events:
    """Columnar list of events; ``t`` is the month index in the panel (0 = first warm-up month)."""

    parts: list[dict[str, np.ndarray]] = field(default_factory=list)

    def add(self, **kw) -> None:
        n = max((len(np.asarray(v)) for v in kw.values() if np.asarray(v).ndim > 0), default=0)
        part = {}
        for k, v in kw.items():
            arr = np.asarray(v)
            part[k] = np.repeat(arr, n) if arr.ndim == 0 else arr
        self.parts.append(part)

    @property
    def last_t(self) -> np.ndarray:
        return self.parts[-1]["t"] if self.parts else np.array([], dtype=np.int64)

    def table(self) -> dict[str, np.ndarray]:
        """Concatenate the parts; a column missing from a part is filled (None for objects)."""
        names: dict[str, None] = {}
        for p in self.parts:
            names.update(dict.fromkeys(p))
        out = {}
        for k in names:
            cols = []
            for p in self.parts:
                n = len(next(iter(p.values()))) if p else 0
                cols.append(p[k] if k in p else np.full(n, None, dtype=object))
            out[k] = np.concatenate(cols) if cols else np.array([])
        return out


@dataclass
class Panel:
    T: int  # total months incl. warm-up
    wage: np.ndarray  # (n_hh, T) yuan per month
    business: np.ndarray  # gross business income
    business_cost: np.ndarray
    property: np.ndarray
    transfer: np.ndarray
    claims: np.ndarray
    medical_oop: np.ndarray
    education_cost: np.ndarray
    size: np.ndarray  # (n_hh, T) members present
    alive_hh: np.ndarray  # (n_hh, T) household still exists (not dissolved / moved away)
    loss: np.ndarray  # (n_hh, T, len(KINDS)) float32 loss attribution
    shocks: dict[str, np.ndarray]  # one row per shock
    member_changes: dict[str, np.ndarray]  # person-level changes for registry history
    new_members: dict[str, np.ndarray]  # births and in-marrying spouses
    guarantee_events: dict[str, np.ndarray]
    village_events: dict[str, np.ndarray]
    employment_events: dict[str, np.ndarray]
    medical_events: dict[str, np.ndarray]
    person_exit_t: np.ndarray  # per base member: month index left (death/moved), T if never
    person_exit_reason: np.ndarray

    def net(self) -> np.ndarray:
        return self.wage + self.business - self.business_cost + self.property + self.transfer


def quantile_function(quintile_means: list[float]):
    """Piecewise-linear quantile function Q(u) whose 5 quintile-group means equal the targets.

    Knots q0..q5 at u = 0, .2, ..., 1 with (q_k + q_{k+1}) / 2 = m_k; q0 = 15 % of the bottom mean.
    """
    m = np.asarray(quintile_means, dtype=float)
    q = np.empty(6)
    q[0] = 0.15 * m[0]
    for i in range(5):
        q[i + 1] = 2 * m[i] - q[i]
    if np.any(np.diff(q) <= 0):
        raise ValueError(f"quintile means {quintile_means} give a non-monotone quantile function")
    knots = np.linspace(0, 1, 6)
    return lambda u: np.interp(u, knots, q)


def person_weighted_rank(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mid-point rank in (0, 1) of each household when persons are the unit."""
    order = np.argsort(values, kind="stable")
    w = weights[order].astype(float)
    cum = np.cumsum(w)
    mid = (cum - w / 2) / cum[-1]
    u = np.empty_like(mid)
    u[order] = mid
    return u


def _geom(rng: np.random.Generator, p: np.ndarray | float, n: int, T: int) -> np.ndarray:
    """Month index of the first event with monthly probability p (T if none within the horizon)."""
    p = np.broadcast_to(np.asarray(p, dtype=float), (n,))
    u = rng.random(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.floor(np.log1p(-u) / np.log1p(-np.clip(p, 1e-12, 0.999999))).astype(np.int64)
    t[p <= 0] = T
    return np.minimum(t, T)


def _same_mean(h: np.ndarray, rr: np.ndarray, among: np.ndarray | None = None) -> np.ndarray:
    """h × rr rescaled so that its mean over ``among`` (default: everyone) equals h's: relative rates move a
    hazard between people without changing the expected number of events."""
    h = np.asarray(h, dtype=float)
    m = np.ones(len(h), bool) if among is None else np.asarray(among, bool)
    hr = h * rr
    den = hr[m].sum()
    return hr * (h[m].sum() / den) if den > 0 else h


def _window_add(arr2d: np.ndarray, h: np.ndarray, t0: np.ndarray, dur: np.ndarray, val: np.ndarray) -> None:
    """arr2d[h, t0:t0+dur] += val (per event), vectorised."""
    T = arr2d.shape[1]
    dur = np.minimum(dur, T - t0)
    keep = dur > 0
    h, t0, dur, val = h[keep], t0[keep], dur[keep], np.broadcast_to(val, keep.shape)[keep]
    if len(h) == 0:
        return
    rows = np.repeat(h, dur)
    starts = np.repeat(t0 - np.r_[0, np.cumsum(dur)[:-1]], dur)
    cols = np.arange(len(rows)) + starts
    np.add.at(arr2d, (rows, cols), np.repeat(val, dur))


def simulate(
    rng: np.random.Generator,
    hh: Households,
    mem: Members,
    months: int,
    start_month: np.datetime64,
    quintile_means: list[float],
) -> Panel:
    n_hh = len(hh.size)
    T = WARMUP + months
    n = len(mem)
    h_of = mem.hh_idx
    age = mem.age
    fp_p = hh.formerly_poor[h_of]

    # ---- who earns what -----------------------------------------------------------------
    able = np.isin(mem.labour_skill, ["普通劳动力", "技能劳动力", "弱劳动力或半劳动力"]) & (age >= 16) & (age < 65)
    weight = np.where(mem.labour_skill == "技能劳动力", 1.4, np.where(mem.labour_skill == "弱劳动力或半劳动力", 0.5, 1.0))
    earner_w = np.where(able, weight, 0.0)
    hh_earner_w = np.bincount(h_of, earner_w, minlength=n_hh)
    share_of_wage = np.where(hh_earner_w[h_of] > 0, earner_w / np.maximum(hh_earner_w[h_of], 1e-9), 0.0)
    migrant = mem.migrant_months > 0
    size0 = hh.size.astype(float)
    worker_ratio = hh_earner_w / size0
    migrant_ratio = np.bincount(h_of, migrant.astype(float), minlength=n_hh) / size0
    elderly_ratio = np.bincount(h_of, (age >= 60).astype(float), minlength=n_hh) / size0
    ill_ratio = np.bincount(h_of, (mem.health != "健康").astype(float), minlength=n_hh) / size0
    skilled_ratio = np.bincount(h_of, (mem.labour_skill == "技能劳动力").astype(float), minlength=n_hh) / size0

    # ---- base annual per-capita income (ordering only; calibrated at the end) ------------------
    z = (1.1 * worker_ratio + 0.5 * skilled_ratio + 0.4 * migrant_ratio - 0.25 * hh.formerly_poor
         - 0.35 * ill_ratio - 0.06 * size0 + rng.normal(0, 0.55, n_hh))
    u0 = person_weighted_rank(z, hh.size)
    Q = quantile_function(quintile_means)
    y0 = Q(u0)  # yuan per person per year
    total0 = y0 * size0

    # ---- component shares (national shares wages ~42 %, business ~34 %, property ~2.5 %, transfers ~21 %) --
    w_share = np.clip(0.12 + 0.70 * np.minimum(migrant_ratio / np.maximum(worker_ratio, 1e-9), 1)
                      * np.minimum(worker_ratio * 2, 1) + 0.25 * skilled_ratio + rng.normal(0, 0.08, n_hh), 0.0, 0.92)
    w_share = np.where(hh_earner_w > 0, w_share, 0.0)
    t_share = np.clip(0.12 + 0.50 * elderly_ratio + 0.07 * hh.formerly_poor + 0.1 * ill_ratio
                      + rng.normal(0, 0.04, n_hh), 0.02, 0.95)
    p_share = np.clip(0.021 * rng.lognormal(0, 0.6, n_hh), 0, 0.2)
    b_share = 1 - w_share - t_share - p_share
    neg = b_share < 0.03
    scale = np.where(neg, (1 - 0.03) / (w_share + t_share + p_share), 1.0)
    w_share, t_share, p_share = w_share * scale, t_share * scale, p_share * scale
    b_share = 1 - w_share - t_share - p_share
    cost_ratio = rng.uniform(0.25, 0.45, n_hh)

    t_idx = np.arange(T)
    cal_month = (start_month.astype(int) - WARMUP + t_idx) % 12  # 0 = January
    growth = GROWTH_PER_YEAR ** ((t_idx - WARMUP - 5.5) / 12)  # base year = first registry year
    wage = (total0 * w_share / 12)[:, None] * growth[None, :] * rng.lognormal(-0.003, 0.08, (n_hh, T))
    bnet = (total0 * b_share / 12)[:, None] * growth[None, :] * BUSINESS_SEASON[cal_month][None, :] \
        * rng.lognormal(-0.011, 0.15, (n_hh, T))
    prop = (total0 * p_share / 12)[:, None] * growth[None, :]
    transfer = (total0 * t_share / 12)[:, None] * growth[None, :] * rng.lognormal(-0.001, 0.05, (n_hh, T))
    base_wage, base_bnet = wage.copy(), bnet.copy()

    logw = np.zeros((n_hh, T))
    logb = np.zeros((n_hh, T))
    oop = np.zeros((n_hh, T))
    claims = np.zeros((n_hh, T))
    edu = np.zeros((n_hh, T))
    loss = np.zeros((n_hh, T, len(KINDS)), dtype=np.float32)
    shocks = Events()
    mchg = Events()
    gev = Events()
    vev = Events()
    emp = Events()
    med = Events()

    # ---- deaths and moves (person exits) --------------------------------------------------------
    q_year = np.clip(0.0004 + 0.00004 * np.exp(0.09 * age), 0, 0.5)
    t_death = _geom(rng, 1 - (1 - q_year) ** (1 / 12), n, T)
    exit_t = t_death.copy()
    exit_reason = np.where(t_death < T, "death", "").astype(object)
    # marriage of adult children
    single_child = np.isin(mem.relation, ["子", "女"]) & (age >= 21) & (age < 33)
    t_marry = np.where(single_child, _geom(rng, H_MARRY, n, T), T)
    t_marry = np.where(t_marry < exit_t, t_marry, T)
    moves_out = (t_marry < T) & np.where(mem.male, rng.random(n) < 0.2, rng.random(n) < 0.7)
    exit_t = np.where(moves_out, t_marry, exit_t)
    exit_reason = np.where(moves_out, "moved_out", exit_reason)
    brings_spouse = (t_marry < T) & ~moves_out & mem.male & (rng.random(n) < 0.6)
    # whole household moves away (迁出)
    t_away = _geom(rng, H_MOVE_AWAY, n_hh, T)
    away_p = t_away[h_of] < exit_t
    exit_t = np.where(away_p, t_away[h_of], exit_t)
    exit_reason = np.where(away_p, "household_moved", exit_reason)

    present = t_idx[None, :] < exit_t[:, None]  # (n, T)
    # births into households with a woman aged 20–42 (head or spouse)
    mother = (~mem.male) & np.isin(mem.relation, ["户主", "配偶", "儿媳"]) & (age >= 20) & (age <= 42)
    hh_has_mother = np.bincount(h_of, mother, minlength=n_hh) > 0
    t_birth = np.where(hh_has_mother, _geom(rng, H_BIRTH, n_hh, T), T)
    t_birth = np.where(t_birth < np.minimum(t_away, T), t_birth, T)
    born = np.flatnonzero(t_birth < T)
    sp_idx = np.flatnonzero(brings_spouse)
    new_hh = np.r_[born, h_of[sp_idx]]
    new_t = np.r_[t_birth[born], t_marry[sp_idx]]
    new_kind = np.r_[np.full(len(born), "birth", dtype=object), np.full(len(sp_idx), "spouse_in", dtype=object)]
    new_exit = np.where(new_t < t_away[new_hh], t_away[new_hh], T)
    size = np.zeros((n_hh, T))
    np.add.at(size, h_of, present.astype(float))
    for hhi, tt, ee in ((new_hh, new_t, new_exit),):
        _window_add(size, hhi, tt, ee - tt, np.ones(len(hhi)))
    alive_hh = size > 0

    # a working member's death ends their wage; a member marrying out takes their wage along
    left = (exit_t < T) & (share_of_wage > 0) & (exit_reason != "household_moved")
    _window_add(logw, h_of[left], exit_t[left], T - exit_t[left], np.log(np.maximum(1 - share_of_wage[left], 0.05)))
    dead = exit_reason == "death"
    kd = KIND_INDEX["death"]
    idx = np.flatnonzero(dead & (share_of_wage > 0))
    if len(idx):
        rows = np.repeat(h_of[idx], T - exit_t[idx])
        cols = np.concatenate([np.arange(t, T) for t in exit_t[idx]])
        np.add.at(loss[:, :, kd], (rows, cols), (base_wage[rows, cols] * share_of_wage[np.repeat(idx, T - exit_t[idx])]).astype(np.float32))
    ev = np.flatnonzero(exit_t < T)
    shocks.add(hh_idx=h_of[ev[dead[ev]]], person_idx=ev[dead[ev]], t=exit_t[ev[dead[ev]]], kind="death",
               duration=T - exit_t[ev[dead[ev]]], cost=0.0, subtype="")
    mchg.add(person_idx=ev, t=exit_t[ev], change=exit_reason[ev])

    # ---- person-level health shocks -----------------------------------------------------
    worker_share = share_of_wage

    def person_shock(kind, p, dur_lo, dur_hi, wage_factor, cost_median, cost_sigma, reimb_lo, reimb_hi,
                     claim_p, claim_ratio, cost_months, permanent=False, eligible=None):
        t0 = _geom(rng, p, n, T)
        ok = (t0 < T) & (t0 < exit_t)
        if eligible is not None:
            ok &= eligible
        i = np.flatnonzero(ok)
        if len(i) == 0:
            return i, t0
        hhi = h_of[i]
        tt = t0[i]
        dur = np.full(len(i), T) - tt if permanent else rng.integers(dur_lo, dur_hi + 1, len(i))
        dur = np.minimum(dur, exit_t[i] - tt)
        # wage loss
        wl = worker_share[i] * (1 - wage_factor)
        has_w = wl > 0
        _window_add(logw, hhi[has_w], tt[has_w], dur[has_w], np.log(np.maximum(1 - wl[has_w], 0.05)))
        k = KIND_INDEX[kind]
        if has_w.any():
            rr = np.repeat(hhi[has_w], np.minimum(dur[has_w], T - tt[has_w]))
            cc = np.concatenate([np.arange(a, min(a + d, T)) for a, d in zip(tt[has_w], dur[has_w])])
            np.add.at(loss[:, :, k], (rr, cc), (base_wage[rr, cc] * np.repeat(wl[has_w], np.minimum(dur[has_w], T - tt[has_w]))).astype(np.float32))
        # medical cost (compliant out-of-pocket) over the first cost_months
        cost = np.zeros(len(i))
        if cost_median > 0:
            total_cost = rng.lognormal(np.log(cost_median), cost_sigma, len(i))
            reimb = rng.uniform(reimb_lo, reimb_hi, len(i))
            cost = total_cost * (1 - reimb)
            cm = np.minimum(rng.integers(1, cost_months + 1, len(i)), T - tt)
            _window_add(oop, hhi, tt, cm, cost / cm)
            _window_add(loss[:, :, k], hhi, tt, cm, (cost / cm).astype(np.float32))
            cl = rng.random(len(i)) < claim_p
            _window_add(claims, hhi[cl], tt[cl], np.ones(cl.sum(), dtype=np.int64), cost[cl] * claim_ratio)
            med.add(person_idx=i, t=tt, total=total_cost, oop=cost, months=cm, kind=kind)
        shocks.add(hh_idx=hhi, person_idx=i, t=tt, kind=kind, duration=dur, cost=cost, subtype="")
        return i, t0

    chronic0 = mem.health == "长期慢性病"  # chronic disease at the start (the registry lists it)
    h_serious = _same_mean(H_SERIOUS_BASE + H_SERIOUS_AGE * age * np.where(fp_p, 1.5, 1.0),
                           np.where(chronic0, RR_SERIOUS_CHRONIC, 1.0))
    si, _ = person_shock("serious_illness", h_serious, 3, 12, 0.0, 20000, 0.8, 0.5, 0.75, 0.12, 0.35, 3)
    mchg.add(person_idx=si, t=shocks.last_t, change="serious_illness")
    ci, _ = person_shock("chronic_illness", (H_CHRONIC_BASE + H_CHRONIC_AGE * age) * (mem.health == "健康"),
                         0, 0, 0.85, 2500, 0.6, 0.5, 0.7, 0.0, 0.0, 1, permanent=True)
    mchg.add(person_idx=ci, t=shocks.last_t, change="chronic_illness")
    # chronic illness: ongoing monthly cost
    if len(ci):
        tt = shocks.last_t
        _window_add(oop, h_of[ci], tt, np.minimum(T - tt, exit_t[ci] - tt), rng.uniform(120, 520, len(ci)))
    no_dis = mem.disability_grade == 0
    h_dis = _same_mean(np.full(n, H_DISABILITY), np.exp(DISABILITY_AGE_SLOPE * np.clip(age, 0, 100))
                       * np.where(chronic0, RR_DISABILITY_CHRONIC, 1.0), no_dis)
    di, _ = person_shock("disability", h_dis * no_dis, 0, 0, 0.0, 6000, 0.7, 0.3, 0.6,
                         0.0, 0.0, 3, permanent=True)
    mchg.add(person_idx=di, t=shocks.last_t, change="disability")
    ai, _ = person_shock("accident", H_ACCIDENT * np.where((age >= 16) & (age < 60), 2.0, 1.0), 1, 4, 0.0, 6000,
                         0.9, 0.3, 0.7, 0.3, 0.5, 2)
    h_job = _same_mean(np.full(n, H_JOB_LOSS), np.where(age >= 45, RR_JOB_LOSS_45, 1.0)
                       * np.where(mem.labour_skill == "技能劳动力", RR_JOB_LOSS_SKILLED, 1.0), migrant)
    ji, _ = person_shock("job_loss", h_job * migrant, 3, 10, 0.1, 0, 0, 0, 0, 0, 0, 1)
    emp.add(person_idx=ji, t=shocks.last_t, event=np.where(rng.random(len(ji)) < 0.3, "失业登记", "务工中断"))

    # ---- household-level: business failure -------------------------------------------
    t_bf = np.where(b_share > 0.4, _geom(rng, H_BUSINESS_FAIL, n_hh, T), T)
    bf = np.flatnonzero((t_bf < T) & (t_bf < t_away))
    dur = rng.integers(6, 19, len(bf))
    fac = rng.uniform(0.1, 0.5, len(bf))
    _window_add(logb, bf, t_bf[bf], dur, np.log(fac))
    _window_add_loss(loss, KIND_INDEX["business_failure"], bf, t_bf[bf], dur, base_bnet, 1 - fac)
    shocks.add(hh_idx=bf, person_idx=-1, t=t_bf[bf], kind="business_failure", duration=dur, cost=0.0, subtype="")

    # ---- village-level: disasters and water incidents ----------------------------------------
    villages, v_of_hh = np.unique(hh.village, return_inverse=True)
    nv = len(villages)
    rainy = np.isin(cal_month, [5, 6, 7, 8])
    p_dis = np.where(rainy, 2 * H_DISASTER_VILLAGE, H_DISASTER_VILLAGE)
    dis_vt = rng.random((nv, T)) < p_dis[None, :]
    for v, t0 in zip(*np.nonzero(dis_vt)):
        members_v = np.flatnonzero((v_of_hh == v) & (t_away > t0))
        if len(members_v) == 0:
            continue
        share = rng.uniform(0.2, 0.7)
        hit = members_v[rng.random(len(members_v)) < share]
        subtype = rng.choice(DISASTER_SUBTYPES, p=DISASTER_SUBTYPE_P)
        d = rng.integers(3, 13, len(hit))
        f = rng.uniform(0.1, 0.7, len(hit))
        _window_add(logb, hit, np.full(len(hit), t0), d, np.log(f))
        _window_add_loss(loss, KIND_INDEX["disaster"], hit, np.full(len(hit), t0), d, base_bnet, 1 - f)
        damage = rng.choice(["无", "一般损坏", "严重损坏", "倒塌"], len(hit), p=[0.72, 0.20, 0.06, 0.02])
        crop_mu = rng.uniform(0, 6, len(hit)).round(1)
        econ = (crop_mu * rng.uniform(800, 2000, len(hit)) + np.where(damage == "倒塌", 60000, np.where(damage == "严重损坏", 20000, np.where(damage == "一般损坏", 3000, 0)))).round(0)
        casualties = (rng.random(len(hit)) < 0.003).astype(int)
        cl = rng.random(len(hit)) < 0.2
        _window_add(claims, hit[cl], np.full(cl.sum(), min(t0 + 2, T - 1)), np.ones(cl.sum(), dtype=np.int64), econ[cl] * 0.3)
        shocks.add(hh_idx=hit, person_idx=-1, t=np.full(len(hit), t0), kind="disaster", duration=d, cost=econ,
                   subtype=np.full(len(hit), subtype), damage=damage, crop_mu=crop_mu, casualties=casualties)
        unsafe = np.isin(damage, ["严重损坏", "倒塌"])
        rep = rng.integers(3, 13, unsafe.sum())
        gev.add(hh_idx=hit[unsafe], t=np.full(unsafe.sum(), t0), kind="housing_unsafe", until=np.minimum(t0 + rep, T))
    water_vt = rng.random((nv, T)) < H_WATER_VILLAGE
    for v, t0 in zip(*np.nonzero(water_vt)):
        members_v = np.flatnonzero((v_of_hh == v) & (t_away > t0))
        if len(members_v) == 0:
            continue
        event = rng.choice(["断水", "水质不达标", "取水困难"], p=[0.5, 0.3, 0.2])
        d = int(rng.integers(1, 5))
        hit = members_v[rng.random(len(members_v)) < rng.uniform(0.3, 1.0)]
        vev.add(village_idx=np.array([v]), t=np.array([t0]), event=np.array([event]), duration=np.array([d]),
                affected=np.array([len(hit)]))
        if event == "断水" and d <= 1:
            continue  # a cut under a month is no water-safety problem (POLICY.md §6)
        gev.add(hh_idx=hit, t=np.full(len(hit), t0), kind="water_unsafe", until=np.full(len(hit), min(t0 + d, T)))

    # ---- schooling costs each September, dropouts ---------------------------------------------
    student_hs = np.isin(mem.schooling, ["普通高中", "中职"])
    student_uni = np.isin(mem.schooling, ["本科", "高职"])
    sept = np.flatnonzero(cal_month == 8)
    for t0 in sept:
        here = (t0 < exit_t)
        cost = np.where(student_hs & here, rng.uniform(2000, 5000, n), 0) + np.where(student_uni & here, rng.uniform(8000, 20000, n), 0)
        np.add.at(edu[:, t0], h_of, cost)
        big = cost > 0
        np.add.at(loss[:, t0, KIND_INDEX["schooling"]], h_of[big], cost[big].astype(np.float32))
    compulsory = (age >= 6) & (age < 16)
    t_do = np.where(compulsory, _geom(rng, H_DROPOUT, n, T), T)
    do = np.flatnonzero((t_do < T) & (t_do < exit_t))
    back = np.minimum(t_do[do] + rng.integers(2, 11, len(do)), T)
    gev.add(hh_idx=h_of[do], t=t_do[do], kind="dropout", until=back, person_idx=do)

    # ---- uninsured members at the start (guarantee) ----------------------------------------------
    unins = np.flatnonzero(~mem.med_insured)
    gev.add(hh_idx=h_of[unins], t=np.zeros(len(unins), dtype=np.int64), kind="uninsured",
            until=np.full(len(unins), T), person_idx=unins)

    # ---- apply multipliers --------------------------------------------------------------------
    wage = base_wage * np.exp(logw)
    bnet = base_bnet * np.exp(logb)
    wage[~alive_hh] = 0
    bnet[~alive_hh] = 0
    prop[~alive_hh] = 0
    transfer = transfer * np.where(alive_hh, 1.0, 0.0)

    # ---- calibration (rank-preserving raking to the quintile function) --------------------------
    base = slice(WARMUP, WARMUP + 12) if months >= 12 else slice(WARMUP, T)
    net = wage + bnet + prop + transfer
    mean_size = np.maximum(size[:, base].mean(axis=1), 1e-9)
    realised = net[:, base].sum(axis=1) * (12 / (base.stop - base.start)) / mean_size
    valid = alive_hh[:, base].all(axis=1)
    # ranks among valid households only
    wts = np.where(valid, hh.size, 0)
    u = person_weighted_rank(np.where(valid, realised, np.inf), wts)
    target = Q(u)  # base-year level
    factor = np.where(valid & (realised > 0), target / np.maximum(realised, 1e-9), 1.0)
    factor = np.clip(factor, 0.2, 5.0)
    f2 = factor[:, None]
    wage, bnet, prop, transfer = wage * f2, bnet * f2, prop * f2, transfer * f2
    # loss stays in yuan of the uncalibrated scale: it only ranks causes against each other
    business = bnet / (1 - cost_ratio)[:, None]
    business_cost = business - bnet

    return Panel(
        T=T, wage=wage, business=business, business_cost=business_cost, property=prop, transfer=transfer,
        claims=claims, medical_oop=oop, education_cost=edu, size=size, alive_hh=alive_hh, loss=loss,
        shocks=shocks.table(), member_changes=mchg.table(),
        new_members={"hh_idx": new_hh, "t": new_t, "kind": new_kind, "exit_t": new_exit},
        guarantee_events=gev.table(), village_events={**vev.table(), "villages": villages},
        employment_events=emp.table(), medical_events=med.table(),
        person_exit_t=exit_t, person_exit_reason=exit_reason,
    )


def _window_add_loss(loss, k, h, t0, dur, base, frac) -> None:
    T = loss.shape[1]
    dur = np.minimum(dur, T - t0)
    keep = dur > 0
    h, t0, dur, frac = h[keep], t0[keep], dur[keep], np.broadcast_to(frac, keep.shape)[keep]
    if len(h) == 0:
        return
    rows = np.repeat(h, dur)
    starts = np.repeat(t0 - np.r_[0, np.cumsum(dur)[:-1]], dur)
    cols = np.arange(len(rows)) + starts
    np.add.at(loss[:, :, k], (rows, cols), (base[rows, cols] * np.repeat(frac, dur)).astype(np.float32))
