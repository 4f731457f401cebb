"""Policy what-if (issue 4 §6): replay changed parameters and report who would enter or leave monitoring.

The features are computed once (the engine's feature SQL, without rule flags); the rules are then re-evaluated
for the base and the changed parameters over that one feature table in DuckDB (the rule `when` expressions of
rules.yaml, unchanged). Parameters enter the features only through the ``params`` columns (monitoring_line,
sharp_drop_ratio, med_oop_trigger, …); the income features (pc_net_12m, ref_pc_12m) do not depend on them, so the
rule pass only swaps those columns — checked against a full engine re-run in tests. Overrides supported by
``engine.params_table``: ``monitoring_line_factor`` (POLICY.md §3 line × factor) and ``sharp_income_drop_ratio``.
"In monitoring" = at least one rule flag fired.
"""
from __future__ import annotations

import time
from datetime import date

import duckdb
import pyarrow as pa

from fangpin.monitoring import engine as E
from fangpin.monitoring.snapshot import Snapshot
from fangpin.policy import ParameterSet, load_parameters

PARAM_COLUMNS = ("monitoring_line", "sharp_drop_ratio", "uses_claims", "deducts_oop", "med_oop_trigger",
                 "param_version")


def _flags(con, rules: E.RuleSet, table: str) -> pa.Table:
    flags = ", ".join(f"COALESCE(({r.when}), FALSE) AS {r.flag}" for r in rules.rules)
    anyf = " OR ".join(f"COALESCE(({r.when}), FALSE)" for r in rules.rules)
    return con.sql(f"SELECT household_id, hh_no, region_code, {flags}, ({anyf}) AS in_monitoring FROM {table}"
                   ).to_arrow_table()


def compare(snapshot: Snapshot, as_of: date, overrides: dict, *, pset: ParameterSet | None = None,
            rules: E.RuleSet | None = None, features: pa.Table | None = None) -> dict:
    """Base vs changed parameters: per township (12-digit village code[:9]) lists and counts of households that
    enter / leave monitoring, plus totals and timing."""
    t0 = time.perf_counter()
    pset = pset or load_parameters()
    rules = rules or E.load_rules()
    provinces = E.provinces_in(snapshot)
    if features is None:
        empty = E.RuleSet([], rules.version)  # features only
        features = E.run_duckdb(snapshot, E.asof_table([as_of]), E.params_table(pset, provinces, [as_of]), empty)
    t_feat = time.perf_counter() - t0
    t1 = time.perf_counter()
    new = E.params_table(pset, provinces, [as_of], overrides)
    con = duckdb.connect()
    con.register("feat", features)
    con.register("p_new", new)
    keep = [c for c in features.column_names if c not in PARAM_COLUMNS and not c.startswith("r_")]
    # the same features with the changed parameter columns (med_oop_trigger depends on the household type)
    con.execute(f"""CREATE VIEW feat_new AS SELECT {', '.join('f.' + c for c in keep)},
        p.monitoring_line, p.sharp_drop_ratio, p.uses_claims, p.deducts_oop,
        CASE WHEN f.hh_type = '脱贫户' THEN p.med_oop_trigger_monitored ELSE p.med_oop_trigger_general END AS med_oop_trigger,
        p.param_version
      FROM feat f LEFT JOIN p_new p ON p.as_of = f.as_of AND p.province = f.province""")
    # ref_pc_12m depends on uses_claims / deducts_oop, which overrides do not change (engine.params_table)
    base = _flags(con, rules, "feat")
    changed = _flags(con, rules, "feat_new")
    con.close()
    b = dict(zip(base["household_id"].to_pylist(), base["in_monitoring"].to_pylist()))
    c = dict(zip(changed["household_id"].to_pylist(), changed["in_monitoring"].to_pylist()))
    hh_no = dict(zip(base["household_id"].to_pylist(), base["hh_no"].to_pylist()))
    town = {h: (r or "")[:9] for h, r in zip(base["household_id"].to_pylist(), base["region_code"].to_pylist())}
    by_town: dict[str, dict] = {}
    for h in sorted(b):
        if b[h] == c.get(h, False):
            continue
        t = by_town.setdefault(town[h], {"enter": [], "leave": []})
        t["enter" if c.get(h) else "leave"].append(hh_no[h])
    for t in by_town.values():
        t["n_enter"], t["n_leave"] = len(t["enter"]), len(t["leave"])
    return {
        "as_of": as_of.isoformat(), "overrides": dict(overrides),
        "base_in_monitoring": int(sum(b.values())), "new_in_monitoring": int(sum(c.values())),
        "enter": int(sum(t["n_enter"] for t in by_town.values())),
        "leave": int(sum(t["n_leave"] for t in by_town.values())),
        "townships": dict(sorted(by_town.items())),
        "seconds_features": t_feat, "seconds_rules": time.perf_counter() - t1,
        "seconds": time.perf_counter() - t0,
    }


__all__ = ["compare"]
