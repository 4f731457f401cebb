"""fangpin.linkage: surname readings, name keys, Fellegi–Sunter linking on hand-built cases."""
from __future__ import annotations

import math
from datetime import date

import numpy as np
import pyarrow as pa
import pypinyin
import pytest

from fangpin.linkage import LinkModel, chinese_settings, initials, link, name_pinyin, pinyin_key, pinyin_text, train
from fangpin.linkage.engine import candidate_pairs, compare, prepare
from fangpin.linkage.names import codepoint_matrix, name_features, split_surname
from fangpin.registry.snapshot import PERSON_SCHEMA
from fangpin.synth.names import default_sampler


@pytest.mark.parametrize("name,first", [
    ("曾小明", "zeng"), ("单田芳", "shan"), ("解晓东", "xie"), ("区志明", "ou"), ("仇军", "qiu"), ("查良镛", "zha"),
    ("朴树", "piao"), ("盖伟", "ge"), ("繁华", "po"), ("员工", "yun"), ("冼星海", "xian"),
])
def test_surname_readings(name, first):
    assert name_pinyin(name)[0] == first


def test_compound_surname_and_words():
    assert name_pinyin("尉迟恭") == ["yu", "chi", "gong"]
    assert split_surname("欧阳娜") == ("欧阳", "娜")
    assert initials("尉迟恭") == "ycg"
    # ordinary words keep pypinyin's readings; the library's dictionaries are not modified
    assert pinyin_text("曾经") == ["ceng", "jing"]
    assert pypinyin.lazy_pinyin("曾经") == ["ceng", "jing"]
    assert pypinyin.lazy_pinyin("曾") == ["ceng"]


def test_homophone_and_dot_keys():
    assert pinyin_key("张伟") == pinyin_key("张玮") == "zhang wei"
    f = name_features(pa.array(["张伟", "张玮", "阿依古丽·买买提", "阿依古丽买买提", "买买提·阿依古丽", "张 伟", "张　伟",
                                None, "曾伟", "增伟"]))
    assert f.key[0] != f.key[1] and f.py_key[0] == f.py_key[1]
    assert f.key[2] == f.key[3]  # missing dot
    assert f.key[2] != f.key[4] and f.bag_key[2] == f.bag_key[4]  # parts in another order
    assert f.key[0] == f.key[5] == f.key[6]  # spaces and full-width spaces
    assert f.length[7] == 0
    assert f.py_key[8] == f.py_key[9]  # 曾 read as zeng in a surname


def test_vectorised_features_agree_with_scalar():
    rng = np.random.default_rng(3)
    names = default_sampler().full_names(rng.random(300) < 0.5, rng.integers(1950, 2010, 300), rng,
                                         minority_mask=rng.random(300) < 0.1)
    f = name_features(pa.array(names))
    by_key: dict[str, int] = {}
    for k, nm in zip(f.py_key.tolist(), names.tolist()):
        pk = pinyin_key(nm)
        assert by_key.setdefault(pk, k) == k
    mat, length = codepoint_matrix(pa.array(["a b", "张·三", None, "Ｘ"]), 4)
    assert length.tolist() == [2, 2, 0, 1] and chr(mat[3, 0]) == "X"


def _registry(rows):
    cols = {f.name: [] for f in PERSON_SCHEMA}
    for i, r in enumerate(rows):
        for f in PERSON_SCHEMA:
            cols[f.name].append(r.get(f.name, i + 1 if f.name == "person_id" else None))
    return pa.table(cols, schema=PERSON_SCHEMA)


def _left(rows):
    return pa.table({
        "row_id": pa.array([r["row_id"] for r in rows], pa.int64()),
        "name": pa.array([r.get("name") for r in rows], pa.string()),
        "sex": pa.array([r.get("sex") for r in rows], pa.string()),
        "birth_date": pa.array([r.get("birth_date") for r in rows], pa.date32()),
        "village_code": pa.array([r.get("village_code") for r in rows], pa.string()),
        "address": pa.nulls(len(rows), pa.string()),
        "phone": pa.array([r.get("phone") for r in rows], pa.string()),
    })


