"""Code lists as data (代码表) — loading, uniqueness, alias resolution, tolerant matching, file validation.

Test names cite the POLICY.md / FEEDS.md section or the standard each list encodes.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fangpin.codes import CodeList, CodeListError, UnknownCodeError, load_code_lists, lookup, normalise

EXPECTED_LISTS = {
    "risk_types", "disaster_subtypes", "monitored_types", "household_types", "risk_removal_methods",
    "measure_categories", "assistance_types", "health", "labour_skill", "relation_to_head", "education",
    "schooling", "ethnicity", "sex", "disability_category", "disability_grade", "feeds",
}


@pytest.fixture(scope="module")
def lists() -> dict[str, CodeList]:
    return load_code_lists()


def test_every_expected_list_loads(lists: dict[str, CodeList]) -> None:
    assert set(lists) == EXPECTED_LISTS
    for cl in lists.values():
        assert len(cl) > 0 and cl.source and cl.name_zh and cl.name_en


@pytest.mark.parametrize("name", sorted(EXPECTED_LISTS))
def test_codes_and_names_are_unique_and_every_entry_cites_a_source(lists: dict[str, CodeList], name: str) -> None:
    cl = lists[name]
    codes = [c.code for c in cl]
    assert len(codes) == len(set(codes)) == len(cl.by_code)
    for field in ("zh", "en"):
        names = [normalise(getattr(c, field)) for c in cl]
        assert len(names) == len(set(names)), f"{name}: duplicate {field} name"
    for c in cl:
        assert c.source.strip()


@pytest.mark.parametrize("name", sorted(EXPECTED_LISTS))
def test_every_code_name_and_alias_resolves_to_its_own_entry(lists: dict[str, CodeList], name: str) -> None:
    cl = lists[name]
    for c in cl:
        for key in (c.code, c.zh, c.en, *c.aliases):
            assert cl.lookup(key) is c, (name, key)
            assert lookup(name, key) is c


def test_lookups_ignore_full_width_forms_whitespace_and_case(lists: dict[str, CodeList]) -> None:
    assert lookup("monitored_types", "ｔｐｂｗｄ").code == "TPBWD"
    assert lookup("monitored_types", " 脱贫\u3000不稳定户 ").code == "TPBWD"
    assert lookup("ethnicity", "汉 族").code == "01"
    assert lookup("ethnicity", "\t汉族\n").code == "01"
    assert lookup("ethnicity", "ＨＡＮ").code == "01"
    assert lookup("sex", "１").zh == "男"
    assert lookup("sex", "female").code == "2"
    assert lookup("measure_categories", "金融帮扶（小额信贷）").code == "FINANCE"  # full-width parentheses
    assert lookup("disability_grade", "１级").code == "1"


def test_short_numeric_codes_are_zero_padded_because_spreadsheets_drop_zeros() -> None:
    assert lookup("ethnicity", 1).zh == "汉族"
    assert lookup("ethnicity", "7").zh == "彝族"
    assert lookup("relation_to_head", 2).zh == "户主"
    assert lookup("sex", 3) is None  # not padded: widths already match


def test_unknown_values_return_none_and_require_raises_bilingual(lists: dict[str, CodeList]) -> None:
    for v in (None, "", "   ", True, "不存在"):
        assert lookup("risk_types", v) is None
    with pytest.raises(UnknownCodeError, match="不在代码表"):
        lists["risk_types"].require("不存在")
    with pytest.raises(KeyError, match="unknown code list"):
        lookup("nope", "x")
    assert "因病" in lists["risk_types"] and "因穷" not in lists["risk_types"]


def test_gb3304_has_all_56_ethnic_groups_plus_97_and_98(lists: dict[str, CodeList]) -> None:
    eth = lists["ethnicity"]
    assert [f"{i:02d}" for i in range(1, 57)] == [c.code for c in eth if int(c.code) <= 56]
    assert eth.by_code["01"].zh == "汉族" and eth.by_code["56"].zh == "基诺族"
    assert eth.by_code["07"].zh == "彝族" and eth.by_code["18"].zh == "傣族"
    assert {"97", "98"} <= set(eth.by_code)
    assert len(eth) == 58
    assert all(c.zh.endswith("族") for c in eth if int(c.code) <= 56)
    assert len({c.roman_code for c in eth if int(c.code) <= 56}) == 56


def test_policy_s7_risk_types_official_names_and_disaster_subtypes(lists: dict[str, CodeList]) -> None:
    names = [c.zh for c in lists["risk_types"]]
    assert names == ["因病", "因残", "因学", "因自然灾害", "因意外事故", "因产业项目失败", "因务工就业不稳", "缺劳动力",
                     "住房出现安全问题", "义务教育阶段适龄儿童少年失学辍学", "饮水安全问题", "家庭成员未参加基本医疗保险", "其他"]
    disaster = lists["risk_types"].by_code["NATURAL_DISASTER"]
    assert disaster.subtypes == "disaster_subtypes"
    assert [c.zh for c in lists[disaster.subtypes]] == ["洪涝", "地质", "旱灾", "生物", "气象", "地震", "其他"]
    for c in lists["risk_types"]:
        assert all(f in lists["feeds"].by_code for f in c.evidence_feeds)


def test_policy_s2_monitored_and_household_types(lists: dict[str, CodeList]) -> None:
    assert {c.code: c.zh for c in lists["monitored_types"]} == {
        "TPBWD": "脱贫不稳定户", "BYYZP": "边缘易致贫户", "TFYZKN": "突发严重困难户"}
    assert [c.zh for c in lists["household_types"]] == ["脱贫户", "一般农户"]


def test_policy_s9_removal_methods(lists: dict[str, CodeList]) -> None:
    assert [c.zh for c in lists["risk_removal_methods"]] == ["帮扶消除", "自然消除"]


def test_policy_s8_measure_categories_have_groups(lists: dict[str, CodeList]) -> None:
    by_group: dict[str, set[str]] = {}
    for c in lists["measure_categories"]:
        by_group.setdefault(c.group, set()).add(c.zh)
    assert by_group == {
        "development": {"产业帮扶", "就业帮扶", "金融帮扶", "公益岗位帮扶"},
        "guarantee": {"健康帮扶", "义务教育保障", "其他教育帮扶", "住房安全保障", "饮水安全保障"},
        "protection": {"综合保障", "社会帮扶"},
        "other": {"搬迁", "生产生活条件改善", "基础设施建设"},
    }


def test_policy_s10_assistance_types_match_civil_affairs_feed(lists: dict[str, CodeList]) -> None:
    assert [c.zh for c in lists["assistance_types"]] == ["低保", "特困", "低保边缘", "临时救助"]


def test_policy_s12_member_lists_match_feeds_roster_values(lists: dict[str, CodeList]) -> None:
    # FEEDS.md §A members: 健康状况 and 劳动技能 values.
    assert [c.zh for c in lists["health"]] == ["健康", "长期慢性病", "患有大病", "残疾"]
    labour = {c.zh: c.has_labour for c in lists["labour_skill"]}
    assert labour == {"普通劳动力": True, "技能劳动力": True, "弱劳动力或半劳动力": True,
                      "丧失劳动力": False, "无劳动力": False}
    assert lookup("sex", "男").code == "1" and lookup("sex", "女").code == "2"
    assert [c.code for c in lists["disability_category"]] == list("1234567")
    assert {c.code: c.severe for c in lists["disability_grade"]} == {"1": True, "2": True, "3": False, "4": False}
    assert lookup("relation_to_head", "户主").code == "02"
    assert lookup("relation_to_head", "之儿媳").code == "38" and lookup("relation_to_head", "女婿").code == "28"
    assert lookup("education", "初中").code == "70" and lookup("education", "文盲").code == "90"
    assert lookup("schooling", "八年级").code == "JUNIOR" and lookup("schooling", "八年级").compulsory is True
    assert lookup("schooling", "非在校生").compulsory is False


def test_feeds_section_b_nine_department_feeds(lists: dict[str, CodeList]) -> None:
    assert [c.code for c in lists["feeds"]] == [
        "civil_affairs", "medical", "education", "housing", "water", "employment", "disaster", "disability",
        "public_security"]
    assert lookup("feeds", "应急管理局").code == "disaster"
    assert lookup("feeds", "water").identity == "village"


# ----------------------------------------------------------------------------- bad files


def _write(d: Path, name: str, body: str) -> None:
    (d / name).write_text(textwrap.dedent(body), encoding="utf-8")


HEAD = "list: demo\nname_zh: 演示\nname_en: Demo\nsource: test\n"


@pytest.mark.parametrize(
    ("body", "key", "fragment"),
    [
        ("entries:\n  - {code: A, zh: 甲, en: A1, source: t}\n  - {code: A, zh: 乙, en: B1, source: t}\n",
         "entries[1].code", "duplicate code"),
        ("entries:\n  - {code: A, zh: 甲, en: A1, source: t}\n  - {code: B, zh: 乙, en: B1, aliases: [甲], source: t}\n",
         "entries[1]", "already used"),
        ("entries:\n  - {code: A, zh: 甲, en: A1, source: t}\n  - {code: B, zh: 乙, en: Ａ１, source: t}\n",
         "entries[1]", "already used"),
        ("entries:\n  - {code: A, zh: 甲, en: A1}\n", "entries[0].source", "required"),
        ("entries:\n  - {code: A, zh: 甲, en: A1, colour: red, source: t}\n", "entries[0].colour", "unknown key"),
        ("entries:\n  - {code: 1, zh: 甲, en: A1, source: t}\n", "entries[0].code", "quoted"),
        ("fields:\n  flag: {type: bool, required: true}\nentries:\n  - {code: A, zh: 甲, en: A1, source: t}\n",
         "entries[0].flag", "required field missing"),
        ("fields:\n  flag: {type: bool}\nentries:\n  - {code: A, zh: 甲, en: A1, flag: 'yes', source: t}\n",
         "entries[0].flag", "type bool"),
        ("fields:\n  group: {type: str, allowed: [x]}\nentries:\n  - {code: A, zh: 甲, en: A1, group: y, source: t}\n",
         "entries[0].group", "not in allowed"),
        ("fields:\n  f: {type: str_list, refers_to: demo}\nentries:\n  - {code: A, zh: 甲, en: A1, f: [Z], source: t}\n",
         "entries[0].f", "does not refer"),
        ("entries: []\n", "entries", "at least 1"),
    ],
    ids=["duplicate_code", "alias_collides", "fullwidth_name_collides", "missing_source", "undeclared_key",
         "unquoted_numeric_code", "required_field_missing", "wrong_field_type", "value_not_allowed",
         "dangling_reference", "no_entries"],
)
def test_bad_code_list_file_message_names_file_and_key(tmp_path: Path, body: str, key: str, fragment: str) -> None:
    _write(tmp_path, "demo.yaml", HEAD + body)
    with pytest.raises(CodeListError) as e:
        load_code_lists(tmp_path)
    assert e.value.file == "demo.yaml"
    assert e.value.key_path == key
    assert str(e.value).startswith(f"demo.yaml: {key}: ") and fragment in str(e.value)


def test_list_name_must_match_file_name(tmp_path: Path) -> None:
    _write(tmp_path, "other.yaml", HEAD + "entries:\n  - {code: A, zh: 甲, en: A1, source: t}\n")
    with pytest.raises(CodeListError, match="other.yaml: list: "):
        load_code_lists(tmp_path)


def test_shipped_lists_are_cached_but_callers_get_their_own_dict() -> None:
    a, b = load_code_lists(), load_code_lists()
    assert a is not b and a["sex"] is b["sex"]
    a.pop("sex")
    assert "sex" in load_code_lists()
