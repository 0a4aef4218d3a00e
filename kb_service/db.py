"""The database: table definitions, engine set-up for SQLite and PostgreSQL, migrations.

SQLite (the default, a file in KB_DATA_DIR) runs in WAL mode with a busy timeout, foreign keys
and synchronous=FULL, so a commit is on disk before the service answers. PostgreSQL is used when
KB_DATABASE_URL says so. Times are stored as naive UTC on both, to compare the same way on both.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from kb_service.errors import UsageError
from kb_service.times import utcnow

metadata = sa.MetaData()

entries = sa.Table(
    "entries", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("reference", sa.String(24), nullable=False, unique=True),
    sa.Column("type", sa.String(16), nullable=False, index=True),
    sa.Column("source", sa.String(16), nullable=False),          # resident | page | staff
    sa.Column("category", sa.String(32), index=True),
    sa.Column("location", sa.String(100)),                        # personal: purged
    sa.Column("content", sa.Text, nullable=False, default=""),
    sa.Column("page", sa.String(300)),
    sa.Column("helpful", sa.Boolean),
    sa.Column("consent", sa.Boolean, nullable=False, default=False),
    sa.Column("contact_name", sa.String(50)),                     # personal: purged
    sa.Column("contact_phone", sa.String(20)),                    # personal: purged
    sa.Column("rating_service", sa.SmallInteger),
    sa.Column("rating_communication", sa.SmallInteger),
    sa.Column("rating_management", sa.SmallInteger),
    sa.Column("rating_price", sa.SmallInteger),
    sa.Column("rating_care", sa.SmallInteger),
    sa.Column("record", sa.JSON),                                 # staff complaint record
    sa.Column("script_id", sa.String(64)),                        # the script open when it was recorded
    sa.Column("tier", sa.String(16)),                             # repair tier (feedback.yaml types.repair.tiers)
    # The current state below is a projection of the events table, updated in the same
    # transaction that appends the event; the events themselves are never changed.
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("owner", sa.String(50)),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    sa.Column("respond_by", sa.DateTime),
    sa.Column("resolve_by", sa.DateTime),
    sa.Column("responded_at", sa.DateTime),
    sa.Column("resolved_at", sa.DateTime),
    sa.Column("closed_at", sa.DateTime),
    sa.Column("public_summary", sa.Text),                         # approved for publication
    sa.Column("idempotency_key", sa.String(100), unique=True),
    sa.Column("purged_at", sa.DateTime),
    # A damage or compensation claim: contact details stay while it is open and for the
    # limitation period after it closes (kb purge; standards.yaml complaint.claim-retention).
    sa.Column("claim", sa.Boolean),
    sa.Column("community", sa.String(40), index=True),            # snippets/communities/<id>.yaml
    # scrypt of the access code shown once to the resident (feedback/status.py); never the code itself
    sa.Column("access_hash", sa.String(120)),
    # The reply staff write for the resident, shown on their status page only (public_summary is
    # the one that goes on the public 你说我改 page).
    sa.Column("resident_reply", sa.Text),
)

events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id"), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("actor", sa.String(50), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("from_status", sa.String(16)),
    sa.Column("to_status", sa.String(16)),
    sa.Column("note", sa.Text),
    sa.Column("data", sa.JSON),
)

actions = sa.Table(
    "actions", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id"), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.String(50), nullable=False),
    sa.Column("what", sa.Text, nullable=False),
    sa.Column("target_kind", sa.String(16), nullable=False),     # script | template | page | process
    sa.Column("target", sa.String(200)),
    sa.Column("owner", sa.String(50), nullable=False),
    sa.Column("due", sa.Date),
    sa.Column("public", sa.Boolean, nullable=False, default=False),
    sa.Column("pr_url", sa.String(300)),
    sa.Column("done_at", sa.DateTime),
)

search_gaps = sa.Table(
    "search_gaps", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("query", sa.String(200), nullable=False, index=True),   # the query text only
    sa.Column("results", sa.Integer, nullable=False),
    sa.Column("top_score", sa.Float),
)

# What agents opened from the lookup (issue 23): the query masked and without the caller's
# self-introduction (web/api/api.py), the chosen id, the match the search gave. Kept PICKS_DAYS.
lookup_picks = sa.Table(
    "lookup_picks", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("query", sa.String(200), nullable=False, index=True),
    sa.Column("chosen", sa.String(100), nullable=False),
    sa.Column("match", sa.String(10), nullable=False),
)

staff_sessions = sa.Table(
    "staff_sessions", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),        # sha256 of the cookie value
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("account_id", sa.Integer),                          # None: a KB_STAFF_TOKENS name
    sa.Column("role", sa.String(16)),                             # the role of an env-token session
)

# Staff accounts (kb staff add|list|disable|reset): the secret is stored only as a scrypt hash;
# `secret_id` is the public part of the secret that finds the row without trying every hash.
staff_accounts = sa.Table(
    "staff_accounts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("community", sa.String(64)),
    sa.Column("secret_id", sa.String(16), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("last_login_at", sa.DateTime),
)

# Who logged in, who failed, which account changed how. Never a secret, cookie or token.
staff_events = sa.Table(
    "staff_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("kind", sa.String(24), nullable=False),             # login, login_failed, account_added ...
    sa.Column("account", sa.String(50)),
    sa.Column("actor", sa.String(50), nullable=False),
    sa.Column("address", sa.String(64)),
    sa.Column("data", sa.JSON),
)

# Shared counters for rate limits and lock-outs, so every worker and node sees the same counts.
rate_counters = sa.Table(
    "rate_counters", metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("bucket", sa.Integer, primary_key=True),            # window start, seconds since epoch
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False, index=True),
)

# Failed progress look-ups as counted before migration 7; no longer written (the look-up limits
# are counters in rate_counters now, checked and counted in one step: db.take). Kept for old rows.
status_attempts = sa.Table(
    "status_attempts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("method", sa.String(8), nullable=False),           # code | phone
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Index("ix_status_attempts_key_at", "key", "at"),
)

# The 小区公告 board (feedback/notices.py). A correction appends a new version row; the
# notice's current text is its latest version. Withdrawal sets withdrawn_at (kept for the record).
notices = sa.Table(
    "notices", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("community", sa.String(32), index=True),
    sa.Column("title", sa.String(100), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("template", sa.String(80)),
    sa.Column("valid_from", sa.DateTime, nullable=False),
    sa.Column("valid_until", sa.DateTime),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    sa.Column("created_by", sa.String(50), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("withdrawn_at", sa.DateTime),
    sa.Column("withdrawn_by", sa.String(50)),
)

notice_versions = sa.Table(
    "notice_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("notice_id", sa.Integer, sa.ForeignKey("notices.id"), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("by", sa.String(50), nullable=False),
    sa.Column("title", sa.String(100), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("valid_from", sa.DateTime, nullable=False),
    sa.Column("valid_until", sa.DateTime),
    sa.Column("reason", sa.String(200)),
)

# Secrets the service makes for itself on first start, shared by every node on one database:
# `access-code` derives a submission's access code from its idempotency key (feedback/status.py).
service_secrets = sa.Table(
    "service_secrets", metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
)

schema_migrations = sa.Table(
    "schema_migrations", sa.MetaData(),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)


# -- migrations -------------------------------------------------------------------------------
# Each step runs once, in order, inside one transaction with its version row. To change a table:
# edit the Table above AND append a step that alters existing databases to match; the test
# suite checks that a migrated database has exactly the columns declared above.

def _initial(conn: sa.Connection) -> None:
    metadata.create_all(conn)


def add_columns(conn: sa.Connection, table: sa.Table, *names: str) -> None:
    """ALTER TABLE ... ADD COLUMN for the named columns of `table` that the database lacks.

    A fresh database gets every column from `_initial` (create_all of the current tables), so
    each later step adds only what an older database is missing."""
    have = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    for name in names:
        if name not in have:
            column = table.c[name]
            conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} "
                                 f"{column.type.compile(conn.dialect)}"))


def _claims(conn: sa.Connection) -> None:
    add_columns(conn, entries, "claim")


def _script_and_tier(conn: sa.Connection) -> None:
    add_columns(conn, entries, "script_id", "tier")


def _communities(conn: sa.Connection) -> None:
    """Each entry belongs to a community. Existing entries get the default community at start-up
    (Store.adopt_entries): only the content knows which community that is."""
    add_columns(conn, entries, "community")
    if "ix_entries_community" not in {i["name"] for i in sa.inspect(conn).get_indexes("entries")}:
        conn.execute(sa.text("CREATE INDEX ix_entries_community ON entries (community)"))
def _staff_accounts(conn: sa.Connection) -> None:
    for table in (staff_accounts, staff_events, rate_counters):
        table.create(conn, checkfirst=True)
    have = {c["name"] for c in sa.inspect(conn).get_columns("staff_sessions")}
    for column in ("account_id", "role"):
        if column not in have:
            kind = "INTEGER" if column == "account_id" else "VARCHAR(16)"
            conn.exec_driver_sql(f"ALTER TABLE staff_sessions ADD COLUMN {column} {kind}")


def _residents(conn: sa.Connection) -> None:
    """Issue 18: access codes for progress look-ups, throttled attempts, the notice board."""
    if "access_hash" not in {c["name"] for c in sa.inspect(conn).get_columns("entries")}:
        conn.execute(sa.text("ALTER TABLE entries ADD COLUMN access_hash VARCHAR(120)"))
    for table in (status_attempts, notices, notice_versions):
        table.create(conn, checkfirst=True)


def _picks(conn: sa.Connection) -> None:
    lookup_picks.create(conn, checkfirst=True)


def _secrets_and_replies(conn: sa.Connection) -> None:
    """Issue 29: the service secret for derived access codes; issue 28: the resident's own reply."""
    service_secrets.create(conn, checkfirst=True)
    add_columns(conn, entries, "resident_reply")