@pytest.fixture(scope="module")
def world():
    """A synthetic registry of 4,000 people and a feed of perturbed copies; the model is trained on it."""
    rng = np.random.default_rng(11)
    n = 4000
    male = rng.random(n) < 0.5
    years = rng.integers(1940, 2015, n)
    names = default_sampler().full_names(male, years, rng, minority_mask=rng.random(n) < 0.05)
    days = rng.integers(0, 365, n)
    births = [date(int(y), 1, 1).fromordinal(date(int(y), 1, 1).toordinal() + int(d)) for y, d in zip(years, days)]
    villages = [f"530521{t:03d}{v:03d}" for t, v in zip(rng.integers(101, 110, n), rng.integers(201, 215, n))]
    reg = _registry([{"person_id": 1000 + i, "name": str(names[i]), "sex": "男" if male[i] else "女",
                      "birth_date": births[i], "village_code": villages[i]} for i in range(n)])
    feed = []
    for j, i in enumerate(rng.choice(n, 600, replace=False)):
        feed.append({"row_id": j, "name": str(names[i]), "sex": "男" if male[i] else "女", "birth_date": births[i],
                     "village_code": villages[i]})
    model = train(_left(feed), reg)
    return reg, feed, model


def _one(reg, model, row):
    out = link(_left([dict(row, row_id=0)]), reg, model=model)
    return out.to_pylist()[0]


def test_homophone_links(world):
    reg, _, model = world
    reg2 = pa.concat_tables([reg, _registry([{"person_id": 1, "name": "张伟", "sex": "男",
                                                "birth_date": date(1980, 3, 14), "village_code": "530521101201"}])])
    r = _one(reg2, model, {"name": "张玮", "sex": "男", "birth_date": date(1980, 3, 14), "village_code": "530521101201"})
    assert r["person_id"] == 1 and r["decision"] == "auto" and r["probability"] > 0.99
    assert "name:pinyin_equal" in r["explanation"]


def test_swapped_day_month(world):
    reg, _, model = world
    reg2 = pa.concat_tables([reg, _registry([{"person_id": 2, "name": "李秀英", "sex": "女",
                                                "birth_date": date(1975, 4, 9), "village_code": "530521102203"}])])
    r = _one(reg2, model, {"name": "李秀英", "sex": "女", "birth_date": date(1975, 9, 4), "village_code": "530521102203"})
    assert r["person_id"] == 2 and r["decision"] == "auto" and "birth:swapped" in r["explanation"]


def test_same_name_elsewhere_not_auto(world):
    reg, _, model = world
    reg2 = pa.concat_tables([reg, _registry([{"person_id": 3, "name": "王建国", "sex": "男",
                                                "birth_date": date(1960, 1, 5), "village_code": "530521101201"}])])
    r = _one(reg2, model, {"name": "王建国", "sex": "男", "birth_date": date(1971, 8, 20),
                           "village_code": "530521108212"})
    assert r["decision"] != "auto"


def test_twins_not_confused(world):
    reg, _, model = world
    twins = _registry([
        {"person_id": 4, "name": "刘明辉", "sex": "男", "birth_date": date(2001, 6, 1), "village_code": "530521103205"},
        {"person_id": 5, "name": "刘明亮", "sex": "男", "birth_date": date(2001, 6, 1), "village_code": "530521103205"},
    ])
    reg2 = pa.concat_tables([reg, twins])
    out = link(_left([{"row_id": 0, "name": "刘明辉", "sex": "男", "birth_date": date(2001, 6, 1),
                       "village_code": "530521103205"},
                      {"row_id": 1, "name": "刘明亮", "sex": "男", "birth_date": date(2001, 6, 1),
                       "village_code": "530521103205"}]), reg2, model=model).to_pylist()
    assert [o["person_id"] for o in out] == [4, 5]
    assert all(o["decision"] == "auto" for o in out)
    assert all(o["second_best_gap"] > 10 for o in out)


