"""Restore a backup archive (see archive.py for the layout).

Order of work, so that a bad archive changes nothing:
1. read the whole archive once, checking every member name, and unpack it into hidden staging
   folders next to the targets (removed again on any failure); compare every member's sha256 and
   size, the table list and row counts with the manifest;
2. check the target (the emptiness check also runs before step 1, so a refusal is quick): a fresh
   database (no rows) and empty media/public folders, unless --force; the archive's schema
   revision must be known to this code and not older than the database's;
3. migrate the database to the archive's revision, then in ONE transaction (with --force: delete
   every row first) insert the rows, check the counts, fix PostgreSQL sequences; commit;
4. migrate to this code's head; swap the staged media/public folders into place; restore the
   secret key file when the archive has one and the target keeps its key in DATA_DIR.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import shutil
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path, PurePosixPath

from sqlalchemy import Integer, func, insert, select, text
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from coursemall.backup.archive import (
    BATCH,
    CHUNK,
    FORMAT,
    FORMAT_VERSION,
    HEADER,
    MANIFEST,
    SECRET_MEMBER,
    app_tables,
    current_revision,
    file_secret_key,
    reflect,
)
from coursemall.settings import PROJECT_ROOT, Settings

MAX_SMALL_MEMBER = 64 * 1024 * 1024  # header, manifest, secret: read whole, so bounded
_TABLE_MEMBER = re.compile(r"^db/([a-z0-9_]{1,63})\.jsonl$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class RestoreError(Exception):
    """The archive or the target is not fit for a restore; nothing was changed."""


@dataclass
class RestoreResult:
    revision: str | None
    tables: int
    rows: int
    files: int
    secret: str  # "restored" | "same" | "env_differs" | "none"
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------- staging

class _Staging:
    """Hidden folders beside the targets (same file system, so the final swap is a rename)."""

    def __init__(self, settings: Settings):
        token = secrets.token_hex(4)
        # resolved: when media/public are symlinks to another disk, stage (and swap) over there
        self.media_target = settings.media_dir.resolve()
        self.public_target = settings.public_dir.resolve()
        self.db = settings.data_dir / f".restore-{token}-db"
        self.media = self.media_target.parent / f".{self.media_target.name}.restore-{token}"
        self.public = self.public_target.parent / f".{self.public_target.name}.restore-{token}"
        self.secret = self.db / "secret_key"
        self.token = token

    def create(self) -> None:
        for folder in (self.db, self.media, self.public):
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.mkdir()

    def cleanup(self) -> None:
        for folder in (self.db, self.media, self.public):
            shutil.rmtree(folder, ignore_errors=True)

    def destination(self, name: str) -> Path:
        """Where member `name` is unpacked; RestoreError for any name outside the layout."""
        if name == SECRET_MEMBER:
            return self.secret
        m = _TABLE_MEMBER.match(name)
        if m:
            return self.db / f"{m.group(1)}.jsonl"
        head, _, rest = name.partition("/")
        roots = {"media": self.media, "public": self.public}
        parts = PurePosixPath(rest).parts
        if head not in roots or not rest or rest.startswith("/") or "\\" in rest or "\x00" in rest \
                or any(p in ("", ".", "..") for p in parts) or rest != "/".join(parts):
            raise RestoreError(f"the archive contains an unexpected member {name!r}")
        return roots[head].joinpath(*parts)


# ---------------------------------------------------------------------------------- verify

def _read_small(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    if member.size > MAX_SMALL_MEMBER:
        raise RestoreError(f"{member.name} is too large")
    fh = tar.extractfile(member)
    return fh.read() if fh else b""


def _json(data: bytes, what: str) -> dict:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RestoreError(f"the {what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise RestoreError(f"the {what} is not a JSON object")
    return value


def _check_header(header: dict) -> None:
    if header.get("format") != FORMAT:
        raise RestoreError("this is not a CourseMall backup archive")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RestoreError("the archive's format version is invalid")
    if version > FORMAT_VERSION:
        raise RestoreError(f"the archive has format version {version}; this CourseMall reads up to "
                           f"{FORMAT_VERSION}: upgrade CourseMall first")


def _unpack(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> tuple[str, int, int]:
    """Stream one member to `dest`: (sha256, size, newline count)."""
    sha, size, lines = hashlib.sha256(), 0, 0
    src = tar.extractfile(member)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("xb") as out:
        while src is not None and (chunk := src.read(CHUNK)):
            sha.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
            out.write(chunk)
    return sha.hexdigest(), size, lines


def _stage_members(archive: Path, staging: _Staging) -> tuple[dict, dict[str, tuple[str, int, int]]]:
    seen: dict[str, tuple[str, int, int]] = {}
    manifest: dict | None = None
    with tarfile.open(archive, mode="r|gz") as tar:
        for index, member in enumerate(tar):
            if manifest is not None:
                raise RestoreError("the archive has members after its manifest")
            if not member.isreg():
                raise RestoreError(f"the archive contains a non-file member {member.name!r}")
            if member.name in seen:
                raise RestoreError(f"the archive contains {member.name!r} twice")
            if index == 0 or member.name == HEADER:
                if index != 0 or member.name != HEADER:
                    raise RestoreError("this is not a CourseMall backup archive")
                data = _read_small(tar, member)
                _check_header(_json(data, "archive header"))
                seen[HEADER] = (hashlib.sha256(data).hexdigest(), len(data), 0)
            elif member.name == MANIFEST:
                manifest = _json(_read_small(tar, member), "manifest")
            else:
                seen[member.name] = _unpack(tar, member, staging.destination(member.name))
    if manifest is None:
        raise RestoreError("the archive has no manifest (truncated?)")
    return manifest, seen


def _check_manifest(manifest: dict, seen: dict[str, tuple[str, int, int]]) -> None:
    _check_header(manifest)
    members = manifest.get("members")
    tables = manifest.get("tables")
    revision = manifest.get("alembic_revision")
    if not isinstance(members, dict) or not isinstance(tables, list) or not (revision is None or isinstance(revision, str)):
        raise RestoreError("the manifest is incomplete")
    if set(members) != set(seen):
        missing = sorted(set(members) - set(seen))[:5]
        extra = sorted(set(seen) - set(members))[:5]
        raise RestoreError(f"the archive does not match its manifest (missing {missing}, unlisted {extra})")
    for name, (sha, size, _lines) in seen.items():
        entry = members[name]
        if not isinstance(entry, dict) or not _SHA256.match(str(entry.get("sha256", ""))):
            raise RestoreError(f"the manifest entry for {name!r} is invalid")
        if entry["sha256"] != sha or entry.get("size") != size:
            raise RestoreError(f"checksum mismatch for {name!r}: the archive is corrupt or was altered")
    db_members = {n for n in seen if n.startswith("db/")}
    listed = set()
    for table in tables:
        if not (isinstance(table, dict) and isinstance(table.get("name"), str) and isinstance(table.get("rows"), int)
                and isinstance(table.get("columns"), list)):
            raise RestoreError("the manifest's table list is invalid")
        name = f"db/{table['name']}.jsonl"
        if name not in seen or seen[name][2] != table["rows"]:
            raise RestoreError(f"the row count of table {table['name']!r} does not match the manifest")
        listed.add(name)
    if listed != db_members:
        raise RestoreError("the archive's tables do not match the manifest")


def verify_and_stage(archive: Path, staging: _Staging) -> dict:
    """The checked manifest; every member unpacked into `staging`. RestoreError otherwise."""
    if not archive.is_file():
        raise RestoreError(f"{archive} does not exist")
    try:
        manifest, seen = _stage_members(archive, staging)
    except (tarfile.TarError, EOFError, zlib.error, OSError, UnicodeError) as exc:
        raise RestoreError(f"the archive is corrupt or truncated ({exc.__class__.__name__}: {exc})") from None
    _check_manifest(manifest, seen)
    return manifest


# ---------------------------------------------------------------------------------- target

def _alembic_config():
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    return cfg


def _check_revisions(engine: Engine, archive_rev: str | None) -> None:
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    with engine.connect() as conn:
        target_rev = current_revision(conn)
        has_tables = bool(app_tables(reflect(conn)))
    if archive_rev is None:
        if not has_tables:
            raise RestoreError("the archive has no schema revision and the database has no tables: "
                               "create the schema first (python -m coursemall migrate)")
        return
    script = ScriptDirectory.from_config(_alembic_config())
    try:
        lineage = {r.revision for r in script.iterate_revisions(archive_rev, "base")}
    except (CommandError, RevisionError):
        raise RestoreError(f"the archive's schema revision {archive_rev} is unknown to this CourseMall "
                           "(made by a newer version?): upgrade CourseMall first") from None
    if target_rev is None and has_tables:
        raise RestoreError("the database has tables but no migration version: use an empty database")
    if target_rev is not None and target_rev not in lineage:
        raise RestoreError(f"the database schema ({target_rev}) is newer than the archive's ({archive_rev}): "
                           "restore into an empty database")


def occupied(engine: Engine, settings: Settings) -> list[str]:
    """What already holds data: tables with rows, non-empty media/public folders."""
    found = []
    with engine.connect() as conn:
        for table in app_tables(reflect(conn)):
            if conn.execute(select(table).limit(1)).first() is not None:
                found.append(f"table {table.name}")
    for folder in (settings.media_dir, settings.public_dir):
        if folder.is_dir() and any(p.is_file() or p.is_symlink() for p in folder.rglob("*")):
            found.append(f"folder {folder}")
    return found


def migrate(engine: Engine, revision: str) -> None:
    from alembic import command

    cfg = _alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


# ---------------------------------------------------------------------------------- rows

def _dt_decoder(aware: bool) -> Callable[[object], object]:
    def decode(value: object) -> object:
        dt = datetime.fromisoformat(str(value))
        if aware:  # stored times are UTC by convention, also the naive ones SQLite returns
            return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
        return dt.astimezone(timezone.utc).replace(tzinfo=None) if dt.tzinfo else dt
    return decode


def _decoder(column) -> Callable[[object], object] | None:
    kind = column.type
    if isinstance(kind, sqltypes.DateTime):
        return _dt_decoder(bool(getattr(kind, "timezone", False)))
    if isinstance(kind, sqltypes.Date):
        return lambda v: date.fromisoformat(str(v))
    if isinstance(kind, sqltypes.LargeBinary):
        return lambda v: base64.b64decode(str(v), validate=True)
    if isinstance(kind, sqltypes.Numeric) and not isinstance(kind, sqltypes.Integer):
        return lambda v: Decimal(str(v))
    return None


def _rows(path: Path, decoders: dict[str, Callable]) -> Iterator[dict]:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, 1):
            try:
                row = json.loads(line)
                for name, decode in decoders.items():
                    if row.get(name) is not None:
                        row[name] = decode(row[name])
            except (ValueError, TypeError) as exc:
                raise RestoreError(f"{path.name} line {number} cannot be read: {exc}") from None
            if not isinstance(row, dict):
                raise RestoreError(f"{path.name} line {number} is not a row")
            yield row


def _insert_table(conn: Connection, table, path: Path, columns: list[str]) -> int:
    unknown = set(columns) - {c.name for c in table.columns}
    if unknown:
        raise RestoreError(f"table {table.name} has no columns {sorted(unknown)} after migrating")
    decoders = {c.name: d for c in table.columns if c.name in columns and (d := _decoder(c))}
    batch, count = [], 0
    for row in _rows(path, decoders):
        if set(row) - set(columns):
            raise RestoreError(f"{path.name} has a row with columns outside the manifest")
        batch.append(row)
        if len(batch) >= BATCH:
            conn.execute(insert(table), batch)
            count, batch = count + len(batch), []
    if batch:
        conn.execute(insert(table), batch)
        count += len(batch)
    return count


def _fix_sequences(conn: Connection, tables: list) -> None:
    """PostgreSQL: rows were inserted with their ids; move each id sequence past the largest."""
    for table in tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, Integer):
            continue
        col = pk[0].name
        conn.execute(text(
            f'SELECT setval(pg_get_serial_sequence(:t, :c), COALESCE((SELECT MAX("{col}") FROM "{table.name}"), 0) + 1, '
            "false)"), {"t": f'"{table.name}"', "c": col})


def load_rows(engine: Engine, manifest: dict, staging: _Staging, *, replace: bool) -> int:
    """Insert every table's rows in one transaction (deleting existing rows first when `replace`)."""
    total = 0
    with engine.connect() as conn, conn.begin():
        metadata = reflect(conn)
        tables = app_tables(metadata)
        if replace:
            for table in reversed(tables):
                conn.execute(table.delete())
        for entry in manifest["tables"]:
            table = metadata.tables.get(entry["name"])
            if table is None:
                raise RestoreError(f"table {entry['name']} does not exist after migrating")
            try:
                inserted = _insert_table(conn, table, staging.db / f"{entry['name']}.jsonl", entry["columns"])
            except SQLAlchemyError as exc:
                detail = str(getattr(exc, "orig", exc)).splitlines()[0][:300]
                raise RestoreError(f"the database refused the rows of table {entry['name']} ({detail}); "
                                   "the transaction was rolled back") from None
            stored = conn.execute(select(func.count()).select_from(table)).scalar_one()
            if inserted != entry["rows"] or stored != entry["rows"]:
                raise RestoreError(f"table {entry['name']}: {stored} rows stored, {entry['rows']} expected")
            total += inserted
        if engine.dialect.name == "postgresql":
            _fix_sequences(conn, tables)
    return total