MIGRATIONS: list[tuple[int, str, object]] = [
    (1, "entries, events, actions, search gaps, staff sessions", _initial),
    (2, "entries.claim: damage or compensation claims kept past the retention period", _claims),
    (3, "entries.script_id (script used in the call), entries.tier (repair tier)", _script_and_tier),
    (4, "entries.community", _communities),
    (5, "staff accounts, staff events, shared rate counters", _staff_accounts),
    (6, "access codes, status attempts, notices", _residents),
    (7, "lookup picks: what agents opened from the lookup", _picks),
    (8, "service secrets, entries.resident_reply", _secrets_and_replies),
]


def migrate(engine: Engine) -> list[int]:
    """Bring the schema up to date; safe when several processes start at once. Returns applied."""
    applied: list[int] = []
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # One migrator at a time across processes; released at commit.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(4711001)"))
        schema_migrations.create(conn, checkfirst=True)
        done = set(conn.scalars(sa.select(schema_migrations.c.version)))
        for version, name, step in MIGRATIONS:
            if version in done:
                continue
            step(conn)
            conn.execute(schema_migrations.insert().values(version=version, name=name, applied_at=utcnow()))
            applied.append(version)
    return applied


def schema_version(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.max(schema_migrations.c.version))) or 0


# -- engine -----------------------------------------------------------------------------------