def test_minority_name_with_and_without_dot(world):
    reg, _, model = world
    reg2 = pa.concat_tables([reg, _registry([{"person_id": 6, "name": "阿依古丽·买买提", "sex": "女",
                                                "birth_date": date(1990, 2, 3), "village_code": "530521104206"}])])
    for nm in ("阿依古丽买买提", "阿依古丽 · 买买提", "买买提·阿依古丽"):
        r = _one(reg2, model, {"name": nm, "sex": "女", "birth_date": date(1990, 2, 3), "village_code": "530521104206"})
        assert r["person_id"] == 6 and r["decision"] == "auto", (nm, r)


def test_feed_accuracy_and_determinism(world):
    reg, feed, model = world
    left = _left(feed)
    a = link(left, reg, model=model)
    b = link(left, reg, model=model)
    assert a.equals(b)
    truth = {r["row_id"]: 1000 + int(i) for r, i in zip(feed, range(len(feed)))}
    pids = reg.column("person_id").to_pylist()
    names = reg.column("name").to_pylist()
    auto = [o for o in a.to_pylist() if o["decision"] == "auto"]
    assert len(auto) >= 0.98 * len(feed)
    # every auto-link has the row's exact name (the feed copies are exact)
    name_of = dict(zip(pids, names))
    assert all(name_of[o["person_id"]] == feed[o["row_id"]]["name"] for o in auto)
    assert len(truth) == len(feed)
    m2 = train(left, reg)
    assert m2.fingerprint == model.fingerprint  # deterministic training


def test_calibration_monotone(world):
    reg, _, model = world
    p = prepare(_left([{"row_id": 0, "name": "x"}]), reg.slice(0, 1), model.settings)
    base = {"name": "周志强", "sex": "男", "birth_date": date(1970, 5, 6), "village_code": "530521105207"}
    reg2 = pa.concat_tables([reg, _registry([dict(base, person_id=7)])])
    variants = [
        {"name": "钱多多", "sex": "女", "birth_date": date(1970, 5, 6), "village_code": "530521105207"},
        {"name": "周志强", "sex": "女", "birth_date": date(1970, 5, 6), "village_code": "530521105207"},
        dict(base),
    ]
    probs = []
    for v in variants:
        out = link(_left([dict(v, row_id=0)]), reg2, model=model).to_pylist()[0]
        probs.append(out["probability"] if out["person_id"] in (7, None) else 0.0)
    assert probs[0] < probs[1] < probs[2]
    assert p.n_left == 1
    for c in model.comparisons:
        w = [math.log2(a / b) for a, b in zip(model.m[c["name"]], model.u[c["name"]])]
        assert w[0] > 0 and w[-1] <= 0, c["name"]


def test_labelled_pairs_change_model(world, tmp_path):
    reg, feed, model = world
    left = _left(feed)
    out = link(left, reg, model=model).to_pylist()
    # reviewers reject 30 auto-links: the model must move towards "these patterns are not matches"
    rejected = pa.table({"row_id": pa.array([o["row_id"] for o in out[:30]], pa.int64()),
                         "person_id": pa.array([o["person_id"] for o in out[:30]], pa.int64()),
                         "is_match": pa.array([False] * 30)})
    m2 = train(left, reg, labelled_pairs=rejected)
    assert m2.fingerprint != model.fingerprint
    assert m2.trained_on["labelled_pairs"] == 30
    w_before = math.log2(model.m["name"][0] / model.u["name"][0])
    w_after = math.log2(m2.m["name"][0] / m2.u["name"][0])
    assert w_after < w_before
    path = tmp_path / "model.json"
    m2.save(path)
    m3 = LinkModel.load(path)
    assert m3.fingerprint == m2.fingerprint


def test_blocking_and_levels_shapes(world):
    reg, feed, model = world
    s = chinese_settings()
    p = prepare(_left(feed[:50]), reg, s)
    li, ri = candidate_pairs(p, s)
    lv = compare(p, s, li, ri)
    assert lv.shape == (li.size, len(s["comparisons"]))
    assert np.all(np.diff(li) >= 0)


