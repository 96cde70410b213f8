"""Demo images drawn with Pillow: course/bundle covers, instructor avatars, article figures.

Every drawing is seeded by a string (the course slug, ...), so each cover is distinct and a rerun
draws the same picture. Chinese text needs a CJK font (Debian `fonts-noto-cjk`); without one the
default font is used and the images still come out (with boxes instead of Chinese glyphs).
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import random
import re
import shutil
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

COVER_SIZE = (720, 405)  # 16:9
FIGURE_SIZE = (800, 450)

_FONT_CANDIDATES = {
    True: ["/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
           "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc"],
    False: ["/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
            "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"],
}


def stable_name(folder: str, key: str, ext: str) -> str:
    """Public file name derived from a key, e.g. covers/3f2a9c01b7de.jpg (relative to public_dir)."""
    return f"{folder}/{hashlib.sha1(key.encode()).hexdigest()[:12]}.{ext}"


def _rng(key: str) -> random.Random:
    return random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:16], 16))


@functools.lru_cache(maxsize=2)
def _cjk_font_path(bold: bool) -> str | None:
    for path in _FONT_CANDIDATES[bold]:
        if Path(path).is_file():
            return path
    if shutil.which("fc-match"):
        style = "bold" if bold else "regular"
        try:
            out = subprocess.run(["fc-match", "-f", "%{file}", f"Noto Sans CJK SC:{style}"],
                                 capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and Path(out).is_file() and "CJK" in out:
            return out
    return None


@functools.lru_cache(maxsize=64)
def font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A CJK font at `size`, preferring the Simplified Chinese face of a .ttc collection."""
    path = _cjk_font_path(bold)
    if path:
        for index in range(8):  # Noto CJK collections hold JP, KR, SC, TC, HK faces: pick SC
            try:
                face = ImageFont.truetype(path, size, index=index)
            except OSError:
                break
            if "SC" in face.getname()[0]:
                return face
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # very old Pillow without sized default font
        return ImageFont.load_default()


# Latin words and numbers stay whole; every CJK character (and punctuation) may break.
_TOKEN = re.compile(r"[A-Za-z0-9.+#'-]+|\s+|.")


def wrap_text(text: str, fnt, max_width: int, max_lines: int) -> list[str]:
    """Greedy wrap by rendered width; Chinese has no spaces so we break between characters."""
    lines: list[str] = []
    line = ""
    tokens: list[str] = []
    for token in _TOKEN.findall(text):  # a word wider than the box is split into characters
        tokens.extend(token if _width(token, fnt) > max_width else [token])
    for token in tokens:
        candidate = line + token
        if not line or _width(candidate, fnt) <= max_width:
            line = candidate
            continue
        lines.append(line.rstrip())
        line = token.lstrip()
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and _width(last + "…", fnt) > max_width:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


def _width(text: str, fnt) -> float:
    return fnt.getlength(text)