def connect(url: str) -> Engine:
    """An engine for the configured database, migrated. Unusable configuration -> UsageError."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise UsageError("KB_DATABASE_URL 无法识别：应为 sqlite:///路径 或 postgresql+psycopg://用户@主机/库") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(parsed)
    elif backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = sa.create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20,
                                  hide_parameters=True)
    else:
        raise UsageError(f"不支持的数据库 {backend!r}：请用 SQLite（默认）或 PostgreSQL")
    try:
        migrate(engine)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise UsageError(f"无法连接数据库 {parsed.render_as_string(hide_password=True)}："
                         f"{str(exc.orig).strip().splitlines()[0]}") from None
    return engine


def _sqlite_engine(url: sa.URL) -> Engine:
    if not url.database or url.database == ":memory:":
        raise UsageError("SQLite 需要一个文件路径，例如 sqlite:///var/kb.sqlite3")
    path = Path(url.database)
    try:
        private_file(path)
    except OSError as exc:
        raise UsageError(f"无法创建数据库 {path}：{exc.strerror}") from None
    # hide_parameters: a database error logged with its traceback must not carry a resident's
    # phone number or name from the statement's parameters.
    engine = sa.create_engine(url, pool_size=8, max_overflow=16, connect_args={"timeout": 30},
                              hide_parameters=True)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's begin event decide how transactions start (pysqlite would otherwise
        # open them itself, as deferred transactions that can fail to upgrade to a write).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Every transaction takes the write lock up front: with WAL, a deferred transaction that
        # later writes fails at once with SQLITE_BUSY instead of waiting for the busy timeout.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write", True)
                             else "BEGIN")

    return engine


def private_dir(path: Path, *, tighten: bool = False) -> None:
    """A directory only its owner can enter (created 0700; a new one is never world-readable).

    `tighten` (KB_DATA_DIR only: never a shared directory such as /tmp that merely holds a
    database file): an existing directory of ours that others may read is made 0700 too
    (issue 29: a data directory created by an older version kept 0755)."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        os.chmod(path, 0o700)        # mkdir's mode is filtered by the umask
    elif tighten and path.is_dir() and path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)