def test_candidate_pairs_sorted_unique(world):
    reg, feed, _ = world
    s = chinese_settings()
    p = prepare(_left(feed), reg, s)
    li, ri = candidate_pairs(p, s)
    code = li * p.n_right + ri
    assert np.all(np.diff(code) > 0)  # sorted by (left, right), no pair twice


def test_link_index_roundtrip(world, tmp_path):
    from fangpin.linkage import LinkIndex, build_index

    reg, feed, model = world
    left = _left(feed)
    idx = build_index(reg)
    idx.save(tmp_path / "ix")
    loaded = LinkIndex.load(tmp_path / "ix", registry=reg)
    assert loaded.fingerprint == idx.fingerprint and loaded.n == reg.num_rows
    a = link(left, reg, model=model)
    assert a.equals(link(left, idx, model=model))
    assert a.equals(link(left, loaded, model=model))
    assert train(left, loaded).fingerprint == model.fingerprint
    # another snapshot: load refuses, load_or_build rebuilds
    reg2 = reg.slice(0, reg.num_rows - 1)
    assert not loaded.matches(reg2)
    with pytest.raises(ValueError):
        LinkIndex.load(tmp_path / "ix", registry=reg2)
    rebuilt = LinkIndex.load_or_build(tmp_path / "ix", reg2)
    assert rebuilt.n == reg2.num_rows and LinkIndex.load(tmp_path / "ix", registry=reg2).n == reg2.num_rows
    # other blocking rules: the index is refused
    s = chinese_settings()
    s["blocking"] = s["blocking"][:2]
    with pytest.raises(ValueError):
        link(left, idx, settings=s)


def test_pinyin_ids_do_not_depend_on_reading_order():
    from fangpin.linkage.names import _PinyinTables, _tables, hash_strings

    chars = np.array([ord(c) for c in "张伟玮曾李秀英阿依古丽买"], dtype=np.uint32)
    fresh = _PinyinTables()
    ids_rev = fresh.lookup(chars[::-1])[::-1]
    assert np.array_equal(ids_rev, _tables().lookup(chars))
    assert ids_rev[1] == ids_rev[2]  # 伟 / 玮: same syllable, same id
    arr = pa.array(["13800000000", None, "abc", "13800000000", "acb"] * 5)
    h = hash_strings(arr)
    assert np.array_equal(h, hash_strings(arr, chunk=3))
    assert h[0] == h[3] and h[2] != h[4] and h[1] == -1


def _index_arrays(idx):
    out = {"fingerprint": idx.fingerprint, "person_id": idx.person_id, "tf_u": idx.tf_u_avg}
    for k, f in dict.items(idx.features):
        out["f:" + k] = (f.v, f.ok) if hasattr(f, "v") else f
    for k, v in idx.tf_count.items():
        out["tf:" + k] = v
    for tup, b in idx.blocks.items():
        out[f"b:{tup}"] = (b.keys, b.starts, b.perm)
    return out


def _same(a, b):
    if isinstance(a, tuple):
        return all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize("threads", [2, 3])
def test_threaded_linkage_equals_serial(world, monkeypatch, threads):
    """fangpin.linkage.parallel: row slices, blocking tables, joins and comparisons on several threads give the
    serial index (same arrays, dtypes and key order) and the same links."""
    from fangpin.linkage import build_index, parallel

    reg, feed, model = world
    left = _left(feed)
    serial_idx = build_index(reg, threads=1)
    serial = link(left, serial_idx, model=model)
    monkeypatch.setattr(parallel, "MIN_ROWS", 0)  # the world is small: force the threaded path everywhere
    monkeypatch.setenv("FANGPIN_LINK_THREADS", str(threads))
    idx = build_index(reg)
    a, b = _index_arrays(serial_idx), _index_arrays(idx)
    assert list(a) == list(b)
    assert [k for k in a if not _same(a[k], b[k])] == []
    assert list(dict.keys(idx.features)) == list(dict.keys(serial_idx.features))
    assert link(left, idx, model=model).equals(serial)
    p1, p2 = prepare(left, serial_idx, model.settings), prepare(left, idx, model.settings)
    li, ri = candidate_pairs(p2, model.settings)
    monkeypatch.setenv("FANGPIN_LINK_THREADS", "1")
    li1, ri1 = candidate_pairs(p1, model.settings)
    assert np.array_equal(li, li1) and np.array_equal(ri, ri1)


