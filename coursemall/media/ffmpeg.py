"""ffmpeg (from imageio-ffmpeg) for the media pipeline: probe an upload, build rendition commands,
run one command with progress and a hard deadline.

Uploaded files are untrusted. ffmpeg's demuxers for manifests (HLS, DASH, concat lists, ...) open
the files and URLs *named inside* the upload, so a 12-line DASH file with a `file://` BaseURL would
turn any media file on this host into a lesson. Hence:
- `probe` first sniffs the bytes for a text manifest/playlist and refuses it with a clear reason;
- every ffmpeg run reads its input with `-protocol_whitelist file` and `-format_whitelist` of the
  container demuxers we accept (ALLOWED_DEMUXERS), and, after the probe, with the demuxer forced
  (`-f mov` ...), so nothing else is ever parsed; HLS writing gets `file,crypto` on its output only.

There is no ffprobe in imageio-ffmpeg, so `probe` parses what `ffmpeg -i <file>` prints on stderr
(it exits 1 with "At least one output file must be specified" after describing the input).
Everything here is blocking: call it from a worker thread, never on the event loop.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The container demuxers an upload may use: mp4/mov/m4a (mov), mkv/webm (matroska), mp3, aac
# (ADTS), wav, flac, ogg. Anything else (avi, flv, mpegts, image sequences, manifests) is refused.
ALLOWED_DEMUXERS = ("mov", "matroska", "mp3", "aac", "wav", "flac", "ogg")
FORMAT_WHITELIST = ",".join(ALLOWED_DEMUXERS)
INPUT_PROTOCOLS = "file"
HLS_OUTPUT_PROTOCOLS = "file,crypto"  # the HLS muxer encrypts segments through the crypto protocol
REFUSED_MANIFEST = "upload.manifest_refused"
REFUSED_FORMAT = "upload.format_refused"

# Single-image demuxers: a PNG/JPEG renamed to .mp4 is "media" to ffmpeg, but not a lesson.
_IMAGE_FORMATS = {"png_pipe", "jpeg_pipe", "bmp_pipe", "gif", "webp_pipe", "image2", "tiff_pipe",
                  "svg_pipe", "ico", "jpegls_pipe", "pam_pipe", "pgm_pipe", "ppm_pipe", "qoi_pipe"}
_IMAGE_CODECS = {"png", "mjpeg", "bmp", "gif", "webp", "tiff", "svg", "ico"}
_DURATION = re.compile(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_INPUT = re.compile(r"Input #0,\s*([^,]+(?:,[^,\s]+)*?),\s*from")
_VIDEO = re.compile(r"Stream #0:\d+[^:]*: Video: (\w+)[^\n]*?, (\d{2,5})x(\d{2,5})")
_AUDIO = re.compile(r"Stream #0:\d+[^:]*: Audio: (\w+)")
_ATTACHED_PIC = "(attached pic)"
_NOT_WHITELISTED = "not on whitelist"
# Text that starts a manifest, playlist or list of other files (after a BOM and blank space).
_MANIFEST_MARKERS = (b"#extm3u", b"#extinf", b"<?xml", b"<mpd", b"<smil", b"<asx", b"ffconcat", b"file ",
                     b"file'", b'file"', b"[playlist]", b"<playlist", b"#ext-x-", b"http://", b"https://",
                     b"file:", b"<!doctype", b"<html", b"v=0")  # v=0: an SDP session description
_SNIFF_BYTES = 4096
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*", b"\x00\x00\x01\x00")

MIME_BY_FORMAT = {  # first demuxer name -> MIME of the original file
    "mov": "video/mp4", "matroska": "video/webm", "mp3": "audio/mpeg", "wav": "audio/wav",
    "ogg": "audio/ogg", "flac": "audio/flac", "aac": "audio/aac",
}


class FfmpegError(RuntimeError):
    """ffmpeg failed, timed out or was stopped; `reason` is short and safe to show."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class ProbeResult:
    is_media: bool
    duration: float = 0.0
    has_video: bool = False
    has_audio: bool = False
    width: int = 0
    height: int = 0
    container: str = ""  # the demuxer (one of ALLOWED_DEMUXERS when is_media)
    mime: str = ""
    refusal: str = ""  # a message key when the file is refused for what it is (manifest, format)


NOT_MEDIA = ProbeResult(is_media=False)


