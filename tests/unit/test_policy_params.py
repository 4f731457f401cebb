"""Dated policy parameters (政策参数) — lookup, fallback, versioning and file validation.

Test names cite the POLICY.md section whose number they check.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fangpin.policy import (
    CATALOGUE,
    DatedValue,
    Jurisdiction,
    ParameterFileError,
    ParameterLookupError,
    ParameterSet,
    candidate_regions,
    load_parameters,
    package_params_dir,
)

YUNNAN_VILLAGE = "530102001201"  # 12-digit village code inside Yunnan (53), city 5301, county 530102
FUJIAN_VILLAGE = "350102100201"


@pytest.fixture(scope="module")
def ps() -> ParameterSet:
    return load_parameters()


def write(dir_: Path, name: str, body: str) -> Path:
    p = dir_ / name
    p.write_text(textwrap.dedent(body), encoding="utf-8")
    return p


COUNTY_FILE = """\
    region: "530102"
    name_zh: 五华区
    name_en: Wuhua District (test)
    parameters:
      monitoring_line:
        values:
          - {from: 2024-07-01, value: 9000, reference: "test county override"}
          - {from: 2025-01-01, value: null, reference: "test: county line ended, fall back to province"}
"""


# ----------------------------------------------------------------------------- §3 monitoring line values


def test_policy_s3_national_2021_line_is_6000(ps: ParameterSet) -> None:
    v = ps.get("monitoring_line", "00", date(2021, 1, 1))
    assert v.value == 6000
    assert v.region_matched == "00"
    assert v.unit == "yuan_per_person_year"
    assert "§3" in v.reference and "[P]" in v.reference


def test_policy_s3_yunnan_2023_line_8050_and_2024_line_8700(ps: ParameterSet) -> None:
    assert ps.get("monitoring_line", "53", date(2023, 6, 30)).value == 8050
    assert ps.get("monitoring_line", "53", date(2024, 6, 30)).value == 8700
    assert ps.get("monitoring_line", "53", date(2025, 6, 30)).value == 8700


def test_policy_s3_fujian_2023_line_is_10560(ps: ParameterSet) -> None:
    v = ps.get("monitoring_line", FUJIAN_VILLAGE, date(2023, 3, 1))
    assert v.value == 10560
    assert v.region_matched == "35"
    assert v.source_file.endswith("35.yaml")


def test_policy_s3_province_line_date_boundary_day_before_and_on_from(ps: ParameterSet) -> None:
    # Day before Yunnan's 2023 value: no provincial value in force → national floor 6,000.
    before = ps.get("monitoring_line", YUNNAN_VILLAGE, date(2022, 12, 31))
    assert (before.value, before.region_matched) == (6000, "00")
    on = ps.get("monitoring_line", YUNNAN_VILLAGE, date(2023, 1, 1))
    assert (on.value, on.region_matched, on.from_date, on.to_date) == (8050, "53", date(2023, 1, 1), date(2024, 1, 1))
    assert ps.get("monitoring_line", YUNNAN_VILLAGE, date(2023, 12, 31)).value == 8050
    assert ps.get("monitoring_line", YUNNAN_VILLAGE, date(2024, 1, 1)).value == 8700


def test_policy_s3_province_without_file_falls_back_to_national(ps: ParameterSet) -> None:
    v = ps.get("monitoring_line", "620102001201", date(2023, 6, 1))  # Gansu: no file shipped
    assert (v.value, v.region_matched) == (6000, "00")


def test_policy_s3_western_province_7300_is_not_shipped_as_a_monitoring_line(ps: ParameterSet) -> None:
    # POLICY.md §3 names no province for the 2023 value 7,300: no shipped file may carry it as a line.
    for region in ps.regions:
        for dv in ps.series("monitoring_line", region):
            assert dv.value != 7300


# ----------------------------------------------------------------------------- §12 region fallback


def test_policy_s12_lookup_falls_back_village_county_city_province_national(tmp_path: Path) -> None:
    write(tmp_path, "530102.yaml", COUNTY_FILE)
    write(tmp_path, "5301.yaml", """\
        region: "5301"
        name_zh: 昆明市
        name_en: Kunming (test)
        parameters:
          public_notice_min_days:
            values:
              - {from: 2021-01-01, value: 7, reference: "test city override"}
    """)
    ps = load_parameters([tmp_path])
    on = date(2024, 8, 1)
    county = ps.get("monitoring_line", YUNNAN_VILLAGE, on)
    assert (county.value, county.region_matched) == (9000, "530102")
    assert county.source_file == str(tmp_path / "530102.yaml")
    city = ps.get("public_notice_min_days", YUNNAN_VILLAGE, on)
    assert (city.value, city.region_matched) == (7, "5301")
    # Another county of Yunnan: province value.
    prov = ps.get("monitoring_line", "530302001201", on)
    assert (prov.value, prov.region_matched) == (8700, "53")
    # Parameter set only nationally.
    nat = ps.get("identification_max_days", YUNNAN_VILLAGE, on)
    assert (nat.value, nat.region_matched) == (15, "00")
    # Before the county value starts, the province value applies (day before / on `from`).
    assert ps.get("monitoring_line", YUNNAN_VILLAGE, date(2024, 6, 30)).region_matched == "53"
    assert ps.get("monitoring_line", YUNNAN_VILLAGE, date(2024, 7, 1)).region_matched == "530102"


def test_policy_s12_null_value_ends_county_value_and_falls_back(tmp_path: Path) -> None:
    write(tmp_path, "530102.yaml", COUNTY_FILE)
    ps = load_parameters([tmp_path])
    assert ps.get("monitoring_line", YUNNAN_VILLAGE, date(2024, 12, 31)).value == 9000
    after = ps.get("monitoring_line", YUNNAN_VILLAGE, date(2025, 1, 1))
    assert (after.value, after.region_matched) == (8700, "53")


def test_policy_s12_candidate_regions_accepts_6_9_12_digit_codes() -> None:
    assert candidate_regions("530102001201") == ("530102", "5301", "53", "00")
    assert candidate_regions("530102001") == ("530102", "5301", "53", "00")
    assert candidate_regions("530102") == ("530102", "5301", "53", "00")
    assert candidate_regions("5301") == ("5301", "53", "00")
    assert candidate_regions("53") == ("53", "00")
    assert candidate_regions("00") == ("00",)
    for bad in ["5", "530", "53010200120", "abc", "53-01", ""]:
        with pytest.raises(ParameterLookupError):
            candidate_regions(bad)


def test_policy_s1_identification_15_days_not_in_force_before_2023(ps: ParameterSet) -> None:
    assert ps.get("identification_max_days", "53", date(2023, 1, 1)).value == 15
    with pytest.raises(ParameterLookupError, match="identification_max_days"):
        ps.get("identification_max_days", "53", date(2022, 12, 31))


def test_policy_s1_disaster_measures_before_identification_from_2025(ps: ParameterSet) -> None:
    assert ps.get("disaster_measures_before_identification", "35", date(2024, 12, 31)).value is False
    assert ps.get("disaster_measures_before_identification", "35", date(2025, 1, 1)).value is True


def test_policy_s10_minimum_wage_has_no_invented_default(ps: ParameterSet) -> None:
    with pytest.raises(ParameterLookupError) as e:
        ps.get("minimum_wage_month", YUNNAN_VILLAGE, date(2024, 1, 1))
    assert "minimum_wage_month" in str(e.value) and "无在用" in str(e.value)


def test_lookup_unknown_parameter_is_a_clear_error(ps: ParameterSet) -> None:
    with pytest.raises(ParameterLookupError, match="unknown parameter 'poverty_line'"):
        ps.get("poverty_line", "53", date(2024, 1, 1))


def test_policy_s6_s10_snapshot_has_every_parameter_in_force(ps: ParameterSet) -> None:
    snap = ps.snapshot(YUNNAN_VILLAGE, date(2024, 5, 1))
    assert snap["monitoring_line"].value == 8700
    assert snap["rural_disposable_income_prev_year"].value == 21691  # 2023 national figure, in force in 2024
    assert snap["dibao_standard_rural_year"].value == 7500
    assert snap["medical_oop_trigger_ratio_monitored"].value == 0.5
    assert "minimum_wage_month" not in snap
    assert set(snap) == set(CATALOGUE) - {"minimum_wage_month"}
    for name, pv in snap.items():
        assert pv.name == name and pv.unit == CATALOGUE[name].unit


# ----------------------------------------------------------------------------- version hash


def test_version_is_stable_and_16_hex_of_full_sha256(ps: ParameterSet) -> None:
    again = load_parameters()
    assert again.version == ps.version
    assert len(ps.version_full) == 64 and ps.version_full.startswith(ps.version)
    int(ps.version_full, 16)


def test_version_is_stable_across_processes(ps: ParameterSet) -> None:
    code = "from fangpin.policy import load_parameters; print(load_parameters().version_full)"
    src = str(Path(__import__("fangpin.policy").policy.__file__).parents[2])
    out = set()
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": src}
        out.add(subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                               text=True).stdout.strip())
    assert out == {ps.version_full}


def test_version_changes_when_a_value_changes_not_when_a_comment_changes(tmp_path: Path, ps: ParameterSet) -> None:
    d1, d2, d3 = (tmp_path / n for n in ("a", "b", "c"))
    for d in (d1, d2, d3):
        d.mkdir()
    write(d1, "530102.yaml", COUNTY_FILE)
    write(d2, "530102.yaml", "# a comment only\n" + textwrap.dedent(COUNTY_FILE))
    write(d3, "530102.yaml", COUNTY_FILE.replace("value: 9000", "value: 9001"))
    v1, v2, v3 = (load_parameters([d]).version for d in (d1, d2, d3))
    assert v1 != ps.version
    assert v1 == v2
    assert v3 != v1


# ----------------------------------------------------------------------------- shipped files


def shipped_files() -> list[Path]:
    return sorted(package_params_dir().glob("*.yaml"))


def test_shipped_files_are_national_yunnan_fujian() -> None:
    assert [p.name for p in shipped_files()] == ["35.yaml", "53.yaml", "cn.yaml"]


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: p.name)
def test_every_shipped_value_has_a_reference_citing_its_source(path: Path) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    for name, entry in raw["parameters"].items():
        assert name in CATALOGUE
        for v in entry["values"]:
            ref = v.get("reference", "")
            assert isinstance(ref, str) and ref.strip(), f"{path.name}: {name} has a value without reference"
            # A source: POLICY.md section, seed line or CALIBRATION.md — and a confidence tag or "untagged".
            assert any(s in ref for s in ("POLICY.md §", "seed 004", "CALIBRATION.md")), ref
            assert any(t in ref for t in ("[P]", "[L]", "[V", "untagged")), ref


def test_every_catalogue_parameter_except_minimum_wage_has_a_national_value(ps: ParameterSet) -> None:
    missing = {n for n in CATALOGUE if not ps.series(n, "00")}
    assert missing == {"minimum_wage_month"}


def test_docs_policy_parameters_table_lists_every_catalogue_parameter() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "POLICY_PARAMETERS.md"
    if not doc.exists():
        pytest.skip("docs/ not present (installed package)")
    text = doc.read_text(encoding="utf-8")
    for name, spec in CATALOGUE.items():
        assert f"| `{name}` | {spec.unit} |" in text, name


# ----------------------------------------------------------------------------- bad files


GOOD = {
    "region": "530102",
    "name_zh": "测试县",
    "name_en": "Test county",
    "parameters": {
        "monitoring_line": {
            "unit": "yuan_per_person_year",
            "values": [
                {"from": date(2024, 1, 1), "value": 9000, "reference": "test"},
                {"from": date(2025, 1, 1), "value": 9500, "reference": "test"},
            ],
        }
    },
}


def _mutate(path: list, new, *, delete: bool = False) -> dict:
    import copy

    doc = copy.deepcopy(GOOD)
    node = doc
    for k in path[:-1]:
        node = node[k]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = new
    return doc


ML = ["parameters", "monitoring_line"]
V0 = ML + ["values", 0]
V1 = ML + ["values", 1]

BAD_CASES = {
    # id: (document, expected key path, expected English fragment, expected Chinese fragment)
    "unknown_top_level_key": (_mutate(["schema"], {}), "schema", "unknown key", "未知键"),
    "unknown_parameter": (_mutate(["parameters", "poverty_line"], GOOD["parameters"]["monitoring_line"]),
                          "parameters.poverty_line", "not in the catalogue", "未登记"),
    "unknown_value_key": (_mutate(V0 + ["note"], "x"), "parameters.monitoring_line.values[0].note",
                          "unknown key", "未知键"),
    "dates_not_increasing": (_mutate(V1 + ["from"], date(2023, 1, 1)),
                             "parameters.monitoring_line.values[1].from", "dates must increase", "严格递增"),
    "dates_equal": (_mutate(V1 + ["from"], date(2024, 1, 1)),
                    "parameters.monitoring_line.values[1].from", "dates must increase", "严格递增"),
    "date_as_integer": (_mutate(V0 + ["from"], 20240101), "parameters.monitoring_line.values[0].from",
                        "must be a date written YYYY-MM-DD", "日期应写作"),
    "missing_from": (_mutate(V0 + ["from"], None, delete=True), "parameters.monitoring_line.values[0].from",
                     "required", "缺少"),
    "missing_reference": (_mutate(V1 + ["reference"], None, delete=True),
                          "parameters.monitoring_line.values[1].reference", "required", "缺少"),
    "empty_reference": (_mutate(V0 + ["reference"], "  "), "parameters.monitoring_line.values[0].reference",
                        "reference must not be empty", "不能为空"),
    "number_given_string": (_mutate(V0 + ["value"], "9000元"), "parameters.monitoring_line.values[0].value",
                            "must be a number", "应为数值"),
    "number_given_bool": (_mutate(V0 + ["value"], True), "parameters.monitoring_line.values[0].value",
                          "must be a number", "应为数值"),
    "number_not_positive": (_mutate(V0 + ["value"], -1), "parameters.monitoring_line.values[0].value",
                            "greater than 0", "应大于0"),
    "first_value_null": (_mutate(V0 + ["value"], None), "parameters.monitoring_line.values[0].value",
                         "cannot be null", "首个取值不能为空"),
    "wrong_unit": (_mutate(ML + ["unit"], "yuan_per_month"), "parameters.monitoring_line.unit",
                   "unit must be", "单位应为"),
    "empty_values": (_mutate(ML + ["values"], []), "parameters.monitoring_line.values", "at least 1", "不能为空"),
    "int_given_float": (_mutate(["parameters"], {"income_rolling_months": {"values": [
        {"from": date(2024, 1, 1), "value": 12.5, "reference": "t"}]}}),
        "parameters.income_rolling_months.values[0].value", "whole number", "应为整数"),
    "ratio_out_of_range": (_mutate(["parameters"], {"sharp_income_drop_ratio": {"values": [
        {"from": date(2024, 1, 1), "value": 1.5, "reference": "t"}]}}),
        "parameters.sharp_income_drop_ratio.values[0].value", "between 0 and 1", "0到1之间"),
    "bool_given_number": (_mutate(["parameters"], {"sudden_hardship_uses_claims": {"values": [
        {"from": date(2024, 1, 1), "value": 1, "reference": "t"}]}}),
        "parameters.sudden_hardship_uses_claims.values[0].value", "true or false", "true 或 false"),
    "region_code_wrong_length": (_mutate(["region"], "530"), "region", "region code", "辖区代码"),
    "region_code_not_digits": (_mutate(["region"], "yn"), "region", "region code", "辖区代码"),
    "region_code_city_ending_00": (_mutate(["region"], "5300"), "region", "region code", "辖区代码"),
    "region_code_as_number": (_mutate(["region"], 530102), "region", "valid string", "应为字符串"),
    "missing_name_zh": (_mutate(["name_zh"], None, delete=True), "name_zh", "required", "缺少"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_file_message_names_file_key_and_reason_in_english_and_chinese(tmp_path: Path, case: str) -> None:
    doc, key, en, zh = BAD_CASES[case]
    write(tmp_path, "530102.yaml", yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    with pytest.raises(ParameterFileError) as e:
        load_parameters([tmp_path])
    err = e.value
    assert err.file.endswith("530102.yaml")
    assert err.key_path == key
    msg = str(err)
    assert msg.startswith(f"{err.file}: {key}: ")
    assert "Value error" not in msg and "||" not in msg
    assert en in msg, msg
    assert zh in msg, msg


def test_good_county_file_loads(tmp_path: Path) -> None:
    write(tmp_path, "530102.yaml", yaml.safe_dump(GOOD, allow_unicode=True, sort_keys=False))
    assert load_parameters([tmp_path]).get("monitoring_line", "530102", date(2025, 1, 1)).value == 9500


def test_duplicate_region_file_names_both_files(tmp_path: Path) -> None:
    write(tmp_path, "53.yaml", """\
        region: "53"
        name_zh: 云南省
        name_en: Yunnan (copy)
        parameters: {}
    """)
    with pytest.raises(ParameterFileError) as e:
        load_parameters([tmp_path])
    msg = str(e.value)
    assert e.value.key_path == "region"
    assert str(tmp_path / "53.yaml") in msg and "policy/params/53.yaml" in msg
    assert "duplicate region" in msg and "重复" in msg


def test_file_name_must_match_region(tmp_path: Path) -> None:
    write(tmp_path, "wuhua.yaml", yaml.safe_dump(GOOD, allow_unicode=True))
    with pytest.raises(ParameterFileError, match=r"wuhua\.yaml: region: .*530102\.yaml"):
        load_parameters([tmp_path])


def test_duplicate_yaml_key_is_rejected_with_line(tmp_path: Path) -> None:
    write(tmp_path, "530102.yaml", """\
        region: "530102"
        name_zh: 测试县
        name_en: Test
        parameters:
          monitoring_line:
            values:
              - {from: 2024-01-01, value: 9000, reference: "t"}
          monitoring_line:
            values:
              - {from: 2024-01-01, value: 9500, reference: "t"}
    """)
    with pytest.raises(ParameterFileError) as e:
        load_parameters([tmp_path])
    assert e.value.key_path == "line 8"
    assert "duplicate key 'monitoring_line'" in str(e.value) and "YAML 格式错误" in str(e.value)


def test_invalid_yaml_and_non_mapping_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, "530102.yaml", "region: [unclosed\n")
    with pytest.raises(ParameterFileError, match=r"530102\.yaml: line \d+: invalid YAML"):
        load_parameters([tmp_path])
    write(tmp_path, "530102.yaml", "- just a list\n")
    with pytest.raises(ParameterFileError, match="top level must be a mapping"):
        load_parameters([tmp_path])


def test_missing_extra_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ParameterFileError, match="not a directory"):
        load_parameters([tmp_path / "nope"])


# ----------------------------------------------------------------------------- property: in-force rule

dates = st.dates(min_value=date(2021, 1, 1), max_value=date(2030, 12, 31))


@settings(max_examples=200, deadline=None)
@given(
    prov=st.lists(dates, min_size=1, max_size=5, unique=True),
    nat=st.lists(dates, min_size=1, max_size=5, unique=True),
    on=dates,
)
def test_policy_s3_lookup_takes_latest_from_le_date_most_specific_first(prov, nat, on) -> None:
    def series(ds, base):
        return tuple(DatedValue(d, base + i, f"r{i}") for i, d in enumerate(sorted(ds)))

    ps = ParameterSet([
        Jurisdiction("00", "全国", "National", "cn.yaml", {"monitoring_line": series(nat, 1000)}),
        Jurisdiction("53", "云南", "Yunnan", "53.yaml", {"monitoring_line": series(prov, 5000)}),
    ])
    prov_in = [d for d in sorted(prov) if d <= on]
    nat_in = [d for d in sorted(nat) if d <= on]
    if prov_in:
        expected = (5000 + len(prov_in) - 1, "53", prov_in[-1])
    elif nat_in:
        expected = (1000 + len(nat_in) - 1, "00", nat_in[-1])
    else:
        with pytest.raises(ParameterLookupError):
            ps.get("monitoring_line", YUNNAN_VILLAGE, on)
        return
    got = ps.get("monitoring_line", YUNNAN_VILLAGE, on)
    assert (got.value, got.region_matched, got.from_date) == expected
    assert got.from_date <= on and (got.to_date is None or on < got.to_date)
