"""Name normalisation and matching keys for record linkage (issue 3 §3; POLICY.md §12 pypinyin pitfalls).

Scalar helpers (``name_pinyin``, ``pinyin_key`` …) are for tests, explanations and small inputs; the vectorised
:func:`name_features` computes the same keys for millions of names at once (arrow regex for cleaning, a numpy
UTF-8 decoder, and per-*character* lookup tables built with pypinyin for the few thousand distinct characters).

Pinyin conventions
------------------
* Toneless pinyin (``pypinyin.Style.NORMAL``; ü is written ``v`` as pypinyin does: 吕 -> ``lv``).
* Given-name characters are read one by one with pypinyin's default reading. That is the reading the feed generator
  uses for homophone typos, and - more importantly - both sides of a comparison are read the same way, so a
  homophone typo (张伟 / 张玮) gives the same key.
* Surnames are read with :data:`SURNAME_READINGS` (pypinyin reads 曾 ceng, 单 dan, 解 jie, 区 qu …). Compound
  surnames (欧阳, 尉迟 …) are detected greedily at the start of the name. pypinyin's global dictionaries are never
  modified, so ordinary words keep their readings (曾经 -> ceng jing).
* Minority names with "·" (阿依古丽·买买提): the dot is dropped for every key, so a missing dot still matches; a
  swapped order of the parts is caught by the "same characters" comparison level.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fangpin.textnorm import MIDDLE_DOT, clean_name, is_cjk_char

__all__ = [
    "SURNAME_READINGS",
    "COMPOUND_SURNAMES",
    "clean_name",
    "split_surname",
    "name_pinyin",
    "pinyin_text",
    "pinyin_key",
    "initials",
    "name_key",
    "latin_name",
    "clean_names_arrow",
    "codepoint_matrix",
    "name_features",
    "NameFeatures",
]

# Surname readings (toneless syllables). Single-character polyphonic surnames and compound surnames; any other
# surname takes pypinyin's default reading of the character. Sources: standard surname dictionaries (《中国姓氏
# 大辞典》 readings as listed in 现代汉语词典 entries marked "姓").
SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    # single-character surnames read differently from the character's common reading
    "曾": ("zeng",), "单": ("shan",), "解": ("xie",), "区": ("ou",), "仇": ("qiu",), "查": ("zha",), "朴": ("piao",),
    "盖": ("ge",), "繁": ("po",), "员": ("yun",), "冼": ("xian",), "乐": ("yue",), "秘": ("bi",), "缪": ("miao",),
    "覃": ("qin",), "翟": ("zhai",), "召": ("shao",), "谌": ("chen",), "种": ("chong",), "隗": ("wei",),
    "华": ("hua",), "任": ("ren",), "过": ("guo",), "句": ("gou",), "相": ("xiang",), "宁": ("ning",),
    "纪": ("ji",), "燕": ("yan",), "曲": ("qu",), "沈": ("shen",), "祭": ("zhai",), "能": ("nai",),
    "居": ("ju",), "黑": ("he",), "肖": ("xiao",), "都": ("du",), "和": ("he",), "占": ("zhan",),
    "逄": ("pang",), "尉": ("wei",), "重": ("chong",), "藏": ("zang",), "折": ("she",), "褚": ("chu",),
    "薄": ("bo",), "柏": ("bai",), "粘": ("nian",), "阚": ("kan",), "郇": ("huan",), "莘": ("shen",),
    "眭": ("sui",), "费": ("fei",), "卜": ("bu",), "车": ("che",), "宿": ("su",), "訾": ("zi",),
    "禚": ("zhuo",), "长": ("zhang",), "那": ("na",), "哈": ("ha",), "殷": ("yin",), "洗": ("xian",),
    "蕃": ("pi",), "厍": ("she",), "阿": ("a",), "啜": ("chuai",), "佴": ("nai",), "鲜": ("xian",),
    # compound surnames
    "尉迟": ("yu", "chi"), "万俟": ("mo", "qi"), "长孙": ("zhang", "sun"), "澹台": ("tan", "tai"),
    "单于": ("chan", "yu"), "欧阳": ("ou", "yang"), "上官": ("shang", "guan"), "令狐": ("ling", "hu"),
    "皇甫": ("huang", "fu"), "诸葛": ("zhu", "ge"), "司徒": ("si", "tu"), "司马": ("si", "ma"),
    "申屠": ("shen", "tu"), "夏侯": ("xia", "hou"), "贺兰": ("he", "lan"), "东方": ("dong", "fang"),
    "完颜": ("wan", "yan"), "公孙": ("gong", "sun"), "宇文": ("yu", "wen"), "慕容": ("mu", "rong"),
    "端木": ("duan", "mu"), "西门": ("xi", "men"), "南宫": ("nan", "gong"), "宗政": ("zong", "zheng"),
    "濮阳": ("pu", "yang"), "太叔": ("tai", "shu"), "公冶": ("gong", "ye"), "轩辕": ("xuan", "yuan"),
    "钟离": ("zhong", "li"), "闾丘": ("lv", "qiu"), "呼延": ("hu", "yan"), "赫连": ("he", "lian"),
    "东郭": ("dong", "guo"), "百里": ("bai", "li"), "拓跋": ("tuo", "ba"), "第五": ("di", "wu"),
    "公羊": ("gong", "yang"), "梁丘": ("liang", "qiu"), "左丘": ("zuo", "qiu"), "乐正": ("yue", "zheng"),
}
COMPOUND_SURNAMES: frozenset[str] = frozenset(k for k in SURNAME_READINGS if len(k) == 2)


# --------------------------------------------------------------------------------------------------------------
# scalar helpers


@lru_cache(maxsize=65536)
def char_pinyin(ch: str) -> str:
    """Default toneless reading of one character (pypinyin ``Style.NORMAL``); non-CJK characters lower-cased."""
    if not is_cjk_char(ch):
        return ch.lower()
    from pypinyin import Style, pinyin

    return pinyin(ch, style=Style.NORMAL, heteronym=False, errors="default")[0][0]


def split_surname(name: str) -> tuple[str, str]:
    """(surname, given name) of a cleaned Han name; compound surnames first. Minority (·) names: ("", name)."""
    s = clean_name(name)
    if not s or MIDDLE_DOT in s or not is_cjk_char(s[0]):
        return "", s
    if len(s) >= 3 and s[:2] in COMPOUND_SURNAMES:
        return s[:2], s[2:]
    return s[:1], s[1:]


def name_pinyin(name: str) -> list[str]:
    """Toneless pinyin syllables of a person name, surname read as a surname (曾 -> zeng); "·" dropped."""
    s = clean_name(name)
    sur, given = split_surname(s)
    out: list[str] = list(SURNAME_READINGS.get(sur, ())) or [char_pinyin(c) for c in sur]
    out += [char_pinyin(c) for c in given.replace(MIDDLE_DOT, "")]
    return out


def pinyin_text(text: str) -> list[str]:
    """Toneless pinyin of ordinary text (words keep their readings: 曾经 -> ceng jing); no surname rules."""
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(text, style=Style.NORMAL)


def pinyin_key(name: str) -> str:
    """Homophone-insensitive key: surname-aware toneless pinyin joined with spaces (张伟 and 张玮 -> "zhang wei")."""
    return " ".join(name_pinyin(name))


def initials(name: str) -> str:
    """First letters of the pinyin syllables (曾小明 -> "zxm")."""
    return "".join(p[0] for p in name_pinyin(name) if p)


def name_key(name: str) -> str:
    """Exact-name key: cleaned name without the middle dot (阿依古丽·买买提 == 阿依古丽买买提)."""
    return clean_name(name).replace(MIDDLE_DOT, "")


_LATIN_RE = re.compile(r"[^a-z]+")


def latin_name(raw: object) -> str:
    """Latin-script name key (FEBRL): lower case, letters only ("O'Brien" -> "obrien")."""
    if raw is None:
        return ""
    return _LATIN_RE.sub("", str(raw).lower())


# --------------------------------------------------------------------------------------------------------------
# vectorised path

_SPACE_PATTERN = r"[\s\x{3000}\x{00a0}\x{200b}\x{200c}\x{200d}\x{2060}\x{feff}\x{180e}]+"
_DOT_PATTERN = r"[\x{2022}\x{30fb}\x{2027}\x{ff65}\x{ff0e}\x{2219}\x{22c5}\x{2e31}\x{0387}\x{318d}\x{00b7}]+"


def clean_names_arrow(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Vectorised clean-up for linkage keys: whitespace removed, every dot variant (and ASCII '.') dropped.

    Equivalent, for key purposes, to ``clean_name(x).replace("·", "")`` (the dot never matters for a key).
    Nulls become "".
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = pc.fill_null(arr.cast(pa.string()), "")
    arr = pc.replace_substring_regex(arr, _SPACE_PATTERN, "")
    arr = pc.replace_substring_regex(arr, _DOT_PATTERN, "")
    arr = pc.replace_substring(arr, ".", "")
    # full-width Latin letters/digits are rare in names; fold the common ones explicitly (no NFKC)
    return arr


_DROP_CHARS = ("\t\n\x0b\x0c\r \x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
               "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u200b\u200c\u200d\u2060\ufeff\u180e"
               ".\u00b7\u2022\u30fb\u2027\uff65\uff0e\u2219\u22c5\u2e31\u0387\u318d")
_DROP = np.zeros(0x110000, dtype=bool)
_DROP[[ord(c) for c in _DROP_CHARS]] = True
# full-width ASCII -> ASCII (explicit mapping as in fangpin.textnorm.to_halfwidth; no NFKC)
_FOLD = np.arange(0x110000, dtype=np.uint32)
_FOLD[0xFF01:0xFF5F] -= 0xFEE0


def codepoint_matrix(arr: pa.Array | pa.ChunkedArray, width: int, *, drop_spaces_and_dots: bool = True
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Decode a utf8 arrow array into an ``(n, width)`` uint32 matrix of code points (0-padded) and lengths.

    Pure numpy UTF-8 decoding of the arrow buffers (no Python object per string). Full-width ASCII is folded to
    ASCII; with ``drop_spaces_and_dots`` every whitespace / zero-width character and every dot variant is removed
    (the linkage-key equivalent of ``clean_name(x).replace("·", "")``). ``length`` counts the kept characters.
    Nulls are empty strings.
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.string())
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset: arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    o0 = int(offsets[0])
    b = data[o0: int(offsets[-1])]
    lead = np.flatnonzero((b & 0xC0) != 0x80)
    b0 = b[lead].astype(np.uint32)
    pad = np.concatenate([b, np.zeros(4, np.uint8)])
    cp = b0.copy()
    m2 = (b0 >= 0xC0) & (b0 < 0xE0)
    m3 = (b0 >= 0xE0) & (b0 < 0xF0)
    m4 = b0 >= 0xF0
    i2, i3, i4 = lead[m2], lead[m3], lead[m4]
    cp[m2] = ((b0[m2] & 0x1F) << 6) | (pad[i2 + 1] & 0x3F)
    cp[m3] = ((b0[m3] & 0x0F) << 12) | ((pad[i3 + 1].astype(np.uint32) & 0x3F) << 6) | (pad[i3 + 2] & 0x3F)
    cp[m4] = (((b0[m4] & 0x07) << 18) | ((pad[i4 + 1].astype(np.uint32) & 0x3F) << 12)
              | ((pad[i4 + 2].astype(np.uint32) & 0x3F) << 6) | (pad[i4 + 3] & 0x3F))
    cp = np.minimum(cp, 0x10FFFF)
    # string of each character: lead byte offset -> string index
    sid = np.searchsorted(offsets[1:] - o0, lead, side="right")
    cp = _FOLD[cp]
    if drop_spaces_and_dots:
        keep = ~_DROP[cp]
        cp, sid = cp[keep], sid[keep]
    lengths = np.bincount(sid, minlength=n).astype(np.int32)
    first = np.cumsum(lengths) - lengths
    k = np.arange(cp.size) - first[sid]
    keep = k < width
    mat = np.zeros((n, width), dtype=np.uint32)
    mat[sid[keep], k[keep]] = cp[keep]
    if arr.null_count:
        valid = np.asarray(arr.is_valid())
        mat[~valid] = 0
        lengths[~valid] = 0
    return mat, lengths


_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)


def hash_rows(mat: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
    """64-bit polynomial hash of each row of an integer matrix (and an optional extra column) -> int64."""
    h = np.full(mat.shape[0], 0x12345, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(mat.shape[1]):
            h = (h ^ mat[:, j].astype(np.uint64)) * _M1
            h ^= h >> np.uint64(29)
        if extra is not None:
            h = (h ^ extra.astype(np.uint64)) * _M2
            h ^= h >> np.uint64(31)
    return h.view(np.int64)


class _PinyinTables:
    """Growing lookup tables: code point -> syllable id, syllable strings; surname overrides by code point."""

    def __init__(self) -> None:
        self.syllables: list[str] = [""]
        self.syl_id: dict[str, int] = {"": 0}
        self.cp_to_syl = np.full(0x110000, -1, dtype=np.int32)
        self.cp_to_syl[0] = 0
        single = {k: v for k, v in SURNAME_READINGS.items() if len(k) == 1}
        self.sur1_cp = np.array([ord(k) for k in single], dtype=np.uint32)
        self.sur1_syl = np.array([self._sid(v[0]) for v in single.values()], dtype=np.int32)
        comp = {k: v for k, v in SURNAME_READINGS.items() if len(k) == 2}
        self.comp_code = np.array([ord(k[0]) * 0x110000 + ord(k[1]) for k in comp], dtype=np.int64)
        self.comp_syl = np.array([[self._sid(v[0]), self._sid(v[1])] for v in comp.values()], dtype=np.int32)
        order = np.argsort(self.comp_code)
        self.comp_code, self.comp_syl = self.comp_code[order], self.comp_syl[order]

    def _sid(self, syl: str) -> int:
        i = self.syl_id.get(syl)
        if i is None:
            i = len(self.syllables)
            self.syllables.append(syl)
            self.syl_id[syl] = i
        return i

    def lookup(self, cps: np.ndarray) -> np.ndarray:
        missing = np.unique(cps[self.cp_to_syl[cps] < 0])
        for cp in missing.tolist():
            self.cp_to_syl[cp] = self._sid(char_pinyin(chr(cp)))
        return self.cp_to_syl[cps]


@lru_cache(maxsize=1)
def _tables() -> _PinyinTables:
    return _PinyinTables()


class NameFeatures:
    """Vectorised name keys of n names (all int64 unless noted).

    ``key``: exact name (dot-free); ``py_key``: surname-aware toneless pinyin; ``sur_key``: surname pinyin;
    ``chars``: (n, W) uint32 code points; ``length``: characters; ``sur_len``: 1 or 2 (0 for empty/minority).
    """

    __slots__ = ("key", "py_key", "sur_key", "chars", "length", "sur_len", "bag_key", "first_py")

    def __init__(self, **kw: np.ndarray) -> None:
        for k, v in kw.items():
            setattr(self, k, v)


def name_features(names: pa.Array | pa.ChunkedArray, width: int = 12) -> NameFeatures:
    """Compute :class:`NameFeatures` for an arrow string array (vectorised; ~1 µs per name)."""
    chars, length = codepoint_matrix(names, width)
    t = _tables()
    py = t.lookup(chars.ravel()).reshape(chars.shape).astype(np.int32)
    n = chars.shape[0]
    c0 = chars[:, 0]
    han0 = (c0 >= 0x3400) & (length >= 2)
    # compound surnames (need >= 3 characters: 欧阳娜)
    code2 = c0.astype(np.int64) * 0x110000 + chars[:, 1].astype(np.int64)
    pos = np.searchsorted(t.comp_code, code2).clip(0, max(len(t.comp_code) - 1, 0))
    is_comp = han0 & (length >= 3) & (t.comp_code[pos] == code2) if len(t.comp_code) else np.zeros(n, bool)
    # single-character surname overrides
    order = np.argsort(t.sur1_cp)
    sc, ss = t.sur1_cp[order], t.sur1_syl[order]
    p1 = np.searchsorted(sc, c0).clip(0, len(sc) - 1)
    is_s1 = han0 & ~is_comp & (sc[p1] == c0)
    py[is_s1, 0] = ss[p1[is_s1]]
    if is_comp.any():
        py[is_comp, 0] = t.comp_syl[pos[is_comp], 0]
        py[is_comp, 1] = t.comp_syl[pos[is_comp], 1]
    sur_len = np.where(han0, np.where(is_comp, 2, 1), 0).astype(np.int8)
    sur_py = np.where(is_comp, py[:, 0].astype(np.int64) * 100_003 + py[:, 1], np.where(han0, py[:, 0], -1))
    key = hash_rows(chars, length)
    py_key = hash_rows(py, length)
    bag_key = hash_rows(np.sort(chars, axis=1), length)
    return NameFeatures(key=key, py_key=py_key, sur_key=sur_py.astype(np.int64), chars=chars, length=length,
                        sur_len=sur_len, bag_key=bag_key, first_py=py)
