"""Policy parameters (政策参数): dated, per-jurisdiction values with a legal reference each.

Public API — import from here, not from ``fangpin.policy.params``::

    from fangpin.policy import load_parameters
    ps = load_parameters()
    ps.get("monitoring_line", "530102001001", date(2024, 6, 1)).value   # 8700 (Yunnan 2024)

See docs/POLICY_PARAMETERS.md for how a policy officer adds or overrides a value.
"""

from fangpin.policy.params import (
    CATALOGUE,
    NATIONAL_REGION,
    DatedValue,
    Jurisdiction,
    ParameterError,
    ParameterFileError,
    ParameterLookupError,
    ParameterSet,
    ParamSpec,
    ParamValue,
    candidate_regions,
    load_file,
    load_parameters,
    package_params_dir,
)

__all__ = [
    "CATALOGUE",
    "NATIONAL_REGION",
    "DatedValue",
    "Jurisdiction",
    "ParamSpec",
    "ParamValue",
    "ParameterError",
    "ParameterFileError",
    "ParameterLookupError",
    "ParameterSet",
    "candidate_regions",
    "load_file",
    "load_parameters",
    "package_params_dir",
]
