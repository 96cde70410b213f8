"""Media pipeline services: chunked uploads, probing, the job queue and the transcoder.

Real media is generated with the ffmpeg from imageio-ffmpeg (a 3 s 1280x720 clip with a tone) and
every rendition is probed back: heights, duration, poster. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.media import ffmpeg
from coursemall.models import AuditLog, Chapter, Course, Instructor, Lesson, MediaAsset, utcnow
from coursemall.models.media_pipeline import MediaJob, UploadSession
from coursemall.services.media import packaging, transcode, uploads
from tests.concurrency import run_concurrently
from tests.payments.factories import make_user

MAX = 50 * 1024 * 1024


# ---------------------------------------------------------------------------------- media files

def _make(out: Path, *args: str) -> Path:
    cmd = [ffmpeg.ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", *args, str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return out


@pytest.fixture(scope="session")
def media_files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media-src")
    video = _make(root / "clip.mp4", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=25", "-f", "lavfi",
                  "-i", "sine=frequency=440:sample_rate=44100", "-t", "3.2", "-c:v", "libx264", "-preset",
                  "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest")
    audio = _make(root / "talk.mp3", "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=44100", "-t", "2.5",
                  "-c:a", "libmp3lame", "-b:a", "64k")
    from PIL import Image

    png = root / "picture.mp4"  # a PNG under a video name
    Image.new("RGB", (64, 48), (10, 200, 30)).save(png, format="PNG")
    text = root / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    return {"video": video, "audio": audio, "png": png, "text": text}


def probe_height(path: Path) -> int:
    return ffmpeg.probe(path).height


# ---------------------------------------------------------------------------------- a small shop

@dataclass
class Shop:
    owner: int
    staff: int
    teacher: int
    other_teacher: int
    learner: int
    course: int
    other_course: int
    video_lesson: int
    audio_lesson: int
    article_lesson: int
    other_lesson: int


def build_shop(s: Session) -> Shop:
    owner, staff, learner = make_user(s, role="owner"), make_user(s, role="staff"), make_user(s)
    teacher, other = make_user(s), make_user(s)
    mine = Instructor(user_id=teacher.id, name="王老师", status="approved")
    theirs = Instructor(user_id=other.id, name="赵老师", status="approved")
    s.add_all([mine, theirs])
    s.flush()
    course = Course(slug=f"m-{teacher.id}", title="剪辑入门", instructor_id=mine.id, status="draft")
    other_course = Course(slug=f"o-{other.id}", title="别人的课", instructor_id=theirs.id, status="published")
    s.add_all([course, other_course])
    s.flush()
    ch, och = Chapter(course_id=course.id, title="一"), Chapter(course_id=other_course.id, title="一")
    s.add_all([ch, och])
    s.flush()
    lessons = [Lesson(course_id=course.id, chapter_id=ch.id, title="视频课", kind="video", position=0),
               Lesson(course_id=course.id, chapter_id=ch.id, title="音频课", kind="audio", position=1),
               Lesson(course_id=course.id, chapter_id=ch.id, title="图文课", kind="article", position=2,
                      duration_seconds=300),
               Lesson(course_id=other_course.id, chapter_id=och.id, title="别人的视频", kind="video")]
    s.add_all(lessons)
    s.commit()
    return Shop(owner.id, staff.id, teacher.id, other.id, learner.id, course.id, other_course.id,
                *(lesson.id for lesson in lessons))


@pytest.fixture
def shop(db_engine) -> Shop:
    with Session(db_engine, expire_on_commit=False) as s:
        return build_shop(s)


def upload_file(engine, *, actor: int, lesson: int, path: Path, media_dir: Path, chunk: int = 256 * 1024,
                complete: bool = True) -> uploads.UploadView:
    data = path.read_bytes()
    with Session(engine, expire_on_commit=False) as s:
        view = uploads.create_upload(s, actor_id=actor, lesson_id=lesson, filename=path.name, size_bytes=len(data),
                                     media_dir=media_dir, max_bytes=MAX)
        for offset in range(0, len(data), chunk):
            view = uploads.write_chunk(s, actor_id=actor, upload_key=view.upload_key, offset=offset,
                                       data=data[offset:offset + chunk], media_dir=media_dir)
        if complete:
            view = uploads.complete_upload(s, actor_id=actor, upload_key=view.upload_key, media_dir=media_dir)
    return view


def run_worker(engine, media_dir: Path, public_dir: Path, **kw):
    return transcode.process_one(engine, media_dir=media_dir, public_dir=public_dir, timeout_seconds=120, **kw)


def snapshot(engine) -> dict:
    with Session(engine) as s:
        return {
            "lessons": sorted((row.id, row.media_asset_id, row.duration_seconds) for row in s.exec(select(Lesson))),
            "assets": sorted((a.id, a.status, a.storage_key) for a in s.exec(select(MediaAsset))),
            "jobs": sorted((j.id, j.status, j.attempts) for j in s.exec(select(MediaJob))),
            "uploads": sorted((u.id, u.status, u.received_bytes) for u in s.exec(select(UploadSession))),
        }


# ---------------------------------------------------------------------------------- probing

def test_probe_recognises_media_and_refuses_pictures_and_text(media_files):
    video = ffmpeg.probe(media_files["video"])
    assert video.is_media and video.has_video and video.has_audio
    assert (video.width, video.height) == (1280, 720) and 3.0 <= video.duration <= 3.5
    audio = ffmpeg.probe(media_files["audio"])
    assert audio.is_media and audio.has_audio and not audio.has_video and audio.mime == "audio/mpeg"
    assert not ffmpeg.probe(media_files["png"]).is_media
    assert not ffmpeg.probe(media_files["text"]).is_media


# ---------------------------------------------------------------------------------- uploads

def test_full_pipeline_makes_hd_sd_audio_poster_and_durations(db_engine, shop, media_files, tmp_path):
    media_dir, public_dir = tmp_path / "media", tmp_path / "public"
    view = upload_file(db_engine, actor=shop.teacher, lesson=shop.video_lesson, path=media_files["video"],
                       media_dir=media_dir)
    assert view.status == "complete" and view.media_asset_id and view.job_id
    with Session(db_engine) as s:
        asset = s.get(MediaAsset, view.media_asset_id)
        assert asset.status == "processing" and asset.kind == "video"
        assert asset.storage_key.startswith("uploads/") and (media_dir / asset.storage_key).is_file()
        assert s.get(Lesson, shop.video_lesson).media_asset_id == asset.id  # nothing played before
        assert s.get(MediaJob, view.job_id).status == "queued"
    assert not any(public_dir.rglob("*.mp4")) if public_dir.exists() else True

    assert run_worker(db_engine, media_dir, public_dir) == view.job_id
    with Session(db_engine) as s:
        job = s.get(MediaJob, view.job_id)
        asset = s.get(MediaAsset, view.media_asset_id)
        lesson = s.get(Lesson, shop.video_lesson)
        course = s.get(Course, shop.course)
        assert (job.status, job.progress_pct, job.attempts, job.error) == ("done", 100, 1, "")
        assert asset.status == "ready" and set(asset.renditions) == {"hd", "sd", "audio", "poster", "hls_hd",
                                                                     "hls_sd", "hls_audio"}
        assert lesson.duration_seconds == 3 and asset.duration_seconds == 3
        assert course.total_duration_seconds == 3 + 300  # with the article's reading time
        actions = [a.action for a in s.exec(select(AuditLog).order_by(AuditLog.id))]
        assert actions == ["media.upload_start", "media.upload_complete", "media.ready"]
    r = asset.renditions
    assert probe_height(media_dir / r["hd"]) == 720
    assert probe_height(media_dir / r["sd"]) == 360
    sd = ffmpeg.probe(media_dir / r["sd"])
    assert sd.has_audio and 3.0 <= sd.duration <= 3.5
    audio = ffmpeg.probe(media_dir / r["audio"])
    assert audio.has_audio and not audio.has_video and (media_dir / r["audio"]).suffix == ".m4a"
    poster = public_dir / r["poster"]
    assert poster.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG in the public dir, served like covers
    assert not (media_dir / r["hd"]).with_name("hd.mp4.part").exists()
    keys = set()
    for variant in ("hd", "sd", "audio"):  # one encrypted VOD per variant, each with its own key
        hls = media_dir / r[f"hls_{variant}"]
        playlist = (hls / "index.m3u8").read_text()
        assert '#EXT-X-KEY:METHOD=AES-128,URI="key"' in playlist and "seg0000.ts" in playlist
        assert "#EXT-X-ENDLIST" in playlist and packaging.check_playlist(hls) == 1
        keys.add((hls / "key.bin").read_bytes())
    assert len(keys) == 3 and all(len(k) == 16 for k in keys) and not list(media_dir.rglob("*.keyinfo"))
    assert not list(media_dir.rglob("*.part"))
    # the heavy files stay private: nothing but the poster in the public dir
    assert [p.suffix for p in public_dir.rglob("*") if p.is_file()] == [".jpg"]


def test_audio_lesson_gets_an_m4a(db_engine, shop, media_files, tmp_path):
    media_dir = tmp_path / "media"
    view = upload_file(db_engine, actor=shop.owner, lesson=shop.audio_lesson, path=media_files["audio"],
                       media_dir=media_dir)
    run_worker(db_engine, media_dir, tmp_path / "public")
    with Session(db_engine) as s:
        asset = s.get(MediaAsset, view.media_asset_id)
        assert asset.kind == "audio" and asset.status == "ready" and set(asset.renditions) == {"audio", "hls_audio"}
        assert s.get(Lesson, shop.audio_lesson).media_asset_id == asset.id
        assert s.get(Lesson, shop.audio_lesson).duration_seconds in (2, 3)
    assert ffmpeg.probe(media_dir / asset.renditions["audio"]).has_audio
    assert packaging.check_playlist(media_dir / asset.renditions["hls_audio"]) >= 1


def test_old_asset_keeps_playing_until_the_new_one_is_ready(db_engine, shop, media_files, tmp_path):
    media_dir, public_dir = tmp_path / "media", tmp_path / "public"
    first = upload_file(db_engine, actor=shop.teacher, lesson=shop.video_lesson, path=media_files["video"],
                        media_dir=media_dir)
    run_worker(db_engine, media_dir, public_dir)
    second = upload_file(db_engine, actor=shop.teacher, lesson=shop.video_lesson, path=media_files["video"],
                         media_dir=media_dir)
    with Session(db_engine) as s:
        assert s.get(Lesson, shop.video_lesson).media_asset_id == first.media_asset_id
        assert s.get(MediaAsset, second.media_asset_id).status == "processing"
    run_worker(db_engine, media_dir, public_dir)
    with Session(db_engine) as s:
        assert s.get(Lesson, shop.video_lesson).media_asset_id == second.media_asset_id


@pytest.mark.parametrize("kind", ["png", "text"])
def test_not_media_fails_the_upload_and_leaves_the_lesson(db_engine, shop, media_files, tmp_path, kind):
    media_dir = tmp_path / "media"
    before = snapshot(db_engine)
    view = upload_file(db_engine, actor=shop.teacher, lesson=shop.video_lesson, path=media_files[kind],
                       media_dir=media_dir)
    assert (view.status, view.error, view.media_asset_id) == ("failed", "upload.not_media", None)
    after = snapshot(db_engine)
    assert after["lessons"] == before["lessons"] and after["assets"] == before["assets"] == []
    assert after["jobs"] == []
    assert not list((media_dir / "uploads").rglob("*.part"))  # the bytes are deleted


def test_audio_only_file_is_refused_for_a_video_lesson(db_engine, shop, media_files, tmp_path):
    view = upload_file(db_engine, actor=shop.teacher, lesson=shop.video_lesson, path=media_files["audio"],
                       media_dir=tmp_path / "media")
    assert (view.status, view.error) == ("failed", "upload.needs_video")


def test_truncated_upload_is_refused_and_can_resume(db_engine, shop, media_files, tmp_path):
    media_dir = tmp_path / "media"
    data = media_files["video"].read_bytes()
    with Session(db_engine, expire_on_commit=False) as s:
        view = uploads.create_upload(s, actor_id=shop.teacher, lesson_id=shop.video_lesson, filename="a.mp4",
                                     size_bytes=len(data), media_dir=media_dir, max_bytes=MAX)
        key = view.upload_key
        uploads.write_chunk(s, actor_id=shop.teacher, upload_key=key, offset=0, data=data[:1000], media_dir=media_dir)
        before = snapshot(db_engine)
        with pytest.raises(DomainError) as err:
            uploads.complete_upload(s, actor_id=shop.teacher, upload_key=key, media_dir=media_dir)
        assert err.value.code == "upload.incomplete" and err.value.params == {"received": 1000, "size": len(data)}
        assert snapshot(db_engine) == before
        # resumable: the status says where to go on
        status = uploads.upload_status(s, actor_id=shop.teacher, upload_key=key, media_dir=media_dir)
        assert (status.status, status.received_bytes) == ("uploading", 1000)
        uploads.write_chunk(s, actor_id=shop.teacher, upload_key=key, offset=1000, data=data[1000:],
                            media_dir=media_dir)
        done = uploads.complete_upload(s, actor_id=shop.teacher, upload_key=key, media_dir=media_dir)
        assert done.status == "complete"
        again = uploads.complete_upload(s, actor_id=shop.teacher, upload_key=key, media_dir=media_dir)
        assert again.media_asset_id == done.media_asset_id  # repeating complete is harmless
    with Session(db_engine) as s:
        assert len(s.exec(select(MediaAsset)).all()) == 1 and len(s.exec(select(MediaJob)).all()) == 1


def test_out_of_order_overlap_and_oversize_chunks_are_refused(db_engine, shop, tmp_path):
    media_dir = tmp_path / "media"
    with Session(db_engine, expire_on_commit=False) as s:
        key = uploads.create_upload(s, actor_id=shop.teacher, lesson_id=shop.video_lesson, filename="a.mp4",
                                    size_bytes=3000, media_dir=media_dir, max_bytes=MAX).upload_key
        uploads.write_chunk(s, actor_id=shop.teacher, upload_key=key, offset=0, data=b"a" * 1000, media_dir=media_dir)
        cases = [(2000, b"b" * 10, "upload.bad_offset"), (500, b"b" * 10, "upload.bad_offset"),
                 (1000, b"", "upload.empty_chunk"), (1000, b"b" * 2001, "upload.beyond_size"),
                 (-1, b"b", "upload.bad_offset"), ("1000", b"b", "upload.bad_offset"),
                 (1000, b"b" * (uploads.CHUNK_MAX + 1), "upload.chunk_too_large")]
        for offset, data, code in cases:
            with pytest.raises(DomainError) as err:
                uploads.write_chunk(s, actor_id=shop.teacher, upload_key=key, offset=offset, data=data,
                                    media_dir=media_dir)
            assert err.value.code == code
        assert uploads.upload_status(s, actor_id=shop.teacher, upload_key=key, media_dir=media_dir).received_bytes == 1000
        assert uploads.part_path(media_dir, key).read_bytes() == b"a" * 1000


@pytest.mark.parametrize("size,code", [(MAX + 1, "upload.too_large"), (0, "upload.bad_size"), (-5, "upload.bad_size"),
                                       ("100", "upload.bad_size"), (True, "upload.bad_size"), (None, "upload.bad_size")])
def test_bad_sizes_are_refused(db_engine, shop, tmp_path, size, code):
    with Session(db_engine) as s, pytest.raises(DomainError) as err:
        uploads.create_upload(s, actor_id=shop.teacher, lesson_id=shop.video_lesson, filename="a.mp4",
                              size_bytes=size, media_dir=tmp_path, max_bytes=MAX)
    assert err.value.code == code
    assert snapshot(db_engine)["uploads"] == []


def test_permissions_on_uploads(db_engine, shop, tmp_path):
    media_dir = tmp_path / "media"
    kw = dict(filename="a.mp4", size_bytes=10, media_dir=media_dir, max_bytes=MAX)
    with Session(db_engine) as s:
        for actor, lesson, code in [(shop.learner, shop.video_lesson, "error.forbidden"),
                                    (None, shop.video_lesson, "error.forbidden"),
                                    (shop.teacher, shop.other_lesson, "error.not_found"),
                                    (shop.teacher, 999999, "error.not_found"),
                                    (shop.teacher, shop.article_lesson, "upload.lesson_not_media"),
                                    (shop.teacher, "1 OR 1=1", "error.not_found")]:
            with pytest.raises(DomainError) as err:
                uploads.create_upload(s, actor_id=actor, lesson_id=lesson, **kw)
            assert err.value.code == code, (actor, lesson)
        # staff manage every course; a teacher only theirs
        assert uploads.create_upload(s, actor_id=shop.staff, lesson_id=shop.other_lesson, **kw).status == "uploading"
        key = uploads.create_upload(s, actor_id=shop.teacher, lesson_id=shop.video_lesson, **kw).upload_key
        # another dashboard user cannot continue, read or cancel someone else's upload
        for fn, extra in [(uploads.write_chunk, {"offset": 0, "data": b"x"}), (uploads.upload_status, {}),
                          (uploads.complete_upload, {}), (uploads.cancel_upload, {})]:
            for actor in (shop.other_teacher, shop.owner):
                with pytest.raises(DomainError) as err:
                    fn(s, actor_id=actor, upload_key=key, media_dir=media_dir, **extra)
                assert err.value.code == "error.not_found"
        assert uploads.cancel_upload(s, actor_id=shop.teacher, upload_key=key, media_dir=media_dir).status == "aborted"
        assert not uploads.part_path(media_dir, key).exists()


# ---------------------------------------------------------------------------------- the job queue

def _queue_fake_job(engine, shop) -> int:
    with Session(engine) as s:
        asset = MediaAsset(kind="video", storage_key=f"uploads/{secrets.token_hex(8)}/original.mp4", mime="video/mp4",
                           status="processing")
        s.add(asset)
        s.flush()
        job = MediaJob(media_asset_id=asset.id, lesson_id=shop.video_lesson)
        s.add(job)
        s.commit()
        return job.id


def test_two_workers_racing_claim_each_job_once(db_engine, shop):
    job_ids = [_queue_fake_job(db_engine, shop) for _ in range(6)]
    won: dict[str, list[int]] = {"a": [], "b": []}

    def worker(name: str) -> None:
        while True:
            with Session(db_engine) as s:
                job_id = transcode.claim_job(s, owner=name)
            if job_id is None:
                return
            won[name].append(job_id)

    run_concurrently([lambda n=n: worker(n) for n in won])
    claimed = won["a"] + won["b"]
    assert sorted(claimed) == sorted(job_ids)  # every job once, none twice
    with Session(db_engine) as s:
        owners = {j.id: j.lease_owner for j in s.exec(select(MediaJob))}
        assert all(owners[j] == "a" for j in won["a"]) and all(owners[j] == "b" for j in won["b"])
        assert {j.attempts for j in s.exec(select(MediaJob))} == {1}


def test_expired_lease_is_taken_over_and_the_old_worker_cannot_finish(db_engine, shop):
    job_id = _queue_fake_job(db_engine, shop)
    with Session(db_engine) as s:
        assert transcode.claim_job(s, owner="w1") == job_id
        assert transcode.claim_job(s, owner="w2") is None  # lease still valid
        assert transcode.heartbeat(s, job_id=job_id, owner="w1", progress_pct=40, step="hd")
        s.execute(update(MediaJob).where(MediaJob.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1)))
        s.commit()
        assert transcode.claim_job(s, owner="w2") == job_id
        assert not transcode.heartbeat(s, job_id=job_id, owner="w1", progress_pct=50, step="hd")
        assert not transcode.finish_job(s, job_id=job_id, owner="w1", output=transcode.JobOutput({"hd": "x"}, 3))
        assert not transcode.fail_job(s, job_id=job_id, owner="w1", code="media.job.ffmpeg_failed")
        job = s.get(MediaJob, job_id)
        assert (job.status, job.lease_owner, job.attempts) == ("running", "w2", 2)


def test_failure_is_shown_and_retry_runs_again_at_most_three_times(db_engine, shop, media_files, tmp_path):
    media_dir, public_dir = tmp_path / "media", tmp_path / "public"
    view = upload_file(db_engine, actor=shop.teacher, lesson=shop.video_lesson, path=media_files["video"],
                       media_dir=media_dir)

    def broken(*_a, **_k):
        raise packaging.JobFailed("media.job.ffmpeg_failed", "boom")

    for attempt in (1, 2, 3):
        assert run_worker(db_engine, media_dir, public_dir, transcoder=broken) == view.job_id
        with Session(db_engine) as s:
            job, asset = s.get(MediaJob, view.job_id), s.get(MediaAsset, view.media_asset_id)
            assert (job.status, job.error, job.attempts) == ("failed", "media.job.ffmpeg_failed", attempt)
            assert (asset.status, asset.error) == ("failed", "media.job.ffmpeg_failed")
            rows = transcode.list_jobs(s, actor_id=shop.teacher)
            assert rows[0].can_retry is (attempt < 3)
        if attempt < 3:
            with Session(db_engine) as s:
                # other instructors and learners cannot retry it
                for actor, code in ((shop.other_teacher, "error.not_found"), (shop.learner, "error.forbidden")):
                    with pytest.raises(DomainError) as err:
                        transcode.retry_job(s, actor_id=actor, job_id=view.job_id)
                    assert err.value.code == code
                assert transcode.retry_job(s, actor_id=shop.teacher, job_id=view.job_id).status == "queued"
                assert s.get(MediaAsset, view.media_asset_id).status == "processing"
    before = snapshot(db_engine)
    with Session(db_engine) as s, pytest.raises(DomainError) as err:
        transcode.retry_job(s, actor_id=shop.teacher, job_id=view.job_id)
    assert err.value.code == "media.retry_exhausted"
    assert snapshot(db_engine) == before


def test_retry_of_a_job_that_is_not_failed_is_refused(db_engine, shop):
    job_id = _queue_fake_job(db_engine, shop)
    with Session(db_engine) as s, pytest.raises(DomainError) as err:
        transcode.retry_job(s, actor_id=shop.owner, job_id=job_id)
    assert err.value.code == "media.retry_not_failed"


def test_job_list_is_scoped_to_the_instructors_courses(db_engine, shop, tmp_path):
    mine = _queue_fake_job(db_engine, shop)
    with Session(db_engine) as s:
        asset = MediaAsset(kind="video", storage_key="uploads/other/original.mp4", mime="video/mp4")
        s.add(asset)
        s.flush()
        theirs = MediaJob(media_asset_id=asset.id, lesson_id=shop.other_lesson)
        s.add(theirs)
        s.commit()
        theirs_id = theirs.id
        assert [r.job_id for r in transcode.list_jobs(s, actor_id=shop.teacher)] == [mine]
        assert [r.job_id for r in transcode.list_jobs(s, actor_id=shop.other_teacher)] == [theirs_id]
        assert {r.job_id for r in transcode.list_jobs(s, actor_id=shop.owner)} == {mine, theirs_id}
        assert transcode.list_jobs(s, actor_id=shop.owner, status="failed") == []
        with pytest.raises(DomainError):
            transcode.list_jobs(s, actor_id=shop.learner)
        with pytest.raises(DomainError):
            transcode.lesson_media(s, actor_id=shop.teacher, lesson_id=shop.other_lesson)


def test_timeout_fails_the_job_with_a_clear_message(db_engine, shop, media_files, tmp_path, monkeypatch):
    media_dir = tmp_path / "media"
    view = upload_file(db_engine, actor=shop.teacher, lesson=shop.video_lesson, path=media_files["video"],
                       media_dir=media_dir)
    real_run = ffmpeg.run
    monkeypatch.setattr(ffmpeg, "run", lambda cmd, **kw: real_run(cmd, **{**kw, "timeout": 0.01}))
    run_worker(db_engine, media_dir, tmp_path / "public")
    with Session(db_engine) as s:
        job = s.get(MediaJob, view.job_id)
        assert (job.status, job.error) == ("failed", "media.job.timeout")
        asset = s.get(MediaAsset, view.media_asset_id)
        assert asset.status == "failed"
    assert not (media_dir / asset.storage_key).with_name("hd.mp4").exists()


def test_loop_does_nothing_when_the_worker_is_off(monkeypatch):
    import asyncio
    import dataclasses

    from coursemall.jobs import media as media_jobs
    from coursemall.settings import get_settings

    off = dataclasses.replace(get_settings(), media_worker=False)
    monkeypatch.setattr("coursemall.settings.get_settings", lambda: off)
    called = []
    monkeypatch.setattr(media_jobs, "run_once", lambda owner: called.append(owner))
    assert asyncio.run(asyncio.wait_for(media_jobs.media_jobs_loop(), 2)) is None
    assert called == []


# ---------------------------------------------------------------------------------- demo renditions

def test_demo_renditions_are_made_once_with_encrypted_hls_and_lesson_clips(db_engine, shop, media_files, tmp_path):
    from coursemall.demo.renditions import ensure_demo_previews, ensure_demo_renditions

    media_dir, public_dir = tmp_path / "media", tmp_path / "public"
    (media_dir / "demo").mkdir(parents=True)
    (media_dir / "demo" / "video1.mp4").write_bytes(media_files["video"].read_bytes())
    (media_dir / "demo" / "audio1.mp3").write_bytes(media_files["audio"].read_bytes())
    with Session(db_engine) as s:
        video = MediaAsset(kind="video", storage_key="demo/video1.mp4", mime="video/mp4",
                           renditions={"preview": "demo/video1.preview30.mp4"})  # an older seed's clip
        s.add(video)
        s.add(MediaAsset(kind="audio", storage_key="demo/audio1.mp3", mime="audio/mpeg"))
        s.flush()
        lesson = s.get(Lesson, shop.video_lesson)
        lesson.media_asset_id, lesson.free_seconds = video.id, 2
        s.add(lesson)
        s.commit()
        assert ensure_demo_renditions(s, media_dir, public_dir) == 2
        s.commit()
        video = s.exec(select(MediaAsset).where(MediaAsset.kind == "video")).one()
        r = video.renditions
        assert r["hd"] == "demo/video1.mp4" and "preview" not in r
        assert probe_height(media_dir / r["sd"]) == 180 and ffmpeg.probe(media_dir / r["sd"]).has_audio
        audio = ffmpeg.probe(media_dir / r["audio"])
        assert audio.has_audio and not audio.has_video
        assert (public_dir / r["poster"]).read_bytes()[:3] == b"\xff\xd8\xff"
        for variant in ("hd", "sd", "audio"):
            assert r[f"hls_{variant}"] == f"demo/video1/hls/{variant}"
            assert packaging.check_playlist(media_dir / r[f"hls_{variant}"]) >= 1
        sound = s.exec(select(MediaAsset).where(MediaAsset.kind == "audio")).one().renditions
        assert set(sound) == {"audio", "hls_audio"} and packaging.check_playlist(media_dir / sound["hls_audio"]) >= 1
        stamp = (media_dir / r["sd"]).stat().st_mtime_ns
        key = (media_dir / r["hls_hd"] / "key.bin").read_bytes()
        assert ensure_demo_renditions(s, media_dir, public_dir) == 0  # idempotent: nothing redone
        assert (media_dir / r["sd"]).stat().st_mtime_ns == stamp
        assert (media_dir / r["hls_hd"] / "key.bin").read_bytes() == key
        assert ensure_demo_previews(s, media_dir) == 1
        s.commit()
        lesson = s.get(Lesson, shop.video_lesson)
        assert (lesson.preview_asset_id, lesson.preview_seconds) == (video.id, 2)
        assert lesson.preview_key == "demo/video1/preview-2s.mp4"
        assert 1.9 <= ffmpeg.probe(media_dir / lesson.preview_key).duration <= 2.1
        assert ensure_demo_previews(s, media_dir) == 0


def test_abandoned_uploads_are_expired_once(db_engine, shop, tmp_path):
    media_dir = tmp_path / "media"
    with Session(db_engine, expire_on_commit=False) as s:
        old = uploads.create_upload(s, actor_id=shop.teacher, lesson_id=shop.video_lesson, filename="a.mp4",
                                    size_bytes=100, media_dir=media_dir, max_bytes=MAX)
        fresh = uploads.create_upload(s, actor_id=shop.teacher, lesson_id=shop.video_lesson, filename="b.mp4",
                                      size_bytes=100, media_dir=media_dir, max_bytes=MAX)
        s.execute(update(UploadSession).where(UploadSession.upload_key == old.upload_key)
                  .values(updated_at=utcnow() - timedelta(hours=25)))
        s.commit()
        assert uploads.expire_stale_uploads(s, media_dir=media_dir) == 1
        assert uploads.expire_stale_uploads(s, media_dir=media_dir) == 0
        assert not uploads.part_path(media_dir, old.upload_key).exists()
        assert uploads.part_path(media_dir, fresh.upload_key).exists()
        status = {u.upload_key: (u.status, u.error) for u in s.exec(select(UploadSession))}
        assert status == {old.upload_key: ("aborted", "upload.expired"), fresh.upload_key: ("uploading", "")}


def test_loop_runs_jobs_and_survives_errors_when_the_worker_is_on(monkeypatch):
    import asyncio

    from coursemall.jobs import media as media_jobs

    calls = []

    def fake_run(owner):
        calls.append(owner)
        if len(calls) == 1:
            raise RuntimeError("database away")  # logged; the loop goes on
        return 7 if len(calls) < 4 else None

    monkeypatch.setattr(media_jobs, "run_once", fake_run)
    monkeypatch.setattr(media_jobs, "sweep_uploads", lambda: 0)
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(asyncio.wait_for(media_jobs.media_jobs_loop(idle_seconds=0.05), 0.5))
    assert len(calls) >= 5 and len(set(calls)) == 1  # one lease owner id per loop


def test_ffmpeg_progress_is_reported_and_can_stop_the_encode(media_files, tmp_path):
    src = media_files["video"]
    duration = ffmpeg.probe(src).duration
    seen: list[float] = []
    ffmpeg.run(ffmpeg.video_command(src, tmp_path / "a.mp4", max_height=360, crf=30, audio_kbps=64, has_audio=True,
                                    demuxer="mov"),
               timeout=60, duration=duration, on_progress=lambda f: seen.append(f) or True)
    assert seen and seen == sorted(seen) and seen[-1] >= 0.9 and all(0 <= f <= 1 for f in seen)
    with pytest.raises(ffmpeg.FfmpegError) as err:
        ffmpeg.run(ffmpeg.video_command(src, tmp_path / "b.mp4", max_height=720, crf=23, audio_kbps=64,
                                        has_audio=True, demuxer="mov"),
                   timeout=60, duration=duration, on_progress=lambda f: False)
    assert err.value.reason == "stopped"


def test_a_worker_that_lost_its_lease_writes_nothing(db_engine, shop, media_files, tmp_path, monkeypatch):
    media_dir = tmp_path / "media"
    view = upload_file(db_engine, actor=shop.teacher, lesson=shop.video_lesson, path=media_files["video"],
                       media_dir=media_dir)
    real_transcode = transcode.transcode

    def taken_over(engine, job_id, owner, **kw):
        with Session(engine) as s:  # another worker takes the job over (e.g. after a long stall)
            s.execute(update(MediaJob).where(MediaJob.id == job_id).values(lease_owner="someone-else"))
            s.commit()
        return real_transcode(engine, job_id, owner, **kw)

    assert run_worker(db_engine, media_dir, tmp_path / "public", transcoder=taken_over) == view.job_id
    with Session(db_engine) as s:
        job, asset = s.get(MediaJob, view.job_id), s.get(MediaAsset, view.media_asset_id)
        assert (job.status, job.lease_owner) == ("running", "someone-else")
        assert asset.status == "processing" and asset.renditions == {}
    assert not (media_dir / asset.storage_key).with_name("hd.mp4").exists()


def test_odd_sized_silent_video_still_transcodes(tmp_path):
    """libx264 needs even sides; a silent source gets no audio step."""
    src = _make(tmp_path / "odd.mkv", "-f", "lavfi", "-i", "testsrc=size=641x359:rate=25", "-t", "1",
                "-c:v", "libx264", "-preset", "ultrafast")
    probe = ffmpeg.probe(src)
    assert probe.is_media and not probe.has_audio
    assert transcode.plan_steps("video", probe) == ["hd", "sd", "poster", "hls"]
    out = tmp_path / "hd.mp4"
    ffmpeg.run(ffmpeg.video_command(src, out, max_height=720, crf=30, audio_kbps=64, has_audio=False,
                                    demuxer=probe.container), timeout=60)
    result = ffmpeg.probe(out)
    assert (result.width, result.height) == (640, 358) and not result.has_audio  # never upscaled


# ---------------------------------------------------------------------------------- free-seconds clips

def _lesson(engine, lesson_id: int) -> Lesson:
    with Session(engine, expire_on_commit=False) as s:
        return s.get(Lesson, lesson_id)


def _jobs(engine, kind: str) -> list[MediaJob]:
    with Session(engine, expire_on_commit=False) as s:
        return s.exec(select(MediaJob).where(MediaJob.kind == kind).order_by(MediaJob.id)).all()


def _set_free_seconds(engine, shop, seconds: str) -> None:
    from coursemall.services.catalog import authoring

    with Session(engine) as s:
        authoring.update_lesson(s, actor_id=shop.teacher, lesson_id=shop.video_lesson,
                          data=authoring.LessonInput(title="视频课", free_seconds=seconds))
        s.commit()


def test_clip_is_made_after_the_transcode_and_remade_when_seconds_or_media_change(db_engine, shop, media_files,
                                                                                   tmp_path):
    from coursemall.services.learning.media_access import preview_ready

    media_dir, public_dir = tmp_path / "media", tmp_path / "public"
    _set_free_seconds(db_engine, shop, "2")
    assert _jobs(db_engine, "preview") == []  # no media yet: nothing to cut
    first = upload_file(db_engine, actor=shop.teacher, lesson=shop.video_lesson, path=media_files["video"],
                        media_dir=media_dir)
    run_worker(db_engine, media_dir, public_dir)  # the transcode queues the clip when it finishes
    assert [(j.status, j.media_asset_id) for j in _jobs(db_engine, "preview")] == [("queued", first.media_asset_id)]
    assert not preview_ready(_lesson(db_engine, shop.video_lesson))  # until then: nothing for non-buyers
    run_worker(db_engine, media_dir, public_dir)
    lesson = _lesson(db_engine, shop.video_lesson)
    assert preview_ready(lesson) and (lesson.preview_asset_id, lesson.preview_seconds) == (first.media_asset_id, 2)
    clip = ffmpeg.probe(media_dir / lesson.preview_key)
    assert clip.has_video and clip.has_audio and 1.9 <= clip.duration <= 2.1  # ends at the free seconds

    # the owner changes the seconds: the old clip no longer counts, a new one is made
    _set_free_seconds(db_engine, shop, "1")
    assert not preview_ready(_lesson(db_engine, shop.video_lesson))
    assert [j.status for j in _jobs(db_engine, "preview")] == ["done", "queued"]
    _set_free_seconds(db_engine, shop, "1")  # saving again queues nothing more
    assert [j.status for j in _jobs(db_engine, "preview")] == ["done", "queued"]
    run_worker(db_engine, media_dir, public_dir)
    lesson = _lesson(db_engine, shop.video_lesson)
    assert preview_ready(lesson) and 0.9 <= ffmpeg.probe(media_dir / lesson.preview_key).duration <= 1.1

    # new media: the clip is cut again from it once it is transcoded
    second = upload_file(db_engine, actor=shop.teacher, lesson=shop.video_lesson, path=media_files["video"],
                         media_dir=media_dir)
    run_worker(db_engine, media_dir, public_dir)
    lesson = _lesson(db_engine, shop.video_lesson)
    assert lesson.media_asset_id == second.media_asset_id and not preview_ready(lesson)
    run_worker(db_engine, media_dir, public_dir)
    lesson = _lesson(db_engine, shop.video_lesson)
    assert preview_ready(lesson) and lesson.preview_asset_id == second.media_asset_id
    assert lesson.preview_key.startswith(f"uploads/{second.upload_key}/")

    # seconds set to 0: no clip wanted, no job
    _set_free_seconds(db_engine, shop, "0")
    assert [j.status for j in _jobs(db_engine, "preview")] == ["done"] * 3


def test_a_clip_cut_for_seconds_that_changed_meanwhile_is_not_published(db_engine, shop, media_files, tmp_path):
    media_dir, public_dir = tmp_path / "media", tmp_path / "public"
    upload_file(db_engine, actor=shop.teacher, lesson=shop.video_lesson, path=media_files["video"],
                media_dir=media_dir)
    run_worker(db_engine, media_dir, public_dir)
    _set_free_seconds(db_engine, shop, "2")
    real = transcode.transcode

    def owner_edits_meanwhile(engine, job_id, owner, **kw):
        out = real(engine, job_id, owner, **kw)
        with Session(engine) as s:
            s.execute(update(Lesson).where(Lesson.id == shop.video_lesson).values(free_seconds=3))
            s.commit()
        return out

    run_worker(db_engine, media_dir, public_dir, transcoder=owner_edits_meanwhile)
    lesson = _lesson(db_engine, shop.video_lesson)
    assert lesson.preview_key == "" and lesson.free_seconds == 3
    with Session(db_engine) as s:
        assert [a.action for a in s.exec(select(AuditLog).where(AuditLog.action.like("media.preview%")))] == [
            "media.preview_skipped"]


def test_sweep_queues_missing_clips_and_hls_once(db_engine, shop, media_files, tmp_path):
    media_dir = tmp_path / "media"
    with Session(db_engine) as s:
        old = MediaAsset(kind="video", storage_key="uploads/old/original.mp4", mime="video/mp4", status="ready",
                         renditions={"hd": "uploads/old/hd.mp4"})  # made before encrypted HLS existed
        s.add(old)
        s.flush()
        lesson = s.get(Lesson, shop.video_lesson)
        lesson.media_asset_id, lesson.free_seconds = old.id, 30  # seconds set before clips existed
        s.add(lesson)
        s.commit()
        old_id = old.id
        assert transcode.queue_missing_work(s) == 2
        assert transcode.queue_missing_work(s) == 0  # idempotent
        jobs = {(j.kind, j.media_asset_id, j.lesson_id) for j in s.exec(select(MediaJob))}
    assert jobs == {("preview", old_id, shop.video_lesson), ("hls", old_id, shop.video_lesson)}


# ---------------------------------------------------------------------------------- hostile uploads

@pytest.fixture(scope="session")
def secret_media(tmp_path_factory) -> Path:
    """A media file elsewhere on the host that a manifest could point at."""
    root = tmp_path_factory.mktemp("elsewhere")
    return _make(root / "secret.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi",
                 "-i", "sine=frequency=880:sample_rate=44100", "-t", "2", "-c:v", "libx264", "-preset",
                 "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest")


def _manifests(secret: Path) -> dict[str, bytes]:
    dash = f"""<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT2S" minBufferTime="PT1S"
     profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
 <Period><AdaptationSet mimeType="video/mp4">
  <Representation id="1" bandwidth="100000" codecs="avc1.640015" width="320" height="240">
   <BaseURL>file://{secret}</BaseURL>
  </Representation>
 </AdaptationSet></Period>
