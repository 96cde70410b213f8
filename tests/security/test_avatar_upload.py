"""Avatar uploads: sniffed type, size limit, decompression bombs, EXIF/GPS stripped, 256x256."""

from __future__ import annotations

import io
import zlib
import struct

import pytest
from PIL import Image
from sqlmodel import Session

from coursemall.domain.errors import DomainError
from coursemall.media import images
from coursemall.models.accounts import User
from coursemall.services.accounts import users


def _jpeg(size=(800, 600), color=(200, 80, 30), **save) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG", **save)
    return buf.getvalue()


def _png_bomb(width=20000, height=20000) -> bytes:
    """A valid PNG header claiming width x height pixels, with a tiny compressed body."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    raw = zlib.compress(b"\x00" * ((width + 7) // 8 + 1) * 64, 9)  # a few rows are enough
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _code(data: bytes) -> str:
    with pytest.raises(DomainError) as err:
        images.process_avatar(data)
    return err.value.code


def test_text_file_renamed_png_is_refused():
    assert _code(b"hello, I am not an image\n" * 10) == "avatar.not_image"


def test_truncated_jpeg_is_refused():
    data = _jpeg()
    assert _code(data[: len(data) // 2]) == "avatar.not_image"


def test_png_bomb_is_refused_without_decoding():
    bomb = _png_bomb()
    assert len(bomb) < 20_000
    assert _code(bomb) == "avatar.too_many_pixels"


def test_unsupported_format_is_refused():
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, format="BMP")
    assert _code(buf.getvalue()) == "avatar.not_image"


def test_oversized_upload_is_refused_while_reading():
    stream = io.BytesIO(b"\xff" * 2000)
    with pytest.raises(DomainError) as err:
        images.read_limited(stream, 1000)
    assert err.value.code == "avatar.too_large"
    assert stream.tell() == 1001  # never read more than the limit + 1
    assert images.read_limited(io.BytesIO(b"x" * 1000), 1000) == b"x" * 1000


def test_exif_gps_is_stripped_and_resized():
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    exif[0x010F] = "SpyCam"
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 29.0)}  # GPS IFD
    src = _jpeg(size=(640, 480), exif=exif.tobytes())
    assert Image.open(io.BytesIO(src)).getexif().get_ifd(0x8825), "fixture has GPS"
    out = images.process_avatar(src)
    im = Image.open(io.BytesIO(out))
    assert im.format == "JPEG" and im.size == (256, 256)
    assert not im.getexif() and "exif" not in im.info and "icc_profile" not in im.info
    assert b"SpyCam" not in out and b"Exif" not in out


@pytest.mark.parametrize("fmt,mode", [("PNG", "RGBA"), ("WEBP", "RGB"), ("GIF", "P")])
def test_other_formats_accepted(fmt, mode):
    buf = io.BytesIO()
    frames = [Image.new(mode, (300, 120)) for _ in range(2)]
    if fmt == "GIF":
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    else:
        frames[0].save(buf, format=fmt)
    out = Image.open(io.BytesIO(images.process_avatar(buf.getvalue())))
    assert out.size == (256, 256) and out.mode == "RGB"


def test_set_avatar_replaces_file_and_bad_file_changes_nothing(sqlite_engine, tmp_path):
    with Session(sqlite_engine, expire_on_commit=False) as s:
        user = users.register_user(s, account="pic@example.com", password="pass-word-1",
                                      nickname="Pic")
        first = users.set_avatar(s, user_id=user.id, data=_jpeg(), public_dir=tmp_path)
        s.commit()
        first_name = s.get(User, user.id).avatar_path
        assert first.avatar_url == f"/api/public/{first_name}"
        assert first_name.startswith("avatars/") and (tmp_path / first_name).is_file()

        with pytest.raises(DomainError):
            users.set_avatar(s, user_id=user.id, data=b"GIF89a not really", public_dir=tmp_path)
        s.rollback()
        assert s.get(User, user.id).avatar_path == first_name
        assert sorted(p.name for p in (tmp_path / "avatars").iterdir()) == [first_name.split("/")[1]]

        users.set_avatar(s, user_id=user.id, data=_jpeg(color=(1, 2, 3)), public_dir=tmp_path)
        s.commit()
        second_name = s.get(User, user.id).avatar_path
        assert second_name != first_name and not (tmp_path / first_name).exists()
        assert (tmp_path / second_name).is_file()
