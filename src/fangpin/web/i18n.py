"""Message catalogue (messages.yaml): zh-CN default, English on request. No gettext toolchain."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

LANGS = ("zh", "en")
DEFAULT = "zh"


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """messages.yaml plus every messages/*.yaml (one file per module); a key defined twice is an error."""
    here = Path(__file__).parent
    data: dict[str, dict[str, str]] = {}
    for f in [here / "messages.yaml", *sorted((here / "messages").glob("*.yaml"))]:
        for key, v in (yaml.safe_load(f.read_text(encoding="utf-8")) or {}).items():
            if key in data:
                raise ValueError(f"message {key!r} defined twice (again in {f.name})")
            data[key] = v
    for key, v in data.items():
        if set(v) != set(LANGS):
            raise ValueError(f"message {key!r} must have exactly {LANGS}")
    return data


def translator(lang: str):
    lang = lang if lang in LANGS else DEFAULT
    cat = catalogue()

    def t(key: str) -> str:
        m = cat.get(key)
        return m[lang] if m else key

    return t