def private_file(path: Path) -> None:
    """The database file and its -wal/-shm companions readable by the owner only (0600)."""
    private_dir(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if p.exists() and p.stat().st_mode & 0o077 and p.stat().st_uid == os.getuid():
            os.chmod(p, 0o600)


def reading(engine: Engine) -> sa.Connection:
    """A connection for reads: on SQLite its transactions begin without taking the write lock."""
    conn = engine.connect()
    conn.execution_options(write=False)
    return conn


def integrity_check(engine: Engine) -> str:
    """SQLite's own integrity check ('ok' when healthy); PostgreSQL has nothing comparable."""
    if engine.dialect.name != "sqlite":
        return "ok"
    with engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA integrity_check").scalar()


def service_secret(engine: Engine, name: str = "access-code") -> bytes:
    """The secret `name`, made (32 random bytes) the first time any node asks; cached per engine."""
    cache = engine.__dict__.setdefault("_kb_secrets", {})
    if name not in cache:
        with engine.begin() as conn:
            value = conn.scalar(sa.select(service_secrets.c.value).where(service_secrets.c.name == name))
            if value is None:
                insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert
                conn.execute(insert(service_secrets).values(name=name, value=os.urandom(32))
                             .on_conflict_do_nothing(index_elements=["name"]))
                value = conn.scalar(sa.select(service_secrets.c.value).where(service_secrets.c.name == name))
        cache[name] = bytes(value)
    return cache[name]


# -- shared counters (rate limits, lock-outs) -------------------------------------------------

def _window(now: float, window: int) -> tuple[int, float]:
    """(this window's start, weight of the previous window still inside the last `window` seconds)."""
    start = int(now // window * window)
    return start, 1 - (now - start) / window


def take(engine: Engine, counters: list[tuple[str, int, int]], *, now: float) -> tuple[str, int] | None:
    """Count one hit on every (name, limit, window) in ONE transaction, or on none of them.

    The check and the count are one step: each counter row is upserted first (the database hands
    out the new counts one at a time: SQLite takes the write lock at BEGIN IMMEDIATE, PostgreSQL
    locks the upserted row until commit), then the sliding-window estimate (this window's count
    plus the previous one's, weighted) is compared with the limit. Over a limit, the transaction
    is rolled back, so a refused request counts nowhere and no more than `limit` requests are let
    through however many arrive at once. Returns None when counted, else (name, seconds to wait)
    for the first counter that refused."""
    insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert
    conn = engine.connect()
    try:
        tx = conn.begin()
        refused = None
        for name, limit, window in counters:
            if limit <= 0:
                continue
            start, weight = _window(now, window)
            stmt = insert(rate_counters).values(
                name=name[:200], bucket=start, count=1,
                expires_at=utcnow() + dt.timedelta(seconds=2 * window + 1))
            stmt = stmt.on_conflict_do_update(index_elements=["name", "bucket"],
                                              set_={"count": rate_counters.c.count + 1})
            current = conn.execute(stmt.returning(rate_counters.c.count)).scalar_one()
            previous = conn.scalar(sa.select(rate_counters.c.count).where(
                rate_counters.c.name == name[:200], rate_counters.c.bucket == start - window)) or 0
            if current + previous * weight > limit:
                refused = (name, wait_seconds(now, window, limit, current - 1, previous))
                break
        if refused is None:
            tx.commit()
        else:
            tx.rollback()
        return refused
    finally:
        conn.close()


def wait_seconds(now: float, window: int, limit: int, current: int, previous: int) -> int:
    """Seconds until one more hit fits under `limit` (current, previous: the two windows' counts)."""
    start, weight = _window(now, window)
    if current + 1 > limit:
        # Not before this window ends; then this window's count is the previous one, and it has
        # to fade until one more fits: current * (1 - t / window) + 1 <= limit.
        fade = 1 - (limit - 1) / current if current else 0
        return max(1, int(start + window - now + fade * window) + 1)
    # previous * (1 - (t - start) / window) + current + 1 <= limit
    needed = 1 - (limit - current - 1) / previous if previous else 0
    return max(1, int(start + needed * window - now) + 1)


def give_back(engine: Engine, names: list[tuple[str, int]], *, now: float) -> None:
    """Undo one counted hit per (name, window): a request that turned out to be right."""
    with engine.begin() as conn:
        for name, window in names:
            start, _ = _window(now, window)
            conn.execute(rate_counters.update().where(
                rate_counters.c.name == name[:200], rate_counters.c.bucket == start, rate_counters.c.count > 0)
                .values(count=rate_counters.c.count - 1))
