"""Certificate of completion drawn with Pillow (pure: no DB, no reflex).

The CJK font comes from `demo.covers.font` (Noto Sans CJK SC when installed; Pillow's default
font otherwise, which still produces a valid image). Text is drawn as pixels, so a learner's
nickname can never inject markup into the picture.
"""

from __future__ import annotations

import io
from datetime import date

from PIL import Image, ImageDraw

from coursemall.demo.covers import font, wrap_text

CERT_SIZE = (1600, 1130)  # ≈ A4 landscape
_INK = (38, 38, 48)
_GOLD = (176, 134, 58)
_PAPER = (252, 249, 240)


def _centered(d: ImageDraw.ImageDraw, y: int, text: str, fnt, fill) -> int:
    box = d.textbbox((0, 0), text, font=fnt)
    w, h = box[2] - box[0], box[3] - box[1]
    d.text(((CERT_SIZE[0] - w) / 2 - box[0], y), text, font=fnt, fill=fill)
    return y + h


def draw_certificate(*, learner_name: str, course_title: str, issued_on: date, code: str,
                     shop_name: str = "CourseMall", verify_url: str = "") -> Image.Image:
    w, h = CERT_SIZE
    img = Image.new("RGB", CERT_SIZE, _PAPER)
    d = ImageDraw.Draw(img)
    d.rectangle((30, 30, w - 30, h - 30), outline=_GOLD, width=8)
    d.rectangle((52, 52, w - 52, h - 52), outline=_GOLD, width=2)
    y = _centered(d, 120, "结业证书", font(96), _INK) + 44
    y = _centered(d, y, "CERTIFICATE OF COMPLETION", font(34, bold=False), _GOLD) + 90
    y = _centered(d, y, "兹证明 / This certifies that", font(32, bold=False), _INK) + 40
    y = _centered(d, y, learner_name[:40] or "—", font(80), _INK) + 50
    y = _centered(d, y, "已完成课程 / has completed the course", font(32, bold=False), _INK) + 40
    title_font = font(56)
    for line in wrap_text(course_title[:80], title_font, w - 360, 2):
        y = _centered(d, y, f"{line}", title_font, _INK) + 16
    d.line((w / 2 - 260, h - 250, w / 2 + 260, h - 250), fill=_GOLD, width=2)
    _centered(d, h - 225, f"{shop_name} · {issued_on.isoformat()}", font(30, bold=False), _INK)
    footer = f"证书编号 Certificate No. {code}"
    if verify_url:
        footer += f"  ·  {verify_url}"
    _centered(d, h - 150, footer, font(24, bold=False), (110, 110, 120))
    return img


def render_png(**kwargs) -> bytes:
    out = io.BytesIO()
    draw_certificate(**kwargs).save(out, format="PNG", optimize=True)
    return out.getvalue()
