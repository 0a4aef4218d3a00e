"""The `kb` command. Exit codes: 0 success, 1 content problems, 2 usage errors."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import ipaddress
import socket
import sys
from pathlib import Path

from kb_service.errors import ContentError, KBError, UsageError
from kb_service.settings import ENVIRONMENT, SITE_ENGINES, Settings


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env()
        if getattr(args, "engine", None):
            settings = dataclasses.replace(settings, site_engine=args.engine)
        return args.func(settings, args) or 0
    except ContentError as exc:
        print(f"kb: {exc.message}", file=sys.stderr)
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"kb: {exc.message}", file=sys.stderr)
        return 2
    except KBError as exc:
        print(f"kb: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def make_parser() -> argparse.ArgumentParser:
    env_help = "\n".join(f"  {name:<24} {help_}（默认 {default or '无'}）" for name, default, help_ in ENVIRONMENT)
    parser = argparse.ArgumentParser(
        prog="kb", description="物业沟通知识库：构建站点与检索索引、检查内容、启动服务。",
        epilog="环境变量：\n" + env_help, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(metavar="命令")

    engine_help = "构建站点用的构建器（默认取 KB_SITE_ENGINE，未设置时为 mkdocs）"
    p = sub.add_parser("build", help="检查内容，构建站点（strict）和检索索引")
    p.add_argument("--engine", choices=SITE_ENGINES, help=engine_help)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("serve", help="构建过期的部分，然后在一个进程里提供站点和 API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--engine", choices=SITE_ENGINES, help=engine_help)
    p.add_argument("--reload", action="store_true",
                   help="预览模式（make preview）：保存 docs/、snippets/、overrides/、mkdocs.yml 后自动重建，打开的页面自动刷新")
    p.add_argument("--workers", type=int, default=1,
                   help="工作进程数（>1 时限流、锁定与会话都在共享数据库里，多进程一致）")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("lint", help="检查 docs/ 和 snippets/，逐条输出 path:line:col: message")
    p.add_argument("paths", nargs="*", type=Path, metavar="文件",
                   help="只列出这些文件的问题（pre-commit 传入改动的文件）；其他文件因此出错时只报数量，同样算失败")
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("fmt", help="按规范的键顺序重写 snippets/ 下的话术与模板文件（保留注释）")
    p.add_argument("--check", action="store_true", help="只检查，不改文件；有需要格式化的文件时退出码为 1")
    p.add_argument("paths", nargs="*", type=Path, metavar="文件", help="只处理这些文件（默认全部）")
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser("check-links", help="检查构建好的站点（site/）里每个站内链接都指向存在的页面、文件或服务页面")
    p.set_defaults(func=cmd_check_links)

    p = sub.add_parser("purge", help="删除超过保存期的反馈联系方式与位置（记录本身保留），并报告删除了多少")
    p.add_argument("--dry-run", action="store_true", help="只统计，不删除")
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser("export-log", help="把改进日志的公开摘要（统计、满意度、已完成的改进）导出到站点的“你说我改”页")
    p.set_defaults(func=cmd_export_log)

    p = sub.add_parser("backup", help="在线备份 SQLite 数据库（服务运行中也可），并做完整性检查")
    p.add_argument("path", type=Path, help="备份文件（或目录：自动命名）")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="从备份恢复 SQLite 数据库（先停止服务；当前数据库会另存一份）")
    p.add_argument("path", type=Path)
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("staff", help="员工账号：add、list、disable、reset、role（密钥只显示一次）")
    staff = p.add_subparsers(metavar="操作")
    q = staff.add_parser("add", help="新建账号，打印一次性密钥（最后一行的最后一个词）")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=["agent", "supervisor", "editor", "admin"],
                   help="agent 客服、supervisor 主管、editor 编辑、admin 管理员")
    q.add_argument("--community", help="所属小区 id（见 GET /api/communities）")
    q.set_defaults(func=cmd_staff, action="add")
    q = staff.add_parser("list", help="列出账号（不含密钥）")
    q.set_defaults(func=cmd_staff, action="list")
    q = staff.add_parser("disable", help="停用账号：它的令牌和登录会话立即失效")
    q.add_argument("name")
    q.set_defaults(func=cmd_staff, action="disable")
    q = staff.add_parser("reset", help="换发新密钥（旧的立即失效），打印一次")
    q.add_argument("name")
    q.set_defaults(func=cmd_staff, action="reset")
    q = staff.add_parser("role", help="修改账号角色")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=["agent", "supervisor", "editor", "admin"])
    q.set_defaults(func=cmd_staff, action="role")
    q = staff.add_parser("events", help="最近的登录、登录失败与账号变更记录")
    q.add_argument("--limit", type=int, default=50)
    q.set_defaults(func=cmd_staff, action="events")

    p = sub.add_parser("eval-search", help="按查询文件评估检索：recall@1、recall@3、MRR（总体与按风格）")
    p.add_argument("file", type=Path, help="查询文件（格式同 contract/dev-queries.tsv）")
    p.set_defaults(func=cmd_eval_search)
    return parser


def cmd_build(settings: Settings, args) -> int:
    from kb_service.build import build

    ensure_writable(settings.data_dir)
    report = build(settings, force=True)
    print(f"kb: {report.summary()}；站点目录 {settings.site_dir}，索引目录 {settings.index_dir}")
    return 0


def cmd_lint(settings: Settings, args) -> int:
    from kb_service.content.editor_schema import write_id_schema
    from kb_service.content.lint import lint
    from kb_service.content.load import load_corpus

    problems = lint(settings)
    corpus, _ = load_corpus(settings.snippets_dir)   # the files are parsed already (cached)
    if corpus is not None:
        write_id_schema(corpus, settings.snippets_dir / "schema")   # editor completion of ids
    # Named files (a pre-commit hook's changed files): their problems in full. The whole corpus is
    # still checked, because removing an id breaks the files that use it; main is kept clean, so a
    # problem elsewhere is most likely caused by this change and fails the hook too.
    named = {project_path(settings, p) for p in args.paths}
    shown = [p for p in problems if not named or p.path in named]
    for problem in shown:
        print(problem)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = sum(1 for p in shown if p.severity != "error")
    elsewhere = sum(1 for p in problems if p not in shown and p.severity == "error")
    if elsewhere:
        print(f"kb lint: 其他文件还有 {elsewhere} 个错误（可能是这次修改引起的，例如删掉了别处在用的编号），"
              "运行 kb lint 查看全部", file=sys.stderr)
    print(f"kb lint: {errors} 个错误，{warnings} 个警告", file=sys.stderr)
    return 1 if errors else 0


def project_path(settings: Settings, path: Path) -> str:
    """A path as problems name it: relative to the project, with forward slashes."""
    path = path if path.is_absolute() else Path.cwd() / path
    with contextlib.suppress(ValueError):
        return path.resolve().relative_to(settings.project_dir.resolve()).as_posix()
    return path.as_posix()


def cmd_fmt(settings: Settings, args) -> int:
    from ruamel.yaml.error import YAMLError

    from kb_service.content.fmt import format_files

    try:
        only = {(p if p.is_absolute() else Path.cwd() / p).resolve() for p in args.paths} or None
        changed = format_files(settings.snippets_dir, check=args.check, only=only)
    except YAMLError as exc:
        raise ContentError(f"有文件无法解析，请先运行 kb lint：{str(exc).splitlines()[0]}") from None
    for path in changed:
        print(path.relative_to(settings.project_dir))
    verb = "需要格式化" if args.check else "已格式化"
    print(f"kb fmt: {len(changed)} 个文件{verb}", file=sys.stderr)
    return 1 if (args.check and changed) else 0


def cmd_check_links(settings: Settings, args) -> int:
    from kb_service.site.linkcheck import check_site
    from kb_service.web.app import routes

    if not (settings.site_dir / "index.html").is_file():
        raise UsageError(f"{settings.site_dir} 里没有构建好的站点，请先运行 kb build")
    broken = check_site(settings.site_dir, service_paths(routes(settings)))
    for link in broken:
        print(link)
    pages = sum(1 for _ in settings.site_dir.rglob("*.html"))
    print(f"kb check-links: {pages} 个页面，{len(broken)} 个坏链接", file=sys.stderr)
    return 1 if broken else 0


def service_paths(table: list, prefix: str = "") -> list[str]:
    """Path templates of the service's own pages (not the site's files mount)."""
    out = []
    for route in table:
        if getattr(route, "name", None) == "site":
            continue
        if hasattr(route, "routes"):
            out += service_paths(route.routes, prefix + route.path)
        else:
            out.append(prefix + route.path)
    return out


def cmd_eval_search(settings: Settings, args) -> int:
    from kb_service.build import build
    from kb_service.content.load import require_corpus
    from kb_service.search.engine import Searcher
    from kb_service.search.evaluation import evaluate, read_cases, report

    cases = read_cases(args.file)
    build(settings, force=False)
    searcher = Searcher.open(settings.index_dir, require_corpus(settings.snippets_dir))
    try:
        print(report(evaluate(searcher, cases)))
    finally:
        searcher.close()
    return 0


@contextlib.contextmanager
def open_store(settings: Settings, corpus):
    """The improvement log on the configured database (migrated), closed afterwards."""
    from kb_service import db
    from kb_service.feedback.store import Store

    ensure_writable(settings.data_dir)
    engine = db.connect(settings.database_url)
    try:
        yield Store(engine, corpus.feedback)
    finally:
        engine.dispose()


def cmd_purge(settings: Settings, args) -> int:
    from kb_service.build import load_content
    from kb_service.feedback.store import PICKS_DAYS
    from kb_service.times import add_months, utcnow

    corpus = load_content(settings)
    minimum = corpus.feedback.retention
    if minimum.unit != "month":
        raise UsageError(f"保存期 {minimum.id} 的单位应为 month")
    months = settings.retention_months if settings.retention_months is not None else minimum.duration
    if months < minimum.duration:
        raise UsageError(f"KB_RETENTION_MONTHS={months} 少于 standards.yaml 规定的{minimum.name}"
                         f"（{minimum.text}）：记录至少要保存这么久")
    now = utcnow()
    cutoff = add_months(now, -months)
    claims = corpus.feedback.claim_retention
    claims_cutoff = claims.before(now) if claims else cutoff
    with open_store(settings, corpus) as store:
        counts = store.purge(cutoff, claims_closed_before=claims_cutoff, dry_run=args.dry_run)
        picks = store.purge_picks(now=now, dry_run=args.dry_run)
    verb = "将删除" if args.dry_run else "已删除"
    print(f"kb purge: 保存期 {months} 个月，{cutoff:%Y-%m-%d} 之前提交的 {counts['entries']} 条反馈中{verb}"
          f"姓名 {counts['names']} 个、电话 {counts['phones']} 个、位置 {counts['locations']} 个，"
          f"清理了 {counts['texts']} 条的正文、记录或备注；搜索缺口记录中{verb}号码 {counts['gaps']} 条")
    if counts["kept_claims"]:
        why = (f"{claims.name}：办结前和办结后 {claims.text}内保留" if claims else "涉及赔偿主张且尚未办结")
        print(f"kb purge: 保留了 {counts['kept_claims']} 条涉及损害或赔偿主张的记录的联系方式（{why}，"
              f"即 {claims_cutoff:%Y-%m-%d} 之后办结或仍未办结的）")
    print(f"kb purge: 话术速查的选择记录保存 {PICKS_DAYS} 天，{verb}更早的 {picks} 条")
    return 0


def cmd_export_log(settings: Settings, args) -> int:
    from kb_service.build import build, load_content
    from kb_service.feedback import public_log

    with open_store(settings, load_content(settings)) as store:
        data = public_log.snapshot(store)
    public_log.write(settings.public_log_path, data)
    report = build(settings, force=False)
    total = sum(sum(v.values()) for v in data["volume"].values())
    print(f"kb export-log: 近 {len(data['months'])} 个月 {total} 条反馈、{len(data['changes'])} 项已公开的改进、"
          f"{len(data['summaries'])} 条公开答复已导出；{report.summary()}")
    return 0


def cmd_backup(settings: Settings, args) -> int:
    from kb_service import backup

    done = backup.backup(settings.database_url, args.path)
    print(f"kb backup: 已备份到 {done['path']}（{done['bytes']} 字节，integrity_check: ok）")
    return 0


def cmd_restore(settings: Settings, args) -> int:
    from kb_service import backup

    kept = backup.restore(settings.database_url, args.path)
    print(f"kb restore: 已从 {args.path} 恢复；恢复前的数据库另存为 {kept}。请重新启动服务。")
    return 0


def cmd_staff(settings: Settings, args) -> int:
    import getpass

    from kb_service import db
    from kb_service.staff import accounts

    ensure_writable(settings.data_dir)
    engine = db.connect(settings.database_url)
    actor = f"kb staff ({getpass.getuser()})"
    try:
        if args.action == "add":
            if args.community is not None:
                from kb_service.build import load_content

                known = load_content(settings).communities
                if args.community not in known:
                    raise UsageError(f"没有 id 为 {args.community} 的小区；可选：{'、'.join(known) or '（没有设置小区）'}")
            secret = accounts.add(engine, args.name, args.role, community=args.community, actor=actor)
            print(f"kb staff: 已建立账号 {args.name}（{accounts.ROLES[args.role]}）。密钥只显示这一次，"
                  "请当面或经安全渠道交给本人；可用于登录页或 Authorization: Bearer。")
            print(f"密钥: {secret}")
        elif args.action == "reset":
            secret = accounts.reset(engine, args.name, actor=actor)
            print(f"kb staff: 已为 {args.name} 换发密钥，旧密钥立即失效。密钥只显示这一次。")
            print(f"密钥: {secret}")
        elif args.action == "disable":
            accounts.disable(engine, args.name, actor=actor)
            print(f"kb staff: 已停用 {args.name}；它的令牌与登录会话立即失效（kb staff reset 可重新启用）")
        elif args.action == "role":
            accounts.set_role(engine, args.name, args.role, actor=actor)
            print(f"kb staff: {args.name} 的角色已改为 {accounts.ROLES[args.role]}（{args.role}）")
        elif args.action == "list":
            rows = accounts.list_accounts(engine)
            for r in rows:
                state = "启用" if r["active"] else "停用"
                print(f"{r['name']}\t{r['role']}\t{r['community'] or '-'}\t{state}\t"
                      f"最近登录 {r['last_login_at'] or '-'}")
            env_names = sorted(set(settings.staff_tokens.values()))
            if env_names:
                print(f"KB_STAFF_TOKENS 中的名字（角色 {accounts.ENV_ROLE}）：{'、'.join(env_names)}")
            print(f"kb staff: {len(rows)} 个账号", file=sys.stderr)
        elif args.action == "events":
            for e in reversed(accounts.events(engine, limit=args.limit)):
                print(f"{e['at']}\t{e['kind']}\t{e['account'] or '-'}\t{e['actor']}\t{e['address'] or '-'}")
    finally:
        engine.dispose()
    return 0


def cmd_serve(settings: Settings, args) -> int:
    from kb_service.build import build

    if args.reload and not loopback(args.host):
        # The preview shows unpublished drafts and rebuilds on request: it is for the editor's
        # own machine. Said first and on stderr, where an operator looks for problems.
        print(f"kb: 警告：预览服务器监听在 {args.host}，同一网络里的任何人都能打开它、看到未发布的草稿；"
              "预览请用 --host 127.0.0.1，对外服务请去掉 --reload", file=sys.stderr, flush=True)
    ensure_writable(settings.data_dir)
    sock = bind(args.host, args.port)
    report = build(settings, force=False)
    print(f"kb: {report.summary()}")
    if not settings.staff_enabled:
        print("kb: 未设置 KB_STAFF_TOKENS：员工接口只对 kb staff add 建立的账号开放；"
              "一个账号也没有时员工接口（改进日志）关闭")
    if args.reload:
        print("kb: 预览模式：保存 docs/、snippets/、overrides/ 或 mkdocs.yml 后自动重建，打开的页面会自己刷新")
    print(f"kb: 正在监听 http://{args.host}:{args.port}/ （站点在 /，API 在 /api/；Ctrl+C 停止）", flush=True)

    import uvicorn

    from kb_service.web.app import create_app

    if args.workers < 1:
        raise UsageError("--workers 至少为 1")
    if args.workers == 1:
        # The preview's open pages hold a long poll: Ctrl+C should not wait for it to time out.
        limits = {**SERVER_LIMITS, "timeout_graceful_shutdown": 2} if args.reload else SERVER_LIMITS
        config = uvicorn.Config(create_app(settings, preview=args.reload), **limits)
        uvicorn.Server(config).run(sockets=[sock])
        return 0
    if args.reload:
        raise UsageError("--reload（编辑预览）只能用一个工作进程：去掉 --workers")
    from uvicorn.supervisors import Multiprocess

    # Each worker builds its own app from the same environment (Settings.from_env).
    config = uvicorn.Config("kb_service.web.app:create_app", factory=True, workers=args.workers, **SERVER_LIMITS)
    Multiprocess(config, sockets=[sock]).run()
    return 0


# uvicorn: forwarded headers are handled by the app (KB_TRUSTED_PROXIES), never by uvicorn's
# default trust of 127.0.0.1; idle keep-alive connections close after 5 s; a request whose
# headers do not fit 16 KB is refused; above 500 connections at once new ones get 503.
SERVER_LIMITS = {"log_level": "warning", "access_log": False, "proxy_headers": False, "server_header": False,
                 "timeout_keep_alive": 5, "h11_max_incomplete_event_size": 16 * 1024, "limit_concurrency": 500,
                 "timeout_graceful_shutdown": 10}


def loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """Bind before building, so a taken port is reported at once in one line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets that say so,
    # and without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"端口 {port} 已被占用：请先停止占用它的程序，或用 --port 换一个端口") from None
        raise UsageError(f"无法在 {host}:{port} 上监听：{exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def ensure_writable(path: Path) -> None:
    from kb_service.db import private_dir

    try:
        private_dir(path, tighten=True)
        probe = path / ".kb-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"数据目录 {path} 不可写（{exc.strerror}）：请检查权限，或用 KB_DATA_DIR 指定其他目录") from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
