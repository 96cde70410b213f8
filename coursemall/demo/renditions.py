"""Renditions for the demo videos, so the player's HD/SD switch, listen mode and posters work in
`make run` without waiting for the transcoding worker.

The demo clips (coursemall/demo/media_gen.py) are already small 360p H.264/AAC MP4s with
faststart, so the original serves as "hd"; "sd" is a fast 180p re-encode, "audio" a stream copy of
the AAC track into .m4a, "poster" one JPEG frame in the public dir. Files are made once (kept if
present with a non-zero size) and the row is only written when something is missing: idempotent
and cheap on every later seed.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from coursemall.media import ffmpeg
from coursemall.models import MediaAsset

DEMO_PREFIX = "demo/"
SD_HEIGHT = 180


def _sd_command(src: Path, out: Path) -> list[str]:
    return [ffmpeg.ffmpeg_exe(), "-y", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(src),
            "-vf", f"scale=-2:{SD_HEIGHT}", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "32",
            "-pix_fmt", "yuv420p", "-g", "50", "-c:a", "copy", "-movflags", "+faststart", "-f", "mp4", str(out)]


def _audio_command(src: Path, out: Path) -> list[str]:
    return [ffmpeg.ffmpeg_exe(), "-y", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(src),
            "-vn", "-c:a", "copy", "-movflags", "+faststart", "-f", "mp4", str(out)]


def _make(path: Path, command: list[str]) -> None:
    """Write `path` unless it exists; via a .part file so a killed seed leaves no half file."""
    if path.is_file() and path.stat().st_size > 0:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    command[-1] = str(part)
    ffmpeg.run_simple(command, timeout=300)
    part.replace(path)


def _keys(storage_key: str) -> dict[str, str]:
    stem = storage_key.rsplit(".", 1)[0]
    name = stem.rsplit("/", 1)[-1]
    return {"sd": f"{stem}.sd.mp4", "audio": f"{stem}.audio.m4a", "poster": f"posters/demo-{name}.jpg"}


def ensure_demo_renditions(session: Session, media_dir: Path, public_dir: Path | None = None) -> int:
    """Give every demo video asset hd/sd/audio/poster. Returns how many assets were updated."""
    if public_dir is None:
        from coursemall.settings import get_settings

        public_dir = get_settings().public_dir
    assets = session.exec(select(MediaAsset).where(MediaAsset.kind == "video",
                                                   MediaAsset.storage_key.startswith(DEMO_PREFIX))  # type: ignore[attr-defined]
                          .order_by(MediaAsset.id)).all()
    updated = 0
    for asset in assets:
        src = media_dir / asset.storage_key
        if not src.is_file():
            continue
        keys = _keys(asset.storage_key)
        _make(media_dir / keys["sd"], _sd_command(src, media_dir / keys["sd"]))
        _make(media_dir / keys["audio"], _audio_command(src, media_dir / keys["audio"]))
        _make(public_dir / keys["poster"],
              ffmpeg.poster_command(src, public_dir / keys["poster"], at_seconds=1.0))
        wanted = {"hd": asset.storage_key, **keys}
        current = dict(asset.renditions or {})
        if any(current.get(name) != value for name, value in wanted.items()):
            asset.renditions = {**current, **wanted}
            session.add(asset)
            updated += 1
    session.flush()
    return updated
