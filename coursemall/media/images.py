"""Uploaded image processing (avatars, photos): pure functions, no Reflex, no database.

Never trusts the file name or the declared content type: the bytes are sniffed with Pillow,
decompression bombs are refused before decoding, orientation is applied and every piece of
metadata (EXIF, GPS, ICC, comments) is dropped by re-encoding the pixels into a new file with a
server-generated name.
"""

from __future__ import annotations

import io
import secrets
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

from coursemall.domain.errors import DomainError

AVATAR_SIZE = 256
MAX_PIXELS = 40_000_000  # 40 MP: larger than any phone photo, far below a bomb
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
AVATAR_DIR = "avatars"


def read_limited(stream: BinaryIO, max_bytes: int) -> bytes:
    """Read at most max_bytes+1 bytes; more than max_bytes is refused ('avatar.too_large')."""
    data = stream.read(max_bytes + 1)
    if not isinstance(data, bytes | bytearray):
        raise DomainError("avatar.not_image")
    if len(data) > max_bytes:
        raise DomainError("avatar.too_large", mb=max(1, max_bytes // (1024 * 1024)))
    if not data:
        raise DomainError("avatar.not_image")
    return bytes(data)


def _open_checked(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data))
            if probe.format not in ACCEPTED_FORMATS:
                raise DomainError("avatar.not_image")
            width, height = probe.size
            if width < 1 or height < 1 or width * height > MAX_PIXELS:
                raise DomainError("avatar.too_many_pixels")
            probe.verify()  # structure and checksums; the image object is unusable afterwards
            image = Image.open(io.BytesIO(data))  # reopen to decode for real
            image.seek(0)  # GIF/WebP animations: first frame only
            image.load()
        except DomainError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DomainError("avatar.too_many_pixels") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
                struct.error):
            raise DomainError("avatar.not_image") from None
    return image


def process_avatar(data: bytes, *, fmt: str = "JPEG") -> bytes:
    """Validate an uploaded image and return a clean 256x256 JPEG (or WebP) with no metadata."""
    if fmt not in ("JPEG", "WEBP"):
        raise ValueError("fmt must be JPEG or WEBP")
    image = _open_checked(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = ImageOps.exif_transpose(image) or image
            if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                background = Image.new("RGB", rgba.size, (255, 255, 255))
                background.paste(rgba, mask=rgba.getchannel("A"))
                image = background
            else:
                image = image.convert("RGB")
            square = ImageOps.fit(image, (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS)
    except DomainError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise DomainError("avatar.not_image") from None
    # A fresh image holds pixels only: no EXIF, GPS, ICC profile or comments survive.
    clean = Image.new("RGB", square.size)
    clean.paste(square)
    out = io.BytesIO()
    if fmt == "JPEG":
        clean.save(out, format="JPEG", quality=88, optimize=True)
    else:
        clean.save(out, format="WEBP", quality=85)
    return out.getvalue()


def clean_photo(data: bytes, *, max_side: int) -> bytes:
    """Validate an uploaded photo (payment proof, QR code, check-in) and return a PNG of at most
    `max_side` pixels per side holding pixels only (no EXIF/GPS). Same checks as avatars."""
    image = _open_checked(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = (ImageOps.exif_transpose(image) or image).convert("RGB")
            image.thumbnail((max_side, max_side))
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise DomainError("avatar.not_image") from None
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return out.getvalue()


def new_avatar_name(fmt: str = "JPEG") -> str:
    ext = "jpg" if fmt == "JPEG" else "webp"
    return f"{AVATAR_DIR}/{secrets.token_hex(16)}.{ext}"


def save_public_image(public_dir: Path, name: str, content: bytes) -> Path:
    """Write a processed image under public_dir atomically; `name` must be server-generated."""
    root = public_dir.resolve()
    path = (root / name).resolve()
    if root not in path.parents:
        raise ValueError("image name escapes the public dir")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(content)
    tmp.replace(path)
    return path


def delete_public_image(public_dir: Path, name: str) -> None:
    """Remove a previously stored avatar; silently ignores names outside avatars/ or missing."""
    if not name or not name.startswith(f"{AVATAR_DIR}/"):
        return
    root = public_dir.resolve()
    path = (root / name).resolve()
    if root in path.parents and path.is_file():
        path.unlink(missing_ok=True)
