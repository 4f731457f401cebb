"""Issue 7 §3: property-based fuzzing of every file importer (roster + each feed contract). Whatever the bytes —
random, truncated or bit-flipped workbooks, zip bombs, huge cells, wrong encodings, HTML/PDF/NUL — the importer
refuses with a bilingual message and writes nothing, or commits exactly one whole batch; no other exception.
Bounded here; `make reliability` runs many more examples."""
from __future__ import annotations

import random
import shutil
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangpin.db import make_engine
from fangpin.exchange.tabular import ColumnSpec, FileRejected, read_table
from fangpin.reliability.fuzz_files import FEEDS, MUTATIONS, FuzzFileOutcome, attempt, build_samples, mutate, zip_bomb


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    return build_samples(tmp_path_factory.mktemp("fuzz") / "county", households=80)


@pytest.fixture(scope="module")
def engine(samples, tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzzdb") / "f.db"
    shutil.copy(samples.template_db, db)
    e = make_engine(f"sqlite:///{db}")
    yield e
    e.dispose()


def test_zip_bomb_is_refused_before_decompression():
    blob = zip_bomb(64)
    assert len(blob) < 1_000_000
    assert sum(i.file_size for i in zipfile.ZipFile(__import__("io").BytesIO(blob)).infolist()) > 64 << 20
    with pytest.raises(FileRejected) as e:
        read_table(blob, columns=[ColumnSpec("姓名", True)], filename="x.xlsx")
    assert e.value.issue.code == "file.zip_bomb" and "压缩炸弹" in e.value.issue.zh and "zip bomb" in e.value.issue.en


def test_a_digit_blob_in_a_number_column_is_a_row_error_not_a_crash():
    from fangpin.exchange.values import parse_int
    from fangpin.issues import FangpinValueError

    with pytest.raises(FangpinValueError):
        parse_int("9" * 5000, field_zh="人数")


TARGETS = [f"feed:{f}" for f in FEEDS] + ["roster:households", "roster:members", "roster:income", "roster:guarantees"]


@settings(max_examples=40, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(target=st.sampled_from(TARGETS), mutation=st.sampled_from(sorted(MUTATIONS)), seed=st.integers(0, 10**6))
def test_every_importer_refuses_cleanly_or_commits_a_whole_batch(samples, engine, tmp_path_factory, target, mutation,
                                                                 seed):
    kind, name = target.split(":")
    src = samples.roster[name] if kind == "roster" else random.Random(seed).choice(samples.feeds[name])
    blob, ext = mutate(mutation, src.read_bytes(), seed)
    out = FuzzFileOutcome()
    attempt(engine, target, blob, ext, samples, tmp_path_factory.mktemp("a"), f"{target} {mutation} {seed}", out)
    assert out.failures == []


@pytest.mark.parametrize("mutation", ["random_bytes", "zip_bomb", "truncate"])
def test_garbage_is_always_rejected(samples, engine, tmp_path_factory, mutation):
    out = FuzzFileOutcome()
    for t in TARGETS:
        kind, name = t.split(":")
        src = samples.roster[name] if kind == "roster" else samples.feeds[name][0]
        blob, ext = mutate(mutation, src.read_bytes(), 1)
        if mutation == "truncate" and not blob.startswith(b"PK"):
            continue  # a truncated CSV can still be a valid (shorter) table
        attempt(engine, t, blob, ext, samples, tmp_path_factory.mktemp("g"), f"{t} {mutation}", out)
    assert out.failures == [] and out.committed == 0 and out.rejected == out.attempts