def parse_probe(stderr: str) -> ProbeResult:
    """Read `ffmpeg -i` output. Media = an allowed container, a known duration > 0 and a real
    audio or video stream."""
    if _NOT_WHITELISTED in stderr:
        return ProbeResult(is_media=False, refusal=REFUSED_FORMAT)
    fmt = _INPUT.search(stderr)
    duration = _DURATION.search(stderr)
    if fmt is None or duration is None:
        return NOT_MEDIA
    container = fmt.group(1).split(",")[0].strip()
    h, m, s = duration.groups()
    seconds = int(h) * 3600 + int(m) * 60 + float(s)
    video = next((v for v in _VIDEO.finditer(stderr)
                  if v.group(1) not in _IMAGE_CODECS and _ATTACHED_PIC not in _line_of(stderr, v.start())),
                 None)
    has_audio = _AUDIO.search(stderr) is not None
    if container in _IMAGE_FORMATS or seconds <= 0 or (video is None and not has_audio):
        return NOT_MEDIA
    if container not in ALLOWED_DEMUXERS:
        return ProbeResult(is_media=False, container=container, refusal=REFUSED_FORMAT)
    width, height = (int(video.group(2)), int(video.group(3))) if video else (0, 0)
    kind_default = "video/mp4" if video else "audio/mp4"
    mime = MIME_BY_FORMAT.get(container, kind_default)
    if container == "mov" and not video:
        mime = "audio/mp4"
    return ProbeResult(True, seconds, video is not None, has_audio, width, height, container, mime)


def _line_of(text: str, pos: int) -> str:
    end = text.find("\n", pos)
    return text[pos:end if end >= 0 else len(text)]


def looks_like_manifest(head: bytes) -> bool:
    """True when the bytes start like a text manifest, playlist or list of other files. Real media
    containers start with binary magic (ftyp, EBML, ID3, RIFF, fLaC, OggS, ADTS sync)."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip(b" \t\r\n\x00").lower()
    return text.startswith(_MANIFEST_MARKERS)


def input_args(src: Path, demuxer: str = "") -> list[str]:
    """How every command reads an (untrusted) input: local file protocol only, the accepted
    demuxers only, and the probed demuxer forced when known."""
    if demuxer and demuxer not in ALLOWED_DEMUXERS:
        raise FfmpegError("format_refused", demuxer)
    forced = ["-f", demuxer] if demuxer else []
    return ["-protocol_whitelist", INPUT_PROTOCOLS, "-format_whitelist", FORMAT_WHITELIST, *forced,
            "-i", str(src)]


def looks_like_image(head: bytes) -> bool:
    return head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def probe(path: Path, timeout: float = 60) -> ProbeResult:
    """What the file is, without ever following a reference inside it."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError:
        return NOT_MEDIA
    if looks_like_manifest(head):
        return ProbeResult(is_media=False, refusal=REFUSED_MANIFEST)
    if looks_like_image(head):
        return NOT_MEDIA  # a picture under a video name: "not a video or audio file"
    try:
        result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *input_args(path)],
                                capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return NOT_MEDIA
    return parse_probe(result.stderr)


# ---- rendition commands -------------------------------------------------------------------

KEYFRAME_SECONDS = 2  # HLS segments (HLS_SEGMENT_SECONDS) are cut on these keyframes
HLS_SEGMENT_SECONDS = 4
_X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-profile:v", "main",
         "-g", "50", "-sc_threshold", "0", "-force_key_frames", f"expr:gte(t,n_forced*{KEYFRAME_SECONDS})"]
_HEAD = ["-y", "-hide_banner", "-nostdin", "-loglevel", "error"]


def video_command(src: Path, out: Path, *, max_height: int, crf: int, audio_kbps: int,
                  has_audio: bool, demuxer: str) -> list[str]:
    """H.264/AAC MP4 no taller than `max_height` (never upscaled), moov atom first (faststart)."""
    scale = f"scale=-2:'trunc(min({max_height},ih)/2)*2':flags=bicubic"  # even sides for yuv420p
    audio = ["-map", "0:a:0", "-c:a", "aac", "-b:a", f"{audio_kbps}k", "-ac", "2"] if has_audio else ["-an"]
    return [ffmpeg_exe(), *_HEAD, *input_args(src, demuxer),
            "-map", "0:v:0", "-vf", scale, *_X264, "-crf", str(crf), *audio,
            "-movflags", "+faststart", "-f", "mp4", str(out)]


