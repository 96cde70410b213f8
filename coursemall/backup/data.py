"""`python -m coursemall backup|restore|export`: the operator's data-safety commands.

  backup  [--out FILE]               one tar.gz: database (JSON lines), media, public files, manifest
  restore FILE [--force]             verify every checksum first; restore into an empty data folder
                                     and database (--force: replace what is there)
  export  [--out DIR] [--format json|csv]   orders with lines, learners, courses (no credentials)

Exit codes: 0 done; 2 bad arguments, a corrupt/foreign archive or a target that holds data
(nothing changed); 1 an unexpected failure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from coursemall.settings import Settings, get_settings

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2


class UsageError(Exception):
    """Bad command-line arguments."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() returns the exit code."""

    def error(self, message: str):
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None):  # --help
        if message:
            print(message)
        raise UsageError("") if status else _HelpShown()


class _HelpShown(Exception):
    """--help was printed."""


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def backup(argv: list[str], settings: Settings, engine) -> int:
    from coursemall.backup.archive import BackupError, write_backup

    parser = _Parser(prog="python -m coursemall backup")
    parser.add_argument("--out", type=Path, help="archive file to write (default DATA_DIR/backups/...)")
    args = parser.parse_args(argv)
    try:
        result = write_backup(engine, settings, args.out)
    except BackupError as exc:
        print(f"backup failed: {exc}")
        return EXIT_REFUSED
    print(f"backup written: {result.path} ({_size(result.size)})")
    print(f"  {result.tables} tables, {result.rows} rows, {result.files} files")
    if result.secret_included:
        print("  includes the secret key (DATA_DIR/secret_key): store the archive as safely as the data folder")
    else:
        print("  the secret key comes from COURSEMALL_SECRET_KEY and is not in the archive: keep it with the backup")
    return EXIT_OK


def restore(argv: list[str], settings: Settings, engine) -> int:
    from coursemall.backup.restore import RestoreError, restore_archive

    parser = _Parser(prog="python -m coursemall restore")
    parser.add_argument("file", type=Path, help="a backup archive made by `python -m coursemall backup`")
    parser.add_argument("--force", action="store_true", help="replace the data already in the target")
    args = parser.parse_args(argv)
    try:
        result = restore_archive(engine, settings, args.file, force=args.force)
    except RestoreError as exc:
        print(f"restore refused: {exc}")
        print("nothing was changed")
        return EXIT_REFUSED
    print(f"restored {args.file}: {result.tables} tables, {result.rows} rows, {result.files} files "
          f"(schema {result.revision or 'unversioned'}, now migrated to head)")
    if result.secret == "restored":
        print("  the archive's secret key was written to DATA_DIR/secret_key")
    for note in result.notes:
        print(f"  note: {note}")
    print("  restart the app so it reads the restored data")
    return EXIT_OK


def export(argv: list[str], settings: Settings, engine) -> int:
    from coursemall.backup.export import FORMATS, ExportError, write_export

    parser = _Parser(prog="python -m coursemall export")
    parser.add_argument("--out", type=Path, help="folder to write (default DATA_DIR/exports/...)")
    parser.add_argument("--format", choices=FORMATS, default="json")
    args = parser.parse_args(argv)
    try:
        result = write_export(engine, settings, args.out, args.format)
    except ExportError as exc:
        print(f"export failed: {exc}")
        return EXIT_REFUSED
    counts = ", ".join(f"{n} {k}" for k, n in result.counts.items())
    print(f"export written to {result.out_dir}: {counts}")
    return EXIT_OK


COMMANDS = {"backup": backup, "restore": restore, "export": export}


def main(name: str, argv: list[str], *, settings: Settings | None = None, engine=None) -> int:
    """Run command `name` with its arguments; returns the process exit code."""
    command = COMMANDS.get(name)
    if command is None:
        print(f"unknown command {name!r}")
        return EXIT_REFUSED
    settings = settings or get_settings()
    own_engine = engine is None
    if own_engine:
        from coursemall.db import make_engine

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.db_url)
    try:
        return command(list(argv), settings, engine)
    except _HelpShown:
        return EXIT_OK
    except UsageError as exc:
        print(f"{name}: {exc}")
        return EXIT_REFUSED
    finally:
        if own_engine:
            engine.dispose()
