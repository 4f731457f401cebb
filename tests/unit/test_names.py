"""Tests for the synthetic Chinese name sampler (CALIBRATION.md, "Names")."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangpin.synth.names import (
    MIDDLE_DOT,
    NameSampler,
    collision_stats,
    default_sampler,
)
from fangpin.synth import names as names_mod


@pytest.fixture(scope="module")
def sampler() -> NameSampler:
    return default_sampler()


def _population(n: int, seed: int) -> tuple[np.random.Generator, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sex_male = rng.random(n) < 0.51
    birth_year = rng.integers(1935, 2024, n)
    return rng, sex_male, birth_year


# --- data file ---------------------------------------------------------------------------------------
def test_surnames_csv_is_clean_and_sums_to_about_one_million():
    with open(names_mod._SURNAMES_CSV, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["surname", "share_per_million", "source"]
        rows = list(reader)
    assert len(rows) >= 300
    surnames = [r["surname"] for r in rows]
    assert len(set(surnames)) == len(surnames)
    total = sum(float(r["share_per_million"]) for r in rows)
    assert total == pytest.approx(1_000_000, rel=0.01)
    assert all(r["source"].strip() for r in rows)
    assert all(("[V" in r["source"]) or ("[interpolated]" in r["source"]) or ("[assumed]" in r["source"])
               for r in rows)
    for s in "王 李 张 曾 单 解 区 仇 查 朴 盖 繁 员 冼 尉迟".split():
        assert s in surnames, s
    for s in "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐".split():
        assert s in surnames, s
    top100 = sorted((float(r["share_per_million"]) for r in rows), reverse=True)[:100]
    assert 0.84 <= sum(top100) / total <= 0.87  # CALIBRATION.md: top 100 cover ~85 %


# --- determinism -------------------------------------------------------------------------------------
def test_same_seed_same_names(sampler):
    def run(seed: int) -> np.ndarray:
        rng, sex, by = _population(5_000, seed)
        mask = rng.random(5_000) < 0.05
        return sampler.full_names(sex, by, rng, minority_mask=mask)

    a, b, c = run(7), run(7), run(8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    # a fresh sampler (same parameters) gives the same stream
    rng, sex, by = _population(5_000, 7)
    mask = rng.random(5_000) < 0.05
    assert np.array_equal(NameSampler().full_names(sex, by, rng, minority_mask=mask), a)


# --- surnames ----------------------------------------------------------------------------------------
def test_surname_distribution(sampler):
    s = sampler.surnames(200_000, np.random.default_rng(1))
    assert s.shape == (200_000,)
    top100 = sampler.surname_table[:100]
    coverage = np.isin(s, top100).mean()
    print(f"top-100 surname coverage in 200k: {coverage:.4f}")
    assert 0.80 <= coverage <= 0.90
    assert np.unique(s).size > 250
    # head order: 王/李/张 are the three most frequent
    uniq, counts = np.unique(s, return_counts=True)
    assert set(uniq[np.argsort(-counts)[:3]].tolist()) == {"王", "李", "张"}


# --- given names -------------------------------------------------------------------------------------
def test_given_names_basic_properties(sampler):
    rng, sex, by = _population(200_000, 2)
    sur = sampler.surnames(200_000, rng)
    g = sampler.given_names(sex, by, rng, surnames=sur)
    assert g.shape == (200_000,)
    lengths = np.strings.str_len(g)
    assert lengths.min() >= 1 and lengths.max() <= 2
    assert not np.any(np.strings.find(g, " ") >= 0)
    assert not np.any(g == sur)
    n_distinct = np.unique(g).size
    print(f"distinct given names in 200k: {n_distinct}")
    assert n_distinct > 20_000
    # doubled characters only as the (rare) reduplicated names
    two = g[lengths == 2]
    doubled = np.array([x[0] == x[1] for x in two.tolist()])
    assert 0.0 < doubled.mean() < 0.05


def test_single_character_share_depends_on_cohort(sampler):
    n = 100_000
    rng = np.random.default_rng(3)
    sex = rng.random(n) < 0.5
    share = {}
    for year in (1945, 1980, 2015):
        g = sampler.given_names(sex, np.full(n, year), rng)
        share[year] = float((np.strings.str_len(g) == 1).mean())
    print(f"one-character given-name share by birth year: {share}")
    assert 0.20 <= share[1980] <= 0.35
    assert share[1945] < share[1980]
    assert share[2015] < share[1980]
    assert share[2015] < 0.12


def test_female_names_use_female_typical_characters(sampler):
    rng, sex, by = _population(100_000, 4)
    g = sampler.given_names(sex, by, rng)
    typical = np.zeros(g.shape, dtype=bool)
    for ch in "芳丽娟霞秀英":
        typical |= np.strings.find(g, ch) >= 0
    female_share = typical[~sex].mean()
    male_share = typical[sex].mean()
    print(f"share with 芳/丽/娟/霞/秀/英: female {female_share:.4f}, male {male_share:.4f}")
    assert female_share > 4 * male_share
    assert female_share > 0.05


# --- minority names ----------------------------------------------------------------------------------
def test_minority_names_styles(sampler):
    rng = np.random.default_rng(5)
    n = 3_000
    sex = rng.random(n) < 0.5
    uy = sampler.minority_names(n, sex, rng, styles=np.full(n, "uyghur"))
    assert np.all(np.strings.find(uy, MIDDLE_DOT) > 0)
    assert not np.any(np.strings.endswith(uy, MIDDLE_DOT))
    tib = sampler.minority_names(n, sex, rng, styles=np.full(n, "tibetan"))
    assert not np.any(np.strings.find(tib, MIDDLE_DOT) >= 0)
    assert np.all(np.strings.str_len(tib) == 4)
    mon = sampler.minority_names(n, sex, rng, styles=np.full(n, "mongol"))
    assert not np.any(np.strings.find(mon, MIDDLE_DOT) >= 0)
    mixed = sampler.minority_names(n, sex, rng)
    assert 0.3 < (np.strings.find(mixed, MIDDLE_DOT) >= 0).mean() < 0.7  # default uyghur share 0.5
    # female Uyghur names carry female components (…古丽, 阿依…)
    uy_f = uy[~sex]
    assert (np.strings.find(uy_f, "古丽") >= 0).mean() > 0.2
    with pytest.raises(ValueError):
        sampler.minority_names(2, sex[:2], rng, styles=np.array(["uyghur", "klingon"]))


def test_full_names_with_given_surnames_and_minority_mask(sampler):
    rng, sex, by = _population(20_000, 6)
    fathers = sampler.surnames(20_000, rng)
    mask = np.zeros(20_000, dtype=bool)
    mask[:1_000] = True
    styles = np.where(np.arange(20_000) < 500, "uyghur", "tibetan")
    full = sampler.full_names(sex, by, rng, surnames=fathers, minority_mask=mask, minority_styles=styles)
    han = full[1_000:]
    assert np.all(np.strings.startswith(han, fathers[1_000:]))
    han_len = np.strings.str_len(han) - np.strings.str_len(fathers[1_000:])
    assert han_len.min() >= 1 and han_len.max() <= 2
    assert np.all(np.strings.find(full[:500], MIDDLE_DOT) > 0)
    assert not np.any(np.strings.find(full[500:], MIDDLE_DOT) >= 0)
    assert not np.any(full == "")
    assert not np.any(np.strings.find(full, " ") >= 0)


# --- collisions --------------------------------------------------------------------------------------
def test_collision_share_in_a_county_is_realistic(sampler):
    rng, sex, by = _population(50_000, 9)
    full = sampler.full_names(sex, by, rng)
    stats = collision_stats(full)
    print(f"collision stats for 50k people: {stats}")
    assert 0.05 <= stats["share_shared"] <= 0.5
    assert stats["distinct"] > 40_000
    assert stats["largest_group"] < 100


def test_collision_stats_small_example():
    stats = collision_stats(np.array(["王伟", "王伟", "李娜", "张敏", "王伟", "李娜"]))
    assert stats == {"n": 6, "distinct": 3, "share_shared": 5 / 6, "largest_group": 3, "most_common": "王伟"}
    assert collision_stats(np.array([], dtype="<U4"))["share_shared"] == 0.0


# --- properties --------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300), year=st.integers(1920, 2025))
def test_full_name_invariants(seed, n, year):
    sampler = default_sampler()
    rng = np.random.default_rng(seed)
    sex = rng.random(n) < 0.5
    mask = rng.random(n) < 0.1
    full = sampler.full_names(sex, np.full(n, year), rng, minority_mask=mask)
    assert full.shape == (n,)
    lengths = np.strings.str_len(full)
    assert np.all(lengths[~mask] >= 2) and np.all(lengths[~mask] <= 4)
    assert np.all(lengths >= 2)
    assert not np.any(np.strings.find(full, " ") >= 0)
