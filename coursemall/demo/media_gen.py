"""Small real demo media (H.264/AAC MP4 and MP3) made locally with the ffmpeg from imageio-ffmpeg.

Files are generated once under `<media_dir>/demo/` and reused: a file that already exists with a
non-zero size is never regenerated. Only lavfi sources are used (no drawtext: some ffmpeg builds
lack it), so nothing is downloaded.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path


class MediaGenerationError(RuntimeError):
    """ffmpeg could not produce a demo media file."""


@dataclass(frozen=True)
class DemoMedia:
    key: str  # storage key relative to the media root
    kind: str  # video | audio
    mime: str
    seconds: int
    video_source: str = ""  # lavfi video graph (videos only)
    audio_source: str = ""  # lavfi audio graph


_RATE = 44100

# Three visually different videos (each with its own tone) and three audios that are not a flat beep.
DEMO_MEDIA: list[DemoMedia] = [
    DemoMedia("demo/video1.mp4", "video", "video/mp4", 90,
              video_source="testsrc2=size=640x360:rate=25",
              audio_source=f"sine=frequency=440:sample_rate={_RATE}"),
    DemoMedia("demo/video2.mp4", "video", "video/mp4", 90,
              video_source="smptebars=size=640x360:rate=25,hue=h=t*4",
              audio_source=f"sine=frequency=330:sample_rate={_RATE}"),
    DemoMedia("demo/video3.mp4", "video", "video/mp4", 90,
              video_source="gradients=size=640x360:rate=25:speed=0.02:seed=7",
              audio_source=f"sine=frequency=523:sample_rate={_RATE}"),
    DemoMedia("demo/audio1.mp3", "audio", "audio/mpeg", 100,
              audio_source=f"sine=frequency=262:sample_rate={_RATE}"),
    # A slow two-note swell, then a chord with a gentle tremolo: easier on the ear in the demo.
    DemoMedia("demo/audio2.mp3", "audio", "audio/mpeg", 110,
              audio_source=("aevalsrc='0.25*sin(2*PI*294*t)*(0.6+0.4*sin(2*PI*0.2*t))"
                            f"+0.15*sin(2*PI*440*t)*(0.6-0.4*sin(2*PI*0.2*t))':s={_RATE}")),
    DemoMedia("demo/audio3.mp3", "audio", "audio/mpeg", 120,
              audio_source=("aevalsrc='0.2*sin(2*PI*349*t)+0.12*sin(2*PI*440*t)"
                            f"+0.08*sin(2*PI*523*t)*(0.5+0.5*sin(2*PI*0.5*t))':s={_RATE}")),
]


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _command(item: DemoMedia, out: Path) -> list[str]:
    cmd = [ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error"]
    if item.kind == "video":
        cmd += ["-f", "lavfi", "-i", item.video_source, "-f", "lavfi", "-i", item.audio_source,
                "-t", str(item.seconds),
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "32", "-maxrate", "600k",
                "-bufsize", "1200k", "-pix_fmt", "yuv420p", "-profile:v", "baseline", "-g", "50",
                "-c:a", "aac", "-b:a", "64k", "-ac", "2", "-movflags", "+faststart"]
    else:
        cmd += ["-f", "lavfi", "-i", item.audio_source, "-t", str(item.seconds),
                "-c:a", "libmp3lame", "-b:a", "64k", "-ac", "2"]
    return cmd + [str(out)]


def generate(item: DemoMedia, media_dir: Path) -> bool:
    """Make one file unless it exists already. Returns True when a file was written."""
    out = media_dir / item.key
    if out.is_file() and out.stat().st_size > 0:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".part" + out.suffix)  # never leave a half file under the real name
    result = subprocess.run(_command(item, tmp), capture_output=True, text=True, timeout=300)
    if result.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        raise MediaGenerationError(
            f"ffmpeg failed to make {item.key} (exit {result.returncode}): {result.stderr.strip()[-500:]}")
    tmp.replace(out)
    return True


def ensure_demo_media(media_dir: Path) -> int:
    """Generate every missing demo file. Returns how many were written. (Renditions, encrypted HLS
    and the lessons' free-seconds clips come after the rows exist: demo/renditions.py.)"""
    return sum(generate(item, media_dir) for item in DEMO_MEDIA)


_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")


def probe_duration(path: Path) -> float:
    """Duration in seconds as ffmpeg reports it (`ffmpeg -i` prints it on stderr and exits 1)."""
    from coursemall.media.ffmpeg import input_args

    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *input_args(path)],
                            capture_output=True, text=True, timeout=60)
    match = _DURATION.search(result.stderr)
    if not match:
        raise MediaGenerationError(f"ffmpeg could not read the duration of {path}")
    h, m, s = match.groups()
    return int(h) * 3600 + int(m) * 60 + float(s)
