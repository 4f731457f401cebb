"""Record linkage of department feed rows to registry persons (issue 3 §3, §5): Fellegi–Sunter with EM."""
from fangpin.linkage.engine import LEFT_SCHEMA, OUTPUT_SCHEMA, link, train
from fangpin.linkage.index import LinkIndex, build_index, registry_fingerprint
from fangpin.linkage.model import LinkModel, chinese_settings, febrl_settings
from fangpin.linkage.names import initials, name_key, name_pinyin, pinyin_key, pinyin_text, split_surname

__all__ = [
    "LEFT_SCHEMA",
    "OUTPUT_SCHEMA",
    "LinkIndex",
    "LinkModel",
    "build_index",
    "chinese_settings",
    "febrl_settings",
    "initials",
    "link",
    "name_key",
    "name_pinyin",
    "pinyin_key",
    "pinyin_text",
    "registry_fingerprint",
    "split_surname",
    "train",
]
