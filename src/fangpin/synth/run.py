"""`fangpin synth`: build a synthetic county chunk by chunk (bounded memory, deterministic per seed).

Per chunk of households: population → monthly panel with shocks → truth → registry rows (one
database transaction for the whole run: a failed run leaves nothing) and Parquet truth files.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine, insert

from fangpin.security.crypto import PURPOSE_ID, keyring
from fangpin.security.fields import P_HEAD_ID, P_PERSON_ID, P_PHONE
from fangpin import db
from fangpin.policy import load_parameters
from fangpin.registry import regions
from fangpin.registry.models import (
    GuaranteeStatus,
    Household,
    HouseholdVersion,
    IncomeRecord,
    MemberVersion,
    Person,
    SynthRun,
)
from fangpin.synth import calibration, panel as panel_mod, population, truth as truth_mod
from fangpin.synth.names import default_sampler

CHUNK_HOUSEHOLDS = 40_000
INCOME_SURVEY_SHARE_GENERAL = 0.10  # share of ordinary households with a yearly income survey (assumption)


@dataclass
class SynthParams:
    households: int
    months: int = 24
    seed: int = 11
    region: str = "530521"  # 施甸县, Baoshan, Yunnan — a formerly-poor county (default)
    start: str = "2023-01"
    profile: str = "national"  # or "poor_county"
    income_survey_share: float = INCOME_SURVEY_SHARE_GENERAL


@dataclass
class SynthResult:
    households: int = 0
    persons: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    truth_dir: str | None = None
    report: dict | None = None


class _ParquetSink:
    """Append-only Parquet writers, one file per table, created on first write."""

    def __init__(self, root: Path | None):
        self.root = root
        self.writers: dict[str, pq.ParquetWriter] = {}
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, cols: dict[str, np.ndarray | list]) -> None:
        if self.root is None:
            return
        table = pa.table({k: _to_arrow(v) for k, v in cols.items()})
        w = self.writers.get(name)
        if w is None:
            w = pq.ParquetWriter(self.root / f"{name}.parquet", table.schema, compression="zstd")
            self.writers[name] = w
        w.write_table(table.cast(w.schema))

    def close(self) -> None:
        for w in self.writers.values():
            w.close()


def _to_arrow(v):
    arr = np.asarray(v)
    if arr.dtype == object:
        return pa.array(arr.tolist())
    if arr.dtype.kind == "M":
        return pa.array(arr.astype("datetime64[D]"))
    if arr.dtype.kind == "U":
        return pa.array(arr.astype(object).tolist(), pa.string())
    return pa.array(arr)


def _villages(prefix: str) -> np.ndarray:
    t = regions.catalogue()
    t = t.filter(pc.and_(pc.equal(t.column("level"), 5), pc.starts_with(t.column("code"), prefix)))
    codes = np.array(t.column("code").to_pylist())
    if len(codes) == 0:
        raise ValueError(f"no villages under region code {prefix!r} in the division catalogue")
    return codes


def quintile_reference(params: SynthParams) -> tuple[int, list[float], dict]:
    year = int(params.start[:4])
    ref = calibration.reference_for_year(year)
    means = list(ref["quintiles"])
    if params.profile == "poor_county":
        k = ref["poor_counties_mean"] / ref["mean"]
        means = [m * k for m in means]
    return year, means, ref


def run(engine: Engine, params: SynthParams, truth_dir: Path | None, progress: Callable[[int, int], None] | None = None) -> SynthResult:
    t_start = datetime.now()
    db.upgrade(engine)
    rng_master = np.random.default_rng(params.seed)
    villages = _villages(params.region)
    vw = rng_master.gamma(2.0, 1.0, len(villages))
    vw = vw / vw.sum()
    start_month = np.datetime64(params.start, "M")
    start_date = start_month.astype("datetime64[D]").astype(object)
    year, qmeans, _ = quintile_reference(params)
    pset = load_parameters()
    T = panel_mod.WARMUP + params.months
    months = truth_mod.month_dates(start_month, T)
    names = default_sampler()
    ids_alloc = population.IdAllocator()
    sink = _ParquetSink(truth_dir)
    acc = calibration.Accumulator(params, year)
    result = SynthResult(truth_dir=str(truth_dir) if truth_dir else None)

    with engine.begin() as conn:
        regions.load_into_db(conn, [params.region])
        hh_id0 = db.next_id(conn, Household.__table__)
        person_id0 = db.next_id(conn, Person.__table__)
        n_chunks = (params.households + CHUNK_HOUSEHOLDS - 1) // CHUNK_HOUSEHOLDS
        line_cache: dict[str, np.ndarray] = {}
        for ci in range(n_chunks):
            n = min(CHUNK_HOUSEHOLDS, params.households - ci * CHUNK_HOUSEHOLDS)
            rng = np.random.default_rng([params.seed, ci])
            province = params.region[:2]
            hh = population.make_households(rng, n, hh_id0, villages, vw, province)
            county6 = np.array([int(v[:6]) for v in hh.village])
            mem = population.make_members(rng, hh, person_id0, start_month.astype("datetime64[D]"), names, ids_alloc, county6)
            pn = panel_mod.simulate(rng, hh, mem, params.months, start_month, qmeans)
            if province not in line_cache:
                line_cache[province] = np.array([
                    float(pset.get("monitoring_line", params.region, m.astype("datetime64[D]").astype(object)).value)
                    for m in months
                ])
            mid = start_date
            uses_claims = bool(pset.get("sudden_hardship_uses_claims", params.region, mid).value)
            deducts = bool(pset.get("sudden_hardship_deducts_compliant_oop", params.region, mid).value)
            tr = truth_mod.compute(pn, hh, mem, start_month, line_cache[province], uses_claims, deducts)
            used_persons = _write_chunk(conn, rng, params, hh, mem, pn, tr, months, start_month, names, ids_alloc,
                                        sink, result, person_id0)
            acc.add(hh, mem, pn, tr)
            hh_id0 += n
            person_id0 += used_persons
            if progress:
                progress(ci + 1, n_chunks)
        db.reset_sequence(conn, Household.__table__)
        db.reset_sequence(conn, Person.__table__)
        for t in (HouseholdVersion, MemberVersion, IncomeRecord, GuaranteeStatus):
            db.reset_sequence(conn, t.__table__)
        report = acc.report()
        result.report = report
        conn.execute(insert(SynthRun), [{
            "created_at": t_start, "seed": params.seed, "params": asdict(params),
            "truth_dir": result.truth_dir, "report": report,
        }])
    sink.close()
    if truth_dir is not None:
        (truth_dir / "params.json").write_text(json.dumps(asdict(params), ensure_ascii=False, indent=2))
    result.seconds = (datetime.now() - t_start).total_seconds()
    return result


def _month_day(rng, month: np.ndarray) -> np.ndarray:
    """A day inside each month (1–28)."""
    return month.astype("datetime64[D]") + rng.integers(0, 28, len(month)).astype("timedelta64[D]")


def _dt(d: np.datetime64 | date) -> datetime:
    if isinstance(d, np.datetime64):
        d = d.astype("datetime64[D]").astype(object)
    return datetime(d.year, d.month, d.day, 12, 0, 0)


def _write_chunk(conn, rng, params, hh, mem, pn, tr, months, start_month, names, ids_alloc, sink, result,
                 person_id0) -> int:
    W = panel_mod.WARMUP
    T = pn.T
    start_date = start_month.astype("datetime64[D]").astype(object)
    start_dt = _dt(start_date)
    # constants pre-formatted once: the drivers accept ISO strings for DATE/TIMESTAMP columns
    start_date_s, start_dt_s = start_date.isoformat(), start_dt.isoformat(" ")
    hh_exists0 = pn.alive_hh[:, W]
    exit_t = pn.person_exit_t

    # ---- state at the start (apply warm-up changes) -------------------------------------
    state = {
        "health": mem.health.copy(), "labour_skill": mem.labour_skill.copy(),
        "disability_grade": mem.disability_grade.copy(), "disability_category": mem.disability_category.copy(),
    }
    ch = pn.member_changes
    ch_t = np.asarray(ch.get("t", []), dtype=np.int64)
    ch_p = np.asarray(ch.get("person_idx", []), dtype=np.int64)
    ch_k = np.asarray(ch.get("change", []), dtype=object)
    order = np.argsort(ch_t, kind="stable")
    ch_t, ch_p, ch_k = ch_t[order], ch_p[order], ch_k[order]

    def apply(sel):
        for kind in ("chronic_illness", "serious_illness", "disability"):
            p = ch_p[sel & (ch_k == kind)]
            if len(p) == 0:
                continue
            working = (mem.age[p] >= 16) & (mem.age[p] < 60)
            if kind == "chronic_illness":
                keep = ~np.isin(state["health"][p], ["患有大病", "残疾"])
                state["health"][p[keep]] = "长期慢性病"
            elif kind == "serious_illness":
                keep = state["health"][p] != "残疾"
                state["health"][p[keep]] = "患有大病"
                w = p[working]
                state["labour_skill"][w] = "弱劳动力或半劳动力"
            else:
                state["health"][p] = "残疾"
                g = rng.choice([1, 2, 3, 4], len(p), p=[0.12, 0.22, 0.30, 0.36])
                state["disability_grade"][p] = g
                state["disability_category"][p] = rng.choice([1, 2, 4, 5, 6], len(p), p=[0.15, 0.25, 0.4, 0.1, 0.1])
                w = p[working & (g <= 2)]
                state["labour_skill"][w] = "丧失劳动力"

    apply(ch_t < W)
    in_registry = (exit_t >= W) & hh_exists0[mem.hh_idx]

    # ---- households ---------------------------------------------------------------------
    hi = np.flatnonzero(hh_exists0)
    head_idx = np.full(len(hh.size), -1)
    heads = np.flatnonzero((mem.k == 0))
    head_idx[mem.hh_idx[heads]] = heads
    # a head who left before the start: the next remaining member is the head in the registry
    first_remaining = np.full(len(hh.size), -1)
    rem = np.flatnonzero(in_registry)
    first_remaining[mem.hh_idx[rem[::-1]]] = rem[::-1]
    head_idx = np.where(in_registry[np.maximum(head_idx, 0)] & (head_idx >= 0), head_idx, first_remaining)
    result.households += len(hi)
    created = start_dt_s
    n = db.bulk_insert(conn, Household.__table__, ["id", "hh_no", "created_at"],
                       zip(hh.hh_id[hi].tolist(), hh.hh_no[hi].tolist(), [created] * len(hi)))
    result.rows["household"] = result.rows.get("household", 0) + n
    hh_type = np.where(hh.formerly_poor, "脱贫户", "一般农户")
    head_ids = np.where(head_idx >= 0, mem.id_number[np.maximum(head_idx, 0)], None)
    hv_rows = [
        (int(hh.hh_id[i]), start_date_s, start_dt_s, hh.village[i], hh_type[i], bool(hh.relocated[i]), hh.phone[i],
         head_ids[i], True)
        for i in hi
    ]
    # households that dissolve or move away in the window get a closing version
    gone = hi[~pn.alive_hh[hi, -1]]
    gone_t = np.array([int(np.argmin(pn.alive_hh[i, W:])) + W for i in gone], dtype=np.int64)
    gone_day = _month_day(rng, months[gone_t]) if len(gone) else np.array([], dtype="datetime64[D]")
    for i, d in zip(gone, gone_day):
        dd = d.astype(object)
        hv_rows.append((int(hh.hh_id[i]), dd, _dt(dd) + timedelta(days=int(rng.integers(5, 40))), hh.village[i],
                        hh_type[i], bool(hh.relocated[i]), hh.phone[i], head_ids[i], False))
    # phone and head ID are encrypted at rest with a blind index of the ID (docs/SECURITY.md), in batches
    kr = keyring()
    hv_phone = kr.encrypt_many([r[6] for r in hv_rows], P_PHONE)
    hv_head = [r[7] for r in hv_rows]
    hv_head_enc, hv_head_bidx = kr.encrypt_many(hv_head, P_HEAD_ID), kr.blind_many(hv_head, PURPOSE_ID)
    hv_rows = [(*r[:6], hv_phone[k], hv_head_enc[k], hv_head_bidx[k], r[8]) for k, r in enumerate(hv_rows)]
    hv_cols = ["household_id", "valid_from", "recorded_at", "region_code", "hh_type", "relocated", "phone_enc",
               "head_id_enc", "head_id_bidx", "active"]
    result.rows["household_version"] = result.rows.get("household_version", 0) + db.bulk_insert(
        conn, HouseholdVersion.__table__, hv_cols, hv_rows)

    # ---- persons and member versions -------------------------------------------------------
    pi = np.flatnonzero(in_registry)
    # new members (births, in-marrying spouses): ids continue after this chunk's base persons
    nm = pn.new_members
    nm_hh = np.asarray(nm["hh_idx"], dtype=np.int64)
    nm_t = np.asarray(nm["t"], dtype=np.int64)
    nm_kind = np.asarray(nm["kind"], dtype=object)
    nm_keep = hh_exists0[nm_hh] & pn.alive_hh[nm_hh, np.minimum(nm_t, T - 1)]
    nm_exit = np.asarray(nm["exit_t"], dtype=np.int64)
    nm_hh, nm_t, nm_kind, nm_exit = nm_hh[nm_keep], nm_t[nm_keep], nm_kind[nm_keep], nm_exit[nm_keep]
    n_new = len(nm_hh)
    new_pid = person_id0 + len(mem) + np.arange(n_new, dtype=np.int64)
    new_male = np.where(nm_kind == "spouse_in", False, rng.random(n_new) < 0.51)
    new_birth = _month_day(rng, months[nm_t])
    age_sp = rng.uniform(20, 30, n_new)
    new_birth = np.where(nm_kind == "spouse_in",
                         months[nm_t].astype("datetime64[D]") - (age_sp * 365.25).astype("timedelta64[D]"), new_birth)
    nb_year = new_birth.astype("datetime64[Y]").astype(int) + 1970
    head_name = np.where(head_idx[nm_hh] >= 0, mem.name[np.maximum(head_idx[nm_hh], 0)], "")
    head_male = np.where(head_idx[nm_hh] >= 0, mem.male[np.maximum(head_idx[nm_hh], 0)], True)
    sur = np.array([s[0] if s and "·" not in s else "" for s in head_name], dtype=object)
    sur = np.where((nm_kind == "birth") & head_male & (sur != ""), sur, names.surnames(n_new, rng))
    new_name = names.full_names(new_male, nb_year, rng, surnames=sur.astype("<U2")).astype(object)
    county6 = np.array([int(hh.village[i][:6]) for i in nm_hh], dtype=np.int64)
    yyyymmdd = (nb_year * 10000 + (new_birth.astype("datetime64[M]").astype(int) % 12 + 1) * 100
                + (new_birth - new_birth.astype("datetime64[M]")).astype(int) + 1)
    from fangpin import ids as ids_mod

    new_idn = ids_mod.make_ids(county6, yyyymmdd, ids_alloc.allocate(county6, yyyymmdd, new_male)).astype(object) \
        if n_new else np.array([], dtype=object)
    new_rel = np.where(nm_kind == "spouse_in", "儿媳", np.where(new_male, "子", "女"))
    new_rel = np.where((nm_kind == "birth") & (head_idx[nm_hh] >= 0) & (mem.age[np.maximum(head_idx[nm_hh], 0)] >= 45),
                       np.where(new_male, "孙子", "孙女"), new_rel)

    idn_all = np.r_[mem.id_number[pi], new_idn].tolist()
    person_rows = zip(
        np.r_[mem.person_id[pi], new_pid].tolist(),
        kr.encrypt_many(idn_all, P_PERSON_ID),
        kr.blind_many(idn_all, PURPOSE_ID),
        [start_dt_s] * (len(pi) + n_new),
    )
    result.rows["person"] = result.rows.get("person", 0) + db.bulk_insert(
        conn, Person.__table__, ["id", "id_number_enc", "id_number_bidx", "created_at"], person_rows)
    result.persons += len(pi) + n_new

    mv_cols = ["person_id", "household_id", "valid_from", "recorded_at", "active", "end_reason", "name", "sex",
               "birth_date", "relation", "ethnicity", "education", "schooling", "health", "labour_skill",
               "migrant_months", "med_insured", "pension_insured", "disability_grade", "disability_category"]
    birth_obj = np.datetime_as_string(mem.birth.astype("datetime64[D]")).astype(object)
    sex = np.where(mem.male, "男", "女")

    def mv_row(p, valid_from, recorded_at, active=True, end_reason=None):
        g = int(state["disability_grade"][p])
        return (int(mem.person_id[p]), int(hh.hh_id[mem.hh_idx[p]]), valid_from, recorded_at, active, end_reason,
                mem.name[p], sex[p], birth_obj[p], mem.relation[p], mem.ethnicity[p], mem.education[p],
                mem.schooling[p], state["health"][p], state["labour_skill"][p], int(mem.migrant_months[p]),
                bool(mem.med_insured[p]), bool(mem.pension_insured[p]), g or None,
                int(state["disability_category"][p]) or None)

    mv_rows = [mv_row(p, start_date_s, start_dt_s) for p in pi]
    end_label = {"death": "死亡", "moved_out": "迁出", "household_moved": "迁出"}
    for t in range(W, T):
        sel = ch_t == t
        if not sel.any():
            continue
        apply(sel)
        day = _month_day(rng, np.repeat(months[t], sel.sum()))
        for p, k, d in zip(ch_p[sel], ch_k[sel], day):
            if not in_registry[p]:
                continue
            dd = d.astype(object)
            rec = _dt(dd) + timedelta(days=int(rng.integers(3, 45)))
            if k in end_label:
                mv_rows.append(mv_row(p, dd, rec, active=False, end_reason=end_label[k]))
            elif exit_t[p] > t:
                mv_rows.append(mv_row(p, dd, rec))
    # new members: a version when they join (births during warm-up are present from the start)
    for j in range(n_new):
        h = nm_hh[j]
        joined = start_date if nm_t[j] < W else new_birth[j].astype(object) if nm_kind[j] == "birth" \
            else _month_day(rng, months[nm_t[j]:nm_t[j] + 1])[0].astype(object)
        rec = start_dt if nm_t[j] < W else _dt(joined) + timedelta(days=int(rng.integers(5, 60)))
        age_j = (start_date - new_birth[j].astype(object)).days / 365.25
        mv_rows.append((int(new_pid[j]), int(hh.hh_id[h]), joined, rec, True, None, new_name[j],
                        "男" if new_male[j] else "女", new_birth[j].astype(object), new_rel[j], hh.ethnicity[h],
                        None if nm_kind[j] == "birth" else "初级中学教育", "非在校生", "健康",
                        "无劳动力" if nm_kind[j] == "birth" else "普通劳动力", 0, True, nm_kind[j] != "birth" and age_j >= 16,
                        None, None))
        if nm_exit[j] < T:  # the whole household moved away later (迁出)
            d = _month_day(rng, months[nm_exit[j]:nm_exit[j] + 1])[0].astype(object)
            row = list(mv_rows[-1])
            row[2], row[3], row[4], row[5] = d, _dt(d) + timedelta(days=int(rng.integers(5, 40))), False, "迁出"
            mv_rows.append(tuple(row))
    result.rows["member_version"] = result.rows.get("member_version", 0) + db.bulk_insert(
        conn, MemberVersion.__table__, mv_cols, mv_rows)

    # ---- income (registry: monthly for formerly-poor households, yearly survey for a sample) -------
    inc_cols = ["household_id", "period", "period_start", "period_end", "recorded_at", "wage", "business",
                "property", "transfer", "business_cost", "claims", "medical_oop", "education_cost"]
    comps = [pn.wage, pn.business, pn.property, pn.transfer, pn.business_cost, pn.claims, pn.medical_oop,
             pn.education_cost]
    fp_hh = hi[hh.formerly_poor[hi]]
    rows = []
    for t in range(W, T):
        m = months[t]
        ps = m.astype("datetime64[D]").astype(object)
        pe = ((m + 1).astype("datetime64[D]") - 1).astype(object)
        rec = (_dt(pe) + timedelta(days=10)).isoformat(" ")
        ps, pe = ps.isoformat(), pe.isoformat()
        live = fp_hh[pn.alive_hh[fp_hh, t]]
        vals = np.round(np.stack([c[live, t] for c in comps], axis=1), 2)
        per = str(m)
        rows.extend((int(hh.hh_id[h]), per, ps, pe, rec, *v) for h, v in zip(live, vals.tolist()))
    survey = hi[~hh.formerly_poor[hi] & (rng.random(len(hi)) < params.income_survey_share)]
    year0 = int(str(months[W])[:4])
    for y in range(year0, year0 + 10):
        ts = [t for t in range(W, T) if int(str(months[t])[:4]) == y]
        if len(ts) < 12:
            continue
        live = survey[pn.alive_hh[survey][:, ts].all(axis=1)]
        vals = np.round(np.stack([c[live][:, ts].sum(axis=1) for c in comps], axis=1), 2)
        rec = datetime(y + 1, 2, 15, 12)
        rows.extend((int(hh.hh_id[h]), str(y), date(y, 1, 1), date(y, 12, 31), rec, *v)
                    for h, v in zip(live, vals.tolist()))
    result.rows["income_record"] = result.rows.get("income_record", 0) + db.bulk_insert(
        conn, IncomeRecord.__table__, inc_cols, rows)

    # ---- guarantees (三保障及饮水) -------------------------------------------------------------
    ge = pn.guarantee_events
    g_h = np.asarray(ge.get("hh_idx", []), dtype=np.int64)
    g_t = np.asarray(ge.get("t", []), dtype=np.int64)
    g_u = np.asarray(ge.get("until", []), dtype=np.int64)
    g_k = np.asarray(ge.get("kind", []), dtype=object)
    # 1 % of dwellings unsafe at the start independently of shocks (assumption)
    flags0 = {"housing_unsafe": rng.random(len(hh.size)) < 0.01}

    def flags_at(h, t):
        sel = (g_h == h) & (g_t <= t) & (g_u > t)
        kinds = set(g_k[sel])
        return (not ("housing_unsafe" in kinds or flags0["housing_unsafe"][h]), "dropout" in kinds,
                "water_unsafe" not in kinds, "uninsured" in kinds)

    g_rows = []
    act0 = {}
    for h in np.unique(g_h[(g_t <= W) & (g_u > W)]):
        act0[h] = flags_at(h, W)
    for h in hi:
        f = act0.get(h)
        if f is None:
            f = (not flags0["housing_unsafe"][h], False, True, False)
        g_rows.append((int(hh.hh_id[h]), start_date_s, start_dt_s, *f))
    bounds = set()
    for h, t0, u in zip(g_h, g_t, g_u):
        if not hh_exists0[h]:
            continue
        if t0 >= W:
            bounds.add((int(h), int(t0)))
        if W <= u < T:
            bounds.add((int(h), int(u)))
    for h, t in sorted(bounds):
        if not pn.alive_hh[h, t]:
            continue
        d = _month_day(rng, months[t:t + 1])[0].astype(object)
        g_rows.append((int(hh.hh_id[h]), d, _dt(d) + timedelta(days=int(rng.integers(3, 30))), *flags_at(h, t)))
    result.rows["guarantee_status"] = result.rows.get("guarantee_status", 0) + db.bulk_insert(
        conn, GuaranteeStatus.__table__,
        ["household_id", "status_date", "recorded_at", "housing_safe", "dropout", "water_safe", "uninsured_member"],
        g_rows)

    # ---- truth (Parquet) ---------------------------------------------------------------------
    if sink.root is not None:
        _write_truth(sink, hh, mem, pn, tr, months, W, T, in_registry, head_idx, new_pid, nm_hh, nm_t, nm_kind,
                     new_name, new_male, new_birth, new_idn, sex, state)
    return len(mem) + n_new


def _write_truth(sink, hh, mem, pn, tr, months, W, T, in_registry, head_idx, new_pid, nm_hh, nm_t, nm_kind,
                 new_name, new_male, new_birth, new_idn, sex, state):
    reg_months = months[W:T]
    hi = np.arange(len(hh.size))  # every generated household; in_registry tells which the registry holds
    sink.write("households", {
        "household_id": hh.hh_id[hi], "hh_no": hh.hh_no[hi], "village": hh.village[hi],
        "formerly_poor": hh.formerly_poor[hi], "relocated": hh.relocated[hi], "phone": hh.phone[hi],
        "head_person_id": np.where(head_idx[hi] >= 0, mem.person_id[np.maximum(head_idx[hi], 0)], -1),
        "size_start": pn.size[hi, W].astype(np.int64), "in_registry": pn.alive_hh[hi, W],
    })
    exit_m = np.where(pn.person_exit_t < T, pn.person_exit_t - W, -1)
    sink.write("persons", {
        "person_id": np.r_[mem.person_id, new_pid],
        "household_id": np.r_[hh.hh_id[mem.hh_idx], hh.hh_id[nm_hh]],
        "hh_no": np.r_[hh.hh_no[mem.hh_idx], hh.hh_no[nm_hh]],
        "village": np.r_[hh.village[mem.hh_idx], hh.village[nm_hh]],
        "id_number": np.r_[mem.id_number, new_idn].astype(object),
        "name": np.r_[mem.name, new_name].astype(object),
        "sex": np.r_[sex, np.where(new_male, "男", "女")].astype(object),
        "birth_date": np.r_[mem.birth.astype("datetime64[D]"), new_birth.astype("datetime64[D]")],
        "relation": np.r_[mem.relation, np.full(len(new_pid), "")].astype(object),
        "ethnicity": np.r_[mem.ethnicity, hh.ethnicity[nm_hh]].astype(object),
        "health_start": np.r_[state["health"], np.full(len(new_pid), "健康")].astype(object),
        "disability_grade": np.r_[state["disability_grade"], np.zeros(len(new_pid), dtype=np.int64)],
        "disability_category": np.r_[state["disability_category"], np.zeros(len(new_pid), dtype=np.int64)],
        "labour_skill": np.r_[state["labour_skill"], np.full(len(new_pid), "无劳动力")].astype(object),
        "migrant_months": np.r_[mem.migrant_months, np.zeros(len(new_pid), dtype=np.int64)],
        "schooling": np.r_[mem.schooling, np.full(len(new_pid), "非在校生")].astype(object),
        "entry_month": np.r_[np.full(len(mem), -1), nm_t - W],
        "entry_kind": np.r_[np.full(len(mem), "base"), nm_kind].astype(object),
        "exit_month": np.r_[exit_m, np.full(len(new_pid), -1)],
        "exit_reason": np.r_[pn.person_exit_reason, np.full(len(new_pid), "")].astype(object),
        "in_registry": np.r_[in_registry, pn.alive_hh[nm_hh, W] | (nm_t >= W)],
    })
    nh, nmo = tr["at_risk"].shape
    hh_rep = np.repeat(hh.hh_id, nmo)
    sink.write("household_month", {
        "household_id": hh_rep,
        "month": np.tile(reg_months.astype("datetime64[D]"), nh),
        "exists": tr["exists"].ravel(),
        "size": tr["size"].ravel().astype(np.int64),
        "net_income": np.round(tr["net"].ravel(), 2),
        "pc12": np.round(tr["pc12"].ravel(), 2),
        "ref12": np.round(tr["ref12"].ravel(), 2),
        "line": tr["line"].ravel(),
        "below_line": tr["below"].ravel(),
        "hardship": tr["hardship"].ravel(),
        "at_risk": tr["at_risk"].ravel(),
        "cause": tr["cause"].ravel().astype(object),
        "cause_kind": tr["cause_kind"].ravel().astype(object),
    })
    s = pn.shocks
    if len(s.get("t", [])):
        sh_t = np.asarray(s["t"], dtype=np.int64)
        p_idx = np.asarray(s["person_idx"], dtype=np.int64)
        sink.write("shocks", {
            "household_id": hh.hh_id[np.asarray(s["hh_idx"], dtype=np.int64)],
            "person_id": np.where(p_idx >= 0, mem.person_id[np.maximum(p_idx, 0)], -1),
            "month_index": sh_t - W,
            "month": months[sh_t].astype("datetime64[D]"),
            "kind": np.asarray(s["kind"], dtype=object),
            "risk_type": np.array([panel_mod.RISK_TYPE[k] for k in s["kind"]], dtype=object),
            "subtype": np.array([x if x else "" for x in s["subtype"]], dtype=object),
            "duration_months": np.asarray(s["duration"], dtype=np.int64),
            "cost": np.round(np.asarray(s["cost"], dtype=float), 2),
            "damage": np.array([x if x else "" for x in s.get("damage", [None] * len(sh_t))], dtype=object),
            "crop_mu": np.array([float(x) if x is not None else 0.0 for x in s.get("crop_mu", [None] * len(sh_t))]),
            "casualties": np.array([int(x) if x is not None else 0 for x in s.get("casualties", [None] * len(sh_t))]),
        })
    g = pn.guarantee_events
    if len(g.get("t", [])):
        gp = np.array([int(x) if x is not None else -1 for x in g.get("person_idx", [None] * len(g["t"]))])
        sink.write("guarantee_events", {
            "household_id": hh.hh_id[np.asarray(g["hh_idx"], dtype=np.int64)],
            "person_id": np.where(gp >= 0, mem.person_id[np.maximum(gp, 0)], -1),
            "kind": np.asarray(g["kind"], dtype=object),
            "start_month_index": np.asarray(g["t"], dtype=np.int64) - W,
            "end_month_index": np.asarray(g["until"], dtype=np.int64) - W,
        })
    v = pn.village_events
    if len(v.get("t", [])):
        vt = np.asarray(v["t"], dtype=np.int64)
        sink.write("village_events", {
            "village": v["villages"][np.asarray(v["village_idx"], dtype=np.int64)].astype(object),
            "month_index": vt - W, "month": months[vt].astype("datetime64[D]"),
            "event": np.asarray(v["event"], dtype=object), "duration_months": np.asarray(v["duration"], dtype=np.int64),
            "affected_households": np.asarray(v["affected"], dtype=np.int64),
        })
    e = pn.employment_events
    if len(e.get("t", [])):
        et = np.asarray(e["t"], dtype=np.int64)
        sink.write("employment_events", {
            "person_id": mem.person_id[np.asarray(e["person_idx"], dtype=np.int64)],
            "month_index": et - W, "month": months[et].astype("datetime64[D]"),
            "event": np.asarray(e["event"], dtype=object),
        })
    md = pn.medical_events
    if len(md.get("t", [])):
        mt = np.asarray(md["t"], dtype=np.int64)
        sink.write("medical_events", {
            "person_id": mem.person_id[np.asarray(md["person_idx"], dtype=np.int64)],
            "month_index": mt - W, "month": months[mt].astype("datetime64[D]"),
            "kind": np.asarray(md["kind"], dtype=object),
            "total_cost": np.round(np.asarray(md["total"], dtype=float), 2),
            "oop": np.round(np.asarray(md["oop"], dtype=float), 2),
            "months": np.asarray(md["months"], dtype=np.int64),
        })
