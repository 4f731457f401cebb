"""Feed contracts as data (FEEDS.md §B; POLICY.md §6 freshness): the nine shipped contracts and the loader's errors."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from fangpin import codes
from fangpin.exchange.contracts import ContractError, contract_dir, load_contract, load_contracts
from fangpin.exchange.feeds import fallback_link
from fangpin.synth.feeds import FEED_COLUMNS, FEED_KEYS


def test_feeds_md_b_nine_contracts_one_per_feed_code():
    cs = load_contracts()
    assert sorted(cs) == sorted(FEED_KEYS) == sorted(c.code for c in codes.load_code_lists()["feeds"])
    for key, c in cs.items():
        assert c.file == f"{key}.yaml" and c.version >= 1 and c.kind == f"feed:{key}"
        assert c.identity == codes.lookup("feeds", key).extra["identity"]


def test_feeds_md_b_every_listed_column_is_in_its_contract_and_required():
    for key, cols in FEED_COLUMNS.items():
        c = load_contract(key)
        names = {col.name: col for col in c.columns}
        for h in cols:
            assert h in names, (key, h)
        dept = [h for h in cols if h not in ("姓名", "证件号码", "性别", "出生日期", "行政区划代码")]
        assert all(names[h].required for h in dept), key  # FEEDS.md: a missing required column rejects the file


def test_policy_6_freshness_medical_every_10_days_others_monthly():
    cs = load_contracts()
    assert cs["medical"].freshness.every_days == 10 and "POLICY.md §6" in cs["medical"].freshness.source
    assert all(c.freshness.every_days == 31 for k, c in cs.items() if k != "medical")


def test_feeds_md_empty_is_zero_only_where_the_column_says_so():
    med = load_contract("medical")
    assert med.column("critical_illness_insurance").empty_is_zero
    assert not med.column("total_cost").empty_is_zero and not med.column("total_cost").nullable
    assert load_contract("civil_affairs").column("monthly_amount").empty_is_zero


def test_sensitive_identity_columns_are_marked():
    for c in load_contracts().values():
        for col in c.columns:
            if col.type in ("id", "certificate") or col.identity in ("address", "phone"):
                assert col.sensitive, (c.feed, col.name)


def test_lookup_by_department_name():
    assert load_contract("医保").feed == "medical" and load_contract("残联").feed == "disability"
    with pytest.raises(KeyError):
        load_contract("卫健")


def _broken(tmp_path: Path, feed: str, mutate) -> Path:
    d = tmp_path / "c"
    d.mkdir(exist_ok=True)
    raw = yaml.safe_load((contract_dir() / f"{feed}.yaml").read_text(encoding="utf-8"))
    mutate(raw)
    (d / f"{feed}.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return d


@pytest.mark.parametrize("mutate,key,fragment", [
    (lambda r: r["columns"][8].update(type="money"), "columns[8].type", "should be"),
    (lambda r: r.pop("freshness"), "freshness", "required"),
    (lambda r: r["columns"][8].update(type="choice", code_list="no_such_list"), "columns[8]", "no_such_list"),
    (lambda r: r.update(event_date="name"), "", "event_date"),
    (lambda r: r.update(identity="village"), "", "identity"),
    (lambda r: r["columns"][9].update(key="as_of_date"), "", "duplicate column key"),
    (lambda r: r["columns"][8].update(empty_is_zero=True, type="text"), "columns[8]", "empty_is_zero"),
    (lambda r: r.update(feed="medical_x"), "", "feed"),
    (lambda r: r.update(unknown_key=1), "unknown_key", "xtra"),
])
def test_bad_contract_file_error_names_file_and_key(tmp_path, mutate, key, fragment):
    d = _broken(tmp_path, "medical", mutate)
    with pytest.raises(ContractError) as ei:
        load_contracts(d)
    e = ei.value
    assert e.file == "medical.yaml" and str(e).startswith("medical.yaml")
    assert key in e.key_path and fragment.lower() in str(e).lower()
    assert e.reason_zh  # bilingual


def test_unreadable_yaml_is_a_contract_error(tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    (d / "water.yaml").write_text("feed: [water\n", encoding="utf-8")
    with pytest.raises(ContractError, match="water.yaml"):
        load_contracts(d)


def test_shipped_directory_loads_from_a_copy(tmp_path):
    shutil.copytree(contract_dir(), tmp_path / "copy", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    assert sorted(load_contracts(tmp_path / "copy")) == sorted(FEED_KEYS)


def test_fallback_linker_rule_is_exact_and_conservative():
    import datetime as dt

    import pyarrow as pa

    from fangpin.exchange.feeds import LEFT_SCHEMA
    from fangpin.registry.snapshot import PERSON_SCHEMA

    b = dt.date(1980, 1, 2)
    reg = pa.Table.from_pylist([
        {"person_id": 1, "name": "张三", "sex": "男", "birth_date": b, "village_code": "530521101201"},
        {"person_id": 2, "name": "李四", "sex": "女", "birth_date": b, "village_code": "530521101201"},
        {"person_id": 3, "name": "李四", "sex": "女", "birth_date": b, "village_code": "530521101201"},
    ], schema=pa.schema([f for f in PERSON_SCHEMA if f.name in ("person_id", "name", "sex", "birth_date",
                                                                 "village_code")]))
    left = pa.Table.from_pylist([
        {"row_id": 10, "name": "张 三", "sex": "男", "birth_date": b, "village_code": "530521101201"},
        {"row_id": 11, "name": "李四", "sex": "女", "birth_date": b, "village_code": "530521101201"},
        {"row_id": 12, "name": "张三", "sex": "男", "birth_date": b, "village_code": "530521101299"},
        {"row_id": 13, "name": "王五", "sex": "男", "birth_date": b, "village_code": "530521101201"},
    ], schema=LEFT_SCHEMA)
    out = fallback_link(left, reg).to_pylist()
    assert [(o["row_id"], o["person_id"], o["decision"]) for o in out] == [
        (10, 1, "auto"), (11, 2, "review"), (12, 1, "review"), (13, None, "unmatched")]
