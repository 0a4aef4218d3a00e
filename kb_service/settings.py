"""One settings object, built from the environment once and passed everywhere."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kb_service.errors import UsageError

# (name, default, help): the single table that the docs page and `kb --help` are built from.
ENVIRONMENT = [
    ("KB_DATA_DIR", "./var", "索引、SQLite 数据库与日志所在目录"),
    ("KB_DATABASE_URL", "sqlite:///<KB_DATA_DIR>/kb.sqlite3",
     "数据库地址；共享部署用 postgresql+psycopg://user@host/db"),
    ("KB_STAFF_TOKENS", "", "员工访问令牌，逗号分隔的 name:token（角色为主管 supervisor）；"
     "与 kb staff add 建立的账号同时有效；两者都没有时员工接口关闭"),
    ("KB_FEEDBACK_RATE_LIMIT", "10", "每个地址每分钟可提交的公开表单数；0 表示不限（压测用）"),
    ("KB_RETENTION_MONTHS", "<standards.yaml 的保存期>",
     "联系方式与位置保存的月数，kb purge 删除更早的；不得少于 standards.yaml 规定的保存期"),
    ("KB_TRUSTED_PROXIES", "", "可信反向代理的地址（逗号分隔，可写网段如 10.0.0.0/8）；只有来自它们的 "
     "X-Forwarded-For/-Proto 才被采信；为空时一律不采信，按连接的对端地址计数限流"),
    ("KB_REQUEST_LOG", "<KB_DATA_DIR>/requests.log",
     "每个请求一行 JSON 的请求日志（不含查询值、电话、姓名、令牌、Cookie）；- 表示标准错误输出，off 表示不写"),
    ("KB_PROJECT_DIR", "<当前目录>", "内容仓库根目录（含 mkdocs.yml、docs/、snippets/）"),
    ("KB_SITE_ENGINE", "mkdocs", "构建站点用的构建器：mkdocs（Material for MkDocs）或 zensical（需安装 zensical 扩展）"),
]
SITE_ENGINES = ("mkdocs", "zensical")


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    data_dir: Path
    database_url: str
    staff_tokens: dict[str, str] = field(default_factory=dict)
    feedback_rate_limit: int = 10
    retention_months: int | None = None
    site_engine: str = "mkdocs"
    trusted_proxies: tuple[str, ...] = ()
    request_log: str = "off"

    @property
    def site_dir(self) -> Path:
        return self.project_dir / "site"

    @property
    def staged_dir(self) -> Path:
        """The complete Markdown project that `kb build` generates and the builder renders."""
        return self.data_dir / "staged"

    @property
    def docs_dir(self) -> Path:
        return self.project_dir / "docs"

    @property
    def snippets_dir(self) -> Path:
        return self.project_dir / "snippets"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def public_log_path(self) -> Path:
        """The 你说我改 snapshot written by `kb export-log` and shown by the site."""
        return self.data_dir / "public-log.json"

    @property
    def staff_enabled(self) -> bool:
        return bool(self.staff_tokens)

    @classmethod
    def from_env(cls, environ: os._Environ | dict | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        project_dir = Path(env.get("KB_PROJECT_DIR") or _find_project_dir()).resolve()
        data_dir = Path(env.get("KB_DATA_DIR") or "./var")
        if not data_dir.is_absolute():
            data_dir = (Path.cwd() / data_dir).resolve()
        database_url = env.get("KB_DATABASE_URL") or f"sqlite:///{data_dir / 'kb.sqlite3'}"
        return cls(
            project_dir=project_dir,
            data_dir=data_dir,
            database_url=database_url,
            staff_tokens=parse_tokens(env.get("KB_STAFF_TOKENS", "")),
            feedback_rate_limit=_int(env, "KB_FEEDBACK_RATE_LIMIT", 10),
            retention_months=_int(env, "KB_RETENTION_MONTHS", None),
            site_engine=site_engine(env.get("KB_SITE_ENGINE") or "mkdocs"),
            request_log=env.get("KB_REQUEST_LOG") or str(data_dir / "requests.log"),
            trusted_proxies=tuple(p.strip() for p in env.get("KB_TRUSTED_PROXIES", "").split(",") if p.strip()),
        )


def site_engine(name: str) -> str:
    name = name.strip().lower()
    if name not in SITE_ENGINES:
        raise UsageError(f"KB_SITE_ENGINE 应为 {' 或 '.join(SITE_ENGINES)}，收到 {name!r}")
    return name


def parse_tokens(raw: str) -> dict[str, str]:
    """`alice:s3cret,bob:t0ken` -> {token: name}. Tokens are keyed by value for lookup."""
    tokens: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, token = part.partition(":")
        if not sep or not name.strip() or len(token.strip()) < 8:
            raise UsageError(
                "KB_STAFF_TOKENS 格式应为 name:token（令牌至少 8 个字符），多个用逗号分隔"
            )
        tokens[token.strip()] = name.strip()
    return tokens


def _int(env, name: str, default: int | None) -> int | None:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{name} 应为非负整数，收到 {raw!r}") from None
    if value < 0:
        raise UsageError(f"{name} 应为非负整数，收到 {raw!r}")
    return value


def _find_project_dir() -> Path:
    """The content checkout: the current directory if it holds mkdocs.yml, else the source tree."""
    cwd = Path.cwd()
    if (cwd / "mkdocs.yml").exists():
        return cwd
    return Path(__file__).resolve().parent.parent
