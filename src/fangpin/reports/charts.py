"""Server-side charts for the PDF and DOCX reports: PNG images drawn with Pillow (already a dependency of
reportlab), so no plotting library is needed. Chinese labels use a system CJK font (fonts-wqy-microhei, installed by
scripts/sysdeps.sh; Noto CJK also works); without one the labels fall back to the English names.
"""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

__all__ = ["cjk_font_path", "bar_chart", "hbar_chart"]

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)
PALETTE = ["#a31515", "#1f6fb2", "#e39b16", "#3a9b5c", "#7b4fa0", "#5b6b7b", "#c2185b", "#00838f"]
SCALE = 2  # draw at 2× for sharp print


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    for p in FONT_CANDIDATES:
        if Path(p).exists():
            return p
    return None


@lru_cache(maxsize=16)
def _font(size: int):
    p = cjk_font_path()
    return ImageFont.truetype(p, size * SCALE) if p else ImageFont.load_default(size * SCALE)


def label(zh: str, en: str) -> str:
    """The Chinese label when a CJK font is available, else the English one."""
    return zh if cjk_font_path() else en


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1
    import math

    mag = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * mag:
            return m * mag
    return 10 * mag


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _text_w(d: ImageDraw.ImageDraw, s: str, f) -> int:
    return int(d.textlength(s, font=f))


def bar_chart(title: str, categories: list[str], series: dict[str, list[float]], *, stacked: bool = False,
              width: int = 640, height: int = 300) -> bytes:
    """Vertical bars per category; several series side by side or stacked. Values are printed on short series."""
    S = SCALE
    W, H = width * S, height * S
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    ft, fs = _font(13), _font(10)
    d.text((12 * S, 8 * S), title, fill="#1d2733", font=ft)
    # legend
    x = 12 * S
    ly = 30 * S
    for i, name in enumerate(series):
        c = PALETTE[i % len(PALETTE)]
        d.rectangle([x, ly + 2 * S, x + 10 * S, ly + 12 * S], fill=c)
        d.text((x + 14 * S, ly), name, fill="#1d2733", font=fs)
        x += 14 * S + _text_w(d, name, fs) + 16 * S
    left, right, top, bottom = 48 * S, W - 12 * S, 52 * S, H - 34 * S
    vals = list(series.values())
    n = len(categories)
    if stacked:
        vmax = max((sum(v[i] for v in vals) for i in range(n)), default=0)
    else:
        vmax = max((max(v) for v in vals if v), default=0)
    vmax = _nice_max(vmax)
    if vmax >= 4 and vmax % 4:
        vmax = -(-vmax // 4) * 4  # whole-number ticks for counts
    for k in range(5):
        y = bottom - (bottom - top) * k / 4
        d.line([left, y, right, y], fill="#e1e5ea", width=S)
        t = f"{vmax * k / 4:g}"
        d.text((left - 6 * S - _text_w(d, t, fs), y - 6 * S), t, fill="#5b6b7b", font=fs)
    d.line([left, bottom, right, bottom], fill="#5b6b7b", width=S)
    slot = (right - left) / max(n, 1)
    group = slot * 0.7
    k_series = 1 if stacked else max(len(vals), 1)
    bw = group / k_series
    for i, cat in enumerate(categories):
        x0 = left + slot * i + (slot - group) / 2
        base = bottom
        for j, v in enumerate(vals):
            h = (bottom - top) * (v[i] / vmax) if vmax else 0
            c = PALETTE[j % len(PALETTE)]
            if stacked:
                if h > 0:
                    d.rectangle([x0, base - h, x0 + bw, base], fill=c)
                base -= h
            else:
                xb = x0 + bw * j
                if h > 0:
                    d.rectangle([xb, bottom - h, xb + bw * 0.92, bottom], fill=c)
                if n * len(vals) <= 24 and v[i]:
                    t = f"{v[i]:g}"
                    d.text((xb + bw / 2 - _text_w(d, t, fs) / 2, bottom - h - 13 * S), t, fill="#1d2733", font=fs)
        if stacked and n <= 24:
            tot = sum(v[i] for v in vals)
            if tot:
                t = f"{tot:g}"
                d.text((x0 + bw / 2 - _text_w(d, t, fs) / 2, base - 13 * S), t, fill="#1d2733", font=fs)
        tw = _text_w(d, cat, fs)
        if n <= 12 or i % 2 == 0:
            d.text((left + slot * i + slot / 2 - tw / 2, bottom + 6 * S), cat, fill="#5b6b7b", font=fs)
    return _png(img)


def hbar_chart(title: str, labels: list[str], values: list[float], *, width: int = 640, unit: str = "") -> bytes:
    """Horizontal bars (one per label, largest first as given), value printed at the bar end."""
    S = SCALE
    row = 22
    height = 40 + row * max(len(labels), 1) + 12
    W, H = width * S, height * S
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    ft, fs = _font(13), _font(10)
    d.text((12 * S, 8 * S), title, fill="#1d2733", font=ft)
    lw = max((_text_w(d, lb, fs) for lb in labels), default=0) + 20 * S
    lw = min(lw, int(W * 0.45))
    left, right, top = lw, W - 60 * S, 36 * S
    vmax = max(values, default=0) or 1
    for i, (lb, v) in enumerate(zip(labels, values)):
        y = top + i * row * S
        d.text((12 * S, y + 3 * S), lb, fill="#1d2733", font=fs)
        w = (right - left) * v / vmax
        d.rectangle([left, y + 3 * S, left + w, y + (row - 5) * S], fill=PALETTE[1])
        t = f"{v:g}{unit}"
        d.text((left + w + 4 * S, y + 3 * S), t, fill="#1d2733", font=fs)
    if not labels:
        d.text((12 * S, top), "—", fill="#5b6b7b", font=fs)
    return _png(img)