# ---------------------------------------------------------------------------------- files

def _swap_in(staged: Path, target: Path, token: str) -> None:
    """Put the staged folder in place of `target` (renames on one file system)."""
    old = target.with_name(f".{target.name}.old-{token}")
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _count_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file())


def _restore_secret(staging: _Staging, settings: Settings) -> str:
    if not staging.secret.is_file():
        return "none"
    archived = staging.secret.read_text().strip()
    if archived == settings.secret_key:
        return "same"
    if file_secret_key(settings) is None:
        return "env_differs"  # COURSEMALL_SECRET_KEY is set in the environment: the operator decides
    key_file = settings.data_dir / "secret_key"
    tmp = key_file.with_name(f".secret_key.{staging.token}")
    tmp.write_text(archived)
    tmp.chmod(0o600)
    tmp.replace(key_file)
    return "restored"


# ---------------------------------------------------------------------------------- restore

def restore_archive(engine: Engine, settings: Settings, archive: Path, *, force: bool = False) -> RestoreResult:
    if not Path(archive).is_file():
        raise RestoreError(f"{archive} does not exist")
    busy = occupied(engine, settings)  # checked first: a refusal should not wait for a big archive
    if busy and not force:
        raise RestoreError("the target already holds data (" + ", ".join(busy[:6]) +
                           "); restore into a fresh data folder and database, or pass --force to replace it")
    staging = _Staging(settings)
    staging.create()
    try:
        manifest = verify_and_stage(Path(archive), staging)
        revision = manifest["alembic_revision"]
        _check_revisions(engine, revision)
        if revision is not None:
            migrate(engine, revision)
        rows = load_rows(engine, manifest, staging, replace=force)
        notes = []
        if revision is not None:
            migrate(engine, "head")
        files = _count_files(staging.media) + _count_files(staging.public)
        _swap_in(staging.media, staging.media_target, staging.token)
        _swap_in(staging.public, staging.public_target, staging.token)
        secret = _restore_secret(staging, settings)
        if secret == "env_differs":
            notes.append("the archive's secret key differs from COURSEMALL_SECRET_KEY: set it to the archived key "
                         "(see secret/secret_key in the archive) or re-enter TOTP and payment keys")
        return RestoreResult(revision=revision, tables=len(manifest["tables"]), rows=rows, files=files,
                             secret=secret, notes=notes)
    finally:
        staging.cleanup()
