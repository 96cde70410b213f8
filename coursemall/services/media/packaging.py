"""Packaging a transcoded asset: encrypted HLS variants (AES-128, one random key per variant) and the
free-seconds preview clip, written as *.part and renamed so a job taken over after a crash starts clean."""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path

from coursemall.media import ffmpeg

HLS_DIR = "hls"
HLS_KEY_URI = "key"  # relative to a variant's playlist; api/hls.py serves it (with a token) after a check
# variant -> the rendition file (in the asset's folder) it is cut from, by stream copy
HLS_SOURCES = (("hd", "hd.mp4"), ("sd", "sd.mp4"), ("audio", "audio.m4a"))


class JobFailed(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def inside(media_dir: Path, key: str) -> Path:
    path = (media_dir / key).resolve()
    if media_dir.resolve() not in path.parents:
        raise JobFailed("media.job.source_missing")
    return path


def check_playlist(folder: Path) -> int:
    """Number of segments of a finished encrypted VOD playlist; JobFailed when anything is missing
    (the HLS muxer reports some write failures with exit code 0)."""
    playlist = folder / "index.m3u8"
    text = playlist.read_text(errors="replace") if playlist.is_file() else ""
    segments = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if ("#EXT-X-ENDLIST" not in text or "METHOD=AES-128" not in text or not segments
            or any(not (folder / name).is_file() or (folder / name).stat().st_size == 0 for name in segments)):
        raise JobFailed("media.job.empty_output")
    return len(segments)


def _write_variant(source: Path, folder: Path, timeout: float) -> None:
    """One encrypted variant: a fresh random AES-128 key in the private folder, a playlist that
    points at HLS_KEY_URI, MPEG-TS segments cut on the 2-second keyframes."""
    folder.mkdir(parents=True)
    key = folder / "key.bin"
    key.write_bytes(secrets.token_bytes(16))
    key_info = folder.parent / f"{folder.name}.keyinfo"
    key_info.write_text(f"{HLS_KEY_URI}\n{key}\n{secrets.token_hex(16)}\n")
    try:
        ffmpeg.run_simple(ffmpeg.hls_command(source, folder, key_info), timeout=timeout)
    finally:
        key_info.unlink(missing_ok=True)
    check_playlist(folder)


def make_hls(folder: Path, key_prefix: str, timeout: float, *,
             sources: dict[str, Path] | None = None) -> dict[str, str]:
    """Encrypted HLS variants under `folder`/hls/<variant>/, cut from `sources` ({variant: file};
    default: whichever of hd.mp4, sd.mp4, audio.m4a exist in `folder`). Returns their renditions:
    {"hls_hd": "<prefix>/hls/hd", ...}."""
    final, part = folder / HLS_DIR, folder / f"{HLS_DIR}.part"
    shutil.rmtree(part, ignore_errors=True)
    made: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    if sources is None:
        sources = {variant: folder / filename for variant, filename in HLS_SOURCES}
    for variant, _ in HLS_SOURCES:
        source = sources.get(variant)
        if source is not None and source.is_file():
            _write_variant(source, part / variant, max(deadline - time.monotonic(), 1))
            made[f"hls_{variant}"] = f"{key_prefix}/{HLS_DIR}/{variant}"
    if not made:
        raise JobFailed("media.job.empty_output")
    shutil.rmtree(final, ignore_errors=True)
    part.replace(final)
    return made


def preview_key(key_prefix: str, kind: str, seconds: int) -> str:
    return f"{key_prefix}/preview-{int(seconds)}s.{'mp4' if kind == 'video' else 'm4a'}"


def make_preview_clip(media_dir: Path, *, key_prefix: str, kind: str, renditions: dict, seconds: int,
                      timeout: float = 300) -> str:
    """The first `seconds` of the asset's HD (video) or AAC (audio) rendition as a file of its own;
    reused when it exists (lessons sharing an asset and a length share the clip). Returns its key."""
    source_key = renditions.get("hd" if kind == "video" else "audio")
    if not isinstance(source_key, str) or not source_key:
        raise JobFailed("media.job.source_missing")
    source = inside(media_dir, source_key)
    if not source.is_file():
        raise JobFailed("media.job.source_missing")
    key = preview_key(key_prefix, kind, seconds)
    final = inside(media_dir, key)
    if final.is_file() and final.stat().st_size > 0:
        return key
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + ".part")
    ffmpeg.run_simple(ffmpeg.preview_command(source, part, seconds=seconds, video=kind == "video"),
                      timeout=timeout)
    finish_part(part, final)
    return key


def finish_part(part: Path, final: Path) -> None:
    if not part.is_file() or part.stat().st_size == 0:
        raise JobFailed("media.job.empty_output")
    part.replace(final)