def test_threaded_string_dictionaries_equal_serial(monkeypatch):
    """String comparisons (FEBRL settings) keep one dictionary over the whole column on the threaded path."""
    from fangpin.linkage import febrl_settings
    from fangpin.linkage.features import side_features
    from fangpin.linkage import parallel

    rng = np.random.default_rng(3)
    words = np.array(["smith", "jones", "li", "wang", "o'brien", " Smith ", "", None], dtype=object)
    t = pa.table({c["column"]: pa.array(rng.choice(words, 500).tolist(), pa.string())
                  for c in febrl_settings()["comparisons"] if c["kind"] != "date"}
                 | {"date_of_birth": pa.array(rng.choice(["19900101", "1985-3-4", None], 500).tolist())})
    s1, d1 = side_features(t, febrl_settings(), threads=1)
    monkeypatch.setattr(parallel, "MIN_ROWS", 0)
    s3, d3 = side_features(t, febrl_settings(), threads=3)
    assert list(dict.keys(s1)) == list(dict.keys(s3)) and list(d1) == list(d3)
    assert all(d1[k].equals(d3[k]) for k in d1)
    for k in dict.keys(s1):
        x, y = dict.__getitem__(s1, k), dict.__getitem__(s3, k)
        assert _same((x.v, x.ok), (y.v, y.ok)) if hasattr(x, "v") else _same(x, y)


def test_compiled_kernels_equal_numpy_paths(monkeypatch):
    """fangpin.linkage.kernels (numba UTF-8 decoding and string hashes) give the numpy paths' values exactly,
    on CJK, compound/4-byte characters, full-width letters, dots, spaces, zero-width characters, nulls, empty
    strings, names longer than the matrix width and an offset slice; fangpin.linkage.sorting equals numpy's
    stable argsort, with duplicate and extreme keys."""
    from fangpin.linkage import kernels, names, sorting

    base = ["张伟", "欧阳·娜", "阿依古丽·买买提", " 李 秀英 ", "Ｚｈａｎｇ", "𠀀𠀁吉", "", None, "abc.def",
            "王\u200b五", "x" * 30, "ä", "13800000000", "艾力．买买提"]
    rng = np.random.default_rng(0)
    arr = pa.array([base[i] for i in rng.integers(0, len(base), 5000)], pa.string()).slice(7)
    monkeypatch.setattr(kernels, "MIN_ROWS", 10 ** 12)
    want = [names.codepoint_matrix(arr, 12), names.codepoint_matrix(arr, 12, drop_spaces_and_dots=False),
            names.hash_strings(arr)]
    monkeypatch.setattr(kernels, "MIN_ROWS", 0)
    got = [names.codepoint_matrix(arr, 12), names.codepoint_matrix(arr, 12, drop_spaces_and_dots=False),
           names.hash_strings(arr)]
    for (m0, l0), (m1, l1) in zip(want[:2], got[:2]):
        assert m0.dtype == m1.dtype and l0.dtype == l1.dtype
        assert np.array_equal(m0, m1) and np.array_equal(l0, l1)
    assert np.array_equal(want[2], got[2])

    monkeypatch.setattr(sorting, "MIN_KEYS", 0)
    keys = rng.integers(-2 ** 63, 2 ** 63 - 1, 20_000, dtype=np.int64)
    keys[::3] = keys[5]  # a large block (merge-sorted bucket)
    keys[1::50] = -2 ** 63
    keys[2::70] = 2 ** 63 - 1
    rows = np.arange(keys.size, dtype=np.int32) * 2
    ks, kr = sorting.sort_keys(keys, rows)
    order = np.argsort(keys, kind="stable")
    assert np.array_equal(ks, keys[order]) and np.array_equal(kr, rows[order]) and kr.dtype == rows.dtype
