"""Fellegi–Sunter model parameters and linkage settings (issue 3 §3, §5).

A :class:`LinkModel` holds the settings (comparisons, blocking rules, thresholds) and the estimated parameters:
per comparison and level ``m`` = P(level | match) and ``u`` = P(level | non-match), and ``match_rate`` = the
expected number of registry matches per left row (the prior of a pair is match_rate / registry size). It is saved as JSON; :attr:`LinkModel.fingerprint` identifies it.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LEVELS",
    "LinkModel",
    "chinese_settings",
    "febrl_settings",
]

# Level names per comparison kind, best agreement first; the last level is "else" (disagreement).
# Level -1 ("null") means a value is missing on either side: it carries no weight.
LEVELS: dict[str, tuple[str, ...]] = {
    "name_zh": ("exact", "pinyin_equal", "same_chars", "one_char_diff", "surname_only", "else"),
    "date": ("exact", "swapped", "one_digit", "same_year", "else"),
    "exact": ("equal", "else"),
    "admin_code": ("exact", "township", "county", "else"),
    "string": ("exact", "jw_0.92", "jw_0.80", "else"),
}


def chinese_settings() -> dict[str, Any]:
    """Default settings for feed rows (name, sex, birth date, village, phone) against the registry."""
    return {
        "comparisons": [
            {"name": "name", "kind": "name_zh", "column": "name", "tf": True},
            {"name": "birth", "kind": "date", "column": "birth_date"},
            {"name": "sex", "kind": "exact", "column": "sex"},
            {"name": "village", "kind": "admin_code", "column": "village_code"},
            {"name": "phone", "kind": "exact", "column": "phone"},
        ],
        # Each rule: list of feature names joined on equality ("left_feature>right_feature" when they differ).
        "blocking": [
            ["name.py_key", "birth.year"],
            ["name.py_key", "village.code"],
            ["birth.ymd", "village.code"],
            ["birth.swapped>birth.ymd", "village.code"],
            ["birth.ymd", "name.sur_key", "sex.value"],
            ["name.key", "birth.ym"],
        ],
        "max_block": 2000,
        "u_mode": "em",  # "random": u from random pairs, fixed (Splink's default); "em": u re-estimated by EM
        "em_iterations": 60,
        "random_pairs": 1_000_000,
        "prior_strength": 2.0,
        "label_weight": 20.0,
        "auto_threshold": 0.99,
        "review_threshold": 0.5,
        "seed": 20240601,
    }


def febrl_settings() -> dict[str, Any]:
    """Settings for the FEBRL data (English columns, all strings)."""
    return {
        "comparisons": [
            {"name": "given_name", "kind": "string", "column": "given_name", "tf": True},
            {"name": "surname", "kind": "string", "column": "surname", "tf": True},
            {"name": "date_of_birth", "kind": "date", "column": "date_of_birth"},
            {"name": "soc_sec_id", "kind": "string", "column": "soc_sec_id"},
            {"name": "street_number", "kind": "string", "column": "street_number"},
            {"name": "address_1", "kind": "string", "column": "address_1"},
            {"name": "suburb", "kind": "string", "column": "suburb"},
            {"name": "postcode", "kind": "string", "column": "postcode"},
            {"name": "state", "kind": "exact", "column": "state"},
        ],
        "blocking": [
            ["given_name.value", "surname.value"],
            ["surname.value", "date_of_birth.ymd"],
            ["given_name.value", "date_of_birth.ymd"],
            ["soc_sec_id.value"],
            ["postcode.value", "street_number.value"],
            ["date_of_birth.ymd", "postcode.value"],
            ["surname.value", "postcode.value"],
        ],
        "max_block": 2000,
        "u_mode": "em",
        "em_iterations": 60,
        "random_pairs": 1_000_000,
        "prior_strength": 2.0,
        "label_weight": 20.0,
        "auto_threshold": 0.5,
        "review_threshold": 0.5,
        "seed": 20240601,
    }


@dataclass
class LinkModel:
    """Settings plus estimated Fellegi–Sunter parameters."""

    settings: dict[str, Any] = field(default_factory=chinese_settings)
    m: dict[str, list[float]] = field(default_factory=dict)
    u: dict[str, list[float]] = field(default_factory=dict)
    match_rate: float = 0.5  # expected registry matches per left row (prior per pair = match_rate / registry size)
    trained_on: dict[str, Any] = field(default_factory=dict)

    # -- parameters -------------------------------------------------------------------------------------------
    @property
    def comparisons(self) -> list[dict[str, Any]]:
        return self.settings["comparisons"]

    def levels(self, comp: dict[str, Any]) -> tuple[str, ...]:
        return LEVELS[comp["kind"]]

    @property
    def is_trained(self) -> bool:
        return all(c["name"] in self.m for c in self.comparisons)

    # -- persistence ------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": "fangpin.linkage/1", "settings": self.settings, "m": self.m, "u": self.u,
                "match_rate": self.match_rate, "trained_on": self.trained_on}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LinkModel":
        if d.get("format") != "fangpin.linkage/1":
            raise ValueError(f"unknown link model format {d.get('format')!r}")
        return cls(settings=copy.deepcopy(d["settings"]), m={k: list(v) for k, v in d["m"].items()},
                   u={k: list(v) for k, v in d["u"].items()}, match_rate=float(d["match_rate"]),
                   trained_on=dict(d.get("trained_on", {})))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1, sort_keys=True),
                              encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "LinkModel":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    @property
    def fingerprint(self) -> str:
        """sha256 (first 16 hex digits) of the settings and parameters (rounded to 9 significant digits)."""
        d = {"settings": self.settings, "match_rate": float(f"{self.match_rate:.9g}"),
             "m": {k: [float(f"{x:.9g}") for x in v] for k, v in self.m.items()},
             "u": {k: [float(f"{x:.9g}") for x in v] for k, v in self.u.items()}}
        blob = json.dumps(d, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def describe(self) -> str:
        """Human-readable table of levels with m, u and the match weight log2(m/u)."""
        import math

        lines = [f"match_rate (registry matches per left row) = {self.match_rate:.4g}"]
        for c in self.comparisons:
            for lv, mv, uv in zip(self.levels(c), self.m.get(c["name"], []), self.u.get(c["name"], [])):
                lines.append(f"{c['name']:>14}:{lv:<14} m={mv:.4g} u={uv:.4g} w={math.log2(mv / uv):+.2f}")
        return "\n".join(lines)
