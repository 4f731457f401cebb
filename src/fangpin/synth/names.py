"""Vectorised, seeded sampler of realistic Chinese person names.

Why: common fake-data providers combine a few hundred surnames with ~130 given names, which produces far
more full-name collisions than a real county has. Record linkage (pypinyin-based matching, duplicate
detection) must be tested against realistic collision rates, so names here are built character by
character from real frequency data.

Sources
-------
* Surnames: ``fangpin/data/surnames.csv`` (``surname, share_per_million, source``). The head follows the
  published 2020 national name report ranking (公安部户政管理研究中心《二〇二〇年全国姓名报告》); ranks
  beyond the published figures are a fitted Zipf tail. Every row says which of its figures is published
  and which interpolated; see ``fangpin/data/README.md``.
* Given-name characters: ``charfreq.csv`` shipped with the PyPI package ``ngender`` (0.1.1, MIT licence,
  https://github.com/observerss/ngender). Per character it holds the number of occurrences in male and in
  female given names of a large corpus of real Chinese names. The file is read in place through
  ``importlib.resources``; it is not copied into this repository.
* Minority-style names: a small curated list of transliterated Uyghur, Tibetan and Mongolian name
  components (``_UYGHUR_*``, ``_TIBETAN_*``, ``_MONGOL_*`` below; see ``fangpin/data/README.md``).

Model (judgment calls, all parameters of :class:`NameSampler`)
-----------------------------------------------------------
* A given name has one or two characters. The one-character share depends on the birth year (see
  :data:`SINGLE_CHAR_SHARE_KNOTS`).
* Characters of a two-character name are drawn independently from the sex-specific distribution
  (optionally tempered, ``p ** temper``). Real names have positional and pair structure (建国, 秀英, 子涵)
  that this ignores, so collisions of two-character names are, if anything, under-stated.
* Doubled characters are rejected except for a small share of reduplicated names (婷婷, 丽丽), which is
  higher for women. A given name equal to the surname (王王) is rejected.
* Characters seen fewer than ``min_char_count`` times for that sex are dropped (they are mostly
  traditional-script variants or noise in the corpus).
* The corpus counts are not positional. A few characters that almost only occur as the first half of a
  two-character name (晓, 小, 子 …; :data:`PREFIX_CHARS`) are down-weighted for one-character names,
  otherwise 王晓/张小 would be among the most common names.

Everything is vectorised with NumPy and deterministic for a given ``numpy.random.Generator`` state.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "MINORITY_STYLES",
    "PREFIX_CHARS",
    "SINGLE_CHAR_SHARE_KNOTS",
    "NameSampler",
    "collision_stats",
    "default_sampler",
]

MIDDLE_DOT = "·"

# Share of one-character given names by birth year (linear interpolation between knots, constant outside).
# Assumption, not a published series: one-character names were most common for people born roughly
# 1970-1995 (about 30 %), less common for older cohorts (~15-20 %) and fell steeply for children born
# after 2000 (well under 10 % in the 2010s, when two-character names such as 子涵/一诺 dominate).
SINGLE_CHAR_SHARE_KNOTS: tuple[tuple[int, float], ...] = (
    (1930, 0.15),
    (1950, 0.18),
    (1960, 0.24),
    (1970, 0.30),
    (1985, 0.32),
    (1995, 0.26),
    (2005, 0.12),
    (2015, 0.07),
    (2025, 0.06),
)

# Characters that, in real names, occur mostly as the first character of a two-character given name
# (晓明, 小红, 子涵, 亚军, 少华, 一诺, 若曦, 梓轩). Judgment call from naming practice, not from the corpus.
PREFIX_CHARS = "晓小子亚少一若梓"

_SURNAMES_CSV = Path(__file__).resolve().parent.parent / "data" / "surnames.csv"

# --- minority-style name components (transliterations as used in household registers) ---------------
# Uyghur (and similar Turkic) names: "<own name>·<father's name>".
_UYGHUR_MALE = (
    "买买提 艾力 阿不都 吐尔逊 艾尔肯 阿里木 努尔 麦麦提 热合曼 伊力哈木 艾合买提 吾斯曼 买合木提 阿迪力 "
    "艾山 依明 肉孜 托合提 亚森 塔依尔 玉素甫 卡德尔 阿卜杜拉 帕尔哈提 艾克拜尔 迪力夏提 吐尔洪 买买提明 "
    "阿力木江 艾则孜 努尔买买提 伊斯拉木 司马义 木合塔尔 阿合买提江 依不拉音 牙合甫 热西提 阿不力孜 克然木"
).split()
_UYGHUR_FEMALE = (
    "阿依古丽 古丽 热依拉 帕提古丽 米热古丽 努尔古丽 阿娜尔古丽 迪丽努尔 再努尔 阿依努尔 古丽米热 布维 "
    "祖丽胡玛尔 玛依拉 热娜 阿孜古丽 帕丽旦 迪丽拜尔 热孜宛古丽 阿米娜 海尼古丽 吐尔逊古丽 努尔曼古丽 "
    "麦合丽娅 阿瓦古丽 买热木古丽 孜巴古丽 苏比努尔 哈里旦 古再丽努尔 萨拉 佐日古丽 热汗古丽 帕夏古丽 "
    "阿丽米热 阿依先木 古丽巴哈尔 努尔比亚 热比古丽 月丽都孜"
).split()
# Father's-name parts: male given names, plus a few common patronymics that are rarely own names today.
_UYGHUR_PATRONYMIC = tuple(_UYGHUR_MALE) + tuple(
    "吐尔地 阿布拉 卡斯木 司迪克 热依木 尼亚孜 赛买提 玉苏普 阿布都热依木 依沙克".split()
)
# Tibetan names: two two-syllable components, no surname and no dot (扎西次仁, 卓玛央金).
_TIBETAN_MALE = (
    "扎西 次仁 多吉 平措 顿珠 格桑 旺堆 索朗 尼玛 达瓦 丹增 洛桑 强巴 边巴 普布 贡布 罗布 米玛 群培 土登"
).split()
_TIBETAN_FEMALE = (
    "卓玛 央金 拉姆 德吉 曲珍 措姆 白玛 央宗 卓嘎 旺姆 巴桑 达珍 尼珍 德庆 次仁 格桑 普赤 仁青 桑姆 琼达"
).split()
# Mongolian names: usually a single name of 2-4 syllables, no dot.
_MONGOL_MALE = (
    "巴特尔 苏和 额尔敦 朝鲁 那顺 宝音 巴图 孟和 毕力格 吉日嘎拉 阿拉坦 特木尔 乌力吉 巴雅尔 哈斯"
).split()
_MONGOL_FEMALE = (
    "其其格 萨仁 乌兰 娜仁 图雅 高娃 斯琴 托娅 萨日娜 乌云 琪琪格 塔娜 额尔敦其其格 阿拉坦其其格 娜日苏"
).split()

MINORITY_STYLES = ("uyghur", "tibetan", "mongol")


@functools.lru_cache(maxsize=4)
def _load_surnames(path: str = str(_SURNAMES_CSV)) -> tuple[np.ndarray, np.ndarray]:
    """Surnames and their probabilities (normalised), ordered by share descending."""
    names: list[str] = []
    shares: list[float] = []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            names.append(row["surname"])
            shares.append(float(row["share_per_million"]))
    p = np.asarray(shares, dtype=np.float64)
    order = np.argsort(-p, kind="stable")
    return np.asarray(names, dtype="<U2")[order], p[order] / p.sum()


@functools.lru_cache(maxsize=1)
def _load_charfreq() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Characters (as uint32 code points), male counts, female counts from ngender's charfreq.csv."""
    text = (importlib.resources.files("ngender") / "charfreq.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    header, body = rows[0], rows[1:]
    if header != ["char", "male", "female"]:
        raise ValueError(f"unexpected ngender charfreq.csv header: {header!r}")
    body = [r for r in body if len(r) == 3 and len(r[0]) == 1]
    codes = np.fromiter((ord(r[0]) for r in body), dtype=np.uint32, count=len(body))
    male = np.fromiter((int(r[1]) for r in body), dtype=np.float64, count=len(body))
    female = np.fromiter((int(r[2]) for r in body), dtype=np.float64, count=len(body))
    return codes, male, female


def _cdf(p: np.ndarray) -> np.ndarray:
    c = np.cumsum(p, dtype=np.float64)
    c /= c[-1]
    c[-1] = 1.0
    return c


def _draw(cdf: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices drawn from the distribution whose cumulative sums are ``cdf``."""
    idx = np.searchsorted(cdf, rng.random(n), side="right")
    return np.minimum(idx, cdf.size - 1)


def _codes_to_str(codes: np.ndarray) -> np.ndarray:
    """(n, k) uint32 code points (0 = empty, only trailing) -> '<Uk' array."""
    codes = np.ascontiguousarray(codes, dtype=np.uint32)
    return codes.view(f"<U{codes.shape[1]}").reshape(codes.shape[0])


@dataclass(frozen=True)
class _CharTable:
    codes: np.ndarray  # uint32 code points
    cdf: np.ndarray  # for characters of two-character names
    single_cdf: np.ndarray  # for one-character names (prefix-type characters down-weighted)


@dataclass
class NameSampler:
    """Samples surnames, given names, minority-style names and full names.

    Parameters
    ----------
    temper:
        Exponent applied to character frequencies before normalising (``p ** temper``). Values below 1
        flatten the distribution (fewer collisions). 1.0 reproduces the corpus frequencies; with it the
        share of 张伟 among all people is ~1.5e-4, against ~2e-4 reported nationally, so no flattening is
        applied by default.
    single_char_knots:
        ``(birth_year, share)`` pairs for the share of one-character given names.
    redup_share_female, redup_share_male:
        Share of two-character given names that are reduplicated (婷婷, 丽丽; 明明 for men is rarer).
    min_char_count:
        Characters with fewer occurrences than this for the given sex are not used.
    prefix_weight:
        Weight multiplier of :data:`PREFIX_CHARS` when drawing one-character given names.
    minority_style_shares:
        Default mix of minority naming styles when none is given per person.
    """

    temper: float = 1.0
    single_char_knots: tuple[tuple[int, float], ...] = SINGLE_CHAR_SHARE_KNOTS
    redup_share_female: float = 0.03
    redup_share_male: float = 0.005
    min_char_count: int = 5
    prefix_weight: float = 0.1
    minority_style_shares: dict[str, float] = field(
        default_factory=lambda: {"uyghur": 0.5, "tibetan": 0.3, "mongol": 0.2}
    )
    surnames_csv: str = str(_SURNAMES_CSV)

    def __post_init__(self) -> None:
        if not 0.0 < self.temper <= 2.0:
            raise ValueError("temper must be in (0, 2]")
        names, p = _load_surnames(self.surnames_csv)
        self.surname_table: np.ndarray = names
        self.surname_p: np.ndarray = p
        self._surname_cdf = _cdf(p)
        codes, male, female = _load_charfreq()
        self._chars = {
            True: self._char_table(codes, male),
            False: self._char_table(codes, female),
        }
        knots = np.asarray(self.single_char_knots, dtype=np.float64)
        self._knot_years, self._knot_shares = knots[:, 0], knots[:, 1]
        styles = [s for s in MINORITY_STYLES if self.minority_style_shares.get(s, 0.0) > 0]
        if not styles:
            raise ValueError("minority_style_shares needs at least one positive share")
        w = np.asarray([self.minority_style_shares[s] for s in styles], dtype=np.float64)
        self._style_names = np.asarray(styles)
        self._style_cdf = _cdf(w)
        self._minority = {
            "uyghur": {
                True: np.asarray(_UYGHUR_MALE),
                False: np.asarray(_UYGHUR_FEMALE),
                "father": np.asarray(_UYGHUR_PATRONYMIC),
            },
            "tibetan": {True: np.asarray(_TIBETAN_MALE), False: np.asarray(_TIBETAN_FEMALE)},
            "mongol": {True: np.asarray(_MONGOL_MALE), False: np.asarray(_MONGOL_FEMALE)},
        }

    def _char_table(self, codes: np.ndarray, counts: np.ndarray) -> _CharTable:
        keep = counts >= self.min_char_count
        c, k = codes[keep], counts[keep]
        order = np.argsort(-k, kind="stable")
        c, w = c[order], k[order] ** self.temper
        prefix = np.isin(c, np.fromiter(map(ord, PREFIX_CHARS), dtype=np.uint32))
        w_single = np.where(prefix, w * self.prefix_weight, w)
        return _CharTable(codes=c, cdf=_cdf(w), single_cdf=_cdf(w_single))

    # ----------------------------------------------------------------------------------------------
    def surnames(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` surnames ('<U2') drawn from the surname shares."""
        return self.surname_table[_draw(self._surname_cdf, int(n), rng)]

    def single_char_share(self, birth_year: np.ndarray) -> np.ndarray:
        """Probability that a person born in ``birth_year`` has a one-character given name."""
        return np.interp(np.asarray(birth_year, dtype=np.float64), self._knot_years, self._knot_shares)

    def given_names(
        self,
        sex_male: np.ndarray,
        birth_year: np.ndarray,
        rng: np.random.Generator,
        *,
        surnames: np.ndarray | None = None,
    ) -> np.ndarray:
        """Han-style given names ('<U2'), one per person.

        ``surnames`` (optional) is used only to reject a given name equal to the surname.
        """
        sex_male = np.asarray(sex_male, dtype=bool)
        birth_year = np.broadcast_to(np.asarray(birth_year), sex_male.shape)
        n = sex_male.size
        codes = np.zeros((n, 2), dtype=np.uint32)
        single = rng.random(n) < self.single_char_share(birth_year)
        redup_p = np.where(sex_male, self.redup_share_male, self.redup_share_female)
        redup = ~single & (rng.random(n) < redup_p)
        sur_codes = None
        if surnames is not None:
            sur = np.asarray(surnames, dtype="<U2")
            if sur.shape != sex_male.shape:
                raise ValueError("surnames must have the same shape as sex_male")
            sur_codes = _codes_to_codes2(sur)

        for male in (True, False):
            sel = np.flatnonzero(sex_male == male)
            if sel.size == 0:
                continue
            table = self._chars[male]
            is_single = single[sel]
            is_redup = redup[sel]
            u = rng.random(sel.size)
            first_idx = np.where(
                is_single,
                np.searchsorted(table.single_cdf, u, side="right"),
                np.searchsorted(table.cdf, u, side="right"),
            )
            first = table.codes[np.minimum(first_idx, table.codes.size - 1)]
            second = table.codes[_draw(table.cdf, sel.size, rng)]
            second[is_single] = 0
            second[is_redup] = first[is_redup]
            # Reject: accidental doubled characters, and a given name equal to the surname.
            for _ in range(100):
                bad = ~is_single & ~is_redup & (first == second)
                if sur_codes is not None:
                    sc = sur_codes[sel]
                    bad |= (first == sc[:, 0]) & (second == sc[:, 1])
                bad_idx = np.flatnonzero(bad)
                if bad_idx.size == 0:
                    break
                u = rng.random(bad_idx.size)
                bi = np.where(
                    is_single[bad_idx],
                    np.searchsorted(table.single_cdf, u, side="right"),
                    np.searchsorted(table.cdf, u, side="right"),
                )
                first[bad_idx] = table.codes[np.minimum(bi, table.codes.size - 1)]
                redraw2 = bad_idx[~is_single[bad_idx]]
                second[redraw2] = table.codes[_draw(table.cdf, redraw2.size, rng)]
                rd = redraw2[is_redup[redraw2]]
                second[rd] = first[rd]
            else:  # pragma: no cover - probability is astronomically small
                raise RuntimeError("could not draw valid given names")
            codes[sel, 0] = first
            codes[sel, 1] = second
        return _codes_to_str(codes).reshape(sex_male.shape)

    def minority_names(
        self,
        n: int,
        sex_male: np.ndarray,
        rng: np.random.Generator,
        *,
        styles: np.ndarray | None = None,
    ) -> np.ndarray:
        """Transliterated minority-style names.

        * ``uyghur``: "<own name>·<father's name>", e.g. 阿依古丽·买买提;
        * ``tibetan``: two components without dot, e.g. 扎西次仁, 卓玛央金;
        * ``mongol``: a single name without dot, e.g. 巴特尔, 其其格.

        ``styles`` (optional, one of :data:`MINORITY_STYLES` per person) fixes the style; otherwise it is
        drawn from ``minority_style_shares``.
        """
        n = int(n)
        sex_male = np.broadcast_to(np.asarray(sex_male, dtype=bool), (n,))
        if styles is None:
            styles = self._style_names[_draw(self._style_cdf, n, rng)]
        else:
            styles = np.broadcast_to(np.asarray(styles), (n,))
            unknown = set(np.unique(styles).tolist()) - set(MINORITY_STYLES)
            if unknown:
                raise ValueError(f"unknown minority styles: {sorted(unknown)}")
        out = np.empty(n, dtype="<U16")
        for style in MINORITY_STYLES:
            for male in (True, False):
                sel = np.flatnonzero((styles == style) & (sex_male == male))
                if sel.size == 0:
                    continue
                own_list = self._minority[style][male]
                own = own_list[rng.integers(0, own_list.size, sel.size)]
                if style == "uyghur":
                    fathers = self._minority[style]["father"]
                    father = fathers[rng.integers(0, fathers.size, sel.size)]
                    out[sel] = np.strings.add(np.strings.add(own, MIDDLE_DOT), father)
                elif style == "tibetan":
                    # Second component from either sex list (次仁/格桑 are unisex), different from the first.
                    pool = np.concatenate([own_list, self._minority[style][not male]])
                    pool = np.unique(pool)
                    second = pool[rng.integers(0, pool.size, sel.size)]
                    for _ in range(100):
                        same = np.flatnonzero(second == own)
                        if same.size == 0:
                            break
                        second[same] = pool[rng.integers(0, pool.size, same.size)]
                    out[sel] = np.strings.add(own, second)
                else:
                    out[sel] = own
        return out

    def full_names(
        self,
        sex_male: np.ndarray,
        birth_year: np.ndarray,
        rng: np.random.Generator,
        *,
        surnames: np.ndarray | None = None,
        minority_mask: np.ndarray | None = None,
        minority_styles: np.ndarray | None = None,
    ) -> np.ndarray:
        """Full names: surname + given name, or a minority-style name where ``minority_mask`` is true.

        ``surnames`` (optional) supplies the surname per person (children inherit the father's surname);
        otherwise surnames are drawn. Minority-style names ignore the surname.
        """
        sex_male = np.asarray(sex_male, dtype=bool)
        n = sex_male.size
        if surnames is None:
            sur = self.surnames(n, rng).reshape(sex_male.shape)
        else:
            sur = np.asarray(surnames, dtype="<U2")
            if sur.shape != sex_male.shape:
                raise ValueError("surnames must have the same shape as sex_male")
        given = self.given_names(sex_male, birth_year, rng, surnames=sur)
        han = np.strings.add(sur, given)
        if minority_mask is None:
            return han
        minority_mask = np.asarray(minority_mask, dtype=bool)
        if minority_mask.shape != sex_male.shape:
            raise ValueError("minority_mask must have the same shape as sex_male")
        idx = np.flatnonzero(minority_mask.ravel())
        if idx.size == 0:
            return han
        styles = None
        if minority_styles is not None:
            styles = np.broadcast_to(np.asarray(minority_styles), sex_male.shape).ravel()[idx]
        mino = self.minority_names(idx.size, sex_male.ravel()[idx], rng, styles=styles)
        out = han.ravel().astype("<U16")
        out[idx] = mino
        return out.reshape(sex_male.shape)


def _codes_to_codes2(strings: np.ndarray) -> np.ndarray:
    """'<U2' array -> (n, 2) uint32 code points (0 for missing second character)."""
    s = np.ascontiguousarray(strings, dtype="<U2").ravel()
    return s.view(np.uint32).reshape(s.size, 2)


@functools.lru_cache(maxsize=1)
def default_sampler() -> NameSampler:
    """A shared :class:`NameSampler` with default parameters (built once per process)."""
    return NameSampler()


def collision_stats(names: np.ndarray) -> dict:
    """Full-name collision statistics.

    Returns ``n``; ``distinct`` names; ``share_shared`` — share of people whose name is carried by at least
    one other person; ``largest_group`` — size of the largest group of namesakes, and ``most_common``.
    """
    names = np.asarray(names).ravel()
    n = int(names.size)
    if n == 0:
        return {"n": 0, "distinct": 0, "share_shared": 0.0, "largest_group": 0, "most_common": None}
    uniq, counts = np.unique(names, return_counts=True)
    top = int(np.argmax(counts))
    return {
        "n": n,
        "distinct": int(uniq.size),
        "share_shared": float(counts[counts > 1].sum() / n),
        "largest_group": int(counts[top]),
        "most_common": str(uniq[top]),
    }