</MPD>
"""
    return {
        "dash": dash.encode(),
        "dash_no_prolog": dash.split("\n", 1)[1].encode(),
        "hls": f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nfile://{secret}\n#EXT-X-ENDLIST\n".encode(),
        "concat": f"ffconcat version 1.0\nfile '{secret}'\n".encode(),
        "bom_hls": b"\xef\xbb\xbf\n  #EXTM3U\n" + str(secret).encode() + b"\n",
    }


def test_the_dash_manifest_is_a_real_attack_without_the_whitelists(secret_media, tmp_path):
    """Guard for the tests below: plain `ffmpeg -i` would read the other file through it."""
    manifest = tmp_path / "lesson.mp4"
    manifest.write_bytes(_manifests(secret_media)["dash"])
    plain = subprocess.run([ffmpeg.ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(manifest)],
                           capture_output=True, text=True, timeout=60).stderr
    assert "Input #0, dash" in plain and "320x240" in plain
    # through the whitelists the demuxer itself is refused, even when the sniffing is skipped
    guarded = subprocess.run([ffmpeg.ffmpeg_exe(), "-hide_banner", "-nostdin", *ffmpeg.input_args(manifest)],
                             capture_output=True, text=True, timeout=60).stderr
    assert "not on whitelist" in guarded and "320x240" not in guarded


@pytest.mark.parametrize("kind", ["dash", "dash_no_prolog", "hls", "concat", "bom_hls"])
def test_manifests_disguised_as_media_are_refused_at_upload(db_engine, shop, secret_media, tmp_path, kind):
    media_dir = tmp_path / "media"
    path = tmp_path / "lesson.mp4"
    path.write_bytes(_manifests(secret_media)[kind])
    before = snapshot(db_engine)
    view = upload_file(db_engine, actor=shop.teacher, lesson=shop.video_lesson, path=path, media_dir=media_dir)
    assert (view.status, view.error, view.media_asset_id) == ("failed", "upload.manifest_refused", None)
    after = snapshot(db_engine)
    assert after["lessons"] == before["lessons"] and after["assets"] == [] and after["jobs"] == []
    assert [p for p in media_dir.rglob("*") if p.is_file()] == []  # nothing kept, nothing made


def test_a_manifest_that_reached_a_job_is_refused_and_nothing_of_the_other_file_is_made(db_engine, shop,
                                                                                        secret_media, tmp_path):
    media_dir, public_dir = tmp_path / "media", tmp_path / "public"
    folder = media_dir / "uploads" / "sneaky"
    folder.mkdir(parents=True)
    (folder / "original.mp4").write_bytes(_manifests(secret_media)["dash"])
    with Session(db_engine) as s:
        asset = MediaAsset(kind="video", storage_key="uploads/sneaky/original.mp4", mime="video/mp4",
                           status="processing")
        s.add(asset)
        s.flush()
        s.add(MediaJob(media_asset_id=asset.id, lesson_id=shop.video_lesson))
        s.commit()
        asset_id = asset.id
    run_worker(db_engine, media_dir, public_dir)
    with Session(db_engine) as s:
        job = s.exec(select(MediaJob)).one()
        asset = s.get(MediaAsset, asset_id)
        assert (job.status, job.error) == ("failed", "upload.manifest_refused")
        assert (asset.status, asset.renditions) == ("failed", {})
    made = sorted(p.name for p in media_dir.rglob("*") if p.is_file())
    assert made == ["original.mp4"] and not public_dir.exists()


def _tiny(tmp_path, name: str, *args: str) -> Path:
    return _make(tmp_path / name, "-f", "lavfi", "-i", "sine=frequency=500:sample_rate=44100", "-t", "1", *args)


def test_only_the_allowed_containers_are_accepted(tmp_path):
    accepted = {
        "a.m4a": ("-c:a", "aac"), "a.mp3": ("-c:a", "libmp3lame"), "a.aac": ("-c:a", "aac", "-f", "adts"),
        "a.wav": ("-c:a", "pcm_s16le"), "a.flac": ("-c:a", "flac"), "a.ogg": ("-c:a", "libvorbis"),
        "a.mkv": ("-c:a", "libopus"), "a.webm": ("-c:a", "libopus"), "a.mov": ("-c:a", "aac"),
    }
    for name, args in accepted.items():
        result = ffmpeg.probe(_tiny(tmp_path, name, *args))
        assert result.is_media and result.container in ffmpeg.ALLOWED_DEMUXERS and result.refusal == "", name
    for name, args in {"a.avi": ("-c:a", "pcm_s16le"), "a.flv": ("-c:a", "aac"), "a.ts": ("-c:a", "aac"),
                       "a.au": ("-c:a", "pcm_s16be")}.items():
        result = ffmpeg.probe(_tiny(tmp_path, name, *args))
        assert not result.is_media and result.refusal == ffmpeg.REFUSED_FORMAT, name


def test_every_command_reads_its_input_through_the_whitelists(tmp_path):
    src, out = tmp_path / "in.mkv", tmp_path / "out"
    commands = [
        ffmpeg.video_command(src, out, max_height=720, crf=23, audio_kbps=128, has_audio=True, demuxer="matroska"),
        ffmpeg.audio_command(src, out, demuxer="matroska"),
        ffmpeg.poster_command(src, out, at_seconds=1, demuxer="matroska"),
        ffmpeg.preview_command(src, out, seconds=30, video=True),
        ffmpeg.hls_command(src, tmp_path, tmp_path / "k"),
    ]
    for cmd in commands:
        i = cmd.index("-i")
        assert cmd[i - 6:i] == ["-protocol_whitelist", "file", "-format_whitelist", ffmpeg.FORMAT_WHITELIST,
                                "-f", cmd[i - 1]] and cmd[i - 1] in ffmpeg.ALLOWED_DEMUXERS
    hls = commands[-1]
    assert hls[hls.index("-protocol_whitelist", hls.index("-i")) + 1] == "file,crypto"  # output: encryption only
    with pytest.raises(ffmpeg.FfmpegError):
        ffmpeg.input_args(src, "dash")