def _palette(rng: random.Random, hue: float | None = None):
    """Two gradient colours and an accent around `hue` (random if None); dark enough for white text."""
    hue = rng.random() if hue is None else hue
    shift = rng.uniform(0.06, 0.18) * rng.choice((-1, 1))

    def rgb(h: float, light: float, sat: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hls_to_rgb(h % 1.0, light, sat)
        return int(r * 255), int(g * 255), int(b * 255)

    return (rgb(hue, rng.uniform(0.28, 0.38), rng.uniform(0.55, 0.8)),
            rgb(hue + shift, rng.uniform(0.42, 0.52), rng.uniform(0.55, 0.85)),
            rgb(hue + 0.5, 0.62, 0.75))


def _gradient(size: tuple[int, int], c1, c2, angle: float) -> Image.Image:
    """A linear gradient at `angle` degrees, made from Pillow's built-in ramp (fast, no pixel loop)."""
    w, h = size
    side = int((w * w + h * h) ** 0.5) + 2
    ramp = Image.linear_gradient("L").resize((side, side)).rotate(angle, resample=Image.BICUBIC)
    left, top = (side - w) // 2, (side - h) // 2
    mask = ramp.crop((left, top, left + w, top + h))
    return Image.composite(Image.new("RGB", size, c2), Image.new("RGB", size, c1), mask)


def _decorate(img: Image.Image, rng: random.Random, accent) -> None:
    """Translucent circles, rings and stripes in a seeded layout."""
    w, h = img.size
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    for _ in range(rng.randint(3, 6)):
        r = rng.randint(40, 180)
        x, y = rng.randint(w // 3, w + 60), rng.randint(-60, h + 60)
        if rng.random() < 0.5:
            d.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, rng.randint(18, 45)))
        else:
            d.ellipse((x - r, y - r, x + r, y + r), outline=accent + (rng.randint(90, 160),),
                      width=rng.randint(4, 12))
    step = rng.randint(18, 34)
    offset = rng.randint(0, w // 2)
    for i in range(rng.randint(3, 7)):
        x0 = offset + i * step
        d.line((x0, h, x0 + h, 0), fill=(255, 255, 255, 28), width=6)
    img.paste(layer.filter(ImageFilter.GaussianBlur(1)), (0, 0), layer)


def _shadowed_text(img: Image.Image, xy, text: str, fnt, fill=(255, 255, 255)) -> None:
    d = ImageDraw.Draw(img)
    d.text((xy[0] + 2, xy[1] + 3), text, font=fnt, fill=(0, 0, 0))
    d.text(xy, text, font=fnt, fill=fill)


def balanced_wrap(text: str, fnt, max_width: int, max_lines: int) -> list[str]:
    """Wrap into as few lines as fit, then narrow the box while the line count stays the same,
    so a title never ends with one orphaned character. A title with a colon breaks after it
    when both halves fit ("时间管理：" / "告别拖延的 21 天行动计划")."""
    head, colon, tail = text.partition("：")
    if colon and tail and _width(head + colon, fnt) <= max_width:
        rest = balanced_wrap(tail, fnt, max_width, max_lines - 1) if max_lines > 1 else []
        if rest and not rest[-1].endswith("…"):
            return [head + colon, *rest]
    best = wrap_text(text, fnt, max_width, max_lines)
    width = max_width
    while len(best) > 1 and width > max_width // 3:
        width -= 12
        candidate = wrap_text(text, fnt, width, max_lines)
        if len(candidate) > len(best) or candidate[-1].endswith("…"):
            break
        best = candidate
    return best


def draw_cover(title: str, label: str, footer: str, key: str, hue: float | None = None) -> Image.Image:
    """A 16:9 course cover: seeded gradient and shapes, a label pill, the wrapped title, a footer.
    Pass `hue` (0..1) to spread a set of covers around the colour wheel."""
    rng = _rng(key)
    c1, c2, accent = _palette(rng, hue)
    img = _gradient(COVER_SIZE, c1, c2, rng.uniform(0, 360))
    _decorate(img, rng, accent)
    # Soften the left side so the title stays readable over the shapes.
    shade = Image.new("RGBA", COVER_SIZE, (0, 0, 0, 0))
    ImageDraw.Draw(shade).rectangle((0, 0, 470, COVER_SIZE[1]), fill=(0, 0, 0, 60))
    shade = shade.filter(ImageFilter.GaussianBlur(40))
    img.paste(shade, (0, 0), shade)

    d = ImageDraw.Draw(img)
    pad = 44
    label_font = font(22)
    lw = _width(label, label_font)
    d.rounded_rectangle((pad, 36, pad + lw + 28, 76), radius=20, fill=accent)
    d.text((pad + 14, 41), label, font=label_font, fill=(20, 20, 20))

    size = 60 if len(title) <= 10 else 52
    title_font = font(size)
    lines = balanced_wrap(title, title_font, COVER_SIZE[0] - 2 * pad, 3)
    line_h = int(size * 1.3)
    y = max(104, (COVER_SIZE[1] - line_h * len(lines)) // 2 + 10)
    for line in lines:
        _shadowed_text(img, (pad, y), line, title_font)
        y += line_h
    d.line((pad, y + 8, pad + 64, y + 8), fill=accent, width=6)
    foot_font = font(22, bold=False)
    _shadowed_text(img, (pad, COVER_SIZE[1] - 56), footer, foot_font, fill=(235, 235, 235))
    return img


def draw_avatar(name: str, key: str, size: int = 256) -> Image.Image:
    """A round avatar: a seeded colour disc with the first character of the name."""
    rng = _rng(key)
    c1, c2, _ = _palette(rng)
    disc = _gradient((size, size), c1, c2, rng.uniform(0, 360)).convert("RGBA")
    mask = Image.new("L", (size * 4, size * 4), 0)  # drawn large and shrunk: smooth edge
    ImageDraw.Draw(mask).ellipse((0, 0, size * 4 - 1, size * 4 - 1), fill=255)
    disc.putalpha(mask.resize((size, size), Image.LANCZOS))
    fnt = font(int(size * 0.46))
    char = name[:1] or "?"
    d = ImageDraw.Draw(disc)
    box = d.textbbox((0, 0), char, font=fnt)
    x = (size - (box[2] - box[0])) / 2 - box[0]
    y = (size - (box[3] - box[1])) / 2 - box[1]
    d.text((x, y), char, font=fnt, fill=(255, 255, 255))
    return disc


def draw_figure(caption: str, key: str) -> Image.Image:
    """An article figure that looks like a chart or diagram: bars, a line chart or a flow."""
    rng = _rng(key)
    c1, c2, accent = _palette(rng)
    img = Image.new("RGB", FIGURE_SIZE, (250, 250, 247))
    d = ImageDraw.Draw(img)
    kind = rng.choice(("bars", "line", "flow"))
    left, top, right, bottom = 70, 80, FIGURE_SIZE[0] - 40, FIGURE_SIZE[1] - 70
    d.text((40, 24), caption, font=font(26), fill=(40, 40, 40))
    small = font(16, bold=False)
    if kind == "flow":
        steps = rng.randint(3, 4)
        box_w = (right - left - (steps - 1) * 40) // steps
        y0 = (top + bottom) // 2 - 45
        for i in range(steps):
            x0 = left + i * (box_w + 40)
            d.rounded_rectangle((x0, y0, x0 + box_w, y0 + 90), radius=14,
                                fill=c2 if i % 2 == 0 else c1)
            d.text((x0 + 16, y0 + 30), f"步骤 {i + 1}", font=font(22), fill=(255, 255, 255))
            if i < steps - 1:
                ax = x0 + box_w + 6  # arrow across the 40 px gap
                d.line((ax, y0 + 45, ax + 18, y0 + 45), fill=(90, 90, 90), width=4)
                d.polygon([(ax + 18, y0 + 37), (ax + 28, y0 + 45), (ax + 18, y0 + 53)], fill=(90, 90, 90))
        return img
    # axes and grid
    for i in range(5):
        gy = bottom - i * (bottom - top) // 4
        d.line((left, gy, right, gy), fill=(225, 225, 225), width=1)
        d.text((28, gy - 9), str(i * 25), font=small, fill=(120, 120, 120))
    d.line((left, top, left, bottom), fill=(90, 90, 90), width=2)
    d.line((left, bottom, right, bottom), fill=(90, 90, 90), width=2)
    n = rng.randint(5, 8)
    values = [rng.uniform(0.2, 0.95) for _ in range(n)]
    slot = (right - left) / n
    if kind == "bars":
        for i, v in enumerate(values):
            x0 = left + i * slot + slot * 0.2
            d.rectangle((x0, bottom - v * (bottom - top), x0 + slot * 0.6, bottom - 1),
                        fill=c2 if i != values.index(max(values)) else accent)
            d.text((x0, bottom + 8), f"{i + 1}月", font=small, fill=(90, 90, 90))
    else:
        pts = [(left + (i + 0.5) * slot, bottom - v * (bottom - top)) for i, v in enumerate(values)]
        d.line(pts, fill=c2, width=4, joint="curve")
        for i, (x, y) in enumerate(pts):
            d.ellipse((x - 6, y - 6, x + 6, y + 6), fill=accent)
            d.text((x - 12, bottom + 8), f"第{i + 1}周", font=small, fill=(90, 90, 90))
    return img


def save_image(img: Image.Image, public_dir: Path, name: str) -> None:
    """Write an image under public_dir (JPEG for .jpg, PNG otherwise) through a temp file."""
    path = public_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part" + path.suffix)
    if name.endswith(".jpg"):
        img.convert("RGB").save(tmp, "JPEG", quality=85, optimize=True, progressive=True)
    else:
        img.save(tmp, "PNG", optimize=True)
    tmp.replace(path)


def ensure_image(public_dir: Path, name: str, draw) -> bool:
    """Draw `name` unless the file is already there. Returns True when drawn."""
    if (public_dir / name).is_file():
        return False
    save_image(draw(), public_dir, name)
    return True
