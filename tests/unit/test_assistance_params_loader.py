"""The eligibility calculators' parameters go through the ONE shared loader (fangpin.policy.load_parameters with the
assistance catalogue): same file format, fallback, version hash and bilingual file errors; 0 is valid only where
the catalogue allows it (POLICY.md preamble: every number is a dated, per-province parameter)."""
from __future__ import annotations

from datetime import date

import pytest

from fangpin.assistance import load_assistance_parameters, load_rules
from fangpin.assistance.params import CATALOGUE
from fangpin.policy import ParameterFileError, ParameterSet, load_parameters


def _write(d, region, body):
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{region}.yaml").write_text(f'region: "{region}"\nname_zh: 测试\nname_en: Test\nparameters:\n{body}',
                                      encoding="utf-8")
    return d


def test_assistance_parameters_are_a_policy_parameter_set_with_their_own_catalogue():
    ps = load_assistance_parameters()
    assert isinstance(ps, ParameterSet) and ps.catalogue is CATALOGUE
    v = ps.get("medical_aid_deductible_ratio_tekun", "530102101201", date(2024, 6, 1))
    assert v.value == 0 and v.region_matched == "00" and v.source_file == "assistance/cn.yaml"
    rules = load_rules()
    assert rules.lookup("dibao_standard_rural_year", "53", date(2024, 6, 1)).version.startswith("policy:")
    assert rules.lookup("tekun_elderly_age", "53", date(2024, 6, 1)).version.startswith("assistance:")


def test_county_override_falls_back_like_policy_parameters(tmp_path):
    d = _write(tmp_path / "a", "530102", "  tekun_elderly_age:\n    values:\n"
               "      - {from: 2024-01-01, value: 65, reference: TEST FIXTURE}\n")
    ps = load_assistance_parameters([d])
    assert ps.get("tekun_elderly_age", "530102101201", date(2024, 6, 1)).value == 65
    assert ps.get("tekun_elderly_age", "530102101201", date(2023, 6, 1)).value == 60  # national before 2024
    assert ps.get("tekun_elderly_age", "530103101201", date(2024, 6, 1)).value == 60
    assert ps.version != load_assistance_parameters().version


def test_bad_assistance_file_gives_the_shared_bilingual_error(tmp_path):
    d = _write(tmp_path / "b", "530102", "  tekun_elderly_age:\n    values:\n"
               "      - {from: 2024-01-01, value: -1, reference: TEST FIXTURE}\n")
    with pytest.raises(ParameterFileError) as e:
        load_assistance_parameters([d])
    assert "parameters.tekun_elderly_age.values[0].value" in str(e.value) and "不能为负数" in str(e.value)
    d = _write(tmp_path / "c", "530102", "  monitoring_line:\n    values:\n"
               "      - {from: 2024-01-01, value: 9000, reference: TEST FIXTURE}\n")
    with pytest.raises(ParameterFileError, match="unknown parameter"):
        load_assistance_parameters([d])  # a policy name is not in the assistance catalogue


def test_zero_stays_invalid_in_the_shared_policy_catalogue(tmp_path):
    d = _write(tmp_path / "p", "530102", "  monitoring_line:\n    values:\n"
               "      - {from: 2024-01-01, value: 0, reference: TEST FIXTURE}\n")
    with pytest.raises(ParameterFileError, match="greater than 0"):
        load_parameters([d])
