"""Synthetic households and members for one chunk (vectorised, seeded).

Every rate here is a documented assumption; the ones CALIBRATION.md gives are checked by the
calibration report (fangpin.synth.calibration):
* average household size 2.62 nationally, formerly-poor households 3.0–3.4 [V];
* rural share aged 60+ 23.8 %, 65+ 17.7 % (2020 census) [V];
* disability prevalence 6.34 % (2006 survey) [V];
* formerly-poor share of the population: Baoshan end-2021 monitored 54,851 persons = 13.99 % of the
  formerly-poor population and 2.63 % of the agricultural population → formerly-poor ≈ 18.8 % [P].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fangpin import ids

# --- household-level assumptions -----------------------------------------------------------
FORMERLY_POOR_PERSON_SHARE = 0.188  # derived from CALIBRATION.md (Baoshan 2021) [P]
FP_MEAN_SIZE = 3.2  # CALIBRATION.md: formerly-poor households 3.0–3.4 [V]
ALL_MEAN_SIZE = 2.62  # CALIBRATION.md: 2020 census [V]
# household share f solving f*3.2/2.62 = 0.188
FP_HOUSEHOLD_SHARE = FORMERLY_POOR_PERSON_SHARE * ALL_MEAN_SIZE / FP_MEAN_SIZE
GENERAL_MEAN_SIZE = (ALL_MEAN_SIZE - FP_HOUSEHOLD_SHARE * FP_MEAN_SIZE) / (1 - FP_HOUSEHOLD_SHARE)
RELOCATED_SHARE_OF_FP = 0.097  # ~9.6 M relocated of ~99 M formerly poor (national, [V])
MAX_SIZE = 9

# ethnic minorities: share of households by province (assumption; Yunnan ~1/3 minority)
MINORITY_SHARE = {"53": 0.30, "52": 0.36, "45": 0.37, "65": 0.55, "54": 0.90, "62": 0.10}
DEFAULT_MINORITY_SHARE = 0.06
MINORITY_GROUPS = {
    "53": ["彝族", "白族", "哈尼族", "傣族", "壮族", "苗族", "回族", "傈僳族", "布朗族"],
    "default": ["回族", "壮族", "苗族", "满族", "土家族", "彝族", "藏族", "蒙古族"],
}
# a few households in every county carry transliterated names with a middle dot (FEEDS.md messes)
DOT_NAME_GROUPS = ["维吾尔族", "哈萨克族"]
DOT_NAME_HOUSEHOLD_SHARE = 0.004

PHONE_PREFIXES = np.array([130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 157, 158, 159,
                           177, 180, 181, 182, 183, 185, 186, 187, 188, 189, 191, 193, 195, 198, 199])


@dataclass
class Households:
    """Column arrays for n households (index = position in chunk)."""

    hh_id: np.ndarray  # int64 global ids
    hh_no: np.ndarray  # str
    village: np.ndarray  # str 12-digit
    formerly_poor: np.ndarray  # bool
    relocated: np.ndarray  # bool
    size: np.ndarray  # int
    phone: np.ndarray  # str
    ethnicity: np.ndarray  # str


@dataclass
class Members:
    """Column arrays for all persons of the chunk, grouped by household (hh_idx ascending)."""

    person_id: np.ndarray
    hh_idx: np.ndarray  # index into Households arrays
    k: np.ndarray  # position in household (0 = head)
    relation: np.ndarray
    male: np.ndarray
    birth: np.ndarray  # datetime64[D]
    age: np.ndarray  # float years at reference date
    name: np.ndarray
    id_number: np.ndarray
    ethnicity: np.ndarray
    education: np.ndarray
    schooling: np.ndarray
    health: np.ndarray
    labour_skill: np.ndarray
    migrant_months: np.ndarray
    med_insured: np.ndarray
    pension_insured: np.ndarray
    disability_grade: np.ndarray  # 0 = none
    disability_category: np.ndarray  # 0 = none

    def __len__(self) -> int:
        return len(self.person_id)


def _sizes(rng: np.random.Generator, fp: np.ndarray) -> np.ndarray:
    """1 + Poisson(λ) truncated at MAX_SIZE; λ solved so that the means hit the targets."""
    lam_g = GENERAL_MEAN_SIZE - 1 + 0.02
    lam_fp = FP_MEAN_SIZE - 1 + 0.01
    lam = np.where(fp, lam_fp, lam_g)
    return np.minimum(1 + rng.poisson(lam), MAX_SIZE)


class IdAllocator:
    """Hands out unique 3-digit sequence codes per (area, birth date, sex) across chunks (GB 11643)."""

    def __init__(self) -> None:
        self.used: dict[tuple[int, int, bool], int] = {}

    def allocate(self, area: np.ndarray, yyyymmdd: np.ndarray, male: np.ndarray) -> np.ndarray:
        key = (area.astype(np.int64) * 100_000_000 + yyyymmdd.astype(np.int64)) * 2 + male.astype(np.int64)
        order = np.argsort(key, kind="stable")
        sk = key[order]
        start = np.r_[0, np.flatnonzero(sk[1:] != sk[:-1]) + 1]
        counts = np.diff(np.r_[start, len(sk)])
        rank_sorted = np.arange(len(sk)) - np.repeat(start, counts)
        offsets = np.empty(len(start), dtype=np.int64)
        for i, (s, c) in enumerate(zip(start, counts)):
            kk = int(sk[s])
            prev = self.used.get(kk, 0)
            offsets[i] = prev
            self.used[kk] = prev + int(c)
        n = rank_sorted + np.repeat(offsets, counts)
        if (n >= 499).any():
            raise OverflowError("more than 499 people share an area, birth date and sex")
        rank = np.empty_like(n)
        rank[order] = n
        # odd sequence = male, even = female (GB 11643); 001..999
        return np.where(male, 2 * rank + 1, 2 * rank + 2)


def make_households(
    rng: np.random.Generator,
    n: int,
    first_id: int,
    villages: np.ndarray,
    village_weights: np.ndarray,
    province: str,
) -> Households:
    fp = rng.random(n) < FP_HOUSEHOLD_SHARE
    relocated = fp & (rng.random(n) < RELOCATED_SHARE_OF_FP)
    size = _sizes(rng, fp)
    village = villages[rng.choice(len(villages), size=n, p=village_weights)]
    hh_id = np.arange(first_id, first_id + n, dtype=np.int64)
    hh_no = np.char.add(np.char.add(np.array([v[:6] for v in village]), "H"), np.char.zfill(hh_id.astype(str), 9))
    phone = np.char.add(rng.choice(PHONE_PREFIXES, n).astype(str), np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8))
    mshare = MINORITY_SHARE.get(province, DEFAULT_MINORITY_SHARE)
    groups = MINORITY_GROUPS.get(province, MINORITY_GROUPS["default"])
    eth = np.where(rng.random(n) < mshare, np.array(groups)[rng.integers(0, len(groups), n)], "汉族")
    dot = rng.random(n) < DOT_NAME_HOUSEHOLD_SHARE
    eth = np.where(dot, np.array(DOT_NAME_GROUPS)[rng.integers(0, 2, n)], eth).astype(object)
    return Households(hh_id, hh_no.astype(object), village.astype(object), fp, relocated, size,
                      phone.astype(object), eth)


def _ages(rng: np.random.Generator, hh: Households, hh_idx: np.ndarray, k: np.ndarray):
    """Coherent ages and roles from household templates.

    Templates (assumptions tuned so that 60+ ≈ 23.8 %, 65+ ≈ 17.7 % of persons):
    * size 1: an elderly person alone (60 %) or a working-age adult;
    * size 2: an elderly couple (45 %), a couple of working age, or a parent with a child;
    * size ≥ 3: head with spouse and children; from size 4 up, a share live with 1–2 grandparents.
    """
    n = len(hh.size)
    size = hh.size
    u = rng.random(n)
    elderly_head = np.where(size == 1, u < 0.66, np.where(size == 2, u < 0.52, u < 0.11))
    head_age = np.where(elderly_head, rng.triangular(60, 62, 90, n), rng.uniform(24, 60, n))
    # households of 3+ whose head is elderly: head + spouse + adult child (+ grandchildren)
    has_spouse = np.where(size == 1, False, np.where(size == 2, rng.random(n) < 0.75, rng.random(n) < 0.92))
    n_elders = np.where(
        (size >= 4) & ~elderly_head & (head_age < 52), rng.choice([0, 1, 2], n, p=[0.45, 0.30, 0.25]), 0
    )
    n_elders = np.minimum(n_elders, size - 1 - has_spouse)

    h = hh_idx
    ha = head_age[h]
    sp = has_spouse[h]
    ne = n_elders[h]
    sz = size[h]
    role = np.full(len(k), "child", dtype=object)
    role[k == 0] = "head"
    role[(k == 1) & sp] = "spouse"
    first_elder = sz - ne
    role[(ne > 0) & (k >= first_elder)] = "elder"
    child_no = k - 1 - sp.astype(int)  # 0-based among children
    age = np.empty(len(k))
    is_head = role == "head"
    age[is_head] = ha[is_head]
    is_sp = role == "spouse"
    age[is_sp] = np.clip(ha[is_sp] + rng.normal(-2, 3, is_sp.sum()), 18, 95)
    is_ch = role == "child"
    gap = rng.uniform(21, 33, is_ch.sum()) + 2.5 * child_no[is_ch]
    age[is_ch] = np.maximum(ha[is_ch] - gap, rng.uniform(0, 3, is_ch.sum()))
    is_el = role == "elder"
    age[is_el] = np.clip(ha[is_el] + rng.uniform(23, 33, is_el.sum()), 60, 97)
    # values pushed to a bound are spread again (a pile-up on one birth date is unrealistic)
    hi = age > 96
    age[hi] = rng.uniform(85, 97, hi.sum())
    lo = (role == "spouse") & (age < 18.5)
    age[lo] = rng.uniform(18, 24, lo.sum())
    mid = (role == "elder") & (age <= 60)
    age[mid] = rng.uniform(60, 70, mid.sum())
    return role, age


def make_members(
    rng: np.random.Generator,
    hh: Households,
    first_person_id: int,
    ref_date: np.datetime64,
    names,
    id_alloc: IdAllocator,
    county6: np.ndarray,
) -> Members:
    n_hh = len(hh.size)
    hh_idx = np.repeat(np.arange(n_hh), hh.size)
    starts = np.r_[0, np.cumsum(hh.size)[:-1]]
    k = np.arange(len(hh_idx)) - np.repeat(starts, hh.size)
    role, age = _ages(rng, hh, hh_idx, k)
    n = len(hh_idx)

    head_male = rng.random(n_hh) < 0.86
    male = np.where(role == "head", head_male[hh_idx], rng.random(n) < 0.5)
    male = np.where(role == "spouse", ~head_male[hh_idx], male)
    relation = np.empty(n, dtype=object)
    relation[role == "head"] = "户主"
    relation[role == "spouse"] = "配偶"
    relation[(role == "child") & male] = "子"
    relation[(role == "child") & ~male] = "女"
    relation[(role == "elder") & male] = "父亲"
    relation[(role == "elder") & ~male] = "母亲"
    # grandchildren of elderly heads
    grand = (role == "child") & (age < 18) & (age[np.repeat(starts, hh.size)] >= 60)
    relation[grand & male] = "孙子"
    relation[grand & ~male] = "孙女"

    days = (age * 365.2425).astype(np.int64)
    birth = ref_date - days.astype("timedelta64[D]")
    byear = birth.astype("datetime64[Y]").astype(int) + 1970

    # --- names: children inherit the father's surname (head's if male, else spouse's) --------
    hh_surname = names.surnames(n_hh, rng)
    own_surname = names.surnames(n, rng)
    # women who married in (spouse, head's mother, female head) keep their own surname
    surname = np.where(~male & (role != "child"), own_surname, hh_surname[hh_idx]).astype(object)
    eth = hh.ethnicity[hh_idx]
    dot_mask = np.isin(eth, DOT_NAME_GROUPS)
    name = names.full_names(male, byear, rng, surnames=surname, minority_mask=dot_mask,
                            minority_styles=np.full(n, "uyghur")).astype(object)

    # --- ID numbers (GB 11643), unique; a few older people keep a retired area code ----------
    area = county6[hh_idx].astype(np.int64)
    old = (byear < 1985) & (rng.random(n) < 0.03)
    retired = (area // 10000) * 10000 + 2100 + (area % 100)  # e.g. 530521 → 532121 (pre-2000 地区 codes)
    area = np.where(old, retired, area)
    yyyymmdd = (byear * 10000 + (birth.astype("datetime64[M]").astype(int) % 12 + 1) * 100
                + (birth - birth.astype("datetime64[M]")).astype(int) + 1)
    seq = id_alloc.allocate(area, yyyymmdd, male)
    id_number = ids.make_ids(area, yyyymmdd, seq).astype(object)

    # --- health, disability (prevalence 6.34 % overall, rising with age) --------------------
    fp = hh.formerly_poor[hh_idx]
    age_f = np.clip(age, 0, 100)
    p_dis = 0.016 + 0.000020 * age_f**2  # ≈ 1 % children → ~11 % at 80 ; tuned to 6.34 % overall
    p_dis = p_dis * np.where(fp, 1.55, 0.93)
    disabled = rng.random(n) < p_dis
    grade = np.where(disabled, rng.choice([1, 2, 3, 4], n, p=[0.12, 0.22, 0.30, 0.36]), 0)
    category = np.where(disabled, rng.choice([1, 2, 3, 4, 5, 6, 7], n,
                                             p=[0.14, 0.24, 0.02, 0.36, 0.08, 0.09, 0.07]), 0)
    p_chronic = np.clip(0.02 + 0.0045 * np.maximum(age_f - 30, 0), 0, 0.35) * np.where(fp, 1.6, 1.0)
    p_serious = np.where(fp, 0.05, 0.012) * (0.4 + age_f / 60)
    r = rng.random(n)
    health = np.where(disabled, "残疾",
                      np.where(r < p_serious, "患有大病", np.where(r < p_serious + p_chronic, "长期慢性病", "健康")))

    # --- labour skill ------------------------------------------------------------------------
    working = (age >= 16) & (age < 60)
    lost = (grade > 0) & (grade <= 2) | (health == "患有大病") & (rng.random(n) < 0.5)
    weak = ((grade >= 3) | (health == "长期慢性病")) & (rng.random(n) < 0.5)
    skilled = rng.random(n) < np.where(fp, 0.10, 0.22)
    labour = np.where(age < 16, "无劳动力",
             np.where(age >= 70, np.where(rng.random(n) < 0.7, "无劳动力", "弱劳动力或半劳动力"),
             np.where(age >= 60, np.where(rng.random(n) < 0.6, "弱劳动力或半劳动力", "普通劳动力"),
             np.where(lost, "丧失劳动力", np.where(weak, "弱劳动力或半劳动力",
                                                np.where(skilled, "技能劳动力", "普通劳动力"))))))
    # students of working age are not labour
    schooling = np.full(n, "非在校生", dtype=object)
    schooling[(age >= 3) & (age < 6)] = "学前教育"
    schooling[(age >= 6) & (age < 12)] = "小学"
    schooling[(age >= 12) & (age < 15)] = "初中"
    hs_mask = (age >= 15) & (age < 18) & (rng.random(n) < 0.9)
    schooling[hs_mask] = np.where(rng.random(hs_mask.sum()) < 0.6, "普通高中", "中职")
    uni = (age >= 18) & (age < 22) & (rng.random(n) < 0.45)
    schooling[uni] = np.where(rng.random(uni.sum()) < 0.5, "本科", "高职")
    student = np.isin(schooling, ["普通高中", "中职", "本科", "高职"])
    labour = np.where(student & (age >= 16), "无劳动力", labour)

    able = np.isin(labour, ["普通劳动力", "技能劳动力", "弱劳动力或半劳动力"]) & working
    migrant = able & (rng.random(n) < np.where(fp, 0.55, 0.42))
    migrant_months = np.where(migrant, rng.integers(6, 13, n), 0)

    # --- education by birth cohort -----------------------------------------------------------
    ue = rng.random(n)
    old_cohort = byear < 1960
    mid_cohort = (byear >= 1960) & (byear < 1985)
    education = np.where(
        age < 6, None,
        np.where(old_cohort, np.where(ue < 0.35, "文盲或半文盲", np.where(ue < 0.85, "小学教育", "初级中学教育")),
        np.where(mid_cohort, np.where(ue < 0.06, "文盲或半文盲", np.where(ue < 0.40, "小学教育",
                                     np.where(ue < 0.85, "初级中学教育", "普通高级中学教育"))),
                 np.where(age < 12, "小学教育", np.where(age < 15, "初级中学教育",
                          np.where(ue < 0.45, "初级中学教育", np.where(ue < 0.75, "普通高级中学教育",
                                   np.where(ue < 0.9, "大学专科", "大学本科"))))))))
    med_insured = rng.random(n) < 0.975
    pension_insured = (age >= 16) & ~student & (rng.random(n) < 0.88)

    first = first_person_id
    return Members(
        person_id=np.arange(first, first + n, dtype=np.int64),
        hh_idx=hh_idx, k=k, relation=relation, male=male, birth=birth, age=age,
        name=name, id_number=id_number, ethnicity=eth.astype(object), education=education.astype(object),
        schooling=schooling, health=health.astype(object), labour_skill=labour.astype(object),
        migrant_months=migrant_months.astype(np.int64), med_insured=med_insured,
        pension_insured=pension_insured, disability_grade=grade.astype(np.int64),
        disability_category=category.astype(np.int64),
    )
