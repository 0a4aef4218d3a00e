"""What `GET /api/ready` checks: the database answers at the expected schema, the index searches."""

from __future__ import annotations

import sqlalchemy as sa

from kb_service import db
from kb_service.web.services import Services


def problem(svc: Services) -> str | None:
    """None when ready, else what is missing (in Chinese, for the operator)."""
    try:
        with db.reading(svc.store.engine) as conn:
            version = conn.scalar(sa.select(sa.func.max(db.schema_migrations.c.version)))
    except sa.exc.SQLAlchemyError as exc:
        return f"数据库不可用：{type(exc.orig or exc).__name__}"
    # Newer is fine: migrations only add, so during a rolling upgrade the old version keeps serving.
    if (version or 0) < db.MIGRATIONS[-1][0]:
        return f"数据库结构版本 {version}，本程序需要 {db.MIGRATIONS[-1][0]}"
    try:
        svc.searcher.search("物业", limit=1)
    except Exception as exc:  # any failure of the index means: not ready
        return f"检索索引不可用：{type(exc).__name__}"
    return None
