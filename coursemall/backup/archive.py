"""Backup archives: one tar.gz with the database, the private media and the public files.

Layout (members in this order):
  coursemall-backup.json   format header (first, so a wrong file is refused at once)
  db/<table>.jsonl         every table as JSON lines, in foreign-key dependency order, rows by
                           primary key; portable between SQLite and PostgreSQL
  media/<path>             the private media root (settings.media_dir)
  public/<path>            the public images (settings.public_dir)
  secret/secret_key        only when the secret key lives in DATA_DIR/secret_key (not in the env):
                           encrypted TOTP seeds and payment keys need it
  manifest.json            last: format, created_at, alembic revision, tables with row counts and
                           columns, sha256 + size of every other member

The database is read in one consistent snapshot (PostgreSQL: one REPEATABLE READ read-only
transaction; SQLite: one connection in one read transaction). Files are streamed in chunks, never
loaded whole. Values are encoded by the column type the database reports, so the dump does not
depend on this code's models (an archive of an older schema still restores).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import MetaData, select
from sqlalchemy.engine import Connection, Engine

from coursemall.models.base import utcnow
from coursemall.settings import Settings

FORMAT = "coursemall-backup"
FORMAT_VERSION = 1
HEADER = "coursemall-backup.json"
MANIFEST = "manifest.json"
SECRET_MEMBER = "secret/secret_key"
SKIP_TABLES = frozenset({"alembic_version"})  # the revision is recorded in the manifest instead
CHUNK = 1 << 20
BATCH = 1000
# Video is already compressed: a low gzip level keeps multi-GB backups fast; JSON still shrinks well.
GZIP_LEVEL = 1


class BackupError(Exception):
    """A backup could not be written; the message says why (no partial archive is left)."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    tables: int
    rows: int
    files: int
    secret_included: bool


# ---------------------------------------------------------------------------------- encoding

def encode_value(value: object) -> object:
    """A column value as JSON (dates as ISO text, bytes as base64)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    return value


def _dump_line(row: dict) -> bytes:
    return (json.dumps({k: encode_value(v) for k, v in row.items()}, ensure_ascii=False,
                       separators=(",", ":")) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------------- snapshot

@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """One connection seeing one consistent state of the whole database."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            # pysqlite starts no transaction for SELECTs: begin one ourselves (WAL: the snapshot is
            # taken at the first read and held until the end; writers are not blocked).
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("BEGIN")
            try:
                yield conn
            finally:
                conn.exec_driver_sql("ROLLBACK")
        else:
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn
                conn.rollback()


def current_revision(conn: Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def reflect(conn: Connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(conn)
    return metadata


def app_tables(metadata: MetaData) -> list:
    """The shop's tables in foreign-key dependency order (parents first)."""
    return [t for t in metadata.sorted_tables if t.name not in SKIP_TABLES]


# ---------------------------------------------------------------------------------- writing

class _HashingReader(io.RawIOBase):
    """Wraps a file: tarfile copies from it in chunks while we hash what passes by."""

    def __init__(self, fh):
        self.fh = fh
        self.sha = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n if n is not None and n >= 0 else CHUNK)
        self.sha.update(data)
        self.size += len(data)
        return data


class _ArchiveWriter:
    """Adds members to the tar stream and remembers their sha256 and size for the manifest."""

    def __init__(self, tar: tarfile.TarFile):
        self.tar = tar
        self.members: dict[str, dict] = {}
        self.mtime = int(utcnow().timestamp())

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = self.mtime
        info.mode = 0o600
        return info

    def add_bytes(self, name: str, data: bytes, *, listed: bool = True) -> None:
        self.tar.addfile(self._info(name, len(data)), io.BytesIO(data))
        if listed:
            self.members[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

    def add_file(self, name: str, path: Path) -> None:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            reader = _HashingReader(fh)
            try:
                self.tar.addfile(self._info(name, size), reader)
            except OSError as exc:  # the file shrank while it was being read
                raise BackupError(f"{path} changed while it was being backed up: {exc}") from None
        self.members[name] = {"sha256": reader.sha.hexdigest(), "size": size}


def _add_table(writer: _ArchiveWriter, conn: Connection, table, workdir: Path) -> dict:
    """Dump one table to a temporary JSON-lines file (streamed), then add it to the archive."""
    path = workdir / f"{table.name}.jsonl"
    order = list(table.primary_key.columns) or list(table.columns)
    rows = 0
    with path.open("wb") as fh:
        result = conn.execute(select(table).order_by(*order).execution_options(yield_per=BATCH))
        for row in result.mappings():
            fh.write(_dump_line(dict(row)))
            rows += 1
    writer.add_file(f"db/{table.name}.jsonl", path)
    path.unlink()
    return {"name": table.name, "rows": rows, "columns": [c.name for c in table.columns]}


def _add_tree(writer: _ArchiveWriter, root: Path, prefix: str) -> int:
    """Every regular file under `root` (symlinks are not followed: nothing outside the tree)."""
    if not root.is_dir():
        return 0
    count = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(filenames):
            path = base / name
            if path.is_symlink() or not path.is_file():
                continue
            rel = path.relative_to(root).as_posix()
            writer.add_file(f"{prefix}/{rel}", path)
            count += 1
    return count


def file_secret_key(settings: Settings) -> str | None:
    """The secret key when it comes from DATA_DIR/secret_key (None when set in the environment)."""
    path = settings.data_dir / "secret_key"
    try:
        key = path.read_text().strip()
    except OSError:
        return None
    return key if key == settings.secret_key else None


def default_backup_path(settings: Settings) -> Path:
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return settings.data_dir / "backups" / f"coursemall-{stamp}.tar.gz"


def _check_out_path(out: Path, settings: Settings) -> None:
    for root in (settings.media_dir, settings.public_dir):
        if out.resolve().is_relative_to(root.resolve()):
            raise BackupError(f"the archive must not be written inside {root} (it would back itself up)")
    if out.exists():
        raise BackupError(f"{out} already exists; choose another --out")


def write_backup(engine: Engine, settings: Settings, out: Path | None = None) -> BackupResult:
    """Write the archive to `out` (written as out.partial, renamed when complete)."""
    out = Path(out) if out else default_backup_path(settings)
    _check_out_path(out, settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    try:
        summary = _write(engine, settings, partial)
        partial.rename(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(path=out, size=out.stat().st_size, **summary)


def _write(engine: Engine, settings: Settings, partial: Path) -> dict:
    import tempfile

    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # archives hold personal data
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=GZIP_LEVEL,
                                                  format=tarfile.PAX_FORMAT) as tar, \
            tempfile.TemporaryDirectory(dir=partial.parent, prefix=".backup-") as tmp:
        writer = _ArchiveWriter(tar)
        header = {"format": FORMAT, "format_version": FORMAT_VERSION}
        writer.add_bytes(HEADER, json.dumps(header).encode())
        with read_snapshot(engine) as conn:
            revision = current_revision(conn)
            tables = [_add_table(writer, conn, t, Path(tmp)) for t in app_tables(reflect(conn))]
        files = _add_tree(writer, settings.media_dir, "media") + _add_tree(writer, settings.public_dir, "public")
        secret = file_secret_key(settings)
        if secret:
            writer.add_bytes(SECRET_MEMBER, secret.encode())
        manifest = {**header, "created_at": utcnow().isoformat(), "alembic_revision": revision,
                    "dialect": engine.dialect.name, "tables": tables, "members": writer.members}
        writer.add_bytes(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode(), listed=False)
    return {"tables": len(tables), "rows": sum(t["rows"] for t in tables), "files": files,
            "secret_included": bool(secret)}
