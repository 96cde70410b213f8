"""Backup, restore and export.

A demo shop with real activity (a sandbox purchase, sessions, sign-in attempts, progress with its
binary bitmap, a study day, an audit entry, a shop setting, private media and public images) is
backed up and restored into a FRESH data folder and database — SQLite → SQLite, SQLite →
PostgreSQL, PostgreSQL → PostgreSQL and PostgreSQL → SQLite — and the same shop is found: every row of every table, the
media bytes, a learner who signs in with the old password, new rows getting fresh ids.

Corrupt, truncated, tampered, foreign and hostile archives are refused with a clear message and
exit code 2, and the target's database and folders are exactly as before. The CLI runs as a
subprocess at least once.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from datetime import date
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlmodel import Session, SQLModel

from coursemall.db import make_engine
from coursemall.demo.media_gen import ensure_demo_media
from coursemall.demo.seed import seed_all
from coursemall.models import (
    AuditLog,
    Course,
    Entitlement,
    Lesson,
    LessonProgress,
    LoginAttempt,
    Order,
    StudyDay,
    User,
)
from coursemall.backup import archive, data
from coursemall.backup.export import csv_safe
from coursemall.backup.restore import _alembic_config, migrate, restore_archive
from coursemall.services.accounts import sessions, users as accounts
from coursemall.services import audit
from coursemall.services.commerce import checkout, payments
from coursemall.services.shop import shop_settings
from coursemall.settings import PROJECT_ROOT, get_settings

LEARNER = "learner1@coursemall.local"
LEARNER_PW = "learner-demo-2026"


# ---------------------------------------------------------------------------------- fixtures

@contextmanager
def cheap_hashes():
    """Cheap argon2 parameters for seeding (the hashes still verify: parameters live in the hash)."""
    from argon2 import PasswordHasher

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("coursemall.demo.seed.hash_password",
                   PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash)
        yield


@pytest.fixture(scope="session")
def demo_media():
    """The generated demo media, made once per machine (shared with tests/services/test_seed.py)."""
    cache = get_settings().media_dir
    ensure_demo_media(cache)
    return cache / "demo"


def site(root: Path, db_url: str | None = None):
    """Settings for a shop living in `root` (its own data folder, database, media and public dirs)."""
    root.mkdir(parents=True, exist_ok=True)
    return dataclasses.replace(get_settings(), data_dir=root, db_url=db_url or f"sqlite:///{root / 'coursemall.db'}",
                               media_dir=root / "media", public_dir=root / "public", demo=True)


@pytest.fixture
def pg_database(pg_url):
    """A factory of empty PostgreSQL databases (dropped afterwards)."""
    from sqlalchemy.engine import make_url

    base = make_url(pg_url)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make(suffix: str) -> str:
        name = f"{base.database}_{suffix}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return base.set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_schema(db_url: str) -> None:
    """An empty database at the head revision: the tables from the models, stamped with alembic.

    The committed migrations build exactly these tables (tests/services/test_migrations.py); while
    several people work, the models can run ahead of a regenerated migration, so the shops here do
    not depend on it. `test_restore_runs_the_migrations_on_an_empty_database` covers that path."""
    from alembic import command

    engine = make_engine(db_url)
    SQLModel.metadata.create_all(engine)
    with engine.connect() as conn:
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        command.stamp(cfg, "head")
    engine.dispose()


def build_shop(settings, demo_media: Path) -> dict:
    """A demo shop with activity of every kind; returns facts to look for after a restore."""
    fresh_schema(settings.db_url)
    engine = make_engine(settings.db_url)
    shutil.copytree(demo_media, settings.media_dir / "demo", dirs_exist_ok=True)
    with cheap_hashes():
        seed_all(engine, settings)
    with Session(engine, expire_on_commit=False) as s:
        learner = s.exec(select(User).where(User.email == LEARNER)).scalar_one()
        owner = s.exec(select(User).where(User.role == "owner")).scalar_one()
        owned = set(s.exec(select(Entitlement.course_id).where(Entitlement.user_id == learner.id)).scalars())
        course = next(c for c in s.exec(select(Course).where(Course.status == "published").order_by(Course.id)).scalars()
                      if c.id not in owned and c.price_fen > 0)
        order = checkout.buy_now(s, actor_id=learner.id, item_type="course", item_id=course.id)
        payments.sandbox_decide(s, actor_id=learner.id, order_no=order.out_trade_no, outcome="pay")
        sessions.create_session(s, user_id=learner.id, user_agent="Mozilla/5.0 (iPhone)", ip="10.1.2.3")
        s.add(LoginAttempt(identifier=LEARNER, ip="10.1.2.3", success=True))
        lesson = s.exec(select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.id)).scalars().first()
        s.add(LessonProgress(user_id=learner.id, lesson_id=lesson.id, course_id=course.id, position_seconds=42,
                             covered=bytes(range(256)) + b"\x00\xff", watched_seconds=40, percent=33))
        s.add(StudyDay(user_id=learner.id, day=date(2020, 1, 1), seconds=600))
        audit.record(s, actor_id=owner.id, action="backup.test", target="shop", detail={"note": "备份测试"})
        key = next(iter(shop_settings.DEFAULTS))
        shop_settings.set_value(s, key, shop_settings.DEFAULTS[key], actor_id=owner.id)
        s.commit()
    private = settings.media_dir / "uploads" / "big.bin"
    private.parent.mkdir(parents=True)
    private.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    engine.dispose()
    return {"order_no": order.out_trade_no, "learner_id": learner.id, "course_id": course.id, "lesson_id": lesson.id}


@pytest.fixture(scope="module")
def template(tmp_path_factory, demo_media):
    """One SQLite shop per module; tests clone its folder instead of seeding again."""
    settings = site(tmp_path_factory.mktemp("template") / "shop")
    facts = build_shop(settings, demo_media)
    return settings, facts


def clone(template_settings, root: Path):
    """A copy of the template shop (database file, media, public) living in `root`."""
    shutil.copytree(template_settings.data_dir, root)
    return site(root)


@pytest.fixture(scope="module")
def good_archive(template, tmp_path_factory):
    out = tmp_path_factory.mktemp("archives") / "good.tar.gz"
    archive.write_backup(make_engine(template[0].db_url), template[0], out)
    return out


def contents(db_url: str) -> dict[str, list[tuple]]:
    """Every row of every table, read through the app's column types (so SQLite and PostgreSQL
    values compare equal: aware UTC datetimes, bytes, JSON as Python objects)."""
    engine = make_engine(db_url)
    out = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]
    engine.dispose()
    return out


def tree(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def target_state(settings) -> dict:
    """Everything a restore could change (database content and schema version, all files)."""
    engine = make_engine(settings.db_url)
    with engine.connect() as conn:
        tables = sorted(conn.dialect.get_table_names(conn))
        revision = archive.current_revision(conn)
    engine.dispose()
    files = {k: v for k, v in tree(settings.data_dir).items() if not k.endswith(("-wal", "-shm", ".db"))}
    return {"tables": tables, "revision": revision, "rows": contents(settings.db_url) if tables else {},
            "files": files}


# ---------------------------------------------------------------------------------- round trips

def _round_trip(tmp_path, template, demo_media, src_url=None, dst_url=None):
    if src_url:
        src = site(tmp_path / "src", src_url)
        facts = build_shop(src, demo_media)
    else:
        src, facts = clone(template[0], tmp_path / "src"), template[1]
    out = tmp_path / "backups" / "shop.tar.gz"
    result = archive.write_backup(make_engine(src.db_url), src, out)
    assert result.path == out and result.size == out.stat().st_size > 3 * 1024 * 1024  # media is inside
    assert result.rows > 100 and result.files >= 10

    dst = site(tmp_path / "dst", dst_url)
    fresh_schema(dst.db_url)  # an empty, migrated database (e.g. after `python -m coursemall migrate`)
    engine = make_engine(dst.db_url)
    restored = restore_archive(engine, dst, out)
    engine.dispose()
    assert restored.rows == result.rows

    # the same shop: every row of every table, every file
    assert contents(dst.db_url) == contents(src.db_url)
    assert tree(dst.media_dir) == tree(src.media_dir) and tree(dst.public_dir) == tree(src.public_dir)
    assert (dst.media_dir / "uploads" / "big.bin").read_bytes() == (src.media_dir / "uploads" / "big.bin").read_bytes()
    _the_shop_works(dst, facts)
    return src, dst, out


def _the_shop_works(dst, facts) -> None:
    engine = make_engine(dst.db_url)
    with Session(engine, expire_on_commit=False) as s:
        # a learner signs in with the old password (the hash was restored), and finds the order
        view = accounts.sign_in_with_password(s, account=LEARNER, password=LEARNER_PW, ip="10.9.9.9")
        assert view.id == facts["learner_id"]
        order = s.exec(select(Order).where(Order.out_trade_no == facts["order_no"])).scalar_one()
        assert order.status == "paid" and order.user_id == facts["learner_id"]
        progress = s.exec(select(LessonProgress).where(LessonProgress.user_id == view.id,
                                                       LessonProgress.lesson_id == facts["lesson_id"])).scalar_one()
        assert bytes(progress.covered) == bytes(range(256)) + b"\x00\xff"
        assert date(2020, 1, 1) in s.exec(select(StudyDay.day).where(StudyDay.user_id == view.id)).scalars().all()
        assert s.exec(select(AuditLog).where(AuditLog.action == "backup.test")).scalar_one().detail == {"note": "备份测试"}
        # new rows get fresh ids (PostgreSQL sequences were moved past the restored ids)
        max_id = s.exec(select(User.id).order_by(User.id.desc())).scalars().first()
        new = accounts.register_user(s, account="after-restore@example.com", password="new-pass-2026",
                                     nickname="新用户")
        s.add(AuditLog(actor_id=None, action="after.restore", detail={}))
        s.commit()
        assert new.id > max_id
    with engine.connect() as conn:
        assert archive.current_revision(conn) is not None
    engine.dispose()


def test_backup_restores_the_same_shop_into_a_fresh_sqlite_folder(tmp_path, template, demo_media):
    _src, dst, out = _round_trip(tmp_path, template, demo_media)
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert names[0] == archive.HEADER and names[-1] == archive.MANIFEST
    assert "db/users.jsonl" in names and "media/uploads/big.bin" in names
    assert not any(n.startswith("secret/") for n in names)  # the test key comes from the environment
    assert oct(out.stat().st_mode & 0o777) == "0o600"


@pytest.mark.pg
def test_sqlite_backup_restores_into_a_fresh_postgresql_database(tmp_path, template, demo_media, pg_database):
    _round_trip(tmp_path, template, demo_media, dst_url=pg_database("h7_dst"))


@pytest.mark.pg
def test_postgresql_backup_restores_into_a_fresh_postgresql_database(tmp_path, template, demo_media, pg_database):
    _round_trip(tmp_path, template, demo_media, src_url=pg_database("h7_src"), dst_url=pg_database("h7_dst"))


@pytest.mark.pg
def test_postgresql_backup_restores_into_a_fresh_sqlite_folder(tmp_path, template, demo_media, pg_database):
    _round_trip(tmp_path, template, demo_media, src_url=pg_database("h7_src"))


def test_backup_reads_one_consistent_snapshot(tmp_path, template, monkeypatch):
    """A write that commits while the backup runs is either wholly in the archive or not at all."""
    src = clone(template[0], tmp_path / "src")
    engine = make_engine(src.db_url)
    real = archive._add_table
    written = []

    def add_table_then_write(writer, conn, table, workdir):
        info = real(writer, conn, table, workdir)
        if table.name == "users" and not written:  # users already dumped, audit_log not yet
            with Session(engine) as s:
                s.add(User(email="late@example.com", nickname="迟到", watermark_code="LATE0001"))
                s.commit()
                late = s.exec(select(User.id).where(User.email == "late@example.com")).scalar_one()
                audit.record(s, actor_id=late, action="late.write")
                s.commit()
            written.append(True)
        return info

    monkeypatch.setattr(archive, "_add_table", add_table_then_write)
    out = tmp_path / "snap.tar.gz"
    archive.write_backup(engine, src, out)
    assert written
    with tarfile.open(out) as tar:
        users = tar.extractfile("db/users.jsonl").read().decode()
        audit_rows = tar.extractfile("db/audit_log.jsonl").read().decode()
    assert "late@example.com" not in users and "late.write" not in audit_rows


def test_backup_refuses_to_write_inside_the_media_folder(tmp_path):
    src = site(tmp_path / "src")
    engine = make_engine(src.db_url)
    with pytest.raises(archive.BackupError):
        archive.write_backup(engine, src, src.media_dir / "x.tar.gz")
    assert not (src.media_dir / "x.tar.gz").exists()


def _models_match_migrations() -> bool:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        from alembic import command

        command.upgrade(cfg, "head")
        return compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []


def test_restore_runs_the_migrations_on_an_empty_database(tmp_path, made_backup):
    if not _models_match_migrations():
        pytest.skip("the models are ahead of the committed migrations (a migration is being regenerated)")
    src, good = made_backup
    dst = site(tmp_path / "dst")  # no tables at all: restore migrates it first
    assert data.main("restore", [str(good)], settings=dst) == 0
    assert contents(dst.db_url) == contents(src.db_url)


# ---------------------------------------------------------------------------------- bad archives

def _rewrite(src: Path, dst: Path, mutate=None, *, drop: str = "", add: list[tuple[str, bytes]] = (),
             fix_manifest: bool = False) -> None:
    """Copy an archive member by member, changing some (optionally re-computing the manifest)."""
    members = []
    with tarfile.open(src) as tar:
        for m in tar.getmembers():
            members.append((m.name, tar.extractfile(m).read()))
    members = [(n, mutate(n, b) if mutate else b) for n, b in members if n != drop]
    manifest_at = next((i for i, (n, _) in enumerate(members) if n == archive.MANIFEST), None)
    if manifest_at is not None:
        for name, payload in add:
            members.insert(manifest_at, (name, payload))
            manifest_at += 1
    if fix_manifest and manifest_at is not None:
        manifest = json.loads(members[manifest_at][1])
        manifest["members"] = {n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
                               for n, b in members if n != archive.MANIFEST}
        for t in manifest["tables"]:
            t["rows"] = dict(members)[f"db/{t['name']}.jsonl"].count(b"\n")
        members[manifest_at] = (archive.MANIFEST, json.dumps(manifest).encode())
    with tarfile.open(dst, "w:gz") as tar:
        for name, payload in members:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


@pytest.fixture
def made_backup(template, good_archive):
    return template[0], good_archive


def _flip_media(name, payload):
    return payload[:100] + bytes([payload[100] ^ 1]) + payload[101:] if name == "media/uploads/big.bin" else payload


def _extra_line(name, payload):
    return payload + payload.splitlines(keepends=True)[0] if name == "db/users.jsonl" else payload


BAD_ARCHIVES = {
    "truncated": lambda good, bad: bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2]),
    "truncated_near_end": lambda good, bad: bad.write_bytes(good.read_bytes()[:-200]),
    "not_gzip": lambda good, bad: bad.write_bytes(os.urandom(5000)),
    "empty_file": lambda good, bad: bad.write_bytes(b""),
    "gzip_of_text": lambda good, bad: bad.write_bytes(gzip.compress(b"hello world" * 100)),
    "flipped_media_byte": lambda good, bad: _rewrite(good, bad, _flip_media),
    "extra_row_same_manifest": lambda good, bad: _rewrite(good, bad, _extra_line),
    "missing_manifest": lambda good, bad: _rewrite(good, bad, drop=archive.MANIFEST),
    "missing_member": lambda good, bad: _rewrite(good, bad, drop="db/orders.jsonl"),
    "unlisted_member": lambda good, bad: _rewrite(good, bad, add=[("media/extra.bin", b"x")]),
    "path_traversal": lambda good, bad: _rewrite(good, bad, add=[("media/../../escaped.txt", b"x")], fix_manifest=True),
    "unknown_member": lambda good, bad: _rewrite(good, bad, add=[("etc/passwd", b"x")], fix_manifest=True),
    "newer_format": lambda good, bad: _rewrite(
        good, bad, lambda n, b: json.dumps({"format": archive.FORMAT, "format_version": 99}).encode()
        if n == archive.HEADER else b, fix_manifest=True),
    "foreign_tar": lambda good, bad: _foreign_tar(bad),
    "unknown_revision": lambda good, bad: _rewrite(
        good, bad, lambda n, b: _set_manifest(b, alembic_revision="ffffffffffff") if n == archive.MANIFEST else b),
}


def _set_manifest(payload: bytes, **changes) -> bytes:
    return json.dumps({**json.loads(payload), **changes}).encode()


def _foreign_tar(bad: Path) -> None:
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo("README")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_bad_archive_is_refused_and_the_filled_target_is_untouched_even_with_force(tmp_path, made_backup,
                                                                                  case, capsys):
    src, good = made_backup
    bad = tmp_path / f"{case}.tar.gz"
    BAD_ARCHIVES[case](good, bad)
    dst = clone(src, tmp_path / "dst")
    before = target_state(dst)

    code = data.main("restore", [str(bad), "--force"], settings=dst)

    out = capsys.readouterr().out
    assert code == 2, out
    assert "restore refused:" in out and "nothing was changed" in out
    assert target_state(dst) == before
    assert not (tmp_path / "escaped.txt").exists() and not (dst.data_dir.parent / "escaped.txt").exists()


@pytest.mark.parametrize("case", ["truncated", "flipped_media_byte", "missing_manifest", "newer_format"])
def test_bad_archive_into_a_fresh_target_changes_nothing(tmp_path, made_backup, case, capsys):
    _src, good = made_backup
    bad = tmp_path / f"{case}.tar.gz"
    BAD_ARCHIVES[case](good, bad)
    dst = site(tmp_path / "fresh")
    before = target_state(dst)
    assert data.main("restore", [str(bad)], settings=dst) == 2
    assert target_state(dst) == before and before["tables"] == []
    assert not any(p.name.startswith(".") for p in dst.data_dir.iterdir())  # no staging left behind


def test_clear_messages_for_common_mistakes(tmp_path, made_backup, capsys):
    _src, good = made_backup
    dst = site(tmp_path / "dst")
    cases = {
        "not_gzip": "corrupt or truncated",
        "flipped_media_byte": "checksum mismatch for 'media/uploads/big.bin'",
        "foreign_tar": "not a CourseMall backup",
        "newer_format": "upgrade CourseMall first",
        "missing_manifest": "no manifest",
        "path_traversal": "unexpected member",
        "unknown_revision": "unknown to this CourseMall",
        "extra_row_same_manifest": "checksum mismatch for 'db/users.jsonl'",
    }
    for case, phrase in cases.items():
        bad = tmp_path / f"{case}.tar.gz"
        BAD_ARCHIVES[case](good, bad)
        assert data.main("restore", [str(bad)], settings=dst) == 2
        assert phrase in capsys.readouterr().out, case
    assert data.main("restore", [str(tmp_path / "missing.tar.gz")], settings=dst) == 2
    assert "does not exist" in capsys.readouterr().out
    assert data.main("restore", [], settings=dst) == 2
    assert "required" in capsys.readouterr().out


def test_restore_refuses_a_target_with_data_unless_forced(tmp_path, made_backup, capsys):
    src, good = made_backup
    dst = clone(src, tmp_path / "dst")
    with Session(make_engine(dst.db_url)) as s:
        s.add(User(email="only-in-target@example.com", nickname="目标", watermark_code="TGT00001"))
        s.commit()
    before = target_state(dst)
    assert data.main("restore", [str(good)], settings=dst) == 2
    assert "already holds data" in capsys.readouterr().out
    assert target_state(dst) == before

    assert data.main("restore", [str(good), "--force"], settings=dst) == 0
    assert contents(dst.db_url) == contents(src.db_url)  # replaced, not merged
    assert tree(dst.media_dir) == tree(src.media_dir)
    assert not any(p.name.startswith(".") for p in dst.data_dir.iterdir())  # no staging left behind


def test_a_row_the_database_rejects_rolls_back_everything(tmp_path, made_backup, capsys):
    """A consistent archive whose rows break a constraint: the one transaction rolls back, the
    old data and folders stay."""
    _src, good = made_backup

    def duplicate_email(name, payload):
        if name != "db/users.jsonl":
            return payload
        lines = payload.splitlines(keepends=True)
        first, second = json.loads(lines[0]), json.loads(lines[1])
        second["email"] = first["email"]
        lines[1] = (json.dumps(second, ensure_ascii=False) + "\n").encode()
        return b"".join(lines)

    bad = tmp_path / "dup.tar.gz"
    _rewrite(good, bad, duplicate_email, fix_manifest=True)
    dst = clone(_src, tmp_path / "dst")
    before = target_state(dst)
    assert data.main("restore", [str(bad), "--force"], settings=dst) == 2
    assert "the database refused the rows of table users" in capsys.readouterr().out
    assert target_state(dst) == before


# ---------------------------------------------------------------------------------- CLI

def _cli(args: list[str], root: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEMALL_")}
    env["COURSEMALL_DATA_DIR"] = str(root)  # the secret key is generated into root/secret_key
    return subprocess.run([sys.executable, "-m", "coursemall", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_backup_restore_export_as_subprocesses(tmp_path, template):
    src_root, dst_root = tmp_path / "src", tmp_path / "dst"
    src = clone(template[0], src_root)
    src_key = "k" * 48
    (src_root / "secret_key").write_text(src_key)  # a key kept in the data folder, as in the demo
    out = tmp_path / "cli.tar.gz"

    done = _cli(["backup", "--out", str(out)], src_root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"backup written: {out}" in done.stdout and "includes the secret key" in done.stdout

    dst_root.mkdir()
    fresh_schema(f"sqlite:///{dst_root / 'coursemall.db'}")
    done = _cli(["restore", str(out)], dst_root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "restored" in done.stdout
    assert (dst_root / "secret_key").read_text() == src_key  # encrypted TOTP seeds stay readable
    assert contents(f"sqlite:///{dst_root / 'coursemall.db'}") == contents(src.db_url)

    done = _cli(["restore", str(out)], dst_root)  # a second time: the target now holds data
    assert done.returncode == 2 and "already holds data" in done.stdout

    export_dir = tmp_path / "export"
    done = _cli(["export", "--out", str(export_dir), "--format", "csv"], dst_root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {p.name for p in export_dir.iterdir()} == {"orders.csv", "order_lines.csv", "learners.csv", "courses.csv"}

    done = _cli(["export", "--format", "xml"], dst_root)
    assert done.returncode == 2 and "invalid choice" in done.stdout


# ---------------------------------------------------------------------------------- export

@pytest.fixture
def exported_shop(tmp_path, template):
    src = clone(template[0], tmp_path / "src")
    facts = template[1]
    engine = make_engine(src.db_url)
    with Session(engine) as s:  # a learner whose nickname is a spreadsheet formula
        user = s.exec(select(User).where(User.email == LEARNER)).scalar_one()
        user.nickname = "=HYPERLINK(\"http://evil\")"
        user.totp_secret = "enc1:SECRET-TOTP"
        s.add(user)
        s.commit()
    return src, engine, facts


def test_export_json_has_orders_with_lines_learners_and_courses_but_no_credentials(tmp_path, exported_shop):
    src, engine, facts = exported_shop
    out = tmp_path / "json"
    assert data.main("export", ["--out", str(out)], settings=src, engine=engine) == 0
    orders = json.loads((out / "orders.json").read_text())
    learners = json.loads((out / "learners.json").read_text())
    courses = json.loads((out / "courses.json").read_text())
    order = next(o for o in orders if o["order_no"] == facts["order_no"])
    assert order["status"] == "paid" and order["lines"][0]["course_ids"] == [facts["course_id"]]
    assert order["total_fen"] == order["lines"][0]["unit_price_fen"]
    learner = next(u for u in learners if u["email"] == LEARNER)
    assert learner["paid_orders"] >= 1 and learner["paid_fen"] >= order["total_fen"]
    with Session(engine) as s:
        assert len(learners) == len(s.exec(select(User)).all())
        assert len(courses) == len(s.exec(select(Course)).all())
        hashes = [u.password_hash for u in s.exec(select(User)).scalars()]
    assert not {"password_hash", "totp_secret", "totp_last_step", "wechat_openid"} & set(learners[0])
    text_all = "".join(p.read_text() for p in out.iterdir())
    for secret in ("SECRET-TOTP", "password_hash", "token_hash", *[h for h in hashes if h]):
        assert secret not in text_all


def test_export_csv_is_formula_safe_and_readable(tmp_path, exported_shop):
    src, engine, facts = exported_shop
    out = tmp_path / "csv"
    assert data.main("export", ["--out", str(out), "--format", "csv"], settings=src, engine=engine) == 0
    raw = (out / "learners.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets read the Chinese text
    with (out / "learners.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    learner = next(r for r in rows if r["email"] == LEARNER)
    assert learner["nickname"] == "'=HYPERLINK(\"http://evil\")"
    assert "password_hash" not in rows[0] and "totp_secret" not in rows[0]
    with (out / "order_lines.csv").open(encoding="utf-8-sig", newline="") as fh:
        lines = [r for r in csv.DictReader(fh) if r["order_no"] == facts["order_no"]]
    assert json.loads(lines[0]["course_ids"]) == [facts["course_id"]]
    # an existing, non-empty folder is refused
    assert data.main("export", ["--out", str(out), "--format", "csv"], settings=src, engine=engine) == 2


@pytest.mark.parametrize("value,expected", [("=1+1", "'=1+1"), ("+86 138", "'+86 138"), ("-2", "'-2"),
                                            ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
                                            ("普通昵称", "普通昵称"), (5, 5), ("", "")])
def test_csv_safe(value, expected):
    assert csv_safe(value) == expected
