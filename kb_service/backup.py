"""`kb backup PATH` and `kb restore PATH` for the SQLite database.

A backup uses SQLite's online backup API (sqlite3.Connection.backup) in small steps, so the
service keeps reading and writing while it runs; the copy is checked with PRAGMA integrity_check
before it is moved into place, owner-only (0600). A restore checks the file the same way, keeps
the current database beside it (kb.sqlite3.before-restore-<time>), then copies the backup in
through the same API. PostgreSQL has its own tools: pg_dump / pg_restore (see the README).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from kb_service.db import private_file
from kb_service.errors import UsageError
from kb_service.times import utcnow

PAGES_PER_STEP = 256


def sqlite_path(url: str) -> Path:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise UsageError("kb backup/restore 只用于 SQLite；PostgreSQL 请用 pg_dump -Fc 与 pg_restore（见 README 的“备份”一节）")
    return Path(parsed.database)


def integrity(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        return f"不是可用的 SQLite 数据库（{exc}）"
    finally:
        conn.close()
    if result == "ok" and "schema_migrations" not in tables:
        return "不是知识库的数据库（没有 schema_migrations 表）"
    return result


def copy(src: Path, dest: Path) -> None:
    source = sqlite3.connect(src, timeout=30)
    target = sqlite3.connect(dest)
    try:
        source.execute("PRAGMA busy_timeout=30000")
        source.backup(target, pages=PAGES_PER_STEP)
        # The copy carries the live database's WAL flag; opened again (the integrity check) it
        # would grow -wal/-shm files beside it. A backup is one self-contained file.
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
        source.close()


def backup(url: str, dest: Path) -> dict:
    src = sqlite_path(url)
    if not src.exists():
        raise UsageError(f"数据库 {src} 不存在：还没有运行过服务？")
    dest = dest.resolve()
    if dest.is_dir():
        dest = dest / f"kb-{utcnow():%Y%m%d-%H%M%S}.sqlite3"
    if dest == src.resolve():
        raise UsageError("备份不能写到数据库本身")
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    private_file(tmp)
    try:
        copy(src, tmp)
        result = integrity(tmp)
        if result != "ok":
            tmp.unlink(missing_ok=True)
            raise UsageError(f"备份未通过完整性检查：{result}")
        os.replace(tmp, dest)
    finally:
        for leftover in (Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
            leftover.unlink(missing_ok=True)
    return {"path": dest, "bytes": dest.stat().st_size}


def restore(url: str, src: Path) -> Path:
    live = sqlite_path(url)
    if not src.is_file():
        raise UsageError(f"找不到备份文件 {src}")
    result = integrity(src)
    if result != "ok":
        raise UsageError(f"{src} 未通过完整性检查，没有恢复：{result}")
    kept = live.with_name(f"{live.name}.before-restore-{utcnow():%Y%m%d-%H%M%S}")
    if live.exists():
        private_file(kept)
        copy(live, kept)
    private_file(live)
    copy(src, live)
    return kept
