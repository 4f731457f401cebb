"""Calibration report: generated statistics against CALIBRATION.md references.

Every statistic the generator models is listed with its reference, the generated value, a tolerance
and ``ok``. Relative tolerances are used for levels, absolute ones for shares. Figures that have no
reference to be checked against (name collisions, the at-risk share of the truth) go to ``info``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fangpin.synth.panel import WARMUP

# CALIBRATION.md "Income": rural per-capita disposable income, quintile-group means, rural mean,
# formerly-poor counties' rural mean (yuan per person per year).
INCOME_TABLE = {
    2021: {"quintiles": [4856, 11586, 16546, 23167, 43082], "mean": 18931, "poor_counties_mean": 14051},
    2022: {"quintiles": [5025, 11965, 17451, 24646, 46075], "mean": 20133, "poor_counties_mean": 15111},
    2023: {"quintiles": [5264, 12863, 18478, 26189, 50136], "mean": 21691, "poor_counties_mean": 16396},
}
MEAN_2024 = {"mean": 23119, "poor_counties_mean": 17522}
# formerly-poor population per-capita net income 2022: 14,342 [P] vs rural mean 20,133 [V]
FP_TO_RURAL_RATIO = 14342 / 20133


def reference_for_year(year: int) -> dict:
    if year in INCOME_TABLE:
        return INCOME_TABLE[year]
    if year < 2021:
        raise ValueError("the calibration table starts in 2021 (CALIBRATION.md)")
    raise ValueError(f"no quintile reference for {year}: start the panel in 2021–2023 (CALIBRATION.md)")


@dataclass
class Stat:
    name: str
    reference: float
    generated: float
    tolerance: float  # relative if rel else absolute
    rel: bool = True
    source: str = ""

    def as_dict(self) -> dict:
        ok = (abs(self.generated - self.reference) <= self.tolerance * abs(self.reference)) if self.rel \
            else abs(self.generated - self.reference) <= self.tolerance
        return {"name": self.name, "reference": round(self.reference, 4), "generated": round(float(self.generated), 4),
                "tolerance": self.tolerance, "tolerance_kind": "relative" if self.rel else "absolute",
                "ok": bool(ok), "source": self.source}


@dataclass
class Accumulator:
    params: object
    year: int
    pc_income: list = field(default_factory=list)  # base-year per-capita net income per household
    pc_income_y2: list = field(default_factory=list)
    weights: list = field(default_factory=list)
    weights_y2: list = field(default_factory=list)
    fp: list = field(default_factory=list)
    n_hh: int = 0
    n_persons: int = 0
    fp_hh: int = 0
    fp_persons: int = 0
    age60: int = 0
    age65: int = 0
    disabled: int = 0
    fp_ill_hh: int = 0
    comp: np.ndarray = field(default_factory=lambda: np.zeros(4))
    new_risk_causes: dict = field(default_factory=dict)
    at_risk_persons: float = 0.0
    person_months: float = 0.0
    names: list = field(default_factory=list)

    def add(self, hh, mem, pn, tr) -> None:
        W = WARMUP
        months = self.params.months
        exists = pn.alive_hh[:, W]
        h_of = mem.hh_idx
        present = (pn.person_exit_t >= W) & exists[h_of]
        size = pn.size[:, W]
        self.n_hh += int(exists.sum())
        self.n_persons += int(present.sum())
        self.fp_hh += int((exists & hh.formerly_poor).sum())
        self.fp_persons += int((present & hh.formerly_poor[h_of]).sum())
        self.age60 += int((present & (mem.age >= 60)).sum())
        self.age65 += int((present & (mem.age >= 65)).sum())
        self.disabled += int((present & (mem.disability_grade > 0)).sum())
        ill = np.bincount(h_of, present & np.isin(mem.health, ["长期慢性病", "患有大病"]), minlength=len(hh.size)) > 0
        self.fp_ill_hh += int((ill & exists & hh.formerly_poor).sum())
        if months >= 12:
            sl = slice(W, W + 12)
            net = pn.net()
            full = pn.alive_hh[:, sl].all(axis=1)
            ms = pn.size[:, sl].mean(axis=1)
            pcy = net[:, sl].sum(axis=1) / np.maximum(ms, 1e-9)
            self.pc_income.append(pcy[full])
            self.weights.append(size[full])
            self.fp.append(hh.formerly_poor[full])
            comps = [pn.wage, pn.business - pn.business_cost, pn.property, pn.transfer]
            self.comp += np.array([c[full][:, sl].sum() for c in comps])
        if months >= 24:
            sl2 = slice(W + 12, W + 24)
            net = pn.net()
            full2 = pn.alive_hh[:, sl2].all(axis=1)
            ms2 = pn.size[:, sl2].mean(axis=1)
            self.pc_income_y2.append((net[:, sl2].sum(axis=1) / np.maximum(ms2, 1e-9))[full2])
            self.weights_y2.append(pn.size[full2, W + 12])
        # households newly at risk inside the window (not at risk in the first month)
        ar = tr["at_risk"]
        first = np.where(ar.any(axis=1), ar.argmax(axis=1), -1)
        newly = first > 0
        causes = tr["cause"][np.flatnonzero(newly), first[newly]]
        for c, k in zip(*np.unique(causes.astype(str), return_counts=True)):
            self.new_risk_causes[c] = self.new_risk_causes.get(c, 0) + int(k)
        self.at_risk_persons += float((tr["size"] * ar).sum())
        self.person_months += float((tr["size"] * tr["exists"]).sum())
        if len(self.names) < 200_000:
            self.names.append(mem.name[present][: 200_000])

    def report(self) -> dict:
        stats: list[Stat] = []
        ref = reference_for_year(self.year)
        prof = getattr(self.params, "profile", "national")
        k = ref["poor_counties_mean"] / ref["mean"] if prof == "poor_county" else 1.0
        info: dict = {"profile": prof, "base_year": self.year, "households": self.n_hh, "persons": self.n_persons}
        if self.pc_income:
            pcy = np.concatenate(self.pc_income)
            w = np.concatenate(self.weights).astype(float)
            fp = np.concatenate(self.fp)
            order = np.argsort(pcy)
            cw = np.cumsum(w[order])
            cuts = np.searchsorted(cw, np.arange(1, 5) * cw[-1] / 5)
            groups = np.split(order, cuts)
            label = "rural" if prof == "national" else "poor_county_scaled"
            for i, g in enumerate(groups, start=1):
                stats.append(Stat(f"income.{label}_per_capita_quintile_{i}_mean_{self.year}", ref["quintiles"][i - 1] * k,
                                  np.average(pcy[g], weights=w[g]), 0.05,
                                  source="CALIBRATION.md Income (quintile-group means) [V]"
                                  + (" scaled to formerly-poor counties' mean" if k != 1 else "")))
            mean = np.average(pcy, weights=w)
            if prof == "national":
                stats.append(Stat(f"income.rural_per_capita_mean_{self.year}", ref["mean"], mean, 0.05,
                                  source="CALIBRATION.md Income rural mean [V]"))
            else:
                stats.append(Stat(f"income.poor_counties_rural_mean_{self.year}", ref["poor_counties_mean"], mean, 0.05,
                                  source="CALIBRATION.md Income formerly-poor counties' rural mean [P]"))
            ratio = np.average(pcy[fp], weights=w[fp]) / mean
            stats.append(Stat("income.formerly_poor_to_all_mean_ratio", FP_TO_RURAL_RATIO, ratio, 0.06,
                              source="CALIBRATION.md: formerly-poor 14,342 [P] / rural mean 20,133 [V], 2022"))
            shares = self.comp / self.comp.sum()
            for name, r, s, tol in (("wages", 0.42, shares[0], 0.03), ("business_net", 0.34, shares[1], 0.03),
                                    ("property", 0.025, shares[2], 0.01), ("transfers", 0.21, shares[3], 0.03)):
                stats.append(Stat(f"income.component_share_{name}", r, s, tol, rel=False,
                                  source="CALIBRATION.md income components, approx. national shares [V]"))
        if self.pc_income_y2:
            y2 = self.year + 1
            pcy2 = np.concatenate(self.pc_income_y2)
            w2 = np.concatenate(self.weights_y2).astype(float)
            ref2 = INCOME_TABLE.get(y2) or (MEAN_2024 if y2 == 2024 else None)
            if ref2:
                key = "mean" if prof == "national" else "poor_counties_mean"
                stats.append(Stat(f"income.{'rural' if prof == 'national' else 'poor_counties'}_per_capita_mean_{y2}",
                                  ref2[key], np.average(pcy2, weights=w2), 0.05,
                                  source=f"CALIBRATION.md Income {y2} [V]"))
        stats += [
            Stat("households.mean_size", 2.62, self.n_persons / max(self.n_hh, 1), 0.05,
                 source="CALIBRATION.md: 2.62 (2020 census) [V]"),
            Stat("households.formerly_poor_mean_size", 3.2, self.fp_persons / max(self.fp_hh, 1), 0.2, rel=False,
                 source="CALIBRATION.md: formerly-poor households 3.0–3.4 [V]"),
            Stat("persons.share_aged_60_plus", 0.238, self.age60 / max(self.n_persons, 1), 0.05,
                 source="CALIBRATION.md: 23.8 % (2020 census) [V]"),
            Stat("persons.share_aged_65_plus", 0.177, self.age65 / max(self.n_persons, 1), 0.05,
                 source="CALIBRATION.md: 17.7 % (2020 census) [V]"),
            Stat("persons.disability_prevalence", 0.0634, self.disabled / max(self.n_persons, 1), 0.10,
                 source="CALIBRATION.md: 6.34 % (2006 survey) [V]"),
            Stat("persons.formerly_poor_share", 0.188, self.fp_persons / max(self.n_persons, 1), 0.10,
                 source="CALIBRATION.md Baoshan 2021: 2.63 % / 13.99 % [P]"),
            Stat("households.formerly_poor_with_illness_share", 0.43, self.fp_ill_hh / max(self.fp_hh, 1), 0.05,
                 rel=False, source="CALIBRATION.md: illness the cause for ~42–44 % of poor households [P]"),
        ]
        total_new = sum(self.new_risk_causes.values())
        if total_new:
            share = {c: v / total_new for c, v in self.new_risk_causes.items()}
            prior = [
                ("illness", ["因病"], 0.40, 0.05),
                ("disability", ["因残"], 0.175, 0.05),
                ("lack_of_labour", ["缺劳动力"], 0.10, 0.05),
                ("unstable_employment", ["因务工就业不稳"], 0.10, 0.05),
                ("schooling", ["因学"], 0.05, 0.04),
                ("disaster_or_accident", ["因自然灾害", "因意外事故"], 0.075, 0.05),
                ("housing_or_water", ["住房出现安全问题", "饮水安全问题"], 0.015, 0.015),
            ]
            for name, keys, r, tol in prior:
                stats.append(Stat(f"risk.new_at_risk_cause_share_{name}", r, sum(share.get(x, 0) for x in keys), tol,
                                  rel=False, source="CALIBRATION.md risk-type prior for newly monitored households [V]"))
            info["new_at_risk_households"] = total_new
            info["new_at_risk_cause_shares"] = {k: round(v, 4) for k, v in sorted(share.items(), key=lambda x: -x[1])}
        if self.person_months:
            info["truth_at_risk_person_share"] = round(self.at_risk_persons / self.person_months, 4)
            info["note_at_risk"] = ("share of person-months whose household is below the line or meets the "
                                    "sudden-hardship test in the truth; with the national income quintiles this is far "
                                    "above the 2.63 % *monitored* (Baoshan 2021) because monitoring is a procedure, "
                                    "not the income distribution")
        if self.names:
            from fangpin.synth.names import collision_stats

            nm = np.concatenate(self.names)[:200_000]
            cs = collision_stats(nm.astype(str))
            info["names"] = {k: v for k, v in cs.items() if k != "most_common"}
        return {"statistics": [s.as_dict() for s in stats], "info": info,
                "all_ok": all(s.as_dict()["ok"] for s in stats)}
