"""Renditions and free-seconds clips for the demo media, so `make run` plays exactly as production
does (encrypted HLS through hls.js, HD/SD switch, listen mode, posters, preview clips) without
waiting for the media job worker.

The demo clips (coursemall/demo/media_gen.py) are already small 360p H.264/AAC MP4s with a
keyframe every 2 s and MP3s, so:
- a video's original serves as "hd"; "sd" is a fast 180p re-encode, "audio" a stream copy of the
  AAC track into .m4a, "poster" one JPEG frame in the public dir;
- an audio's "audio" is a short AAC re-encode of the MP3;
- the encrypted HLS variants are cut from those by stream copy with the pipeline's own function
  (services/packaging.make_hls), one random key per variant;
- every lesson with free seconds gets its clip with the pipeline's own function
  (services/packaging.make_preview_clip); lessons sharing an asset and a length share the file.
Files are made once (kept if present) and rows are only written when something is missing:
idempotent and cheap on every later seed.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from coursemall.media import ffmpeg
from coursemall.models import Lesson, MediaAsset
from coursemall.services.media import packaging, transcode
from coursemall.services.learning.media_access import preview_ready

DEMO_PREFIX = "demo/"
SD_HEIGHT = 180
HLS_TIMEOUT = 300


def _sd_command(src: Path, out: Path) -> list[str]:
    return [ffmpeg.ffmpeg_exe(), "-y", "-hide_banner", "-nostdin", "-loglevel", "error",
            *ffmpeg.input_args(src, "mov"),
            "-vf", f"scale=-2:{SD_HEIGHT}", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "32",
            "-pix_fmt", "yuv420p", "-g", "50", "-c:a", "copy", "-movflags", "+faststart", "-f", "mp4", str(out)]


def _audio_copy_command(src: Path, out: Path) -> list[str]:
    return [ffmpeg.ffmpeg_exe(), "-y", "-hide_banner", "-nostdin", "-loglevel", "error",
            *ffmpeg.input_args(src, "mov"), "-vn", "-c:a", "copy", "-movflags", "+faststart", "-f", "mp4", str(out)]


def _make(path: Path, command: list[str]) -> None:
    """Write `path` unless it exists; via a .part file so a killed seed leaves no half file."""
    if path.is_file() and path.stat().st_size > 0:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    command[-1] = str(part)
    ffmpeg.run_simple(command, timeout=300)
    part.replace(path)


def _keys(asset: MediaAsset) -> dict[str, str]:
    stem = asset.storage_key.rsplit(".", 1)[0]
    if asset.kind != "video":
        return {"audio": f"{stem}.audio.m4a"}
    name = stem.rsplit("/", 1)[-1]
    return {"hd": asset.storage_key, "sd": f"{stem}.sd.mp4", "audio": f"{stem}.audio.m4a",
            "poster": f"posters/demo-{name}.jpg"}


def _hls(media_dir: Path, asset: MediaAsset, keys: dict[str, str]) -> dict[str, str]:
    """The encrypted variants, made once into the asset's folder (demo/<name>/hls/<variant>)."""
    prefix = transcode.asset_prefix(asset)
    folder = media_dir / prefix
    wanted = {variant: media_dir / keys[variant] for variant, _ in packaging.HLS_SOURCES if variant in keys}
    done = {}
    for variant in wanted:
        try:
            packaging.check_playlist(folder / packaging.HLS_DIR / variant)
            done[f"hls_{variant}"] = f"{prefix}/{packaging.HLS_DIR}/{variant}"
        except packaging.JobFailed:
            break
    if len(done) == len(wanted):
        return done
    return packaging.make_hls(folder, prefix, HLS_TIMEOUT, sources=wanted)


def ensure_demo_renditions(session: Session, media_dir: Path, public_dir: Path | None = None) -> int:
    """Give every demo asset its renditions and encrypted HLS. Returns how many assets were updated."""
    if public_dir is None:
        from coursemall.settings import get_settings

        public_dir = get_settings().public_dir
    assets = session.exec(select(MediaAsset).where(MediaAsset.storage_key.startswith(DEMO_PREFIX))  # type: ignore[attr-defined]
                          .order_by(MediaAsset.id)).all()
    updated = 0
    for asset in assets:
        src = media_dir / asset.storage_key
        if not src.is_file():
            continue
        keys = _keys(asset)
        if asset.kind == "video":
            _make(media_dir / keys["sd"], _sd_command(src, media_dir / keys["sd"]))
            _make(media_dir / keys["audio"], _audio_copy_command(src, media_dir / keys["audio"]))
            _make(public_dir / keys["poster"],
                  ffmpeg.poster_command(src, public_dir / keys["poster"], at_seconds=1.0, demuxer="mov"))
        else:
            _make(media_dir / keys["audio"], ffmpeg.audio_command(src, media_dir / keys["audio"], demuxer="mp3"))
        wanted = {**keys, **_hls(media_dir, asset, keys)}
        current = dict(asset.renditions or {})
        if any(current.get(name) != value for name, value in wanted.items()) or "preview" in current:
            current.pop("preview", None)  # per-asset clips of older seeds; clips are per lesson now
            asset.renditions = {**current, **wanted}
            session.add(asset)
            updated += 1
    session.flush()
    return updated


def ensure_demo_previews(session: Session, media_dir: Path) -> int:
    """Cut the clip of every demo lesson with free seconds that has none ready. Returns how many
    lessons were updated."""
    lessons = session.exec(select(Lesson, MediaAsset).join(MediaAsset, MediaAsset.id == Lesson.media_asset_id)
                           .where(Lesson.free_seconds > 0, MediaAsset.status == "ready",
                                  MediaAsset.storage_key.startswith(DEMO_PREFIX))  # type: ignore[attr-defined]
                           .order_by(Lesson.id)).all()
    updated = 0
    for lesson, asset in lessons:
        if preview_ready(lesson):
            continue
        lesson.preview_key = packaging.make_preview_clip(
            media_dir, key_prefix=transcode.asset_prefix(asset), kind=asset.kind,
            renditions=dict(asset.renditions or {}), seconds=int(lesson.free_seconds))
        lesson.preview_asset_id, lesson.preview_seconds = asset.id, int(lesson.free_seconds)
        session.add(lesson)
        updated += 1
    session.flush()
    return updated
