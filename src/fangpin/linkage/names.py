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
import threading
import zlib
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fangpin.linkage import kernels
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
    if n >= kernels.MIN_ROWS:
        return kernels.codepoints(arr, width, _FOLD, _DROP, drop_spaces_and_dots)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset: arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    o0 = int(offsets[0])
    b = data[o0: int(offsets[-1])]
    is_lead = (b & 0xC0) != 0x80
    lead = np.flatnonzero(is_lead)
    # characters per string from a running count of lead bytes (no searchsorted over every character)
    cs = np.zeros(b.size + 1, np.int64)
    np.cumsum(is_lead, out=cs[1:])
    rel = offsets - o0
    nchar = cs[rel[1:]] - cs[rel[:-1]]
    sid = np.repeat(np.arange(n, dtype=np.int64), nchar)
    b0 = b[lead].astype(np.uint32)
    pad = np.concatenate([b, np.zeros(4, np.uint8)])
    cp = b0.copy()
    m3 = (b0 >= 0xE0) & (b0 < 0xF0)  # CJK: the common case
    i3 = lead[m3]
    cp[m3] = ((b0[m3] & 0x0F) << 12) | ((pad[i3 + 1].astype(np.uint32) & 0x3F) << 6) | (pad[i3 + 2] & 0x3F)
    m2 = (b0 >= 0xC0) & (b0 < 0xE0)
    if m2.any():
        i2 = lead[m2]
        cp[m2] = ((b0[m2] & 0x1F) << 6) | (pad[i2 + 1] & 0x3F)
    m4 = b0 >= 0xF0
    if m4.any():
        i4 = lead[m4]
        cp[m4] = (((b0[m4] & 0x07) << 18) | ((pad[i4 + 1].astype(np.uint32) & 0x3F) << 12)
                  | ((pad[i4 + 2].astype(np.uint32) & 0x3F) << 6) | (pad[i4 + 3] & 0x3F))
    cp = np.minimum(cp, 0x10FFFF)
    cp = _FOLD[cp]
    if drop_spaces_and_dots:
        keep = ~_DROP[cp]
        if not keep.all():
            cp, sid = cp[keep], sid[keep]
    lengths = np.bincount(sid, minlength=n).astype(np.int32)
    first = np.cumsum(lengths) - lengths
    k = np.arange(cp.size) - first[sid]
    mat = np.zeros((n, width), dtype=np.uint32)
    keep = k < width
    if keep.all():
        mat.ravel()[sid * width + k] = cp
    else:
        mat.ravel()[sid[keep] * width + k[keep]] = cp[keep]
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


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64 -> uint64)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M2
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def hash_prefix(mat: np.ndarray, length: np.ndarray) -> np.ndarray:
    """64-bit hash of the first ``length[i]`` entries of each row of ``mat`` (and of the length) -> int64.

    Equal to :func:`hash_rows` semantics for keys (equal prefixes and lengths give equal hashes) but columns are
    only touched for the rows that are that long, so names of 2-3 characters cost 2-3 column passes, not ``W``.
    """
    n, w = mat.shape
    h = np.full(n, 0x12345, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(w):
            rows = length > j
            cnt = int(np.count_nonzero(rows))
            if cnt == 0:
                break
            if cnt == n:
                h = (h ^ mat[:, j].astype(np.uint64)) * _M1
                h ^= h >> np.uint64(29)
            elif cnt > n // 4:
                x = (h ^ mat[:, j].astype(np.uint64)) * _M1
                x ^= x >> np.uint64(29)
                h = np.where(rows, x, h)
            else:
                idx = np.flatnonzero(rows)
                x = (h[idx] ^ mat[idx, j].astype(np.uint64)) * _M1
                h[idx] = x ^ (x >> np.uint64(29))
        h = (h ^ length.astype(np.uint64)) * _M2
        h ^= h >> np.uint64(31)
    return h.view(np.int64)


def hash_bag(mat: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Order-insensitive 64-bit hash of the first ``length[i]`` entries of each row (multiset + length) -> int64.

    Sum (mod 2^64) of a 64-bit mix of each entry: no per-row sort.
    """
    n, w = mat.shape
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(w):
            rows = length > j
            cnt = int(np.count_nonzero(rows))
            if cnt == 0:
                break
            if cnt > n // 4:
                x = _mix64(mat[:, j].astype(np.uint64) + np.uint64(0x51ED27))
                h += np.where(rows, x, np.uint64(0))
            else:
                idx = np.flatnonzero(rows)
                h[idx] += _mix64(mat[idx, j].astype(np.uint64) + np.uint64(0x51ED27))
        h = (h ^ length.astype(np.uint64)) * _M1
        h ^= h >> np.uint64(29)
    return h.view(np.int64)


def hash_strings(arr: pa.Array | pa.ChunkedArray, chunk: int = 1 << 20) -> np.ndarray:
    """63-bit hash (int64 >= 0) of each string's UTF-8 bytes; nulls -> -1. Pure numpy over the arrow buffers,
    ``chunk`` strings at a time (bounded temporary memory)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.string())
    n = len(arr)
    if n >= kernels.MIN_ROWS:
        return kernels.string_hashes(arr)
    out = np.empty(n, np.int64)
    if n == 0:
        return out
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset: arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    for s0 in range(0, n, chunk):
        s1 = min(s0 + chunk, n)
        o0 = int(offsets[s0])
        b = data[o0: int(offsets[s1])]
        rel = offsets[s0: s1 + 1] - o0
        lens = np.diff(rel)
        pos = np.arange(b.size, dtype=np.int64) - np.repeat(rel[:-1], lens)
        x = _mix64(b.astype(np.uint64) | (pos.astype(np.uint64) << np.uint64(8)))
        cs = np.zeros(b.size + 1, np.uint64)
        with np.errstate(over="ignore"):
            np.cumsum(x, out=cs[1:])
            h = cs[rel[1:]] - cs[rel[:-1]]
            h = _mix64(h + lens.astype(np.uint64) * _M1)
        out[s0:s1] = (h & np.uint64(0x7FFFFFFFFFFFFFFF)).view(np.int64)
    if arr.null_count:
        out[~np.asarray(arr.is_valid())] = -1
    return out


class _PinyinTables:
    """Growing lookup tables: code point -> syllable id; surname overrides by code point.

    A syllable's id is a 31-bit hash of its text (crc32), not its order of first use, so keys are the same in
    every process - a saved :class:`~fangpin.linkage.index.LinkIndex` is matched by later processes. Id 0 is the
    padding of empty positions; distinct syllables with the same id raise (never seen: ~1,500 syllables).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.syllables: list[str] = [""]
        self.syl_id: dict[str, int] = {"": 0}
        self.by_id: dict[int, str] = {0: ""}
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
        self.sur1_table = np.full(0x110000, -1, dtype=np.int32)
        self.sur1_table[self.sur1_cp] = self.sur1_syl
        self.comp_first = np.zeros(0x110000, dtype=bool)
        self.comp_first[[ord(k[0]) for k in comp]] = True

    def _sid(self, syl: str) -> int:
        i = self.syl_id.get(syl)
        if i is None:
            i = (zlib.crc32(syl.encode("utf-8")) & 0x7FFFFFFF) or 1
            if i in self.by_id and self.by_id[i] != syl:
                raise RuntimeError(f"pinyin syllable id collision: {syl!r} / {self.by_id[i]!r}")
            self.syllables.append(syl)
            self.syl_id[syl] = i
            self.by_id[i] = syl
        return i

    def lookup(self, cps: np.ndarray) -> np.ndarray:
        ids = self.cp_to_syl[cps]
        unknown = ids < 0
        if not unknown.any():
            return ids
        missing = np.unique(cps[unknown])
        with self.lock:  # slices of one table are read on several threads (fangpin.linkage.parallel)
            for cp in missing.tolist():
                if self.cp_to_syl[cp] < 0:
                    self.cp_to_syl[cp] = self._sid(char_pinyin(chr(cp)))
        ids[unknown] = self.cp_to_syl[cps[unknown]]
        return ids


_TABLES: list[_PinyinTables] = []
_TABLES_LOCK = threading.Lock()


def _tables() -> _PinyinTables:
    """The process's one table (created once, also when several threads ask first)."""
    if not _TABLES:
        with _TABLES_LOCK:
            if not _TABLES:
                _TABLES.append(_PinyinTables())
    return _TABLES[0]


def pinyin_table_snapshot() -> tuple[np.ndarray, np.ndarray]:
    """(code points, syllable ids) of every character read so far in this process."""
    t = _tables()
    cps = np.flatnonzero(t.cp_to_syl > 0).astype(np.uint32)
    return cps, t.cp_to_syl[cps].copy()


def preload_pinyin_table(cps: np.ndarray, ids: np.ndarray) -> None:
    """Fill the character table from a snapshot (a saved link index), so pypinyin is only asked about new
    characters. Ids are hashes of the syllable text, hence the same in every process."""
    t = _tables()
    cps = np.asarray(cps, dtype=np.int64)
    unknown = t.cp_to_syl[cps] < 0
    t.cp_to_syl[cps[unknown]] = np.asarray(ids, dtype=np.int32)[unknown]


class NameFeatures:
    """Vectorised name keys of n names (all int64 unless noted).

    ``key``: exact name (dot-free); ``py_key``: surname-aware toneless pinyin; ``sur_key``: surname pinyin;
    ``chars``: (n, W) uint32 code points; ``length``: characters; ``sur_len``: 1 or 2 (0 for empty/minority).
    """

    __slots__ = ("key", "py_key", "sur_key", "chars", "length", "sur_len", "bag_key", "first_py")

    def __init__(self, **kw: np.ndarray) -> None:
        for k, v in kw.items():
            setattr(self, k, v)

    def take(self, idx: np.ndarray) -> "NameFeatures":
        """Features of the rows ``idx`` (gather)."""
        return NameFeatures(**{k: getattr(self, k)[idx] for k in self.__slots__})


def name_features(names: pa.Array | pa.ChunkedArray, width: int = 12) -> NameFeatures:
    """Compute :class:`NameFeatures` for an arrow string array (vectorised; ~0.3 µs per name).

    Pinyin is looked up per *character* (code point -> syllable id table, filled with pypinyin for the few
    thousand distinct characters), surname readings per first one/two characters through lookup tables, and the
    keys are hashes of the id sequences - no Python loop over names.
    """
    if isinstance(names, pa.ChunkedArray):
        names = names.combine_chunks() if names.num_chunks != 1 else names.chunk(0)
    n = len(names)
    step = 1 << 20
    if n <= 2 * step:
        return _name_features(names, width)
    out: dict[str, np.ndarray] = {}
    for s0 in range(0, n, step):  # bounded temporaries (a 10M registry): features per slice of 1M names
        part = _name_features(names.slice(s0, step), width)
        for k in NameFeatures.__slots__:
            v = getattr(part, k)
            if k not in out:
                out[k] = np.empty((n,) + v.shape[1:], v.dtype)
            out[k][s0: s0 + v.shape[0]] = v
    return NameFeatures(**out)


def _name_features(names: pa.Array, width: int) -> NameFeatures:
    chars, length = codepoint_matrix(names, width)
    t = _tables()
    py = t.lookup(chars.ravel()).reshape(chars.shape).astype(np.int32)
    n = chars.shape[0]
    c0 = chars[:, 0]
    han0 = (c0 >= 0x3400) & (length >= 2)
    # compound surnames (need >= 3 characters: 欧阳娜); only rows whose first character starts one are searched
    is_comp = np.zeros(n, bool)
    cand = np.flatnonzero(han0 & (length >= 3) & t.comp_first[c0])
    comp_pos = np.zeros(0, np.int64)
    if cand.size:
        code2 = c0[cand].astype(np.int64) * 0x110000 + chars[cand, 1].astype(np.int64)
        pos = np.searchsorted(t.comp_code, code2).clip(0, len(t.comp_code) - 1)
        hit = t.comp_code[pos] == code2
        cand, comp_pos = cand[hit], pos[hit]
        is_comp[cand] = True
    # single-character surname overrides (code point -> syllable id table)
    s1 = t.sur1_table[c0]
    is_s1 = han0 & ~is_comp & (s1 >= 0)
    py[is_s1, 0] = s1[is_s1]
    if cand.size:
        py[cand, 0] = t.comp_syl[comp_pos, 0]
        py[cand, 1] = t.comp_syl[comp_pos, 1]
    sur_len = np.where(han0, np.where(is_comp, 2, 1), 0).astype(np.int8)
    sur_py = np.where(is_comp, (py[:, 0].astype(np.int64) << 31) | py[:, 1], np.where(han0, py[:, 0], -1))
    key = hash_prefix(chars, length)
    py_key = hash_prefix(py, length)
    bag_key = hash_bag(chars, length)
    return NameFeatures(key=key, py_key=py_key, sur_key=sur_py.astype(np.int64), chars=chars, length=length,
                        sur_len=sur_len, bag_key=bag_key, first_py=py)