def audio_command(src: Path, out: Path, *, demuxer: str, kbps: int = 96) -> list[str]:
    """AAC in an .m4a (MP4) container for listen mode and audio lessons."""
    return [ffmpeg_exe(), *_HEAD, *input_args(src, demuxer),
            "-map", "0:a:0", "-vn", "-c:a", "aac", "-b:a", f"{kbps}k", "-ac", "2",
            "-movflags", "+faststart", "-f", "mp4", str(out)]


def poster_command(src: Path, out: Path, *, at_seconds: float, demuxer: str, max_height: int = 720) -> list[str]:
    return [ffmpeg_exe(), *_HEAD, "-ss", f"{max(at_seconds, 0):.2f}", *input_args(src, demuxer),
            "-frames:v", "1", "-vf", f"scale=-2:'min({max_height},ih)'", "-q:v", "4", "-f", "image2", str(out)]


def preview_command(src: Path, out: Path, *, seconds: int, video: bool) -> list[str]:
    """The first `seconds` of one of our own renditions (H.264/AAC MP4 or AAC .m4a) by stream copy:
    the clip simply ends there. Starts on the first keyframe; the end needs none."""
    streams = ["-map", "0:v:0", "-map", "0:a:0?"] if video else ["-map", "0:a:0", "-vn"]
    return [ffmpeg_exe(), *_HEAD, *input_args(src, "mov"), "-t", str(int(seconds)), *streams,
            "-c", "copy", "-movflags", "+faststart", "-f", "mp4", str(out)]


def hls_command(src: Path, folder: Path, key_info: Path, *, segment_seconds: int = HLS_SEGMENT_SECONDS) -> list[str]:
    """AES-128 HLS (VOD) by stream copy of one of our own renditions (an H.264/AAC MP4 with
    keyframes every KEYFRAME_SECONDS, or an AAC .m4a). `key_info` names the key URI and file."""
    return [ffmpeg_exe(), *_HEAD, *input_args(src, "mov"),
            "-map", "0", "-c", "copy", "-protocol_whitelist", HLS_OUTPUT_PROTOCOLS,
            "-f", "hls", "-hls_time", str(segment_seconds),
            "-hls_playlist_type", "vod", "-hls_segment_type", "mpegts", "-hls_key_info_file", str(key_info),
            "-hls_segment_filename", str(folder / "seg%04d.ts"), str(folder / "index.m3u8")]


# ---- running ------------------------------------------------------------------------------

_OUT_TIME = re.compile(r"^out_time_(?:us|ms)=(\d+)$")


def run(cmd: list[str], *, timeout: float, duration: float = 0.0,
        on_progress: Callable[[float], bool] | None = None) -> None:
    """Run one ffmpeg command. With `duration`, adds `-progress pipe:1` and reports the fraction
    done (0..1) to `on_progress`; returning False from it stops ffmpeg (lease lost, cancelled).
    Raises FfmpegError on a non-zero exit, a timeout or a stop."""
    if on_progress is not None and duration > 0:
        cmd = [cmd[0], "-progress", "pipe:1", "-nostats", *cmd[1:]]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, errors="replace")
    stopped = {"why": ""}

    def kill(why: str) -> None:
        if proc.poll() is None:
            stopped["why"] = why
            proc.kill()

    timer = threading.Timer(max(timeout, 0.1), kill, args=("timeout",))
    timer.daemon = True
    timer.start()
    stderr_chunks: list[str] = []
    reader = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    try:
        for line in proc.stdout:  # progress lines ("key=value"), ~2 per second
            match = _OUT_TIME.match(line.strip())
            if match and on_progress is not None and duration > 0:
                fraction = min(int(match.group(1)) / 1_000_000 / duration, 1.0)
                if on_progress(fraction) is False:
                    kill("stopped")
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
    if stopped["why"]:
        raise FfmpegError(stopped["why"])
    if proc.returncode != 0:
        detail = "".join(stderr_chunks).strip()[-400:]
        raise FfmpegError("ffmpeg_failed", detail)


def run_simple(cmd: list[str], *, timeout: float) -> None:
    """Run a short ffmpeg command (poster, stream copy) without progress."""
    started = time.monotonic()
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                timeout=max(timeout, 0.1), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise FfmpegError("timeout", f"after {time.monotonic() - started:.0f}s") from exc
    if result.returncode != 0:
        raise FfmpegError("ffmpeg_failed", result.stderr.strip()[-400:])
